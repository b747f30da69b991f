/* The router's admin API (see admin.h): the listener and its connections
 * on the router's epoll loop, the admin overlay (changes to the
 * configuration) and its state file. */
#include "router/admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config_edit.h"
#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "common/secret.h"
#include "http/http_listen.h"
#include "http/http_parse.h"
#include "http/url.h"
#include "shm/segment.h"

#define REQ_MAX (64u << 10)
#define STATE_MAX (4u << 20)
#define MAX_ITEMS 1024

struct a_route {
        char *model, *owned_by, *upstream; /* owned_by, upstream may be NULL (delete: any) */
};

struct aconn {
        int fd;
        bool used;
        size_t len;
        char *in; /* REQ_MAX + head room */
        struct buf out;
        size_t out_off;
};

struct admin {
        int epfd, lfd;
        char *token;
        size_t token_len;
        char *state_file;
        struct admin_ops ops;
        struct aconn conns[ADMIN_MAX_CONNS];
        /* the overlay */
        struct sy_upstream_cfg *ups; /* upstreams added through the API */
        size_t n_ups;
        char **removed; /* upstream names (file or discovered) */
        size_t n_removed;
        struct a_route *routes; /* added */
        size_t n_routes;
        struct a_route *unroutes; /* removed */
        size_t n_unroutes;
};

/* ---- the overlay ------------------------------------------------------------------------- */

static void route_free(struct a_route *r) {
        free(r->model);
        free(r->owned_by);
        free(r->upstream);
        r->model = r->owned_by = r->upstream = NULL; /* post_route frees what parse_route_obj left */
}

static bool same(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int admin_overlay(struct admin *a, struct sy_config *cfg) {
        for (size_t i = 0; i < a->n_removed; i++)
                if (sy_config_remove_upstream(cfg, a->removed[i]) < 0)
                        log_info("admin: removed upstream %s is not there", a->removed[i]);
        for (size_t i = 0; i < a->n_ups; i++) {
                struct sy_upstream_cfg *u = &a->ups[i];
                struct sy_upstream_spec spec = {
                        .name = u->name,
                        .host = u->host,
                        .port = u->port,
                        .engine = u->engine,
                        .models = (const char *const *)u->models,
                        .n_models = u->n_models,
                        .weight = u->weight,
                        .kind = u->kind,
                };
                int r = sy_config_add_upstream(cfg, &spec);
                if (r < 0)
                        log_warn("admin: upstream %s not added: %s", u->name,
                                 r == -EEXIST ? "the name is taken (by the file or discovery)" : strerror(-r));
        }
        for (size_t i = 0; i < a->n_unroutes; i++)
                sy_config_remove_route(cfg, a->unroutes[i].model, a->unroutes[i].owned_by, a->unroutes[i].upstream);
        for (size_t i = 0; i < a->n_routes; i++) {
                int r = sy_config_add_route(cfg, a->routes[i].model, a->routes[i].owned_by, a->routes[i].upstream);
                if (r < 0)
                        log_warn("admin: route %s -> %s not applied: %s", a->routes[i].model, a->routes[i].upstream,
                                 r == -ENOENT ? "no such upstream" : strerror(-r));
        }
        return 0;
}

static int push(void **arr, size_t *n, size_t size, const void *item) {
        void *v;

        if (*n >= MAX_ITEMS)
                return -E2BIG;
        v = realloc(*arr, (*n + 1) * size);
        if (!v)
                return -ENOMEM;
        memcpy((char *)v + *n * size, item, size);
        *arr = v;
        (*n)++;
        return 0;
}

/* ---- JSON helpers ------------------------------------------------------------------------ */

static int jenc(struct buf *o, const char *s) {
        size_t n = s ? strlen(s) : 0;
        char *tmp = malloc(n * 6 + 3);
        int r;

        if (!tmp)
                return -ENOMEM;
        r = json_string_encode(s ? s : "", n, tmp, n * 6 + 3);
        if (r >= 0)
                r = buf_append(o, tmp, (size_t)r);
        free(tmp);
        return r < 0 ? r : 0;
}

/* A decoded string member (malloc'd) or NULL; *bad set when present but not a string. */
static char *jstr_dup(const struct json_member *m, size_t n, const char *key, bool *bad) {
        const struct json_member *f = json_find(m, n, key);
        char *s;
        int k;

        if (!f || f->type == JSON_NULL)
                return NULL;
        if (f->type != JSON_STRING || f->val_len > 4096) {
                *bad = true;
                return NULL;
        }
        s = malloc(f->val_len + 1);
        if (!s)
                return NULL;
        k = json_string_decode(f->val, f->val_len, s, f->val_len);
        if (k < 0 || memchr(s, 0, (size_t)k)) {
                free(s);
                *bad = true;
                return NULL;
        }
        s[k] = 0;
        return s;
}

/* ---- the state file ---------------------------------------------------------------------- */

static int state_json(struct admin *a, struct buf *o) {
        buf_printf(o, "{\"upstreams\":[");
        for (size_t i = 0; i < a->n_ups; i++) {
                struct sy_upstream_cfg *u = &a->ups[i];
                char url[320];
                snprintf(url, sizeof url, strchr(u->host, ':') ? "%s://[%s]:%u" : "%s://%s:%u",
                         u->tls ? "https" : "http", u->host, u->port);
                buf_printf(o, "%s{\"name\":", i ? "," : "");
                jenc(o, u->name);
                buf_printf(o, ",\"url\":");
                jenc(o, url);
                buf_printf(o, ",\"engine\":");
                jenc(o, u->engine);
                buf_printf(o, ",\"kind\":\"%s\",\"weight\":%u,\"models\":[",
                           u->kind == SY_UPSTREAM_GATEWAY ? "gateway" : "server", u->weight);
                for (size_t k = 0; k < u->n_models; k++) {
                        if (k)
                                buf_append(o, ",", 1);
                        jenc(o, u->models[k]);
                }
                buf_printf(o, "]}");
        }
        buf_printf(o, "],\"removed_upstreams\":[");
        for (size_t i = 0; i < a->n_removed; i++) {
                if (i)
                        buf_append(o, ",", 1);
                jenc(o, a->removed[i]);
        }
        for (int pass = 0; pass < 2; pass++) {
                struct a_route *v = pass ? a->unroutes : a->routes;
                size_t n = pass ? a->n_unroutes : a->n_routes;
                buf_printf(o, "],\"%s\":[", pass ? "removed_routes" : "routes");
                for (size_t i = 0; i < n; i++) {
                        buf_printf(o, "%s{\"model\":", i ? "," : "");
                        jenc(o, v[i].model);
                        if (v[i].owned_by) {
                                buf_printf(o, ",\"owned_by\":");
                                jenc(o, v[i].owned_by);
                        }
                        if (v[i].upstream) {
                                buf_printf(o, ",\"upstream\":");
                                jenc(o, v[i].upstream);
                        }
                        buf_printf(o, "}");
                }
        }
        return buf_printf(o, "]}\n") < 0 ? -ENOMEM : 0;
}

static int save_state(struct admin *a) {
        struct buf o = { 0 };
        char tmp[4200];
        int fd, r;

        if (!a->state_file)
                return 0;
        r = state_json(a, &o);
        snprintf(tmp, sizeof tmp, "%s.tmp", a->state_file);
        fd = r < 0 ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
                r = r < 0 ? r : -errno;
                goto out;
        }
        if (write(fd, o.p, o.len) != (ssize_t)o.len || fsync(fd) < 0) {
                r = -errno ? -errno : -EIO;
                close(fd);
                unlink(tmp);
                goto out;
        }
        close(fd);
        r = rename(tmp, a->state_file) < 0 ? -errno : 0;
out:
        if (r < 0)
                log_err("admin: cannot write the state file %s: %s", a->state_file, strerror(-r));
        buf_free(&o);
        return r;
}

