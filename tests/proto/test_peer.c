/* proto/peer.c: a peer (as the router or the classifier) and frontend
 * workers played by this test on the same segment.
 *
 *   test_peer GROUP
 *   drain    every attached worker's messages reach fn, in order, at most
 *            max each per pass; fn stopping ends the pass; PEER_DRAIN_WAKE
 *            rings the doorbell of a sleeping worker that sent some
 *   attach   workers are polled up to the highest that attached, looked
 *            for again at the doorbell; a restarted worker has a new
 *            generation; peer_attach bumps the peer's, peer_close clears
 *            its pid
 *   sleep    peer_prepare_sleep says whether to wait; a push rings the
 *            peer's doorbell only while it sleeps */
#include "proto/peer.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <unistd.h>

#include "proto/runtime.h"
#include "shm/bell.h"
#include "tests/shm/shm-test.h"

static char dir[256];
static struct sy_config cfg;

static void setup(struct peer *p) {
        char err[256];

        test_tmpdir(dir, sizeof dir);
        cfg.shm.runtime_dir = dir;
        cfg.shm.max_workers = 4;
        cfg.shm.ring_bytes = 4096;
        check_eq(peer_open(p, &cfg, SHM_PEER_ROUTER, err, sizeof err), 0);
        check_eq(peer_listen(p, SY_ROUTER_BELL, err, sizeof err), 0);
        check_eq(p->max_workers, 4);
}

/* a worker: attaches its slot, opens its own doorbell */
static int worker_attach(struct peer *p, uint32_t w) {
        char path[512];
        int fd = -1;

        shm_peer_attach(shm_seg_worker(p->seg, w));
        check_eq(sy_runtime_path(&cfg, path, sizeof path, SY_WORKER_BELL, w), 0);
        check_eq(bell_open_consumer(path, &fd), 0);
        return fd;
}

static void worker_push(struct peer *p, uint32_t w, uint32_t v) {
        check_eq(ring_sp_push(shm_seg_ring(p->seg, w, SHM_PEER_ROUTER, SHM_TO_PEER), 7, &v, sizeof v), 0);
}

static bool readable(int fd) {
        struct pollfd pf = { .fd = fd, .events = POLLIN };

        return poll(&pf, 1, 0) == 1;
}

struct seen {
        uint32_t w[64], v[64], n, stop_at;
};

static int record(void *arg, uint32_t w, uint16_t type, const void *msg, uint32_t len) {
        struct seen *s = arg;
        uint32_t v;

        check_eq(type, 7);
        check_eq(len, sizeof v);
        memcpy(&v, msg, sizeof v);
        s->w[s->n] = w;
        s->v[s->n++] = v;
        return s->n == s->stop_at;
}

static void test_drain(void) {
        struct peer p;
        struct seen s = { 0 };
        int b0, b2;

        setup(&p);
        b0 = worker_attach(&p, 0);
        b2 = worker_attach(&p, 2);
        peer_attach(&p);
        check_eq(p.n_attached, 3);
        for (uint32_t i = 0; i < 5; i++)
                worker_push(&p, 0, i);
        worker_push(&p, 2, 100);
        /* at most 3 a worker per pass */
        check_eq(peer_drain(&p, 3, 0, record, &s), 4);
        check_eq(s.n, 4);
        check(s.w[0] == 0 && s.v[0] == 0 && s.v[2] == 2 && s.w[3] == 2 && s.v[3] == 100);
        check_eq(peer_drain(&p, 3, 0, record, &s), 2);
        check(s.v[4] == 3 && s.v[5] == 4);
        check_eq(peer_drain(&p, 3, 0, record, &s), 0);
        /* fn stops the pass: the message it stopped at is released, worker 2 waits */
        worker_push(&p, 0, 10);
        worker_push(&p, 0, 11);
        worker_push(&p, 2, 12);
        s.stop_at = s.n + 1;
        check_eq(peer_drain(&p, 256, 0, record, &s), 1);
        check_eq(s.v[s.n - 1], 10);
        s.stop_at = 0;
        check_eq(peer_drain(&p, 256, 0, record, &s), 2);
        check(s.v[s.n - 2] == 11 && s.v[s.n - 1] == 12);
        /* PEER_DRAIN_WAKE: worker 0 sleeps on its answers ring and is rung; worker 2 is awake */
        check(ring_sc_prepare_sleep(peer_out(&p, 0)));
        bell_drain(b0);
        bell_drain(b2);
        worker_push(&p, 0, 20);
        worker_push(&p, 2, 21);
        check_eq(peer_drain(&p, 256, PEER_DRAIN_WAKE, record, &s), 2);
        check(readable(b0));
        check(!readable(b2));
        peer_close(&p);
        close(b0);
        close(b2);
}

