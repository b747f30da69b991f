/* Two-process ring stress test with crashes.
 *
 * A producer process (frontend worker 0's side) and a consumer process (the
 * router's side) run over ring (worker 0, router, TO_PEER) of a segment file
 * in a private directory; the consumer sleeps on a doorbell FIFO whenever
 * the ring is empty. Messages have random sizes and carry a sequence number
 * and a checksum of their payload; the consumer checks order, length, type
 * and checksum of every message. Meanwhile this process (the supervisor)
 * SIGKILLs the consumer and the producer at random moments and starts them
 * again; each new process re-attaches with shm_seg_open() and carries on.
 *
 * What the protocol guarantees across a crash, and what is checked:
 *   - No message is lost and none is corrupted: the ring lives in the
 *     segment, and the consumer sees every sequence number in order.
 *   - Consumer killed: a message it had peeked (and even processed) but not
 *     released is delivered again to the next consumer. The consumer keeps
 *     "next sequence expected" in shared memory, written before release; the
 *     new consumer recognises the one re-delivered message (seq == next - 1)
 *     as the first message it sees. At most one per consumer kill.
 *   - Producer killed: a producer records what it is about to push (seq and
 *     ring_pushed() before it) in shared memory; a new producer resumes after
 *     it if ring_pushed() moved, else pushes it again. ring_pushed() is
 *     updated just after the release store of head, so a producer killed
 *     between those two stores is pushed again: the consumer sees that seq
 *     twice in a row. At most one per producer kill.
 *   - Wake-ups: a consumer whose wait times out with data in the ring has
 *     lost a wake-up; there must be none. A producer killed between
 *     ring_sp_needs_wake() (which clears the flag) and bell_ring() would
 *     leave the consumer asleep, so a producer rings the doorbell once
 *     whenever it starts.
 *
 * Usage: test_ring_stress [--messages N] [--kills K] [--ring-bytes B]
 * (K kills of each side, spread evenly over the run, each at a random
 * moment). No timing is asserted. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/bell.h"
#include "shm/segment.h"
#include "shm-test.h"

/* Shared between the supervisor and every incarnation of both children:
 * MAP_SHARED | MAP_ANONYMOUS, created before the first fork. */
struct state {
        uint64_t total;
        /* producer's persistent progress */
        _Atomic uint64_t prod_next;     /* next seq to push */
        _Atomic uint64_t intent_pushed; /* ring_pushed() before pushing intent_seq */
        _Atomic uint64_t intent_seq;    /* seq being pushed; UINT64_MAX: none */
        /* consumer's persistent progress: next seq expected */
        _Atomic uint64_t cons_next;
        /* counters */
        _Atomic uint64_t redeliver_cons, redeliver_prod, lost_wakes;
        _Atomic uint64_t sleeps, bells, bytes;
        _Atomic uint64_t prod_starts, cons_starts;
        _Atomic int failed;
        char why[512];
};

struct msg_hdr {
        uint64_t seq;
        uint32_t len; /* whole message, this header included */
        uint32_t sum; /* FNV-1a of the payload after this header */
};

static struct state *st;
static char seg_path[320], bell_path[320];
static struct shm_layout layout = { .max_workers = 1, .ring_bytes = 65536, .snap_bytes = 4096 };

static void child_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void child_fail(const char *fmt, ...) {
        va_list ap;
        int expected = 0;

        if (atomic_compare_exchange_strong(&st->failed, &expected, 1)) {
                va_start(ap, fmt);
                vsnprintf(st->why, sizeof(st->why), fmt, ap);
                va_end(ap);
        }
        _exit(1);
}

static uint32_t msg_len(uint64_t seq, uint32_t max) {
        uint64_t x = test_mix(seq ^ 0xabcdef);
        uint32_t lo = sizeof(struct msg_hdr);

        switch (x % 20) {
        case 0: /* 5%: up to the largest */
                return lo + (uint32_t)((x >> 8) % (max - lo + 1));
        case 1:
        case 2:
        case 3:
        case 4:
        case 5: /* 25%: up to 1 KiB */
                return lo + (uint32_t)((x >> 8) % ((max < 1024 ? max : 1024) - lo + 1));
        default: /* 70%: small */
                return lo + (uint32_t)((x >> 8) % 65);
        }
}

static uint16_t msg_type(uint64_t seq) {
        return (uint16_t)(seq % (RING_MSG_MAX_TYPE + 1));
}

