/* Stage route (model "auto"): the verdict's category -> the model, by the
 * category's model_scores (the best one that is up, allowed by the client's
 * key and by its PII policy for this prompt); below confidence_threshold,
 * or with the classifier late, down or failing -> default_model. Stage
 * build: the body sent upstream (routing-only fields dropped; for "auto"
 * the model, the category's system prompt and the model family's reasoning
 * switch rewritten), and the response headers that say what happened. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ascii.h"
#include "common/json.h"
#include "common/log.h"
#include "frontend/frontend-internal.h"
#include "proto/msg.h"

static enum stage_rc fallback_cat(struct conn *c, const char *status, int reason, int cat_idx) {
        const struct sy_config *cfg = c->cfg;

        atomic_fetch_add_explicit(&c->w->metrics.clf_fallback[reason], 1, memory_order_relaxed);
        c->clf_status = status;
        c->cat_idx = cat_idx;
        c->reasoning = -1;
        if (!cfg->default_model) {
                c->retry_after_s = 1;
                respond_error(c, 503, "server_error", "model", "classifier_unavailable",
                              "model `%s` needs the classifier (%s), and no default_model is configured", c->model,
                              status);
                return STAGE_DONE;
        }
        snprintf(c->model, sizeof c->model, "%s", cfg->default_model);
        return STAGE_NEXT;
}

enum stage_rc route_fallback(struct conn *c, const char *status, int reason) {
        return fallback_cat(c, status, reason, -1);
}

/* ---- the verdict ------------------------------------------------------------------ */

int route_find_category(const struct sy_config *cfg, const char *name) {
        for (size_t i = 0; i < cfg->n_categories; i++)
                if (ascii_category_eq(cfg->categories[i].name, name))
                        return (int)i;
        return -1;
}

/* Does the model have a healthy upstream in the snapshot? */
static bool model_up(const struct snapshot *s, const char *model) {
        const struct snap_model *m = snapshot_find_model(s, model, strlen(model));

        if (!m)
                return false;
        for (uint16_t k = 0; k < m->n_upstreams; k++)
                if (s->upstreams[m->upstreams[k]].healthy)
                        return true;
        return false;
}

/* The category's best-scored model that is up; if none is, the best one.
 * Models the client's key may not use, or whose PII policy forbids what the
 * prompt holds, are not candidates. */
const struct sy_model_score *route_best_model(struct conn *c, const struct sy_category_cfg *cat) {
        const struct snapshot *s = c->w->snap;
        const struct sy_model_score *best = NULL, *best_up = NULL;

        for (size_t i = 0; i < cat->n_model_scores; i++) {
                const struct sy_model_score *ms = &cat->model_scores[i];
                if (!auth_model_allowed(c, ms->model) || !guard_model_allows(c, ms->model))
                        continue;
                if (!best || ms->score > best->score)
                        best = ms;
                if (model_up(s, ms->model) && (!best_up || ms->score > best_up->score))
                        best_up = ms;
        }
        return best_up ? best_up : best;
}

static enum stage_rc choose(struct conn *c) {
        struct worker *w = c->w;
        const struct sy_config *cfg = c->cfg;
        const struct sy_category_cfg *cat;
        const struct sy_model_score *ms;
        int idx;