static int parse_up(const char *val, size_t len, struct sy_upstream_cfg *u, char *err, size_t errlen);

static int parse_route_obj(const char *val, size_t len, struct a_route *rt) {
        struct json_member m[8];
        struct json_limits lim = { .max_depth = 8, .max_members = 8 };
        size_t n = 0, off = 0;
        bool bad = false;

        memset(rt, 0, sizeof *rt);
        if (json_scan_object(val, len, &lim, m, &n, &off) < 0)
                return -EBADMSG;
        rt->model = jstr_dup(m, n, "model", &bad);
        rt->owned_by = jstr_dup(m, n, "owned_by", &bad);
        rt->upstream = jstr_dup(m, n, "upstream", &bad);
        if (bad || !rt->model) {
                route_free(rt);
                return -EBADMSG;
        }
        return 0;
}

static int load_state(struct admin *a, char *err, size_t errlen) {
        char *buf = NULL;
        size_t len = 0, n = 0, off = 0, it;
        struct json_member top[8], m;
        struct json_limits lim = { .max_depth = 16, .max_members = 8 };
        const struct json_member *f;
        int r = sy_read_file(a->state_file, STATE_MAX, &buf, &len);

        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                snprintf(err, errlen, "admin.state_file %s: %s", a->state_file, strerror(-r));
                return r;
        }
        r = -EBADMSG;
        if (json_scan_object(buf, len, &lim, top, &n, &off) < 0)
                goto bad;
        if ((f = json_find(top, n, "upstreams")) && f->type == JSON_ARRAY) {
                it = 0;
                while (json_iter(f->val, f->val_len, &it, &m) == 1) {
                        struct sy_upstream_cfg u;
                        char e[128];
                        if (parse_up(m.val, m.val_len, &u, e, sizeof e) < 0)
                                goto bad;
                        if (push((void **)&a->ups, &a->n_ups, sizeof u, &u) < 0) {
                                sy_config_upstream_free(&u);
                                goto bad;
                        }
                }
        }
        if ((f = json_find(top, n, "removed_upstreams")) && f->type == JSON_ARRAY) {
                it = 0;
                while (json_iter(f->val, f->val_len, &it, &m) == 1) {
                        char *s = malloc(m.val_len + 1);
                        int k = s && m.type == JSON_STRING ? json_string_decode(m.val, m.val_len, s, m.val_len) : -1;
                        if (k < 0) {
                                free(s);
                                goto bad;
                        }
                        s[k] = 0;
                        if (push((void **)&a->removed, &a->n_removed, sizeof s, &s) < 0) {
                                free(s);
                                goto bad;
                        }
                }
        }
        for (int pass = 0; pass < 2; pass++) {
                if (!(f = json_find(top, n, pass ? "removed_routes" : "routes")) || f->type != JSON_ARRAY)
                        continue;
                it = 0;
                while (json_iter(f->val, f->val_len, &it, &m) == 1) {
                        struct a_route rt;
                        if (parse_route_obj(m.val, m.val_len, &rt) < 0)
                                goto bad;
                        if (push(pass ? (void **)&a->unroutes : (void **)&a->routes,
                                 pass ? &a->n_unroutes : &a->n_routes, sizeof rt, &rt) < 0) {
                                route_free(&rt);
                                goto bad;
                        }
                }
        }
        free(buf);
        log_notice("admin: %zu upstreams, %zu removals, %zu routes, %zu route removals from %s", a->n_ups, a->n_removed,
                   a->n_routes, a->n_unroutes, a->state_file);
        return 0;
