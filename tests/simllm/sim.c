/* The simulated engine: options, knobs, counters, token text and the
 * scheduler (running set + FIFO waiting queue). */
#include "tests/simllm/simllm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- sbuf ---- */

int sbuf_reserve(struct sbuf *b, size_t extra) {
        size_t need, cap;
        char *p;

        if (b->oom)
                return -ENOMEM;
        need = b->len + extra;
        if (need <= b->cap)
                return 0;
        cap = b->cap ? b->cap : 256;
        while (cap < need)
                cap *= 2;
        p = realloc(b->p, cap);
        if (!p) {
                b->oom = true;
                return -ENOMEM;
        }
        b->p = p;
        b->cap = cap;
        return 0;
}

void sbuf_add(struct sbuf *b, const void *s, size_t n) {
        if (sbuf_reserve(b, n) < 0)
                return;
        memcpy(b->p + b->len, s, n);
        b->len += n;
}

void sbuf_puts(struct sbuf *b, const char *s) {
        sbuf_add(b, s, strlen(s));
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...) {
        va_list ap;
        int n;

        if (sbuf_reserve(b, 128) < 0)
                return;
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t)n >= b->cap - b->len) {
                if (sbuf_reserve(b, (size_t)n + 1) < 0)
                        return;
                va_start(ap, fmt);
                vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
                va_end(ap);
        }
        b->len += (size_t)n;
}

void sbuf_u64(struct sbuf *b, uint64_t v) {
        char tmp[24];
        size_t i = sizeof tmp;

        do {
                tmp[--i] = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        sbuf_add(b, tmp + i, sizeof tmp - i);
}

void sbuf_json_esc(struct sbuf *b, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";

        if (sbuf_reserve(b, n * 6) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)s[i];
                char *o = b->p + b->len;

                if (ch == '"' || ch == '\\') {
                        o[0] = '\\';
                        o[1] = (char)ch;
                        b->len += 2;
                } else if (ch < 0x20) {
                        memcpy(o, "\\u00", 4);
                        o[4] = hex[ch >> 4];
                        o[5] = hex[ch & 15];
                        b->len += 6;
                } else {
                        o[0] = (char)ch;
                        b->len++;
                }
        }
}

void sbuf_free(struct sbuf *b) {
        free(b->p);
        *b = (struct sbuf){ 0 };
}

/* ---- engine ---- */

uint64_t sim_now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static char *sbuf_steal(struct sbuf *b) {
        char *p;

        sbuf_add(b, "", 1);
        if (b->oom) {
                sbuf_free(b);
                return NULL;
        }
        p = b->p;
        *b = (struct sbuf){ 0 };
        return p;
}

static char *prom_label_escape(const char *s) {
        struct sbuf b = { 0 };

        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        sbuf_add(&b, "\\", 1);
                if (*s == '\n')
                        sbuf_add(&b, "\\n", 2);
                else
                        sbuf_add(&b, s, 1);
        }
        return sbuf_steal(&b);
}

/* Header values must not carry CR/LF or other controls. */
static void header_safe(struct sbuf *b, const char *s) {
        for (; *s; s++)
                sbuf_add(b, (unsigned char)*s < 0x20 || *s == 0x7f ? "?" : s, 1);
}

