/* Stage guard: the jailbreak and PII policy of every request (explicit
 * model or "auto", chat, completions, responses, streamed or not).
 *
 * Which guards apply is decided before the classifier is asked
 * (guard_wanted(), by stage_classify): the jailbreak guard when
 * prompt_guard is enabled (for "auto", also when a category enables it);
 * the PII guard when the request's model has a pii_policy that forbids
 * anything (for "auto", when any model could). With none, the request pays
 * nothing here and no classifier pass is made for it.
 *
 * After the verdict: a jailbreak score at or over the threshold (the
 * category's jailbreak_threshold, else prompt_guard.threshold), or a PII
 * entity (score at or over the category's pii_threshold, else
 * classifier.pii_model.threshold) of a type the model's policy does not
 * allow, or a structured one found by its shape anywhere in the text
 * (pii_patterns.c: SSN, card, e-mail, IPv4, IBAN, checksums checked; these
 * block even without a verdict), blocks the request: the prompt never goes upstream. Blocked is
 * answered as the vLLM Semantic Router answers it: 200 with a chat
 * completion (or completion / response, SSE when streamed) whose assistant
 * message says why, and x-vsr-* headers; or, with guard.block_status, that
 * status with an OpenAI-style error. A guard that applies but got no
 * verdict (classifier down, late, failing) fails closed: 503, unless
 * guard.on_classifier_error is allow (the request goes on unchecked,
 * counted as such). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "frontend/frontend-internal.h"
#include "frontend/pii_patterns.h"
#include "proto/msg.h"

/* the entity types of the default model, spelled as vSR / Presidio spell
 * them; anything else the classifier reports counts as the last one */
static const char *const pii_types[FE_PII_TYPES] = {
        "PERSON",      "EMAIL_ADDRESS", "US_SSN",    "CREDIT_CARD",       "PHONE_NUMBER", "STREET_ADDRESS",
        "IP_ADDRESS",  "IBAN_CODE",     "DATE_TIME", "ORGANIZATION",      "GPE",          "AGE",
        "DOMAIN_NAME", "NRP",           "TITLE",     "US_DRIVER_LICENSE", "ZIP_CODE",     "OTHER",
};

/* pii_types[] index of each PII_PAT_* bit */
static const struct {
        unsigned bit, type;
} pattern_types[] = {
        { PII_PAT_SSN, 2 }, { PII_PAT_CREDIT_CARD, 3 }, { PII_PAT_EMAIL, 1 }, { PII_PAT_IP, 6 }, { PII_PAT_IBAN, 7 },
};

static bool found_by_pattern(const struct conn *c, unsigned t) {
        for (size_t i = 0; i < sizeof pattern_types / sizeof pattern_types[0]; i++)
                if (pattern_types[i].type == t)
                        return (c->pii_patterns & pattern_types[i].bit) != 0;
        return false;
}

static unsigned pii_type_index(const char *name) {
        for (unsigned t = 0; t < FE_PII_TYPES - 1; t++)
                if (strcmp(pii_types[t], name) == 0)
                        return t;
        return FE_PII_TYPES - 1;
}

static const struct sy_category_cfg *category(const struct conn *c) {
        const struct sy_config *cfg = c->cfg;

        return c->is_auto && c->cat_idx >= 0 && (size_t)c->cat_idx < cfg->n_categories ? &cfg->categories[c->cat_idx]
                                                                                       : NULL;
}

/* does the policy forbid any type at all? (allow_by_default: every type allowed) */
static bool policy_forbids_some(const struct sy_pii_policy *p) {
        return p->set && !p->allow_by_default;
}

static bool policy_allows(const struct sy_pii_policy *p, unsigned t) {
        if (!policy_forbids_some(p))
                return true;
        for (size_t i = 0; i < p->n_types_allowed; i++)
                if (strcmp(p->types_allowed[i], pii_types[t]) == 0)
                        return true;
        return false;
}

static double pii_threshold_of(const struct conn *c) {
        const struct sy_category_cfg *cat = category(c);

        if (cat && cat->pii_threshold >= 0)
                return cat->pii_threshold;
        return c->cfg->classifier.pii.threshold;
}

double guard_pii_threshold(const struct conn *c) {
        const struct sy_config *cfg = c->cfg;
        double t = cfg->classifier.pii.threshold;

        /* "auto": the category is not known yet; ask for spans down to the
         * lowest threshold any category sets */
        if (c->is_auto)
                for (size_t i = 0; i < cfg->n_categories; i++)
                        if (cfg->categories[i].pii_threshold >= 0 && cfg->categories[i].pii_threshold < t)
                                t = cfg->categories[i].pii_threshold;
        return t;
}

