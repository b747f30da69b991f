/* Ring benchmark, two processes over a segment file (meson test --benchmark).
 *
 *   throughput   producer -> consumer, both busy-polling: 64-byte messages
 *                (ring_sp_needs_wake() after every push, and after every
 *                32), then random sizes 16..2048 bytes
 *   ping-pong    worker -> router -> worker round trip of a 64-byte
 *                message, busy-polling, then sleeping on doorbells whenever
 *                the ring is empty; p50 / p99 / p99.9 / max
 *
 * Prints figures; exits non-zero only if a message arrives wrong, never
 * because of a timing. Options: --quick (fewer messages). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/bell.h"
#include "shm/segment.h"
#include "shm-test.h"

#define MAX_LAT_SAMPLES 1000000

struct shared {
        _Atomic int ready;
        _Atomic int go;
        _Atomic int failed;
        uint64_t t_start, t_end; /* consumer's view, ns */
        uint64_t bytes;
        uint64_t wakes;
        uint32_t nlat;
        uint64_t lat[MAX_LAT_SAMPLES];
};

static struct shared *sh;
static char seg_path[320], bell_router[320], bell_worker[320];
static const struct shm_layout layout = { .max_workers = 1, .ring_bytes = 1u << 18, .snap_bytes = 4096 };

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield");
#endif
}

static struct shm_seg *child_open(void) {
        struct shm_seg *seg = NULL;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (shm_seg_open(seg_path, &layout, &seg) < 0)
                _exit(3);
        return seg;
}

static void barrier(void) {
        atomic_fetch_add(&sh->ready, 1);
        while (!atomic_load(&sh->go))
                cpu_relax();
}

enum mode { TP_FIXED, TP_FIXED_BATCH, TP_RANDOM };

static uint32_t bench_len(enum mode m, uint64_t i) {
        if (m != TP_RANDOM)
                return 64;
        return 16 + (uint32_t)(test_mix(i) % (2048 - 16 + 1));
}

static void tp_producer(enum mode m, uint64_t n) {
        struct shm_seg *seg = child_open();
        struct ring *r = shm_seg_ring(seg, 0, SHM_PEER_ROUTER, SHM_TO_PEER);
        unsigned char buf[2048];

        memset(buf, 0x42, sizeof(buf));
        barrier();
        for (uint64_t i = 0; i < n; i++) {
                memcpy(buf, &i, sizeof(i));
                while (ring_sp_push(r, 1, buf, bench_len(m, i)) == -EAGAIN)
                        cpu_relax();
                if (m != TP_FIXED_BATCH || (i & 31) == 31)
                        (void)ring_sp_needs_wake(r);
        }
        _exit(0);
}

static void tp_consumer(enum mode m, uint64_t n) {
        struct shm_seg *seg = child_open();
        struct ring *r = shm_seg_ring(seg, 0, SHM_PEER_ROUTER, SHM_TO_PEER);
        uint64_t bytes = 0;

        barrier();
        for (uint64_t i = 0; i < n; i++) {
                const void *p;
                uint32_t len;
                uint16_t type;
                uint64_t seq;

                while (ring_sc_peek(r, &type, &p, &len) == -EAGAIN)
                        cpu_relax();
                if (i == 0)
                        sh->t_start = shm_now_ns();
                memcpy(&seq, p, sizeof(seq));
                if (seq != i || len != bench_len(m, i)) {
                        atomic_store(&sh->failed, 1);
                        _exit(1);
                }
                bytes += len;
                ring_sc_release(r);
        }
        sh->t_end = shm_now_ns();
        sh->bytes = bytes;
        _exit(0);
}

/* Ping-pong. The worker sends on TO_PEER and waits on FROM_PEER; the
 * router echoes. With sleep, an empty ring means prepare_sleep + poll on
 * one's own doorbell, and a push is followed by needs_wake + ring. */
struct pp_side {
        struct ring *in, *out;
        int my_bell, peer_bell;
        bool sleep;
        uint64_t wakes;
};

