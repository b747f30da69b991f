/* Active health checks of upstreams (see health.h). */
#include "router/health.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "http/http_client.h"
#include "http/tls.h"

#define HEALTH_HEAD_MAX 1024 /* only the status line matters */

struct check {
        struct http_client g;
        uint64_t deadline_ns;
        uint64_t next_ns;
        unsigned ok_run, fail_run;
        bool up;       /* this module's verdict (the snapshot's flag is also
                                         * cleared by passive ejection; see health_up) */
        bool live;     /* the slot held a live upstream (not a tombstone) */
        char why[256]; /* the last failed check's reason, "" after a good one */
};

struct health {
        int epfd;
        unsigned n;
        uint64_t interval_ns, timeout_ns;
        unsigned unhealthy_threshold, healthy_threshold;
        char path[256];
        struct tls_table *tls; /* TLS, API keys, health paths of the configured upstreams */
        /* what each slot's check is for: a slot whose name or address
         * changes starts over */
        char names[SNAP_MAX_UPSTREAMS][SNAP_SHORT];
        struct sockaddr_in6 addrs[SNAP_MAX_UPSTREAMS];
        struct check checks[SNAP_MAX_UPSTREAMS];
};

static void configure(struct health *h, const struct sy_config *cfg) {
        h->interval_ns = (uint64_t)(cfg->health.interval_ms ? cfg->health.interval_ms : 1000) * 1000000ULL;
        h->timeout_ns = (uint64_t)(cfg->health.timeout_ms ? cfg->health.timeout_ms : 1000) * 1000000ULL;
        h->unhealthy_threshold = cfg->health.unhealthy_threshold ? cfg->health.unhealthy_threshold : 2;
        h->healthy_threshold = cfg->health.healthy_threshold ? cfg->health.healthy_threshold : 1;
        snprintf(h->path, sizeof h->path, "%s", cfg->health.path ? cfg->health.path : "/health");
        tls_table_free(h->tls);
        if (tls_table_new(cfg, &h->tls) < 0)
                log_err("health checks: out of memory for the TLS upstreams' settings");
}

int health_new(int epfd, const struct sy_config *cfg, const struct snapshot *s, struct health **ret) {
        struct health *h = calloc(1, sizeof *h);

        if (!h)
                return -ENOMEM;
        h->epfd = epfd;
        for (unsigned i = 0; i < SNAP_MAX_UPSTREAMS; i++)
                http_client_init(&h->checks[i].g, HEALTH_HEAD_MAX, 0);
        configure(h, cfg);
        h->n = s->n_upstreams;
        for (unsigned i = 0; i < h->n; i++) {
                snprintf(h->names[i], SNAP_SHORT, "%s", s->upstreams[i].name);
                h->addrs[i] = s->upstreams[i].addr;
                h->checks[i].up = s->upstreams[i].healthy;
                h->checks[i].live = !s->upstreams[i].removed;
        }
        *ret = h;
        return 0;
}

static void check_close(struct health *h, struct check *c) {
        http_client_close(&c->g, h->epfd);
}

void health_free(struct health *h) {
        if (!h)
                return;
        for (unsigned i = 0; i < SNAP_MAX_UPSTREAMS; i++)
                http_client_free(&h->checks[i].g, h->epfd);
        tls_table_free(h->tls);
        free(h);
}

bool health_owns(const struct health *h, const void *ptr) {
        return ptr >= (const void *)&h->checks[0] && ptr < (const void *)&h->checks[SNAP_MAX_UPSTREAMS];
}

static void verdict(struct health *h, struct check *c, struct snap_upstream *u, bool ok, const char *why,
                    bool *changed) {
        check_close(h, c);
        if (ok) {
                c->why[0] = 0;
                c->fail_run = 0;
                if (++c->ok_run >= h->healthy_threshold && !c->up) {
                        c->up = true;
                        u->healthy = 1;
                        *changed = true;
                        log_notice("upstream %s is healthy again", u->name);
                }
        } else {
                snprintf(c->why, sizeof c->why, "%s", why);
                c->ok_run = 0;
                if (++c->fail_run >= h->unhealthy_threshold && c->up) {
                        c->up = false;
                        u->healthy = 0;
                        *changed = true;
                        log_warn("upstream %s is unhealthy: %s", u->name, why);
                }
        }
}

static void start(struct health *h, struct check *c, struct snap_upstream *u, uint64_t now, bool *changed) {
        const struct tls_upstream *tu = tls_table_find(h->tls, u->name);
        char req[HTTP_CLIENT_REQ_MAX];
        /* the upstream's own headers too: a provider's health path may want its key */
        int n = snprintf(req, sizeof req,
                         "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: switchyard-health\r\n"
                         "%sConnection: close\r\n\r\n",
                         tu && tu->health_path ? tu->health_path : h->path, u->host, u->port, tu ? tu->headers : "");
        enum http_client_result r;

        c->next_ns = now + h->interval_ns;
        c->deadline_ns = now + h->timeout_ns;
        r = http_client_start_tls(&c->g, h->epfd, &u->addr, req, n < (int)sizeof req ? (size_t)n : sizeof req + 1, c,
                                  tu);
        if (r == HTTP_CLIENT_CONNECT_FAILED)
                verdict(h, c, u, false, "health check timed out or refused", changed);
        else if (r == HTTP_CLIENT_TLS_FAILED)
                verdict(h, c, u, false, c->g.tls_err, changed);
}

