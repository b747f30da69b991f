/* Unit tests of http/http_client.c (the non-blocking GET of the health
 * checks and the load scrapes) and of router/scrape.c across configuration
 * changes, against a server made here on loopback (one thread: the test
 * accepts and answers between epoll waits).
 * Usage: test_scrape GROUP. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "http/http_client.h"
#include "router/picker.h"
#include "router/scrape.h"
#include "proto/snapshot.h"
#include "tests/check.h"

#define MS 1000000ULL

static const char METRICS[] = "# TYPE vllm:num_requests_waiting gauge\n"
                              "vllm:num_requests_waiting{model_name=\"m\"} 3\n"
                              "vllm:num_requests_running{model_name=\"m\"} 2\n"
                              "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.25\n";

/* A listening socket on 127.0.0.1; its port in *ret_port. */
static int listener(uint16_t *ret_port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        check(fd >= 0);
        check_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
        check_eq(listen(fd, 8), 0);
        check_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
        *ret_port = ntohs(a.sin_port);
        return fd;
}

/* 127.0.0.1:port as the router holds addresses (v4-mapped). */
static struct sockaddr_in6 mapped(uint16_t port) {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

        check_eq(snapshot_numeric_addr("127.0.0.1", port, &a), 0);
        return a;
}

/* Waits for one event on epfd (5 s at most); its data.ptr and events. */
static void *wait_event(int epfd, uint32_t *ret_events) {
        struct epoll_event ev;

        check_eq(epoll_wait(epfd, &ev, 1, 5000), 1);
        *ret_events = ev.events;
        return ev.data.ptr;
}

/* Accepts the connection and reads the request head. */
static int accept_request(int lfd, char *req, size_t cap) {
        size_t len = 0;
        int fd = accept(lfd, NULL, NULL);

        check(fd >= 0);
        while (len + 1 < cap && !memmem(req, len, "\r\n\r\n", 4)) {
                ssize_t n = recv(fd, req + len, cap - 1 - len, 0);
                check(n > 0);
                len += (size_t)n;
        }
        req[len] = 0;
        return fd;
}

static void send_all(int fd, const char *s, size_t len) {
        check_eq(send(fd, s, len, MSG_NOSIGNAL), (long long)len);
}

/* One GET against an answer written whole (then the server closes):
 * events until the result; the result. */
static enum http_client_result get(struct http_client *g, int epfd, int lfd, const char *answer, size_t answer_len) {
        struct sockaddr_in6 a;
        struct sockaddr_in sa;
        socklen_t sl = sizeof sa;
        const char req[] = "GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
        char got[1024];
        enum http_client_result r;
        uint32_t ev;
        int fd;

        check_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
        a = mapped(ntohs(sa.sin_port));
        check_eq(http_client_start(g, epfd, &a, req, sizeof req - 1, g), HTTP_CLIENT_MORE);
        check(wait_event(epfd, &ev) == g);
        check_eq(http_client_event(g, epfd, ev), HTTP_CLIENT_MORE); /* connected: the request goes out */
        fd = accept_request(lfd, got, sizeof got);
        check(strcmp(got, req) == 0);
        send_all(fd, answer, answer_len);
        close(fd);
        do {
                check(wait_event(epfd, &ev) == g);
                r = http_client_event(g, epfd, ev);
        } while (r == HTTP_CLIENT_MORE);
        return r;
}

/* get() with a string literal */
#define GET(g, lit) get((g), epfd, lfd, (lit), sizeof(lit) - 1)

static void check_body(const struct http_client *g, const char *want) {
        size_t len;
        const char *b = http_client_body(g, &len);

        check_eq(len, strlen(want));
        check(memcmp(b, want, len) == 0);
}