static void pp_wait(struct pp_side *s, const void **ret_p, uint32_t *ret_len) {
        uint16_t type;

        for (;;) {
                if (ring_sc_peek(s->in, &type, ret_p, ret_len) == 0)
                        return;
                if (!s->sleep) {
                        cpu_relax();
                        continue;
                }
                if (!ring_sc_prepare_sleep(s->in))
                        continue;
                struct pollfd pfd = { .fd = s->my_bell, .events = POLLIN };
                poll(&pfd, 1, 1000);
                bell_drain(s->my_bell);
                ring_sc_cancel_sleep(s->in);
        }
}

static void pp_send(struct pp_side *s, const void *p, uint32_t len) {
        while (ring_sp_push(s->out, 2, p, len) == -EAGAIN)
                cpu_relax();
        if (ring_sp_needs_wake(s->out)) {
                s->wakes++;
                bell_ring(s->peer_bell);
        }
}

static void pp_open(struct pp_side *s, struct shm_seg *seg, bool router, bool sleep) {
        s->in = shm_seg_ring(seg, 0, SHM_PEER_ROUTER, router ? SHM_TO_PEER : SHM_FROM_PEER);
        s->out = shm_seg_ring(seg, 0, SHM_PEER_ROUTER, router ? SHM_FROM_PEER : SHM_TO_PEER);
        s->sleep = sleep;
        s->wakes = 0;
        if (bell_open_consumer(router ? bell_router : bell_worker, &s->my_bell) < 0)
                _exit(4);
}

static void pp_open_peer(struct pp_side *s, bool router) {
        /* both consumers opened their bells before the barrier */
        if (bell_open_producer(router ? bell_worker : bell_router, &s->peer_bell) < 0)
                _exit(5);
}

static void pp_router(bool sleep, uint64_t n) {
        struct shm_seg *seg = child_open();
        struct pp_side s;
        unsigned char buf[64];

        pp_open(&s, seg, true, sleep);
        barrier();
        pp_open_peer(&s, true);
        for (uint64_t i = 0; i < n; i++) {
                const void *p;
                uint32_t len;

                pp_wait(&s, &p, &len);
                memcpy(buf, p, len < sizeof(buf) ? len : sizeof(buf));
                ring_sc_release(s.in);
                pp_send(&s, buf, len);
        }
        _exit(0);
}

static void pp_worker(bool sleep, uint64_t n, uint64_t warmup) {
        struct shm_seg *seg = child_open();
        struct pp_side s;
        unsigned char buf[64];

        memset(buf, 0x17, sizeof(buf));
        pp_open(&s, seg, false, sleep);
        barrier();
        pp_open_peer(&s, false);
        sh->nlat = 0;
        for (uint64_t i = 0; i < n + warmup; i++) {
                const void *p;
                uint32_t len;
                uint64_t t0 = shm_now_ns(), seq;

                memcpy(buf, &i, sizeof(i));
                pp_send(&s, buf, sizeof(buf));
                pp_wait(&s, &p, &len);
                memcpy(&seq, p, sizeof(seq));
                ring_sc_release(s.in);
                if (seq != i || len != sizeof(buf)) {
                        atomic_store(&sh->failed, 1);
                        _exit(1);
                }
                if (i >= warmup && sh->nlat < MAX_LAT_SAMPLES)
                        sh->lat[sh->nlat++] = shm_now_ns() - t0;
        }
        sh->wakes = s.wakes;
        _exit(0);
}

/* Runs two children to completion, both started together. */
static int run_pair(void (*a)(void *), void (*b)(void *), void *arg) {
        pid_t pa, pb;
        int sa, sb;

        atomic_store(&sh->ready, 0);
        atomic_store(&sh->go, 0);
        pa = fork();
        if (pa == 0)
                a(arg);
        pb = fork();
        if (pb == 0)
                b(arg);
        if (pa < 0 || pb < 0) {
                perror("fork");
                exit(1);
        }
        while (atomic_load(&sh->ready) < 2)
                usleep(100);
        atomic_store(&sh->go, 1);
        waitpid(pa, &sa, 0);
        waitpid(pb, &sb, 0);
        if (!WIFEXITED(sa) || WEXITSTATUS(sa) || !WIFEXITED(sb) || WEXITSTATUS(sb) || sh->failed) {
                fprintf(stderr, "benchmark child failed (%d/%d)%s\n", sa, sb,
                        sh->failed ? ": message out of order or wrong length" : "");
                return -1;
        }
        return 0;
}