        if (!c->clf_verdict)
                return route_fallback(c, c->clf_status ? c->clf_status : "error", c->clf_reason);
        idx = route_find_category(cfg, c->category);
        atomic_fetch_add_explicit(&w->metrics.clf_category[idx >= 0 && idx < 64 ? idx : 64], 1, memory_order_relaxed);
        if (c->confidence < cfg->confidence_threshold)
                return route_fallback(c, "low_confidence", FE_CLF_LOW_CONFIDENCE);
        cat = idx >= 0 ? &cfg->categories[idx] : NULL;
        c->cat_idx = idx;
        worker_refresh_snapshot(w);
        if (cat && cat->n_model_scores > 0 && !(ms = route_best_model(c, cat))) {
                /* every candidate is ruled out by the key or the PII policy:
                 * the first the key allows goes on, and stage_guard blocks it */
                for (size_t i = 0; i < cat->n_model_scores; i++)
                        if (auth_model_allowed(c, cat->model_scores[i].model)) {
                                snprintf(c->model, sizeof c->model, "%s", cat->model_scores[i].model);
                                c->clf_status = "ok";
                                return STAGE_NEXT;
                        }
                snprintf(c->model, sizeof c->model, "%s", cat->model_scores[0].model);
                return STAGE_NEXT; /* run() answers 403 */
        }
        if (!cat || cat->n_model_scores == 0) {
                /* a category the config does not route: the default model
                 * serves (with the category's system prompt, if it has one) */
                return fallback_cat(c, "no_route", FE_CLF_NO_ROUTE, cat ? idx : -1);
        }
        snprintf(c->model, sizeof c->model, "%s", ms->model);
        c->clf_status = "ok";
        c->reasoning = ms->use_reasoning ? 1 : 0;
        return STAGE_NEXT;
}

/* ---- v0.3 decisions ---------------------------------------------------------------- */

void route_worker_fini(struct worker *w) {
        sy_dec_state_free(w->dec);
        w->dec = NULL;
}

const char *route_upstream_model(const struct conn *c) {
        const struct sy_v03_model *m = sy_v03_find_model(c->cfg->v03, c->model);

        return m && m->provider_model_id ? m->provider_model_id : c->model;
}

/* The first of the decision's models that is up and allowed; else the
 * first allowed (stage_pick says it is down, or stage_guard blocks it). */
static const struct sy_model_ref *decision_model(struct conn *c, const struct sy_decision *d) {
        const struct snapshot *s = c->w->snap;
        const struct sy_model_ref *first = NULL;

        for (size_t i = 0; i < d->n_refs; i++) {
                const struct sy_model_ref *r = &d->refs[i];

                if (!auth_model_allowed(c, r->model))
                        continue;
                if (!first)
                        first = r;
                if (guard_model_allows(c, r->model) && model_up(s, r->model))
                        return r;
        }
        return first ? first : d->n_refs ? &d->refs[0] : NULL;
}

static enum stage_rc decide(struct conn *c) {
        struct worker *w = c->w;
        const struct sy_config *cfg = c->cfg;
        const struct sy_v03 *v = cfg->v03;
        const struct sy_decision *d;
        const struct sy_model_ref *ref;
        struct sy_dec_input in = { .jailbreak = -1 };
        struct json_member mem[256];
        float pii[FE_PII_TYPES];
        size_t n = 0;
        int idx;

