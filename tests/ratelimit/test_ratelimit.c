/* The rate limiter's buckets (common/ratelimit.c): the guide's 100 per
 * minute, refill, tokens with corrections and debt, oversize requests,
 * refusals that take nothing, bursts, precision at extreme rates (no
 * overflow), exact budgets under threads and under two processes, new
 * clients made by racing threads in a full window, a bounded table under
 * 10,000 and 100,000 clients, a flood that does not evict active clients,
 * a slot left half made by a dead process, hash collisions, one budget
 * through two mappings of the same file, a file from another boot. Time is
 * the now_ns argument: nothing sleeps (but the stuck-slot takeover, 10 ms). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/ratelimit-internal.h"
#include "common/ratelimit.h"
#include "tests/check.h"

#define SEC 1000000000ULL
#define T0 (1000 * SEC)

static struct rl_result one(struct rl_table *t, const char *id, const struct rl_limits *l, uint32_t tok, uint64_t now) {
        struct rl_result r;
        check_eq(rl_check(t, id, strlen(id), l, tok, now, &r), 0);
        return r;
}

static void test_requests(void) {
        struct rl_table *t;
        struct rl_limits l = { .rpm = 100 };
        struct rl_result r;

        check_eq(rl_open(NULL, 1000, &t), 0);
        for (int i = 0; i < 100; i++) {
                r = one(t, "client-a", &l, 0, T0 + (uint64_t)i * 1000);
                check(r.allowed);
                check_eq(r.remaining_requests, 99 - i);
                check_eq(r.limit_requests, 100);
        }
        r = one(t, "client-a", &l, 0, T0 + 100 * 1000);
        check(!r.allowed);
        check_eq(r.remaining_requests, 0);
        check(r.retry_after_s >= 1);
        check(r.reset_requests_ms > 59000 && r.reset_requests_ms <= 60000);
        /* another client is not touched */
        r = one(t, "client-b", &l, 0, T0 + 100 * 1000);
        check(r.allowed && r.remaining_requests == 99);
        /* 600 ms later one more fits (100 per minute), not two */
        r = one(t, "client-a", &l, 0, T0 + 600 * 1000000ULL + 100 * 1000);
        check(r.allowed);
        r = one(t, "client-a", &l, 0, T0 + 600 * 1000000ULL + 200 * 1000);
        check(!r.allowed);
        /* a minute later the bucket is full again */
        r = one(t, "client-a", &l, 0, T0 + 61 * SEC);
        check(r.allowed && r.remaining_requests == 99);
        /* a burst smaller than the rate */
        l.burst_requests = 5;
        for (int i = 0; i < 5; i++)
                check(one(t, "bursty", &l, 0, T0).allowed);
        check(!one(t, "bursty", &l, 0, T0).allowed);
        rl_close(t);
}

static void test_tokens(void) {
        struct rl_table *t;
        struct rl_limits l = { .rpm = 1000, .tpm = 1000 };
        struct rl_result r;

        check_eq(rl_open(NULL, 64, &t), 0);
        for (int i = 0; i < 3; i++)
                check(one(t, "tok", &l, 300, T0).allowed);
        r = one(t, "tok", &l, 300, T0);
        check(!r.allowed && r.by_tokens);
        check_eq(r.remaining_tokens, 100);
        /* refused by tokens: the request bucket gave its unit back */
        check_eq(r.remaining_requests, 997);
        /* the answers were smaller than estimated: give back 400 */
        rl_adjust_tokens(t, "tok", 3, &l, -400, T0);
        r = one(t, "tok", &l, 300, T0);
        check(r.allowed);
        check_eq(r.remaining_tokens, 200);
        /* an answer far larger: debt, refused until it is paid off */
        rl_adjust_tokens(t, "tok", 3, &l, 2000, T0);
        check(!one(t, "tok", &l, 1, T0).allowed);
        check(!one(t, "tok", &l, 1, T0 + 60 * SEC).allowed); /* 1800 over: 60 s pays 1000 */
        check(one(t, "tok", &l, 1, T0 + 110 * SEC).allowed);
        /* bigger than the bucket: only when it is full */
        check(one(t, "big", &l, 5000, T0).allowed);
        check(!one(t, "big", &l, 5000, T0 + 60 * SEC).allowed);
        check(one(t, "big", &l, 5000, T0 + 301 * SEC).allowed);
        /* giving back never goes beyond full */
        rl_adjust_tokens(t, "fresh", 5, &l, -100000, T0);
        r = one(t, "fresh", &l, 10, T0);
        check(r.allowed && r.remaining_tokens == 990);
        rl_close(t);
}

