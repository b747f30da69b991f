/* Unit tests for shm/ring: single-threaded behaviour against a reference
 * FIFO, then a producer and a consumer thread (run it under TSan too). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shm/bell.h"
#include "shm/ring.h"
#include "shm-test.h"

/* The ring's private header, mirrored so the corruption tests can poke it;
 * test_layout_mirror() checks the mirror against the ring's behaviour. */
#define OFF_MAGIC 0
#define OFF_DATA_BYTES 12
#define OFF_HEAD 64
#define OFF_TAIL_CACHE 72
#define OFF_TAIL 128
#define OFF_HEAD_CACHE 136
#define OFF_DATA 256

struct mem {
        void *p;
        size_t n;
};

static struct mem mem_new(uint32_t data_bytes) {
        struct mem m = { .n = ring_mem_size(data_bytes) };

        check(posix_memalign(&m.p, 64, m.n) == 0);
        memset(m.p, 0xa5, m.n); /* init must not rely on zeroed memory */
        return m;
}

static uint64_t u64_at(const struct mem *m, size_t off) {
        uint64_t v;

        memcpy(&v, (char *)m->p + off, 8);
        return v;
}

static void u64_set(struct mem *m, size_t off, uint64_t v) {
        memcpy((char *)m->p + off, &v, 8);
}

static struct ring *ring_new(struct mem *m, uint32_t data_bytes) {
        struct ring *r = NULL;

        *m = mem_new(data_bytes);
        check_eq(ring_init(m->p, data_bytes), 0);
        check_eq(ring_attach(m->p, m->n, &r), 0);
        check(r != NULL);
        return r;
}

static void test_init_args(void) {
        struct mem m = mem_new(8192);
        struct ring *r = NULL;

        check(ring_mem_size(4096) >= 4096 + 64);
        check_eq(ring_init(m.p, 1000), -EINVAL);
        check_eq(ring_init(m.p, 2048), -EINVAL);
        check_eq(ring_init(m.p, 6144), -EINVAL);
        check_eq(ring_init((char *)m.p + 8, 4096), -EINVAL);
        check_eq(ring_init(NULL, 4096), -EINVAL);
        /* never initialised (0xa5 fill) */
        check_eq(ring_attach(m.p, m.n, &r), -EBADMSG);
        check(r == NULL);
        check_eq(ring_init(m.p, 8192), 0);
        check_eq(ring_attach(m.p, ring_mem_size(8192) - 1, &r), -EBADMSG);
        check_eq(ring_attach(m.p, ring_mem_size(8192), &r), 0);
        check_eq(ring_max_msg(r), 2048);
        free(m.p);
}