        if (!c->clf_verdict && (v->uses_jailbreak || v->uses_pii) && c->clf_reason != FE_CLF_NO_TEXT &&
            !cfg->guard.on_classifier_error_allow) {
                /* a guard condition could not be judged: fail closed, as the guards do */
                return guard_unchecked(c, "the decisions' jailbreak / PII signals");
        }
        if (!sy_dec_state_for(w->dec, v)) {
                sy_dec_state_free(w->dec);
                w->dec = NULL;
                if (sy_dec_state_new(v, &w->dec) < 0) {
                        respond_error(c, 503, "server_error", NULL, "out_of_memory", "out of memory");
                        return STAGE_DONE;
                }
        }
        if (!parse_scan_body(c, mem, &n))
                return STAGE_DONE;
        classify_prompt_text(c, mem, n, v->include_history ? 0 : (cfg->classify_turns ? cfg->classify_turns : 1),
                             &c->upbody);
        in.text = c->upbody.p;
        in.len = c->upbody.len;
        if (c->clf_verdict) {
                if (c->confidence >= cfg->confidence_threshold)
                        in.category = c->category;
                in.jailbreak = c->jailbreak;
                in.n_pii = guard_pii_seen(c, pii, &in.pii_types);
                in.pii_score = pii;
        } else if (c->pii_patterns) {
                in.n_pii = guard_pii_seen(c, pii, &in.pii_types); /* found by shape: no verdict needed */
                in.pii_score = pii;
        }
        idx = sy_decide(v, w->dec, &in, c->matched_kw, sizeof c->matched_kw);
        c->upbody.len = 0;
        if (idx < 0) {
                c->clf_status = c->clf_verdict || !c->clf_status ? "no_decision" : c->clf_status;
                return fallback_cat(c, c->clf_status, FE_CLF_NO_ROUTE, -1);
        }
        d = &v->decisions[idx];
        c->decision = idx;
        if (!c->clf_status || c->clf_verdict)
                c->clf_status = "ok";
        if (d->fast_response) {
                guard_fast_response(c, d->fast_response);
                return STAGE_DONE;
        }
        if (d->system_prompt) {
                c->dec_prompt = (struct sy_category_cfg){ .name = d->name,
                                                          .system_prompt = d->system_prompt,
                                                          .system_prompt_insert = d->prompt_insert };
        }
        worker_refresh_snapshot(w);
        ref = decision_model(c, d);
        snprintf(c->model, sizeof c->model, "%s", ref->model);
        c->reasoning = ref->use_reasoning ? 1 : 0;
        return STAGE_NEXT;
}

static enum stage_rc run(struct conn *c) {
        enum stage_rc rc;

        if (!c->is_auto)
                return STAGE_NEXT;
        rc = c->cfg->v03 && c->cfg->v03->n_decisions ? decide(c) : choose(c);
        if (rc == STAGE_NEXT && !auth_model_allowed(c, c->model)) {
                respond_error(c, 403, "invalid_request_error", "model", "model_not_allowed",
                              "this API key may not use model `%s`, which model `auto` chose", c->model);
                return STAGE_DONE;
        }
        return rc;
}

const struct stage stage_route = { "route", run };

/* ---- the rewrites ---------------------------------------------------------------- */

static const struct sy_reasoning_family *family_of(struct conn *c) {
        const struct sy_config *cfg = c->cfg;
        const struct sy_model_cfg *m;

        if (c->reasoning < 0)
                return NULL;
        m = sy_config_find_model(cfg, c->model);
        return m && m->reasoning_family ? sy_config_find_reasoning(cfg, m->reasoning_family) : NULL;
}


static bool role_is(const struct json_member *el, const char *role, struct json_member *ret_content) {
        size_t it = 0;
        struct json_member f;
        bool match = false;
        size_t rl = strlen(role);

        ret_content->val = NULL;
        if (el->type != JSON_OBJECT)
                return false;
        while (json_iter(el->val, el->val_len, &it, &f) == 1) {
                if (proxy_key_is(&f, "role") && f.type == JSON_STRING)
                        match = f.val_len == rl + 2 && memcmp(f.val + 1, role, rl) == 0;
                else if (proxy_key_is(&f, "content"))
                        *ret_content = f;
        }
        return match;
}

/* "messages" with the category's system prompt: replace drops the
 * client's system messages and puts ours first; insert puts ours in front
 * of the first system message's text (or first, if there is none). */
