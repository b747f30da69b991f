/* The classifier process.
 *
 * Two threads:
 *  - the ring thread (main): one epoll loop over the doorbell FIFO (workers
 *    ring it when this process sleeps), a signalfd and an eventfd from the
 *    model thread. It copies each worker's SY_MSG_CLASSIFY_REQ into a slot
 *    of a fixed pool (no allocation per request), hands the slot to the
 *    model thread, and pushes the answers (SY_MSG_CLASSIFY_RESP, then the
 *    PII spans) on the worker's FROM_PEER ring, ringing its doorbell when
 *    it sleeps. It is the only producer of those rings; malformed requests
 *    are answered at once with a status. No free slot: requests stay in the
 *    rings (backpressure) until answers free some.
 *  - the model thread owns the models. Dynamic batching: it waits for more
 *    requests while the batch is not full, at most max_batch_wait_us after
 *    the oldest arrived; it tokenizes them and groups texts of similar
 *    token counts (length bucketing: the batch grows around the oldest
 *    request, towards the nearest lengths, while the padding stays under a
 *    quarter of the batch), at most max_batch; the rest wait for the next
 *    batch (without the bounded wait: they have waited already). A request
 *    older than timeout_ms when its batch forms is answered -ETIMEDOUT
 *    without running (the frontend has stopped waiting for it).
 *
 * Models ("passes"): the multi-head checkpoint (classifier.model, or the
 * embedded default) serves the roles category / jailbreak / pii by head
 * name in one encoder pass; the classic vSR single-head checkpoints
 * (classifier.category_model, classifier.pii_model, prompt_guard) each are
 * their own pass and take their role from the multi-head one. Jailbreak
 * probability: 1 - P(benign label) when the head has a label named benign
 * / safe / legitimate (case-insensitive), else P(label "jailbreak"), else
 * P(label 1). PII spans (SY_CLASSIFY_PII only) above the PII threshold,
 * see classifier/clf_spans.h.
 *
 * Workers that restart (generation change) do not get answers meant for
 * their predecessor. SIGHUP reloads the configuration (the models only when
 * their paths or backend settings changed; a failed load keeps the old
 * ones); SIGTERM ends the process after the batch in progress. */
#include "classifier/daemon.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "classifier/clf_pipeline.h"
#include "classifier/clf_spans.h"
#include "common/config.h"
#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "common/notify.h"
#include "proto/msg.h"
#include "proto/peer.h"
#include "proto/runtime.h"

#define MAX_PASSES 4

enum role { ROLE_CATEGORY, ROLE_JAILBREAK, ROLE_PII, N_ROLES };
static const char *const role_name[N_ROLES] = { "category", "jailbreak", "pii" };

struct pass {
        struct clf_pipeline *p;
        char *dir;
        int head[N_ROLES];       /* head serving the role in this pass, -1 */
        char **labels[N_ROLES];  /* vSR mapping file's names for the role's head, or NULL */
        int jb_benign, jb_label; /* jailbreak head: benign label or jailbreak label (-1) */
};

struct models {
        struct pass pass[MAX_PASSES];
        size_t n;
        size_t max_labels, max_len;
        char key[8192]; /* what they were loaded from, to tell whether a reload changes them */
};

struct slot {
        uint64_t req_id;
        uint64_t arrive_ns;
        uint32_t worker, gen, len;
        uint16_t flags;
        float pii_threshold; /* the request's (sy_classify_req.pii_threshold_q); 0: params' */
        uint8_t enc_ok;      /* bit per pass: enc[] is current */
        uint32_t idx;
        struct clf_encoding enc[MAX_PASSES];
        struct sy_classify_resp resp;
        struct sy_pii_span spans[SY_CLASSIFY_MAX_SPANS];
        char text[SY_CLASSIFY_MAX_TEXT];
};

/* batching settings the model thread reads (under the lock) */
struct params {
        unsigned max_batch, wait_us, timeout_ms;
        float pii_threshold;
};

struct daemon {
        struct sy_config *cfg;
        char *config_path;
        struct peer peer; /* the ring pairs with the workers (proto/peer.h) */
        int epfd, sig_fd, ev_fd;

        struct slot *slots;
        uint32_t n_slots;
        uint32_t *free_list, n_free; /* ring thread only */

        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        /* under lock */
        uint32_t *pending, n_pending; /* ring -> model, oldest first */
        uint32_t *done, n_done;       /* model -> ring */
        struct params params;
        struct sy_config *reload_cfg; /* model thread: load these models */
        bool stop;

        /* model thread only */
        struct models *models;
        uint32_t *backlog, n_backlog;
        int32_t *tok_label;
        float *tok_score, *probs;
        size_t cap_tok;
        struct clf_span spans[SY_CLASSIFY_MAX_SPANS];

        /* ring thread: answers that did not fit in their ring yet */
        uint32_t *retry, n_retry;
};

static uint64_t now_ns(void) {
        return shm_now_ns();
}

/* ---- default model ---------------------------------------------------------- */

#ifndef SY_MODEL_DATADIR
#define SY_MODEL_DATADIR "/usr/share/switchyard/models/default"
#endif
#ifndef SY_MODEL_SRCDIR
#define SY_MODEL_SRCDIR "models/default"
#endif

/* ---- models ------------------------------------------------------------------- */

static void models_free(struct models *ms) {
        if (!ms)
                return;
        for (size_t i = 0; i < ms->n; i++) {
                struct pass *ps = &ms->pass[i];

                clf_pipeline_free(ps->p);
                free(ps->dir);
                for (int r = 0; r < N_ROLES; r++) {
                        for (size_t k = 0; ps->labels[r] && ps->labels[r][k]; k++)
                                free(ps->labels[r][k]);
                        free(ps->labels[r]);
                }
        }
        free(ms);
}

/* The identity of the models a configuration asks for: a reload loads
 * again only when this changes. */
