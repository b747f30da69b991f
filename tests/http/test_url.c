/* http/url.c (both decoders) and http/http_listen.c. */
#include "http/url.h"
#include "http/http_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/check.h"

static void test_lenient(void) {
        char out[16];

        check_eq(url_decode("a%41b%2fc", 9, false, out, sizeof out), 5);
        check(strcmp(out, "aAb/c") == 0);
        check_eq(url_decode("a+b", 3, true, out, sizeof out), 3);
        check(strcmp(out, "a b") == 0);
        check_eq(url_decode("a+b", 3, false, out, sizeof out), 3);
        check(strcmp(out, "a+b") == 0);
        /* a bad or cut escape is kept as written */
        check_eq(url_decode("%zz%4", 5, false, out, sizeof out), 5);
        check(strcmp(out, "%zz%4") == 0);
        /* cut to fit, NUL-terminated */
        check_eq(url_decode("abcdef", 6, false, out, 4), 3);
        check(strcmp(out, "abc") == 0);
        check_eq(url_decode("%41", 3, false, out, 0), 0);
}

static void test_strict(void) {
        char out[8];

        check_eq(url_decode_strict("a%2Fb+c", 7, out, sizeof out), 5);
        check(strcmp(out, "a/b c") == 0);
        check_eq(url_decode_strict("%zz", 3, out, sizeof out), -EINVAL);
        check_eq(url_decode_strict("%4", 2, out, sizeof out), -EINVAL);
        check_eq(url_decode_strict("%+1", 3, out, sizeof out), -EINVAL);
        check_eq(url_decode_strict("a%00", 4, out, sizeof out), -EINVAL);
        check_eq(url_decode_strict("abcdefgh", 8, out, sizeof out), -ENOBUFS);
        check_eq(url_decode_strict("abcdefg", 7, out, sizeof out), 7);
        check_eq(url_decode_strict("", 0, out, sizeof out), 0);
}

static void test_listen(void) {
        struct sockaddr_in a = { .sin_family = AF_INET };
        uint16_t port = 0, port2 = 0;
        int fd = -1, fd2 = -1, c;

        check_eq(http_listen("127.0.0.1", 0, HTTP_LISTEN_NONBLOCK | HTTP_LISTEN_REUSEPORT, 8, &fd, &port), 0);
        check(fd >= 0 && port != 0);
        /* SO_REUSEPORT: a second socket on the same port */
        check_eq(http_listen("127.0.0.1", port, HTTP_LISTEN_REUSEPORT, 8, &fd2, &port2), 0);
        check_eq(port2, port);
        close(fd2);
        c = socket(AF_INET, SOCK_STREAM, 0);
        a.sin_port = htons(port);
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        check_eq(connect(c, (struct sockaddr *)&a, sizeof a), 0);
        close(c);
        /* without SO_REUSEPORT the port is taken */
        check_eq(http_listen("127.0.0.1", port, 0, 8, &fd2, NULL), -EADDRINUSE);
        close(fd);
}

int main(int argc, char **argv) {
        static const struct check_group groups[] = {
                { "lenient", test_lenient },
                { "strict", test_strict },
                { "listen", test_listen },
        };
        return check_run_group(argc, argv, groups, sizeof groups / sizeof groups[0], "url ");
}