bad:
        free(buf);
        snprintf(err, errlen, "admin.state_file %s: not a valid state file (fix or remove it)", a->state_file);
        return r;
}

/* ---- requests ---------------------------------------------------------------------------- */

static void reply(struct aconn *c, int status, const struct buf *body) {
        buf_printf(&c->out,
                   "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                   "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                   status, http_reason_phrase(status), body ? body->len : 0);
        if (body && body->len)
                buf_append(&c->out, body->p, body->len);
}

static void reply_error(struct aconn *c, int status, const char *code, const char *msg) {
        struct buf b = { 0 };
        const char *type = status == 401   ? "authentication_error"
                           : status >= 500 ? "server_error"
                                           : "invalid_request_error";

        buf_printf(&b, "{\"error\":{\"message\":");
        jenc(&b, msg);
        buf_printf(&b, ",\"type\":\"%s\",\"param\":null,\"code\":\"%s\"}}\n", type, code);
        reply(c, status, &b);
        buf_free(&b);
}

static bool token_ok(struct admin *a, const struct http_header *h) {
        if (!h || h->value_len < 7 || strncasecmp(h->value, "Bearer ", 7) != 0)
                return false;
        /* digests compared in constant time: neither a right prefix nor the length answers sooner */
        return sy_secret_equal(h->value + 7, h->value_len - 7, a->token, a->token_len);
}

static const char *kind_name(enum sy_upstream_kind k) {
        return k == SY_UPSTREAM_GATEWAY ? "gateway" : "server";
}

static const char *source_of(struct admin *a, const char *name) {
        for (size_t i = 0; i < a->n_ups; i++)
                if (strcmp(a->ups[i].name, name) == 0)
                        return "admin";
        if (strncmp(name, "k8s/", 4) == 0 || strncmp(name, "dns/", 4) == 0)
                return "discovery";
        return "file";
}

static void get_upstreams(struct admin *a, struct aconn *c) {
        const struct sy_config *cfg = a->ops.config(a->ops.arg);
        const struct snapshot *s = a->ops.snapshot(a->ops.arg);
        struct buf b = { 0 };

        buf_printf(&b, "{\"object\":\"list\",\"data\":[");
        for (uint32_t u = 0, first = 1; u < s->n_upstreams; u++) {
                const struct snap_upstream *su = &s->upstreams[u];
                const struct sy_upstream_cfg *uc = sy_config_find_upstream(cfg, su->name);
                struct picker_upstream_info pi;
                const char *why;
                bool have;
                char url[320];

                if (su->removed)
                        continue; /* a removed upstream's slot (proto/snapshot.h) */
                have = a->ops.info && a->ops.info(a->ops.arg, u, &pi) == 0;
                snprintf(url, sizeof url, strchr(su->host, ':') ? "%s://[%s]:%u" : "%s://%s:%u",
                         uc && uc->tls ? "https" : "http", su->host, su->port);
                buf_printf(&b, "%s{\"name\":", first ? "" : ",");
                first = 0;
                jenc(&b, su->name);
                buf_printf(&b, ",\"url\":");
                jenc(&b, url);
                buf_printf(&b, ",\"engine\":");
                jenc(&b, su->engine);
                buf_printf(&b,
                           ",\"kind\":\"%s\",\"source\":\"%s\",\"weight\":%u,\"healthy\":%s,\"resolved\":%s,"
                           "\"models\":[",
                           kind_name((enum sy_upstream_kind)su->kind), source_of(a, su->name), su->weight,
                           su->healthy ? "true" : "false", su->resolved ? "true" : "false");
                for (size_t k = 0; uc && k < uc->n_models; k++) {
                        if (k)
                                buf_append(&b, ",", 1);
                        jenc(&b, uc->models[k]);
                }
                buf_printf(&b, "],\"inflight\":%u", have ? pi.inflight : su->inflight);
                why = a->ops.health_reason ? a->ops.health_reason(a->ops.arg, u) : NULL;
                buf_printf(&b, ",\"health_check\":");
                if (why)
                        jenc(&b, why);
                else
                        buf_printf(&b, "\"ok\"");
                if (have) {
                        buf_printf(&b,
                                   ",\"inflight_tokens\":%llu,\"dispatched\":%llu,\"done\":%llu,"
                                   "\"saturated\":%s,\"metrics\":{\"state\":\"%s\",\"stale\":%s",
                                   (unsigned long long)pi.inflight_tokens, (unsigned long long)pi.dispatched,
                                   (unsigned long long)pi.done, pi.saturated ? "true" : "false",
                                   pi.metrics_state == PICKER_METRICS_OK            ? "ok"
                                   : pi.metrics_state == PICKER_METRICS_UNSUPPORTED ? "unsupported"
                                   : pi.metrics_state == PICKER_METRICS_OFF         ? "off"
                                                                                    : "none",
                                   pi.stale ? "true" : "false");
                        if (pi.metrics_age_ms != UINT64_MAX)
                                buf_printf(&b, ",\"age_ms\":%llu,\"waiting\":%g,\"running\":%g,\"kv_cache\":%g",
                                           (unsigned long long)pi.metrics_age_ms, pi.load.waiting, pi.load.running,
                                           pi.load.kv_usage);
                        buf_printf(&b,
                                   "},\"load\":{\"requests\":%g,\"waiting\":%g,\"kv_cache\":%g,"
                                   "\"prefix_blocks\":%u,\"prefix_capacity\":%u},"
                                   "\"scores\":{\"queue\":%g,\"kv_cache\":%g,\"inflight_tokens\":%g,\"prefix\":%g,"
                                   "\"session\":%g,\"total\":%g}",
                                   pi.est_requests, pi.est_waiting, pi.est_kv, pi.prefix_blocks, pi.prefix_capacity,
                                   (double)pi.score_queue, (double)pi.score_kv, (double)pi.score_tokens,
                                   (double)pi.score_prefix, (double)pi.score_session, (double)pi.score_total);
                }
                buf_printf(&b, "}");
        }
        buf_printf(&b, "]}\n");
        reply(c, 200, &b);
        buf_free(&b);
}