static void test_empty_full(void) {
        struct mem m;
        struct ring *r = ring_new(&m, 4096);
        unsigned char buf[4096], out[4096];
        const void *p;
        uint32_t len = 0;
        uint16_t type = 0;
        int n = 0;

        check(ring_sc_empty(r));
        check_eq(ring_sc_peek(r, &type, &p, &len), -EAGAIN);
        check_eq(ring_sc_pop(r, &type, out, sizeof(out), &len), -EAGAIN);
        ring_sc_release(r); /* nothing peeked: no-op */
        check_eq(ring_popped(r), 0);

        /* 64-byte payloads take 72 bytes: 56 fit (4032), the 57th would
         * need a 64-byte pad + 72 > the 64 left. */
        memset(buf, 0, sizeof(buf));
        for (;;) {
                memcpy(buf, &n, sizeof(n));
                int rc = ring_sp_push(r, 7, buf, 64);
                if (rc == -EAGAIN)
                        break;
                check_eq(rc, 0);
                n++;
        }
        check_eq(n, 56);
        check_eq(ring_pushed(r), 56);
        check(!ring_sc_empty(r));
        check_eq(ring_sp_push(r, 7, buf, 64), -EAGAIN);
        /* a smaller one still fits in the 64 bytes left */
        check_eq(ring_sp_push(r, 8, buf, 56), 0);
        check_eq(ring_sp_push(r, 8, buf, 0), -EAGAIN);

        /* frees 72 bytes at offset 0; the ring is exactly at its end, so
         * the next message goes there without a pad */
        check_eq(ring_sc_pop(r, &type, out, sizeof(out), &len), 0);
        check_eq(type, 7);
        check_eq(len, 64);
        int first;
        memcpy(&first, out, sizeof(first));
        check_eq(first, 0);
        check_eq(ring_sp_push(r, 9, buf, 64), 0); /* at offset 0 */
        check_eq(ring_sp_push(r, 9, buf, 0), -EAGAIN);

        for (int i = 1; i < 56; i++) {
                check_eq(ring_sc_pop(r, &type, out, sizeof(out), &len), 0);
                memcpy(&first, out, sizeof(first));
                check_eq(first, i);
                check_eq(type, 7);
        }
        check_eq(ring_sc_pop(r, &type, out, sizeof(out), &len), 0);
        check_eq(type, 8);
        check_eq(len, 56);
        check_eq(ring_sc_pop(r, &type, out, sizeof(out), &len), 0);
        check_eq(type, 9);
        check(ring_sc_empty(r));
        check_eq(ring_pushed(r), 58);
        check_eq(ring_popped(r), 58);
        free(m.p);
}

static void test_limits(void) {
        struct mem m;
        struct ring *r = ring_new(&m, 16384);
        static unsigned char big[8192];
        unsigned char out[8192];
        struct iovec iov[3];
        uint32_t len = 0;
        uint16_t type = 0;

        check_eq(ring_max_msg(r), 4096);
        check_eq(ring_sp_push(r, 1, big, 4097), -EMSGSIZE);
        check_eq(ring_sp_push(r, RING_MSG_MAX_TYPE + 1, big, 1), -EINVAL);
        check_eq(ring_sp_push(r, 1, NULL, 1), -EINVAL);
        check_eq(ring_sp_push(r, RING_MSG_MAX_TYPE, big, 4096), 0);
        check_eq(ring_sc_pop(r, &type, out, sizeof(out), &len), 0);
        check_eq(type, RING_MSG_MAX_TYPE);
        check_eq(len, 4096);

        iov[0] = (struct iovec){ big, 4000 };
        iov[1] = (struct iovec){ big, 96 };
        iov[2] = (struct iovec){ big, 1 };
        check_eq(ring_sp_pushv(r, 1, iov, 3), -EMSGSIZE);
        check_eq(ring_sp_pushv(r, 1, iov, -1), -EINVAL);
        check(ring_sc_empty(r));
        free(m.p);
}

static void test_pushv(void) {
        struct mem m;
        struct ring *r = ring_new(&m, 4096);
        const char *a = "hello", *b = ", ", *c = "world";
        struct iovec iov[4] = {
                { (void *)a, 5 },
                { NULL, 0 },
                { (void *)b, 2 },
                { (void *)c, 5 },
        };
        char out[64];
        uint32_t len = 0;
        uint16_t type = 0;

        check_eq(ring_sp_pushv(r, 42, iov, 4), 0);
        check_eq(ring_sp_pushv(r, 43, NULL, 0), 0);
        check_eq(ring_sc_pop(r, &type, out, sizeof(out), &len), 0);
        check_eq(type, 42);
        check_eq(len, 12);
        check(memcmp(out, "hello, world", 12) == 0);
        check_eq(ring_sc_pop(r, &type, out, sizeof(out), &len), 0);
        check_eq(type, 43);
        check_eq(len, 0);
        check(ring_sc_empty(r));
        free(m.p);
}