struct hammer {
        struct rl_table *t;
        atomic_int admitted;
};

static void *hammer_run(void *arg) {
        struct hammer *h = arg;
        struct rl_limits l = { .rpm = 10000 };

        for (int i = 0; i < 20000; i++) {
                struct rl_result r;
                rl_check(h->t, "shared", 6, &l, 0, T0, &r);
                if (r.allowed)
                        atomic_fetch_add(&h->admitted, 1);
        }
        return NULL;
}

static void test_threads(void) {
        struct hammer h = { 0 };
        pthread_t th[4];

        check_eq(rl_open(NULL, 64, &h.t), 0);
        for (int i = 0; i < 4; i++)
                check(pthread_create(&th[i], NULL, hammer_run, &h) == 0);
        for (int i = 0; i < 4; i++)
                pthread_join(th[i], NULL);
        /* 80,000 attempts at one instant: exactly the budget, not more */
        check_eq(atomic_load(&h.admitted), 10000);
        rl_close(h.t);
}

static void test_bounded(void) {
        struct rl_table *t;
        struct rl_limits l = { .rpm = 3 };
        char id[32];

        check_eq(rl_open(NULL, 1000, &t), 0);
        check_eq(rl_capacity(t), 1024);
        for (int i = 0; i < 100000; i++) {
                snprintf(id, sizeof id, "spray-%d", i);
                check(one(t, id, &l, 0, T0 + (uint64_t)i).allowed);
        }
        /* the most recent clients keep their state */
        for (int i = 99990; i < 100000; i++) {
                snprintf(id, sizeof id, "spray-%d", i);
                check_eq(one(t, id, &l, 0, T0 + 100000).remaining_requests, 1);
        }
        rl_close(t);
}

static void test_shared_file(void) {
        char path[] = "/tmp/sy-rl-test-XXXXXX";
        int fd = mkstemp(path);
        struct rl_table *a, *b;
        struct rl_limits l = { .rpm = 10 };
        int admitted = 0;

        check(fd >= 0);
        close(fd);
        check_eq(rl_open(path, 128, &a), 0);
        check_eq(rl_open(path, 128, &b), 0);
        for (int i = 0; i < 20; i++)
                admitted += one(i % 2 ? a : b, "both", &l, 0, T0).allowed;
        check_eq(admitted, 10);
        rl_close(b);
        /* reopened (a restarted frontend): the budget is still spent */
        check_eq(rl_open(path, 128, &b), 0);
        check(!one(b, "both", &l, 0, T0).allowed);
        rl_close(b);
        /* another size: laid out anew, in a new file; a process still
         * mapping the old one goes on with it (no SIGBUS) */
        check_eq(rl_open(path, 4096, &b), 0);
        check(one(b, "both", &l, 0, T0).allowed);
        check(!one(a, "both", &l, 0, T0).allowed);
        rl_close(b);
        rl_close(a);
        unlink(path);
}


