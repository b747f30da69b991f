/* Upstream discovery hub (see discovery.h).
 *
 * Each source keeps its raw endpoints (ip, port, pod name, model label)
 * under the hub's lock. The hub thread turns them into the final list of
 * upstreams (models from the config, the label, or a /v1/models probe of
 * the endpoint, cached by ip:port) and rings the eventfd when that list
 * changed. */
#include "router/discovery.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/config_edit.h"
#include "common/json.h"
#include "common/log.h"
#include "http/http_client.h"
#include "router/dns.h"
#include "router/k8s.h"

#define MAX_EPS 512
#define PROBE_RETRY_MS 2000
#define PROBE_TIMEOUT_MS 1000 /* the whole probe */
#define PROBE_HEAD_MAX 16384
#define PROBE_BODY_MAX (1u << 20)
#define PROBE_MODELS 16

struct raw_ep {
        char name[K8S_NAME];
        char ip[48];
        uint16_t port;
        char model[SY_CFG_NAME_MAX + 1];
};

struct probe { /* /v1/models of one ip:port */
        char ip[48];
        uint16_t port;
        bool ok;
        uint64_t next_ms; /* retry after a failure */
        char engine[32];
        char models[PROBE_MODELS][SY_CFG_NAME_MAX + 1];
        size_t n_models;
};

struct fin { /* one discovered upstream */
        char name[64];
        char host[48];
        uint16_t port;
        char engine[32];
        uint32_t weight;
        enum sy_upstream_kind kind;
        char models[PROBE_MODELS][SY_CFG_NAME_MAX + 1];
        size_t n_models;
};

struct source {
        struct discovery *d;
        struct sy_discovery_cfg cfg; /* strings owned by the source */
        struct k8s_client *k8s;
        pthread_t thread;
        bool have_thread;
        struct raw_ep *eps;
        size_t n_eps;
        struct dns_set dns;
        uint64_t dns_next_ms;
        char label[80]; /* first DNS label, for names */
        int last_err;
};

struct discovery {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int event_fd, stop_fd;
        pthread_t hub;
        bool have_hub, stopping, refresh, dirty;
        struct source *src;
        size_t n_src;
        struct probe *probes;
        size_t n_probes;
        struct fin *fin;
        size_t n_fin;
};

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

/* ---- /v1/models probes ------------------------------------------------------------------- */

/* The models of a /v1/models answer's body (an OpenAI list: data[].id,
 * and the first data[].owned_by that is an engine name): 0, -ENOENT (no
 * model), -EPROTO (not such a list). */
static int probe_parse(const char *body, size_t blen, struct probe *p) {
        struct json_member top[8], m;
        struct json_limits jl = { .max_depth = 32, .max_members = 8 };
        const struct json_member *data;
        size_t n = 0, off = 0, it = 0;

        if (json_scan_object(body, blen, &jl, top, &n, &off) < 0)
                return -EPROTO;
        data = json_find(top, n, "data");
        if (!data || data->type != JSON_ARRAY)
                return -EPROTO;
        p->n_models = 0;
        p->engine[0] = 0;
        while (p->n_models < PROBE_MODELS && json_iter(data->val, data->val_len, &it, &m) == 1) {
                struct json_member f;
                size_t fi = 0;
                if (m.type != JSON_OBJECT)
                        continue;
                while (json_iter(m.val, m.val_len, &fi, &f) == 1) {
                        char tmp[SY_CFG_NAME_MAX + 1];
                        int dl;
                        if (f.type != JSON_STRING)
                                continue;
                        dl = json_string_decode(f.val, f.val_len, tmp, sizeof tmp - 1);
                        if (dl < 0)
                                continue;
                        tmp[dl] = 0;
                        if (f.key_len == 2 && memcmp(f.key, "id", 2) == 0 && sy_config_name_ok(tmp))
                                snprintf(p->models[p->n_models++], sizeof p->models[0], "%s", tmp);
                        else if (f.key_len == 8 && memcmp(f.key, "owned_by", 8) == 0 && !p->engine[0] &&
                                 sy_config_engine_ok(tmp) && strlen(tmp) < sizeof p->engine)
                                snprintf(p->engine, sizeof p->engine, "%s", tmp);
                }
        }
        return p->n_models ? 0 : -ENOENT;
}