struct tp_arg {
        enum mode m;
        uint64_t n;
};
static void tp_p(void *arg) {
        struct tp_arg *t = arg;
        tp_producer(t->m, t->n);
}
static void tp_c(void *arg) {
        struct tp_arg *t = arg;
        tp_consumer(t->m, t->n);
}

struct pp_arg {
        bool sleep;
        uint64_t n, warmup;
};
static void pp_r(void *arg) {
        struct pp_arg *t = arg;
        pp_router(t->sleep, t->n + t->warmup);
}
static void pp_w(void *arg) {
        struct pp_arg *t = arg;
        pp_worker(t->sleep, t->n, t->warmup);
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

static void reset_seg(void) {
        struct shm_seg *seg = NULL;

        /* A fresh segment per run: every ring empty. */
        unlink(seg_path);
        if (shm_seg_open(seg_path, &layout, &seg) < 0) {
                fprintf(stderr, "shm_seg_open failed\n");
                exit(1);
        }
        shm_seg_close(seg);
}

static int bench_tp(const char *name, enum mode m, uint64_t n) {
        struct tp_arg a = { m, n };
        double s;

        reset_seg();
        if (run_pair(tp_p, tp_c, &a) < 0)
                return -1;
        s = (double)(sh->t_end - sh->t_start) / 1e9;
        printf("  %-34s %10.2f M msg/s  %8.2f GB/s  (%llu msgs)\n", name, (double)n / s / 1e6,
               (double)sh->bytes / s / 1e9, (unsigned long long)n);
        return 0;
}

static int bench_pp(const char *name, bool sleep, uint64_t n) {
        struct pp_arg a = { sleep, n, n / 10 };
        uint32_t k;

        reset_seg();
        if (run_pair(pp_r, pp_w, &a) < 0)
                return -1;
        k = sh->nlat;
        qsort(sh->lat, k, sizeof(sh->lat[0]), cmp_u64);
        printf("  %-34s p50 %7.2f us  p99 %7.2f us  p99.9 %7.2f us  max %8.2f us  (%u round trips", name,
               sh->lat[k / 2] / 1e3, sh->lat[(uint64_t)k * 99 / 100] / 1e3, sh->lat[(uint64_t)k * 999 / 1000] / 1e3,
               sh->lat[k - 1] / 1e3, k);
        if (sleep)
                printf(", %llu worker-side bells", (unsigned long long)sh->wakes);
        printf(")\n");
        return 0;
}

int main(int argc, char **argv) {
        bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
        uint64_t scale = quick ? 10 : 1;
        char dir[256];
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        int rc = 0;

        sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        check(sh != MAP_FAILED);
        test_tmpdir(dir, sizeof(dir));
        snprintf(seg_path, sizeof(seg_path), "%s/seg", dir);
        snprintf(bell_router, sizeof(bell_router), "%s/bell-router", dir);
        snprintf(bell_worker, sizeof(bell_worker), "%s/bell-worker", dir);

        printf("ring benchmark: 2 processes, ring %u KiB, %ld CPUs online%s\n", layout.ring_bytes / 1024, ncpu,
               ncpu < 2 ? " (busy-poll figures are meaningless on 1 CPU)" : "");
        printf("throughput (busy-poll):\n");
        rc |= bench_tp("64 B, needs_wake every push", TP_FIXED, 3000000 / scale);
        rc |= bench_tp("64 B, needs_wake every 32 pushes", TP_FIXED_BATCH, 3000000 / scale);
        rc |= bench_tp("16..2048 B random, every push", TP_RANDOM, 1500000 / scale);
        printf("round trip, 64 B (worker -> router -> worker):\n");
        rc |= bench_pp("busy-poll", false, 300000 / scale);
        rc |= bench_pp("doorbell sleep when empty", true, 30000 / scale);

        return rc ? 1 : 0;
}