static void test_burst(void) {
        struct rl_table *t;
        struct rl_limits l = { .rpm = 100, .burst_requests = 150 };
        struct rl_result r;
        int n = 0;

        check_eq(rl_open(NULL, 64, &t), 0);
        /* a burst larger than the rate: 150 at once, then 100 per minute */
        for (int i = 0; i < 200; i++)
                n += one(t, "b", &l, 0, T0).allowed;
        check_eq(n, 150);
        r = one(t, "b", &l, 0, T0);
        check_eq(r.remaining_requests, 0);
        check_eq(r.limit_requests, 100);
        check(r.reset_requests_ms > 89000 && r.reset_requests_ms <= 90000); /* 150 at 0.6 s */
        n = 0;
        for (int i = 0; i < 200; i++)
                n += one(t, "b", &l, 0, T0 + 60 * SEC).allowed;
        check_eq(n, 100);
        /* token burst: 500 at once of a 1000/min budget, then 1000/min */
        l = (struct rl_limits){ .tpm = 1000, .burst_tokens = 500 };
        r = one(t, "bt", &l, 0, T0);
        check_eq(r.remaining_tokens, 500);
        check(one(t, "bt", &l, 400, T0).allowed);
        r = one(t, "bt", &l, 101, T0);
        check(!r.allowed && r.by_tokens);
        check_eq(r.remaining_tokens, 100);
        check_eq(r.retry_after_s, 1); /* 1 token more takes 60 ms */
        check(one(t, "bt", &l, 100, T0).allowed);
        r = one(t, "bt", &l, 500, T0 + 30 * SEC); /* 30 s: 500 back, the whole bucket */
        check(r.allowed);
        /* refused by requests and tokens alike: retry after the longer */
        l = (struct rl_limits){ .rpm = 1, .tpm = 60 };
        check(one(t, "both", &l, 60, T0).allowed);
        r = one(t, "both", &l, 60, T0);
        check(!r.allowed && !r.by_tokens);
        check_eq(r.retry_after_s, 60);
        rl_close(t);
}

static void test_precision(void) {
        struct rl_table *t;
        struct rl_limits l;
        struct rl_result r;
        int n = 0;

        check_eq(rl_open(NULL, 64, &t), 0);
        /* 7 per minute: 60 s / 7 is no whole number of ns; still exactly 7 */
        l = (struct rl_limits){ .rpm = 7 };
        for (int i = 0; i < 10; i++)
                n += one(t, "seven", &l, 0, T0).allowed;
        check_eq(n, 7);
        /* the largest rates: a bucket of 2^32-1 tokens takes exactly that */
        l = (struct rl_limits){ .tpm = UINT32_MAX };
        r = one(t, "huge", &l, UINT32_MAX, T0);
        check(r.allowed);
        check_eq(r.remaining_tokens, 0);
        check(!one(t, "huge", &l, 1, T0).allowed);
        r = one(t, "huge", &l, 0, T0 + 60 * SEC);
        check_eq(r.remaining_tokens, UINT32_MAX);
        /* 7,000,000 per minute: 1 s refills 116,666.67 (a ns-rounded interval would give 116,672) */
        l = (struct rl_limits){ .tpm = 7000000 };
        check(one(t, "seven-m", &l, 7000000, T0).allowed);
        r = one(t, "seven-m", &l, 0, T0 + SEC);
        check(r.remaining_tokens >= 116665 && r.remaining_tokens <= 116667);
        /* 1 per minute and a request of 2^32-1 tokens: admitted when full, in
         * debt for at most a day beyond the bucket, and no overflow */
        l = (struct rl_limits){ .rpm = UINT32_MAX, .tpm = 1 };
        check(one(t, "tiny", &l, UINT32_MAX, T0).allowed);
        r = one(t, "tiny", &l, 1, T0 + 3600 * SEC);
        check(!r.allowed && r.by_tokens);
        check_eq(r.remaining_tokens, 0);
        check(r.retry_after_s > 80000 && r.retry_after_s <= 86400 + 60);
        check(r.reset_tokens_ms > 80000000u);
        check(one(t, "tiny", &l, 1, T0 + (86400 + 60) * SEC).allowed);
        /* corrections of any size neither overflow nor wrap */
        l = (struct rl_limits){ .tpm = 1000 };
        rl_adjust_tokens(t, "adj", 3, &l, INT64_MAX, T0);
        r = one(t, "adj", &l, 0, T0);
        check(!r.allowed && r.remaining_tokens == 0);
        rl_adjust_tokens(t, "adj", 3, &l, INT64_MIN, T0);
        r = one(t, "adj", &l, 0, T0);
        check(r.allowed && r.remaining_tokens == 1000);
        /* limits of 0: nothing limited, nothing reported */
        l = (struct rl_limits){ 0 };
        r = one(t, "free", &l, 123456, T0);
        check(r.allowed && r.limit_requests == 0 && r.limit_tokens == 0 && r.remaining_tokens == 0);
        rl_close(t);
}

