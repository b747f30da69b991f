/* Load scrapes of every server upstream's /metrics (see scrape.h). */
#include "router/scrape.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "frontend/http_parse.h"
#include "router/metrics_parse.h"

#define SCRAPE_BODY_MAX (8u << 20)
#define SCRAPE_READ 16384
#define SCRAPE_MAX_HEADERS 48

enum { SC_IDLE, SC_CONNECTING, SC_READING };

struct target {
        int fd;
        int state;
        uint64_t deadline_ns, next_ns, sent_ns;
        struct buf b;
        size_t hdr_len;               /* 0: head not parsed yet */
        int status;
        bool chunked;
        uint64_t content_length;      /* UINT64_MAX: none (to EOF) */
        struct http_chunked ch;
        size_t raw, body_end;         /* chunked: next undecoded byte, end of decoded body */
};

struct scrape {
        int epfd;
        uint64_t interval_ns, timeout_ns;
        struct target t[SNAP_MAX_UPSTREAMS];
};

static void configure(struct scrape *sc, const struct sy_config *cfg) {
        sc->interval_ns = (uint64_t)cfg->router.scrape_interval_ms * 1000000ULL;
        sc->timeout_ns = (uint64_t)(cfg->router.scrape_timeout_ms ? cfg->router.scrape_timeout_ms : 500) * 1000000ULL;
        if (strcmp(cfg->router.policy ? cfg->router.policy : "scorer", "scorer") != 0)
                sc->interval_ns = 0; /* least_request / round_robin use no load signals */
}

int scrape_new(int epfd, const struct sy_config *cfg, struct scrape **ret) {
        struct scrape *sc = calloc(1, sizeof *sc);

        if (!sc)
                return -ENOMEM;
        sc->epfd = epfd;
        for (unsigned i = 0; i < SNAP_MAX_UPSTREAMS; i++)
                sc->t[i].fd = -1;
        configure(sc, cfg);
        *ret = sc;
        return 0;
}

static void target_close(struct scrape *sc, struct target *t) {
        if (t->fd >= 0) {
                epoll_ctl(sc->epfd, EPOLL_CTL_DEL, t->fd, NULL);
                close(t->fd);
        }
        t->fd = -1;
        t->state = SC_IDLE;
        t->b.len = 0;
        t->hdr_len = 0;
}

void scrape_free(struct scrape *sc) {
        if (!sc)
                return;
        for (unsigned i = 0; i < SNAP_MAX_UPSTREAMS; i++) {
                target_close(sc, &sc->t[i]);
                buf_free(&sc->t[i].b);
        }
        free(sc);
}

bool scrape_owns(const struct scrape *sc, const void *ptr) {
        return ptr >= (const void *)&sc->t[0] && ptr < (const void *)&sc->t[SNAP_MAX_UPSTREAMS];
}

void scrape_rebind(struct scrape *sc, const struct sy_config *cfg) {
        for (unsigned i = 0; i < SNAP_MAX_UPSTREAMS; i++) {
                target_close(sc, &sc->t[i]);
                sc->t[i].next_ns = 0;
        }
        configure(sc, cfg);
}

static void fail(struct scrape *sc, struct target *t, struct picker *pk, unsigned u, bool unsupported,
                 bool refused) {
        target_close(sc, t);
        picker_scrape_failed(pk, u, unsupported, refused);
}

static void start(struct scrape *sc, struct target *t, const struct snap_upstream *up, struct picker *pk,
                  unsigned u, uint64_t now) {
        struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = t };
        int one = 1;

        t->next_ns = now + sc->interval_ns;
        t->deadline_ns = now + sc->timeout_ns;
        t->sent_ns = now;
        t->b.len = 0;
        t->hdr_len = 0;
        t->fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (t->fd < 0)
                return;
        setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        picker_scrape_begin(pk, u);
        if (connect(t->fd, (const struct sockaddr *)&up->addr, sizeof up->addr) < 0 && errno != EINPROGRESS) {
                bool refused = errno == ECONNREFUSED;
                close(t->fd);
                t->fd = -1;
                picker_scrape_failed(pk, u, false, refused);
                return;
        }
        t->state = SC_CONNECTING;
        epoll_ctl(sc->epfd, EPOLL_CTL_ADD, t->fd, &ev);
}

int scrape_tick(struct scrape *sc, const struct snapshot *s, struct picker *pk, uint64_t now, bool *updated) {
        uint64_t next;

        (void)updated;
        if (!sc->interval_ns)
                return 1000;
        next = now + sc->interval_ns;
        for (unsigned i = 0; i < s->n_upstreams; i++) {
                struct target *t = &sc->t[i];
                const struct snap_upstream *up = &s->upstreams[i];

                if (t->state != SC_IDLE && now >= t->deadline_ns)
                        fail(sc, t, pk, i, false, false);
                if (t->state == SC_IDLE && now >= t->next_ns) {
                        if (up->kind != SY_UPSTREAM_SERVER || !up->resolved)
                                t->next_ns = now + sc->interval_ns;
                        else
                                start(sc, t, up, pk, i, now);
                }
                if (t->state != SC_IDLE && t->deadline_ns < next)
                        next = t->deadline_ns;
                if (t->state == SC_IDLE && t->next_ns < next)
                        next = t->next_ns;
        }
        return next > now ? (int)((next - now + 999999) / 1000000) : 0;
}

