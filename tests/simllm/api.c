/* The endpoints: OpenAI-compatible completions, chat completions and
 * embeddings (non-streaming and SSE), models, health, Prometheus metrics
 * with vLLM's or SGLang's names, and the /sim/ control endpoints. */
#include "tests/simllm/simllm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"

#define MAX_MEMBERS 64
#define MAX_MODEL_NAME 256
#define JSON_CT "application/json"

static const struct json_limits body_limits = { .max_depth = 64, .max_members = MAX_MEMBERS };

static void count(_Atomic uint64_t *p) {
        atomic_fetch_add_explicit(p, 1, memory_order_relaxed);
}

static struct sim_stats *stats_of(struct conn *c) {
        return &c->w->sim->stats[c->w->idx];
}

static bool key_is(const struct json_member *m, const char *key) {
        size_t n = strlen(key);

        return m->key && m->key_len == n && memcmp(m->key, key, n) == 0;
}

/* ---- responses ---- */

void api_error_body(struct sbuf *b, const char *msg, const char *type, const char *param, const char *code) {
        sbuf_puts(b, "{\"error\":{\"message\":\"");
        sbuf_json_esc(b, msg, strlen(msg));
        sbuf_puts(b, "\",\"type\":\"");
        sbuf_puts(b, type);
        sbuf_puts(b, "\",\"param\":");
        if (param) {
                sbuf_add(b, "\"", 1);
                sbuf_puts(b, param);
                sbuf_add(b, "\"", 1);
        } else {
                sbuf_puts(b, "null");
        }
        sbuf_puts(b, ",\"code\":");
        sbuf_puts(b, code ? code : "null"); /* raw JSON */
        sbuf_puts(b, "}}");
}

static void respond_body(struct conn *c, int status, const char *ctype, bool xhdr, struct sbuf *b) {
        if (b->oom) {
                static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
                                          "\"param\":null,\"code\":null}}";

                b->oom = false;
                b->len = 0;
                conn_respond(c, 500, JSON_CT, NULL, 0, oom, sizeof oom - 1);
                return;
        }
        conn_respond(c, status, ctype, xhdr ? c->xhdr.p : NULL, xhdr ? c->xhdr.len : 0, b->p, b->len);
}

static int respond_error(struct conn *c, int status, const char *msg, const char *type, const char *param,
                         const char *code, bool xhdr) {
        struct sbuf *b = &c->w->tmp;

        b->len = 0;
        api_error_body(b, msg, type, param, code);
        respond_body(c, status, JSON_CT, xhdr, b);
        return 0;
}

static int bad_request(struct conn *c, const char *msg, const char *param, bool xhdr) {
        count(&stats_of(c)->bad_requests);
        return respond_error(c, 400, msg, "invalid_request_error", param, NULL, xhdr);
}

static int not_found(struct conn *c) {
        return respond_error(c, 404, "Not Found", "invalid_request_error", NULL, NULL, false);
}

static int method_not_allowed(struct conn *c) {
        return respond_error(c, 405, "Method Not Allowed", "invalid_request_error", NULL, NULL, false);
}

static int respond_json_scan_error(struct conn *c, int r, size_t err_off) {
        char msg[96];

        if (r == -EPROTOTYPE)
                snprintf(msg, sizeof msg, "request body must be a JSON object");
        else if (r == -E2BIG)
                snprintf(msg, sizeof msg, "request body too deep or too many fields");
        else
                snprintf(msg, sizeof msg, "invalid JSON in request body at byte %zu", err_off);
        return bad_request(c, msg, NULL, false);
}

/* x-simllm-model and x-simllm-body-keys for the current request. */
static void set_xhdr(struct conn *c, const char *model, size_t model_len, const struct json_member *m, size_t n) {
        struct sbuf *b = &c->xhdr;

        b->len = 0;
        b->oom = false;
        sbuf_puts(b, "x-simllm-model: ");
        for (size_t i = 0; i < model_len; i++) {
                unsigned char ch = (unsigned char)model[i];

                sbuf_add(b, ch < 0x20 || ch == 0x7f ? "?" : &model[i], 1);
        }
        sbuf_puts(b, "\r\nx-simllm-body-keys: ");
        for (size_t i = 0; i < n; i++) {
                if (i)
                        sbuf_add(b, ",", 1);
                for (size_t j = 0; j < m[i].key_len; j++) {
                        unsigned char ch = (unsigned char)m[i].key[j];

                        sbuf_add(b, ch < 0x20 || ch == 0x7f ? "?" : &m[i].key[j], 1);
                }
        }
        sbuf_puts(b, "\r\nx-simllm-header-names: ");
        sbuf_puts(b, c->ri.hdr_names);
        sbuf_puts(b, "\r\nx-simllm-selected-model: ");
        sbuf_puts(b, c->ri.selected_model);
        sbuf_puts(b, "\r\n");
        if (c->w->sim->o.echo_header) {
                sbuf_puts(b, "x-simllm-echo: ");
                sbuf_puts(b, c->ri.echo);
                sbuf_puts(b, "\r\n");
        }
        if (b->oom)
                b->len = 0;
}

/* ---- request fields ---- */