static void write_messages(struct conn *c, const struct json_member *m, const struct sy_category_cfg *cat,
                           struct buf *out) {
        const char *prompt = cat->system_prompt;
        size_t it = 0;
        struct json_member el, content;
        bool first = true, done = false;

        buf_append(out, "\"messages\":[", 12);
        if (!cat->system_prompt_insert) {
                buf_append(out, "{\"role\":\"system\",\"content\":", 27);
                respond_put_json_string(out, prompt, strlen(prompt));
                buf_append(out, "}", 1);
                first = false;
                done = true;
        } else {
                /* is there a system message with text to prepend to? */
                size_t it0 = 0;
                bool found = false;
                while (json_iter(m->val, m->val_len, &it0, &el) == 1)
                        if (role_is(&el, "system", &content) && content.val && content.type == JSON_STRING) {
                                found = true;
                                break;
                        }
                if (!found) {
                        buf_append(out, "{\"role\":\"system\",\"content\":", 27);
                        respond_put_json_string(out, prompt, strlen(prompt));
                        buf_append(out, "}", 1);
                        first = false;
                        done = true;
                }
        }
        while (json_iter(m->val, m->val_len, &it, &el) == 1) {
                bool sys = role_is(&el, "system", &content);
                if (sys && !cat->system_prompt_insert)
                        continue; /* replaced */
                if (!first)
                        buf_append(out, ",", 1);
                first = false;
                if (sys && !done && content.val && content.type == JSON_STRING) {
                        struct buf joined = { 0 };
                        /* prompt, a blank line, the client's text (append_string adds one newline) */
                        buf_append(&joined, prompt, strlen(prompt));
                        buf_append(&joined, "\n", 1);
                        classify_append_string(&joined, content.val, content.val_len);
                        buf_append(out, "{\"role\":\"system\",\"content\":", 27);
                        respond_put_json_string(out, joined.p ? joined.p : "", joined.len);
                        buf_append(out, "}", 1);
                        buf_free(&joined);
                        done = true;
                        continue;
                }
                buf_append(out, el.val, el.val_len);
        }
        buf_append(out, "]", 1);
        c->injected_prompt = true;
}

static bool rewrite_member(struct conn *c, const struct json_member *m, struct buf *out) {
        const struct sy_config *cfg = c->cfg;
        const struct sy_reasoning_family *f;

        if (proxy_key_is(m, "model")) {
                const char *up = route_upstream_model(c);
                buf_append(out, "\"model\":", 8);
                respond_put_json_string(out, up, strlen(up));
                return true;
        }
        if (proxy_key_is(m, "messages") && m->type == JSON_ARRAY && c->decision >= 0 && c->dec_prompt.system_prompt) {
                write_messages(c, m, &c->dec_prompt, out);
                return true;
        }
        if (proxy_key_is(m, "messages") && m->type == JSON_ARRAY && c->cat_idx >= 0 &&
            (size_t)c->cat_idx < cfg->n_categories && cfg->categories[c->cat_idx].system_prompt) {
                write_messages(c, m, &cfg->categories[c->cat_idx], out);
                return true;
        }
        if (proxy_key_is(m, "chat_template_kwargs") && m->type == JSON_OBJECT && (f = family_of(c)) &&
            f->type == SY_REASONING_TEMPLATE_KWARGS) {
                size_t it = 0;
                struct json_member k;
                bool has = false, any = false;
                while (json_iter(m->val, m->val_len, &it, &k) == 1) {
                        any = true;
                        if (proxy_key_is(&k, f->parameter))
                                has = true;
                }
                if (has) {
                        c->reasoning_client = true; /* the client's own setting wins */
                        return false;
                }
                buf_append(out, "\"chat_template_kwargs\":{", 24);
                respond_put_json_string(out, f->parameter, strlen(f->parameter));
                buf_printf(out, ":%s%s", c->reasoning ? "true" : "false", any ? "," : "");
                /* the client's members after ours: the object minus its braces */
                {
                        const char *p = m->val + 1, *e = m->val + m->val_len - 1;
                        if (any)
                                buf_append(out, p, (size_t)(e - p));
                }
                buf_append(out, "}", 1);
                return true;
        }
        return false;
}

static void append_members(struct conn *c, const struct json_member *mem, size_t n, struct buf *out) {
        const struct sy_config *cfg = c->cfg;
        const struct sy_reasoning_family *f = family_of(c);

        if (!f)
                return;
        if (f->type == SY_REASONING_TEMPLATE_KWARGS) {
                if (json_find(mem, n, "chat_template_kwargs"))
                        return; /* rewritten or the client's */
                buf_append(out, ",\"chat_template_kwargs\":{", 25);
                respond_put_json_string(out, f->parameter, strlen(f->parameter));
                buf_printf(out, ":%s}", c->reasoning ? "true" : "false");
        } else if (c->reasoning) {
                if (json_find(mem, n, f->parameter)) {
                        c->reasoning_client = true;
                        return;
                }
                buf_append(out, ",", 1);
                respond_put_json_string(out, f->parameter, strlen(f->parameter));
                buf_append(out, ":", 1);
                respond_put_json_string(out, cfg->default_reasoning_effort, strlen(cfg->default_reasoning_effort));
        }
}