static bool upstream_serves(const struct sy_upstream_cfg *uc, const char *model) {
        for (size_t k = 0; k < uc->n_models; k++)
                if (strcmp(uc->models[k], model) == 0)
                        return true;
        return false;
}

static void get_routes(struct admin *a, struct aconn *c) {
        const struct sy_config *cfg = a->ops.config(a->ops.arg);
        struct buf b = { 0 };

        buf_printf(&b, "{\"object\":\"list\",\"data\":[");
        for (size_t i = 0, first = 1; i < cfg->n_models; i++) {
                const struct sy_model_cfg *m = &cfg->models[i];
                /* one entry per (model, engine) */
                for (size_t u = 0; u < cfg->n_upstreams; u++) {
                        const struct sy_upstream_cfg *uc = &cfg->upstreams[u];
                        bool seen = false;
                        if (!upstream_serves(uc, m->name))
                                continue;
                        for (size_t p = 0; p < u && !seen; p++)
                                seen = strcmp(cfg->upstreams[p].engine, uc->engine) == 0 &&
                                       upstream_serves(&cfg->upstreams[p], m->name);
                        if (seen)
                                continue;
                        buf_printf(&b, "%s{\"model\":", first ? "" : ",");
                        first = 0;
                        jenc(&b, m->name);
                        buf_printf(&b, ",\"owned_by\":");
                        jenc(&b, uc->engine);
                        buf_printf(&b, ",\"default\":%s,\"upstreams\":[",
                                   m->default_engine ? (strcmp(m->default_engine, uc->engine) == 0 ? "true" : "false")
                                                     : "null");
                        for (size_t q = u, n = 0; q < cfg->n_upstreams; q++) {
                                const struct sy_upstream_cfg *qc = &cfg->upstreams[q];
                                if (strcmp(qc->engine, uc->engine) != 0 || !upstream_serves(qc, m->name))
                                        continue;
                                if (n++)
                                        buf_append(&b, ",", 1);
                                jenc(&b, qc->name);
                        }
                        buf_printf(&b, "]}");
                }
        }
        buf_printf(&b, "]}\n");
        reply(c, 200, &b);
        buf_free(&b);
}

static void get_config(struct admin *a, struct aconn *c) {
        const struct sy_config *cfg = a->ops.config(a->ops.arg);
        struct buf b = { 0 };

        buf_printf(&b, "{\"path\":");
        jenc(&b, cfg->path);
        buf_printf(&b, ",\"upstreams\":[");
        for (size_t i = 0; i < cfg->n_upstreams; i++) {
                const struct sy_upstream_cfg *u = &cfg->upstreams[i];
                char url[320];
                snprintf(url, sizeof url, strchr(u->host, ':') ? "%s://[%s]:%u" : "%s://%s:%u",
                         u->tls ? "https" : "http", u->host, u->port);
                buf_printf(&b, "%s{\"name\":", i ? "," : "");
                jenc(&b, u->name);
                buf_printf(&b, ",\"url\":");
                jenc(&b, url);
                buf_printf(&b, ",\"engine\":");
                jenc(&b, u->engine);
                buf_printf(&b, ",\"kind\":\"%s\",\"weight\":%u,\"source\":\"%s\",\"models\":[", kind_name(u->kind),
                           u->weight, source_of(a, u->name));
                for (size_t k = 0; k < u->n_models; k++) {
                        if (k)
                                buf_append(&b, ",", 1);
                        jenc(&b, u->models[k]);
                }
                buf_printf(&b, "]}");
        }
        buf_printf(&b, "],\"models\":[");
        for (size_t i = 0; i < cfg->n_models; i++) {
                buf_printf(&b, "%s{\"name\":", i ? "," : "");
                jenc(&b, cfg->models[i].name);
                if (cfg->models[i].default_engine) {
                        buf_printf(&b, ",\"default_engine\":");
                        jenc(&b, cfg->models[i].default_engine);
                }
                buf_printf(&b, "}");
        }
        buf_printf(&b, "],\"admin_state_file\":");
        if (a->state_file)
                jenc(&b, a->state_file);
        else
                buf_printf(&b, "null");
        buf_printf(&b, "}\n");
        reply(c, 200, &b);
        buf_free(&b);
}