static void models_key(const struct sy_config *cfg, char *buf, size_t cap) {
        const char *def = classifier_default_model();

        snprintf(buf, cap, "%s|%s|%u|%u|%s|%s|%d|%s|%s|%d|%s|%s|%d|%d",
                 cfg->classifier.model ? cfg->classifier.model
                 : def                 ? def
                                       : "",
                 cfg->classifier.backend, cfg->classifier.threads, cfg->classifier.max_len,
                 cfg->classifier.category.model_id ? cfg->classifier.category.model_id : "",
                 cfg->classifier.category.mapping_path ? cfg->classifier.category.mapping_path : "",
                 cfg->classifier.category.use_cpu, cfg->classifier.pii.model_id ? cfg->classifier.pii.model_id : "",
                 cfg->classifier.pii.mapping_path ? cfg->classifier.pii.mapping_path : "", cfg->classifier.pii.use_cpu,
                 cfg->classifier.jailbreak.model_id ? cfg->classifier.jailbreak.model_id : "",
                 cfg->classifier.jailbreak.mapping_path ? cfg->classifier.jailbreak.mapping_path : "",
                 cfg->classifier.jailbreak.use_cpu, cfg->classifier.jailbreak_enabled);
}

/* vSR's *_mapping.json: {"idx_to_category": {"0": "biology", ...}} or
 * {"idx_to_label": {...}}: the names of the head's labels. */
static int read_mapping(const char *path, size_t n_labels, char ***ret) {
        struct json_limits lim = { .max_depth = 16, .max_members = 16 };
        struct json_member top[16], m, el;
        const struct json_member *map;
        char *buf = NULL, **names;
        size_t len, n, it = 0;
        int r;

        if ((r = sy_read_file(path, 4u << 20, &buf, &len)) < 0)
                return r;
        r = -EBADMSG;
        if (json_scan_object(buf, len, &lim, top, &n, NULL) < 0)
                goto out;
        map = json_find(top, n, "idx_to_category");
        if (!map)
                map = json_find(top, n, "idx_to_label");
        if (!map || map->type != JSON_OBJECT)
                goto out;
        names = calloc(n_labels + 1, sizeof *names);
        if (!names) {
                r = -ENOMEM;
                goto out;
        }
        while (json_iter(map->val, map->val_len, &it, &m) > 0) {
                char key[32], *end;
                long id;
                int k;

                if (!m.key || m.key_len >= sizeof key || m.type != JSON_STRING)
                        continue;
                memcpy(key, m.key, m.key_len);
                key[m.key_len] = 0;
                id = strtol(key, &end, 10);
                if (*end || id < 0 || (size_t)id >= n_labels || names[id])
                        continue;
                names[id] = malloc(m.val_len + 1);
                if (!names[id])
                        break;
                k = json_string_decode(m.val, m.val_len, names[id], m.val_len);
                names[id][k > 0 ? k : 0] = 0;
        }
        (void)el;
        for (size_t i = 0; i < n_labels; i++)
                if (!names[i]) { /* incomplete: not used */
                        for (size_t k = 0; k < n_labels; k++)
                                free(names[k]);
                        free(names);
                        goto out;
                }
        *ret = names;
        r = 0;
out:
        free(buf);
        return r;
}

static bool label_is(const char *l, const char *const *words) {
        for (; *words; words++)
                if (strcasecmp(l, *words) == 0)
                        return true;
        return false;
}

static const char *head_label(const struct pass *ps, int role, const struct clf_head_cfg *hc, size_t i) {
        return ps->labels[role] ? ps->labels[role][i] : hc->labels[i];
}

static void find_jailbreak_labels(struct pass *ps) {
        static const char *const benign[] = { "benign", "safe", "legitimate", "legit", "no_jailbreak", NULL };
        static const char *const bad[] = { "jailbreak", "injection", "unsafe", "malicious", NULL };
        const struct clf_config *c = clf_model_config(clf_pipeline_model(ps->p));
        const struct clf_head_cfg *hc;

        ps->jb_benign = ps->jb_label = -1;
        if (ps->head[ROLE_JAILBREAK] < 0)
                return;
        hc = &c->clf_heads[ps->head[ROLE_JAILBREAK]];
        for (size_t i = 0; i < hc->num_labels; i++) {
                const char *l = head_label(ps, ROLE_JAILBREAK, hc, i);

                if (ps->jb_benign < 0 && label_is(l, benign))
                        ps->jb_benign = (int)i;
                if (ps->jb_label < 0 && label_is(l, bad))
                        ps->jb_label = (int)i;
        }
        if (ps->jb_benign < 0 && ps->jb_label < 0)
                ps->jb_label = hc->num_labels > 1 ? 1 : 0;
}

static int load_pass(struct models *ms, const char *dir, const char *backend, const struct sy_config *cfg,
                     struct pass **ret) {
        struct clf_pipeline_opts po = { .backend = backend,
                                        .threads = (int)cfg->classifier.threads,
                                        .max_len = cfg->classifier.max_len };
        struct pass *ps;
        int r;

        if (ms->n >= MAX_PASSES)
                return -E2BIG;
        ps = &ms->pass[ms->n];
        memset(ps, 0, sizeof *ps);
        for (int i = 0; i < N_ROLES; i++)
                ps->head[i] = -1;
        if ((r = clf_pipeline_load(dir, &po, &ps->p)) < 0) {
                log_err("classifier: cannot load model %s: %s", dir,
                        r == -ENOENT       ? "no config.json / model.safetensors / tokenizer there"
                        : r == -EBADMSG    ? "malformed or inconsistent files"
                        : r == -EOPNOTSUPP ? "architecture or option not supported"
                                           : strerror(-r));
                return r;
        }
        if (!(ps->dir = strdup(dir))) {
                clf_pipeline_free(ps->p);
                return -ENOMEM;
        }
        ms->n++;
        *ret = ps;
        return 0;
}