int sim_init(struct sim *s, const struct sim_opts *o) {
        struct sbuf b = { 0 };
        int r = -ENOMEM;

        memset(s, 0, sizeof *s);
        s->o = *o;
        s->start_ns = sim_now_ns();
        s->start_wall = (int64_t)time(NULL);
        s->engine_name = o->engine == SIM_ENGINE_SGLANG ? "sglang" : "vllm";
        atomic_init(&s->k.ttft_ns, (int64_t)(o->ttft_ms * 1e6));
        atomic_init(&s->k.itl_ns, (int64_t)(o->itl_ms * 1e6));
        atomic_init(&s->k.prefill_ns_per_token, (int64_t)(o->prefill_us_per_token * 1e3));
        atomic_init(&s->k.decode_ns_per_token, (int64_t)(o->decode_us_per_token * 1e3));
        atomic_init(&s->k.error_rate, o->error_rate);
        atomic_init(&s->k.hang_rate, o->hang_rate);
        atomic_init(&s->k.reset_rate, o->reset_rate);
        atomic_init(&s->k.error_status, o->error_status);
        atomic_init(&s->k.reset_after, o->reset_after);
        atomic_init(&s->k.healthy, true);
        for (unsigned i = 0; i < SIM_MAX_WORKERS; i++)
                s->inbox[i].efd = -1;

        r = pthread_mutex_init(&s->lock, NULL);
        if (r != 0)
                return -r;
        r = pthread_mutex_init(&s->pc.lock, NULL);
        if (r != 0) {
                pthread_mutex_destroy(&s->lock);
                return -r;
        }
        r = -ENOMEM;
        s->pc.head = s->pc.tail = UINT32_MAX;
        s->pc.cap = o->kv_blocks < SIM_PCACHE_MAX ? o->kv_blocks : SIM_PCACHE_MAX;
        if (s->pc.cap) {
                uint32_t nb = 16;

                while (nb < s->pc.cap)
                        nb *= 2;
                s->pc.mask = nb - 1;
                s->pc.buckets = malloc((size_t)nb * sizeof *s->pc.buckets);
                s->pc.ent = calloc(s->pc.cap, sizeof *s->pc.ent);
                if (!s->pc.buckets || !s->pc.ent)
                        goto fail;
                memset(s->pc.buckets, 0xff, (size_t)nb * sizeof *s->pc.buckets);
        }
        for (unsigned i = 0; i < o->n_models; i++) {
                sbuf_add(&b, "\"", 1);
                sbuf_json_esc(&b, o->models[i], strlen(o->models[i]));
                sbuf_add(&b, "\"", 1);
                s->model_json[i] = sbuf_steal(&b);
                s->model_label[i] = prom_label_escape(o->models[i]);
                if (!s->model_json[i] || !s->model_label[i])
                        goto fail;
        }
        sbuf_json_esc(&b, o->name, strlen(o->name));
        s->name_json = sbuf_steal(&b);
        if (!s->name_json)
                goto fail;
        sbuf_puts(&b, "x-simllm-replica: ");
        header_safe(&b, o->name);
        sbuf_puts(&b, "\r\nx-simllm-engine: ");
        sbuf_puts(&b, s->engine_name);
        sbuf_puts(&b, "\r\n");
        s->common_hdrs_len = b.len;
        s->common_hdrs = sbuf_steal(&b);
        if (!s->common_hdrs)
                goto fail;
        return 0;
fail:
        sim_destroy(s);
        return r;
}

void sim_destroy(struct sim *s) {
        for (unsigned i = 0; i < SIM_MAX_MODELS; i++) {
                free(s->model_json[i]);
                free(s->model_label[i]);
                s->model_json[i] = s->model_label[i] = NULL;
        }
        free(s->name_json);
        free(s->common_hdrs);
        s->name_json = s->common_hdrs = NULL;
        free(s->pc.buckets);
        free(s->pc.ent);
        s->pc.buckets = NULL;
        s->pc.ent = NULL;
        pthread_mutex_destroy(&s->pc.lock);
        pthread_mutex_destroy(&s->lock);
}

int sim_model_find(const struct sim *s, const char *name, size_t len) {
        for (unsigned i = 0; i < s->o.n_models; i++)
                if (strlen(s->o.models[i]) == len && memcmp(s->o.models[i], name, len) == 0)
                        return (int)i;
        return -ENOENT;
}

bool sim_ready(const struct sim *s, uint64_t now) {
        if (now - s->start_ns < s->o.not_ready_ns)
                return false;
        return atomic_load_explicit(&s->k.healthy, memory_order_relaxed);
}

/* Token k of every answer: "[NAME]", " sim", " reply", " 1", " 2", ... */
void sim_token_text(const struct sim *s, uint32_t k, struct sbuf *b) {
        switch (k) {
        case 1:
                sbuf_add(b, "[", 1);
                sbuf_puts(b, s->name_json);
                sbuf_add(b, "]", 1);
                return;
        case 2:
                sbuf_add(b, " sim", 4);
                return;
        case 3:
                sbuf_add(b, " reply", 6);
                return;
        default:
                sbuf_add(b, " ", 1);
                sbuf_u64(b, k - 3);
        }
}