static void test_peek_release_nobufs(void) {
        struct mem m;
        struct ring *r = ring_new(&m, 4096);
        const void *p1 = NULL, *p2 = NULL;
        uint32_t len = 0;
        uint16_t type = 0;
        char out[16];

        check_eq(ring_sp_push(r, 1, "first message", 13), 0);
        check_eq(ring_sp_push(r, 2, "second", 6), 0);

        check_eq(ring_sc_peek(r, &type, &p1, &len), 0);
        check_eq(type, 1);
        check_eq(len, 13);
        check(memcmp(p1, "first message", 13) == 0);
        /* peek again without release: the same message */
        check_eq(ring_sc_peek(r, &type, &p2, &len), 0);
        check(p1 == p2);
        check_eq(ring_popped(r), 0);
        ring_sc_release(r);
        check_eq(ring_popped(r), 1);

        /* too small a buffer: -ENOBUFS and the message stays */
        check_eq(ring_sc_pop(r, &type, out, 5, &len), -ENOBUFS);
        check_eq(ring_sc_peek(r, &type, &p1, &len), 0);
        check_eq(type, 2);
        check_eq(len, 6);
        check_eq(ring_sc_pop(r, &type, out, 6, &len), 0);
        check(memcmp(out, "second", 6) == 0);
        check(ring_sc_empty(r));
        free(m.p);
}

/* Random pushes and pops against a reference FIFO, for each ring size and
 * many message size ranges: exercises pad records at every offset. */
struct ref_msg {
        uint64_t seed;
        uint32_t len;
        uint16_t type;
};

static void test_wrap_model(uint32_t data_bytes, uint32_t max_len, uint64_t seed, int ops) {
        struct mem m;
        struct ring *r = ring_new(&m, data_bytes);
        enum { QCAP = 8192 };
        static struct ref_msg q[QCAP];
        unsigned char *in = malloc(data_bytes), *out = malloc(data_bytes);
        size_t qh = 0, qt = 0;
        uint64_t rs = seed | 1, pushed = 0, bytes = 0;

        check(in && out);
        if (max_len > ring_max_msg(r))
                max_len = ring_max_msg(r);
        for (int op = 0; op < ops; op++) {
                bool do_push = (test_rand(&rs) % 100) < 55;

                if (do_push && qh - qt < QCAP) {
                        struct ref_msg msg = {
                                .seed = test_rand(&rs),
                                .len = (uint32_t)(test_rand(&rs) % (max_len + 1)),
                                .type = (uint16_t)(test_rand(&rs) % (RING_MSG_MAX_TYPE + 1)),
                        };
                        int rc;

                        test_fill(in, msg.len, msg.seed);
                        if (test_rand(&rs) & 1) {
                                rc = ring_sp_push(r, msg.type, in, msg.len);
                        } else {
                                uint32_t cut = msg.len ? (uint32_t)(test_rand(&rs) % msg.len) : 0;
                                struct iovec iov[2] = { { in, cut }, { in + cut, msg.len - cut } };
                                rc = ring_sp_pushv(r, msg.type, iov, 2);
                        }
                        if (rc == -EAGAIN) {
                                check(qh != qt); /* an empty ring takes any legal message */
                                continue;
                        }
                        check_eq(rc, 0);
                        q[qh++ % QCAP] = msg;
                        pushed++;
                        bytes += msg.len + 8;
                } else {
                        const void *p;
                        uint32_t len = 0;
                        uint16_t type = 0;
                        int rc;

                        if (test_rand(&rs) & 1) {
                                rc = ring_sc_peek(r, &type, &p, &len);
                                if (rc == 0) {
                                        memcpy(out, p, len);
                                        ring_sc_release(r);
                                }
                        } else {
                                rc = ring_sc_pop(r, &type, out, data_bytes, &len);
                        }
                        if (qh == qt) {
                                check_eq(rc, -EAGAIN);
                                continue;
                        }
                        check_eq(rc, 0);
                        struct ref_msg *e = &q[qt++ % QCAP];
                        check_eq(len, e->len);
                        check_eq(type, e->type);
                        test_fill(in, e->len, e->seed);
                        check(memcmp(in, out, len) == 0);
                }
        }
        /* drain */
        while (qh != qt) {
                uint32_t len = 0;
                uint16_t type = 0;
                struct ref_msg *e = &q[qt++ % QCAP];

                check_eq(ring_sc_pop(r, &type, out, data_bytes, &len), 0);
                check_eq(len, e->len);
                test_fill(in, e->len, e->seed);
                check(memcmp(in, out, len) == 0);
        }
        check(ring_sc_empty(r));
        check_eq(ring_pushed(r), pushed);
        check_eq(ring_popped(r), pushed);
        /* the data area went round many times */
        check(bytes > 2ull * data_bytes);
        free(in);
        free(out);
        free(m.p);
}

