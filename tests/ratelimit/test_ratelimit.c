/* The rate limiter's buckets (common/ratelimit.c): the guide's 100 per
 * minute, refill, tokens with corrections and debt, oversize requests,
 * refusals that take nothing, exact budgets under two threads, a bounded
 * table under 100,000 clients, and one budget through two mappings of the
 * same file. Time is the now_ns argument: nothing sleeps. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ratelimit.h"
#include "tests/check.h"

#define SEC 1000000000ULL
#define T0 (1000 * SEC)

static struct rl_result one(struct rl_table *t, const char *id, const struct rl_limits *l, uint32_t tok,
                            uint64_t now) {
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
        check(!one(t, "tok", &l, 1, T0 + 60 * SEC).allowed);   /* 1800 over: 60 s pays 1000 */
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
        /* another size: laid out anew */
        check_eq(rl_open(path, 4096, &b), 0);
        check(one(b, "both", &l, 0, T0).allowed);
        rl_close(b);
        rl_close(a);
        unlink(path);
}

int main(int argc, char **argv) {
        static const struct check_group groups[] = {
                { "requests", test_requests }, { "tokens", test_tokens }, { "threads", test_threads },
                { "bounded", test_bounded },   { "shared_file", test_shared_file },
        };
        return check_run_group(argc, argv, groups, sizeof groups / sizeof groups[0], "ratelimit ");
}