static int set_role(struct pass *ps, int role, int head, const char *mapping) {
        const struct clf_config *c = clf_model_config(clf_pipeline_model(ps->p));
        const struct clf_head_cfg *hc = &c->clf_heads[head];
        int r;

        if ((role == ROLE_PII) != (hc->kind == CLF_TASK_TOKEN)) {
                log_err("classifier: %s: the %s role needs a %s classification head", ps->dir, role_name[role],
                        role == ROLE_PII ? "token" : "sequence");
                return -EINVAL;
        }
        ps->head[role] = head;
        if (mapping && (r = read_mapping(mapping, hc->num_labels, &ps->labels[role])) < 0)
                log_warn("classifier: %s: %s; the model's own labels are used", mapping,
                         r == -EBADMSG ? "no complete idx_to_category / idx_to_label" : strerror(-r));
        return 0;
}

static int models_load(const struct sy_config *cfg, struct models **ret) {
        const struct sy_classifier_role_cfg *classic[N_ROLES] = {
                &cfg->classifier.category,
                &cfg->classifier.jailbreak,
                &cfg->classifier.pii,
        };
        struct models *ms = calloc(1, sizeof *ms);
        bool taken[N_ROLES] = { false }, any_classic = false;
        struct pass *ps;
        int r;

        if (!ms)
                return -ENOMEM;
        models_key(cfg, ms->key, sizeof ms->key);
        for (int role = 0; role < N_ROLES; role++) {
                const struct sy_classifier_role_cfg *rc = classic[role];

                if (!rc->model_id || (role == ROLE_JAILBREAK && !cfg->classifier.jailbreak_enabled))
                        continue;
                if (rc->missing) {
                        log_err("%s:%u: %s model '%s' is not a model directory; switchyard does not download "
                                "models: download it (e.g. huggingface-cli download ORG/NAME --local-dir DIR) and "
                                "give that path",
                                cfg->path, rc->line, role_name[role], rc->model_id);
                        r = -ENOENT;
                        goto fail;
                }
                if ((r = load_pass(ms, rc->model_id, rc->use_cpu ? "cpu" : cfg->classifier.backend, cfg, &ps)) < 0)
                        goto fail;
                if (clf_model_config(clf_pipeline_model(ps->p))->n_clf_heads == 0) {
                        log_err("classifier: %s has no classification head", rc->model_id);
                        r = -EINVAL;
                        goto fail;
                }
                if ((r = set_role(ps, role, 0, rc->mapping_path)) < 0)
                        goto fail;
                taken[role] = any_classic = true;
        }
        if (cfg->classifier.model || !any_classic) {
                const char *dir = cfg->classifier.model ? cfg->classifier.model : classifier_default_model();
                const struct clf_config *c;
                bool used = false;

                if (!dir) {
                        log_err("classifier: no model: set classifier.model (or SWITCHYARD_MODEL_DIR), or install "
                                "the default model (%s)",
                                SY_MODEL_DATADIR);
                        r = -ENOENT;
                        goto fail;
                }
                if ((r = load_pass(ms, dir, cfg->classifier.backend, cfg, &ps)) < 0)
                        goto fail;
                c = clf_model_config(clf_pipeline_model(ps->p));
                for (int role = 0; role < N_ROLES; role++) {
                        int h = c->multi_head ? clf_config_head(c, role_name[role]) : -1;

                        if (!c->multi_head && c->n_clf_heads == 1 &&
                            (role == ROLE_PII) == (c->clf_heads[0].kind == CLF_TASK_TOKEN) && role != ROLE_JAILBREAK)
                                h = 0; /* a single-head checkpoint as classifier.model */
                        if (h < 0 || taken[role] || (role == ROLE_JAILBREAK && !cfg->classifier.jailbreak_enabled))
                                continue;
                        if ((r = set_role(ps, role, h, NULL)) < 0)
                                goto fail;
                        taken[role] = used = true;
                }
                if (!used && any_classic) {
                        clf_pipeline_free(ps->p);
                        free(ps->dir);
                        ms->n--;
                }
        }
        for (size_t i = 0; i < ms->n; i++) {
                const struct clf_config *c = clf_model_config(clf_pipeline_model(ms->pass[i].p));

                find_jailbreak_labels(&ms->pass[i]);
                for (size_t h = 0; h < c->n_clf_heads; h++)
                        if (c->clf_heads[h].num_labels > ms->max_labels)
                                ms->max_labels = c->clf_heads[h].num_labels;
                if (clf_pipeline_max_len(ms->pass[i].p) > ms->max_len)
                        ms->max_len = clf_pipeline_max_len(ms->pass[i].p);
        }
        *ret = ms;
        return 0;
fail:
        models_free(ms);
        return r;
}

/* the start line: backend, model dir, heads, labels, threads */
static void models_log(const struct models *ms, const struct sy_config *cfg) {
        for (size_t i = 0; i < ms->n; i++) {
                const struct pass *ps = &ms->pass[i];
                const struct clf_model *m = clf_pipeline_model(ps->p);
                const struct clf_config *c = clf_model_config(m);
                char heads[1024];
                size_t o = 0;

                heads[0] = 0;
                for (int role = 0; role < N_ROLES; role++) {
                        const struct clf_head_cfg *hc;

                        if (ps->head[role] < 0)
                                continue;
                        hc = &c->clf_heads[ps->head[role]];
                        o += (size_t)snprintf(heads + o, o < sizeof heads ? sizeof heads - o : 0, "%s%s[", o ? " " : "",
                                              role_name[role]);
                        for (size_t k = 0; k < hc->num_labels && o < sizeof heads; k++)
                                o += (size_t)snprintf(heads + o, o < sizeof heads ? sizeof heads - o : 0, "%s%s",
                                                      k ? "," : "", head_label(ps, role, hc, k));
                        if (o < sizeof heads)
                                o += (size_t)snprintf(heads + o, sizeof heads - o, "]");
                }
                log_notice("classifier: %s backend, model %s (%s, %zu layers, hidden %zu, max %zu tokens), heads: %s; "
                           "%u threads, batch %u, wait %u us",
                           clf_model_backend(m), ps->dir, clf_arch_name(c->arch), c->layers, c->hidden,
                           clf_pipeline_max_len(ps->p), heads, cfg->classifier.threads, cfg->classifier.max_batch,
                           cfg->classifier.max_batch_wait_us);
        }
}

