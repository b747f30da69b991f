/* Stage classify: one classifier pass when the request needs one (model
 * "auto": the category; a guard that applies: jailbreak and PII heads):
 * which text is read, the round trip to the classifier process over its
 * ring, the verdict kept for stage_route and stage_guard; and POST
 * /api/v1/classify, answered here. Without a verdict (classifier late, down,
 * failing) the request goes on with clf_verdict false and clf_status saying
 * why: stage_route falls back to default_model, stage_guard decides what a
 * guard without a verdict means.
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
#include "proto/runtime.h"
#include "frontend/frontend-internal.h"
#include "frontend/pii_patterns.h"
#include "shm/bell.h"
#include "proto/msg.h"

#define CLF_MAX_AGE_NS (1000ULL * 1000000ULL)
#define CLF_CHECK_NS (10ULL * 1000000ULL)
#define MAX_TURNS 64

static unsigned clf_timeout_ms(const struct sy_config *cfg) {
        return cfg->classifier.timeout_ms ? cfg->classifier.timeout_ms : 50;
}

/* ---- the classifier peer ------------------------------------------------------ */

/* A verdict that will not come: the request goes on without one. */
static enum stage_rc no_verdict(struct conn *c, const char *status, int reason) {
        c->clf_status = status;
        c->clf_reason = reason;
        c->clf_verdict = false;
        return STAGE_NEXT;
}

bool classify_alive(struct worker *w) {
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
                                        no_verdict(c, "unavailable", FE_CLF_UNAVAILABLE);
                                        pipeline_resume(c);
                                }
                        }
                }
        }
        return w->clf_alive;
}

static void ring_classifier(struct worker *w) {
        worker_ring_bell(w, w->to_clf, &w->clf_bell, SY_CLASSIFIER_BELL);
}

/* ---- the text ------------------------------------------------------------------- */

static bool utf8_cont(unsigned char b) {
        return (b & 0xc0) == 0x80;
}

/* Appends the decoded JSON string value v to out, a newline between pieces. */
void classify_append_string(struct buf *out, const char *v, size_t len) {
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
                classify_append_string(out, content->val, content->val_len);
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
                        classify_append_string(out, part.val, part.val_len);
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
                        classify_append_string(out, tv, tl);
        }
}

