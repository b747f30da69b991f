/* Stage parse: the request body as JSON, once. What routing needs is taken
 * from it (model, stream, the engine from owned_by / x-owned-by /
 * ?owned_by=, the session key, a token estimate, where the prompt is); the
 * body itself is kept as the client sent it until stage_build writes the
 * upstream's copy. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "frontend/frontend-internal.h"

/* ---- routing fields ----------------------------------------------------------- */

/* Is the member's key name? Keys are compared decoded, as json_find and
 * the upstream's JSON parser see them ("owned\u005fby" is owned_by). */
bool proxy_key_is(const struct json_member *m, const char *name) {
        char dec[64];
        int n;

        if (!memchr(m->key, '\\', m->key_len))
                return m->key_len == strlen(name) && memcmp(m->key, name, m->key_len) == 0;
        /* the raw key with its quotes around it */
        n = json_string_decode(m->key - 1, m->key_len + 2, dec, sizeof dec);
        return n >= 0 && (size_t)n == strlen(name) && memcmp(dec, name, (size_t)n) == 0;
}


bool parse_is_routing_key(const struct json_member *m) {
        return proxy_key_is(m, "owned_by") || proxy_key_is(m, "engine") || proxy_key_is(m, "inference_server");
}

const char *proxy_body(struct conn *c, size_t *ret_len) {
        if (c->chunked_in) {
                *ret_len = c->body.len;
                return c->body.p ? c->body.p : "";
        }
        *ret_len = c->body_len;
        return c->in.p + c->req_start + c->head_len;
}

static int string_member(const struct json_member *m, char *out, size_t cap) {
        int n;

        if (m->type != JSON_STRING)
                return -EINVAL;
        n = json_string_decode(m->val, m->val_len, out, cap - 1);
        if (n < 0)
                return n;
        out[n] = 0;
        return n;
}

bool parse_is_auto_alias(const struct sy_config *cfg, const char *model) {
        for (size_t i = 0; i < cfg->n_auto_aliases; i++)
                if (strcmp(cfg->auto_aliases[i], model) == 0)
                        return true;
        return false;
}

#define SCAN_LIMITS \
        { .max_depth = 64, .max_members = 256 }

bool parse_scan_body(struct conn *c, struct json_member *mem, size_t *n) {
        struct json_limits lim = SCAN_LIMITS;
        size_t err_off = 0, blen;
        const char *body = proxy_body(c, &blen);
        int r = json_scan_object(body, blen, &lim, mem, n, &err_off);

        if (r == -EBADMSG)
                respond_error(c, 400, "invalid_request_error", NULL, "invalid_json",
                              "the request body is not valid JSON (error at byte %zu)", err_off);
        else if (r == -EPROTOTYPE)
                respond_error(c, 400, "invalid_request_error", NULL, "invalid_json",
                              "the request body must be a JSON object");
        else if (r < 0)
                respond_error(c, 400, "invalid_request_error", NULL, "invalid_json",
                              "the request body is too deeply nested or has too many fields");
        return r == 0;
}

/* Where the prompt is in the body, for pick()'s prefix hashes: the
 * "messages" array, or "prompt" / "input". */
static void prompt_span(struct conn *c, const struct json_member *mem, size_t n, const char *body) {
        const struct json_member *m = json_find(mem, n, "messages");

        if (!m)
                m = json_find(mem, n, "prompt");
        if (!m)
                m = json_find(mem, n, "input");
        c->prompt_off = m ? (size_t)(m->val - body) : 0;
        c->prompt_len = m ? m->val_len : 0;
}
static enum stage_rc run(struct conn *c) {
        struct worker *w = c->w;
        struct json_member mem[256];
        size_t n = 0, blen;
        const char *body = proxy_body(c, &blen);
        const struct json_member *m;
        char tmp[64];

        c->t_parsed_ns = fe_now_ns();
        FE_MARK(parsed, c);
        if (!parse_scan_body(c, mem, &n))
                return STAGE_DONE;
        if (strcmp(c->path, "/api/v1/classify") == 0) {
                c->clf_api = true; /* stage_classify answers it */
                return STAGE_NEXT;
        }
        m = json_find(mem, n, "model");
        if (!m) {
                respond_error(c, 400, "invalid_request_error", "model", "missing_required_parameter",
                              "you must provide a model parameter");
                return STAGE_DONE;
        }
        if (string_member(m, c->model, sizeof c->model) <= 0) {
                respond_error(c, 400, "invalid_request_error", "model", "invalid_type",
                              "model must be a non-empty string of at most %zu bytes", sizeof c->model - 1);
                return STAGE_DONE;
        }
        m = json_find(mem, n, "stream");
        c->stream = m && m->type == JSON_TRUE;

        /* engine: body (owned_by, engine, inference_server), then header, then query */
        for (size_t i = 0; i < n; i++) {
                if (!parse_is_routing_key(&mem[i]))
                        continue;
                if (string_member(&mem[i], c->engine, sizeof c->engine) < 0) {
                        respond_error(c, 400, "invalid_request_error", "owned_by", "invalid_type",
                                      "owned_by must be a string of at most %zu bytes", sizeof c->engine - 1);
                        return STAGE_DONE;
                }
                break;
        }
        if (!c->engine[0] && c->owned_by_h[0])
                snprintf(c->engine, sizeof c->engine, "%s", c->owned_by_h);
        if (!c->engine[0] && c->owned_by_q[0])
                snprintf(c->engine, sizeof c->engine, "%s", c->owned_by_q);
        if (!c->session[0] && (m = json_find(mem, n, "user")) && string_member(m, tmp, sizeof tmp) > 0)
                snprintf(c->session, sizeof c->session, "%s", tmp);

        /* load estimate for the router: prompt bytes / 4 plus the output asked for */
        c->token_estimate = (uint32_t)(blen / 4);
        if ((m = json_find(mem, n, "max_completion_tokens")) || (m = json_find(mem, n, "max_tokens"))) {
                if (m->type == JSON_NUMBER) {
                        unsigned long v = strtoul(m->val, NULL, 10);
                        c->token_estimate += (uint32_t)(v < 1000000 ? v : 1000000);
                }
        }
        prompt_span(c, mem, n, body);
        worker_refresh_snapshot(w);
        c->is_auto = parse_is_auto_alias(c->cfg, c->model);
        return STAGE_NEXT;
}

const struct stage stage_parse = { "parse", run };
