/* The limiter's Redis backend against a real redis-server (started here on
 * a free port in a private directory, with a password, stopped by pid):
 * a wrong password is "unavailable"; two connections, standing for two
 * switchyard instances, share one budget exactly, also from two threads at
 * once; Redis answers as the local table does for the same sequence; token
 * corrections reach it; a flushed script cache is reloaded; with the server
 * gone, calls fail at once with -EHOSTUNREACH (the caller's fail-open: its
 * local table decides; fail-closed: 503), distinct from -EINVAL; a server
 * back is used again after the backoff. Debug logs never show the password
 * nor a client id. Skips (77) when redis-server is not installed. */
#include <arpa/inet.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/ratelimit.h"
#include "common/ratelimit_redis.h"
#include "tests/check.h"

#define PASSWORD "pw-s3cr3t-do-not-log"
#define T0 (1000 * 1000000000ULL)

static const char *exe = "/usr/bin/redis-server";
static char dir[] = "/tmp/sy-redis-XXXXXX";
static int port;
static pid_t server = -1;              /* killed at exit, a failed check's too */
static int logfd = -1, saved_err = -1; /* stderr goes to logfd while the debug log is captured */

/* at exit: the server stopped; a failed check (printed into the captured
 * log) shown on the real stderr with the log */
static void at_exit(void) {
        char b[4096];
        ssize_t n;
        off_t off = 0;

        if (server > 0)
                kill(server, SIGKILL);
        if (saved_err < 0)
                return;
        fflush(stderr);
        dup2(saved_err, 2);
        while ((n = pread(logfd, b, sizeof b, off)) > 0) {
                if (write(2, b, (size_t)n) != n)
                        break;
                off += n;
        }
}

static int free_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM, 0), p;

        check(fd >= 0);
        check(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
        check(getsockname(fd, (struct sockaddr *)&a, &l) == 0);
        p = ntohs(a.sin_port);
        close(fd);
        return p;
}

static int connects(void) {
        struct sockaddr_in a = { .sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

        ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        return ok;
}

static pid_t start_redis(void) {
        char ports[16];
        pid_t pid;

        snprintf(ports, sizeof ports, "%d", port);
        fflush(stdout); /* the child's freopen would write what is buffered */
        pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
                        _exit(126);
                execl(exe, exe, "--port", ports, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                      dir, "--requirepass", PASSWORD, (char *)NULL);
                _exit(127);
        }
        server = pid;
        for (int i = 0; i < 250 && !connects(); i++)
                usleep(20000);
        check(connects());
        return pid;
}

static void stop_redis(pid_t pid) {
        kill(pid, SIGKILL);
        check(waitpid(pid, NULL, 0) == pid);
        server = -1;
}

struct hammer {
        struct rl_limits l;
        int attempts;
        atomic_int admitted, errors;
};

static void *hammer_run(void *arg) {
        struct hammer *h = arg;
        struct rlr *c;

        check_eq(rlr_open("127.0.0.1", (uint16_t)port, PASSWORD, "sytest:", 1000, &c), 0);
        for (int i = 0; i < h->attempts; i++) {
                struct rl_result r;
                if (rlr_check(c, "hammered", 8, &h->l, 3, &r) < 0)
                        atomic_fetch_add(&h->errors, 1);
                else if (r.allowed)
                        atomic_fetch_add(&h->admitted, 1);
        }
        rlr_close(c);
        return NULL;
}

/* the same sequence on Redis and on a local table: the same answers (rates
 * of one a minute: the real time the test takes refills nothing) */
static void same_as_local(struct rlr *a) {
        struct rl_limits l = { .rpm = 1, .burst_requests = 40, .tpm = 1, .burst_tokens = 5000 };
        struct rl_table *t;
        char id[32];

        check_eq(rl_open(NULL, 64, &t), 0);
        snprintf(id, sizeof id, "same-%ld", (long)getpid());
        for (int i = 0; i < 60; i++) {
                struct rl_result x, y;
                uint32_t tok = (uint32_t)((i * 7919) % 400);
                check_eq(rlr_check(a, id, strlen(id), &l, tok, &x), 0);
                check_eq(rl_check(t, id, strlen(id), &l, tok, T0, &y), 0);
                check_eq(x.allowed, y.allowed);
                check_eq(x.by_tokens, y.by_tokens);
                check_eq(x.remaining_requests, y.remaining_requests);
                check_eq(x.remaining_tokens, y.remaining_tokens);
                check_eq(x.limit_tokens, y.limit_tokens);
                if (!x.allowed)
                        check(x.retry_after_s >= y.retry_after_s - 1 && x.retry_after_s <= y.retry_after_s);
                if (i % 9 == 4) {
                        check_eq(rlr_adjust_tokens(a, id, strlen(id), &l, -100), 0);
                        rl_adjust_tokens(t, id, strlen(id), &l, -100, T0);
                }
        }
        rl_close(t);
}

