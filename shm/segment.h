/* The shared-memory segment: a header, liveness slots for every peer, the
 * ring pairs, and the router's published snapshot.
 *
 *   header | peer slots | rings | snapshot (seqlock + 2 buffers)
 *
 * One ring pair per (frontend worker, peer process): SHM_TO_PEER carries
 * the worker's requests, SHM_FROM_PEER the peer's answers. The segment is a
 * file (normally under /dev/shm or a systemd RuntimeDirectory) created by
 * whoever comes first; later processes attach to it. Its contents survive
 * the restart of any process, so a restarted peer picks up where the rings
 * are. Peers publish pid, generation (bumped at every attach) and a
 * heartbeat, so others can tell a dead or restarted peer. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/ring.h"

#define SHM_MAGIC 0x31445259574e5953ULL /* "SYNWYRD1" */
#define SHM_VERSION 1

enum shm_peer_kind {
        SHM_PEER_ROUTER = 0,
        SHM_PEER_CLASSIFIER = 1,
        SHM_PEER_NKINDS = 2,
};

enum shm_dir {
        SHM_TO_PEER = 0,   /* worker produces, peer consumes */
        SHM_FROM_PEER = 1, /* peer produces, worker consumes */
};

struct shm_layout {
        uint32_t max_workers; /* ring pairs per peer kind */
        uint32_t ring_bytes;  /* data bytes per ring (power of two) */
        uint32_t snap_bytes;  /* max snapshot size */
};

/* A liveness slot. pid 0 = never attached. */
struct shm_peer {
        _Atomic uint32_t pid;
        _Atomic uint32_t generation;   /* incremented by each attach */
        _Atomic uint64_t heartbeat_ns; /* CLOCK_MONOTONIC, updated by the owner */
};

struct shm_seg;

/* Opens path, creating and initialising it if it does not exist (or has a
 * different layout and no live peer). Initialisation is serialised with
 * flock(2). */
int shm_seg_open(const char *path, const struct shm_layout *layout, struct shm_seg **ret_seg);
void shm_seg_close(struct shm_seg *seg);
const struct shm_layout *shm_seg_layout(const struct shm_seg *seg);

struct ring *shm_seg_ring(struct shm_seg *seg, uint32_t worker, enum shm_peer_kind peer, enum shm_dir dir);

/* Liveness slots: worker slots are indexed 0..max_workers-1. */
struct shm_peer *shm_seg_peer(struct shm_seg *seg, enum shm_peer_kind peer);
struct shm_peer *shm_seg_worker(struct shm_seg *seg, uint32_t worker);
/* Claims a slot for the calling process: stores pid, bumps generation,
 * stamps heartbeat. Returns the new generation. */
uint32_t shm_peer_attach(struct shm_peer *p);
void shm_peer_heartbeat(struct shm_peer *p);
/* Alive = pid set, process exists (kill(pid, 0)) and heartbeat within max_age_ns. */
bool shm_peer_alive(const struct shm_peer *p, uint64_t max_age_ns);

/* Snapshot: single writer (the router), many readers. publish copies len
 * bytes (<= snap_bytes) and bumps the version. read copies the latest
 * complete snapshot into buf; -EAGAIN if none published yet. version is a
 * cheap check for "changed since I last read". */
int shm_snap_publish(struct shm_seg *seg, const void *data, uint32_t len);
int shm_snap_read(struct shm_seg *seg, void *buf, uint32_t cap, uint32_t *ret_len, uint64_t *ret_version);
uint64_t shm_snap_version(struct shm_seg *seg);

uint64_t shm_now_ns(void); /* CLOCK_MONOTONIC */