static int probe_once(const char *ip, uint16_t port, struct probe *p) {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
        struct http_client g;
        char req[256];
        const char *body;
        size_t blen;
        int hl, r = -EPROTO;
        enum http_client_result res;

        if (strchr(ip, ':')) {
                if (inet_pton(AF_INET6, ip, &a.sin6_addr) != 1)
                        return -EINVAL;
        } else {
                /* v4 as v4-mapped, as the router's own checks connect */
                a.sin6_addr.s6_addr[10] = a.sin6_addr.s6_addr[11] = 0xff;
                if (inet_pton(AF_INET, ip, &a.sin6_addr.s6_addr[12]) != 1)
                        return -EINVAL;
        }
        hl = snprintf(req, sizeof req,
                      "GET /v1/models HTTP/1.1\r\nHost: %s%s%s:%u\r\nAccept: application/json\r\n"
                      "User-Agent: switchyard-discovery\r\nConnection: close\r\n\r\n",
                      strchr(ip, ':') ? "[" : "", ip, strchr(ip, ':') ? "]" : "", port);
        if (hl < 0 || (size_t)hl >= sizeof req)
                return -ENAMETOOLONG;
        http_client_init(&g, PROBE_HEAD_MAX, PROBE_BODY_MAX);
        res = http_client_fetch(&g, &a, req, (size_t)hl, PROBE_TIMEOUT_MS);
        if (res == HTTP_CLIENT_CONNECT_FAILED) {
                r = -(g.err ? g.err : ECONNREFUSED);
                goto out;
        }
        if (res != HTTP_CLIENT_DONE || g.status != 200)
                goto out;
        body = http_client_body(&g, &blen);
        r = probe_parse(body, blen, p);
out:
        http_client_free(&g, -1);
        return r;
}

static struct probe *probe_find(struct discovery *d, const char *ip, uint16_t port) {
        for (size_t i = 0; i < d->n_probes; i++)
                if (d->probes[i].port == port && strcmp(d->probes[i].ip, ip) == 0)
                        return &d->probes[i];
        return NULL;
}

/* ---- the final list ---------------------------------------------------------------------- */

static void make_name(char *out, const char *prefix, const char *mid, const char *ip, uint16_t port) {
        char tail[64], whole[256];
        int tl = snprintf(tail, sizeof tail, strchr(ip, ':') ? "/[%s]:%u" : "/%s:%u", ip, port);
        int room = 63 - (int)strlen(prefix) - tl;

        if (room < 1)
                room = 1;
        snprintf(whole, sizeof whole, "%s%.*s%s", prefix, room, mid, tail);
        snprintf(out, 64, "%.63s", whole);
}

static bool fin_equal(const struct fin *a, size_t na, const struct fin *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++) {
                if (strcmp(a[i].name, b[i].name) || strcmp(a[i].host, b[i].host) || a[i].port != b[i].port ||
                    strcmp(a[i].engine, b[i].engine) || a[i].weight != b[i].weight || a[i].kind != b[i].kind ||
                    a[i].n_models != b[i].n_models)
                        return false;
                for (size_t k = 0; k < a[i].n_models; k++)
                        if (strcmp(a[i].models[k], b[i].models[k]))
                                return false;
        }
        return true;
}