static int parse_up(const char *val, size_t len, struct sy_upstream_cfg *u, char *err, size_t errlen) {
        struct json_member m[16];
        struct json_limits lim = { .max_depth = 8, .max_members = 16 };
        const struct json_member *f;
        size_t n = 0, off = 0, it = 0;
        struct json_member it_m;
        char *url = NULL, *kind = NULL;
        bool bad = false;
        int r = -EINVAL;

        memset(u, 0, sizeof *u);
        u->weight = 1;
        if (json_scan_object(val, len, &lim, m, &n, &off) < 0) {
                snprintf(err, errlen, "the body must be a JSON object");
                return -EBADMSG;
        }
        u->name = jstr_dup(m, n, "name", &bad);
        url = jstr_dup(m, n, "url", &bad);
        u->engine = jstr_dup(m, n, "engine", &bad);
        if (!u->engine)
                u->engine = jstr_dup(m, n, "owned_by", &bad);
        kind = jstr_dup(m, n, "kind", &bad);
        if (bad) {
                snprintf(err, errlen, "name, url, engine and kind must be strings");
                goto fail;
        }
        if (!u->name || !sy_config_name_ok(u->name)) {
                snprintf(err, errlen,
                         "name: missing, or not a valid name (printable ASCII without spaces, quotes "
                         "or backslashes, at most 127 bytes)");
                goto fail;
        }
        if (url && strncasecmp(url, "https://", 8) == 0) {
                snprintf(err, errlen,
                         "url: https upstreams come from the configuration file (with their ca_file, sni and "
                         "api_key_env); the admin API adds http://host[:port] ones");
                goto fail;
        }
        if (!url || sy_config_parse_http_url(url, &u->host, &u->port) < 0) {
                snprintf(err, errlen, "url: missing, or not of the form http://host[:port]");
                goto fail;
        }
        if (!u->engine && !(u->engine = strdup("vllm")))
                goto fail;
        if (!sy_config_engine_ok(u->engine)) {
                snprintf(err, errlen, "engine: lower-case letters, digits, '_' and '-' only");
                goto fail;
        }
        if (kind && strcmp(kind, "gateway") == 0)
                u->kind = SY_UPSTREAM_GATEWAY;
        else if (kind && strcmp(kind, "server") != 0) {
                snprintf(err, errlen, "kind: server or gateway");
                goto fail;
        }
        if ((f = json_find(m, n, "weight"))) {
                char tmp[16];
                unsigned long w;
                if (f->type != JSON_NUMBER || f->val_len >= sizeof tmp) {
                        snprintf(err, errlen, "weight: an integer 1..1000000");
                        goto fail;
                }
                memcpy(tmp, f->val, f->val_len);
                tmp[f->val_len] = 0;
                w = strtoul(tmp, NULL, 10);
                if (w < 1 || w > 1000000 || strspn(tmp, "0123456789") != f->val_len) {
                        snprintf(err, errlen, "weight: an integer 1..1000000");
                        goto fail;
                }
                u->weight = (uint32_t)w;
        }
        f = json_find(m, n, "models");
        if (!f || f->type != JSON_ARRAY) {
                snprintf(err, errlen, "models: a list of model names is required");
                goto fail;
        }
        while (json_iter(f->val, f->val_len, &it, &it_m) == 1) {
                char *s;
                int k;
                if (it_m.type != JSON_STRING || u->n_models >= SY_CFG_MAX_MODELS) {
                        snprintf(err, errlen, "models: at most %d strings", SY_CFG_MAX_MODELS);
                        goto fail;
                }
                s = malloc(it_m.val_len + 1);
                k = s ? json_string_decode(it_m.val, it_m.val_len, s, it_m.val_len) : -1;
                if (k >= 0)
                        s[k] = 0;
                if (k < 0 || !sy_config_name_ok(s) || push((void **)&u->models, &u->n_models, sizeof s, &s) < 0) {
                        free(s);
                        snprintf(err, errlen, "models: not a valid model name");
                        goto fail;
                }
        }
        if (u->n_models == 0) {
                snprintf(err, errlen, "models: at least one model");
                goto fail;
        }
        free(url);
        free(kind);
        return 0;
fail:
        free(url);
        free(kind);
        sy_config_upstream_free(u);
        return r;
}

static int apply_or_undo(struct admin *a, struct aconn *c) {
        char err[512] = "";
        int r = a->ops.apply(a->ops.arg, err, sizeof err);

        if (r < 0) {
                reply_error(c, r == -E2BIG ? 409 : 500, "apply_failed", err[0] ? err : strerror(-r));
                return r;
        }
        save_state(a);
        return 0;
}

static void post_upstream(struct admin *a, struct aconn *c, const char *body, size_t blen) {
        const struct sy_config *cfg = a->ops.config(a->ops.arg);
        struct sy_upstream_cfg u;
        char err[256], *rm = NULL;
        size_t rm_at = 0;
        struct buf b = { 0 };

        if (parse_up(body, blen, &u, err, sizeof err) < 0) {
                reply_error(c, 400, "invalid_upstream", err);
                return;
        }
        if (sy_config_find_upstream(cfg, u.name)) {
                reply_error(c, 409, "upstream_exists", "an upstream of that name exists; delete it first");
                sy_config_upstream_free(&u);
                return;
        }
        if (push((void **)&a->ups, &a->n_ups, sizeof u, &u) < 0) {
                reply_error(c, 409, "too_many", "too many admin changes");
                sy_config_upstream_free(&u);
                return;
        }
        /* adding back an upstream that was removed: no longer removed */
        for (size_t i = 0; i < a->n_removed; i++)
                if (strcmp(a->removed[i], u.name) == 0) {
                        rm = a->removed[i];
                        rm_at = i;
                        memmove(&a->removed[i], &a->removed[i + 1], (a->n_removed - i - 1) * sizeof a->removed[0]);
                        a->n_removed--;
                        break;
                }
        if (apply_or_undo(a, c) < 0) {
                sy_config_upstream_free(&a->ups[--a->n_ups]);
                if (rm) {
                        memmove(&a->removed[rm_at + 1], &a->removed[rm_at], (a->n_removed - rm_at) * sizeof rm);
                        a->removed[rm_at] = rm;
                        a->n_removed++;
                }
                return;
        }
        free(rm);
        buf_printf(&b, "{\"added\":");
        jenc(&b, a->ups[a->n_ups - 1].name);
        buf_printf(&b, "}\n");
        reply(c, 201, &b);
        buf_free(&b);
}

