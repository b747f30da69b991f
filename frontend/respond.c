/* Responses the frontend writes itself: OpenAI-style errors, /ready,
 * /v1/models, /metrics (stage_local.c says which path is which). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "frontend/frontend-internal.h"

unsigned frontend_metrics(struct worker *w, struct fe_metrics **all, unsigned cap);

void respond(struct conn *c, int status, const char *ctype, const char *body, size_t len, const char *extra) {
        /* answered from the head (a head stage) while the body is not all in:
         * what is still to come of it would be read as the next request */
        if (c->head && (c->chunked_in || c->in.len - c->req_start - c->head_len < c->body_len))
                c->keepalive = false;
        c->state = CS_RESPOND;
        c->status = status;
        if (c->minor == 0 && c->keepalive == false)
                c->out_last = true;
        buf_printf(&c->out, "HTTP/1.%d %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s", c->minor, status,
                   http_reason_phrase(status), ctype, len, extra ? extra : "");
        respond_common_headers(c, &c->out);
        buf_printf(&c->out, "Connection: %s\r\n\r\n", c->keepalive ? "keep-alive" : "close");
        buf_append(&c->out, body, len);
        if (!c->keepalive)
                c->out_last = true;
        conn_send(c);
}

void respond_put_json_string(struct buf *out, const char *s, size_t len) {
        size_t at = out->len;
        int n;

        if (buf_reserve(out, len * 6 + 2) < 0)
                return;
        n = json_string_encode(s, len, out->p + at, len * 6 + 2);
        if (n > 0)
                out->len = at + (size_t)n;
}

void respond_json(struct conn *c, int status, const char *body, size_t len) {
        respond(c, status, "application/json", body, len, NULL);
}

static void error_v(struct conn *c, int status, const char *headers, const char *type, const char *param,
                    const char *code, const char *fmt, va_list ap) {
        char msg[1024], emsg[2100], eparam[300], body[3072], extra[1024];
        int n, ml, pl = 0;

        n = vsnprintf(msg, sizeof msg, fmt, ap);
        if (n < 0)
                msg[0] = 0;
        ml = json_string_encode(msg, strnlen(msg, sizeof msg), emsg, sizeof emsg);
        if (ml < 0)
                ml = snprintf(emsg, sizeof emsg, "\"error\"");
        if (param)
                pl = json_string_encode(param, strlen(param), eparam, sizeof eparam);
        n = snprintf(body, sizeof body, "{\"error\":{\"message\":%.*s,\"type\":\"%s\",\"param\":%.*s,\"code\":\"%s\"}}",
                     ml, emsg, type, param && pl > 0 ? pl : 4, param && pl > 0 ? eparam : "null", code);
        if (n < 0 || (size_t)n >= sizeof body)
                n = snprintf(body, sizeof body,
                             "{\"error\":{\"message\":\"error\",\"type\":\"%s\",\"param\":null,"
                             "\"code\":\"%s\"}}",
                             type, code);
        if (status >= 500 || status == 429)
                snprintf(extra, sizeof extra, "Retry-After: %u\r\n%s", c->retry_after_s ? c->retry_after_s : 1,
                         headers ? headers : "");
        else
                snprintf(extra, sizeof extra, "%s%s", status == 401 ? "WWW-Authenticate: Bearer\r\n" : "",
                         headers ? headers : "");
        respond(c, status, "application/json", body, (size_t)n, extra);
        if (c->model[0] && status >= 400)
                metrics_count_request(&c->w->metrics, c->model, "", status);
}

void respond_error(struct conn *c, int status, const char *type, const char *param, const char *code, const char *fmt,
                   ...) {
        va_list ap;

        va_start(ap, fmt);
        error_v(c, status, NULL, type, param, code, fmt, ap);
        va_end(ap);
}

void respond_error_headers(struct conn *c, int status, const char *headers, const char *type, const char *param,
                           const char *code, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        error_v(c, status, headers, type, param, code, fmt, ap);
        va_end(ap);
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

                if ((only && strcmp(only, m->name) != 0) || !auth_model_allowed(c, m->name))
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
                        const struct sy_v03_model *card = sy_v03_find_model(c->cfg->v03, m->name);
                        buf_printf(o, "%s{\"id\":%.*s,\"object\":\"model\",\"created\":%ld,\"owned_by\":\"%s\"",
                                   first ? "" : ",", nl, name, created, engine);
                        if (card && card->context_window) /* as vLLM reports it */
                                buf_printf(o, ",\"max_model_len\":%llu", (unsigned long long)card->context_window);
                        buf_append(o, "}", 1);
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

void respond_ready(struct conn *c) {
        if (ready(c->w))
                respond_json(c, 200, "{\"status\":\"ready\"}", 18);
        else
                respond_error(c, 503, "server_error", NULL, "not_ready", "no healthy upstream yet");
}

void respond_metrics(struct conn *c) {
        struct fe_metrics *all[FE_MAX_WORKERS];
        unsigned n = frontend_metrics(c->w, all, FE_MAX_WORKERS);
        struct buf o = { 0 };

        metrics_render(&o, all, n, c->cfg);
        respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", o.p ? o.p : "", o.len, NULL);
        buf_free(&o);
}