/* Head parsed: how is the body framed? */
static int read_head(struct target *t) {
        struct http_header hdrs[SCRAPE_MAX_HEADERS];
        struct http_response res = { .headers = hdrs };
        struct http_limits lim = { .max_header_bytes = 16384, .max_headers = SCRAPE_MAX_HEADERS };
        const struct http_header *h;
        int p = http_parse_response(t->b.p, t->b.len, &lim, &res);

        if (p <= 0)
                return p == -EAGAIN ? 0 : -EBADMSG;
        t->hdr_len = (size_t)p;
        t->status = res.status;
        t->chunked = false;
        t->content_length = UINT64_MAX;
        h = http_find_header(res.headers, res.num_headers, "transfer-encoding");
        if (h && http_header_has_token(h->value, h->value_len, "chunked")) {
                t->chunked = true;
                memset(&t->ch, 0, sizeof t->ch);
                t->raw = t->body_end = t->hdr_len;
        } else if ((h = http_find_header(res.headers, res.num_headers, "content-length")) != NULL) {
                if (http_parse_content_length(h->value, h->value_len, &t->content_length) < 0)
                        return -EBADMSG;
        }
        return 1;
}

/* 1: body complete in b[hdr_len..*ret_end), 0: more, -EBADMSG. */
static int body_done(struct target *t, bool eof, size_t *ret_end) {
        if (t->chunked) {
                for (;;) {
                        size_t used = 0, dlen = 0;
                        const char *data = NULL;
                        int r = http_chunked_step(&t->ch, t->b.p + t->raw, t->b.len - t->raw, &used, &data, &dlen);

                        if (r < 0)
                                return -EBADMSG;
                        if (dlen) {
                                memmove(t->b.p + t->body_end, data, dlen);
                                t->body_end += dlen;
                        }
                        t->raw += used;
                        if (r == 1) {
                                *ret_end = t->body_end;
                                return 1;
                        }
                        if (used == 0 || t->raw == t->b.len)
                                return eof ? -EBADMSG : 0;
                }
        }
        if (t->content_length != UINT64_MAX) {
                if (t->b.len - t->hdr_len >= t->content_length) {
                        *ret_end = t->hdr_len + (size_t)t->content_length;
                        return 1;
                }
                return eof ? -EBADMSG : 0;
        }
        if (eof) {
                *ret_end = t->b.len;
                return 1;
        }
        return 0;
}

static void finish(struct scrape *sc, struct target *t, struct picker *pk, unsigned u, size_t end,
                   bool *updated) {
        struct upstream_load l;

        if (t->status == 404 || t->status == 405 || t->status == 501) {
                fail(sc, t, pk, u, true, false);
                return;
        }
        if (t->status != 200) {
                fail(sc, t, pk, u, false, false);
                return;
        }
        if (metrics_parse(t->b.p + t->hdr_len, end - t->hdr_len, &l) < 0) {
                fail(sc, t, pk, u, true, false); /* no known metric: not an engine we can read */
                return;
        }
        target_close(sc, t);
        picker_scrape_ok(pk, u, &l, t->sent_ns);
        *updated = true;
}

void scrape_event(struct scrape *sc, void *ptr, uint32_t events, const struct snapshot *s, struct picker *pk,
                  uint64_t now, bool *updated) {
        struct target *t = ptr;
        unsigned u = (unsigned)(t - sc->t);
        const struct snap_upstream *up;

        (void)now;
        if (u >= s->n_upstreams || t->fd < 0) {
                target_close(sc, t);
                return;
        }
        up = &s->upstreams[u];
        if (t->state == SC_CONNECTING) {
                int err = 0;
                socklen_t l = sizeof err;
                char req[512];
                int n;

                getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &l);
                if (err || (events & (EPOLLERR | EPOLLHUP))) {
                        fail(sc, t, pk, u, false, err == ECONNREFUSED);
                        return;
                }
                n = snprintf(req, sizeof req,
                             "GET /metrics HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: switchyard-router\r\n"
                             "Accept: text/plain\r\nConnection: close\r\n\r\n",
                             up->host, up->port);
                if (send(t->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
                        fail(sc, t, pk, u, false, false);
                        return;
                }
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = t };
                epoll_ctl(sc->epfd, EPOLL_CTL_MOD, t->fd, &ev);
                t->state = SC_READING;
                return;
        }
        for (;;) {
                ssize_t r;
                size_t end = 0;
                int d;

                if (t->b.cap - t->b.len < SCRAPE_READ / 2) {
                        if (t->b.len + SCRAPE_READ > SCRAPE_BODY_MAX + 16384 || buf_reserve(&t->b, SCRAPE_READ) < 0) {
                                fail(sc, t, pk, u, false, false);
                                return;
                        }
                }
                r = recv(t->fd, t->b.p + t->b.len, t->b.cap - t->b.len, 0);
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (r < 0) {
                        fail(sc, t, pk, u, false, false);
                        return;
                }
                t->b.len += (size_t)r;
                if (!t->hdr_len) {
                        int h = read_head(t);
                        if (h < 0 || (h == 0 && (r == 0 || t->b.len > 16384))) {
                                fail(sc, t, pk, u, false, false);
                                return;
                        }
                        if (h == 0)
                                continue;
                }
                d = body_done(t, r == 0, &end);
                if (d < 0) {
                        fail(sc, t, pk, u, false, false);
                        return;
                }
                if (d == 1) {
                        finish(sc, t, pk, u, end, updated);
                        return;
                }
                if (r == 0) {
                        fail(sc, t, pk, u, false, false);
                        return;
                }
        }
}
