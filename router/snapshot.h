/* The router's published view of upstreams and models. Fixed-size plain
 * data so it can be copied through the shared-memory segment; the frontend
 * keeps a private copy and refreshes it when shm_snap_version() changes. */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"

#define SNAP_MAX_UPSTREAMS SY_CFG_MAX_UPSTREAMS
#define SNAP_MAX_MODELS SY_CFG_MAX_MODELS
#define SNAP_MAX_MODEL_UPSTREAMS 64
#define SNAP_NAME 128
#define SNAP_SHORT 64

struct snap_upstream {
        char name[SNAP_SHORT];
        char host[SNAP_SHORT];        /* as configured, for the Host header */
        char engine[32];
        struct sockaddr_in6 addr;     /* resolved; v4 as v4-mapped */
        uint16_t port;
        uint8_t kind;                 /* enum sy_upstream_kind */
        uint8_t healthy;
        uint8_t resolved;             /* 0: the host did not resolve (yet); never picked */
        uint8_t saturated;            /* every load signal says full (or stale): the router queues or sheds */
        uint32_t weight;
        uint32_t inflight;            /* router's count at publish time */
};

struct snap_model {
        char name[SNAP_NAME];
        char default_engine[32];
        uint16_t n_upstreams;
        uint16_t upstreams[SNAP_MAX_MODEL_UPSTREAMS];
};

struct snapshot {
        uint64_t config_generation;
        uint32_t n_upstreams;
        uint32_t n_models;
        struct snap_upstream upstreams[SNAP_MAX_UPSTREAMS];
        struct snap_model models[SNAP_MAX_MODELS];
};

/* Builds a snapshot from the configuration: resolves hosts (blocking
 * getaddrinfo), marks resolved upstreams healthy. A host that does not
 * resolve leaves its upstream unresolved and unhealthy (err names the last
 * one, empty if none); the router retries with snapshot_resolve(). */
int snapshot_build(const struct sy_config *cfg, struct snapshot *ret_snap, char *err, size_t errlen);
/* Resolves u's host again; returns 1 if it resolved now and did not
 * before, 0 if nothing changed, -EHOSTUNREACH if it still does not. */
int snapshot_resolve(struct snap_upstream *u);
const struct snap_model *snapshot_find_model(const struct snapshot *s, const char *name, size_t len);
/* Does upstream u serve requests for engine (NULL/empty: the model's default)? */
bool snapshot_engine_matches(const struct snapshot *s, const struct snap_model *m, uint16_t u,
                             const char *engine, size_t engine_len);
/* Least in-flight healthy upstream of model m for engine, skipping exclude;
 * inflight[] is the caller's own counts (may be NULL: use the snapshot's).
 * Returns the index or -ENOENT (no upstream for that engine) /
 * -EHOSTUNREACH (none healthy). rr breaks ties round-robin. */
int snapshot_pick(const struct snapshot *s, const struct snap_model *m, const char *engine,
                  size_t engine_len, const uint16_t *exclude, unsigned n_exclude,
                  const uint32_t *inflight, unsigned *rr);
