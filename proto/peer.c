/* The peer side of the ring pairs (see peer.h). */
#include "proto/peer.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/notify.h"
#include "proto/runtime.h"
#include "shm/bell.h"

int peer_open(struct peer *p, const struct sy_config *cfg, enum shm_peer_kind kind, char *err, size_t errlen) {
        struct shm_layout layout = sy_runtime_layout(cfg);
        char path[512];
        int r;

        memset(p, 0, sizeof *p);
        p->kind = kind;
        p->bell_fd = -1;
        for (unsigned i = 0; i < PEER_MAX_WORKERS; i++)
                p->worker_bell[i] = -1;
        p->dir = strdup(cfg->shm.runtime_dir);
        if (!p->dir) {
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        if (sy_runtime_path(cfg, path, sizeof path, SY_SEGMENT_FILE, 0) < 0) {
                snprintf(err, errlen, "runtime directory %s: name too long", cfg->shm.runtime_dir);
                return -ENAMETOOLONG;
        }
        r = shm_seg_open(path, &layout, &p->seg);
        if (r < 0) {
                snprintf(err, errlen, "cannot open shared segment %s: %s", path, strerror(-r));
                return r;
        }
        p->max_workers = shm_seg_layout(p->seg)->max_workers;
        if (p->max_workers > PEER_MAX_WORKERS)
                p->max_workers = PEER_MAX_WORKERS;
        for (uint32_t w = 0; w < p->max_workers; w++) {
                p->in[w] = shm_seg_ring(p->seg, w, kind, SHM_TO_PEER);
                p->out[w] = shm_seg_ring(p->seg, w, kind, SHM_FROM_PEER);
        }
        return 0;
}

int peer_listen(struct peer *p, const char *bell_name, char *err, size_t errlen) {
        char path[512];
        int r;

        if (sy_runtime_dir_path(p->dir, path, sizeof path, bell_name, 0) < 0) {
                snprintf(err, errlen, "runtime directory %s: name too long", p->dir);
                return -ENAMETOOLONG;
        }
        r = bell_open_consumer(path, &p->bell_fd);
        if (r < 0)
                snprintf(err, errlen, "cannot open doorbell %s: %s", path, strerror(-r));
        return r;
}

static void update_attached(struct peer *p) {
        uint32_t n = 0;

        for (uint32_t w = 0; w < p->max_workers; w++)
                if (atomic_load_explicit(&shm_seg_worker(p->seg, w)->pid, memory_order_relaxed) != 0)
                        n = w + 1;
        p->n_attached = n;
}

void peer_attach(struct peer *p) {
        p->self = shm_seg_peer(p->seg, p->kind);
        shm_peer_attach(p->self);
        update_attached(p);
}

static bool open_worker_bell(struct peer *p, uint32_t w) {
        char path[512];

        return sy_runtime_dir_path(p->dir, path, sizeof path, SY_WORKER_BELL, w) == 0 &&
               bell_open_producer(path, &p->worker_bell[w]) == 0;
}

void peer_wake_all(struct peer *p) {
        for (uint32_t w = 0; w < p->max_workers; w++) {
                ring_sp_needs_wake(p->out[w]);
                if (p->worker_bell[w] >= 0 || open_worker_bell(p, w))
                        bell_ring(p->worker_bell[w]);
        }
}

void peer_wake(struct peer *p, uint32_t w) {
        if (!ring_sp_needs_wake(p->out[w]))
                return;
        if (p->worker_bell[w] < 0 && !open_worker_bell(p, w))
                return;
        if (bell_ring(p->worker_bell[w]) < 0) {
                close(p->worker_bell[w]);
                p->worker_bell[w] = -1;
        }
}

void peer_doorbell(struct peer *p) {
        bell_drain(p->bell_fd);
        update_attached(p);
}

void peer_heartbeat(struct peer *p, uint64_t now) {
        if (now - p->last_hb_ns < PEER_HEARTBEAT_NS)
                return;
        update_attached(p);
        shm_peer_heartbeat(p->self);
        sy_notify_watchdog(now);
        p->last_hb_ns = now;
}

bool peer_prepare_sleep(struct peer *p) {
        bool ok = true;

        for (uint32_t w = 0; w < p->n_attached; w++)
                if (!ring_sc_prepare_sleep(p->in[w]))
                        ok = false;
        if (!ok)
                peer_cancel_sleep(p);
        return ok;
}

void peer_cancel_sleep(struct peer *p) {
        for (uint32_t w = 0; w < p->n_attached; w++)
                ring_sc_cancel_sleep(p->in[w]);
}

uint32_t peer_worker_gen(struct peer *p, uint32_t w) {
        return atomic_load_explicit(&shm_seg_worker(p->seg, w)->generation, memory_order_acquire);
}

void peer_close(struct peer *p) {
        if (!p->dir)
                return; /* never opened (or closed) */
        if (p->seg)
                atomic_store_explicit(&shm_seg_peer(p->seg, p->kind)->pid, 0, memory_order_release);
        for (uint32_t w = 0; w < PEER_MAX_WORKERS; w++)
                if (p->worker_bell[w] >= 0)
                        close(p->worker_bell[w]);
        if (p->bell_fd >= 0)
                close(p->bell_fd);
        shm_seg_close(p->seg);
        free(p->dir);
        memset(p, 0, sizeof *p);
}