/* Under the lock. Returns true when probes are still wanted. */
static bool rebuild(struct discovery *d, uint64_t now, bool *ret_probe_due) {
        struct fin *out = calloc(MAX_EPS, sizeof *out);
        size_t n = 0;
        bool pending = false;

        *ret_probe_due = false;
        if (!out)
                return false;
        for (size_t s = 0; s < d->n_src; s++) {
                struct source *src = &d->src[s];
                const struct sy_discovery_cfg *c = &src->cfg;

                for (size_t i = 0; i < src->n_eps && n < MAX_EPS; i++) {
                        const struct raw_ep *e = &src->eps[i];
                        struct fin *f = &out[n];
                        bool dup = false;

                        memset(f, 0, sizeof *f);
                        if (c->kind == SY_DISC_KUBERNETES)
                                make_name(f->name, "k8s/", e->name, e->ip, e->port);
                        else
                                make_name(f->name, "dns/", src->label, e->ip, e->port);
                        for (size_t j = 0; j < n && !dup; j++)
                                dup = strcmp(out[j].name, f->name) == 0;
                        if (dup)
                                continue;
                        snprintf(f->host, sizeof f->host, "%s", e->ip);
                        f->port = e->port;
                        f->weight = c->weight;
                        f->kind = c->upstream_kind;
                        snprintf(f->engine, sizeof f->engine, "%s", c->engine ? c->engine : "vllm");
                        for (size_t k = 0; k < c->n_models && f->n_models < PROBE_MODELS; k++)
                                snprintf(f->models[f->n_models++], sizeof f->models[0], "%s", c->models[k]);
                        if (e->model[0] && f->n_models < PROBE_MODELS && sy_config_name_ok(e->model))
                                snprintf(f->models[f->n_models++], sizeof f->models[0], "%s", e->model);
                        if (c->models_from_v1) {
                                struct probe *p = probe_find(d, e->ip, e->port);
                                if (!p || !p->ok) {
                                        pending = true;
                                        if (!p || p->next_ms <= now)
                                                *ret_probe_due = true;
                                } else {
                                        for (size_t k = 0; k < p->n_models && f->n_models < PROBE_MODELS; k++)
                                                snprintf(f->models[f->n_models++], sizeof f->models[0], "%s",
                                                         p->models[k]);
                                        if (!c->engine && p->engine[0])
                                                snprintf(f->engine, sizeof f->engine, "%s", p->engine);
                                }
                        }
                        if (f->n_models == 0)
                                continue; /* not routable (yet) */
                        n++;
                }
        }
        if (!fin_equal(out, n, d->fin, d->n_fin)) {
                uint64_t one = 1;
                free(d->fin);
                d->fin = out;
                d->n_fin = n;
                if (write(d->event_fd, &one, sizeof one) < 0) {
                        /* already signalled */
                }
                log_info("discovery: %zu upstreams discovered", n);
        } else {
                free(out);
        }
        return pending;
}

/* Probes the endpoints that need it (lock dropped around each probe). */
static void run_probes(struct discovery *d) {
        for (;;) {
                char ip[48] = "";
                uint16_t port = 0;
                uint64_t now = now_ms();
                struct probe tmp = { 0 }, *p;
                int r;

                for (size_t s = 0; s < d->n_src && !port; s++) {
                        if (!d->src[s].cfg.models_from_v1)
                                continue;
                        for (size_t i = 0; i < d->src[s].n_eps && !port; i++) {
                                struct raw_ep *e = &d->src[s].eps[i];
                                p = probe_find(d, e->ip, e->port);
                                if (!p || (!p->ok && p->next_ms <= now)) {
                                        snprintf(ip, sizeof ip, "%s", e->ip);
                                        port = e->port;
                                }
                        }
                }
                if (!port || d->stopping)
                        return;
                pthread_mutex_unlock(&d->lock);
                r = probe_once(ip, port, &tmp);
                pthread_mutex_lock(&d->lock);
                p = probe_find(d, ip, port);
                if (!p) {
                        struct probe *v = realloc(d->probes, (d->n_probes + 1) * sizeof *v);
                        if (!v)
                                return;
                        d->probes = v;
                        p = &v[d->n_probes++];
                }
                tmp.ok = r == 0;
                snprintf(tmp.ip, sizeof tmp.ip, "%s", ip);
                tmp.port = port;
                tmp.next_ms = now_ms() + PROBE_RETRY_MS;
                *p = tmp;
                if (r < 0)
                        log_info("discovery: %s:%u/v1/models: %s (retrying)", ip, port, strerror(-r));
        }
}