/* ---- the model thread ---------------------------------------------------------- */

static void params_of(const struct sy_config *cfg, struct params *p) {
        p->max_batch = cfg->classifier.max_batch ? cfg->classifier.max_batch : 32;
        p->wait_us = cfg->classifier.max_batch_wait_us;
        p->timeout_ms = cfg->classifier.timeout_ms ? cfg->classifier.timeout_ms : 50;
        p->pii_threshold = (float)cfg->classifier.pii.threshold;
}

static int grow_tok(struct daemon *d, size_t n) {
        if (n <= d->cap_tok)
                return 0;
        n = n < 512 ? 512 : n;
        free(d->tok_label);
        free(d->tok_score);
        d->tok_label = malloc(n * sizeof *d->tok_label);
        d->tok_score = malloc(n * sizeof *d->tok_score);
        if (!d->tok_label || !d->tok_score) {
                d->cap_tok = 0;
                return -ENOMEM;
        }
        d->cap_tok = n;
        return 0;
}

static void slot_answer_init(struct slot *s, int status) {
        memset(&s->resp, 0, sizeof s->resp);
        s->resp.req_id = s->req_id;
        s->resp.status = status;
        s->resp.jailbreak = -1.0f;
}

static size_t enc_len(const struct slot *s) {
        return s->enc[0].n;
}

static int cmp_len(const void *a, const void *b, void *arg) {
        const struct daemon *d = arg;
        size_t x = enc_len(&d->slots[*(const uint32_t *)a]), y = enc_len(&d->slots[*(const uint32_t *)b]);

        return x < y ? -1 : x > y;
}

/* Picks the batch from the backlog (tokenized with pass 0): around the
 * oldest request, towards the nearest lengths, while the padding stays
 * under a quarter of the padded tokens (or the batch is short); the rest
 * stays in the backlog. Returns the batch size; batch[] gets slot indexes. */
static size_t pick_batch(struct daemon *d, unsigned max_batch, uint32_t *batch) {
        uint32_t *b = d->backlog;
        size_t n = d->n_backlog, oldest = 0, lo, hi, count, sum, mx;

        for (size_t i = 1; i < n; i++)
                if (d->slots[b[i]].arrive_ns < d->slots[b[oldest]].arrive_ns)
                        oldest = i;
        if (n <= 1 || n <= max_batch) {
                /* everything fits: bucket only if the lengths are far apart */
                bool spread = false;
                size_t mn = SIZE_MAX;

                mx = 0;
                sum = 0;
                for (size_t i = 0; i < n; i++) {
                        size_t l = enc_len(&d->slots[b[i]]);

                        sum += l;
                        mx = l > mx ? l : mx;
                        mn = l < mn ? l : mn;
                }
                spread = mx > 32 && (mx * n - sum) * 4 > mx * n;
                if (!spread) {
                        memcpy(batch, b, n * sizeof *b);
                        d->n_backlog = 0;
                        return n;
                }
        }
        {
                uint32_t first = b[oldest];

                qsort_r(b, n, sizeof *b, cmp_len, d);
                for (oldest = 0; b[oldest] != first; oldest++)
                        ;
        }
        lo = hi = oldest;
        count = 1;
        sum = mx = enc_len(&d->slots[b[oldest]]);
        while (count < max_batch) {
                size_t l0 = enc_len(&d->slots[b[oldest]]), cand, cl, nmx;
                bool left;

                if (lo == 0 && hi + 1 >= n)
                        break;
                if (lo == 0)
                        left = false;
                else if (hi + 1 >= n)
                        left = true;
                else
                        left = l0 - enc_len(&d->slots[b[lo - 1]]) <= enc_len(&d->slots[b[hi + 1]]) - l0;
                cand = left ? lo - 1 : hi + 1;
                cl = enc_len(&d->slots[b[cand]]);
                nmx = cl > mx ? cl : mx;
                if (nmx > 32 && (nmx * (count + 1) - (sum + cl)) * 4 > nmx * (count + 1))
                        break; /* too much padding */
                if (left)
                        lo--;
                else
                        hi++;
                sum += cl;
                mx = nmx;
                count++;
        }
        memcpy(batch, b + lo, count * sizeof *b);
        memmove(b + lo, b + hi + 1, (n - hi - 1) * sizeof *b);
        d->n_backlog = n - count;
        return count;
}