/* The last `turns` user messages (0: every one, up to MAX_TURNS), newest first. */
static void user_turns(struct buf *out, const struct json_member *msgs, unsigned turns) {
        struct json_member content[MAX_TURNS];
        unsigned n = 0, total = 0;
        size_t it = 0;
        struct json_member el;

        if (turns == 0 || turns > MAX_TURNS)
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
void classify_prompt_text(struct conn *c, const struct json_member *mem, size_t n, unsigned turns, struct buf *out) {
        const struct json_member *m;

        out->len = 0;
        if ((m = json_find(mem, n, "messages")) && m->type == JSON_ARRAY) {
                user_turns(out, m, turns);
        } else if ((m = json_find(mem, n, "input")) && m->type == JSON_ARRAY) {
                user_turns(out, m, turns);
        } else if ((m = json_find(mem, n, "input")) && m->type == JSON_STRING) {
                classify_append_string(out, m->val, m->val_len);
        } else if ((m = json_find(mem, n, "prompt"))) {
                if (m->type == JSON_STRING) {
                        classify_append_string(out, m->val, m->val_len);
                } else if (m->type == JSON_ARRAY) {
                        size_t it = 0;
                        struct json_member el, last = { 0 };
                        while (json_iter(m->val, m->val_len, &it, &el) == 1)
                                if (el.type == JSON_STRING)
                                        last = el;
                        if (last.val)
                                classify_append_string(out, last.val, last.val_len);
                }
        }
}

/* ---- asking ----------------------------------------------------------------------- */

static int send_classify(struct conn *c, const char *text, size_t len, uint16_t flags, double pii_threshold) {
        struct worker *w = c->w;
        struct sy_classify_req q = { .text_len = (uint32_t)len, .flags = flags };

        if (pii_threshold > 0)
                q.pii_threshold_q = (uint16_t)(pii_threshold * 65535.0 + 0.5);
        struct iovec iov[2];

        c->req_id = ++w->next_req_id;
        q.req_id = c->req_id;
        iov[0] = (struct iovec){ &q, sizeof q };
        iov[1] = (struct iovec){ (void *)text, len };
        if (ring_sp_pushv(w->to_clf, SY_MSG_CLASSIFY_REQ, iov, 2) < 0)
                return -ENOBUFS;
        ring_classifier(w);
        atomic_fetch_add_explicit(&w->metrics.clf_requests, 1, memory_order_relaxed);
        FE_MARK(enqueued, c);
        c->state = CS_CLASSIFYING;
        c->t_clf_ns = fe_now_ns();
        c->pick_deadline_ns = c->t_clf_ns + (uint64_t)clf_timeout_ms(c->cfg) * 1000000ULL;
        worker_waiting_add(c);
        return 0;
}

static enum stage_rc classify_api(struct conn *c, const struct json_member *mem, size_t n) {
        struct worker *w = c->w;
        struct buf *text = &c->upbody; /* the API builds no upstream body */
        const struct json_member *m = json_find(mem, n, "text");

        if (!m || m->type != JSON_STRING) {
                respond_error(c, 400, "invalid_request_error", "text", "missing_required_parameter",
                              "the body must be {\"text\": \"...\"}");
                return STAGE_DONE;
        }
        text->len = 0;
        classify_append_string(text, m->val, m->val_len);
        c->clf_truncated = text->len > SY_CLASSIFY_MAX_TEXT;
        head_and_tail(text);
        if (!classify_alive(w)) {
                c->retry_after_s = 1;
                respond_error(c, 503, "server_error", NULL, "classifier_unavailable", "the classifier is not running");
                return STAGE_DONE;
        }
        if (send_classify(c, text->p ? text->p : "", text->len, SY_CLASSIFY_PII, 0) < 0) {
                c->retry_after_s = 1;
                respond_error(c, 503, "server_error", NULL, "classifier_busy", "the classifier's queue is full");
                return STAGE_DONE;
        }
        return STAGE_SUSPEND; /* classify_reply answers */
}

static enum stage_rc run(struct conn *c) {
        struct worker *w = c->w;
        const struct sy_config *cfg = c->cfg;
        struct json_member mem[256];
        size_t n = 0;
        struct buf *text = &c->upbody; /* free until the upstream body is built */
        bool jb = false, pii = false, guards;
        unsigned turns = cfg->classify_turns ? cfg->classify_turns : 1;
        uint16_t flags = 0;
        double pii_threshold = 0;
        int r;

        c->cat_idx = -1;
        c->clf_verdict = false;
        c->decision = -1;
        c->matched_kw[0] = 0;
        guards = !c->clf_api && guard_wanted(c, &jb, &pii);
        if (!c->clf_api && !c->is_auto && !guards)
                return STAGE_NEXT; /* nothing to ask: no classifier pass, nothing paid */
        if (c->is_auto && !guards && cfg->v03 && cfg->v03->n_decisions && !cfg->v03->uses_domain &&
            !cfg->v03->uses_jailbreak && !cfg->v03->uses_pii)
                return no_verdict(c, "not_needed", FE_CLF_NO_TEXT); /* keywords only: no classifier pass */
        if (!parse_scan_body(c, mem, &n))
                return STAGE_DONE;
        if (c->clf_api)
                return classify_api(c, mem, n);
        c->need_category = c->is_auto;
        c->need_jailbreak = jb;
        c->need_pii = pii;
        if (guards && cfg->guard.include_history)
                turns = 0;
        if (pii) {
                flags |= SY_CLASSIFY_PII;
                pii_threshold = guard_pii_threshold(c);
        }
        if (c->is_auto && cfg->v03 && cfg->v03->n_decisions) {
                /* the decisions' signals: what they need of the classifier */
                const struct sy_v03 *v = cfg->v03;

                c->need_category = v->uses_domain;
                if (v->include_history)
                        turns = 0;
                if (v->uses_pii) {
                        flags |= SY_CLASSIFY_PII;
                        pii_threshold =
                                pii && pii_threshold < v->pii_min_threshold ? pii_threshold : v->pii_min_threshold;
                        pii = true;
                }
        }
        if (!c->need_category)
                flags |= SY_CLASSIFY_NO_CATEGORY;
        classify_prompt_text(c, mem, n, turns, text);
        if (text->len == 0)
                return no_verdict(c, "no_text", FE_CLF_NO_TEXT);
        /* structured PII by shape, over all of the text (the classifier
         * reads its head and tail only) */
        if (pii)
                c->pii_patterns = pii_patterns_scan(text->p, text->len);
        head_and_tail(text);
        if (!classify_alive(w))
                return no_verdict(c, "unavailable", FE_CLF_UNAVAILABLE);
        r = send_classify(c, text->p, text->len, flags, pii_threshold);
        text->len = 0;
        if (r < 0)
                return no_verdict(c, "ring_full", FE_CLF_RING_FULL);
        return STAGE_SUSPEND;
}

const struct stage stage_classify = { "classify", run };

void classify_timeout(struct conn *c) {
        if (c->clf_api) {
                c->retry_after_s = 1;
                respond_error(c, 503, "server_error", NULL, "classifier_timeout",
                              "the classifier did not answer within %u ms", clf_timeout_ms(c->cfg));
                return;
        }
        no_verdict(c, "timeout", FE_CLF_TIMEOUT);
        pipeline_resume(c);
}

static void safe_label(char *dst, size_t cap, const char *src) {
        size_t i;

        for (i = 0; i + 1 < cap && src[i]; i++)
                dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
        dst[i] = 0;
}

static void api_answer(struct conn *c, const struct sy_classify_resp *r, const struct sy_pii_span *spans) {
        const struct sy_config *cfg = c->cfg;
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
        idx = route_find_category(cfg, c->category);
        if (r->confidence >= cfg->confidence_threshold) {
                const struct sy_model_score *ms = idx >= 0 ? route_best_model(c, &cfg->categories[idx]) : NULL;
                model = ms ? ms->model : cfg->default_model;
                reason = ms ? "ok" : "no_route";
        }
        n = json_string_encode(c->category, strlen(c->category), enc, sizeof enc);
        buf_printf(&o,
                   "{\"object\":\"classification\",\"tokens\":%u,\"text_bytes\":%zu,\"truncated\":%s,"
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
                           r->jailbreak >= (float)cfg->classifier.jailbreak.threshold ? "true" : "false");
        else
                buf_printf(&o, "\"jailbreak\":null,");
        buf_printf(&o, "\"pii\":[");
        for (uint16_t k = 0, shown = 0; k < r->n_spans; k++) {
                const struct sy_pii_span *sp = &spans[k];
                char type[SY_CLASSIFY_LABEL];
                if (sp->start > sp->end || sp->end > text->len)
                        continue;
                safe_label(type, sizeof type, sp->type);
                buf_printf(&o,
                           "%s{\"type\":\"%s\",\"start\":%u,\"end\":%u,\"score\":%.4f,\"text\":", shown++ ? "," : "",
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
        buf_printf(&o, "],\"classifier\":{\"queue_us\":%u,\"run_us\":%u,\"batch\":%u,\"wait_us\":%llu}}\n", r->queue_us,
                   r->run_us, r->batch, (unsigned long long)((fe_now_ns() - c->t_clf_ns) / 1000));
        respond_json(c, 200, o.p ? o.p : "{}", o.len);
        buf_free(&o);
}

void classify_reply(struct worker *w, const void *msg, uint32_t len) {
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
        FE_MARK(classified, c);
        metrics_observe(&w->metrics.clf_run, (uint64_t)r->run_us * 1000ULL);
        atomic_fetch_add_explicit(&w->metrics.clf_batch_sum, r->batch, memory_order_relaxed);
        if (r->jailbreak >= 0.5f)
                atomic_fetch_add_explicit(&w->metrics.clf_jailbreak, 1, memory_order_relaxed);
        safe_label(c->category, sizeof c->category, r->status < 0 ? "" : r->category);
        c->confidence = r->confidence;
        c->jailbreak = r->jailbreak;
        c->clf_verdict = r->status == 0;
        if (c->clf_api) {
                api_answer(c, r, spans);
                return;
        }
        if (r->status < 0) {
                no_verdict(c, "error", FE_CLF_ERROR);
        } else {
                c->clf_status = "ok";
                guard_take_spans(c, spans, r->n_spans);
        }
        pipeline_resume(c);
}
