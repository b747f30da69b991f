/* model "auto": which text is classified, the round trip to the classifier
 * process over its ring, the verdict -> model decision (category ->
 * highest model_scores entry; below confidence_threshold, or classifier
 * late, down or failing -> default_model), the body rewrites that follow
 * (the category's system prompt, the model family's reasoning switch), the
 * response headers that say what happened, and POST /api/v1/classify.
 *
 * Nothing here waits: a request waiting for its verdict sits on the
 * worker's waiting list with a deadline (classifier.timeout_ms) and the
 * worker serves other connections meanwhile. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "common/log.h"
#include "common/runtime.h"
#include "frontend/frontend-internal.h"
#include "shm/bell.h"
#include "shm/msg.h"

#define CLF_MAX_AGE_NS (1000ULL * 1000000ULL)
#define CLF_CHECK_NS (10ULL * 1000000ULL)
#define MAX_TURNS 16

static unsigned clf_timeout_ms(const struct sy_config *cfg) {
        return cfg->classifier.timeout_ms ? cfg->classifier.timeout_ms : 50;
}

/* ---- the classifier peer ------------------------------------------------------ */

/* A verdict that will not come: the classifier is gone. */
static void fallback(struct conn *c, const char *status, int reason);

bool auto_classifier_alive(struct worker *w) {
        uint64_t now = fe_now_ns();

        if (now - w->clf_checked_ns > CLF_CHECK_NS) {
                bool was = w->clf_alive;
                w->clf_alive = shm_peer_alive(shm_seg_peer(w->fe->seg, SHM_PEER_CLASSIFIER), CLF_MAX_AGE_NS);
                w->clf_checked_ns = now;
                if (was && !w->clf_alive) {
                        /* those waiting now would wait out their deadline for nothing */
                        struct conn *c, *next;
                        for (c = w->waiting; c; c = next) {
                                next = c->pnext;
                                if (c->state != CS_CLASSIFYING)
                                        continue;
                                worker_pending_remove(c);
                                if (c->clf_api) {
                                        c->retry_after_s = 1;
                                        respond_error(c, 503, "server_error", NULL, "classifier_unavailable",
                                                      "the classifier is not running");
                                } else {
                                        fallback(c, "unavailable", FE_CLF_UNAVAILABLE);
                                }
                        }
                }
        }
        return w->clf_alive;
}

static void ring_classifier(struct worker *w) {
        char path[512];
        static const char one = 1;
        struct io_uring_sqe *sqe;

        if (!ring_sp_needs_wake(w->to_clf))
                return;
        if (w->clf_bell < 0) {
                if (sy_runtime_path(w->fe->cfg, path, sizeof path, SY_CLASSIFIER_BELL, 0) < 0 ||
                    bell_open_producer(path, &w->clf_bell) < 0)
                        return;
        }
        /* goes out with the worker's next io_uring submit, as the router's */
        sqe = worker_sqe(w);
        io_uring_prep_write(sqe, w->clf_bell, &one, 1, 0);
        io_uring_sqe_set_data(sqe, NULL);
}

/* ---- the text ------------------------------------------------------------------- */

static bool utf8_cont(unsigned char b) {
        return (b & 0xc0) == 0x80;
}

/* Appends the decoded JSON string value v to out, a newline between pieces. */
static void append_string(struct buf *out, const char *v, size_t len) {
        size_t at = out->len;
        int n;

        if (len < 2)
                return;
        if (at)
                buf_append(out, "\n", 1);
        at = out->len;
        /* decoded is never longer than the raw text */
        if (buf_reserve(out, len) < 0)
                return;
        n = json_string_decode(v, len, out->p + at, len);
        if (n > 0)
                out->len = at + (size_t)n;
}