static void test_wraparound(void) {
        static const uint32_t maxes[] = { 0, 1, 7, 8, 9, 63, 64, 100, 500, 1023, 1024, 4096, 1u << 20 };
        uint64_t seed = 1;

        for (uint32_t db = 4096; db <= 65536; db *= 4)
                for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++)
                        test_wrap_model(db, maxes[i], seed++, 40000);

        /* every message size exactly, each pushed enough times to land at
         * every 8-byte offset of a 4 KiB ring */
        struct mem m;
        struct ring *r = ring_new(&m, 4096);
        unsigned char in[1024], out[1024];
        for (uint32_t len = 0; len <= 1024; len++) {
                for (int k = 0; k < 600; k++) {
                        uint32_t got = 0;
                        uint16_t type = 0;

                        test_fill(in, len, len * 1000 + k);
                        check_eq(ring_sp_push(r, (uint16_t)len, in, len), 0);
                        check_eq(ring_sc_pop(r, &type, out, sizeof(out), &got), 0);
                        check_eq(got, len);
                        check_eq(type, len);
                        check(memcmp(in, out, len) == 0);
                }
        }
        free(m.p);
}

static void test_layout_mirror(struct mem *m, struct ring *r) {
        /* after one 8-byte message, head is 16 */
        check_eq(ring_sp_push(r, 1, "12345678", 8), 0);
        check_eq(u64_at(m, OFF_HEAD), 16);
        check_eq(u64_at(m, OFF_TAIL), 0);
        check(ring_sc_pop(r, NULL, (char[8]){ 0 }, 8, NULL) == 0);
        check_eq(u64_at(m, OFF_TAIL), 16);
        check_eq(u64_at(m, OFF_HEAD_CACHE), 16);
        check_eq(u64_at(m, OFF_DATA_BYTES) & 0xffffffffu, 4096);
        /* the record header sits at the start of the data area */
        uint32_t len;
        memcpy(&len, (char *)m->p + OFF_DATA, 4);
        check_eq(len, 8);
}