static void test_httpget(void) {
        static struct http_client g, head;
        int epfd = epoll_create1(EPOLL_CLOEXEC);
        uint16_t port, closed_port;
        int lfd = listener(&port), cfd = listener(&closed_port);
        struct sockaddr_in6 a;
        char big[3000];

        check(epfd >= 0);
        http_client_init(&g, 512, 2048);
        /* Content-Length (bytes past it are not the body) */
        check_eq(GET(&g, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello+junk"), HTTP_CLIENT_DONE);
        check_eq(g.status, 200);
        check_body(&g, "hello");
        http_client_close(&g, epfd);
        check_eq(g.state, HTTP_CLIENT_IDLE);
        check_eq(g.fd, -1);
        /* chunked, decoded */
        static const char chunked[] = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
        check_eq(GET(&g, chunked), HTTP_CLIENT_DONE);
        check_eq(g.status, 404);
        check_body(&g, "abcdefg");
        http_client_close(&g, epfd);
        /* no framing: to the end of the connection */
        check_eq(GET(&g, "HTTP/1.0 200 OK\r\n\r\nall of it"), HTTP_CLIENT_DONE);
        check_body(&g, "all of it");
        http_client_close(&g, epfd);
        /* cut short, malformed, over the body limit */
        check_eq(GET(&g, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"), HTTP_CLIENT_BAD_ANSWER);
        http_client_close(&g, epfd);
        check_eq(GET(&g, "HTTX/1.1 200 OK\r\n\r\n"), HTTP_CLIENT_BAD_ANSWER);
        http_client_close(&g, epfd);
        memset(big, 'x', sizeof big);
        memcpy(big, "HTTP/1.1 200 OK\r\n\r\n", 19);
        check_eq(get(&g, epfd, lfd, big, sizeof big), HTTP_CLIENT_BAD_ANSWER);
        http_client_close(&g, epfd);
        /* head only: done at the end of the head, whatever follows */
        http_client_init(&head, 64, 0);
        check_eq(GET(&head, "HTTP/1.1 503 x\r\nContent-Length: 100\r\n\r\n"), HTTP_CLIENT_DONE);
        check_eq(head.status, 503);
        http_client_close(&head, epfd);
        /* a head over head_max */
        memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
        check_eq(get(&head, epfd, lfd, big, 200), HTTP_CLIENT_BAD_ANSWER);
        http_client_close(&head, epfd);
        /* refused: a port nobody listens on (any more) */
        close(cfd);
        a = mapped(closed_port);
        enum http_client_result r = http_client_start(&g, epfd, &a, "GET / HTTP/1.1\r\n\r\n", 18, &g);
        if (r == HTTP_CLIENT_MORE) {
                uint32_t ev;
                check(wait_event(epfd, &ev) == &g);
                r = http_client_event(&g, epfd, ev);
        }
        check_eq(r, HTTP_CLIENT_CONNECT_FAILED);
        check_eq(g.err, ECONNREFUSED);
        http_client_close(&g, epfd);
        /* a request too long for the struct is refused at start */
        check_eq(http_client_start(&g, epfd, &a, big, sizeof big, &g), HTTP_CLIENT_CONNECT_FAILED);
        check_eq(g.fd, -1);
        http_client_free(&g, epfd);
        http_client_free(&head, epfd);
        close(lfd);
        close(epfd);
}

struct answer_arg {
        int lfd;
        const char *answer;
};

/* a server thread: one connection, the request read, the answer written whole */
static void *answer_once(void *arg) {
        struct answer_arg *a = arg;
        char got[1024];
        int fd = accept_request(a->lfd, got, sizeof got);

        check(strstr(got, "GET /v1/models HTTP/1.1\r\n") == got);
        send_all(fd, a->answer, strlen(a->answer));
        close(fd);
        return NULL;
}

/* http_client_fetch: the same request on an epoll of its own */
static void test_fetch(void) {
        static struct http_client g;
        static const char req[] = "GET /v1/models HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
        uint16_t port, closed_port, mute_port;
        int lfd = listener(&port), cfd = listener(&closed_port), mfd = listener(&mute_port);
        struct answer_arg aa = { lfd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" };
        struct sockaddr_in6 a = mapped(port);
        pthread_t t;

        http_client_init(&g, 512, 2048);
        check_eq(pthread_create(&t, NULL, answer_once, &aa), 0);
        check_eq(http_client_fetch(&g, &a, req, sizeof req - 1, 5000), HTTP_CLIENT_DONE);
        pthread_join(t, NULL);
        check_eq(g.status, 200);
        check_eq(g.fd, -1); /* closed, the answer kept */
        check_body(&g, "{}");
        /* refused */
        close(cfd);
        a = mapped(closed_port);
        check_eq(http_client_fetch(&g, &a, req, sizeof req - 1, 5000), HTTP_CLIENT_CONNECT_FAILED);
        check_eq(g.err, ECONNREFUSED);
        /* a server that never answers: the time runs out */
        a = mapped(mute_port);
        check_eq(http_client_fetch(&g, &a, req, sizeof req - 1, 50), HTTP_CLIENT_MORE);
        check_eq(g.fd, -1);
        http_client_free(&g, -1);
        close(lfd);
        close(mfd);
}

static struct sy_config *config(const char *name, uint16_t port) {
        struct buf y = { 0 };
        struct sy_config *cfg = NULL;
        char err[512];

        buf_printf(&y,
                   "router: {scrape_interval_ms: 60000, scrape_timeout_ms: 60000}\n"
                   "upstreams:\n  - {name: %s, url: \"http://127.0.0.1:%u\", models: [m]}\n",
                   name, port);
        if (sy_config_load_string("test.yaml", y.p, y.len, &cfg, err, sizeof err) < 0) {
                fprintf(stderr, "%s\n", err);
                exit(1);
        }
        buf_free(&y);
        return cfg;
}

/* Starts the scrape of slot 0 and lets its request reach the server:
 * returns the server's end of the connection. */
static int scrape_sent(struct scrape *sc, int epfd, int lfd, const struct snapshot *s, struct picker *pk) {
        char req[1024];
        bool updated = false;
        uint32_t ev;
        void *p;

        scrape_tick(sc, s, pk, 1 * MS, &updated);
        p = wait_event(epfd, &ev);
        check(scrape_owns(sc, p));
        scrape_event(sc, p, ev, s, pk, 1 * MS, &updated);
        return accept_request(lfd, req, sizeof req);
}

/* true when the peer closed its end (EOF), false while it is still open */
static bool peer_closed(int fd) {
        char c;
        ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

        check(n == 0 || (n < 0 && errno == EAGAIN));
        return n == 0;
}

/* a configuration applied while a scrape is in flight: a slot that keeps
 * its server at its address keeps the scrape (its answer counts); one that
 * changes hands has it dropped */
static void test_rebind(void) {
        static struct snapshot s0, s1, s2;
        struct picker_upstream_info info;
        struct picker_params pp;
        struct sy_config *c0, *c2;
        struct scrape *sc = NULL;
        struct picker *pk = NULL;
        int epfd = epoll_create1(EPOLL_CLOEXEC), fd;
        uint16_t port;
        int lfd = listener(&port);
        bool updated = false;
        char answer[512], err[256];
        uint32_t ev;
        void *p;

        check(epfd >= 0);
        c0 = config("a", port);
        check_eq(snapshot_build_from(c0, NULL, 1, 0, &s0, err, sizeof err), 0);
        picker_params_from_config(c0, &pp);
        check_eq(picker_new(&pp, &s0, 0, &pk), 0);
        check_eq(scrape_new(epfd, c0, &sc), 0);

        /* the same file applied again: the scrape goes on and its answer counts */
        fd = scrape_sent(sc, epfd, lfd, &s0, pk);
        check_eq(snapshot_build_from(c0, &s0, 2, 0, &s1, err, sizeof err), 0);
        check(snapshot_same_upstream(&s0.upstreams[0], &s1.upstreams[0]));
        check_eq(picker_rebind(pk, &pp, &s0, &s1, 2 * MS), 0);
        scrape_rebind(sc, c0, &s0, &s1);
        check(!peer_closed(fd));
        snprintf(answer, sizeof answer, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(METRICS), METRICS);
        send_all(fd, answer, strlen(answer));
        close(fd);
        p = wait_event(epfd, &ev);
        check(scrape_owns(sc, p));
        scrape_event(sc, p, ev, &s1, pk, 3 * MS, &updated);
        check(updated);
        check_eq(picker_upstream_info(pk, 0, 3 * MS, &info), 0);
        check_eq(info.metrics_state, PICKER_METRICS_OK);
        check(info.load.waiting == 3 && info.load.running == 2);

        /* its schedule goes on too: nothing due before the interval */
        updated = false;
        check(scrape_tick(sc, &s1, pk, 4 * MS, &updated) > 1000);

        /* a: removed (a tombstone), b: new. The new slot is scraped at
         * once; a new scrape of the tombstone's would not be made, and
         * one in flight is dropped */
        c2 = config("b", port);
        check_eq(snapshot_build_from(c2, &s1, 3, 0, &s2, err, sizeof err), 0);
        check(s2.upstreams[0].removed && !snapshot_same_upstream(&s1.upstreams[0], &s2.upstreams[0]));
        check_eq(picker_rebind(pk, &pp, &s1, &s2, 5 * MS), 0);
        scrape_rebind(sc, c2, &s1, &s2);
        fd = scrape_sent(sc, epfd, lfd, &s2, pk); /* slot 1 (b), due at once */
        check(!peer_closed(fd));
        /* the file back to a: b's slot changes hands, its scrape is dropped */
        check_eq(snapshot_build_from(c0, &s2, 4, 0, &s1, err, sizeof err), 0);
        check(s1.upstreams[1].removed);
        scrape_rebind(sc, c0, &s2, &s1);
        check(peer_closed(fd));
        close(fd);

        scrape_free(sc);
        picker_free(pk);
        sy_config_free(c0);
        sy_config_free(c2);
        close(lfd);
        close(epfd);
}

int main(int argc, char **argv) {
        static const struct check_group groups[] = {
                { "httpget", test_httpget },
                { "fetch", test_fetch },
                { "rebind", test_rebind },
        };

        return check_run_group(argc, argv, groups, sizeof groups / sizeof groups[0], "scrape ");
}
