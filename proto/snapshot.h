/* The router's published view of upstreams and models. Fixed-size plain
 * data so it can be copied through the shared-memory segment; the frontend
 * keeps a private copy and refreshes it when shm_snap_version() changes.
 *
 * Upstream indexes ("slots") are stable across configuration changes: an
 * upstream keeps its slot while its name exists; a removed one leaves a
 * tombstone (removed = 1, never healthy, in no model) so that requests in
 * flight that name the slot still find what they were sent to; new names
 * take never-used slots first, then the oldest tombstone. since_gen says
 * from which configuration generation on the slot holds its name: a
 * done event or dispatch note made from an older snapshot than that is
 * about a previous occupant (proto/msg.h snap_gen). */
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
        char host[SNAP_SHORT]; /* as configured, for the Host header */
        char engine[32];
        struct sockaddr_in6 addr; /* resolved; v4 as v4-mapped */
        uint16_t port;
        uint8_t kind; /* enum sy_upstream_kind */
        uint8_t healthy;
        uint8_t resolved;  /* 0: the host did not resolve (yet); never picked */
        uint8_t saturated; /* every load signal says full (or stale): the router queues or sheds */
        uint32_t weight;
        uint32_t inflight; /* router's count at publish time */
        uint8_t removed;   /* tombstone: the name left the configuration */
        uint8_t pad_[3];
        uint32_t since_gen;   /* config generation (low 32 bits) the slot got this name in */
        uint32_t removed_gen; /* tombstones: the generation it was removed in */
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

enum snapshot_build_flags {
        SNAP_BUILD_RESOLVE = 1 << 0, /* resolve new host names now (blocking getaddrinfo; startup) */
};

/* A snapshot for cfg that follows prev (NULL: none; slots in configuration
 * order, since_gen 0, as snapshot_build): names of prev keep their slots,
 * names gone become tombstones, new names take free slots (see above);
 * gen is the new snapshot's config_generation. Addresses are carried over
 * from prev where name, host and port are unchanged, so no lookup is made
 * for known upstreams; a numeric host is converted without a lookup; other
 * new host names are resolved now with SNAP_BUILD_RESOLVE, else left
 * unresolved (err says so) for the caller's background resolver. Health,
 * load and saturation are not carried (the caller does). -E2BIG when the
 * live upstreams do not fit. */
int snapshot_build_from(const struct sy_config *cfg, const struct snapshot *prev, uint64_t gen, unsigned flags,
                        struct snapshot *ret_snap, char *err, size_t errlen);
/* Does slot b of a new snapshot hold the same live upstream as the same
 * slot a of the snapshot before, resolved to the same address (so that
 * its health, connections and load state carry over)? */
bool snapshot_same_upstream(const struct snap_upstream *a, const struct snap_upstream *b);
/* The slot holding name (tombstones included), or -ENOENT. */
int snapshot_find_upstream(const struct snapshot *s, const char *name);
/* Converts a numeric IPv4/IPv6 host without any lookup: 0, or -EINVAL if
 * host is not numeric. */
int snapshot_numeric_addr(const char *host, uint16_t port, struct sockaddr_in6 *ret);
/* The first address of a getaddrinfo result, v4 as v4-mapped, with port. */
struct addrinfo;
int snapshot_addr_from(const struct addrinfo *ai, uint16_t port, struct sockaddr_in6 *ret);
/* Resolves u's host again; returns 1 if it resolved now and did not
 * before, 0 if nothing changed, -EHOSTUNREACH if it still does not. */
int snapshot_resolve(struct snap_upstream *u);
const struct snap_model *snapshot_find_model(const struct snapshot *s, const char *name, size_t len);
/* Does upstream u serve requests for engine (NULL/empty: the model's default)? */
bool snapshot_engine_matches(const struct snapshot *s, const struct snap_model *m, uint16_t u, const char *engine,
                             size_t engine_len);
/* Least in-flight healthy upstream of model m for engine, skipping exclude;
 * inflight[] is the caller's own counts (may be NULL: use the snapshot's).
 * Returns the index or -ENOENT (no upstream for that engine) /
 * -EHOSTUNREACH (none healthy). rr breaks ties round-robin. */
int snapshot_pick(const struct snapshot *s, const struct snap_model *m, const char *engine, size_t engine_len,
                  const uint16_t *exclude, unsigned n_exclude, const uint32_t *inflight, unsigned *rr);