static void test_attach_corrupt(void) {
        struct mem m;
        struct ring *r = ring_new(&m, 4096), *r2 = NULL;
        uint64_t saved;

        test_layout_mirror(&m, r);
        check_eq(ring_sp_push(r, 1, "abc", 3), 0);
        check_eq(ring_attach(m.p, m.n, &r2), 0);
        check(r2 == r);

        saved = u64_at(&m, OFF_MAGIC);
        u64_set(&m, OFF_MAGIC, saved ^ 1);
        r2 = NULL;
        check_eq(ring_attach(m.p, m.n, &r2), -EBADMSG);
        check(r2 == NULL);
        u64_set(&m, OFF_MAGIC, saved);

        /* data size not a power of two (mask/max_msg left alone) */
        saved = u64_at(&m, OFF_DATA_BYTES);
        u64_set(&m, OFF_DATA_BYTES, (saved & ~0xffffffffull) | 5000);
        check_eq(ring_attach(m.p, m.n, &r2), -EBADMSG);
        u64_set(&m, OFF_DATA_BYTES, saved);

        /* tail ahead of head */
        saved = u64_at(&m, OFF_TAIL);
        u64_set(&m, OFF_TAIL, u64_at(&m, OFF_HEAD) + 8);
        check_eq(ring_attach(m.p, m.n, &r2), -EBADMSG);
        /* head more than the data area ahead of tail */
        u64_set(&m, OFF_TAIL, 0);
        u64_set(&m, OFF_HEAD, 4096 + 8);
        check_eq(ring_attach(m.p, m.n, &r2), -EBADMSG);
        /* misaligned head */
        u64_set(&m, OFF_HEAD, 28);
        check_eq(ring_attach(m.p, m.n, &r2), -EBADMSG);
        u64_set(&m, OFF_HEAD, 32);
        u64_set(&m, OFF_TAIL, saved);
        /* a producer cache ahead of tail */
        saved = u64_at(&m, OFF_TAIL_CACHE);
        u64_set(&m, OFF_TAIL_CACHE, 4096);
        check_eq(ring_attach(m.p, m.n, &r2), -EBADMSG);
        u64_set(&m, OFF_TAIL_CACHE, saved);
        check_eq(ring_attach(m.p, m.n, &r2), 0);

        /* a corrupt record length is reported, not followed */
        uint32_t bad = 100000;
        memcpy((char *)m.p + OFF_DATA + 16, &bad, 4);
        check_eq(ring_sc_peek(r, NULL, NULL, NULL), -EBADMSG);
        check_eq(ring_sc_pop(r, NULL, NULL, 0, NULL), -EBADMSG);
        free(m.p);
}

static void test_sleep_flags(void) {
        struct mem m;
        struct ring *r = ring_new(&m, 4096);

        check(!ring_sp_needs_wake(r));
        /* empty: go to sleep; the first push after it needs a wake-up, once */
        check(ring_sc_prepare_sleep(r));
        check_eq(ring_sp_push(r, 1, "x", 1), 0);
        check(ring_sp_needs_wake(r));
        check(!ring_sp_needs_wake(r));
        check_eq(ring_sp_push(r, 1, "y", 1), 0);
        check(!ring_sp_needs_wake(r));

        /* not empty: prepare_sleep says no and leaves no flag behind */
        check(!ring_sc_prepare_sleep(r));
        check(!ring_sp_needs_wake(r));

        /* cancelled sleep: no wake-up wanted */
        check_eq(ring_sc_pop(r, NULL, (char[1]){ 0 }, 1, NULL), 0);
        check_eq(ring_sc_pop(r, NULL, (char[1]){ 0 }, 1, NULL), 0);
        check(ring_sc_prepare_sleep(r));
        ring_sc_cancel_sleep(r);
        check_eq(ring_sp_push(r, 1, "z", 1), 0);
        check(!ring_sp_needs_wake(r));
        free(m.p);
}

/* Two threads over one ring: random sizes, sequence numbers and checksums,
 * the consumer sleeping on a pipe doorbell whenever the ring is empty.
 * A wait that times out with data in the ring is a lost wake-up. */
struct thr {
        struct ring *r;
        int rfd, wfd;
        uint64_t n;
        _Atomic bool producer_done;
        uint64_t wakes, sleeps, lost;
        const char *fail;
};

struct hdr {
        uint64_t seq;
        uint32_t len;
        uint32_t sum;
};

static uint32_t msg_len(uint64_t seq, uint32_t max) {
        uint64_t x = test_mix(seq);

        if (x % 10 < 7)
                return sizeof(struct hdr) + (uint32_t)(x >> 8) % 64;
        return sizeof(struct hdr) + (uint32_t)(x >> 8) % (max - sizeof(struct hdr) + 1);
}

