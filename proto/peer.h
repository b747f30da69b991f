/* The peer side of the ring pairs: what a process that serves frontend
 * workers (the router, the classifier) does with the shared segment, apart
 * from what it answers.
 *
 *   peer_open()          the segment (proto/runtime.h names it)
 *   peer_listen()        this process's doorbell, which workers ring when it sleeps
 *   peer_attach()        claims the peer's liveness slot (a new generation)
 *   peer_wake_all()      rings every worker once: a predecessor killed between
 *                        clearing a sleeping flag and ringing left it asleep
 *   loop:
 *     peer_drain()       reads each attached worker's TO_PEER ring
 *     peer_out() + ring_sp_push(), peer_wake()   answers, and the worker's doorbell
 *     peer_heartbeat()   liveness, the workers attached since, the watchdog
 *     peer_prepare_sleep() / wait on peer.bell_fd / peer_doorbell() / peer_cancel_sleep()
 *   peer_close()         detaches (pid 0) and closes everything
 *
 * Workers are the segment's worker slots; the ones polled are those up to
 * the highest that ever attached (peer_heartbeat and peer_doorbell look
 * again). A worker that restarted has a new generation (peer_worker_gen):
 * an answer meant for its predecessor is not sent. One thread uses a peer. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "shm/ring.h"
#include "shm/segment.h"

#define PEER_MAX_WORKERS 1024 /* config shm.max_workers' limit */
#define PEER_HEARTBEAT_NS (100ULL * 1000000ULL)

struct peer {
        struct shm_seg *seg;
        enum shm_peer_kind kind;
        struct shm_peer *self; /* after peer_attach */
        int bell_fd;           /* this process's doorbell (peer_listen), -1 */
        uint32_t max_workers;  /* worker slots served (the segment's, at most PEER_MAX_WORKERS) */
        uint32_t n_attached;   /* slots polled: up to the highest that ever attached */
        uint64_t last_hb_ns;
        char *dir;                          /* the runtime directory, for the workers' doorbells */
        struct ring *in[PEER_MAX_WORKERS];  /* SHM_TO_PEER: the worker's requests */
        struct ring *out[PEER_MAX_WORKERS]; /* SHM_FROM_PEER: the answers */
        int worker_bell[PEER_MAX_WORKERS];  /* opened at the first wake-up, -1 */
};

/* Opens (or creates) the segment of cfg's runtime directory as peer kind.
 * p is ready for peer_close() whatever the result. -errno with err set. */
int peer_open(struct peer *p, const struct sy_config *cfg, enum shm_peer_kind kind, char *err, size_t errlen);
/* Opens this process's doorbell (bell_name: SY_ROUTER_BELL, SY_CLASSIFIER_BELL). */
int peer_listen(struct peer *p, const char *bell_name, char *err, size_t errlen);
void peer_attach(struct peer *p);
void peer_wake_all(struct peer *p);
/* After pushing answers on worker w's ring: rings its doorbell if it sleeps. */
void peer_wake(struct peer *p, uint32_t w);
/* The doorbell rang: drains it, looks for workers attached since. */
void peer_doorbell(struct peer *p);
/* At every loop turn: every PEER_HEARTBEAT_NS, the liveness heartbeat, the
 * workers attached since and the service manager's watchdog. */
void peer_heartbeat(struct peer *p, uint64_t now_ns);
/* Before waiting on bell_fd: marks every polled ring's consumer asleep;
 * false (nothing marked) when a ring got data meanwhile: do not wait. */
bool peer_prepare_sleep(struct peer *p);
/* After waking. */
void peer_cancel_sleep(struct peer *p);
/* Worker w's generation (acquire): it changes when the worker restarts. */
uint32_t peer_worker_gen(struct peer *p, uint32_t w);
/* Also on a zeroed peer that was never opened (nothing to do then). */
void peer_close(struct peer *p);

static inline struct ring *peer_out(const struct peer *p, uint32_t w) {
        return p->out[w];
}

enum peer_drain_flags {
        PEER_DRAIN_WAKE = 1 << 0, /* peer_wake() each worker whose messages were read */
};

/* A message from worker w, valid until it returns: 0 go on, 1 stop the pass
 * (this message is still released). */
typedef int (*peer_msg_fn)(void *arg, uint32_t w, uint16_t type, const void *msg, uint32_t len);

/* Reads every polled worker's TO_PEER ring, at most max messages each,
 * handing each to fn and releasing it after. Returns the messages read.
 * Inline, so that fn (a constant where it is called) is a direct call on
 * the rings' hot path. */
__attribute__((always_inline)) static inline unsigned peer_drain(struct peer *p, unsigned max, unsigned flags,
                                                                 peer_msg_fn fn, void *arg) {
        unsigned handled = 0;

        for (uint32_t w = 0; w < p->n_attached; w++) {
                struct ring *in = p->in[w];
                unsigned n = 0;
                bool stop = false;
                uint16_t type;
                const void *msg;
                uint32_t len;

                while (!stop && n < max && ring_sc_peek(in, &type, &msg, &len) == 0) {
                        stop = fn(arg, w, type, msg, len) != 0;
                        ring_sc_release(in);
                        n++;
                }
                if (n && (flags & PEER_DRAIN_WAKE))
                        peer_wake(p, w);
                handled += n;
                if (stop)
                        break;
        }
        return handled;
}