/* content: a string, or an array of parts of which the {"type":"text"} ones count */
static void append_content(struct buf *out, const struct json_member *content) {
        size_t it = 0;
        struct json_member part;

        if (content->type == JSON_STRING) {
                append_string(out, content->val, content->val_len);
                return;
        }
        if (content->type != JSON_ARRAY)
                return;
        while (json_iter(content->val, content->val_len, &it, &part) == 1) {
                size_t it2 = 0;
                struct json_member f;
                const char *tv = NULL;
                size_t tl = 0;
                bool is_text = false;

                if (part.type == JSON_STRING) {
                        append_string(out, part.val, part.val_len);
                        continue;
                }
                if (part.type != JSON_OBJECT)
                        continue;
                while (json_iter(part.val, part.val_len, &it2, &f) == 1) {
                        if (proxy_key_is(&f, "type") && f.type == JSON_STRING)
                                is_text = (f.val_len == 6 && memcmp(f.val, "\"text\"", 6) == 0) ||
                                          (f.val_len == 12 && memcmp(f.val, "\"input_text\"", 12) == 0);
                        else if (proxy_key_is(&f, "text") && f.type == JSON_STRING)
                                tv = f.val, tl = f.val_len;
                }
                if (is_text && tv)
                        append_string(out, tv, tl);
        }
}

/* The last `turns` user messages, newest first. */
static void user_turns(struct buf *out, const struct json_member *msgs, unsigned turns) {
        struct json_member content[MAX_TURNS];
        unsigned n = 0, total = 0;
        size_t it = 0;
        struct json_member el;

        if (turns > MAX_TURNS)
                turns = MAX_TURNS;
        while (json_iter(msgs->val, msgs->val_len, &it, &el) == 1) {
                size_t it2 = 0;
                struct json_member f, cont = { 0 };
                bool user = false, have = false;

                if (el.type != JSON_OBJECT)
                        continue;
                while (json_iter(el.val, el.val_len, &it2, &f) == 1) {
                        if (proxy_key_is(&f, "role") && f.type == JSON_STRING)
                                user = f.val_len == 6 && memcmp(f.val, "\"user\"", 6) == 0;
                        else if (proxy_key_is(&f, "content"))
                                cont = f, have = true;
                }
                if (user && have)
                        content[total++ % turns] = cont;
        }
        n = total < turns ? total : turns;
        for (unsigned k = 0; k < n; k++)
                append_content(out, &content[(total - 1 - k) % turns]);
}

/* Longer than the ring message allows: keep the head and the tail (where
 * instructions sit in a long paste), cut on UTF-8 boundaries. */
static void head_and_tail(struct buf *t) {
        size_t half = SY_CLASSIFY_MAX_TEXT / 2 - 1, h = half, tl = t->len - half;

        if (t->len <= SY_CLASSIFY_MAX_TEXT)
                return;
        while (h > 0 && utf8_cont((unsigned char)t->p[h]))
                h--;
        while (tl < t->len && utf8_cont((unsigned char)t->p[tl]))
                tl++;
        t->p[h] = '\n';
        memmove(t->p + h + 1, t->p + tl, t->len - tl);
        t->len = h + 1 + (t->len - tl);
}

/* What is classified: the last user message (classify_turns: the last N,
 * newest first) of "messages" (chat) or "input" (responses); "prompt"
 * (completions; of an array, the last string). */
static void prompt_text(struct conn *c, const struct json_member *mem, size_t n, struct buf *out) {
        const struct sy_config *cfg = c->w->fe->cfg;
        const struct json_member *m;

        out->len = 0;
        if ((m = json_find(mem, n, "messages")) && m->type == JSON_ARRAY) {
                user_turns(out, m, cfg->classify_turns ? cfg->classify_turns : 1);
        } else if ((m = json_find(mem, n, "input")) && m->type == JSON_ARRAY) {
                user_turns(out, m, cfg->classify_turns ? cfg->classify_turns : 1);
        } else if ((m = json_find(mem, n, "input")) && m->type == JSON_STRING) {
                append_string(out, m->val, m->val_len);
        } else if ((m = json_find(mem, n, "prompt"))) {
                if (m->type == JSON_STRING) {
                        append_string(out, m->val, m->val_len);
                } else if (m->type == JSON_ARRAY) {
                        size_t it = 0;
                        struct json_member el, last = { 0 };
                        while (json_iter(m->val, m->val_len, &it, &el) == 1)
                                if (el.type == JSON_STRING)
                                        last = el;
                        if (last.val)
                                append_string(out, last.val, last.val_len);
                }
        }
        head_and_tail(out);
}