static void delete_upstream(struct admin *a, struct aconn *c, const char *enc, size_t elen) {
        const struct sy_config *cfg = a->ops.config(a->ops.arg);
        char name[512];
        struct sy_upstream_cfg saved;
        ssize_t at = -1;
        bool pushed = false;
        char *s;

        if (url_decode_strict(enc, elen, name, sizeof name) <= 0) {
                reply_error(c, 400, "invalid_name", "bad upstream name in the path");
                return;
        }
        if (!sy_config_find_upstream(cfg, name)) {
                reply_error(c, 404, "upstream_not_found", "no upstream of that name");
                return;
        }
        for (size_t i = 0; i < a->n_ups; i++)
                if (strcmp(a->ups[i].name, name) == 0)
                        at = (ssize_t)i;
        if (at >= 0) {
                saved = a->ups[at];
                memmove(&a->ups[at], &a->ups[at + 1], (a->n_ups - (size_t)at - 1) * sizeof saved);
                a->n_ups--;
        } else {
                s = strdup(name);
                if (!s || push((void **)&a->removed, &a->n_removed, sizeof s, &s) < 0) {
                        free(s);
                        reply_error(c, 409, "too_many", "too many admin changes");
                        return;
                }
                pushed = true;
        }
        if (apply_or_undo(a, c) < 0) {
                if (pushed)
                        free(a->removed[--a->n_removed]);
                else
                        push((void **)&a->ups, &a->n_ups, sizeof saved, &saved);
                return;
        }
        if (!pushed)
                sy_config_upstream_free(&saved);
        reply(c, 204, NULL);
}

/* Removes the entries of list that match(entry, rt). */
static void routes_drop(struct a_route *list, size_t *n, const struct a_route *rt,
                        bool (*match)(const struct a_route *e, const struct a_route *rt)) {
        for (size_t i = 0; i < *n; i++)
                if (match(&list[i], rt)) {
                        route_free(&list[i]);
                        memmove(&list[i], &list[i + 1], (*n - i - 1) * sizeof *list);
                        (*n)--;
                        i--;
                }
}

/* an earlier removal e that adding route rt takes back */
static bool unroute_undone_by(const struct a_route *e, const struct a_route *rt) {
        return same(e->model, rt->model) && (!e->upstream || same(e->upstream, rt->upstream));
}

/* an API-added route e that the removal rt takes away */
static bool route_removed_by(const struct a_route *e, const struct a_route *rt) {
        return same(e->model, rt->model) && (!rt->upstream || same(e->upstream, rt->upstream)) &&
               (!rt->owned_by || !e->owned_by || strcasecmp(e->owned_by, rt->owned_by) == 0);
}

/* Keeps rt (taken) in the list and applies the change; on failure the
 * answer is sent, rt is gone and -1 returned. */
static int route_keep_and_apply(struct admin *a, struct aconn *c, struct a_route **list, size_t *n,
                                struct a_route *rt) {
        if (push((void **)list, n, sizeof *rt, rt) < 0) {
                route_free(rt);
                reply_error(c, 409, "too_many", "too many admin changes");
                return -1;
        }
        if (apply_or_undo(a, c) < 0) {
                route_free(&(*list)[--*n]);
                return -1;
        }
        return 0;
}

static void post_route(struct admin *a, struct aconn *c, const char *body, size_t blen) {
        const struct sy_config *cfg = a->ops.config(a->ops.arg);
        const struct sy_upstream_cfg *u;
        struct a_route rt;
        struct buf b = { 0 };

        if (parse_route_obj(body, blen, &rt) < 0 || !sy_config_name_ok(rt.model) || !rt.upstream) {
                if (rt.model || rt.upstream)
                        route_free(&rt);
                reply_error(c, 400, "invalid_route",
                            "expected {\"model\": name, \"owned_by\": engine (optional), "
                            "\"upstream\": name}");
                return;
        }
        u = sy_config_find_upstream(cfg, rt.upstream);
        if (!u) {
                reply_error(c, 404, "upstream_not_found", "no upstream of that name");
                route_free(&rt);
                return;
        }
        if (rt.owned_by && strcasecmp(rt.owned_by, u->engine) != 0) {
                reply_error(c, 400, "engine_mismatch", "owned_by must be the upstream's engine");
                route_free(&rt);
                return;
        }
        /* the newest word wins: an earlier removal of this route goes */
        routes_drop(a->unroutes, &a->n_unroutes, &rt, unroute_undone_by);
        if (route_keep_and_apply(a, c, &a->routes, &a->n_routes, &rt) < 0)
                return;
        buf_printf(&b, "{\"added\":{\"model\":");
        jenc(&b, rt.model);
        buf_printf(&b, ",\"upstream\":");
        jenc(&b, rt.upstream);
        buf_printf(&b, "}}\n");
        reply(c, 201, &b);
        buf_free(&b);
}