void route_response_headers(struct conn *c, struct buf *out) {
        buf_printf(out, "x-switchyard-classifier: %s\r\n", c->clf_status ? c->clf_status : "ok");
        if (c->clf_verdict) {
                if (c->category[0])
                        buf_printf(out, "x-vsr-selected-category: %s\r\n", c->category);
                buf_printf(out, "x-switchyard-confidence: %.3f\r\n", (double)c->confidence);
                if (c->jailbreak >= 0)
                        buf_printf(out, "x-switchyard-jailbreak: %.3f\r\n", (double)c->jailbreak);
        }
        if (c->reasoning >= 0)
                buf_printf(out, "x-vsr-selected-reasoning: %s\r\n",
                           c->reasoning_client ? "client"
                           : c->reasoning      ? "on"
                                               : "off");
        buf_printf(out, "x-vsr-injected-system-prompt: %s\r\n", c->injected_prompt ? "true" : "false");
        if (c->decision >= 0 && c->cfg->v03 && (size_t)c->decision < c->cfg->v03->n_decisions) {
                buf_printf(out, "x-vsr-selected-decision: %s\r\n", c->cfg->v03->decisions[c->decision].name);
                if (c->matched_kw[0])
                        buf_printf(out, "x-vsr-matched-keywords: %s\r\n", c->matched_kw);
        }
}


/* ---- build: the upstream's body ------------------------------------------------ */

static enum stage_rc build(struct conn *c) {
        struct json_member mem[256];
        size_t n = 0, blen;
        const char *body;

        /* scanned again: the client's buffer may have moved while a verdict
         * or the body was awaited */
        if (!parse_scan_body(c, mem, &n))
                return STAGE_DONE;
        body = proxy_body(c, &blen);
        /* upstream request: a shared head part, then per attempt Host and
         * Content-Length (relay_start), then the body without routing-only
         * fields */
        c->upreq.len = 0;
        buf_printf(&c->upreq, "POST %s%s%s HTTP/1.1\r\nContent-Type: application/json\r\n", c->path,
                   c->query[0] ? "?" : "", c->query);
        buf_append(&c->upreq, c->fwd_headers.p ? c->fwd_headers.p : "", c->fwd_headers.len);
        /* the model served (after routing), for a gateway that routes on it */
        buf_printf(&c->upreq, "%s: %s\r\n", c->cfg->proxy.selected_model_header, c->model);
        c->head_len_up = c->upreq.len;
        c->upbody.len = 0;
        buf_append(&c->upbody, "{", 1);
        for (size_t i = 0, first = 1; i < n; i++) {
                if (parse_is_routing_key(&mem[i]))
                        continue;
                if (!first)
                        buf_append(&c->upbody, ",", 1);
                first = 0;
                if (c->is_auto && rewrite_member(c, &mem[i], &c->upbody))
                        continue;
                if (!c->is_auto && c->cfg->v03 && proxy_key_is(&mem[i], "model")) {
                        const char *up = route_upstream_model(c);
                        buf_append(&c->upbody, "\"model\":", 8);
                        respond_put_json_string(&c->upbody, up, strlen(up));
                        continue;
                }
                buf_append(&c->upbody, body + mem[i].start, mem[i].end - mem[i].start);
        }
        if (c->is_auto)
                append_members(c, mem, n, &c->upbody);
        buf_append(&c->upbody, "}", 1);
        return STAGE_NEXT;
}

const struct stage stage_build = { "build", build };