static void *hub_main(void *arg) {
        struct discovery *d = arg;

        pthread_mutex_lock(&d->lock);
        while (!d->stopping) {
                uint64_t now = now_ms(), next = now + 60000;
                bool refresh = d->refresh, probe_due = false, pending;
                struct timespec ts;

                d->refresh = false;
                for (size_t s = 0; s < d->n_src; s++) {
                        struct source *src = &d->src[s];
                        int r;

                        if (src->cfg.kind != SY_DISC_DNS)
                                continue;
                        if (refresh || src->dns_next_ms <= now) {
                                char name[256];
                                snprintf(name, sizeof name, "%s", src->cfg.dns_name);
                                pthread_mutex_unlock(&d->lock);
                                r = dns_refresh(&src->dns, name, dns_getaddrinfo, NULL);
                                pthread_mutex_lock(&d->lock);
                                src->last_err = r < 0 ? r : 0;
                                if (r == 1) {
                                        struct raw_ep *v = calloc(src->dns.n ? src->dns.n : 1, sizeof *v);
                                        if (v) {
                                                for (size_t i = 0; i < src->dns.n; i++) {
                                                        snprintf(v[i].ip, sizeof v[i].ip, "%s", src->dns.ips[i]);
                                                        v[i].port = src->cfg.port;
                                                }
                                                free(src->eps);
                                                src->eps = v;
                                                src->n_eps = src->dns.n;
                                        }
                                } else if (r < 0) {
                                        log_warn("discovery: cannot resolve %s now (%s); keeping %zu addresses", name,
                                                 strerror(-r), src->n_eps);
                                }
                                now = now_ms();
                                src->dns_next_ms = now + src->cfg.interval_ms;
                        }
                        if (src->dns_next_ms < next)
                                next = src->dns_next_ms;
                }
                if (refresh)
                        for (size_t i = 0; i < d->n_probes; i++)
                                if (!d->probes[i].ok)
                                        d->probes[i].next_ms = 0;
                d->dirty = false;
                pending = rebuild(d, now, &probe_due);
                if (probe_due) {
                        run_probes(d);
                        continue; /* rebuild with the answers */
                }
                if (pending && now + PROBE_RETRY_MS < next)
                        next = now + PROBE_RETRY_MS;
                if (d->dirty || d->refresh || d->stopping)
                        continue;
                clock_gettime(CLOCK_REALTIME, &ts);
                {
                        uint64_t wait = next > now ? next - now : 0;
                        ts.tv_sec += (time_t)(wait / 1000);
                        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
                        if (ts.tv_nsec >= 1000000000L) {
                                ts.tv_sec++;
                                ts.tv_nsec -= 1000000000L;
                        }
                }
                pthread_cond_timedwait(&d->cond, &d->lock, &ts);
        }
        pthread_mutex_unlock(&d->lock);
        return NULL;
}

/* ---- kubernetes sources ------------------------------------------------------------------ */

static void on_k8s(void *arg, const struct k8s_endpoint *eps, size_t n) {
        struct source *src = arg;
        struct discovery *d = src->d;
        struct raw_ep *v = calloc(n ? n : 1, sizeof *v);

        if (!v)
                return;
        for (size_t i = 0; i < n; i++) {
                snprintf(v[i].name, sizeof v[i].name, "%s", eps[i].name);
                snprintf(v[i].ip, sizeof v[i].ip, "%s", eps[i].ip);
                v[i].port = eps[i].port;
                snprintf(v[i].model, sizeof v[i].model, "%s", eps[i].model);
        }
        pthread_mutex_lock(&d->lock);
        free(src->eps);
        src->eps = v;
        src->n_eps = n;
        d->dirty = true;
        pthread_cond_signal(&d->cond);
        pthread_mutex_unlock(&d->lock);
}

static void *k8s_main(void *arg) {
        struct source *src = arg;
        k8s_client_run(src->k8s, src->d->stop_fd);
        return NULL;
}

/* ---- setup ------------------------------------------------------------------------------- */

static int copy_cfg(struct sy_discovery_cfg *dst, const struct sy_discovery_cfg *s) {
        *dst = *s;
        dst->engine = dup_or_null(s->engine);
        dst->model_label = dup_or_null(s->model_label);
        dst->namespace_ = dup_or_null(s->namespace_);
        dst->label_selector = dup_or_null(s->label_selector);
        dst->port_name = dup_or_null(s->port_name);
        dst->api_server = dup_or_null(s->api_server);
        dst->token_file = dup_or_null(s->token_file);
        dst->ca_file = dup_or_null(s->ca_file);
        dst->dns_name = dup_or_null(s->dns_name);
        dst->models = calloc(s->n_models ? s->n_models : 1, sizeof *dst->models);
        if (!dst->models)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_models; i++)
                if (!(dst->models[i] = strdup(s->models[i])))
                        return -ENOMEM;
        return 0;
}