static void fill_pass(struct daemon *d, struct pass *ps, size_t pi, const uint32_t *batch, size_t n,
                      const float *logits, size_t T, float pii_threshold) {
        const struct clf_model *m = clf_pipeline_model(ps->p);
        const struct clf_config *c = clf_model_config(m);

        for (size_t i = 0; i < n; i++) {
                struct slot *s = &d->slots[batch[i]];

                if (ps->head[ROLE_CATEGORY] >= 0 && !(s->flags & SY_CLASSIFY_NO_CATEGORY)) {
                        int h = ps->head[ROLE_CATEGORY];
                        const struct clf_head_cfg *hc = &c->clf_heads[h];
                        const float *lg = logits + clf_model_head_offset(m, (size_t)h, n, T) + i * hc->num_labels;
                        int best = clf_normalize(lg, hc->num_labels, hc->multi_label, d->probs);

                        s->resp.confidence = d->probs[best];
                        snprintf(s->resp.category, sizeof s->resp.category, "%s",
                                 head_label(ps, ROLE_CATEGORY, hc, (size_t)best));
                }
                if (ps->head[ROLE_JAILBREAK] >= 0) {
                        int h = ps->head[ROLE_JAILBREAK];
                        const struct clf_head_cfg *hc = &c->clf_heads[h];
                        const float *lg = logits + clf_model_head_offset(m, (size_t)h, n, T) + i * hc->num_labels;

                        clf_normalize(lg, hc->num_labels, hc->multi_label, d->probs);
                        s->resp.jailbreak =
                                ps->jb_benign >= 0 ? 1.0f - d->probs[ps->jb_benign] : d->probs[ps->jb_label];
                        if (s->resp.jailbreak < 0)
                                s->resp.jailbreak = 0;
                }
                if (ps->head[ROLE_PII] >= 0 && (s->flags & SY_CLASSIFY_PII)) {
                        int h = ps->head[ROLE_PII];
                        const struct clf_head_cfg *hc = &c->clf_heads[h];
                        const float *lg = logits + clf_model_head_offset(m, (size_t)h, n, T) + i * T * hc->num_labels;
                        const struct clf_encoding *e = &s->enc[pi];
                        struct clf_head_cfg named = *hc;
                        size_t k;

                        if (clf_token_tags(hc, e, s->text, s->len, lg, clf_model_transitions(m, (size_t)h),
                                           clf_pipeline_token_crf(ps->p, (size_t)h), d->tok_label, d->tok_score) < 0) {
                                s->resp.status = -ENOMEM;
                                continue;
                        }
                        if (ps->labels[ROLE_PII])
                                named.labels = ps->labels[ROLE_PII];
                        k = clf_spans(&named, e, d->tok_label, d->tok_score, s->text, s->len,
                                      s->pii_threshold > 0 ? s->pii_threshold : pii_threshold, d->spans,
                                      SY_CLASSIFY_MAX_SPANS);
                        if (k > SY_CLASSIFY_MAX_SPANS)
                                k = SY_CLASSIFY_MAX_SPANS;
                        for (size_t j = 0; j < k; j++) {
                                struct sy_pii_span *o = &s->spans[j];
                                size_t tl = d->spans[j].type_len < SY_CLASSIFY_LABEL - 1 ? d->spans[j].type_len
                                                                                         : SY_CLASSIFY_LABEL - 1;

                                memset(o, 0, sizeof *o);
                                o->start = d->spans[j].start;
                                o->end = d->spans[j].end;
                                o->score = d->spans[j].score;
                                memcpy(o->type, d->spans[j].type, tl);
                        }
                        s->resp.n_spans = (uint16_t)k;
                }
        }
}

/* runs one batch through every pass; fills the answers */
static void run_batch(struct daemon *d, const uint32_t *batch, size_t n, const struct params *pr) {
        struct models *ms = d->models;
        const struct clf_encoding *encs[1024];
        uint64_t t0 = now_ns();
        int r = 0;

        for (size_t i = 0; i < n; i++) {
                struct slot *s = &d->slots[batch[i]];

                slot_answer_init(s, 0);
                s->resp.queue_us = (uint32_t)((t0 - s->arrive_ns) / 1000);
                s->resp.batch = (uint16_t)n;
        }
        for (size_t pi = 0; pi < ms->n && r >= 0; pi++) {
                struct pass *ps = &ms->pass[pi];
                const float *logits;
                size_t T;
                bool wanted = ps->head[ROLE_JAILBREAK] >= 0 || ps->head[ROLE_PII] >= 0;

                /* a pass that serves only the category is skipped when no
                 * text of the batch needs one (guards on explicit models) */
                for (size_t i = 0; i < n && !wanted; i++)
                        wanted = !(d->slots[batch[i]].flags & SY_CLASSIFY_NO_CATEGORY);
                if (!wanted)
                        continue;

                for (size_t i = 0; i < n; i++) {
                        struct slot *s = &d->slots[batch[i]];

                        if (!(s->enc_ok & (1u << pi)) &&
                            (r = clf_pipeline_encode_opt(ps->p, s->text, s->len, !(s->flags & SY_CLASSIFY_NO_CATEGORY),
                                                         &s->enc[pi])) < 0)
                                break;
                        s->enc_ok |= (uint8_t)(1u << pi);
                        encs[i] = &s->enc[pi];
                }
                if (r < 0)
                        break;
                if ((r = clf_pipeline_forward(ps->p, encs, n, false, &logits, NULL, &T)) < 0)
                        break;
                if ((r = grow_tok(d, T)) < 0)
                        break;
                fill_pass(d, ps, pi, batch, n, logits, T, pr->pii_threshold);
        }
        for (size_t i = 0; i < n; i++) {
                struct slot *s = &d->slots[batch[i]];

                s->resp.run_us = (uint32_t)((now_ns() - t0) / 1000);
                s->resp.tokens = (uint32_t)s->enc[0].n;
                if (r < 0) {
                        s->resp.status = r;
                        s->resp.n_spans = 0;
                }
        }
        if (r < 0)
                log_warn("classifier: batch of %zu failed: %s", n, strerror(-r));
}

static void post_done(struct daemon *d, const uint32_t *idx, size_t n) {
        uint64_t one = 1;

        pthread_mutex_lock(&d->lock);
        memcpy(d->done + d->n_done, idx, n * sizeof *idx);
        d->n_done += (uint32_t)n;
        pthread_mutex_unlock(&d->lock);
        if (write(d->ev_fd, &one, sizeof one) < 0) {
                /* the counter is far from overflowing: nothing to do */
        }
}

static void model_reload(struct daemon *d, struct sy_config *nc) {
        struct models *nm;
        char key[sizeof d->models->key];

        models_key(nc, key, sizeof key);
        if (d->models && strcmp(key, d->models->key) == 0) {
                sy_config_free(nc);
                return;
        }
        if (models_load(nc, &nm) < 0) {
                log_err("classifier: reload: the new models did not load; keeping the running ones");
                sy_config_free(nc);
                return;
        }
        models_log(nm, nc);
        models_free(d->models);
        d->models = nm;
        free(d->probs);
        d->probs = malloc((nm->max_labels + 1) * sizeof *d->probs);
        for (size_t i = 0; i < d->n_backlog; i++)
                d->slots[d->backlog[i]].enc_ok = 0; /* other tokenizers now */
        sy_config_free(nc);
}