static struct ring *child_attach(struct shm_seg **ret_seg, bool producer) {
        struct shm_seg *seg = NULL;
        struct ring *r;
        int rc;

        /* Die with the supervisor (a meson timeout kills only it). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
                _exit(1);
        rc = shm_seg_open(seg_path, &layout, &seg);
        if (rc < 0)
                child_fail("%s: shm_seg_open: %s", producer ? "producer" : "consumer", strerror(-rc));
        r = shm_seg_ring(seg, 0, SHM_PEER_ROUTER, SHM_TO_PEER);
        if (!r)
                child_fail("no ring");
        shm_peer_attach(producer ? shm_seg_worker(seg, 0) : shm_seg_peer(seg, SHM_PEER_ROUTER));
        *ret_seg = seg;
        return r;
}

static void producer_main(void) {
        struct shm_seg *seg;
        struct ring *r = child_attach(&seg, true);
        uint32_t max = ring_max_msg(r);
        unsigned char *buf = malloc(max);
        uint64_t next, rs = test_mix((uint64_t)getpid()) | 1;
        int bell = -1, rc;

        if (!buf)
                child_fail("producer: out of memory");
        atomic_fetch_add(&st->prod_starts, 1);

        /* Resume: did the push we were doing when killed get published? */
        next = atomic_load(&st->prod_next);
        if (atomic_load(&st->intent_seq) == next && ring_pushed(r) != atomic_load(&st->intent_pushed))
                next++;
        atomic_store(&st->prod_next, next);

        /* Ring once on start: the producer we replace may have died between
         * a push and its ring (ring_sp_needs_wake() had already cleared the
         * flag), leaving the consumer asleep with data in the ring. */
        if (bell_open_producer(bell_path, &bell) == 0)
                (void)bell_ring(bell);

        for (; next < st->total; next++) {
                struct msg_hdr h = { .seq = next, .len = msg_len(next, max) };
                unsigned spins = 0;

                test_fill(buf + sizeof(h), h.len - sizeof(h), next);
                h.sum = test_fnv1a(buf + sizeof(h), h.len - sizeof(h));
                memcpy(buf, &h, sizeof(h));

                atomic_store(&st->intent_pushed, ring_pushed(r));
                atomic_store(&st->intent_seq, next);
                while ((rc = ring_sp_push(r, msg_type(next), buf, h.len)) == -EAGAIN) {
                        /* full: the consumer is behind (or dead) */
                        if (++spins < 64)
                                sched_yield();
                        else
                                nanosleep(&(struct timespec){ 0, 20000 }, NULL);
                }
                if (rc < 0)
                        child_fail("producer: push seq %llu: %s", (unsigned long long)next, strerror(-rc));
                atomic_store(&st->prod_next, next + 1);

                if (ring_sp_needs_wake(r)) {
                        if (bell < 0 && bell_open_producer(bell_path, &bell) < 0)
                                bell = -1; /* no consumer yet: it checks the ring first */
                        if (bell >= 0) {
                                rc = bell_ring(bell);
                                if (rc < 0 && rc != -EPIPE) /* EPIPE: consumer just died */
                                        child_fail("producer: bell_ring: %s", strerror(-rc));
                                atomic_fetch_add(&st->bells, 1);
                        }
                }
                /* Now and then pause, so the consumer empties the ring and
                 * goes to sleep: exercises the doorbell path. */
                if (test_rand(&rs) % 2048 == 0)
                        nanosleep(&(struct timespec){ 0, 100000 + test_rand(&rs) % 400000 }, NULL);
        }
        _exit(0);
}