struct hammer2 {
        struct rl_table *t;
        struct rl_limits l;
        uint32_t tokens;
        int rounds;
        atomic_int admitted;
};

static void *hammer2_run(void *arg) {
        struct hammer2 *h = arg;

        for (int i = 0; i < h->rounds; i++) {
                struct rl_result r;
                check_eq(rl_check(h->t, "shared", 6, &h->l, h->tokens, T0, &r), 0);
                if (r.allowed)
                        atomic_fetch_add(&h->admitted, 1);
        }
        return NULL;
}

static int hammer_two(struct rl_limits l, uint32_t tokens, int rounds) {
        struct hammer2 h = { .l = l, .tokens = tokens, .rounds = rounds };
        pthread_t th[2];

        check_eq(rl_open(NULL, 64, &h.t), 0);
        for (int i = 0; i < 2; i++)
                check(pthread_create(&th[i], NULL, hammer2_run, &h) == 0);
        for (int i = 0; i < 2; i++)
                pthread_join(th[i], NULL);
        rl_close(h.t);
        return atomic_load(&h.admitted);
}

/* two threads on one client: exactly the budget, by requests and by tokens */
static void test_threads_two(void) {
        check_eq(hammer_two((struct rl_limits){ .rpm = 5000 }, 0, 20000), 5000);
        /* a budget that lasts: the threads race on the word the whole time */
        check_eq(hammer_two((struct rl_limits){ .rpm = 150000 }, 0, 100000), 150000);
        check_eq(hammer_two((struct rl_limits){ .rpm = 1000000, .tpm = 10000 }, 7, 20000), 10000 / 7);
        check_eq(hammer_two((struct rl_limits){ .rpm = 3000, .tpm = 30000 }, 7, 20000), 3000);
        /* both binding at once: a request refused by tokens gives its unit
         * back, or the requests would run out first */
        check_eq(hammer_two((struct rl_limits){ .rpm = 10000 / 7, .tpm = 10000 }, 7, 20000), 10000 / 7);
}

