/* The endpoint picker: load, KV-cache, prefix-cache and session scorers,
 * least-request and round-robin (see picker.h). */
#include "router/picker.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "router/prefix_index.h"

#define PREFIX_CAP_DEFAULT 4096u /* hashes, when the cache geometry is unknown */
#define PREFIX_CAP_MAX (1u << 22)
#define SESSION_WAYS 4
#define BYTES_PER_TOKEN 4

struct pk_up {
        uint32_t inflight;
        uint64_t inflight_tokens;
        uint64_t dispatched, done;
        uint64_t tok_dispatched, tok_done; /* tok_done: estimated (average share) */
        /* scrape */
        uint8_t mstate;
        bool refused;        /* last scrape was refused: a success after it is a restart */
        uint64_t since_ns;   /* metrics NONE since (grace before stale) */
        uint64_t last_ok_ns; /* when the last good scrape was sent */
        uint64_t pend_disp, pend_done, pend_tok, pend_tok_done; /* counts when the scrape in flight was sent */
        uint64_t base_disp, base_done, base_tok, base_tok_done;
        struct upstream_load load;
        uint64_t cache_tokens; /* num_gpu_blocks * block_size, 0 unknown */
        /* prefix */
        struct prefix_index *pidx;
        uint32_t pidx_cap;
        /* last scores */
        float sc[6];
};

struct session_ent {
        uint64_t key; /* 0: empty */
        uint64_t expires_ns;
        uint16_t upstream;
};

struct picker {
        struct picker_params p;
        uint32_t n;
        uint8_t kind[SNAP_MAX_UPSTREAMS];
        struct pk_up up[SNAP_MAX_UPSTREAMS];
        unsigned rr[SNAP_MAX_MODELS];
        struct session_ent *sess;
        uint32_t sess_mask; /* sets - 1 */
        uint64_t rng;
};

/* ---- helpers ------------------------------------------------------------------------- */

static uint64_t rng_next(struct picker *pk) {
        /* xorshift64* */
        uint64_t x = pk->rng;

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        pk->rng = x;
        return x * 0x2545F4914F6CDD1DULL;
}

void picker_params_from_config(const struct sy_config *cfg, struct picker_params *p) {
        const char *pol = cfg->router.policy ? cfg->router.policy : "scorer";

        memset(p, 0, sizeof *p);
        p->policy = strcmp(pol, "least_request") == 0 ? PICKER_LEAST_REQUEST
                    : strcmp(pol, "round_robin") == 0 ? PICKER_ROUND_ROBIN
                                                      : PICKER_SCORER;
        p->w_queue = cfg->router.weights.queue;
        p->w_kv = cfg->router.weights.kv_cache;
        p->w_tokens = cfg->router.weights.inflight_tokens;
        p->w_prefix = cfg->router.weights.prefix;
        p->w_session = cfg->router.weights.session;
        p->sat_queue_depth = cfg->router.saturation.queue_depth ? cfg->router.saturation.queue_depth : 5;
        p->sat_kv = cfg->router.saturation.kv_cache > 0 ? cfg->router.saturation.kv_cache : 0.9;
        p->scraping = cfg->router.scrape_interval_ms > 0;
        p->stale_after_ns = (uint64_t)cfg->router.stale_after_ms * 1000000ULL;
        p->session_ttl_ns = (uint64_t)(cfg->router.session.ttl_ms ? cfg->router.session.ttl_ms : 600000) * 1000000ULL;
        p->session_max = cfg->router.session.max ? cfg->router.session.max : 65536;
        p->prefix_block = 256;
        p->seed = 0x9E3779B97F4A7C15ULL;
}

uint64_t picker_session_hash(const char *key, size_t len) {
        uint64_t h = prefix_hash_block(0x73657373696f6eULL, key, len);

        return h ? h : 1; /* 0 marks an empty slot */
}

/* Prefix index capacity for u: its KV cache in tokens, as bytes (~4 a
 * token), over the bytes one hash covers. */
static uint32_t prefix_capacity(const struct picker *pk, const struct pk_up *x) {
        uint64_t cap;

        if (!x->cache_tokens)
                return PREFIX_CAP_DEFAULT;
        cap = x->cache_tokens * BYTES_PER_TOKEN / (pk->p.prefix_block ? pk->p.prefix_block : 256);
        if (cap < 16)
                cap = 16;
        if (cap > PREFIX_CAP_MAX)
                cap = PREFIX_CAP_MAX;
        return (uint32_t)cap;
}

