/* The limiter's Redis backend against a real redis-server (started here on
 * a free port in a private directory, stopped by pid): two connections,
 * standing for two switchyard instances, share one budget exactly; token
 * corrections reach it; with the server gone, calls fail at once with
 * -EHOSTUNREACH (the caller's fail_open / fail_closed). Skips (77) when
 * redis-server is not installed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/ratelimit_redis.h"
#include "tests/check.h"

static int free_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM, 0), port;

        check(fd >= 0);
        check(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
        check(getsockname(fd, (struct sockaddr *)&a, &l) == 0);
        port = ntohs(a.sin_port);
        close(fd);
        return port;
}

static int connects(int port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

        ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        return ok;
}

int main(void) {
        const char *exe = "/usr/bin/redis-server";
        char dir[] = "/tmp/sy-redis-XXXXXX", ports[16];
        struct rl_limits l = { .rpm = 10, .tpm = 1000 };
        struct rl_result r;
        struct rlr *a, *b;
        int port, admitted = 0;
        pid_t pid;

        if (access(exe, X_OK) != 0) {
                printf("SKIP: redis-server is not installed (apt-get install redis-server)\n");
                return TEST_SKIP;
        }
        check(mkdtemp(dir) != NULL);
        port = free_port();
        snprintf(ports, sizeof ports, "%d", port);
        pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                freopen("/dev/null", "w", stdout);
                execl(exe, exe, "--port", ports, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                      dir, (char *)NULL);
                _exit(127);
        }
        for (int i = 0; i < 200 && !connects(port); i++)
                usleep(20000);
        check(connects(port));

        check_eq(rlr_open("127.0.0.1", (uint16_t)port, NULL, "sytest:", 200, &a), 0);
        check_eq(rlr_open("127.0.0.1", (uint16_t)port, NULL, "sytest:", 200, &b), 0);
        for (int i = 0; i < 14; i++) {
                check_eq(rlr_check(i % 2 ? a : b, "fleet", 5, &l, 10, &r), 0);
                admitted += r.allowed;
                if (i == 0)
                        check_eq(r.remaining_requests, 9);
        }
        check_eq(admitted, 10);
        check(!r.allowed && r.remaining_requests == 0 && r.retry_after_s >= 1);
        /* tokens: 10 x 10 spent; a correction of +880 leaves 10 of 1000 */
        check_eq(rlr_check(a, "tok", 3, &l, 10, &r), 0);
        check(r.allowed);
        check_eq(rlr_adjust_tokens(b, "tok", 3, &l, 980), 0);
        check_eq(rlr_check(a, "tok", 3, &l, 20, &r), 0);
        check(!r.allowed && r.by_tokens);
        check(r.remaining_tokens <= 10);

        /* the server gone: a fast, distinct failure */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        check_eq(rlr_check(a, "fleet", 5, &l, 0, &r), -EHOSTUNREACH);
        check_eq(rlr_check(a, "fleet", 5, &l, 0, &r), -EHOSTUNREACH); /* no reconnect for a second */
        rlr_close(a);
        rlr_close(b);
        {
                char cmd[64];
                snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
                if (system(cmd) != 0)
                        fprintf(stderr, "could not remove %s\n", dir);
        }
        printf("ratelimit redis: ok\n");
        return 0;
}