/* ---- asking ----------------------------------------------------------------------- */

static int send_classify(struct conn *c, const char *text, size_t len, uint16_t flags) {
        struct worker *w = c->w;
        struct sy_classify_req q = { .text_len = (uint32_t)len, .flags = flags };
        struct iovec iov[2];

        c->req_id = ++w->next_req_id;
        q.req_id = c->req_id;
        iov[0] = (struct iovec){ &q, sizeof q };
        iov[1] = (struct iovec){ (void *)text, len };
        if (ring_sp_pushv(w->to_clf, SY_MSG_CLASSIFY_REQ, iov, 2) < 0)
                return -ENOBUFS;
        ring_classifier(w);
        atomic_fetch_add_explicit(&w->metrics.clf_requests, 1, memory_order_relaxed);
        c->state = CS_CLASSIFYING;
        c->t_clf_ns = fe_now_ns();
        c->pick_deadline_ns = c->t_clf_ns + (uint64_t)clf_timeout_ms(w->fe->cfg) * 1000000ULL;
        worker_waiting_add(c);
        return 0;
}

static void fallback_cat(struct conn *c, const char *status, int reason, int cat_idx) {
        const struct sy_config *cfg = c->w->fe->cfg;

        atomic_fetch_add_explicit(&c->w->metrics.clf_fallback[reason], 1, memory_order_relaxed);
        c->clf_status = status;
        c->cat_idx = cat_idx;
        c->reasoning = -1;
        if (!cfg->default_model) {
                c->retry_after_s = 1;
                respond_error(c, 503, "server_error", "model", "classifier_unavailable",
                              "model `%s` needs the classifier (%s), and no default_model is configured",
                              c->model, status);
                return;
        }
        snprintf(c->model, sizeof c->model, "%s", cfg->default_model);
        proxy_continue(c);
}

static void fallback(struct conn *c, const char *status, int reason) {
        fallback_cat(c, status, reason, -1);
}

void auto_start(struct conn *c, const struct json_member *mem, size_t n) {
        struct worker *w = c->w;
        struct buf *text = &c->upbody; /* free until the upstream body is built */
        const struct json_member *m;
        int r;

        c->cat_idx = -1;
        if (c->clf_api) {
                m = json_find(mem, n, "text");
                if (!m || m->type != JSON_STRING) {
                        respond_error(c, 400, "invalid_request_error", "text", "missing_required_parameter",
                                      "the body must be {\"text\": \"...\"}");
                        return;
                }
                text->len = 0;
                append_string(text, m->val, m->val_len);
                c->clf_truncated = text->len > SY_CLASSIFY_MAX_TEXT;
                head_and_tail(text);
                if (!auto_classifier_alive(w)) {
                        c->retry_after_s = 1;
                        respond_error(c, 503, "server_error", NULL, "classifier_unavailable",
                                      "the classifier is not running");
                        return;
                }
                if (send_classify(c, text->p ? text->p : "", text->len, SY_CLASSIFY_PII) < 0) {
                        c->retry_after_s = 1;
                        respond_error(c, 503, "server_error", NULL, "classifier_busy",
                                      "the classifier's queue is full");
                }
                return;
        }
        prompt_text(c, mem, n, text);
        if (text->len == 0) {
                fallback(c, "no_text", FE_CLF_NO_TEXT);
                return;
        }
        if (!auto_classifier_alive(w)) {
                fallback(c, "unavailable", FE_CLF_UNAVAILABLE);
                return;
        }
        r = send_classify(c, text->p, text->len, 0);
        text->len = 0;
        if (r < 0)
                fallback(c, "ring_full", FE_CLF_RING_FULL);
}