/* Creates or resizes u's index (resizing forgets its content). Only server
 * upstreams have one; a failed allocation leaves none (prefix score 0). */
static void ensure_index(struct picker *pk, unsigned u) {
        struct pk_up *x = &pk->up[u];
        uint32_t cap = prefix_capacity(pk, x);

        if (pk->kind[u] != SY_UPSTREAM_SERVER)
                return;
        if (x->pidx && x->pidx_cap == cap)
                return;
        prefix_index_free(x->pidx);
        x->pidx = NULL;
        x->pidx_cap = 0;
        if (prefix_index_new(cap, 0, &x->pidx) == 0)
                x->pidx_cap = cap;
}

static void init_up(struct picker *pk, unsigned u, uint8_t kind, uint64_t now) {
        struct pk_up *x = &pk->up[u];

        prefix_index_free(x->pidx);
        memset(x, 0, sizeof *x);
        pk->kind[u] = kind;
        x->mstate = (kind == SY_UPSTREAM_SERVER && pk->p.scraping) ? PICKER_METRICS_NONE : PICKER_METRICS_OFF;
        x->since_ns = now;
        ensure_index(pk, u);
}

static int alloc_sessions(struct picker *pk) {
        uint32_t sets = 1;
        struct session_ent *s;

        while (sets * SESSION_WAYS < pk->p.session_max && sets < (1u << 24))
                sets <<= 1;
        if (pk->sess && pk->sess_mask + 1 == sets)
                return 0;
        s = calloc((size_t)sets * SESSION_WAYS, sizeof *s);
        if (!s)
                return -ENOMEM;
        free(pk->sess);
        pk->sess = s;
        pk->sess_mask = sets - 1;
        return 0;
}

int picker_new(const struct picker_params *p, const struct snapshot *s, uint64_t now, struct picker **ret) {
        struct picker *pk = calloc(1, sizeof *pk);

        if (!pk)
                return -ENOMEM;
        pk->p = *p;
        pk->rng = p->seed ? p->seed : 0x9E3779B97F4A7C15ULL;
        if (alloc_sessions(pk) < 0) {
                free(pk);
                return -ENOMEM;
        }
        pk->n = s->n_upstreams;
        for (uint32_t u = 0; u < pk->n; u++)
                init_up(pk, u, s->upstreams[u].kind, now);
        *ret = pk;
        return 0;
}

void picker_free(struct picker *pk) {
        if (!pk)
                return;
        for (uint32_t u = 0; u < SNAP_MAX_UPSTREAMS; u++)
                prefix_index_free(pk->up[u].pidx);
        free(pk->sess);
        free(pk);
}

int picker_rebind(struct picker *pk, const struct picker_params *p, const struct snapshot *old,
                  const struct snapshot *s, uint64_t now) {
        struct pk_up *prev = malloc(sizeof pk->up);
        uint8_t prev_kind[SNAP_MAX_UPSTREAMS];
        bool taken[SNAP_MAX_UPSTREAMS] = { false };
        bool reset_sessions;

        if (!prev)
                return -ENOMEM;
        memcpy(prev, pk->up, sizeof pk->up);
        memcpy(prev_kind, pk->kind, sizeof prev_kind);
        memset(pk->up, 0, sizeof pk->up);
        reset_sessions = p->session_max != pk->p.session_max;
        pk->p = *p;
        if (reset_sessions && alloc_sessions(pk) < 0)
                memset(pk->sess, 0, (size_t)(pk->sess_mask + 1) * SESSION_WAYS * sizeof *pk->sess);
        for (uint32_t u = 0; u < s->n_upstreams; u++) {
                uint32_t j;

                for (j = 0; j < old->n_upstreams; j++)
                        if (!taken[j] && strcmp(old->upstreams[j].name, s->upstreams[u].name) == 0 &&
                            prev_kind[j] == s->upstreams[u].kind)
                                break;
                if (j < old->n_upstreams) {
                        pk->up[u] = prev[j];
                        prev[j].pidx = NULL; /* moved */
                        taken[j] = true;
                        pk->kind[u] = s->upstreams[u].kind;
                        if (!p->scraping || pk->kind[u] != SY_UPSTREAM_SERVER)
                                pk->up[u].mstate = PICKER_METRICS_OFF;
                        else if (pk->up[u].mstate == PICKER_METRICS_OFF) {
                                pk->up[u].mstate = PICKER_METRICS_NONE;
                                pk->up[u].since_ns = now;
                        }
                        ensure_index(pk, u);
                } else {
                        pk->up[u].pidx = NULL;
                        init_up(pk, u, s->upstreams[u].kind, now);
                }
        }
        for (uint32_t j = 0; j < SNAP_MAX_UPSTREAMS; j++)
                prefix_index_free(prev[j].pidx);
        free(prev);
        /* sessions point at slots: forget those whose slot holds another
         * upstream now, or none (slots are stable across applies, see
         * proto/snapshot.h; a snapshot built otherwise loses them all) */
        for (size_t i = 0; i < (size_t)(pk->sess_mask + 1) * SESSION_WAYS; i++) {
                struct session_ent *e = &pk->sess[i];
                uint16_t u = e->upstream;
                if (e->key && (u >= s->n_upstreams || u >= old->n_upstreams || s->upstreams[u].removed ||
                               strcmp(old->upstreams[u].name, s->upstreams[u].name) != 0))
                        e->key = 0;
        }
        memset(pk->rr, 0, sizeof pk->rr);
        pk->n = s->n_upstreams;
        return 0;
}