static void test_attach(void) {
        struct peer p;
        struct shm_peer *self;
        uint32_t gen0, g;
        int b1, b3;

        setup(&p);
        self = shm_seg_peer(p.seg, SHM_PEER_ROUTER);
        gen0 = atomic_load(&self->generation);
        peer_attach(&p);
        check_eq(atomic_load(&self->generation), gen0 + 1);
        check_eq(atomic_load(&self->pid), getpid());
        check_eq(p.n_attached, 0);
        b1 = worker_attach(&p, 1);
        check_eq(p.n_attached, 0);
        /* a worker rings the peer's doorbell after attaching */
        check_eq(bell_ring(p.bell_fd), 0);
        peer_doorbell(&p);
        check_eq(p.n_attached, 2);
        check(!readable(p.bell_fd));
        /* the heartbeat looks again, every PEER_HEARTBEAT_NS */
        b3 = worker_attach(&p, 3);
        peer_heartbeat(&p, PEER_HEARTBEAT_NS);
        check_eq(p.n_attached, 4);
        /* a restarted worker: a new generation */
        g = peer_worker_gen(&p, 1);
        shm_peer_attach(shm_seg_worker(p.seg, 1));
        check_eq(peer_worker_gen(&p, 1), g + 1);
        /* peer_wake_all rings every worker whose doorbell exists */
        peer_wake_all(&p);
        check(readable(b1) && readable(b3));
        peer_close(&p);
        /* detached: pid 0; closing twice (or a zeroed peer) is harmless */
        {
                struct shm_seg *seg;
                struct shm_layout l = sy_runtime_layout(&cfg);
                char path[512];

                check_eq(sy_runtime_path(&cfg, path, sizeof path, SY_SEGMENT_FILE, 0), 0);
                check_eq(shm_seg_open(path, &l, &seg), 0);
                check_eq(atomic_load(&shm_seg_peer(seg, SHM_PEER_ROUTER)->pid), 0);
                shm_seg_close(seg);
        }
        peer_close(&p);
        close(b1);
        close(b3);
}

static void test_sleep(void) {
        struct peer p;
        struct seen s = { 0 };
        int b0, b1;

        setup(&p);
        b0 = worker_attach(&p, 0);
        peer_attach(&p);
        check(peer_prepare_sleep(&p));
        worker_push(&p, 0, 1);
        /* the worker's side: the first push after the peer went to sleep wakes it */
        check(ring_sp_needs_wake(shm_seg_ring(p.seg, 0, SHM_PEER_ROUTER, SHM_TO_PEER)));
        peer_cancel_sleep(&p);
        /* data there: do not sleep */
        check(!peer_prepare_sleep(&p));
        check(!ring_sp_needs_wake(shm_seg_ring(p.seg, 0, SHM_PEER_ROUTER, SHM_TO_PEER)));
        check_eq(peer_drain(&p, 256, 0, record, &s), 1);
        check(peer_prepare_sleep(&p));
        peer_cancel_sleep(&p);
        worker_push(&p, 0, 2);
        check(!ring_sp_needs_wake(shm_seg_ring(p.seg, 0, SHM_PEER_ROUTER, SHM_TO_PEER)));
        check_eq(peer_drain(&p, 256, 0, record, &s), 1);
        /* one ring with data: no ring is left marked asleep */
        b1 = worker_attach(&p, 1);
        peer_doorbell(&p);
        worker_push(&p, 1, 3);
        check(!peer_prepare_sleep(&p));
        worker_push(&p, 0, 4);
        check(!ring_sp_needs_wake(shm_seg_ring(p.seg, 0, SHM_PEER_ROUTER, SHM_TO_PEER)));
        peer_close(&p);
        close(b0);
        close(b1);
}

int main(int argc, char **argv) {
        static const struct check_group groups[] = {
                { "drain", test_drain },
                { "attach", test_attach },
                { "sleep", test_sleep },
        };
        return check_run_group(argc, argv, groups, sizeof groups / sizeof groups[0], "peer ");
}