static void consumer_main(void) {
        struct shm_seg *seg;
        struct ring *r = child_attach(&seg, false);
        uint64_t next = atomic_load(&st->cons_next);
        bool first = true;
        int bell, rc;

        atomic_fetch_add(&st->cons_starts, 1);
        rc = bell_open_consumer(bell_path, &bell);
        if (rc < 0)
                child_fail("consumer: bell_open_consumer: %s", strerror(-rc));

        while (next < st->total) {
                const unsigned char *p;
                const void *vp;
                struct msg_hdr h;
                uint32_t len;
                uint16_t type;

                rc = ring_sc_peek(r, &type, &vp, &len);
                if (rc == -EAGAIN) {
                        struct pollfd pfd = { .fd = bell, .events = POLLIN };
                        int n;

                        if (!ring_sc_prepare_sleep(r))
                                continue;
                        atomic_fetch_add(&st->sleeps, 1);
                        n = poll(&pfd, 1, 5000);
                        if (n == 0 && !ring_sc_empty(r))
                                atomic_fetch_add(&st->lost_wakes, 1);
                        bell_drain(bell);
                        ring_sc_cancel_sleep(r);
                        continue;
                }
                if (rc < 0)
                        child_fail("consumer: peek: %s", strerror(-rc));
                p = vp;
                if (len < sizeof(h))
                        child_fail("consumer: short message (%u bytes) expecting seq %llu", len,
                                   (unsigned long long)next);
                memcpy(&h, p, sizeof(h));
                if (h.seq == next) {
                        next++;
                        /* Progress is persisted first, then the message is
                         * "processed" (checked), then released: a kill in
                         * between re-delivers it (see the top comment). */
                        atomic_store(&st->cons_next, next);
                        atomic_fetch_add(&st->bytes, len);
                } else if (h.seq + 1 == next) {
                        atomic_fetch_add(first ? &st->redeliver_cons : &st->redeliver_prod, 1);
                } else {
                        child_fail("consumer: %s: got seq %llu, expecting %llu", h.seq < next ? "duplicate" : "gap",
                                   (unsigned long long)h.seq, (unsigned long long)next);
                }
                if (h.len != len || type != msg_type(h.seq) || h.len != msg_len(h.seq, ring_max_msg(r)) ||
                    h.sum != test_fnv1a(p + sizeof(h), len - sizeof(h)))
                        child_fail("consumer: corrupt message: seq %llu len %u/%u type %u", (unsigned long long)h.seq,
                                   h.len, len, type);
                first = false;
                ring_sc_release(r);
        }
        _exit(0);
}

static pid_t spawn(void (*fn)(void)) {
        pid_t pid = fork();

        if (pid < 0) {
                perror("fork");
                exit(1);
        }
        if (pid == 0)
                fn();
        return pid;
}

/* Reaps pid if it exited; fails the test on an unexpected death. Returns
 * true if it is gone. */
static bool reap(pid_t *pid, const char *name) {
        int status;
        pid_t r;

        if (*pid <= 0)
                return true;
        r = waitpid(*pid, &status, WNOHANG);
        if (r == 0)
                return false;
        if (r < 0) {
                perror("waitpid");
                exit(1);
        }
        *pid = 0;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return true;
        fprintf(stderr, "%s died: %s %d: %s\n", name, WIFEXITED(status) ? "exit" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                st->failed ? st->why : "(no reason recorded)");
        exit(1);
}

static void kill_and_wait(pid_t *pid) {
        if (*pid <= 0)
                return;
        kill(*pid, SIGKILL);
        while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
                ;
        *pid = 0;
}

static double now_s(void) {
        return (double)shm_now_ns() / 1e9;
}