static void free_cfg(struct sy_discovery_cfg *c) {
        free(c->engine);
        free(c->model_label);
        free(c->namespace_);
        free(c->label_selector);
        free(c->port_name);
        free(c->api_server);
        free(c->token_file);
        free(c->ca_file);
        free(c->dns_name);
        for (size_t i = 0; c->models && i < c->n_models; i++)
                free(c->models[i]);
        free(c->models);
}

int discovery_new(const struct sy_config *cfg, struct discovery **ret, char *err, size_t errlen) {
        struct discovery *d = calloc(1, sizeof *d);
        int r = -ENOMEM;

        err_clear(err, errlen);
        if (!d)
                return -ENOMEM;
        pthread_mutex_init(&d->lock, NULL);
        pthread_cond_init(&d->cond, NULL);
        d->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        d->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        d->src = calloc(cfg->n_discovery ? cfg->n_discovery : 1, sizeof *d->src);
        if (d->event_fd < 0 || d->stop_fd < 0 || !d->src)
                goto fail;
        for (size_t i = 0; i < cfg->n_discovery; i++) {
                struct source *src = &d->src[d->n_src++];
                src->d = d;
                r = copy_cfg(&src->cfg, &cfg->discovery[i]);
                if (r < 0)
                        goto fail;
                if (src->cfg.kind == SY_DISC_DNS) {
                        snprintf(src->label, sizeof src->label, "%.*s", (int)strcspn(src->cfg.dns_name, "."),
                                 src->cfg.dns_name);
                        continue;
                }
                struct k8s_opts o = {
                        .api_server = src->cfg.api_server,
                        .token_file = src->cfg.token_file,
                        .ca_file = src->cfg.ca_file,
                        .namespace_ = src->cfg.namespace_,
                        .label_selector = src->cfg.label_selector,
                        .resource = src->cfg.resource,
                        .port_name = src->cfg.port_name,
                        .port = src->cfg.port,
                        .model_label = src->cfg.model_label,
                };
                char e2[256];
                r = k8s_client_new(&o, on_k8s, src, &src->k8s, e2, sizeof e2);
                if (r < 0) {
                        snprintf(err, errlen, "discovery[%zu] (line %u): %s", i, src->cfg.line, e2);
                        goto fail;
                }
        }
        for (size_t i = 0; i < d->n_src; i++)
                if (d->src[i].k8s) {
                        if (pthread_create(&d->src[i].thread, NULL, k8s_main, &d->src[i]) != 0)
                                goto fail;
                        d->src[i].have_thread = true;
                }
        if (d->n_src) {
                if (pthread_create(&d->hub, NULL, hub_main, d) != 0)
                        goto fail;
                d->have_hub = true;
        }
        *ret = d;
        return 0;
fail:
        err_oom(r, err, errlen, "discovery: ");
        discovery_free(d);
        return r < 0 ? r : -ENOMEM;
}

void discovery_free(struct discovery *d) {
        uint64_t one = 1;

        if (!d)
                return;
        pthread_mutex_lock(&d->lock);
        d->stopping = true;
        pthread_cond_broadcast(&d->cond);
        pthread_mutex_unlock(&d->lock);
        if (d->stop_fd >= 0 && write(d->stop_fd, &one, sizeof one) < 0) {
                /* set already */
        }
        for (size_t i = 0; i < d->n_src; i++)
                if (d->src[i].have_thread)
                        pthread_join(d->src[i].thread, NULL);
        if (d->have_hub)
                pthread_join(d->hub, NULL);
        for (size_t i = 0; i < d->n_src; i++) {
                k8s_client_free(d->src[i].k8s);
                free(d->src[i].eps);
                free_cfg(&d->src[i].cfg);
        }
        free(d->src);
        free(d->probes);
        free(d->fin);
        if (d->event_fd >= 0)
                close(d->event_fd);
        if (d->stop_fd >= 0)
                close(d->stop_fd);
        pthread_cond_destroy(&d->cond);
        pthread_mutex_destroy(&d->lock);
        free(d);
}

int discovery_fd(const struct discovery *d) {
        return d->event_fd;
}