static void *producer(void *arg) {
        struct thr *t = arg;
        uint32_t max = ring_max_msg(t->r);
        unsigned char *buf = malloc(max);

        for (uint64_t seq = 0; seq < t->n; seq++) {
                struct hdr h = { .seq = seq, .len = msg_len(seq, max) };

                test_fill(buf + sizeof(h), h.len - sizeof(h), seq);
                h.sum = test_fnv1a(buf + sizeof(h), h.len - sizeof(h));
                memcpy(buf, &h, sizeof(h));
                while (ring_sp_push(t->r, (uint16_t)(seq & 0x7fff), buf, h.len) == -EAGAIN)
                        sched_yield();
                if (ring_sp_needs_wake(t->r)) {
                        t->wakes++;
                        check_eq(bell_ring(t->wfd), 0);
                }
                if (test_mix(seq ^ 0x5555) % 4096 == 0)
                        usleep(200); /* let the consumer fall asleep now and then */
        }
        atomic_store(&t->producer_done, true);
        if (ring_sp_needs_wake(t->r))
                check_eq(bell_ring(t->wfd), 0);
        free(buf);
        return NULL;
}

static void *consumer(void *arg) {
        struct thr *t = arg;
        uint64_t next = 0;

        while (next < t->n) {
                const void *p;
                uint32_t len;
                uint16_t type;
                struct hdr h;
                int rc = ring_sc_peek(t->r, &type, &p, &len);

                if (rc == -EAGAIN) {
                        if (!ring_sc_prepare_sleep(t->r))
                                continue;
                        t->sleeps++;
                        struct pollfd pfd = { .fd = t->rfd, .events = POLLIN };
                        int n = poll(&pfd, 1, 2000);
                        bell_drain(t->rfd);
                        ring_sc_cancel_sleep(t->r);
                        if (n == 0 && !ring_sc_empty(t->r))
                                t->lost++;
                        continue;
                }
                if (rc != 0 || len < sizeof(h)) {
                        t->fail = "peek failed";
                        return NULL;
                }
                memcpy(&h, p, sizeof(h));
                if (h.seq != next || h.len != len || type != (next & 0x7fff) ||
                    h.sum != test_fnv1a((const char *)p + sizeof(h), len - sizeof(h))) {
                        t->fail = "bad message (order, length, type or checksum)";
                        return NULL;
                }
                ring_sc_release(t->r);
                next++;
        }
        return NULL;
}

static void test_threads(uint32_t data_bytes, uint64_t n) {
        struct mem m;
        struct thr t = { .r = ring_new(&m, data_bytes), .n = n };
        int fds[2];
        pthread_t pt, ct;

        check(pipe(fds) == 0);
        t.rfd = fds[0];
        t.wfd = fds[1];
        check(fcntl_nonblock(fds[0]) == 0 && fcntl_nonblock(fds[1]) == 0);
        check(pthread_create(&ct, NULL, consumer, &t) == 0);
        check(pthread_create(&pt, NULL, producer, &t) == 0);
        pthread_join(pt, NULL);
        pthread_join(ct, NULL);
        if (t.fail) {
                fprintf(stderr, "threads (%u bytes): %s\n", data_bytes, t.fail);
                exit(1);
        }
        check_eq(t.lost, 0);
        check(ring_sc_empty(t.r));
        check_eq(ring_popped(t.r), n);
        printf("threads: ring %u, %llu msgs, %llu sleeps, %llu wakes\n", data_bytes, (unsigned long long)n,
               (unsigned long long)t.sleeps, (unsigned long long)t.wakes);
        close(fds[0]);
        close(fds[1]);
        free(m.p);
}

int main(int argc, char **argv) {
        uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 100000;

        test_init_args();
        test_empty_full();
        test_limits();
        test_pushv();
        test_peek_release_nobufs();
        test_sleep_flags();
        test_attach_corrupt();
        test_wraparound();
        test_threads(4096, n);
        test_threads(65536, n);
        printf("ring: ok\n");
        return 0;
}