/* ---- load estimates ------------------------------------------------------------------ */

static bool metrics_usable(const struct pk_up *x) {
        return x->mstate == PICKER_METRICS_OK;
}

static bool is_stale(const struct picker *pk, const struct pk_up *x, uint64_t now) {
        uint64_t since;

        if (x->mstate == PICKER_METRICS_OFF || x->mstate == PICKER_METRICS_UNSUPPORTED || !pk->p.stale_after_ns)
                return false;
        since = x->mstate == PICKER_METRICS_OK ? x->last_ok_ns : x->since_ns;
        return now > since && now - since > pk->p.stale_after_ns;
}

/* Requests sent since the last good scrape was sent, less those done. */
static double delta_requests(const struct pk_up *x) {
        return (double)(x->dispatched - x->base_disp) - (double)(x->done - x->base_done);
}

static double est_requests(const struct pk_up *x) {
        double r = x->inflight;

        if (metrics_usable(x)) {
                double m = x->load.waiting + x->load.running + delta_requests(x);
                if (m > r)
                        r = m;
        }
        return r < 0 ? 0 : r;
}

static double est_waiting(const struct pk_up *x) {
        double w, d;

        if (!metrics_usable(x))
                return 0;
        w = x->load.waiting;
        d = delta_requests(x);
        /* an endpoint that was queueing queues what was sent since too, and
         * each request done since lets one waiting request in */
        if (w > 0)
                w += d;
        return w < 0 ? 0 : w;
}

static double est_kv(const struct pk_up *x) {
        double kv;

        if (!metrics_usable(x))
                return 0;
        kv = x->load.kv_usage;
        /* tokens sent there since the scrape, less those done since */
        if (x->cache_tokens) {
                double t = (double)(x->tok_dispatched - x->base_tok) - (double)(x->tok_done - x->base_tok_done);
                if (t > 0)
                        kv += t / (double)x->cache_tokens;
        }
        return kv > 1 ? 1 : kv;
}

static bool saturated(const struct picker *pk, const struct pk_up *x, uint64_t now) {
        if (x->mstate == PICKER_METRICS_OFF || x->mstate == PICKER_METRICS_UNSUPPORTED)
                return false;
        if (is_stale(pk, x, now))
                return true;
        if (!metrics_usable(x))
                return false;
        return est_waiting(x) >= pk->p.sat_queue_depth || est_kv(x) >= pk->p.sat_kv;
}

bool picker_saturated(const struct picker *pk, unsigned u, uint64_t now) {
        return u < pk->n && saturated(pk, &pk->up[u], now);
}

uint32_t picker_inflight(const struct picker *pk, unsigned u) {
        return u < pk->n ? pk->up[u].inflight : 0;
}