static int member_int(const struct json_member *m, int64_t lo, int64_t hi, int64_t *ret) {
        char tmp[32], *end;
        long long v;

        if (m->type != JSON_NUMBER || m->val_len >= sizeof tmp)
                return -EINVAL;
        memcpy(tmp, m->val, m->val_len);
        tmp[m->val_len] = 0;
        errno = 0;
        v = strtoll(tmp, &end, 10);
        if (errno || *end || v < lo || v > hi)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int member_double(const struct json_member *m, double lo, double hi, double *ret) {
        char tmp[64], *end;
        double v;

        if (m->type != JSON_NUMBER || m->val_len >= sizeof tmp)
                return -EINVAL;
        memcpy(tmp, m->val, m->val_len);
        tmp[m->val_len] = 0;
        v = strtod(tmp, &end);
        if (*end || !(v >= lo && v <= hi))
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Decoded byte length of a JSON string value. */
static int string_bytes(struct worker *w, const struct json_member *m, uint64_t *acc) {
        int n;

        if (sbuf_reserve(&w->tmp2, m->val_len) < 0)
                return -ENOMEM;
        n = json_string_decode(m->val, m->val_len, w->tmp2.p, w->tmp2.cap);
        if (n < 0)
                return n;
        *acc += (uint64_t)n;
        return 0;
}

/* Text bytes of a prompt-like value: a string, token ids (4 bytes each),
 * content parts ({"type":"text","text":...}) or arrays of those. */
static int text_bytes(struct worker *w, const struct json_member *v, unsigned depth, uint64_t *acc) {
        struct json_member e;
        size_t it = 0;
        int r;

        switch (v->type) {
        case JSON_STRING:
                return string_bytes(w, v, acc);
        case JSON_NUMBER:
                *acc += 4;
                return 0;
        case JSON_NULL:
                return 0;
        case JSON_ARRAY:
        case JSON_OBJECT:
                if (depth > 4)
                        return -EINVAL;
                while ((r = json_iter(v->val, v->val_len, &it, &e)) > 0) {
                        if (v->type == JSON_OBJECT && !key_is(&e, "text"))
                                continue;
                        r = text_bytes(w, &e, depth + 1, acc);
                        if (r < 0)
                                return r;
                }
                return r;
        default:
                return -EINVAL;
        }
}

/* Sum of the messages' content bytes. */
static int messages_bytes(struct worker *w, const struct json_member *msgs, uint64_t *acc) {
        struct json_member msg, f;
        size_t it = 0;
        int r;

        if (msgs->type != JSON_ARRAY)
                return -EINVAL;
        while ((r = json_iter(msgs->val, msgs->val_len, &it, &msg)) > 0) {
                size_t it2 = 0;

                if (msg.type != JSON_OBJECT)
                        return -EINVAL;
                while ((r = json_iter(msg.val, msg.val_len, &it2, &f)) > 0) {
                        if (!key_is(&f, "content"))
                                continue;
                        r = text_bytes(w, &f, 0, acc);
                        if (r < 0)
                                return r;
                }
                if (r < 0)
                        return r;
        }
        return r;
}

/* ---- prompt text for the prefix cache ---- */

/* Appends the decoded text of a prompt-like value (as text_bytes walks it;
 * token ids as their decimal text and a comma). */
static int text_append(const struct json_member *v, unsigned depth, struct sbuf *b) {
        struct json_member e;
        size_t it = 0;
        int r;

        switch (v->type) {
        case JSON_STRING:
                if (sbuf_reserve(b, v->val_len) < 0)
                        return -ENOMEM;
                r = json_string_decode(v->val, v->val_len, b->p + b->len, b->cap - b->len);
                if (r < 0)
                        return r;
                b->len += (size_t)r;
                return 0;
        case JSON_NUMBER:
                sbuf_add(b, v->val, v->val_len);
                sbuf_add(b, ",", 1);
                return 0;
        case JSON_NULL:
                return 0;
        case JSON_ARRAY:
        case JSON_OBJECT:
                if (depth > 4)
                        return -EINVAL;
                while ((r = json_iter(v->val, v->val_len, &it, &e)) > 0) {
                        if (v->type == JSON_OBJECT && !key_is(&e, "text"))
                                continue;
                        r = text_append(&e, depth + 1, b);
                        if (r < 0)
                                return r;
                }
                return r;
        default:
                return -EINVAL;
        }
}

/* The messages in order, each as "ROLE: CONTENT\n" (already validated by
 * messages_bytes). */
static int messages_text(const struct json_member *msgs, struct sbuf *b) {
        struct json_member msg, f;
        size_t it = 0;
        int r;

        while ((r = json_iter(msgs->val, msgs->val_len, &it, &msg)) > 0) {
                size_t it2 = 0;

                while ((r = json_iter(msg.val, msg.val_len, &it2, &f)) > 0)
                        if (key_is(&f, "role") && (r = text_append(&f, 0, b)) < 0)
                                return r;
                sbuf_add(b, ": ", 2);
                it2 = 0;
                while ((r = json_iter(msg.val, msg.val_len, &it2, &f)) > 0)
                        if (key_is(&f, "content") && (r = text_append(&f, 0, b)) < 0)
                                return r;
                sbuf_add(b, "\n", 1);
        }
        return r;
}

static uint32_t tokens_of_bytes(uint64_t bytes) {
        uint64_t t = (bytes + 3) / 4;

        return t == 0 ? 1 : t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

/* Scans the body, resolves "model", sets the x-simllm headers. Returns the
 * model index, or -1 when it answered (bad JSON, unknown model). */
static int scan_body_model(struct conn *c, const char *body, size_t len, struct json_member *m, size_t *ret_n) {
        struct sim *s = c->w->sim;
        const struct json_member *jm;
        char model[MAX_MODEL_NAME];
        size_t err_off = 0;
        int r, ml = 0, idx;

        r = json_scan_object(body, len, &body_limits, m, ret_n, &err_off);
        if (r < 0) {
                c->xhdr.len = 0;
                respond_json_scan_error(c, r, err_off);
                return -1;
        }
        jm = json_find(m, *ret_n, "model");
        if (jm && jm->type != JSON_NULL) {
                if (jm->type != JSON_STRING) {
                        set_xhdr(c, "", 0, m, *ret_n);
                        bad_request(c, "model must be a string", "model", true);
                        return -1;
                }
                ml = json_string_decode(jm->val, jm->val_len, model, sizeof model);
                if (ml < 0) {
                        /* too long to be ours */
                        ml = (int)(jm->val_len - 2 < sizeof model ? jm->val_len - 2 : sizeof model);
                        memcpy(model, jm->val + 1, (size_t)ml);
                        idx = -ENOENT;
                } else {
                        idx = sim_model_find(s, model, (size_t)ml);
                }
        } else {
                idx = 0; /* like vLLM: no model means the served one */
        }
        set_xhdr(c, model, (size_t)ml, m, *ret_n);
        if (idx < 0) {
                char msg[MAX_MODEL_NAME + 64];

                count(&stats_of(c)->model_not_found);
                snprintf(msg, sizeof msg, "The model `%.*s` does not exist.", ml, model);
                respond_error(c, 404, msg, "invalid_request_error", "model", "\"model_not_found\"", true);
                return -1;
        }
        return idx;
}

/* Faults decided when a request arrives. true: answered or hung. */
static bool inject_arrival_faults(struct conn *c) {
        struct worker *w = c->w;
        struct sim_knobs *k = &w->sim->k;
        double er = atomic_load_explicit(&k->error_rate, memory_order_relaxed);
        double hr = atomic_load_explicit(&k->hang_rate, memory_order_relaxed);

        if (er > 0 && worker_rand(w) < er) {
                int status = atomic_load_explicit(&k->error_status, memory_order_relaxed);
                char code[16];

                count(&stats_of(c)->errors_injected);
                snprintf(code, sizeof code, "%d", status);
                respond_error(c, status, "simllm: injected error",
                              status >= 500 ? "server_error" : "invalid_request_error", NULL, code, true);
                return true;
        }
        if (hr > 0 && worker_rand(w) < hr) {
                count(&stats_of(c)->hangs_injected);
                conn_hang(c);
                return true;
        }
        return false;
}

/* ---- generation ---- */

static void put_id(struct sbuf *b, const struct sim_seq *q) {
        sbuf_printf(b, "\"id\":\"%s-sim%016llx\"", q->chat ? "chatcmpl" : "cmpl", (unsigned long long)q->id);
}

/* '{"id":...,"object":...,"created":...,"model":...,' */
static void put_head(struct sbuf *b, struct sim *s, const struct sim_seq *q, const char *object) {
        sbuf_add(b, "{", 1);
        put_id(b, q);
        sbuf_puts(b, ",\"object\":\"");
        sbuf_puts(b, object);
        sbuf_puts(b, "\",\"created\":");
        sbuf_u64(b, (uint64_t)q->created);
        sbuf_puts(b, ",\"model\":");
        sbuf_puts(b, s->model_json[q->model]);
        sbuf_add(b, ",", 1);
}

static void put_usage(struct sbuf *b, const struct sim_seq *q) {
        sbuf_printf(b, "\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u,\"total_tokens\":%llu}",
                    q->prompt_tokens, q->generated, (unsigned long long)q->prompt_tokens + q->generated);
}

static const char *finish_reason(const struct sim_seq *q) {
        return q->capped ? "length" : "stop";
}

static void emit_event(struct conn *c, struct sbuf *b) {
        conn_stream_data(c, b->p, b->len);
}

static void emit_token(struct conn *c) {
        struct sim *s = c->w->sim;
        struct sim_seq *q = &c->seq;
        struct sbuf *b = &c->w->tmp;

        b->len = 0;
        sbuf_puts(b, "data: ");
        put_head(b, s, q, q->chat ? "chat.completion.chunk" : "text_completion");
        if (q->chat)
                sbuf_puts(b, q->generated == 1
                                     ? "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\""
                                     : "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"");
        else
                sbuf_puts(b, "\"choices\":[{\"index\":0,\"text\":\"");
        sim_token_text(s, q->generated, b);
        sbuf_puts(b, q->chat ? "\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
                             : "\",\"logprobs\":null,\"finish_reason\":null,\"stop_reason\":null}]}\n\n");
        emit_event(c, b);
}

static void seq_finish(struct conn *c) {
        struct worker *w = c->w;
        struct sim *s = w->sim;
        struct sim_seq *q = &c->seq;
        struct sbuf *b = &w->tmp;

        atomic_fetch_add_explicit(&s->success_by_model[q->model], 1, memory_order_relaxed);
        count(&stats_of(c)->completed);
        b->len = 0;
        if (q->stream) {
                sbuf_puts(b, "data: ");
                put_head(b, s, q, q->chat ? "chat.completion.chunk" : "text_completion");
                sbuf_printf(
                        b,
                        q->chat ? "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"%s\"}]}\n\n"
                                : "\"choices\":[{\"index\":0,\"text\":\"\",\"logprobs\":null,\"finish_reason\":\"%s\",\"stop_reason\":null}]}\n\n",
                        finish_reason(q));
                emit_event(c, b);
                if (q->include_usage) {
                        b->len = 0;
                        sbuf_puts(b, "data: ");
                        put_head(b, s, q, q->chat ? "chat.completion.chunk" : "text_completion");
                        sbuf_puts(b, "\"choices\":[],");
                        put_usage(b, q);
                        sbuf_puts(b, "}\n\n");
                        emit_event(c, b);
                }
                conn_stream_data(c, "data: [DONE]\n\n", 14);
                conn_stream_end(c);
        } else {
                put_head(b, s, q, q->chat ? "chat.completion" : "text_completion");
                sbuf_puts(b, q->chat ? "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\""
                                     : "\"choices\":[{\"index\":0,\"text\":\"");
                for (uint32_t k = 1; k <= q->generated; k++)
                        sim_token_text(s, k, b);
                sbuf_printf(b,
                            q->chat ? "\"},\"logprobs\":null,\"finish_reason\":\"%s\"}],"
                                    : "\",\"logprobs\":null,\"finish_reason\":\"%s\",\"stop_reason\":null}],",
                            finish_reason(q));
                put_usage(b, q);
                sbuf_add(b, "}", 1);
                respond_body(c, 200, JSON_CT, true, b);
        }
        sim_sched_end(s, q);
        conn_seq_done(c);
}

/* First token due after the time to first token plus the prefill cost of
 * the prompt tokens the prefix cache did not have. With --prefill-lanes N
 * at most N prefills are computed at once: a prefill starts when the
 * earliest lane frees up (a compute-bound engine: one long uncached prompt
 * delays the first tokens of those behind it). */
static uint64_t seq_ttft_ns(struct sim *s, const struct sim_seq *q, uint64_t now) {
        int64_t t = atomic_load_explicit(&s->k.ttft_ns, memory_order_relaxed);
        int64_t p = atomic_load_explicit(&s->k.prefill_ns_per_token, memory_order_relaxed);
        uint64_t ns = t > 0 ? (uint64_t)t : 0, pf = 0;

        if (p > 0 && q->prompt_tokens > q->cached_tokens)
                pf = (uint64_t)p * (q->prompt_tokens - q->cached_tokens);
        if (s->o.prefill_lanes && pf) {
                unsigned best = 0;
                uint64_t start;

                pthread_mutex_lock(&s->lock);
                for (unsigned i = 1; i < s->o.prefill_lanes; i++)
                        if (s->prefill_busy_ns[i] < s->prefill_busy_ns[best])
                                best = i;
                start = s->prefill_busy_ns[best] > now ? s->prefill_busy_ns[best] : now;
                s->prefill_busy_ns[best] = start + pf;
                pthread_mutex_unlock(&s->lock);
                pf += start - now;
        }
        return ns + pf;
}

/* Time from one token to the next: itl + decode x (1 + running/max_running),
 * the decode part growing with the batch. */
static uint64_t seq_itl_ns(struct sim *s) {
        int64_t itl = atomic_load_explicit(&s->k.itl_ns, memory_order_relaxed);
        int64_t d = atomic_load_explicit(&s->k.decode_ns_per_token, memory_order_relaxed);
        uint64_t ns = itl > 0 ? (uint64_t)itl : 0;

        if (d > 0) {
                unsigned run = atomic_load_explicit(&s->running_now, memory_order_relaxed);

                ns += (uint64_t)((double)d * (1.0 + (double)run / (double)s->o.max_running));
        }
        return ns;
}

void api_seq_start(struct conn *c) {
        struct worker *w = c->w;
        struct sim *s = w->sim;
        struct sim_seq *q = &c->seq;

        sim_kv_add(s, q, q->prompt_tokens);
        atomic_fetch_add_explicit(&s->prompt_tokens_by_model[q->model], q->prompt_tokens, memory_order_relaxed);
        q->due_ns = w->now_ns + seq_ttft_ns(s, q, w->now_ns);
        if (q->due_ns <= w->now_ns)
                api_seq_tick(c);
        else
                worker_timer_add(w, q);
}

void api_seq_tick(struct conn *c) {
        struct worker *w = c->w;
        struct sim *s = w->sim;
        struct sim_seq *q = &c->seq;
        uint32_t made = 0;

        for (;;) {
                if (q->reset_at >= 0 && q->generated >= (uint64_t)q->reset_at) {
                        atomic_fetch_add_explicit(&s->gen_tokens_by_model[q->model], made, memory_order_relaxed);
                        count(&stats_of(c)->resets_injected);
                        conn_flush(c);
                        conn_reset(c);
                        return;
                }
                if (q->generated >= q->max_tokens) {
                        atomic_fetch_add_explicit(&s->gen_tokens_by_model[q->model], made, memory_order_relaxed);
                        seq_finish(c);
                        return;
                }
                if (q->generated == 0 && q->n_blocks) {
                        /* prefill done: the prompt's blocks are cached */
                        sim_pcache_insert(s, c->blk, q->n_blocks);
                }
                q->generated++;
                made++;
                sim_kv_add(s, q, 1);
                if (q->stream)
                        emit_token(c);
                if (q->generated < q->max_tokens) {
                        q->due_ns += seq_itl_ns(s);
                        if (q->due_ns > w->now_ns) {
                                atomic_fetch_add_explicit(&s->gen_tokens_by_model[q->model], made,
                                                          memory_order_relaxed);
                                if (q->stream)
                                        conn_flush(c); /* each event as soon as it is due */
                                if (!c->closed)
                                        worker_timer_add(w, q);
                                return;
                        }
                }
        }
}

/* Prefix cache lookup at arrival (so streaming headers can carry it): the
 * prompt text's block hashes go to c->blk, the hit to q->cached_tokens (the
 * last prompt token is always computed, as in vLLM), the counters and the
 * x-simllm-cached-tokens header. The blocks are inserted after prefill. */
static void prefix_lookup(struct conn *c, const struct json_member *prompt, bool chat) {
        struct worker *w = c->w;
        struct sim *s = w->sim;
        struct sim_seq *q = &c->seq;
        struct sbuf *t = &w->ptext;
        uint32_t nb, hit = 0;

        t->len = 0;
        t->oom = false;
        if (s->pc.cap && (chat ? messages_text(prompt, t) : text_append(prompt, 0, t)) >= 0 && !t->oom) {
                nb = (uint32_t)(t->len / SIM_BLOCK_BYTES < SIM_PCACHE_MAX ? t->len / SIM_BLOCK_BYTES : SIM_PCACHE_MAX);
                if (nb > c->blk_cap) {
                        uint64_t *p = realloc(c->blk, (size_t)nb * sizeof *p);

                        if (p) {
                                c->blk = p;
                                c->blk_cap = nb;
                        }
                }
                if (nb > c->blk_cap)
                        nb = c->blk_cap;
                q->n_blocks = sim_prefix_hashes(q->model, t->p, t->len, c->blk, nb);
                hit = sim_pcache_lookup(s, c->blk, q->n_blocks);
        }
        if (t->cap > (1u << 20)) /* don't keep a huge prompt's buffer */
                sbuf_free(t);
        q->cached_tokens = hit * SIM_BLOCK_SIZE;
        if (q->cached_tokens >= q->prompt_tokens)
                q->cached_tokens = q->prompt_tokens - 1;
        atomic_fetch_add_explicit(&s->pc_query_tokens_by_model[q->model], q->prompt_tokens, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->pc_hit_tokens_by_model[q->model], q->cached_tokens, memory_order_relaxed);
        if (!c->xhdr.oom && c->xhdr.len) {
                sbuf_printf(&c->xhdr, "x-simllm-cached-tokens: %u\r\n", q->cached_tokens);
                if (c->xhdr.oom)
                        c->xhdr.len = 0;
        }
}

static int handle_generate(struct conn *c, const char *body, size_t len, bool chat) {
        struct worker *w = c->w;
        struct sim *s = w->sim;
        struct sim_seq *q = &c->seq;
        struct json_member m[MAX_MEMBERS];
        const struct json_member *f;
        size_t n = 0;
        uint64_t bytes = 0;
        int64_t max_tokens = -1;
        bool stream = false, include_usage = false;
        int model;

        model = scan_body_model(c, body, len, m, &n);
        if (model < 0)
                return 0;

        f = json_find(m, n, "stream");
        if (f && f->type == JSON_TRUE)
                stream = true;
        else if (f && f->type != JSON_FALSE && f->type != JSON_NULL)
                return bad_request(c, "stream must be a boolean", "stream", true);
        f = json_find(m, n, "stream_options");
        if (f && f->type == JSON_OBJECT) {
                struct json_member o;
                size_t it = 0;

                while (json_iter(f->val, f->val_len, &it, &o) > 0)
                        if (key_is(&o, "include_usage") && o.type == JSON_TRUE)
                                include_usage = true;
        }
        f = json_find(m, n, "max_completion_tokens");
        if (!f || f->type == JSON_NULL)
                f = json_find(m, n, "max_tokens");
        if (f && f->type != JSON_NULL) {
                if (member_int(f, 1, INT32_MAX, &max_tokens) < 0)
                        return bad_request(c, "max_tokens must be a positive integer", "max_tokens", true);
        }
        if (chat) {
                f = json_find(m, n, "messages");
                if (!f)
                        return bad_request(c, "messages is required", "messages", true);
                if (messages_bytes(w, f, &bytes) < 0)
                        return bad_request(c, "messages must be an array of message objects", "messages", true);
        } else {
                f = json_find(m, n, "prompt");
                if (!f)
                        return bad_request(c, "prompt is required", "prompt", true);
                if (text_bytes(w, f, 0, &bytes) < 0)
                        return bad_request(c, "prompt must be a string or an array", "prompt", true);
        }

        *q = (struct sim_seq){
                .worker = w->idx,
                .model = (unsigned)model,
                .prompt_tokens = tokens_of_bytes(bytes),
                .max_tokens = max_tokens > 0 ? (uint32_t)max_tokens : s->o.max_tokens,
                .reset_at = -1,
                .stream = stream,
                .chat = chat,
                .include_usage = include_usage,
                .capped = max_tokens > 0,
                .id = ((uint64_t)w->idx << 48) | ++w->next_id,
                .created = w->now_wall,
                .heap_idx = SIZE_MAX,
        };
        if ((uint64_t)q->prompt_tokens + q->max_tokens > s->o.max_model_len) {
                char msg[192];

                snprintf(msg, sizeof msg,
                         "This model's maximum context length is %u tokens. However, you requested %llu tokens "
                         "(%u in the messages, %u in the completion).",
                         s->o.max_model_len, (unsigned long long)q->prompt_tokens + q->max_tokens, q->prompt_tokens,
                         q->max_tokens);
                return bad_request(c, msg, NULL, true);
        }
        if (inject_arrival_faults(c))
                return 0;
        prefix_lookup(c, f, chat);
        {
                double rr = atomic_load_explicit(&s->k.reset_rate, memory_order_relaxed);

                if (rr > 0 && worker_rand(w) < rr)
                        q->reset_at = atomic_load_explicit(&s->k.reset_after, memory_order_relaxed);
        }

        c->busy = true;
        if (stream)
                conn_stream_head(c, c->xhdr.p, c->xhdr.len);
        if (sim_sched_submit(s, q))
                api_seq_start(c);
        /* else: waiting; the scheduler hands it back through the inbox */
        return 0;
}

/* ---- embeddings ---- */

static uint64_t fnv1a(const char *p, size_t n) {
        uint64_t h = 0xcbf29ce484222325u;

        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char)p[i];
                h *= 0x100000001b3u;
        }
        return h;
}

static void put_embedding(struct sbuf *b, const struct json_member *e, unsigned dim) {
        uint64_t x = fnv1a(e->val, e->val_len) | 1;
        double v[256], norm = 0;

        if (dim > 256)
                dim = 256;
        for (unsigned i = 0; i < dim; i++) {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                v[i] = (double)((x * UINT64_C(2685821657736338717)) >> 11) * 0x1.0p-52 - 1.0;
                norm += v[i] * v[i];
        }
        norm = norm > 0 ? sqrt(norm) : 1;
        sbuf_add(b, "[", 1);
        for (unsigned i = 0; i < dim; i++)
                sbuf_printf(b, i ? ",%.6f" : "%.6f", v[i] / norm);
        sbuf_add(b, "]", 1);
}

static int handle_embeddings(struct conn *c, const char *body, size_t len) {
        struct worker *w = c->w;
        struct sim *s = w->sim;
        struct json_member m[MAX_MEMBERS];
        const struct json_member *in;
        struct sbuf *b = &w->tmp;
        uint64_t bytes = 0;
        size_t n = 0;
        unsigned idx = 0;
        int model;

        model = scan_body_model(c, body, len, m, &n);
        if (model < 0)
                return 0;
        in = json_find(m, n, "input");
        if (!in)
                return bad_request(c, "input is required", "input", true);
        if (text_bytes(w, in, 0, &bytes) < 0)
                return bad_request(c, "input must be a string or an array", "input", true);
        if (inject_arrival_faults(c))
                return 0;

        b->len = 0;
        sbuf_puts(b, "{\"object\":\"list\",\"data\":[");
        if (in->type == JSON_ARRAY && in->val_len > 2) {
                struct json_member e;
                size_t it = 0;
                bool token_ids = false;

                /* an array of numbers is one input of token ids */
                if (json_iter(in->val, in->val_len, &it, &e) > 0 && e.type == JSON_NUMBER)
                        token_ids = true;
                it = 0;
                if (token_ids) {
                        sbuf_puts(b, "{\"object\":\"embedding\",\"index\":0,\"embedding\":");
                        put_embedding(b, in, s->o.embed_dim);
                        sbuf_add(b, "}", 1);
                } else {
                        while (json_iter(in->val, in->val_len, &it, &e) > 0) {
                                sbuf_printf(b,
                                            "%s{\"object\":\"embedding\",\"index\":%u,\"embedding\":", idx ? "," : "",
                                            idx);
                                put_embedding(b, &e, s->o.embed_dim);
                                sbuf_add(b, "}", 1);
                                idx++;
                        }
                }
        } else {
                sbuf_puts(b, "{\"object\":\"embedding\",\"index\":0,\"embedding\":");
                put_embedding(b, in, s->o.embed_dim);
                sbuf_add(b, "}", 1);
        }
        sbuf_puts(b, "],\"model\":");
        sbuf_puts(b, s->model_json[model]);
        sbuf_printf(b, ",\"usage\":{\"prompt_tokens\":%u,\"total_tokens\":%u}}", tokens_of_bytes(bytes),
                    tokens_of_bytes(bytes));
        atomic_fetch_add_explicit(&s->prompt_tokens_by_model[model], tokens_of_bytes(bytes), memory_order_relaxed);
        atomic_fetch_add_explicit(&s->success_by_model[model], 1, memory_order_relaxed);
        count(&stats_of(c)->completed);
        respond_body(c, 200, JSON_CT, true, b);
        return 0;
}

/* ---- models, health, metrics ---- */

static void put_model(struct sbuf *b, struct sim *s, unsigned i) {
        sbuf_puts(b, "{\"id\":");
        sbuf_puts(b, s->model_json[i]);
        sbuf_printf(b, ",\"object\":\"model\",\"created\":%llu,\"owned_by\":\"%s\",\"root\":",
                    (unsigned long long)s->start_wall, s->engine_name);
        sbuf_puts(b, s->model_json[i]);
        sbuf_printf(b, ",\"parent\":null,\"max_model_len\":%u}", s->o.max_model_len);
}

static int handle_models(struct conn *c) {
        struct sim *s = c->w->sim;
        struct sbuf *b = &c->w->tmp;

        b->len = 0;
        sbuf_puts(b, "{\"object\":\"list\",\"data\":[");
        for (unsigned i = 0; i < s->o.n_models; i++) {
                if (i)
                        sbuf_add(b, ",", 1);
                put_model(b, s, i);
        }
        sbuf_puts(b, "]}");
        respond_body(c, 200, JSON_CT, false, b);
        return 0;
}

static int handle_model(struct conn *c, const char *id, size_t len) {
        struct sim *s = c->w->sim;
        struct sbuf *b = &c->w->tmp;
        int i = sim_model_find(s, id, len);

        if (i < 0)
                return respond_error(c, 404, "model not found", "invalid_request_error", "model", "\"model_not_found\"",
                                     false);
        b->len = 0;
        put_model(b, s, (unsigned)i);
        respond_body(c, 200, JSON_CT, false, b);
        return 0;
}

static int handle_health(struct conn *c) {
        conn_respond(c, sim_ready(c->w->sim, sim_now_ns()) ? 200 : 503, NULL, NULL, 0, "", 0);
        return 0;
}

struct snapshot {
        unsigned running, waiting;
        unsigned running_by_model[SIM_MAX_MODELS];
        unsigned waiting_by_model[SIM_MAX_MODELS];
        uint64_t kv_tokens, kv_capacity;
        double kv_usage;
};

static void take_snapshot(struct sim *s, struct snapshot *ret) {
        pthread_mutex_lock(&s->lock);
        ret->running = s->running;
        ret->waiting = s->waiting;
        memcpy(ret->running_by_model, s->running_by_model, sizeof ret->running_by_model);
        memcpy(ret->waiting_by_model, s->waiting_by_model, sizeof ret->waiting_by_model);
        pthread_mutex_unlock(&s->lock);
        ret->kv_tokens = atomic_load_explicit(&s->kv_tokens, memory_order_relaxed);
        ret->kv_capacity = (uint64_t)s->o.kv_blocks * SIM_BLOCK_SIZE;
        ret->kv_usage = ret->kv_capacity ? (double)ret->kv_tokens / (double)ret->kv_capacity : 0;
        if (ret->kv_usage > 1)
                ret->kv_usage = 1;
}

static void metric_head(struct sbuf *b, const char *name, const char *type, const char *help) {
        sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric_per_model_u(struct sbuf *b, struct sim *s, const char *name, const char *type, const char *help,
                               const unsigned *v) {
        metric_head(b, name, type, help);
        for (unsigned i = 0; i < s->o.n_models; i++)
                sbuf_printf(b, "%s{model_name=\"%s\"} %u\n", name, s->model_label[i], v[i]);
}

static void metric_per_model_a(struct sbuf *b, struct sim *s, const char *name, const char *help, _Atomic uint64_t *v) {
        metric_head(b, name, "counter", help);
        for (unsigned i = 0; i < s->o.n_models; i++)
                sbuf_printf(b, "%s{model_name=\"%s\"} %llu\n", name, s->model_label[i],
                            (unsigned long long)atomic_load_explicit(&v[i], memory_order_relaxed));
}

static void metric_per_model_f(struct sbuf *b, struct sim *s, const char *name, const char *help, double v) {
        metric_head(b, name, "gauge", help);
        for (unsigned i = 0; i < s->o.n_models; i++)
                sbuf_printf(b, "%s{model_name=\"%s\"} %.6f\n", name, s->model_label[i], v);
}

static int handle_metrics(struct conn *c) {
        struct sim *s = c->w->sim;
        struct sbuf *b = &c->w->tmp;
        struct snapshot sn;

        take_snapshot(s, &sn);
        b->len = 0;
        if (s->o.engine == SIM_ENGINE_VLLM) {
                metric_per_model_u(b, s, "vllm:num_requests_running", "gauge",
                                   "Number of requests in model execution batches.", sn.running_by_model);
                metric_per_model_u(b, s, "vllm:num_requests_waiting", "gauge",
                                   "Number of requests waiting to be processed.", sn.waiting_by_model);
                metric_per_model_f(b, s, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.",
                                   sn.kv_usage);
                metric_per_model_f(b, s, "vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.",
                                   sn.kv_usage);
                metric_head(b, "vllm:cache_config_info", "gauge", "Information of the LLMEngine CacheConfig");
                sbuf_printf(b, "vllm:cache_config_info{block_size=\"%d\",num_gpu_blocks=\"%u\"} 1\n", SIM_BLOCK_SIZE,
                            s->o.kv_blocks);
                metric_per_model_a(b, s, "vllm:prompt_tokens_total", "Number of prefill tokens processed.",
                                   s->prompt_tokens_by_model);
                metric_per_model_a(b, s, "vllm:generation_tokens_total", "Number of generation tokens processed.",
                                   s->gen_tokens_by_model);
                metric_per_model_a(b, s, "vllm:request_success_total", "Count of successfully processed requests.",
                                   s->success_by_model);
                metric_per_model_a(b, s, "vllm:prefix_cache_queries_total",
                                   "Prefix cache queries, in terms of number of queried tokens.",
                                   s->pc_query_tokens_by_model);
                metric_per_model_a(b, s, "vllm:prefix_cache_hits_total",
                                   "Prefix cache hits, in terms of number of cached tokens.",
                                   s->pc_hit_tokens_by_model);
        } else {
                metric_per_model_u(b, s, "sglang:num_running_reqs", "gauge", "The number of running requests.",
                                   sn.running_by_model);
                metric_per_model_u(b, s, "sglang:num_queue_reqs", "gauge",
                                   "The number of requests in the waiting queue.", sn.waiting_by_model);
                metric_per_model_f(b, s, "sglang:token_usage", "The token usage.", sn.kv_usage);
                metric_head(b, "sglang:max_total_num_tokens", "gauge",
                            "Maximum total number of tokens in the KV cache.");
                sbuf_printf(b, "sglang:max_total_num_tokens %llu\n", (unsigned long long)sn.kv_capacity);
                metric_per_model_a(b, s, "sglang:prompt_tokens_total", "Number of prefill tokens processed.",
                                   s->prompt_tokens_by_model);
                metric_per_model_a(b, s, "sglang:generation_tokens_total", "Number of generation tokens processed.",
                                   s->gen_tokens_by_model);
                metric_per_model_a(b, s, "sglang:num_requests_total", "Number of requests processed.",
                                   s->success_by_model);
                metric_head(b, "sglang:cache_hit_rate", "gauge", "The prefix cache hit rate.");
                for (unsigned i = 0; i < s->o.n_models; i++) {
                        uint64_t qt = atomic_load_explicit(&s->pc_query_tokens_by_model[i], memory_order_relaxed);
                        uint64_t ht = atomic_load_explicit(&s->pc_hit_tokens_by_model[i], memory_order_relaxed);

                        sbuf_printf(b, "sglang:cache_hit_rate{model_name=\"%s\"} %.6f\n", s->model_label[i],
                                    qt ? (double)ht / (double)qt : 0.0);
                }
        }
        respond_body(c, 200, "text/plain; version=0.0.4; charset=utf-8", false, b);
        return 0;
}

/* ---- /sim/ ---- */

static uint64_t sum_stat(struct sim *s, size_t off) {
        uint64_t v = 0;

        for (unsigned i = 0; i < s->o.threads; i++)
                v += atomic_load_explicit((_Atomic uint64_t *)((char *)&s->stats[i] + off), memory_order_relaxed);
        return v;
}

#define STAT(s, field) sum_stat((s), offsetof(struct sim_stats, field))

static int handle_stats(struct conn *c) {
        static const char *const path_names[SIM_P__N] = {
                [SIM_P_CHAT] = "/v1/chat/completions",
                [SIM_P_COMPLETIONS] = "/v1/completions",
                [SIM_P_EMBEDDINGS] = "/v1/embeddings",
                [SIM_P_MODELS] = "/v1/models",
                [SIM_P_HEALTH] = "/health",
                [SIM_P_METRICS] = "/metrics",
                [SIM_P_SIM] = "/sim",
                [SIM_P_OTHER] = "other",
        };
        struct sim *s = c->w->sim;
        struct sbuf *b = &c->w->tmp;
        struct snapshot sn;
        uint64_t total = 0;

        take_snapshot(s, &sn);
        b->len = 0;
        sbuf_puts(b, "{\"replica\":\"");
        sbuf_puts(b, s->name_json);
        sbuf_printf(b, "\",\"engine\":\"%s\",\"requests\":{", s->engine_name);
        for (unsigned p = 0; p < SIM_P__N; p++) {
                uint64_t v = sum_stat(s, offsetof(struct sim_stats, requests) + p * sizeof(_Atomic uint64_t));

                total += v;
                sbuf_printf(b, "%s\"%s\":%llu", p ? "," : "", path_names[p], (unsigned long long)v);
        }
        sbuf_printf(b, "},\"requests_total\":%llu", (unsigned long long)total);
        sbuf_printf(b, ",\"running\":%u,\"waiting\":%u,\"kv_tokens\":%llu,\"kv_capacity\":%llu,\"kv_usage\":%.6f",
                    sn.running, sn.waiting, (unsigned long long)sn.kv_tokens, (unsigned long long)sn.kv_capacity,
                    sn.kv_usage);
        sbuf_printf(b, ",\"errors_injected\":%llu,\"hangs_injected\":%llu,\"resets_injected\":%llu",
                    (unsigned long long)STAT(s, errors_injected), (unsigned long long)STAT(s, hangs_injected),
                    (unsigned long long)STAT(s, resets_injected));
        sbuf_printf(b, ",\"bad_requests\":%llu,\"model_not_found\":%llu,\"completed\":%llu,\"cancelled\":%llu",
                    (unsigned long long)STAT(s, bad_requests), (unsigned long long)STAT(s, model_not_found),
                    (unsigned long long)STAT(s, completed), (unsigned long long)STAT(s, cancelled));
        {
                uint64_t acc = STAT(s, conns_accepted), closed = STAT(s, conns_closed);
                uint64_t prompt = 0, gen = 0, pq = 0, ph = 0;

                for (unsigned i = 0; i < s->o.n_models; i++) {
                        prompt += atomic_load_explicit(&s->prompt_tokens_by_model[i], memory_order_relaxed);
                        gen += atomic_load_explicit(&s->gen_tokens_by_model[i], memory_order_relaxed);
                        pq += atomic_load_explicit(&s->pc_query_tokens_by_model[i], memory_order_relaxed);
                        ph += atomic_load_explicit(&s->pc_hit_tokens_by_model[i], memory_order_relaxed);
                }
                sbuf_printf(b, ",\"prompt_tokens\":%llu,\"generation_tokens\":%llu", (unsigned long long)prompt,
                            (unsigned long long)gen);
                sbuf_printf(b,
                            ",\"prefix_cache_query_tokens\":%llu,\"prefix_cache_hit_tokens\":%llu"
                            ",\"prefix_cache_hit_rate\":%.6f,\"prefix_cache_blocks\":%u,\"prefix_cache_capacity\":%u",
                            (unsigned long long)pq, (unsigned long long)ph, pq ? (double)ph / (double)pq : 0.0,
                            sim_pcache_blocks(s), s->pc.cap);
                sbuf_printf(b, ",\"connections_accepted\":%llu,\"connections_open\":%llu}", (unsigned long long)acc,
                            (unsigned long long)(acc >= closed ? acc - closed : 0));
        }
        respond_body(c, 200, JSON_CT, false, b);
        return 0;
}

/* Zeroes the counters (not the running/waiting state): a test can start
 * from a known point. Racy against requests in flight, like any read. */
static int handle_stats_reset(struct conn *c) {
        struct sim *s = c->w->sim;

        for (unsigned i = 0; i < s->o.threads; i++) {
                struct sim_stats *st = &s->stats[i];

                for (unsigned p = 0; p < SIM_P__N; p++)
                        atomic_store_explicit(&st->requests[p], 0, memory_order_relaxed);
                atomic_store_explicit(&st->errors_injected, 0, memory_order_relaxed);
                atomic_store_explicit(&st->hangs_injected, 0, memory_order_relaxed);
                atomic_store_explicit(&st->resets_injected, 0, memory_order_relaxed);
                atomic_store_explicit(&st->bad_requests, 0, memory_order_relaxed);
                atomic_store_explicit(&st->model_not_found, 0, memory_order_relaxed);
                atomic_store_explicit(&st->completed, 0, memory_order_relaxed);
                atomic_store_explicit(&st->cancelled, 0, memory_order_relaxed);
        }
        for (unsigned i = 0; i < s->o.n_models; i++) {
                atomic_store_explicit(&s->prompt_tokens_by_model[i], 0, memory_order_relaxed);
                atomic_store_explicit(&s->gen_tokens_by_model[i], 0, memory_order_relaxed);
                atomic_store_explicit(&s->success_by_model[i], 0, memory_order_relaxed);
                atomic_store_explicit(&s->pc_query_tokens_by_model[i], 0, memory_order_relaxed);
                atomic_store_explicit(&s->pc_hit_tokens_by_model[i], 0, memory_order_relaxed);
        }
        return handle_stats(c);
}

static void put_config(struct sbuf *b, struct sim *s) {
        struct sim_knobs *k = &s->k;

        sbuf_printf(b,
                    "{\"ttft_ms\":%.3f,\"itl_ms\":%.3f,\"prefill_us_per_token\":%.3f,\"decode_us_per_token\":%.3f,"
                    "\"error_rate\":%g,\"error_status\":%d,\"hang_rate\":%g,"
                    "\"reset_rate\":%g,\"reset_after\":%d,\"healthy\":%s}",
                    (double)atomic_load(&k->ttft_ns) / 1e6, (double)atomic_load(&k->itl_ns) / 1e6,
                    (double)atomic_load(&k->prefill_ns_per_token) / 1e3,
                    (double)atomic_load(&k->decode_ns_per_token) / 1e3, atomic_load(&k->error_rate),
                    atomic_load(&k->error_status), atomic_load(&k->hang_rate), atomic_load(&k->reset_rate),
                    atomic_load(&k->reset_after), atomic_load(&k->healthy) ? "true" : "false");
}

static int handle_config(struct conn *c, const char *body, size_t len) {
        struct sim *s = c->w->sim;
        struct sim_knobs *k = &s->k;
        struct json_member m[MAX_MEMBERS];
        struct sbuf *b = &c->w->tmp;
        size_t n = 0, err_off = 0;
        int r;

        if (c->ri.method == REQ_POST) {
                double v[MAX_MEMBERS];
                int64_t iv[MAX_MEMBERS];

                r = json_scan_object(body, len, &body_limits, m, &n, &err_off);
                if (r < 0)
                        return respond_json_scan_error(c, r, err_off);
                /* validate everything, then apply */
                for (size_t i = 0; i < n; i++) {
                        const struct json_member *f = &m[i];

                        if (key_is(f, "ttft_ms") || key_is(f, "itl_ms")) {
                                if (member_double(f, 0, 1e7, &v[i]) < 0)
                                        return bad_request(c, "ttft_ms/itl_ms: a number of milliseconds >= 0", NULL,
                                                           false);
                        } else if (key_is(f, "prefill_us_per_token") || key_is(f, "decode_us_per_token")) {
                                if (member_double(f, 0, 1e9, &v[i]) < 0)
                                        return bad_request(c,
                                                           "prefill_us_per_token/decode_us_per_token: a number "
                                                           "of microseconds >= 0",
                                                           NULL, false);
                        } else if (key_is(f, "error_rate") || key_is(f, "hang_rate") || key_is(f, "reset_rate")) {
                                if (member_double(f, 0, 1, &v[i]) < 0)
                                        return bad_request(c, "rates are numbers between 0 and 1", NULL, false);
                        } else if (key_is(f, "error_status")) {
                                if (member_int(f, 200, 599, &iv[i]) < 0)
                                        return bad_request(c, "error_status: an HTTP status 200-599", NULL, false);
                        } else if (key_is(f, "reset_after")) {
                                if (member_int(f, 0, INT32_MAX, &iv[i]) < 0)
                                        return bad_request(c, "reset_after: a token count >= 0", NULL, false);
                        } else if (key_is(f, "healthy")) {
                                if (f->type != JSON_TRUE && f->type != JSON_FALSE)
                                        return bad_request(c, "healthy: a boolean", NULL, false);
                        } else {
                                char msg[128];

                                snprintf(msg, sizeof msg, "unknown knob \"%.*s\"",
                                         (int)(f->key_len > 64 ? 64 : f->key_len), f->key);
                                return bad_request(c, msg, NULL, false);
                        }
                }
                for (size_t i = 0; i < n; i++) {
                        const struct json_member *f = &m[i];

                        if (key_is(f, "ttft_ms"))
                                atomic_store(&k->ttft_ns, (int64_t)(v[i] * 1e6));
                        else if (key_is(f, "itl_ms"))
                                atomic_store(&k->itl_ns, (int64_t)(v[i] * 1e6));
                        else if (key_is(f, "prefill_us_per_token"))
                                atomic_store(&k->prefill_ns_per_token, (int64_t)(v[i] * 1e3));
                        else if (key_is(f, "decode_us_per_token"))
                                atomic_store(&k->decode_ns_per_token, (int64_t)(v[i] * 1e3));
                        else if (key_is(f, "error_rate"))
                                atomic_store(&k->error_rate, v[i]);
                        else if (key_is(f, "hang_rate"))
                                atomic_store(&k->hang_rate, v[i]);
                        else if (key_is(f, "reset_rate"))
                                atomic_store(&k->reset_rate, v[i]);
                        else if (key_is(f, "error_status"))
                                atomic_store(&k->error_status, (int)iv[i]);
                        else if (key_is(f, "reset_after"))
                                atomic_store(&k->reset_after, (int)iv[i]);
                        else if (key_is(f, "healthy"))
                                atomic_store(&k->healthy, f->type == JSON_TRUE);
                }
        }
        b->len = 0;
        put_config(b, s);
        if (c->ri.method == REQ_POST && !b->oom)
                log_info("sim config: %.*s", (int)b->len, b->p);
        respond_body(c, 200, JSON_CT, false, b);
        return 0;
}

/* ---- routing ---- */

static bool path_is(const struct req_info *ri, const char *p) {
        size_t n = strlen(p);

        return ri->path_len == n && memcmp(ri->path, p, n) == 0;
}

static int route(struct conn *c, const char *body, size_t len) {
        const struct req_info *ri = &c->ri;
        struct sim_stats *st = stats_of(c);
        bool get = ri->method == REQ_GET || ri->method == REQ_HEAD;
        bool post = ri->method == REQ_POST;

        c->xhdr.len = 0;
        if (path_is(ri, "/v1/chat/completions") || path_is(ri, "/v1/completions")) {
                bool chat = ri->path_len == strlen("/v1/chat/completions");

                count(&st->requests[chat ? SIM_P_CHAT : SIM_P_COMPLETIONS]);
                return post ? handle_generate(c, body, len, chat) : method_not_allowed(c);
        }
        if (path_is(ri, "/v1/embeddings")) {
                count(&st->requests[SIM_P_EMBEDDINGS]);
                return post ? handle_embeddings(c, body, len) : method_not_allowed(c);
        }
        if (path_is(ri, "/v1/models")) {
                count(&st->requests[SIM_P_MODELS]);
                return get ? handle_models(c) : method_not_allowed(c);
        }
        if (ri->path_len > 11 && memcmp(ri->path, "/v1/models/", 11) == 0) {
                count(&st->requests[SIM_P_MODELS]);
                return get ? handle_model(c, ri->path + 11, ri->path_len - 11) : method_not_allowed(c);
        }
        if (path_is(ri, "/health") || path_is(ri, "/ready") || path_is(ri, "/health_generate")) {
                count(&st->requests[SIM_P_HEALTH]);
                return get ? handle_health(c) : method_not_allowed(c);
        }
        if (path_is(ri, "/metrics")) {
                count(&st->requests[SIM_P_METRICS]);
                return get ? handle_metrics(c) : method_not_allowed(c);
        }
        if (path_is(ri, "/sim/stats")) {
                count(&st->requests[SIM_P_SIM]);
                return get ? handle_stats(c) : method_not_allowed(c);
        }
        if (path_is(ri, "/sim/stats/reset")) {
                count(&st->requests[SIM_P_SIM]);
                return post ? handle_stats_reset(c) : method_not_allowed(c);
        }
        if (path_is(ri, "/sim/config")) {
                count(&st->requests[SIM_P_SIM]);
                return get || post ? handle_config(c, body, len) : method_not_allowed(c);
        }
        if (path_is(ri, "/version")) {
                static const char v[] = "{\"version\":\"simllm-0.1\"}";

                count(&st->requests[SIM_P_OTHER]);
                conn_respond(c, 200, JSON_CT, NULL, 0, v, sizeof v - 1);
                return 0;
        }
        count(&st->requests[SIM_P_OTHER]);
        return not_found(c);
}

void api_dispatch(struct conn *c, const char *body, size_t len) {
        (void)route(c, body, len);
}