/* two processes on one file: exactly the budget */
static void test_processes(void) {
        char path[] = "/tmp/sy-rl-test-XXXXXX";
        int fd = mkstemp(path), status, *admitted;
        struct rl_limits l = { .rpm = 180000, .tpm = 3000000 };
        pid_t pid[2];

        check(fd >= 0);
        close(fd);
        admitted = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        check(admitted != MAP_FAILED);
        for (int p = 0; p < 2; p++) {
                pid[p] = fork();
                check(pid[p] >= 0);
                if (pid[p] == 0) {
                        struct rl_table *t;
                        int n = 0;
                        if (rl_open(path, 1024, &t) < 0)
                                _exit(2);
                        for (int i = 0; i < 100000; i++) {
                                struct rl_result r;
                                if (rl_check(t, "proc", 4, &l, 20, T0, &r) < 0)
                                        _exit(3);
                                n += r.allowed;
                        }
                        admitted[p] = n;
                        rl_close(t);
                        _exit(0);
                }
        }
        for (int p = 0; p < 2; p++) {
                check(waitpid(pid[p], &status, 0) == pid[p]);
                check(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        check_eq(admitted[0] + admitted[1], 3000000 / 20); /* by tokens; requests would allow 180,000 */
        unlink(path);
}

/* Threads making new clients at once in a full window (a table of 16:
 * every new client evicts): each client of rpm 1 is admitted once only. */
struct race {
        struct rl_table *t;
        pthread_barrier_t *bar;
        int rounds;
        atomic_int *admitted;
};

static void *race_run(void *arg) {
        struct race *x = arg;
        struct rl_limits l = { .rpm = 1 };
        char id[32];

        for (int i = 0; i < x->rounds; i++) {
                struct rl_result r;
                snprintf(id, sizeof id, "new-%d", i);
                pthread_barrier_wait(x->bar);
                for (int k = 0; k < 3; k++) {
                        check_eq(rl_check(x->t, id, strlen(id), &l, 0, T0 + (uint64_t)i * 1000, &r), 0);
                        if (r.allowed)
                                atomic_fetch_add(&x->admitted[i], 1);
                }
        }
        return NULL;
}

static void test_new_race(void) {
        enum { ROUNDS = 3000, TH = 3 };
        struct rl_table *t;
        pthread_barrier_t bar;
        pthread_t th[TH];
        struct race x;
        static atomic_int admitted[ROUNDS];
        struct rl_limits l = { .rpm = 1 };
        char id[32];

        check_eq(rl_open(NULL, 16, &t), 0);
        check_eq(rl_capacity(t), 16);
        for (int i = 0; i < 16; i++) { /* fill it with clients that are not idle */
                snprintf(id, sizeof id, "old-%d", i);
                check(one(t, id, &l, 0, T0).allowed);
        }
        pthread_barrier_init(&bar, NULL, TH);
        x = (struct race){ .t = t, .bar = &bar, .rounds = ROUNDS, .admitted = admitted };
        for (int i = 0; i < TH; i++)
                check(pthread_create(&th[i], NULL, race_run, &x) == 0);
        for (int i = 0; i < TH; i++)
                pthread_join(th[i], NULL);
        for (int i = 0; i < ROUNDS; i++)
                check_eq(atomic_load(&admitted[i]), 1);
        pthread_barrier_destroy(&bar);
        rl_close(t);
}

static long rss_kib(void) {
        long pages = 0, rss = 0;
        FILE *f = fopen("/proc/self/statm", "r");

        check(f != NULL);
        check(fscanf(f, "%ld %ld", &pages, &rss) == 2);
        fclose(f);
        return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* 10,000 distinct client headers against 1024 slots: memory stays put */
static void test_bounded_10k(void) {
        struct rl_table *t;
        struct rl_limits l = { .rpm = 60, .tpm = 1000 };
        char id[64];
        long before;

        check_eq(rl_open(NULL, 1024, &t), 0);
        rss_kib();                       /* warm: stdio's buffers */
        for (int i = 0; i < 2000; i++) { /* warm: every page of the table touched */
                snprintf(id, sizeof id, "hdr:warm-%d", i);
                one(t, id, &l, 10, T0);
                rl_adjust_tokens(t, id, strlen(id), &l, 5, T0);
        }
        before = rss_kib();
        for (int i = 0; i < 10000; i++) {
                snprintf(id, sizeof id, "hdr:client-%d", i);
                check(one(t, id, &l, 10, T0 + (uint64_t)i * 1000).allowed);
                rl_adjust_tokens(t, id, strlen(id), &l, 5, T0 + (uint64_t)i * 1000);
        }
        check(rss_kib() - before < 64); /* 10,000 entries would take 640 KiB */
        check_eq(rl_capacity(t), 1024);
        /* the latest still have their state: 1 request, 15 tokens spent */
        for (int i = 9990; i < 10000; i++) {
                struct rl_result r;
                snprintf(id, sizeof id, "hdr:client-%d", i);
                r = one(t, id, &l, 0, T0 + 10000 * 1000);
                check_eq(r.remaining_requests, 58);
                check_eq(r.remaining_tokens, 985);
        }
        rl_close(t);
}

/* A flood of one-off ids does not evict clients whose buckets hold state:
 * the flood's own entries are idle (full again) soon, and go first. */
static void test_flood(void) {
        struct rl_table *t;
        struct rl_limits slow = { .rpm = 1 }, fast = { .rpm = 600000 }; /* a fast one is full again after 0.1 ms */
        char id[32];

        check_eq(rl_open(NULL, 1024, &t), 0);
        for (int i = 0; i < 100; i++) {
                snprintf(id, sizeof id, "active-%d", i);
                check(one(t, id, &slow, 0, T0).allowed);
        }
        for (int i = 0; i < 100000; i++) {
                snprintf(id, sizeof id, "flood-%d", i);
                check(one(t, id, &fast, 0, T0 + SEC + (uint64_t)i * 500000).allowed);
        }
        /* the flood ended at T0 + 51 s; the active ones are full again only
         * at T0 + 60 s: still spent */
        for (int i = 0; i < 100; i++) {
                snprintf(id, sizeof id, "active-%d", i);
                check(!one(t, id, &slow, 0, T0 + 55 * SEC).allowed);
        }
        rl_close(t);
}

/* A slot left half made (BUSY) by a process killed mid-way: taken over,
 * the client served (the old code waited forever). */
static void test_stuck(void) {
        struct rl_table *t;
        struct rl_limits l = { .rpm = 2 };
        uint64_t h1, h2;

        check_eq(rl_open(NULL, 64, &t), 0);
        rl_hash(t, "victim", 6, &h1, &h2);
        atomic_store(&rl_slot(t, (uint32_t)h1)->key, h1 | RL_KEY_BUSY);
        check(one(t, "victim", &l, 0, T0).allowed);
        check(one(t, "victim", &l, 0, T0).allowed);
        check(!one(t, "victim", &l, 0, T0).allowed);
        rl_close(t);
}

/* Another id with the same first hash (forged: 2^-62 otherwise) does not
 * share its bucket; nor do two tables hash alike. */
static void test_collision(void) {
        struct rl_table *t, *u;
        struct rl_limits l = { .rpm = 1 };
        uint64_t h1, h2, g1, g2;
        struct rl_entry *e;

        check_eq(rl_open(NULL, 64, &t), 0);
        rl_hash(t, "alice", 5, &h1, &h2);
        e = rl_slot(t, (uint32_t)h1);
        atomic_store(&e->check, h2 ^ 1);
        atomic_store(&e->tat[0], T0 + 3600 * SEC); /* the forged client is spent */
        atomic_store(&e->seen_ns, T0);
        atomic_store(&e->key, h1);
        check(one(t, "alice", &l, 0, T0).allowed);
        check(!one(t, "alice", &l, 0, T0).allowed);
        check_eq(atomic_load(&e->check), h2 ^ 1); /* the forged one kept its slot */
        check_eq(rl_open(NULL, 64, &u), 0);
        rl_hash(u, "alice", 5, &g1, &g2);
        check(g1 != h1 && g2 != h2);
        rl_close(u);
        rl_close(t);
}

/* a table file from another boot (its CLOCK_MONOTONIC meant another
 * thing) is laid out anew */
static void test_boot(void) {
        char path[] = "/tmp/sy-rl-test-XXXXXX";
        int fd = mkstemp(path);
        struct rl_table *a;
        struct rl_limits l = { .rpm = 1 };
        uint8_t other[16] = { 1, 2, 3 };

        check(fd >= 0);
        check_eq(rl_open(path, 64, &a), 0);
        check(one(a, "x", &l, 0, T0).allowed);
        rl_close(a);
        check_eq(rl_open(path, 64, &a), 0);
        check(!one(a, "x", &l, 0, T0).allowed); /* same boot: kept */
        rl_close(a);
        check(pwrite(fd, other, sizeof other, offsetof(struct rl_header, boot_id)) == (ssize_t)sizeof other);
        close(fd);
        check_eq(rl_open(path, 64, &a), 0);
        check(one(a, "x", &l, 0, T0).allowed);
        rl_close(a);
        unlink(path);
}

int main(int argc, char **argv) {
        static const struct check_group groups[] = {
                { "requests", test_requests },   { "tokens", test_tokens },
                { "burst", test_burst },         { "precision", test_precision },
                { "threads", test_threads },     { "threads2", test_threads_two },
                { "processes", test_processes }, { "new_race", test_new_race },
                { "bounded", test_bounded },     { "bounded10k", test_bounded_10k },
                { "flood", test_flood },         { "stuck", test_stuck },
                { "collision", test_collision }, { "shared_file", test_shared_file },
                { "boot", test_boot },
        };
        return check_run_group(argc, argv, groups, sizeof groups / sizeof groups[0], "ratelimit ");
}
