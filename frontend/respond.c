/* Responses the frontend writes itself: OpenAI-style errors, /health,
 * /ready, /v1/models, /metrics. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "frontend/frontend-internal.h"

unsigned frontend_metrics(struct worker *w, struct fe_metrics **all, unsigned cap);

static void respond(struct conn *c, int status, const char *ctype, const char *body, size_t len,
                    const char *extra) {
        c->state = CS_RESPOND;
        c->status = status;
        if (c->minor == 0 && c->keepalive == false)
                c->out_last = true;
        buf_printf(&c->out, "HTTP/1.%d %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: %s\r\n\r\n",
                   c->minor, status, http_reason_phrase(status), ctype, len, extra ? extra : "",
                   c->keepalive ? "keep-alive" : "close");
        buf_append(&c->out, body, len);
        if (!c->keepalive)
                c->out_last = true;
        conn_send(c);
}

void respond_json(struct conn *c, int status, const char *body, size_t len) {
        respond(c, status, "application/json", body, len, NULL);
}

void respond_error(struct conn *c, int status, const char *type, const char *param, const char *code,
                   const char *fmt, ...) {
        char msg[512], emsg[1200], eparam[300], body[2048];
        va_list ap;
        int n, ml, pl = 0;

        va_start(ap, fmt);
        n = vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (n < 0)
                msg[0] = 0;
        ml = json_string_encode(msg, strnlen(msg, sizeof msg), emsg, sizeof emsg);
        if (ml < 0)
                ml = snprintf(emsg, sizeof emsg, "\"error\"");
        if (param)
                pl = json_string_encode(param, strlen(param), eparam, sizeof eparam);
        n = snprintf(body, sizeof body, "{\"error\":{\"message\":%.*s,\"type\":\"%s\",\"param\":%.*s,\"code\":\"%s\"}}",
                     ml, emsg, type, param && pl > 0 ? pl : 4, param && pl > 0 ? eparam : "null", code);
        if (status >= 500 || status == 429) {
                char ra[40];
                snprintf(ra, sizeof ra, "Retry-After: %u\r\n", c->retry_after_s ? c->retry_after_s : 1);
                respond(c, status, "application/json", body, (size_t)n, ra);
        } else
                respond(c, status, "application/json", body, (size_t)n, NULL);
        if (c->model[0] && status >= 400)
                metrics_count_request(&c->w->metrics, c->model, "", status);
}

bool respond_is_local(const char *method, size_t mlen, const char *path) {
        (void)method;
        (void)mlen;
        return strcmp(path, "/health") == 0 || strcmp(path, "/ready") == 0 || strcmp(path, "/metrics") == 0 ||
               strcmp(path, "/v1/models") == 0 || strncmp(path, "/v1/models/", 11) == 0;
}

/* One entry per (model, engine): the guides list a model once per engine
 * that serves it, with owned_by = engine. */
static void models_json(struct conn *c, struct buf *o, const char *only) {
        const struct snapshot *s = c->w->snap;
        long created = (long)time(NULL);
        bool first = true;

        if (!only)
                buf_printf(o, "{\"object\":\"list\",\"data\":[");
        for (uint32_t i = 0; i < s->n_models; i++) {
                const struct snap_model *m = &s->models[i];
                char name[SNAP_NAME * 6 + 2];
                int nl;

                if (only && strcmp(only, m->name) != 0)
                        continue;
                nl = json_string_encode(m->name, strlen(m->name), name, sizeof name);
                for (uint16_t k = 0; k < m->n_upstreams; k++) {
                        const char *engine = s->upstreams[m->upstreams[k]].engine;
                        bool dup = false;
                        for (uint16_t j = 0; j < k; j++)
                                if (strcmp(s->upstreams[m->upstreams[j]].engine, engine) == 0)
                                        dup = true;
                        if (dup)
                                continue;
                        buf_printf(o, "%s{\"id\":%.*s,\"object\":\"model\",\"created\":%ld,\"owned_by\":\"%s\"}",
                                   first ? "" : ",", nl, name, created, engine);
                        first = false;
                        if (only)
                                return;
                }
        }
        if (!only)
                buf_printf(o, "]}");
}

void respond_models(struct conn *c, const char *id) {
        struct buf o = { 0 };

        worker_refresh_snapshot(c->w);
        models_json(c, &o, id);
        if (id && o.len == 0) {
                respond_error(c, 404, "invalid_request_error", "model", "model_not_found",
                              "The model `%s` does not exist", id);
        } else {
                respond_json(c, 200, o.p, o.len);
        }
        buf_free(&o);
}

static bool ready(struct worker *w) {
        const struct snapshot *s = w->snap;

        worker_refresh_snapshot(w);
        for (uint32_t i = 0; i < s->n_upstreams; i++)
                if (s->upstreams[i].healthy)
                        return true;
        return false;
}

void respond_local(struct conn *c, const struct http_request *req) {
        bool get = req->method_len == 3 && memcmp(req->method, "GET", 3) == 0;

        if (!get) {
                respond_error(c, 405, "invalid_request_error", NULL, "method_not_allowed", "use GET for %s", c->path);
                return;
        }
        if (strcmp(c->path, "/health") == 0) {
                respond_json(c, 200, "{\"status\":\"ok\"}", 15);
        } else if (strcmp(c->path, "/ready") == 0) {
                if (ready(c->w))
                        respond_json(c, 200, "{\"status\":\"ready\"}", 18);
                else
                        respond_error(c, 503, "server_error", NULL, "not_ready", "no healthy upstream yet");
        } else if (strcmp(c->path, "/v1/models") == 0) {
                respond_models(c, NULL);
        } else if (strncmp(c->path, "/v1/models/", 11) == 0) {
                /* ids may contain '/', sent as is or as %2F (the SDKs encode it) */
                char id[SNAP_NAME];
                url_decode(c->path + 11, strlen(c->path + 11), false, id, sizeof id);
                respond_models(c, id);
        } else if (strcmp(c->path, "/metrics") == 0) {
                struct fe_metrics *all[FE_MAX_WORKERS];
                unsigned n = frontend_metrics(c->w, all, FE_MAX_WORKERS);
                struct buf o = { 0 };
                metrics_render(&o, all, n, c->w->fe->cfg);
                respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", o.p ? o.p : "", o.len, NULL);
                buf_free(&o);
        }
}