static char *query_param(const char *q, size_t qlen, const char *key) {
        size_t kl = strlen(key);
        const char *p = q, *end = q + qlen;

        while (p < end) {
                const char *amp = memchr(p, '&', (size_t)(end - p));
                const char *e = amp ? amp : end;
                if ((size_t)(e - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == '=') {
                        char *out = malloc((size_t)(e - p));
                        if (out && url_decode_strict(p + kl + 1, (size_t)(e - p) - kl - 1, out, (size_t)(e - p)) < 0) {
                                free(out);
                                return NULL;
                        }
                        return out;
                }
                p = e + 1;
        }
        return NULL;
}

static void delete_route(struct admin *a, struct aconn *c, const char *q, size_t qlen, const char *body, size_t blen) {
        const struct sy_config *cfg = a->ops.config(a->ops.arg);
        struct a_route rt = { 0 };
        bool matched = false;

        if (blen) {
                if (parse_route_obj(body, blen, &rt) < 0) {
                        reply_error(c, 400, "invalid_route", "expected {\"model\", \"owned_by\"?, \"upstream\"?}");
                        return;
                }
        } else {
                rt.model = query_param(q, qlen, "model");
                rt.owned_by = query_param(q, qlen, "owned_by");
                rt.upstream = query_param(q, qlen, "upstream");
                if (!rt.model) {
                        route_free(&rt);
                        reply_error(c, 400, "invalid_route",
                                    "give model (and owned_by, upstream) as query parameters "
                                    "or a JSON body");
                        return;
                }
        }
        for (size_t i = 0; i < cfg->n_upstreams && !matched; i++) {
                const struct sy_upstream_cfg *u = &cfg->upstreams[i];
                if ((rt.upstream && strcmp(rt.upstream, u->name) != 0) ||
                    (rt.owned_by && strcasecmp(rt.owned_by, u->engine) != 0))
                        continue;
                for (size_t k = 0; k < u->n_models && !matched; k++)
                        matched = strcmp(u->models[k], rt.model) == 0;
        }
        if (!matched) {
                route_free(&rt);
                reply_error(c, 404, "route_not_found", "no upstream serves that model (for that engine)");
                return;
        }
        /* routes added through the API that this removes go; the removal stays
         * so that the file's and discovery's routes stay removed */
        routes_drop(a->routes, &a->n_routes, &rt, route_removed_by);
        if (route_keep_and_apply(a, c, &a->unroutes, &a->n_unroutes, &rt) < 0)
                return;
        reply(c, 204, NULL);
}

static bool path_is(const char *p, size_t n, const char *lit) {
        return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

static void handle(struct admin *a, struct aconn *c, const struct http_request *req, const struct http_header *hdrs,
                   const char *body, size_t blen) {
        const char *t = req->target, *q = memchr(t, '?', req->target_len);
        size_t plen = q ? (size_t)(q - t) : req->target_len, qlen = q ? req->target_len - plen - 1 : 0;
        bool get = req->method_len == 3 && memcmp(req->method, "GET", 3) == 0;
        bool post = req->method_len == 4 && memcmp(req->method, "POST", 4) == 0;
        bool del = req->method_len == 6 && memcmp(req->method, "DELETE", 6) == 0;
        const char *pfx = "/admin/upstreams/";

        if (q)
                q++;
        /* the custom gateway's paths (llm-d guide), same semantics */
        if (path_is(t, plen, "/admin/api/routing")) {
                t = "/admin/routes";
                plen = strlen(t);
        } else if (path_is(t, plen, "/admin/discover")) {
                t = "/admin/discovery/refresh";
                plen = strlen(t);
        }
        if (!token_ok(a, http_find_header(hdrs, req->num_headers, "authorization"))) {
                reply_error(c, 401, "invalid_api_key", "the admin API needs Authorization: Bearer <admin token>");
                return;
        }
        if (path_is(t, plen, "/admin/upstreams")) {
                if (get)
                        get_upstreams(a, c);
                else if (post)
                        post_upstream(a, c, body, blen);
                else
                        reply_error(c, 405, "method_not_allowed", "GET or POST");
        } else if (plen > strlen(pfx) && memcmp(t, pfx, strlen(pfx)) == 0) {
                if (del)
                        delete_upstream(a, c, t + strlen(pfx), plen - strlen(pfx));
                else
                        reply_error(c, 405, "method_not_allowed", "DELETE");
        } else if (path_is(t, plen, "/admin/routes")) {
                if (get)
                        get_routes(a, c);
                else if (post)
                        post_route(a, c, body, blen);
                else if (del)
                        delete_route(a, c, q ? q : "", qlen, body, blen);
                else
                        reply_error(c, 405, "method_not_allowed", "GET, POST or DELETE");
        } else if (path_is(t, plen, "/admin/discovery/refresh")) {
                if (post) {
                        struct buf b = { 0 };
                        if (a->ops.refresh)
                                a->ops.refresh(a->ops.arg);
                        buf_printf(&b, "{\"refresh\":\"started\"}\n");
                        reply(c, 202, &b);
                        buf_free(&b);
                } else {
                        reply_error(c, 405, "method_not_allowed", "POST");
                }
        } else if (path_is(t, plen, "/admin/discovery") && get) {
                struct buf b = { 0 };
                buf_printf(&b, "{\"sources\":");
                if (a->ops.discovery_json)
                        a->ops.discovery_json(a->ops.arg, &b);
                else
                        buf_printf(&b, "[]");
                buf_printf(&b, "}\n");
                reply(c, 200, &b);
                buf_free(&b);
        } else if (path_is(t, plen, "/admin/config") && get) {
                get_config(a, c);
        } else if (path_is(t, plen, "/admin/state") && get) {
                struct buf b = { 0 };
                state_json(a, &b);
                reply(c, 200, &b);
                buf_free(&b);
        } else {
                reply_error(c, 404, "not_found", "unknown admin path");
        }
}

/* ---- connections ------------------------------------------------------------------------- */

static void conn_close(struct admin *a, struct aconn *c) {
        if (c->fd >= 0) {
                epoll_ctl(a->epfd, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
        }
        c->fd = -1;
        c->used = false;
        c->len = 0;
        c->out.len = 0;
        c->out_off = 0;
}

static void flush(struct admin *a, struct aconn *c) {
        while (c->out_off < c->out.len) {
                ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
                if (n > 0) {
                        c->out_off += (size_t)n;
                        continue;
                }
                if (n < 0 && errno == EAGAIN) {
                        struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
                        epoll_ctl(a->epfd, EPOLL_CTL_MOD, c->fd, &ev);
                        return;
                }
                break;
        }
        conn_close(a, c);
}

static void conn_read(struct admin *a, struct aconn *c) {
        for (;;) {
                struct http_header hdrs[32];
                struct http_request req = { .headers = hdrs };
                struct http_limits lim = { .max_header_bytes = 16384, .max_headers = 32 };
                const struct http_header *h;
                uint64_t clen = 0;
                ssize_t n = recv(c->fd, c->in + c->len, REQ_MAX + 16384 - c->len, 0);
                int p;

                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0) {
                        conn_close(a, c);
                        return;
                }
                c->len += (size_t)n;
                p = http_parse_request(c->in, c->len, &lim, &req);
                if (p == -EAGAIN)
                        continue;
                if (p < 0) {
                        reply_error(c, p == -E2BIG ? 431 : 400, "bad_request", "malformed HTTP request");
                        break;
                }
                h = http_find_header(hdrs, req.num_headers, "transfer-encoding");
                if (h) {
                        reply_error(c, 411, "length_required", "send the body with Content-Length");
                        break;
                }
                h = http_find_header(hdrs, req.num_headers, "content-length");
                if (h && http_parse_content_length(h->value, h->value_len, &clen) < 0) {
                        reply_error(c, 400, "bad_request", "bad Content-Length");
                        break;
                }
                if (clen > REQ_MAX) {
                        reply_error(c, 413, "request_too_large", "admin requests are at most 64 KiB");
                        break;
                }
                if (c->len < (size_t)p + clen)
                        continue;
                handle(a, c, &req, hdrs, c->in + p, (size_t)clen);
                break;
        }
        flush(a, c);
}

void admin_event(struct admin *a, void *ptr, uint32_t events) {
        if (ptr == &a->lfd) {
                for (;;) {
                        int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                        struct aconn *c = NULL;
                        if (fd < 0)
                                return;
                        for (size_t i = 0; i < ADMIN_MAX_CONNS && !c; i++)
                                if (!a->conns[i].used)
                                        c = &a->conns[i];
                        if (!c || (!c->in && !(c->in = malloc(REQ_MAX + 16384)))) {
                                static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                                           "Connection: close\r\n\r\n";
                                if (send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL) < 0) {
                                        /* nothing to do */
                                }
                                close(fd);
                                continue;
                        }
                        c->fd = fd;
                        c->used = true;
                        c->len = 0;
                        c->out.len = 0;
                        c->out_off = 0;
                        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
                        epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev);
                }
        }
        struct aconn *c = ptr;
        if (events & EPOLLOUT)
                flush(a, c);
        else
                conn_read(a, c);
}

