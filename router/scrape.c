/* Load scrapes of every server upstream's /metrics (see scrape.h). */
#include "router/scrape.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "http/http_client.h"
#include "http/tls.h"
#include "router/metrics_parse.h"

#define SCRAPE_HEAD_MAX 16384
#define SCRAPE_BODY_MAX (8u << 20)

struct target {
        struct http_client g;
        uint64_t deadline_ns, next_ns, sent_ns;
};

struct scrape {
        int epfd;
        uint64_t interval_ns, timeout_ns;
        struct target t[SNAP_MAX_UPSTREAMS];
        struct tls_table *tls; /* TLS and API keys of the configured upstreams */
};

static void configure(struct scrape *sc, const struct sy_config *cfg) {
        sc->interval_ns = (uint64_t)cfg->router.scrape_interval_ms * 1000000ULL;
        sc->timeout_ns = (uint64_t)(cfg->router.scrape_timeout_ms ? cfg->router.scrape_timeout_ms : 500) * 1000000ULL;
        if (strcmp(cfg->router.policy ? cfg->router.policy : "scorer", "scorer") != 0)
                sc->interval_ns = 0; /* least_request / round_robin use no load signals */
        tls_table_free(sc->tls);
        if (tls_table_new(cfg, &sc->tls) < 0)
                log_err("scrapes: out of memory for the TLS upstreams' settings");
}

int scrape_new(int epfd, const struct sy_config *cfg, struct scrape **ret) {
        struct scrape *sc = calloc(1, sizeof *sc);

        if (!sc)
                return -ENOMEM;
        sc->epfd = epfd;
        for (unsigned i = 0; i < SNAP_MAX_UPSTREAMS; i++)
                http_client_init(&sc->t[i].g, SCRAPE_HEAD_MAX, SCRAPE_BODY_MAX);
        configure(sc, cfg);
        *ret = sc;
        return 0;
}

static void target_close(struct scrape *sc, struct target *t) {
        http_client_close(&t->g, sc->epfd);
}

void scrape_free(struct scrape *sc) {
        if (!sc)
                return;
        for (unsigned i = 0; i < SNAP_MAX_UPSTREAMS; i++)
                http_client_free(&sc->t[i].g, sc->epfd);
        tls_table_free(sc->tls);
        free(sc);
}

bool scrape_owns(const struct scrape *sc, const void *ptr) {
        return ptr >= (const void *)&sc->t[0] && ptr < (const void *)&sc->t[SNAP_MAX_UPSTREAMS];
}

void scrape_rebind(struct scrape *sc, const struct sy_config *cfg, const struct snapshot *old,
                   const struct snapshot *s) {
        configure(sc, cfg);
        for (unsigned i = 0; i < SNAP_MAX_UPSTREAMS; i++) {
                /* the same server at the same address in the slot: its scrape
                 * (an open one too) and its schedule go on */
                if (sc->interval_ns && i < s->n_upstreams && i < old->n_upstreams &&
                    s->upstreams[i].kind == SY_UPSTREAM_SERVER && old->upstreams[i].kind == SY_UPSTREAM_SERVER &&
                    snapshot_same_upstream(&old->upstreams[i], &s->upstreams[i]))
                        continue;
                target_close(sc, &sc->t[i]);
                sc->t[i].next_ns = 0;
        }
}

static void fail(struct scrape *sc, struct target *t, struct picker *pk, unsigned u, bool unsupported, bool refused) {
        target_close(sc, t);
        picker_scrape_failed(pk, u, unsupported, refused);
}

static void start(struct scrape *sc, struct target *t, const struct snap_upstream *up, struct picker *pk, unsigned u,
                  uint64_t now) {
        const struct tls_upstream *tu = tls_table_find(sc->tls, up->name);
        char req[HTTP_CLIENT_REQ_MAX];
        int n = snprintf(req, sizeof req,
                         "GET /metrics HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: switchyard-router\r\n"
                         "%sAccept: text/plain\r\nConnection: close\r\n\r\n",
                         up->host, up->port, tu ? tu->headers : "");
        enum http_client_result r;

        t->next_ns = now + sc->interval_ns;
        t->deadline_ns = now + sc->timeout_ns;
        t->sent_ns = now;
        picker_scrape_begin(pk, u);
        r = http_client_start_tls(&t->g, sc->epfd, &up->addr, req, n < (int)sizeof req ? (size_t)n : sizeof req + 1, t,
                                  tu);
        if (r == HTTP_CLIENT_CONNECT_FAILED || r == HTTP_CLIENT_TLS_FAILED)
                picker_scrape_failed(pk, u, false, t->g.err == ECONNREFUSED);
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

                if (t->g.state != HTTP_CLIENT_IDLE && now >= t->deadline_ns)
                        fail(sc, t, pk, i, false, false);
                if (t->g.state == HTTP_CLIENT_IDLE && now >= t->next_ns) {
                        if (up->kind != SY_UPSTREAM_SERVER || !up->resolved)
                                t->next_ns = now + sc->interval_ns;
                        else
                                start(sc, t, up, pk, i, now);
                }
                if (t->g.state != HTTP_CLIENT_IDLE && t->deadline_ns < next)
                        next = t->deadline_ns;
                if (t->g.state == HTTP_CLIENT_IDLE && t->next_ns < next)
                        next = t->next_ns;
        }
        return next > now ? (int)((next - now + 999999) / 1000000) : 0;
}

static void finish(struct scrape *sc, struct target *t, struct picker *pk, unsigned u, bool *updated) {
        struct upstream_load l;
        const char *body;
        size_t len;

        if (t->g.status == 404 || t->g.status == 405 || t->g.status == 501) {
                fail(sc, t, pk, u, true, false);
                return;
        }
        if (t->g.status != 200) {
                fail(sc, t, pk, u, false, false);
                return;
        }
        body = http_client_body(&t->g, &len);
        if (metrics_parse(body, len, &l) < 0) {
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

        (void)now;
        if (u >= s->n_upstreams || t->g.fd < 0) {
                target_close(sc, t);
                return;
        }
        switch (http_client_event(&t->g, sc->epfd, events)) {
        case HTTP_CLIENT_MORE:
        case HTTP_CLIENT_NO_SOCKET:
                return;
        case HTTP_CLIENT_DONE:
                finish(sc, t, pk, u, updated);
                return;
        case HTTP_CLIENT_CONNECT_FAILED:
                fail(sc, t, pk, u, false, t->g.err == ECONNREFUSED);
                return;
        case HTTP_CLIENT_SEND_FAILED:
        case HTTP_CLIENT_BAD_ANSWER:
        case HTTP_CLIENT_TLS_FAILED:
                fail(sc, t, pk, u, false, false);
                return;
        }
}