void auto_classify_timeout(struct conn *c) {
        if (c->clf_api) {
                c->retry_after_s = 1;
                respond_error(c, 503, "server_error", NULL, "classifier_timeout",
                              "the classifier did not answer within %u ms", clf_timeout_ms(c->w->fe->cfg));
                return;
        }
        fallback(c, "timeout", FE_CLF_TIMEOUT);
}

/* ---- the verdict ------------------------------------------------------------------ */

/* Category names compare case-insensitively, '_' and ' ' alike
 * ("computer_science" is "computer science"). */
static bool category_eq(const char *a, const char *b) {
        for (;; a++, b++) {
                int x = *a == '_' ? ' ' : tolower((unsigned char)*a);
                int y = *b == '_' ? ' ' : tolower((unsigned char)*b);

                if (x != y)
                        return false;
                if (!x)
                        return true;
        }
}

static int find_category(const struct sy_config *cfg, const char *name) {
        for (size_t i = 0; i < cfg->n_categories; i++)
                if (category_eq(cfg->categories[i].name, name))
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

/* The category's best-scored model that is up; if none is, the best one. */
static const struct sy_model_score *best_model(const struct snapshot *s, const struct sy_category_cfg *cat) {
        const struct sy_model_score *best = NULL, *best_up = NULL;

        for (size_t i = 0; i < cat->n_model_scores; i++) {
                const struct sy_model_score *ms = &cat->model_scores[i];
                if (!best || ms->score > best->score)
                        best = ms;
                if (model_up(s, ms->model) && (!best_up || ms->score > best_up->score))
                        best_up = ms;
        }
        return best_up ? best_up : best;
}

static void safe_label(char *dst, size_t cap, const char *src) {
        size_t i;

        for (i = 0; i + 1 < cap && src[i]; i++)
                dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
        dst[i] = 0;
}

static void route(struct conn *c, const struct sy_classify_resp *r) {
        struct worker *w = c->w;
        const struct sy_config *cfg = w->fe->cfg;
        const struct sy_category_cfg *cat;
        const struct sy_model_score *ms;
        int idx;

        if (r->status < 0) {
                fallback(c, "error", FE_CLF_ERROR);
                return;
        }
        if (cfg->classifier.jailbreak_block && r->jailbreak >= 0 &&
            r->jailbreak >= (float)cfg->classifier.jailbreak.threshold) {
                /* prompt_guard: refused, as the vLLM Semantic Router does */
                atomic_fetch_add_explicit(&w->metrics.clf_blocked, 1, memory_order_relaxed);
                respond_error(c, 400, "invalid_request_error", "messages", "jailbreak_detected",
                              "the prompt was flagged as a jailbreak attempt (score %.2f)", (double)r->jailbreak);
                return;
        }
        idx = find_category(cfg, c->category);
        atomic_fetch_add_explicit(&w->metrics.clf_category[idx >= 0 && idx < 64 ? idx : 64], 1,
                                  memory_order_relaxed);
        if (r->confidence < cfg->confidence_threshold) {
                fallback(c, "low_confidence", FE_CLF_LOW_CONFIDENCE);
                return;
        }
        cat = idx >= 0 ? &cfg->categories[idx] : NULL;
        worker_refresh_snapshot(w);
        if (!cat || cat->n_model_scores == 0 || !(ms = best_model(w->snap, cat))) {
                /* a category the config does not route: the default model
                 * serves (with the category's system prompt, if it has one) */
                fallback_cat(c, "no_route", FE_CLF_NO_ROUTE, cat ? idx : -1);
                return;
        }
        snprintf(c->model, sizeof c->model, "%s", ms->model);
        c->clf_status = "ok";
        c->cat_idx = idx;
        c->reasoning = ms->use_reasoning ? 1 : 0;
        proxy_continue(c);
}

static void api_answer(struct conn *c, const struct sy_classify_resp *r, const struct sy_pii_span *spans) {
        const struct sy_config *cfg = c->w->fe->cfg;
        const struct buf *text = &c->upbody;
        struct buf o = { 0 };
        char enc[SY_CLASSIFY_LABEL * 6 + 4];
        const char *model = cfg->default_model, *reason = "low_confidence";
        int idx, n;

        if (r->status < 0) {
                respond_error(c, 500, "server_error", NULL, "classifier_error",
                              "the classifier failed on this text (%s)", strerror(-r->status));
                return;
        }
        idx = find_category(cfg, c->category);
        if (r->confidence >= cfg->confidence_threshold) {
                const struct sy_model_score *ms = idx >= 0 ? best_model(c->w->snap, &cfg->categories[idx]) : NULL;
                model = ms ? ms->model : cfg->default_model;
                reason = ms ? "ok" : "no_route";
        }
        n = json_string_encode(c->category, strlen(c->category), enc, sizeof enc);
        buf_printf(&o, "{\"object\":\"classification\",\"tokens\":%u,\"text_bytes\":%zu,\"truncated\":%s,"
                       "\"category\":{\"name\":%.*s,\"confidence\":%.4f,\"configured\":%s},",
                   r->tokens, text->len, c->clf_truncated ? "true" : "false", n > 0 ? n : 2, n > 0 ? enc : "\"\"",
                   (double)r->confidence, idx >= 0 ? "true" : "false");
        if (model) {
                n = json_string_encode(model, strlen(model), enc, sizeof enc);
                buf_printf(&o, "\"routing\":{\"model\":%.*s,\"reason\":\"%s\"},", n > 0 ? n : 2, n > 0 ? enc : "\"\"",
                           reason);
        } else {
                buf_printf(&o, "\"routing\":{\"model\":null,\"reason\":\"%s\"},", reason);
        }
        if (r->jailbreak >= 0)
                buf_printf(&o, "\"jailbreak\":{\"score\":%.4f,\"detected\":%s},", (double)r->jailbreak,
                           r->jailbreak >= 0.5f ? "true" : "false");
        else
                buf_printf(&o, "\"jailbreak\":null,");
        buf_printf(&o, "\"pii\":[");
        for (uint16_t k = 0; k < r->n_spans; k++) {
                const struct sy_pii_span *sp = &spans[k];
                char type[SY_CLASSIFY_LABEL];
                if (sp->start > sp->end || sp->end > text->len)
                        continue;
                safe_label(type, sizeof type, sp->type);
                buf_printf(&o, "%s{\"type\":\"%s\",\"start\":%u,\"end\":%u,\"score\":%.4f,\"text\":", k ? "," : "",
                           type, sp->start, sp->end, (double)sp->score);
                {
                        size_t len = sp->end - sp->start, at = o.len;
                        if (buf_reserve(&o, len * 6 + 2) == 0) {
                                int e = json_string_encode(text->p + sp->start, len, o.p + at, len * 6 + 2);
                                if (e > 0)
                                        o.len = at + (size_t)e;
                        }
                }
                buf_append(&o, "}", 1);
        }
        buf_printf(&o, "],\"classifier\":{\"queue_us\":%u,\"run_us\":%u,\"batch\":%u,\"wait_us\":%llu}}\n",
                   r->queue_us, r->run_us, r->batch, (unsigned long long)((fe_now_ns() - c->t_clf_ns) / 1000));
        respond_json(c, 200, o.p ? o.p : "{}", o.len);
        buf_free(&o);
}

void auto_classify_reply(struct worker *w, const void *msg, uint32_t len) {
        const struct sy_classify_resp *r = msg;
        const struct sy_pii_span *spans = (const struct sy_pii_span *)(r + 1);
        struct conn *c;

        if (len < sizeof *r || r->n_spans > SY_CLASSIFY_MAX_SPANS ||
            len < sizeof *r + (size_t)r->n_spans * sizeof *spans)
                return;
        c = worker_pending_take(w, r->req_id, CS_CLASSIFYING);
        if (!c)
                return; /* we gave up waiting */
        metrics_observe(&w->metrics.clf_wait, fe_now_ns() - c->t_clf_ns);
        metrics_observe(&w->metrics.clf_run, (uint64_t)r->run_us * 1000ULL);
        atomic_fetch_add_explicit(&w->metrics.clf_batch_sum, r->batch, memory_order_relaxed);
        if (r->jailbreak >= 0.5f)
                atomic_fetch_add_explicit(&w->metrics.clf_jailbreak, 1, memory_order_relaxed);
        safe_label(c->category, sizeof c->category, r->status < 0 ? "" : r->category);
        c->confidence = r->confidence;
        c->jailbreak = r->jailbreak;
        c->clf_verdict = r->status == 0;
        if (c->clf_api)
                api_answer(c, r, spans);
        else
                route(c, r);
}

/* ---- the rewrites ---------------------------------------------------------------- */

static const struct sy_reasoning_family *family_of(struct conn *c) {
        const struct sy_config *cfg = c->w->fe->cfg;
        const struct sy_model_cfg *m;

        if (c->reasoning < 0)
                return NULL;
        m = sy_config_find_model(cfg, c->model);
        return m && m->reasoning_family ? sy_config_find_reasoning(cfg, m->reasoning_family) : NULL;
}

static void put_string(struct buf *out, const char *s, size_t len) {
        size_t at = out->len;
        int n;

        if (buf_reserve(out, len * 6 + 2) < 0)
                return;
        n = json_string_encode(s, len, out->p + at, len * 6 + 2);
        if (n > 0)
                out->len = at + (size_t)n;
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
                put_string(out, prompt, strlen(prompt));
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
                        put_string(out, prompt, strlen(prompt));
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
                        append_string(&joined, content.val, content.val_len);
                        buf_append(out, "{\"role\":\"system\",\"content\":", 27);
                        put_string(out, joined.p ? joined.p : "", joined.len);
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

bool auto_rewrite_member(struct conn *c, const struct json_member *m, struct buf *out) {
        const struct sy_config *cfg = c->w->fe->cfg;
        const struct sy_reasoning_family *f;

        if (proxy_key_is(m, "model")) {
                buf_append(out, "\"model\":", 8);
                put_string(out, c->model, strlen(c->model));
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
                put_string(out, f->parameter, strlen(f->parameter));
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

void auto_append_members(struct conn *c, const struct json_member *mem, size_t n, struct buf *out) {
        const struct sy_config *cfg = c->w->fe->cfg;
        const struct sy_reasoning_family *f = family_of(c);

        if (!f)
                return;
        if (f->type == SY_REASONING_TEMPLATE_KWARGS) {
                if (json_find(mem, n, "chat_template_kwargs"))
                        return; /* rewritten or the client's */
                buf_append(out, ",\"chat_template_kwargs\":{", 25);
                put_string(out, f->parameter, strlen(f->parameter));
                buf_printf(out, ":%s}", c->reasoning ? "true" : "false");
        } else if (c->reasoning) {
                if (json_find(mem, n, f->parameter)) {
                        c->reasoning_client = true;
                        return;
                }
                buf_append(out, ",", 1);
                put_string(out, f->parameter, strlen(f->parameter));
                buf_append(out, ":", 1);
                put_string(out, cfg->default_reasoning_effort, strlen(cfg->default_reasoning_effort));
        }
}

void auto_response_headers(struct conn *c, struct buf *out) {
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
                           c->reasoning_client ? "client" : c->reasoning ? "on" : "off");
        buf_printf(out, "x-vsr-injected-system-prompt: %s\r\n", c->injected_prompt ? "true" : "false");
}