static void usage(const char *argv0) {
        fprintf(stderr, "usage: %s [--messages N] [--kills K] [--ring-bytes B]\n", argv0);
        exit(2);
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "messages", required_argument, NULL, 'n' },
                { "kills", required_argument, NULL, 'k' },
                { "ring-bytes", required_argument, NULL, 'r' },
                {},
        };
        uint64_t total = 200000, kills = 1, cons_kills = 0, prod_kills = 0, last_progress, rs;
        char dir[256];
        pid_t prod, cons;
        double t0, last_change;
        struct shm_seg *seg = NULL;
        int c, rc;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'n':
                        total = strtoull(optarg, NULL, 0);
                        break;
                case 'k':
                        kills = strtoull(optarg, NULL, 0);
                        break;
                case 'r':
                        layout.ring_bytes = (uint32_t)strtoul(optarg, NULL, 0);
                        break;
                default:
                        usage(argv[0]);
                }
        }
        if (total < 1000 || kills > 1000)
                usage(argv[0]);

        st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        check(st != MAP_FAILED);
        memset(st, 0, sizeof(*st));
        st->total = total;
        atomic_store(&st->intent_seq, UINT64_MAX);

        test_tmpdir(dir, sizeof(dir));
        snprintf(seg_path, sizeof(seg_path), "%s/seg", dir);
        snprintf(bell_path, sizeof(bell_path), "%s/bell", dir);
        rc = shm_seg_open(seg_path, &layout, &seg);
        if (rc < 0) {
                fprintf(stderr, "shm_seg_open: %s\n", strerror(-rc));
                return 1;
        }

        rs = test_mix(shm_now_ns()) | 1;
        t0 = now_s();
        last_change = t0;
        last_progress = 0;
        cons = spawn(consumer_main);
        prod = spawn(producer_main);

        for (uint64_t i = 0; i < 2 * kills; i++) {
                uint64_t threshold = total * (i + 1) / (2 * kills + 1);
                bool kill_consumer = (i % 2) == 0;

                while (atomic_load(&st->cons_next) < threshold) {
                        uint64_t cur = atomic_load(&st->cons_next);

                        reap(&cons, "consumer");
                        reap(&prod, "producer");
                        if (cur != last_progress) {
                                last_progress = cur;
                                last_change = now_s();
                        } else if (now_s() - last_change > 20) {
                                fprintf(stderr, "stalled at seq %llu (producer at %llu)\n", (unsigned long long)cur,
                                        (unsigned long long)atomic_load(&st->prod_next));
                                kill_and_wait(&cons);
                                kill_and_wait(&prod);
                                return 1;
                        }
                        usleep(200);
                }
                /* a random moment: mid-push, mid-peek, asleep, ... */
                usleep((useconds_t)(test_rand(&rs) % 2000));
                if (kill_consumer && cons > 0 && !reap(&cons, "consumer")) {
                        kill_and_wait(&cons);
                        cons_kills++;
                        usleep((useconds_t)(test_rand(&rs) % 3000)); /* let the ring fill up */
                        cons = spawn(consumer_main);
                } else if (!kill_consumer && prod > 0 && !reap(&prod, "producer")) {
                        kill_and_wait(&prod);
                        prod_kills++;
                        usleep((useconds_t)(test_rand(&rs) % 3000)); /* let the consumer sleep */
                        prod = spawn(producer_main);
                }
        }

        while (cons > 0 || prod > 0) {
                uint64_t cur = atomic_load(&st->cons_next);

                reap(&cons, "consumer");
                reap(&prod, "producer");
                if (cur != last_progress) {
                        last_progress = cur;
                        last_change = now_s();
                } else if (now_s() - last_change > 20) {
                        fprintf(stderr, "stalled at seq %llu (producer at %llu)\n", (unsigned long long)cur,
                                (unsigned long long)atomic_load(&st->prod_next));
                        kill_and_wait(&cons);
                        kill_and_wait(&prod);
                        return 1;
                }
                usleep(1000);
        }

        double dt = now_s() - t0;
        struct ring *r = shm_seg_ring(seg, 0, SHM_PEER_ROUTER, SHM_TO_PEER);
        uint64_t rc_cons = atomic_load(&st->redeliver_cons), rc_prod = atomic_load(&st->redeliver_prod);
        uint64_t lost = atomic_load(&st->lost_wakes);

        printf("%llu messages (%.1f MB) in %.2f s: %.0f msg/s; kills: consumer %llu, producer %llu; "
               "re-deliveries: after consumer kill %llu, producer re-push %llu; sleeps %llu, bells %llu, lost wake-ups %llu\n",
               (unsigned long long)total, (double)atomic_load(&st->bytes) / 1e6, dt, (double)total / dt,
               (unsigned long long)cons_kills, (unsigned long long)prod_kills, (unsigned long long)rc_cons,
               (unsigned long long)rc_prod, (unsigned long long)atomic_load(&st->sleeps),
               (unsigned long long)atomic_load(&st->bells), (unsigned long long)lost);

        check_eq(atomic_load(&st->cons_next), total);
        check_eq(atomic_load(&st->prod_next), total);
        check(ring_sc_empty(r));
        check(rc_cons <= cons_kills);
        check(rc_prod <= prod_kills);
        check_eq(lost, 0);
        check_eq(kills > 0 ? cons_kills : 0, kills);
        check_eq(kills > 0 ? prod_kills : 0, kills);
        /* every incarnation re-attached to its slot */
        check_eq(atomic_load(&shm_seg_peer(seg, SHM_PEER_ROUTER)->generation), atomic_load(&st->cons_starts));
        check_eq(atomic_load(&shm_seg_worker(seg, 0)->generation), atomic_load(&st->prod_starts));
        check_eq(atomic_load(&st->cons_starts), cons_kills + 1);
        check_eq(atomic_load(&st->prod_starts), prod_kills + 1);

        shm_seg_close(seg);
        return 0;
}