bool picker_update_snapshot(const struct picker *pk, struct snapshot *s, uint64_t now) {
        bool changed = false;

        for (uint32_t u = 0; u < s->n_upstreams && u < pk->n; u++) {
                uint8_t sat = saturated(pk, &pk->up[u], now);
                if (s->upstreams[u].saturated != sat)
                        changed = true;
                s->upstreams[u].saturated = sat;
                s->upstreams[u].inflight = pk->up[u].inflight;
        }
        return changed;
}

/* ---- sessions ------------------------------------------------------------------------ */

static struct session_ent *session_set(struct picker *pk, uint64_t key) {
        return &pk->sess[(size_t)((key >> 7) & pk->sess_mask) * SESSION_WAYS];
}

static int session_lookup(struct picker *pk, uint64_t key, uint64_t now) {
        struct session_ent *e = session_set(pk, key);

        for (unsigned i = 0; i < SESSION_WAYS; i++)
                if (e[i].key == key)
                        return e[i].expires_ns > now ? e[i].upstream : -1;
        return -1;
}

static void session_bind(struct picker *pk, uint64_t key, unsigned u, uint64_t now) {
        struct session_ent *e = session_set(pk, key), *v = NULL;

        for (unsigned i = 0; i < SESSION_WAYS && !v; i++)
                if (e[i].key == key)
                        v = &e[i];
        for (unsigned i = 0; i < SESSION_WAYS && !v; i++)
                if (!e[i].key || e[i].expires_ns <= now)
                        v = &e[i];
        if (!v) { /* evict the one closest to expiry */
                v = &e[0];
                for (unsigned i = 1; i < SESSION_WAYS; i++)
                        if (e[i].expires_ns < v->expires_ns)
                                v = &e[i];
        }
        v->key = key;
        v->upstream = (uint16_t)u;
        v->expires_ns = now + pk->p.session_ttl_ns;
}

/* ---- picking ------------------------------------------------------------------------- */

struct cand {
        uint16_t u;
        bool sat;
        double q, tok, score;
};

/* best first, stable (insertion sort: at most SNAP_MAX_MODEL_UPSTREAMS);
 * the random order among equal scores was drawn before */
static void sort_cands(struct cand *c, unsigned n) {
        for (unsigned i = 1; i < n; i++) {
                struct cand t = c[i];
                unsigned j = i;
                while (j > 0 && c[j - 1].score < t.score) {
                        c[j] = c[j - 1];
                        j--;
                }
                c[j] = t;
        }
}

static void shuffle(struct picker *pk, struct cand *c, unsigned n) {
        for (unsigned i = n; i > 1; i--) {
                unsigned j = (unsigned)(rng_next(pk) % i);
                struct cand t = c[i - 1];
                c[i - 1] = c[j];
                c[j] = t;
        }
}

static bool excluded(const struct picker_req *q, uint16_t u, const bool *usable) {
        if (usable && !usable[u])
                return true;
        for (unsigned x = 0; x < q->n_exclude; x++)
                if (q->exclude[x] == u)
                        return true;
        return false;
}

static void score(struct picker *pk, struct cand *c, unsigned n, const struct picker_req *q, int sess_u) {
        double qmin = INFINITY, qmax = -INFINITY, tmin = INFINITY, tmax = -INFINITY;

        for (unsigned i = 0; i < n; i++) {
                if (c[i].q < qmin)
                        qmin = c[i].q;
                if (c[i].q > qmax)
                        qmax = c[i].q;
                if (c[i].tok < tmin)
                        tmin = c[i].tok;
                if (c[i].tok > tmax)
                        tmax = c[i].tok;
        }
        for (unsigned i = 0; i < n; i++) {
                struct pk_up *x = &pk->up[c[i].u];
                double sq = qmax > qmin ? (qmax - c[i].q) / (qmax - qmin) : 1;
                double st = tmax > tmin ? (tmax - c[i].tok) / (tmax - tmin) : 1;
                double sk = 1 - est_kv(x);
                double sp = 0, ss = c[i].u == sess_u ? 1 : 0;

                if (q->n_prefix && x->pidx)
                        sp = (double)prefix_index_match(x->pidx, q->prefix, q->n_prefix) / q->n_prefix;
                c[i].score = pk->p.w_queue * sq + pk->p.w_kv * sk + pk->p.w_tokens * st + pk->p.w_prefix * sp +
                             pk->p.w_session * ss;
                x->sc[0] = (float)sq;
                x->sc[1] = (float)sk;
                x->sc[2] = (float)st;
                x->sc[3] = (float)sp;
                x->sc[4] = (float)ss;
                x->sc[5] = (float)c[i].score;
        }
}