static void *model_thread(void *arg) {
        struct daemon *d = arg;
        uint32_t *batch = malloc(d->n_slots * sizeof *batch);
        uint32_t *expired = malloc(d->n_slots * sizeof *expired);

        if (!batch || !expired) {
                log_err("classifier: out of memory");
                abort();
        }
        pthread_mutex_lock(&d->lock);
        for (;;) {
                struct params pr;
                size_t n, n_exp = 0;
                uint64_t now;

                while (!d->stop && !d->reload_cfg && d->n_pending == 0 && d->n_backlog == 0)
                        pthread_cond_wait(&d->cond, &d->lock);
                if (d->stop)
                        break;
                if (d->reload_cfg) {
                        struct sy_config *nc = d->reload_cfg;

                        d->reload_cfg = NULL;
                        pthread_mutex_unlock(&d->lock);
                        model_reload(d, nc);
                        pthread_mutex_lock(&d->lock);
                        continue;
                }
                pr = d->params;
                /* bounded wait for more, only for fresh requests and a batch not full */
                if (d->n_backlog == 0 && d->n_pending < pr.max_batch && pr.wait_us > 0) {
                        uint64_t deadline = d->slots[d->pending[0]].arrive_ns + (uint64_t)pr.wait_us * 1000;
                        struct timespec ts;

                        while (!d->stop && d->n_pending < pr.max_batch && (now = now_ns()) < deadline) {
                                uint64_t left = deadline - now;

                                clock_gettime(CLOCK_MONOTONIC, &ts);
                                ts.tv_sec += (time_t)(left / 1000000000ULL);
                                ts.tv_nsec += (long)(left % 1000000000ULL);
                                if (ts.tv_nsec >= 1000000000L) {
                                        ts.tv_sec++;
                                        ts.tv_nsec -= 1000000000L;
                                }
                                pthread_cond_timedwait(&d->cond, &d->lock, &ts);
                        }
                        if (d->stop)
                                break;
                }
                memcpy(d->backlog + d->n_backlog, d->pending, d->n_pending * sizeof *d->pending);
                d->n_backlog += d->n_pending;
                d->n_pending = 0;
                pthread_mutex_unlock(&d->lock);

                /* too late to matter: answered without running */
                now = now_ns();
                for (size_t i = 0; i < d->n_backlog;) {
                        struct slot *s = &d->slots[d->backlog[i]];

                        if (now - s->arrive_ns > (uint64_t)pr.timeout_ms * 1000000ULL) {
                                slot_answer_init(s, -ETIMEDOUT);
                                s->resp.queue_us = (uint32_t)((now - s->arrive_ns) / 1000);
                                expired[n_exp++] = d->backlog[i];
                                d->backlog[i] = d->backlog[--d->n_backlog];
                        } else {
                                i++;
                        }
                }
                if (n_exp)
                        post_done(d, expired, n_exp);
                /* tokenize with the first pass (its lengths bucket the batch) */
                for (size_t i = 0; i < d->n_backlog; i++) {
                        struct slot *s = &d->slots[d->backlog[i]];

                        if (!(s->enc_ok & 1u)) {
                                if (clf_pipeline_encode_opt(d->models->pass[0].p, s->text, s->len,
                                                            !(s->flags & SY_CLASSIFY_NO_CATEGORY), &s->enc[0]) < 0)
                                        s->enc[0].n = 0; /* fails again in run_batch, answered with the error */
                                else
                                        s->enc_ok |= 1u;
                        }
                }
                n = d->n_backlog ? pick_batch(d, pr.max_batch, batch) : 0;
                if (n) {
                        run_batch(d, batch, n, &pr);
                        post_done(d, batch, n);
                }
                pthread_mutex_lock(&d->lock);
        }
        pthread_mutex_unlock(&d->lock);
        free(batch);
        free(expired);
        return NULL;
}

/* ---- the ring thread ------------------------------------------------------------- */

/* 0 pushed (or dropped: the worker restarted), -EAGAIN ring full */
static int push_answer(struct daemon *d, uint32_t w, uint32_t gen, const struct sy_classify_resp *resp,
                       const struct sy_pii_span *spans) {
        struct ring *out = peer_out(&d->peer, w);
        struct iovec iov[2] = {
                { .iov_base = (void *)resp, .iov_len = sizeof *resp },
                { .iov_base = (void *)spans, .iov_len = resp->n_spans * sizeof *spans },
        };
        int r;

        if (peer_worker_gen(&d->peer, w) != gen)
                return 0; /* its predecessor asked */
        r = ring_sp_pushv(out, SY_MSG_CLASSIFY_RESP, iov, resp->n_spans ? 2 : 1);
        if (r == -EMSGSIZE && resp->n_spans) {
                /* spans beyond what the ring takes: as many as fit */
                struct sy_classify_resp cut = *resp;

                cut.n_spans = (uint16_t)((ring_max_msg(out) - sizeof cut) / sizeof *spans);
                iov[0].iov_base = &cut;
                iov[1].iov_len = cut.n_spans * sizeof *spans;
                r = ring_sp_pushv(out, SY_MSG_CLASSIFY_RESP, iov, 2);
        }
        if (r == -EMSGSIZE)
                return 0; /* cannot happen with a sane ring size; the worker times out */
        return r;
}