int health_tick(struct health *h, struct snapshot *s, uint64_t now, bool *changed) {
        uint64_t next = now + h->interval_ns;

        for (unsigned i = 0; i < h->n && i < s->n_upstreams; i++) {
                struct check *c = &h->checks[i];

                if (c->g.state != HTTP_CLIENT_IDLE && now >= c->deadline_ns)
                        verdict(h, c, &s->upstreams[i], false, "health check timed out or refused", changed);
                if (c->g.state == HTTP_CLIENT_IDLE && now >= c->next_ns) {
                        if (!s->upstreams[i].resolved || s->upstreams[i].removed) {
                                c->next_ns = now + h->interval_ns; /* the router re-resolves it */
                                continue;
                        }
                        start(h, c, &s->upstreams[i], now, changed);
                }
                if (c->g.state != HTTP_CLIENT_IDLE && c->deadline_ns < next)
                        next = c->deadline_ns;
                if (c->g.state == HTTP_CLIENT_IDLE && c->next_ns < next)
                        next = c->next_ns;
        }
        return next > now ? (int)((next - now + 999999) / 1000000) : 0;
}

void health_event(struct health *h, void *ptr, uint32_t events, struct snapshot *s, uint64_t now, bool *changed) {
        struct check *c = ptr;
        unsigned i = (unsigned)(c - h->checks);
        struct snap_upstream *u;

        if (i >= s->n_upstreams || s->upstreams[i].removed) {
                check_close(h, c);
                return;
        }
        u = &s->upstreams[i];
        switch (http_client_event(&c->g, h->epfd, events)) {
        case HTTP_CLIENT_MORE:
        case HTTP_CLIENT_NO_SOCKET:
                return;
        case HTTP_CLIENT_DONE: {
                char why[64];
                snprintf(why, sizeof why, "health check answered %d", c->g.status);
                /* a gateway (llm-d / InferencePool) need not serve the health
                 * path: any HTTP answer means it is up */
                verdict(h, c, u, u->kind == SY_UPSTREAM_GATEWAY || (c->g.status >= 200 && c->g.status < 300), why,
                        changed);
                return;
        }
        case HTTP_CLIENT_CONNECT_FAILED:
                verdict(h, c, u, false, strerror(c->g.err ? c->g.err : ECONNREFUSED), changed);
                return;
        case HTTP_CLIENT_SEND_FAILED:
                verdict(h, c, u, false, "send failed", changed);
                return;
        case HTTP_CLIENT_BAD_ANSWER:
                verdict(h, c, u, false, "bad health check response", changed);
                return;
        case HTTP_CLIENT_TLS_FAILED:
                verdict(h, c, u, false, c->g.tls_err, changed);
                return;
        }
}

void health_rebind(struct health *h, const struct sy_config *cfg, struct snapshot *s) {
        configure(h, cfg);
        for (unsigned i = 0; i < SNAP_MAX_UPSTREAMS; i++) {
                struct check *c = &h->checks[i];
                const struct snap_upstream *u = i < s->n_upstreams ? &s->upstreams[i] : NULL;

                /* the same upstream at the same address: its check goes on
                 * (an open one too: its epoll data is the slot's check) */
                if (u && !u->removed && c->live && i < h->n && strcmp(h->names[i], u->name) == 0 &&
                    memcmp(&h->addrs[i], &u->addr, sizeof u->addr) == 0)
                        continue;
                check_close(h, c);
                c->deadline_ns = c->next_ns = 0;
                c->ok_run = c->fail_run = 0;
                c->up = c->live = false;
                if (u) {
                        snprintf(h->names[i], SNAP_SHORT, "%s", u->name);
                        h->addrs[i] = u->addr;
                        c->up = u->healthy;
                        c->live = !u->removed;
                } else {
                        h->names[i][0] = 0;
                }
        }
        h->n = s->n_upstreams;
}

void health_resolved(struct health *h, const struct snapshot *s) {
        for (unsigned i = 0; i < h->n && i < s->n_upstreams; i++)
                if (memcmp(&h->addrs[i], &s->upstreams[i].addr, sizeof h->addrs[i]) != 0) {
                        check_close(h, &h->checks[i]);
                        h->checks[i].next_ns = 0;
                        h->checks[i].up = s->upstreams[i].healthy;
                        h->addrs[i] = s->upstreams[i].addr;
                }
}

const char *health_reason(const struct health *h, unsigned u) {
        return u < h->n && u < SNAP_MAX_UPSTREAMS && h->checks[u].why[0] ? h->checks[u].why : NULL;
}

bool health_up(const struct health *h, unsigned u) {
        return u < h->n && u < SNAP_MAX_UPSTREAMS && h->checks[u].up;
}