int main(void) {
        struct rl_limits l = { .rpm = 10, .tpm = 1000 };
        struct rl_result r;
        struct rlr *a, *b, *bad;
        char logpath[] = "/tmp/sy-redis-log-XXXXXX", buf[65536];
        int admitted = 0;
        ssize_t n;
        pid_t pid;

        check(rlr_supported());
        if (access(exe, X_OK) != 0) {
                printf("SKIP: redis-server is not installed (apt-get install redis-server)\n");
                return TEST_SKIP;
        }
        /* debug logs into a file, to look for secrets in them at the end */
        atexit(at_exit);
        logfd = mkstemp(logpath);
        check(logfd >= 0);
        unlink(logpath);
        saved_err = dup(2);
        check(saved_err >= 0 && dup2(logfd, 2) == 2);
        sy_log_level = LOG_DEBUG_;

        check(mkdtemp(dir) != NULL);
        port = free_port();
        pid = start_redis();

        /* a wrong password: unavailable, like a server that is not there */
        check_eq(rlr_open("127.0.0.1", (uint16_t)port, "wrong", "sytest:", 200, &bad), 0);
        check_eq(rlr_check(bad, "fleet", 5, &l, 10, &r), -EHOSTUNREACH);
        rlr_close(bad);

        check_eq(rlr_open("127.0.0.1", (uint16_t)port, PASSWORD, "sytest:", 200, &a), 0);
        check_eq(rlr_open("127.0.0.1", (uint16_t)port, PASSWORD, "sytest:", 200, &b), 0);
        check(rlr_is(a, "127.0.0.1", (uint16_t)port) && !rlr_is(a, "127.0.0.2", (uint16_t)port));
        /* two instances, one budget: 10 of 14 */
        for (int i = 0; i < 14; i++) {
                check_eq(rlr_check(i % 2 ? a : b, "fleet", 5, &l, 10, &r), 0);
                admitted += r.allowed;
                if (i == 0)
                        check_eq(r.remaining_requests, 9);
        }
        check_eq(admitted, 10);
        check(!r.allowed && !r.by_tokens && r.remaining_requests == 0 && r.retry_after_s >= 1);
        check_eq(r.limit_requests, 10);
        check_eq(r.limit_tokens, 1000);
        check_eq(r.remaining_tokens, 900);

        /* tokens: 10 spent; a correction of +980 leaves 10 of 1000 */
        check_eq(rlr_check(a, "tok", 3, &l, 10, &r), 0);
        check(r.allowed);
        check_eq(rlr_adjust_tokens(b, "tok", 3, &l, 980), 0);
        check_eq(rlr_check(a, "tok", 3, &l, 20, &r), 0);
        check(!r.allowed && r.by_tokens);
        check(r.remaining_tokens <= 10);
        check_eq(rlr_adjust_tokens(b, "tok", 3, &l, -500), 0);
        check_eq(rlr_check(a, "tok", 3, &l, 20, &r), 0);
        check(r.allowed);

        /* two threads, each its own connection, at once: exactly the burst
         * (one a minute refills nothing meanwhile) */
        {
                struct hammer h = { .l = { .rpm = 1, .burst_requests = 150 }, .attempts = 200 };
                pthread_t th[2];

                for (int i = 0; i < 2; i++)
                        check(pthread_create(&th[i], NULL, hammer_run, &h) == 0);
                for (int i = 0; i < 2; i++)
                        pthread_join(th[i], NULL);
                check_eq(atomic_load(&h.errors), 0);
                check_eq(atomic_load(&h.admitted), 150);
        }

        same_as_local(a);

        /* binary ids, and the limit on their length */
        check_eq(rlr_check(a, "a\0b", 3, &l, 1, &r), 0);
        check_eq(r.remaining_requests, 9);
        check_eq(rlr_check(a, "a\0c", 3, &l, 1, &r), 0);
        check_eq(r.remaining_requests, 9);
        memset(buf, 'x', RLR_MAX_ID + 1);
        check_eq(rlr_check(a, buf, RLR_MAX_ID + 1, &l, 1, &r), -EINVAL);

        /* the script cache flushed under us: loaded again, no failure */
        {
                redisContext *raw = redisConnect("127.0.0.1", port);
                redisReply *rep;
                check(raw && !raw->err);
                rep = redisCommand(raw, "AUTH %s", PASSWORD);
                check(rep && rep->type == REDIS_REPLY_STATUS);
                freeReplyObject(rep);
                rep = redisCommand(raw, "SCRIPT FLUSH");
                check(rep && rep->type == REDIS_REPLY_STATUS);
                freeReplyObject(rep);
                redisFree(raw);
        }
        check_eq(rlr_check(a, "after-flush", 11, &l, 1, &r), 0);
        check(r.allowed);

        /* the server gone: a fast, distinct failure; the caller's fail-open
         * lets its local table decide, fail-closed answers 503 */
        stop_redis(pid);
        check_eq(rlr_check(a, "fleet", 5, &l, 0, &r), -EHOSTUNREACH);
        check_eq(rlr_check(a, "fleet", 5, &l, 0, &r), -EHOSTUNREACH); /* within the backoff: no attempt */
        check_eq(rlr_adjust_tokens(a, "fleet", 5, &l, 10), -EHOSTUNREACH);
        check_eq(rlr_check(b, "fleet", 5, &l, 0, &r), -EHOSTUNREACH);

        /* back (empty: --save ''): used again once the backoff has passed */
        pid = start_redis();
        usleep(450000); /* 100 ms, then 200 ms after the second failure */
        check_eq(rlr_check(a, "fleet", 5, &l, 0, &r), 0);
        check(r.allowed && r.remaining_requests == 9);

        rlr_close(a);
        rlr_close(b);
        stop_redis(pid);

        /* the debug log: something was said, never a secret nor an id */
        fflush(stderr);
        dup2(saved_err, 2);
        close(saved_err);
        saved_err = -1;
        n = pread(logfd, buf, sizeof buf - 1, 0);
        check(n > 0);
        buf[n] = 0;
        check(strstr(buf, "Redis") != NULL);
        check(strstr(buf, PASSWORD) == NULL && strstr(buf, "wrong") == NULL);
        check(strstr(buf, "fleet") == NULL && strstr(buf, "sytest:") == NULL);
        close(logfd);
        {
                char cmd[64];
                snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
                if (system(cmd) != 0)
                        fprintf(stderr, "could not remove %s\n", dir);
        }
        printf("ratelimit redis: ok\n");
        return 0;
}