/* ---- scheduler ---- */

static void list_append(struct sim_seq **head, struct sim_seq **tail, struct sim_seq *q) {
        q->next = NULL;
        q->prev = *tail;
        if (*tail)
                (*tail)->next = q;
        else
                *head = q;
        *tail = q;
}

static void list_unlink(struct sim_seq **head, struct sim_seq **tail, struct sim_seq *q) {
        if (q->prev)
                q->prev->next = q->next;
        else
                *head = q->next;
        if (q->next)
                q->next->prev = q->prev;
        else
                *tail = q->prev;
        q->prev = q->next = NULL;
}

bool sim_sched_submit(struct sim *s, struct sim_seq *q) {
        bool admitted;

        q->kv_tokens = 0;
        pthread_mutex_lock(&s->lock);
        /* FIFO: nobody overtakes a waiting sequence */
        admitted = s->running < s->o.max_running && !s->wait_head;
        if (admitted) {
                s->running++;
                s->running_by_model[q->model]++;
                atomic_store_explicit(&s->running_now, s->running, memory_order_relaxed);
                q->state = SIM_SEQ_RUNNING;
        } else {
                s->waiting++;
                s->waiting_by_model[q->model]++;
                q->state = SIM_SEQ_WAITING;
                list_append(&s->wait_head, &s->wait_tail, q);
        }
        pthread_mutex_unlock(&s->lock);
        return admitted;
}

void sim_sched_end(struct sim *s, struct sim_seq *q) {
        uint64_t wake = 0;

        pthread_mutex_lock(&s->lock);
        switch (q->state) {
        case SIM_SEQ_WAITING:
                list_unlink(&s->wait_head, &s->wait_tail, q);
                s->waiting--;
                s->waiting_by_model[q->model]--;
                break;
        case SIM_SEQ_ADMITTED:
                list_unlink(&s->inbox[q->worker].head, &s->inbox[q->worker].tail, q);
                /* fall through */
        case SIM_SEQ_RUNNING:
                s->running--;
                s->running_by_model[q->model]--;
                break;
        default:
                break;
        }
        q->state = SIM_SEQ_IDLE;
        while (s->wait_head && s->running < s->o.max_running) {
                struct sim_seq *n = s->wait_head;

                list_unlink(&s->wait_head, &s->wait_tail, n);
                s->waiting--;
                s->waiting_by_model[n->model]--;
                s->running++;
                s->running_by_model[n->model]++;
                n->state = SIM_SEQ_ADMITTED;
                list_append(&s->inbox[n->worker].head, &s->inbox[n->worker].tail, n);
                wake |= UINT64_C(1) << n->worker;
        }
        atomic_store_explicit(&s->running_now, s->running, memory_order_relaxed);
        pthread_mutex_unlock(&s->lock);

        if (q->kv_tokens) {
                atomic_fetch_sub_explicit(&s->kv_tokens, q->kv_tokens, memory_order_relaxed);
                q->kv_tokens = 0;
        }
        for (unsigned i = 0; wake; i++, wake >>= 1) {
                uint64_t one = 1;

                if ((wake & 1) && s->inbox[i].efd >= 0)
                        (void)!write(s->inbox[i].efd, &one, sizeof one);
        }
}

struct sim_seq *sim_sched_take(struct sim *s, unsigned worker) {
        struct sim_seq *list;

        pthread_mutex_lock(&s->lock);
        list = s->inbox[worker].head;
        s->inbox[worker].head = s->inbox[worker].tail = NULL;
        for (struct sim_seq *q = list; q; q = q->next)
                q->state = SIM_SEQ_RUNNING;
        pthread_mutex_unlock(&s->lock);
        return list;
}

void sim_kv_add(struct sim *s, struct sim_seq *q, uint64_t tokens) {
        q->kv_tokens += tokens;
        atomic_fetch_add_explicit(&s->kv_tokens, tokens, memory_order_relaxed);
}

/* ---- prefix cache ---- */