bool admin_owns(const struct admin *a, const void *ptr) {
        return a && (ptr == &a->lfd ||
                     (ptr >= (const void *)&a->conns[0] && ptr < (const void *)&a->conns[ADMIN_MAX_CONNS]));
}

/* ---- setup ------------------------------------------------------------------------------- */

int admin_new(int epfd, const struct sy_config *cfg, const struct admin_ops *ops, struct admin **ret, char *err,
              size_t errlen) {
        struct admin *a = calloc(1, sizeof *a);
        int r = -ENOMEM;

        err_clear(err, errlen);
        if (!a)
                return -ENOMEM;
        a->epfd = epfd;
        a->lfd = -1;
        a->ops = *ops;
        for (size_t i = 0; i < ADMIN_MAX_CONNS; i++)
                a->conns[i].fd = -1;
        if (cfg->admin.token_file) {
                size_t n = 0;
                r = sy_read_file(cfg->admin.token_file, 4096, &a->token, &n);
                if (r < 0) {
                        snprintf(err, errlen, "admin.token_file %s: %s", cfg->admin.token_file, strerror(-r));
                        goto fail;
                }
                while (n && (a->token[n - 1] == '\n' || a->token[n - 1] == '\r' || a->token[n - 1] == ' '))
                        a->token[--n] = 0;
        } else {
                a->token = strdup(cfg->admin.token ? cfg->admin.token : "");
        }
        if (!a->token)
                goto fail;
        a->token_len = strlen(a->token);
        if (a->token_len == 0) {
                snprintf(err, errlen, "admin: the token is empty");
                r = -EINVAL;
                goto fail;
        }
        if (cfg->admin.state_file) {
                a->state_file = strdup(cfg->admin.state_file);
                if (!a->state_file)
                        goto fail;
                r = load_state(a, err, errlen);
                if (r < 0)
                        goto fail;
        }
        r = http_listen(cfg->admin.host, cfg->admin.port, HTTP_LISTEN_NONBLOCK, 16, &a->lfd, NULL);
        if (r < 0) {
                snprintf(err, errlen, "admin: cannot listen on %s:%u: %s", cfg->admin.host, cfg->admin.port,
                         strerror(-r));
                goto fail;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &a->lfd };
        epoll_ctl(epfd, EPOLL_CTL_ADD, a->lfd, &ev);
        *ret = a;
        return 0;
fail:
        err_oom(r, err, errlen, "admin: ");
        admin_free(a);
        return r;
}

void admin_free(struct admin *a) {
        if (!a)
                return;
        for (size_t i = 0; i < ADMIN_MAX_CONNS; i++) {
                conn_close(a, &a->conns[i]);
                free(a->conns[i].in);
                buf_free(&a->conns[i].out);
        }
        if (a->lfd >= 0) {
                epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->lfd, NULL);
                close(a->lfd);
        }
        if (a->token) {
                explicit_bzero(a->token, a->token_len);
                free(a->token);
        }
        free(a->state_file);
        for (size_t i = 0; i < a->n_ups; i++)
                sy_config_upstream_free(&a->ups[i]);
        free(a->ups);
        for (size_t i = 0; i < a->n_removed; i++)
                free(a->removed[i]);
        free(a->removed);
        for (size_t i = 0; i < a->n_routes; i++)
                route_free(&a->routes[i]);
        free(a->routes);
        for (size_t i = 0; i < a->n_unroutes; i++)
                route_free(&a->unroutes[i]);
        free(a->unroutes);
        free(a);
}