int picker_pick(struct picker *pk, const struct snapshot *s, const struct snap_model *m, const struct picker_req *q,
                const bool *usable, uint64_t now, uint16_t *ret, unsigned max) {
        struct cand c[SNAP_MAX_MODEL_UPSTREAMS];
        unsigned n = 0, n_free = 0, out = 0, any = 0;
        bool gateway = false;
        enum picker_policy pol = pk->p.policy;
        unsigned mi = (unsigned)(m - s->models);
        int sess_u = -1;

        for (unsigned k = 0; k < m->n_upstreams; k++) {
                uint16_t u = m->upstreams[k];
                const struct snap_upstream *up = &s->upstreams[u];
                double w;

                if (!snapshot_engine_matches(s, m, u, q->engine, q->engine_len))
                        continue;
                any = 1;
                if (!up->healthy || !up->resolved || u >= pk->n || excluded(q, u, usable))
                        continue;
                w = up->weight ? up->weight : 1;
                c[n].u = u;
                c[n].q = est_requests(&pk->up[u]) / w;
                c[n].tok = (double)pk->up[u].inflight_tokens / w;
                c[n].sat = up->kind == SY_UPSTREAM_SERVER && saturated(pk, &pk->up[u], now);
                c[n].score = 0;
                if (up->kind != SY_UPSTREAM_SERVER)
                        gateway = true;
                n_free += !c[n].sat;
                n++;
        }
        if (n == 0)
                return any ? -EHOSTUNREACH : -ENOENT;
        if (max == 0)
                return 0;
        if (gateway && pol == PICKER_SCORER)
                pol = PICKER_LEAST_REQUEST;

        if (pol == PICKER_ROUND_ROBIN) {
                /* candidates are in the model's order: start after the last one */
                unsigned start = mi < SNAP_MAX_MODELS ? pk->rr[mi]++ : 0;
                for (unsigned i = 0; i < n && out < max; i++)
                        ret[out++] = c[(start + i) % n].u;
                return (int)out;
        }
        shuffle(pk, c, n); /* random among equals: the sort below is stable */
        if (pol == PICKER_LEAST_REQUEST) {
                for (unsigned i = 0; i < n; i++) {
                        double w = s->upstreams[c[i].u].weight ? s->upstreams[c[i].u].weight : 1;
                        c[i].score = -(double)pk->up[c[i].u].inflight / w;
                        c[i].sat = false;
                }
                sort_cands(c, n);
        } else {
                if (q->has_session) {
                        sess_u = session_lookup(pk, q->session, now);
                        for (unsigned i = 0; i < n && sess_u >= 0; i++)
                                if (c[i].u == sess_u && c[i].sat)
                                        sess_u = -1; /* honoured while not saturated */
                }
                /* score the unsaturated candidates against each other (the
                 * saturated ones follow, as fallbacks, scored among themselves) */
                struct cand *free_c = c, tmp;
                unsigned nf = 0;
                for (unsigned i = 0; i < n; i++)
                        if (!c[i].sat) {
                                tmp = c[nf];
                                c[nf++] = c[i];
                                c[i] = tmp;
                        }
                if (nf)
                        score(pk, free_c, nf, q, sess_u);
                if (n > nf)
                        score(pk, c + nf, n - nf, q, sess_u);
                sort_cands(c, nf);
                sort_cands(c + nf, n - nf);
        }
        for (unsigned i = 0; i < n && out < max; i++)
                ret[out++] = c[i].u;
        if (pol == PICKER_SCORER && n_free == 0)
                return -EBUSY;
        return (int)out;
}

void picker_dispatch(struct picker *pk, unsigned u, const struct picker_req *q, uint64_t now) {
        struct pk_up *x;

        if (u >= pk->n)
                return;
        x = &pk->up[u];
        x->inflight++;
        x->dispatched++;
        if (q) {
                x->inflight_tokens += q->tokens;
                x->tok_dispatched += q->tokens;
                if (q->n_prefix && x->pidx)
                        prefix_index_insert(x->pidx, q->prefix, q->n_prefix);
                if (q->has_session)
                        session_bind(pk, q->session, u, now);
        }
}