static uint64_t mix64(uint64_t x) {
        x ^= x >> 30;
        x *= UINT64_C(0xbf58476d1ce4e5b9);
        x ^= x >> 27;
        x *= UINT64_C(0x94d049bb133111eb);
        x ^= x >> 31;
        return x;
}

uint32_t sim_prefix_hashes(unsigned model, const char *text, size_t len, uint64_t *out, uint32_t max_blocks) {
        uint64_t prev = mix64(UINT64_C(0x53494d4c4c4d) + model); /* per-model seed */
        uint32_t n = 0;

        for (size_t off = 0; off + SIM_BLOCK_BYTES <= len && n < max_blocks; off += SIM_BLOCK_BYTES) {
                uint64_t h = 0xcbf29ce484222325u ^ prev; /* FNV-1a over (parent hash, block) */

                for (size_t i = 0; i < SIM_BLOCK_BYTES; i++) {
                        h ^= (unsigned char)text[off + i];
                        h *= 0x100000001b3u;
                }
                prev = mix64(h);
                out[n++] = prev;
        }
        return n;
}

static uint32_t pc_find(const struct sim_pcache *pc, uint64_t h) {
        for (uint32_t i = pc->buckets[h & pc->mask]; i != UINT32_MAX; i = pc->ent[i].hnext)
                if (pc->ent[i].h == h)
                        return i;
        return UINT32_MAX;
}

static void pc_lru_unlink(struct sim_pcache *pc, uint32_t i) {
        struct sim_pc_ent *e = &pc->ent[i];

        if (e->prev != UINT32_MAX)
                pc->ent[e->prev].next = e->next;
        else
                pc->head = e->next;
        if (e->next != UINT32_MAX)
                pc->ent[e->next].prev = e->prev;
        else
                pc->tail = e->prev;
        e->prev = e->next = UINT32_MAX;
}

static void pc_lru_push(struct sim_pcache *pc, uint32_t i) {
        struct sim_pc_ent *e = &pc->ent[i];

        e->prev = UINT32_MAX;
        e->next = pc->head;
        if (pc->head != UINT32_MAX)
                pc->ent[pc->head].prev = i;
        else
                pc->tail = i;
        pc->head = i;
}

static void pc_bucket_unlink(struct sim_pcache *pc, uint32_t i) {
        uint32_t *pp = &pc->buckets[pc->ent[i].h & pc->mask];

        while (*pp != i)
                pp = &pc->ent[*pp].hnext;
        *pp = pc->ent[i].hnext;
}

uint32_t sim_pcache_lookup(struct sim *s, const uint64_t *h, uint32_t n) {
        struct sim_pcache *pc = &s->pc;
        uint32_t hit = 0;

        if (!pc->cap || !n)
                return 0;
        pthread_mutex_lock(&pc->lock);
        while (hit < n && pc_find(pc, h[hit]) != UINT32_MAX)
                hit++;
        pthread_mutex_unlock(&pc->lock);
        return hit;
}

void sim_pcache_insert(struct sim *s, const uint64_t *h, uint32_t n) {
        struct sim_pcache *pc = &s->pc;

        if (!pc->cap || !n)
                return;
        pthread_mutex_lock(&pc->lock);
        /* last block first, so the prefix is the most recent and the tail
         * of a prompt is evicted before its head */
        for (uint32_t k = n; k-- > 0;) {
                uint32_t i = pc_find(pc, h[k]);

                if (i != UINT32_MAX) {
                        pc_lru_unlink(pc, i);
                } else {
                        if (pc->used < pc->cap) {
                                i = pc->used++;
                        } else {
                                i = pc->tail;
                                pc_lru_unlink(pc, i);
                                pc_bucket_unlink(pc, i);
                        }
                        pc->ent[i].h = h[k];
                        pc->ent[i].hnext = pc->buckets[h[k] & pc->mask];
                        pc->buckets[h[k] & pc->mask] = i;
                }
                pc_lru_push(pc, i);
        }
        pthread_mutex_unlock(&pc->lock);
}

uint32_t sim_pcache_blocks(struct sim *s) {
        uint32_t n;

        pthread_mutex_lock(&s->pc.lock);
        n = s->pc.used;
        pthread_mutex_unlock(&s->pc.lock);
        return n;
}