static bool jailbreak_on(const struct conn *c, double *ret_threshold) {
        const struct sy_config *cfg = c->cfg;
        const struct sy_category_cfg *cat = category(c);
        bool on = cfg->classifier.jailbreak_block;

        *ret_threshold = cfg->classifier.jailbreak.threshold;
        if (cat && cat->jailbreak_enabled >= 0)
                on = cat->jailbreak_enabled;
        if (cat && cat->jailbreak_threshold >= 0)
                *ret_threshold = cat->jailbreak_threshold;
        return on;
}

static bool pii_on(const struct conn *c) {
        const struct sy_category_cfg *cat = category(c);

        return !(cat && cat->pii_enabled == 0);
}

bool guard_wanted(const struct conn *c, bool *ret_jailbreak, bool *ret_pii) {
        const struct sy_config *cfg = c->cfg;
        bool jb = cfg->classifier.jailbreak_block, pii = false;

        if (c->is_auto) {
                for (size_t i = 0; i < cfg->n_categories && !jb; i++)
                        if (cfg->categories[i].jailbreak_enabled == 1)
                                jb = true;
                for (size_t i = 0; i < cfg->n_models && !pii; i++)
                        pii = policy_forbids_some(&cfg->models[i].pii_policy);
        } else {
                const struct sy_model_cfg *m = sy_config_find_model(cfg, c->model);
                pii = m && policy_forbids_some(&m->pii_policy);
        }
        *ret_jailbreak = jb;
        *ret_pii = pii;
        return jb || pii;
}

void guard_take_spans(struct conn *c, const struct sy_pii_span *spans, unsigned n) {
        memset(c->pii_score, 0, sizeof c->pii_score);
        for (unsigned k = 0; k < n; k++) {
                char type[SY_CLASSIFY_LABEL];
                unsigned t;

                memcpy(type, spans[k].type, sizeof type);
                type[sizeof type - 1] = 0;
                t = pii_type_index(type);
                if (spans[k].score > c->pii_score[t])
                        c->pii_score[t] = spans[k].score;
        }
}

/* The detected types model forbids, as "US_SSN,PERSON" into out; false if none. */
static bool forbidden(const struct conn *c, const char *model, char *out, size_t cap) {
        const struct sy_model_cfg *m = sy_config_find_model(c->cfg, model);
        double th = pii_threshold_of(c);
        size_t len = 0;
        bool any = false;

        if (out && cap)
                out[0] = 0;
        if (!m || !policy_forbids_some(&m->pii_policy) || !c->need_pii || !pii_on(c))
                return false;
        for (unsigned t = 0; t < FE_PII_TYPES; t++) {
                bool seen = (c->pii_score[t] > 0 && c->pii_score[t] >= th) || found_by_pattern(c, t);
                if (!seen || policy_allows(&m->pii_policy, t))
                        continue;
                any = true;
                if (out && len + strlen(pii_types[t]) + 2 < cap)
                        len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "", pii_types[t]);
        }
        return any;
}

bool guard_model_allows(const struct conn *c, const char *model) {
        return !forbidden(c, model, NULL, 0);
}

/* ---- the blocked answer --------------------------------------------------------- */

static void put_json_string(struct buf *o, const char *s) {
        respond_put_json_string(o, s, strlen(s));
}

/* One SSE event "data: <json>\n\n", as an HTTP/1.1 chunk when chunked. */
static void sse_event(struct buf *o, const char *data, size_t len, bool chunked) {
        if (chunked)
                buf_printf(o, "%zx\r\n", len + 8);
        buf_append(o, "data: ", 6);
        buf_append(o, data, len);
        buf_append(o, "\n\n", 2);
        if (chunked)
                buf_append(o, "\r\n", 2);
}

static bool is_path(const struct conn *c, const char *p) {
        return strcmp(c->path, p) == 0;
}

/* {"id":"<prefix>-switchyard-<id>","object":"<object>","created":<t>,"model":<model> */
static void object_head(struct conn *c, struct buf *o, const char *prefix, const char *object, const char *created_key,
                        long created) {
        buf_printf(o, "{\"id\":\"%s-switchyard-%llx\",\"object\":\"%s\",\"%s\":%ld,\"model\":", prefix,
                   (unsigned long long)c->req_id, object, created_key, created);
        put_json_string(o, c->model);
}