void picker_dispatch_note(struct picker *pk, unsigned u) {
        picker_dispatch(pk, u, NULL, 0);
}

void picker_done(struct picker *pk, unsigned u) {
        struct pk_up *x;

        if (u >= pk->n)
                return;
        x = &pk->up[u];
        if (x->inflight == 0)
                return;
        /* tokens are not carried by done events: take the average share */
        uint64_t t = x->inflight_tokens / x->inflight;
        if (x->inflight == 1)
                t = x->inflight_tokens; /* the last one takes the rest */
        x->inflight--;
        x->done++;
        x->tok_done += t;
        x->inflight_tokens -= t;
}

/* ---- scrapes ------------------------------------------------------------------------- */

void picker_scrape_begin(struct picker *pk, unsigned u) {
        struct pk_up *x;

        if (u >= pk->n)
                return;
        x = &pk->up[u];
        x->pend_disp = x->dispatched;
        x->pend_done = x->done;
        x->pend_tok = x->tok_dispatched;
        x->pend_tok_done = x->tok_done;
}

void picker_scrape_ok(struct picker *pk, unsigned u, const struct upstream_load *l, uint64_t sent_ns) {
        struct pk_up *x;
        uint64_t cache = 0;

        if (u >= pk->n || pk->kind[u] != SY_UPSTREAM_SERVER)
                return;
        x = &pk->up[u];
        if (x->refused && x->pidx)
                prefix_index_clear(x->pidx); /* it was down and answers again: a restart */
        x->refused = false;
        x->mstate = PICKER_METRICS_OK;
        x->load = *l;
        x->last_ok_ns = sent_ns;
        x->base_disp = x->pend_disp;
        x->base_done = x->pend_done;
        x->base_tok = x->pend_tok;
        x->base_tok_done = x->pend_tok_done;
        if ((l->flags & UPSTREAM_LOAD_BLOCK_SIZE) && (l->flags & UPSTREAM_LOAD_NUM_GPU_BLOCKS))
                cache = l->block_size * l->num_gpu_blocks;
        if (cache != x->cache_tokens) {
                x->cache_tokens = cache;
                ensure_index(pk, u);
        }
}

void picker_scrape_failed(struct picker *pk, unsigned u, bool unsupported, bool refused) {
        struct pk_up *x;

        if (u >= pk->n || pk->kind[u] != SY_UPSTREAM_SERVER)
                return;
        x = &pk->up[u];
        if (unsupported) {
                x->mstate = PICKER_METRICS_UNSUPPORTED;
                x->refused = false;
                return;
        }
        if (refused)
                x->refused = true;
        /* values stay; they go stale */
}

void picker_reset_prefix(struct picker *pk, unsigned u) {
        if (u < pk->n && pk->up[u].pidx)
                prefix_index_clear(pk->up[u].pidx);
}

int picker_upstream_info(const struct picker *pk, unsigned u, uint64_t now, struct picker_upstream_info *ret) {
        const struct pk_up *x;
        struct picker_upstream_info i = { 0 };

        if (u >= pk->n)
                return -ENOENT;
        x = &pk->up[u];
        i.inflight = x->inflight;
        i.inflight_tokens = x->inflight_tokens;
        i.dispatched = x->dispatched;
        i.done = x->done;
        i.metrics_state = x->mstate;
        i.saturated = saturated(pk, x, now);
        i.stale = is_stale(pk, x, now);
        i.metrics_age_ms =
                x->mstate == PICKER_METRICS_OK && now >= x->last_ok_ns ? (now - x->last_ok_ns) / 1000000 : UINT64_MAX;
        i.load = x->load;
        i.est_requests = est_requests(x);
        i.est_waiting = est_waiting(x);
        i.est_kv = est_kv(x);
        i.prefix_blocks = x->pidx ? prefix_index_count(x->pidx) : 0;
        i.prefix_capacity = x->pidx ? prefix_index_capacity(x->pidx) : 0;
        i.score_queue = x->sc[0];
        i.score_kv = x->sc[1];
        i.score_tokens = x->sc[2];
        i.score_prefix = x->sc[3];
        i.score_session = x->sc[4];
        i.score_total = x->sc[5];
        *ret = i;
        return 0;
}