static void send_answers(struct daemon *d, bool *woke) {
        uint32_t idx[4096];
        uint32_t n;

        pthread_mutex_lock(&d->lock);
        n = d->n_done < 4096 ? d->n_done : 4096;
        memcpy(idx, d->done, n * sizeof *idx);
        memmove(d->done, d->done + n, (d->n_done - n) * sizeof *d->done);
        d->n_done -= n;
        pthread_mutex_unlock(&d->lock);
        /* earlier answers that did not fit go first */
        if (d->n_retry) {
                uint32_t k = 0;

                for (uint32_t i = 0; i < d->n_retry; i++) {
                        struct slot *s = &d->slots[d->retry[i]];

                        if (push_answer(d, s->worker, s->gen, &s->resp, s->spans) == -EAGAIN) {
                                d->retry[k++] = d->retry[i];
                                continue;
                        }
                        woke[s->worker] = true;
                        d->free_list[d->n_free++] = d->retry[i];
                }
                d->n_retry = k;
        }
        for (uint32_t i = 0; i < n; i++) {
                struct slot *s = &d->slots[idx[i]];

                if (push_answer(d, s->worker, s->gen, &s->resp, s->spans) == -EAGAIN) {
                        d->retry[d->n_retry++] = idx[i];
                        continue;
                }
                woke[s->worker] = true;
                d->free_list[d->n_free++] = idx[i];
        }
}

static void answer_now(struct daemon *d, uint32_t w, uint64_t req_id, int status, bool *woke) {
        struct sy_classify_resp resp = { .req_id = req_id, .status = status, .jailbreak = -1.0f };

        push_answer(d, w, peer_worker_gen(&d->peer, w), &resp, NULL);
        woke[w] = true;
}

struct drain_arg {
        struct daemon *d;
        bool *woke;
        uint32_t fresh[1024], n_fresh;
};

static int on_request(void *arg, uint32_t w, uint16_t type, const void *msg, uint32_t len) {
        struct drain_arg *a = arg;
        struct daemon *d = a->d;
        const struct sy_classify_req *q = msg;

        if (type != SY_MSG_CLASSIFY_REQ || len < sizeof *q) {
                log_debug("classifier: worker %u: message type %u, %u bytes: ignored", w, type, len);
        } else if (q->text_len > SY_CLASSIFY_MAX_TEXT) {
                answer_now(d, w, q->req_id, -EMSGSIZE, a->woke);
        } else if (q->text_len != len - sizeof *q) {
                answer_now(d, w, q->req_id, -EBADMSG, a->woke);
        } else {
                uint32_t i = d->free_list[--d->n_free];
                struct slot *s = &d->slots[i];

                s->req_id = q->req_id;
                s->worker = w;
                s->gen = peer_worker_gen(&d->peer, w);
                s->flags = q->flags;
                s->pii_threshold = q->pii_threshold_q ? (float)q->pii_threshold_q / 65535.0f : 0;
                s->len = q->text_len;
                s->enc_ok = 0;
                s->arrive_ns = now_ns();
                memcpy(s->text, q + 1, q->text_len);
                a->fresh[a->n_fresh++] = i;
        }
        return d->n_free == 0 || a->n_fresh == 1024; /* no slot left: the rest wait in the rings */
}

/* takes requests from every attached worker's ring while slots are free */
static void drain_rings(struct daemon *d, bool *woke) {
        struct drain_arg a = { .d = d, .woke = woke };

        if (d->n_free > 0)
                peer_drain(&d->peer, 256, 0, on_request, &a);
        if (a.n_fresh) {
                pthread_mutex_lock(&d->lock);
                memcpy(d->pending + d->n_pending, a.fresh, a.n_fresh * sizeof *a.fresh);
                d->n_pending += a.n_fresh;
                pthread_cond_signal(&d->cond);
                pthread_mutex_unlock(&d->lock);
        }
}

/* nothing can be taken without a free slot: then wait for answers (eventfd) */
static bool prepare_sleep(struct daemon *d) {
        return d->n_free == 0 || peer_prepare_sleep(&d->peer);
}

static void reload(struct daemon *d) {
        struct sy_config *nc, *mc;
        char err[512];
        int r = sy_config_load(d->config_path, &nc, err, sizeof err);

        if (r < 0) {
                log_err("reload refused, keeping the old configuration: %s", err);
                return;
        }
        /* the model thread gets its own copy to load from */
        if (sy_config_load(d->config_path, &mc, err, sizeof err) < 0) {
                sy_config_free(nc);
                return;
        }
        pthread_mutex_lock(&d->lock);
        params_of(nc, &d->params);
        if (d->reload_cfg)
                sy_config_free(d->reload_cfg);
        d->reload_cfg = mc;
        pthread_cond_signal(&d->cond);
        pthread_mutex_unlock(&d->lock);
        sy_config_free(d->cfg);
        d->cfg = nc;
        log_notice("configuration reloaded");
}

static void on_hup(void *arg) { /* SIGHUP */
        reload(arg);
}

/* OpenBLAS sizes its thread pool from OPENBLAS_NUM_THREADS when the library
 * loads, before main(): run again with it set to the configured count
 * (more threads than used would spin after every call). */
static void openblas_threads(const char *config_path, unsigned threads) {
        const char *cur = getenv("OPENBLAS_NUM_THREADS"), *again = getenv("SWITCHYARD_CLASSIFIER_EXEC");
        char want[16];

        snprintf(want, sizeof want, "%u", threads ? threads : 1);
        if ((cur && strcmp(cur, want) == 0) || (again && *again))
                return;
        setenv("OPENBLAS_NUM_THREADS", want, 1);
        setenv("SWITCHYARD_CLASSIFIER_EXEC", "1", 1);
        execl("/proc/self/exe", "switchyard-classifier", "classifier", "-c", config_path, (char *)NULL);
        log_warn("cannot re-execute with OPENBLAS_NUM_THREADS=%s (%s); going on", want, strerror(errno));
}