/* The completion object (non-streamed) with the assistant's text. */
static void completion_body(struct conn *c, struct buf *o, const char *text, long created) {
        if (is_path(c, "/v1/completions")) {
                object_head(c, o, "cmpl", "text_completion", "created", created);
                buf_printf(o, ",\"choices\":[{\"index\":0,\"text\":");
                put_json_string(o, text);
                buf_printf(o, ",\"logprobs\":null,\"finish_reason\":\"stop\"}],");
        } else if (is_path(c, "/v1/responses")) {
                object_head(c, o, "resp", "response", "created_at", created);
                buf_printf(o,
                           ",\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"id\":\"msg-switchyard-%llx\","
                           "\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
                           "\"annotations\":[],\"text\":",
                           (unsigned long long)c->req_id);
                put_json_string(o, text);
                buf_printf(o, "}]}],\"usage\":{\"input_tokens\":0,\"output_tokens\":0,\"total_tokens\":0}}");
                return;
        } else {
                object_head(c, o, "chatcmpl", "chat.completion", "created", created);
                buf_printf(o, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
                put_json_string(o, text);
                buf_printf(o, "},\"finish_reason\":\"stop\"}],");
        }
        buf_printf(o, "\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0}}");
}

/* The same as SSE events, the way an upstream streams it, ending in [DONE]. */
static void completion_stream(struct conn *c, struct buf *o, const char *text, long created, bool chunked) {
        struct buf ev = { 0 };
        unsigned long long id = (unsigned long long)c->req_id;

        if (is_path(c, "/v1/responses")) {
                /* the Responses API's events, reduced to what a client needs */
                buf_printf(&ev,
                           "{\"type\":\"response.output_text.delta\",\"item_id\":\"msg-switchyard-%llx\","
                           "\"output_index\":0,\"content_index\":0,\"delta\":",
                           id);
                put_json_string(&ev, text);
                buf_append(&ev, "}", 1);
                sse_event(o, ev.p, ev.len, chunked);
                ev.len = 0;
                buf_printf(&ev, "{\"type\":\"response.completed\",\"response\":");
                completion_body(c, &ev, text, created);
                buf_append(&ev, "}", 1);
                sse_event(o, ev.p, ev.len, chunked);
        } else if (is_path(c, "/v1/completions")) {
                object_head(c, &ev, "cmpl", "text_completion", "created", created);
                buf_printf(&ev, ",\"choices\":[{\"index\":0,\"text\":");
                put_json_string(&ev, text);
                buf_printf(&ev, ",\"logprobs\":null,\"finish_reason\":\"stop\"}]}");
                sse_event(o, ev.p, ev.len, chunked);
        } else {
                object_head(c, &ev, "chatcmpl", "chat.completion.chunk", "created", created);
                buf_printf(&ev, ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":");
                put_json_string(&ev, text);
                buf_printf(&ev, "},\"finish_reason\":null}]}");
                sse_event(o, ev.p, ev.len, chunked);
                ev.len = 0;
                object_head(c, &ev, "chatcmpl", "chat.completion.chunk", "created", created);
                buf_printf(&ev, ",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}");
                sse_event(o, ev.p, ev.len, chunked);
        }
        buf_free(&ev);
        sse_event(o, "[DONE]", 6, chunked);
        if (chunked)
                buf_append(o, "0\r\n\r\n", 5);
}

static void block(struct conn *c, const char *reason, const char *headers, const char *code, const char *text) {
        struct worker *w = c->w;
        const struct sy_config *cfg = c->cfg;
        long created = (long)time(NULL);
        struct buf o = { 0 };

        c->guard_blocked = true;
        metrics_count_guard(&w->metrics, c->model, reason);
        if (cfg->guard.block_status || is_path(c, "/v1/embeddings")) {
                /* an error status asked for (embeddings have no message to say it in) */
                unsigned st = cfg->guard.block_status ? cfg->guard.block_status : 400;
                respond_error_headers(c, (int)st, headers, "invalid_request_error", "messages", code, "%s", text);
                return;
        }
        if (c->stream) {
                c->state = CS_RESPOND;
                c->status = 200;
                buf_printf(&c->out,
                           "HTTP/1.%d 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n",
                           c->minor);
                /* HTTP/1.0 has no chunked framing: the events, then close */
                if (c->minor == 0)
                        c->keepalive = false;
                else
                        buf_printf(&c->out, "Transfer-Encoding: chunked\r\n");
                buf_append(&c->out, headers, strlen(headers));
                respond_common_headers(c, &c->out);
                buf_printf(&c->out, "x-vsr-selected-model: %s\r\nConnection: %s\r\n\r\n", c->model,
                           c->keepalive ? "keep-alive" : "close");
                completion_stream(c, &c->out, text, created, c->minor > 0);
                if (!c->keepalive)
                        c->out_last = true;
                metrics_count_request(&w->metrics, c->model, "", 200);
                conn_send(c);
                return;
        }
        completion_body(c, &o, text, created);
        {
                char extra[1024];
                snprintf(extra, sizeof extra, "%sx-vsr-selected-model: %s\r\n", headers, c->model);
                respond(c, 200, "application/json", o.p ? o.p : "{}", o.len, extra);
        }
        metrics_count_request(&w->metrics, c->model, "", 200);
        buf_free(&o);
}

void guard_fast_response(struct conn *c, const char *text) {
        const struct sy_v03 *v = c->cfg->v03;
        char headers[512];

        snprintf(headers, sizeof headers, "x-vsr-fast-response: true\r\nx-vsr-selected-decision: %s\r\n%s%s%s",
                 v && c->decision >= 0 && (size_t)c->decision < v->n_decisions ? v->decisions[c->decision].name : "",
                 c->matched_kw[0] ? "x-vsr-matched-keywords: " : "", c->matched_kw, c->matched_kw[0] ? "\r\n" : "");
        block(c, "fast_response", headers, "blocked_by_decision", text);
}

unsigned guard_pii_seen(const struct conn *c, float *scores, const char *const **ret_names) {
        for (unsigned t = 0; t < FE_PII_TYPES; t++)
                scores[t] = found_by_pattern(c, t) ? 1.0f : c->pii_score[t];
        *ret_names = pii_types;
        return FE_PII_TYPES;
}

static enum stage_rc block_pii(struct conn *c, const char *types) {
        const struct sy_config *cfg = c->cfg;
        char headers[512], text[1024];

        snprintf(headers, sizeof headers,
                 "x-vsr-fast-response: true\r\nx-vsr-pii-violation: true\r\nx-vsr-matched-pii: %s\r\n", types);
        snprintf(text, sizeof text, "%s (%s)", cfg->guard.pii_message ? cfg->guard.pii_message : "blocked: PII", types);
        block(c, "pii", headers, "pii_policy_violation", text);
        return STAGE_DONE;
}

enum stage_rc guard_unchecked(struct conn *c, const char *by) {
        metrics_count_guard(&c->w->metrics, c->model, "unchecked");
        c->retry_after_s = 1;
        respond_error(c, 503, "server_error", NULL, "guard_unavailable",
                      "the prompt could not be checked by %s (classifier %s); it was not sent to a model", by,
                      c->clf_status ? c->clf_status : "unavailable");
        return STAGE_DONE;
}

static enum stage_rc run(struct conn *c) {
        const struct sy_config *cfg = c->cfg;
        char types[256], headers[512];
        double jb_threshold;

        if (!c->need_jailbreak && !c->need_pii)
                return STAGE_NEXT;
        if (!c->clf_verdict && forbidden(c, c->model, types, sizeof types))
                return block_pii(c, types); /* found by shape: no verdict needed */
        if (!c->clf_verdict && c->clf_reason == FE_CLF_NO_TEXT)
                return STAGE_NEXT; /* no user text: nothing to find */
        if (!c->clf_verdict && cfg->guard.on_classifier_error_allow) {
                metrics_count_guard(&c->w->metrics, c->model, "unchecked_allowed");
                return STAGE_NEXT;
        }
        if (!c->clf_verdict)
                return guard_unchecked(c, "the configured guards");
        if (c->need_jailbreak && jailbreak_on(c, &jb_threshold) && c->jailbreak >= 0 &&
            c->jailbreak >= (float)jb_threshold) {
                snprintf(
                        headers, sizeof headers,
                        "x-vsr-fast-response: true\r\nx-vsr-jailbreak-blocked: true\r\nx-vsr-jailbreak-type: jailbreak\r\n"
                        "x-vsr-jailbreak-confidence: %.3f\r\n",
                        (double)c->jailbreak);
                block(c, "jailbreak", headers, "jailbreak_detected",
                      cfg->guard.jailbreak_message ? cfg->guard.jailbreak_message : "blocked: jailbreak");
                return STAGE_DONE;
        }
        if (forbidden(c, c->model, types, sizeof types))
                return block_pii(c, types);
        return STAGE_NEXT;
}

const struct stage stage_guard = { "guard", run };