int discovery_merge(struct discovery *d, struct sy_config *cfg) {
        uint64_t v;
        int added = 0;

        if (read(d->event_fd, &v, sizeof v) < 0) {
                /* not signalled: merge anyway */
        }
        pthread_mutex_lock(&d->lock);
        for (size_t i = 0; i < d->n_fin; i++) {
                const struct fin *f = &d->fin[i];
                const char *models[PROBE_MODELS];
                struct sy_upstream_spec spec = {
                        .name = f->name,
                        .host = f->host,
                        .port = f->port,
                        .engine = f->engine,
                        .models = models,
                        .n_models = f->n_models,
                        .weight = f->weight,
                        .kind = f->kind,
                };
                int r;

                for (size_t k = 0; k < f->n_models; k++)
                        models[k] = f->models[k];
                r = sy_config_add_upstream(cfg, &spec);
                if (r == 0)
                        added++;
                else
                        log_warn("discovery: upstream %s not added: %s", f->name,
                                 r == -EEXIST ? "the name is taken" : strerror(-r));
        }
        pthread_mutex_unlock(&d->lock);
        return added;
}

void discovery_refresh(struct discovery *d) {
        for (size_t i = 0; i < d->n_src; i++)
                if (d->src[i].k8s)
                        k8s_client_relist(d->src[i].k8s);
        pthread_mutex_lock(&d->lock);
        d->refresh = true;
        pthread_cond_signal(&d->cond);
        pthread_mutex_unlock(&d->lock);
}

static bool str_eq(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool discovery_same_sources(const struct sy_config *a, const struct sy_config *b) {
        if (a->n_discovery != b->n_discovery)
                return false;
        for (size_t i = 0; i < a->n_discovery; i++) {
                const struct sy_discovery_cfg *x = &a->discovery[i], *y = &b->discovery[i];
                if (x->kind != y->kind || x->models_from_v1 != y->models_from_v1 || x->weight != y->weight ||
                    x->upstream_kind != y->upstream_kind || x->resource != y->resource || x->port != y->port ||
                    x->interval_ms != y->interval_ms || x->n_models != y->n_models || !str_eq(x->engine, y->engine) ||
                    !str_eq(x->model_label, y->model_label) || !str_eq(x->namespace_, y->namespace_) ||
                    !str_eq(x->label_selector, y->label_selector) || !str_eq(x->port_name, y->port_name) ||
                    !str_eq(x->api_server, y->api_server) || !str_eq(x->token_file, y->token_file) ||
                    !str_eq(x->ca_file, y->ca_file) || !str_eq(x->dns_name, y->dns_name))
                        return false;
                for (size_t k = 0; k < x->n_models; k++)
                        if (strcmp(x->models[k], y->models[k]))
                                return false;
        }
        return true;
}

int discovery_status_json(struct discovery *d, struct buf *o) {
        int r = buf_printf(o, "[");

        for (size_t i = 0; r >= 0 && i < d->n_src; i++) {
                struct source *s = &d->src[i];
                if (s->k8s) {
                        struct k8s_stats st;
                        char e[1000];
                        int el;
                        k8s_client_get_stats(s->k8s, &st);
                        el = json_string_encode(st.last_error, strlen(st.last_error), e, sizeof e - 1);
                        if (el < 0)
                                snprintf(e, sizeof e, "\"\"");
                        else
                                e[el] = 0; /* the encoder does not terminate */
                        pthread_mutex_lock(&d->lock);
                        r = buf_printf(o,
                                       "%s{\"kind\":\"kubernetes\",\"endpoints\":%zu,\"lists\":%llu,\"watches\":%llu,"
                                       "\"events\":%llu,\"expired\":%llu,\"failures\":%llu,\"resource_version\":\"%s\","
                                       "\"last_error\":%s}",
                                       i ? "," : "", s->n_eps, (unsigned long long)st.lists,
                                       (unsigned long long)st.watches, (unsigned long long)st.events,
                                       (unsigned long long)st.expired, (unsigned long long)st.failures,
                                       st.resource_version, e);
                        pthread_mutex_unlock(&d->lock);
                } else {
                        pthread_mutex_lock(&d->lock);
                        r = buf_printf(
                                o, "%s{\"kind\":\"dns\",\"name\":\"%s\",\"endpoints\":%zu,\"last_error\":\"%s\"}",
                                i ? "," : "", s->cfg.dns_name, s->n_eps, s->last_err ? strerror(-s->last_err) : "");
                        pthread_mutex_unlock(&d->lock);
                }
        }
        if (r >= 0)
                r = buf_printf(o, "]");
        return r < 0 ? r : 0;
}