static void daemon_free(struct daemon *d) {
        if (d->thread_started) {
                pthread_mutex_lock(&d->lock);
                d->stop = true;
                pthread_cond_signal(&d->cond);
                pthread_mutex_unlock(&d->lock);
                pthread_join(d->thread, NULL);
        }
        peer_close(&d->peer);
        for (uint32_t i = 0; d->slots && i < d->n_slots; i++)
                for (int k = 0; k < MAX_PASSES; k++)
                        clf_encoding_free(&d->slots[i].enc[k]);
        free(d->slots);
        free(d->free_list);
        free(d->pending);
        free(d->done);
        free(d->backlog);
        free(d->retry);
        free(d->tok_label);
        free(d->tok_score);
        free(d->probs);
        models_free(d->models);
        if (d->reload_cfg)
                sy_config_free(d->reload_cfg);
        for (int fd_i = 0; fd_i < 3; fd_i++) {
                int fd = fd_i == 0 ? d->epfd : fd_i == 1 ? d->sig_fd : d->ev_fd;

                if (fd >= 0)
                        close(fd);
        }
        sy_config_free(d->cfg);
        free(d->config_path);
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->cond);
        free(d);
}

int classifier_main(const char *config_path) {
        struct daemon *d = calloc(1, sizeof *d);
        pthread_condattr_t ca;
        char err[512];
        bool *woke = NULL;
        int ret, code = 1;

        sy_log_init("classifier");
        signal(SIGPIPE, SIG_IGN); /* bell_ring: EPIPE instead of a signal */
        if (!d)
                return 1;
        d->epfd = d->sig_fd = d->ev_fd = -1;
        pthread_mutex_init(&d->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&d->cond, &ca);
        pthread_condattr_destroy(&ca);
        d->config_path = strdup(config_path);
        if ((ret = sy_config_load(config_path, &d->cfg, err, sizeof err)) < 0) {
                log_err("%s", err);
                goto out;
        }
        openblas_threads(config_path, d->cfg->classifier.threads);
        if (!d->cfg->classifier.enabled)
                log_warn("the configuration does not enable the classifier (no classifier: section, prompt_guard "
                         "or categories); running anyway");
        params_of(d->cfg, &d->params);
        if ((ret = models_load(d->cfg, &d->models)) < 0)
                goto out;
        models_log(d->models, d->cfg);

        /* the request pool: enough for several full batches in flight */
        d->n_slots = d->params.max_batch * 8 < 64 ? 64 : d->params.max_batch * 8;
        if (d->n_slots > 1024)
                d->n_slots = 1024;
        d->slots = calloc(d->n_slots, sizeof *d->slots);
        d->free_list = malloc(d->n_slots * sizeof *d->free_list);
        d->pending = malloc(d->n_slots * sizeof *d->pending);
        d->done = malloc(d->n_slots * sizeof *d->done);
        d->backlog = malloc(d->n_slots * sizeof *d->backlog);
        d->retry = malloc(d->n_slots * sizeof *d->retry);
        d->probs = malloc((d->models->max_labels + 1) * sizeof *d->probs);
        if (!d->slots || !d->free_list || !d->pending || !d->done || !d->backlog || !d->retry || !d->probs ||
            grow_tok(d, d->models->max_len + 1) < 0) {
                log_err("out of memory");
                goto out;
        }
        for (uint32_t i = 0; i < d->n_slots; i++) {
                d->slots[i].idx = i;
                for (int k = 0; k < MAX_PASSES; k++)
                        clf_encoding_init(&d->slots[i].enc[k]);
                d->free_list[d->n_free++] = d->n_slots - 1 - i;
        }

        if ((ret = peer_open(&d->peer, d->cfg, SHM_PEER_CLASSIFIER, err, sizeof err)) < 0 ||
            (ret = peer_listen(&d->peer, SY_CLASSIFIER_BELL, err, sizeof err)) < 0) {
                log_err("%s", err);
                goto out;
        }
        woke = calloc(d->peer.max_workers + 1, sizeof *woke);
        if (!woke) {
                log_err("out of memory");
                goto out;
        }
        d->sig_fd = sy_signalfd_open(SFD_CLOEXEC | SFD_NONBLOCK); /* before the model thread: it inherits the mask */
        d->ev_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        d->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (d->sig_fd < 0 || d->ev_fd < 0 || d->epfd < 0)
                goto out;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &d->peer.bell_fd };
        epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->peer.bell_fd, &ev);
        ev.data.ptr = &d->sig_fd;
        epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sig_fd, &ev);
        ev.data.ptr = &d->ev_fd;
        epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->ev_fd, &ev);
        if (pthread_create(&d->thread, NULL, model_thread, d) != 0) {
                log_err("cannot start the model thread");
                goto out;
        }
        d->thread_started = true;

        peer_attach(&d->peer);
        peer_wake_all(&d->peer);
        log_notice("classifier up: %u request slots", d->n_slots);
        sy_notify_ready("classifying");

        for (;;) {
                struct epoll_event evs[8];
                uint64_t now = now_ns();
                int n;

                memset(woke, 0, (d->peer.max_workers + 1) * sizeof *woke);
                send_answers(d, woke);
                drain_rings(d, woke);
                for (uint32_t w = 0; w < d->peer.max_workers; w++)
                        if (woke[w])
                                peer_wake(&d->peer, w);
                peer_heartbeat(&d->peer, now);
                n = epoll_wait(d->epfd, evs, 8, d->n_retry ? 1 : prepare_sleep(d) ? 100 : 0);
                for (int i = 0; i < n; i++) {
                        void *p = evs[i].data.ptr;

                        if (p == &d->peer.bell_fd) {
                                peer_doorbell(&d->peer);
                        } else if (p == &d->ev_fd) {
                                uint64_t v;

                                if (read(d->ev_fd, &v, sizeof v) < 0) {
                                        /* EAGAIN: already read */
                                }
                        } else if (p == &d->sig_fd) {
                                if (sy_signals_drain(d->sig_fd, "classifier", on_hup, d)) {
                                        code = 0;
                                        goto out;
                                }
                        }
                }
                peer_cancel_sleep(&d->peer);
        }
out:
        free(woke);
        daemon_free(d);
        return code;
}
