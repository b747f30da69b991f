/* Benchmark of the rate limiter (meson test --benchmark ratelimit, or run
 * it): nanoseconds of CPU per rl_check, 1 and 2 threads, a known client
 * (hit), a new client in a full table (miss: eviction), a refused one, an
 * adjustment; beside the baselines of the same run: the id's hash alone, and
 * a plain FNV-1a of the id. With redis-server and hiredis, one rlr_check
 * round trip on loopback too. Prints figures; decides nothing. The target
 * is <= 2000 ns of CPU per local check.
 *   ratelimit_bench [iterations per thread, default 2000000] */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/ratelimit-internal.h"
#include "common/ratelimit.h"
#include "common/ratelimit_redis.h"

#define T0 (1000 * 1000000000ULL)
#define NIDS 262144

static char (*ids)[40];
static size_t *idl;
static long iters = 2000000;
static volatile uint64_t sink;

enum kind { K_FNV, K_HASH, K_HIT_ONE, K_HIT_MANY, K_MISS, K_REFUSED, K_ADJUST };

struct job {
        enum kind kind;
        struct rl_table *t;
        int thread;
        double wall_ns, cpu_ns;
};

static uint64_t ns(clockid_t c) {
        struct timespec ts;

        clock_gettime(c, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t fnv(const void *p, size_t n) {
        const unsigned char *s = p;
        uint64_t h = 0xcbf29ce484222325ULL;

        for (size_t i = 0; i < n; i++)
                h = (h ^ s[i]) * 0x100000001b3ULL;
        return h;
}

static void *job_run(void *arg) {
        struct job *j = arg;
        struct rl_limits open = { .rpm = 4000000000u, .tpm = 4000000000u };
        struct rl_limits tight = { .rpm = 1, .tpm = 100 };
        struct rl_result r;
        uint64_t w0, c0, acc = 0, h1, h2;
        /* thread 1's ids apart from thread 0's (miss, many) */
        size_t base = (size_t)j->thread * (NIDS / 2);

        w0 = ns(CLOCK_MONOTONIC);
        c0 = ns(CLOCK_THREAD_CPUTIME_ID);
        for (long i = 0; i < iters; i++) {
                uint64_t now = T0 + (uint64_t)i;
                size_t k;

                switch (j->kind) {
                case K_FNV:
                        k = base + ((size_t)i & 1023);
                        acc += fnv(ids[k], idl[k]);
                        break;
                case K_HASH:
                        k = base + ((size_t)i & 1023);
                        rl_hash(j->t, ids[k], idl[k], &h1, &h2);
                        acc += h1 ^ h2;
                        break;
                case K_HIT_ONE:
                        rl_check(j->t, "key:tenant-a", 12, &open, 300, now, &r);
                        acc += r.allowed;
                        break;
                case K_HIT_MANY:
                        k = base + ((size_t)i & 1023);
                        rl_check(j->t, ids[k], idl[k], &open, 300, now, &r);
                        acc += r.allowed;
                        break;
                case K_MISS:
                        k = base + ((size_t)i % (NIDS / 2));
                        rl_check(j->t, ids[k], idl[k], &open, 300, now, &r);
                        acc += r.allowed;
                        break;
                case K_REFUSED:
                        rl_check(j->t, "key:spent", 9, &tight, 300, T0, &r);
                        acc += r.allowed;
                        break;
                case K_ADJUST:
                        rl_adjust_tokens(j->t, "key:tenant-a", 12, &open, (i & 1) ? 37 : -37, now);
                        break;
                }
        }
        j->cpu_ns = (double)(ns(CLOCK_THREAD_CPUTIME_ID) - c0) / (double)iters;
        j->wall_ns = (double)(ns(CLOCK_MONOTONIC) - w0) / (double)iters;
        sink += acc;
        return NULL;
}

/* one line: the kind on n threads (a fresh table of 65536 per line, warmed
 * with the ids the kind uses) */
static void bench(const char *name, enum kind kind, int nthreads) {
        struct job j[2];
        pthread_t th[2];
        struct rl_table *t;
        struct rl_limits open = { .rpm = 4000000000u, .tpm = 4000000000u };
        struct rl_result r;
        double cpu = 0, wall = 0;

        if (rl_open(NULL, 65536, &t) < 0) {
                fprintf(stderr, "rl_open failed\n");
                exit(1);
        }
        /* full table (a miss evicts), known ids present */
        for (size_t k = 0; k < NIDS; k++)
                rl_check(t, ids[k], idl[k], &open, 1, T0, &r);
        for (int th0 = 0; th0 < 2; th0++)
                for (size_t k = 0; k < 1024; k++)
                        rl_check(t, ids[(size_t)th0 * (NIDS / 2) + k], idl[(size_t)th0 * (NIDS / 2) + k], &open, 1, T0,
                                 &r);
        for (int i = 0; i < nthreads; i++) {
                j[i] = (struct job){ .kind = kind, .t = t, .thread = i };
                pthread_create(&th[i], NULL, job_run, &j[i]);
        }
        for (int i = 0; i < nthreads; i++) {
                pthread_join(th[i], NULL);
                cpu += j[i].cpu_ns / nthreads;
                wall += j[i].wall_ns / nthreads;
        }
        printf("  %-44s %d thread%s  %8.1f ns CPU/op  %8.1f ns wall/op\n", name, nthreads, nthreads > 1 ? "s" : " ",
               cpu, wall);
        rl_close(t);
}

/* a redis-server of our own, if there is one, for the round trip */
static void bench_redis(void) {
        const char *exe = "/usr/bin/redis-server";
        char dir[] = "/tmp/sy-rlbench-XXXXXX", ports[16], sock[128];
        struct rl_limits open = { .rpm = 4000000000u, .tpm = 4000000000u };
        struct rl_result r;
        struct rlr *c;
        pid_t pid;
        int n = 20000, ok = 0;
        uint64_t w0, c0;

        if (!rlr_supported() || access(exe, X_OK) != 0) {
                printf("  redis: skipped (%s)\n", rlr_supported() ? "no redis-server" : "built without hiredis");
                return;
        }
        if (!mkdtemp(dir))
                return;
        snprintf(sock, sizeof sock, "%s/redis.sock", dir);
        snprintf(ports, sizeof ports, "0");
        fflush(stdout); /* the child's freopen would write what is buffered */
        pid = fork();
        if (pid == 0) {
                if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
                        _exit(126);
                execl(exe, exe, "--port", ports, "--unixsocket", sock, "--save", "", "--appendonly", "no", "--dir", dir,
                      (char *)NULL);
                _exit(127);
        }
        for (int i = 0; i < 250 && access(sock, F_OK) != 0; i++)
                usleep(20000);
        if (rlr_open(sock, 0, NULL, "bench:", 1000, &c) == 0) {
                for (int i = 0; i < 1000; i++)
                        rlr_check(c, "key:tenant-a", 12, &open, 300, &r);
                w0 = ns(CLOCK_MONOTONIC);
                c0 = ns(CLOCK_PROCESS_CPUTIME_ID);
                for (int i = 0; i < n; i++)
                        ok += rlr_check(c, "key:tenant-a", 12, &open, 300, &r) == 0;
                printf("  %-44s 1 thread   %8.1f ns CPU/op  %8.1f ns wall/op  (%d/%d answered; Unix socket)\n",
                       "redis rlr_check (round trip, the server's CPU not counted)",
                       (double)(ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / n, (double)(ns(CLOCK_MONOTONIC) - w0) / n, ok, n);
                rlr_close(c);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        unlink(sock);
        rmdir(dir);
}

int main(int argc, char **argv) {
        if (argc > 1)
                iters = atol(argv[1]);
        if (iters <= 0)
                iters = 2000000;
        ids = malloc(sizeof *ids * NIDS);
        idl = malloc(sizeof *idl * NIDS);
        if (!ids || !idl)
                return 1;
        for (size_t k = 0; k < NIDS; k++)
                idl[k] = (size_t)snprintf(ids[k], sizeof ids[k], "hdr:client-%zu-%08zx", k, k * 2654435761u);
        printf("rate limiter, %ld operations per thread, ids of ~24 bytes, table of 65536 (full)\n", iters);
        printf("baselines:\n");
        bench("FNV-1a 64 of the id", K_FNV, 1);
        bench("rl_hash of the id (two keyed 64-bit hashes)", K_HASH, 1);
        printf("rl_check / rl_adjust_tokens:\n");
        bench("hit, one client", K_HIT_ONE, 1);
        bench("hit, one client (one cache line, contended)", K_HIT_ONE, 2);
        bench("hit, 1024 clients per thread", K_HIT_MANY, 1);
        bench("hit, 1024 clients per thread", K_HIT_MANY, 2);
        bench("miss, new client evicts (window scan + claim)", K_MISS, 1);
        bench("miss, new client evicts", K_MISS, 2);
        bench("refused (over the limit)", K_REFUSED, 1);
        bench("rl_adjust_tokens, one client", K_ADJUST, 1);
        bench_redis();
        free(ids);
        free(idl);
        return 0;
}
