#include "classifier/clf_model.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/clf_backend.h"
#include "classifier/clf_safetensors.h"
#include "common/log.h"

struct clf_layer {
        const float *ln1_w, *ln1_b; /* BERT: attention.output.LayerNorm; ModernBERT: attn_norm (NULL in layer 0) */
        const float *wqkv, *bqkv, *wo, *bo;
        const float *ln2_w, *ln2_b; /* BERT: output.LayerNorm; ModernBERT: mlp_norm */
        const float *wi, *bi, *wo2, *bo2;
        bool local;
};

/* a classification head: [pool] -> [dense -> act [-> norm]] -> linear */
struct clf_head_w {
        const float *dense_w, *dense_b;
        enum clf_act act;
        const float *norm_w, *norm_b;
        const float *cls_w, *cls_b;
        const float *trans; /* token heads: host [labels + 1, labels] or NULL */
};

struct clf_model {
        struct clf_config cfg;
        struct clf_backend *be;
        struct clf_safetensors *st;
        char pfx[32];

        float **host; /* converted weights we own */
        size_t n_host, cap_host;
        float **dev; /* backend copies to free */
        size_t n_dev, cap_dev;

        const float *word_emb, *pos_emb, *type_emb, *emb_ln_w, *emb_ln_b;
        struct clf_layer *layer;
        const float *final_ln_w, *final_ln_b;
        /* per head (cfg.clf_heads): BERT pooler, DistilBERT pre_classifier,
         * ModernBERT head.dense + head.norm, or heads.<name>.* */
        struct clf_head_w *head;
        size_t total_labels;              /* over all heads */
        float *rope_cos[2], *rope_sin[2]; /* [global, local] on the backend */

        /* activations on the backend, for cap_M rows / cap_B sequences */
        size_t cap_M, cap_B;
        float *x, *h, *qkv, *ctx, *big, *u, *pooled, *pooled2, *logits, *emb, *maskf;
        int32_t *ids, *pos, *zeros, *types;
        /* host staging */
        float *h_mask;
        int32_t *h_pos;
};

const struct clf_config *clf_model_config(const struct clf_model *m) {
        return &m->cfg;
}

const char *clf_model_backend(const struct clf_model *m) {
        return m->be->ops->name;
}

/* ---- weights ---- */

static int track(float ***arr, size_t *n, size_t *cap, float *p) {
        if (*n == *cap) {
                size_t c = *cap ? *cap * 2 : 64;
                float **a = realloc(*arr, c * sizeof *a);

                if (!a)
                        return -ENOMEM;
                *arr = a;
                *cap = c;
        }
        (*arr)[(*n)++] = p;
        return 0;
}

__attribute__((format(printf, 2, 0))) static const struct clf_st_tensor *find(const struct clf_model *m,
                                                                              const char *fmt, va_list ap) {
        char name[256], full[300];

        vsnprintf(name, sizeof name, fmt, ap);
        if (name[0] == '~') { /* ~: not under the encoder prefix */
                return clf_safetensors_find(m->st, name + 1);
        }
        snprintf(full, sizeof full, "%s%s", m->pfx, name);
        return clf_safetensors_find(m->st, full);
}

/* The f32 host array of tensor `fmt` with shape [d0] (d1 == 0) or
 * [d0, d1]; NULL in *ret when absent and !required. */
__attribute__((format(printf, 6, 7))) static int get_host(struct clf_model *m, bool required, size_t d0, size_t d1,
                                                          const float **ret, const char *fmt, ...) {
        const struct clf_st_tensor *t;
        char name[256];
        va_list ap;
        float *buf;
        int r;

        va_start(ap, fmt);
        t = find(m, fmt, ap);
        va_end(ap);
        va_start(ap, fmt);
        vsnprintf(name, sizeof name, fmt, ap);
        va_end(ap);
        if (!t) {
                *ret = NULL;
                if (required)
                        log_debug("classifier: tensor %s%s missing", name[0] == '~' ? "" : m->pfx, name);
                return required ? -EBADMSG : 0;
        }
        if (t->ndim != (d1 ? 2u : 1u) || (size_t)t->shape[0] != d0 || (d1 && (size_t)t->shape[1] != d1)) {
                log_debug("classifier: tensor %s has shape [%lld%s%lld], expected [%zu, %zu]", t->name,
                          (long long)t->shape[0], t->ndim > 1 ? ", " : "", t->ndim > 1 ? (long long)t->shape[1] : 0LL,
                          d0, d1);
                return -EBADMSG;
        }
        if (t->dtype == CLF_DTYPE_F32 && ((uintptr_t)t->data & 3) == 0) {
                *ret = t->data;
                return 0;
        }
        buf = malloc(t->numel * sizeof *buf);
        if (!buf)
                return -ENOMEM;
        if ((r = clf_safetensors_to_f32(t, buf, t->numel)) < 0 ||
            (r = track(&m->host, &m->n_host, &m->cap_host, buf)) < 0) {
                if (r == -EOPNOTSUPP)
                        log_debug("classifier: tensor %s: dtype %s not supported", t->name, clf_dtype_name(t->dtype));
                free(buf);
                return r == -EOPNOTSUPP ? -EBADMSG : r;
        }
        *ret = buf;
        return 0;
}

static int to_backend(struct clf_model *m, const float *host, size_t n, const float **ret) {
        float *w;
        int r;

        if (!host) {
                *ret = NULL;
                return 0;
        }
        if ((r = m->be->ops->weight(m->be, host, n, &w)) < 0)
                return r;
        if (!m->be->ops->weights_alias_host && (r = track(&m->dev, &m->n_dev, &m->cap_dev, w)) < 0) {
                m->be->ops->free(m->be, w);
                return r;
        }
        *ret = w;
        return 0;
}

#define LOAD(req, d0, d1, ret, ...)                                                       \
        do {                                                                              \
                const float *h_;                                                          \
                if ((r = get_host(m, (req), (d0), (d1), &h_, __VA_ARGS__)) < 0 ||         \
                    (r = to_backend(m, h_, (size_t)(d0) * ((d1) ? (d1) : 1), (ret))) < 0) \
                        return r;                                                         \
        } while (0)

/* q, k, v ([H, H] + [H]) concatenated into one [3H, H] GEMM; base names
 * of the three linear layers */
static int load_qkv(struct clf_model *m, const char *const names[3], const float **ret_w, const float **ret_b) {
        size_t H = m->cfg.hidden;
        const float *w[3], *b[3];
        float *cw, *cb;
        int r;

        for (int i = 0; i < 3; i++) {
                if ((r = get_host(m, true, H, H, &w[i], "%s.weight", names[i])) < 0)
                        return r;
                if ((r = get_host(m, true, H, 0, &b[i], "%s.bias", names[i])) < 0)
                        return r;
        }
        cw = malloc(3 * H * H * sizeof *cw);
        cb = malloc(3 * H * sizeof *cb);
        if (!cw || !cb || track(&m->host, &m->n_host, &m->cap_host, cw) < 0) {
                free(cw);
                free(cb);
                return -ENOMEM;
        }
        if (track(&m->host, &m->n_host, &m->cap_host, cb) < 0) {
                free(cb);
                return -ENOMEM;
        }
        for (int i = 0; i < 3; i++) {
                memcpy(cw + i * H * H, w[i], H * H * sizeof *cw);
                memcpy(cb + i * H, b[i], H * sizeof *cb);
        }
        if ((r = to_backend(m, cw, 3 * H * H, ret_w)) < 0)
                return r;
        return to_backend(m, cb, 3 * H, ret_b);
}

/* LayerNorm weight/bias, or the gamma/beta of old BERT checkpoints */
static int load_ln(struct clf_model *m, const char *base, const float **ret_w, const float **ret_b) {
        size_t H = m->cfg.hidden;
        int r;

        LOAD(false, H, 0, ret_w, "%s.weight", base);
        if (*ret_w) {
                LOAD(true, H, 0, ret_b, "%s.bias", base);
                return 0;
        }
        LOAD(true, H, 0, ret_w, "%s.gamma", base);
        LOAD(true, H, 0, ret_b, "%s.beta", base);
        return 0;
}

static bool has_prefix(const struct clf_safetensors *st, const char *pfx) {
        size_t l = strlen(pfx);

        for (size_t i = 0; i < clf_safetensors_count(st); i++)
                if (strncmp(clf_safetensors_at(st, i)->name, pfx, l) == 0)
                        return true;
        return false;
}

static int load_bert(struct clf_model *m) {
        const struct clf_config *c = &m->cfg;
        size_t H = c->hidden, I = c->intermediate, L = c->num_labels;
        bool distil = c->arch == CLF_ARCH_DISTILBERT;
        int r;

        strcpy(m->pfx, distil ? "distilbert." : "bert.");
        if (!has_prefix(m->st, m->pfx))
                m->pfx[0] = 0; /* a bare encoder checkpoint */
        LOAD(true, c->vocab_size, H, &m->word_emb, "embeddings.word_embeddings.weight");
        LOAD(true, c->max_pos, H, &m->pos_emb, "embeddings.position_embeddings.weight");
        if (!distil && c->type_vocab > 0)
                LOAD(false, c->type_vocab, H, &m->type_emb, "embeddings.token_type_embeddings.weight");
        if ((r = load_ln(m, "embeddings.LayerNorm", &m->emb_ln_w, &m->emb_ln_b)) < 0)
                return r;
        for (size_t i = 0; i < c->layers; i++) {
                struct clf_layer *y = &m->layer[i];
                char q[96], k[96], v[96], n1[96], n2[96];
                const char *qkv[3] = { q, k, v };

                if (distil) {
                        snprintf(q, sizeof q, "transformer.layer.%zu.attention.q_lin", i);
                        snprintf(k, sizeof k, "transformer.layer.%zu.attention.k_lin", i);
                        snprintf(v, sizeof v, "transformer.layer.%zu.attention.v_lin", i);
                        snprintf(n1, sizeof n1, "transformer.layer.%zu.sa_layer_norm", i);
                        snprintf(n2, sizeof n2, "transformer.layer.%zu.output_layer_norm", i);
                        if ((r = load_qkv(m, qkv, &y->wqkv, &y->bqkv)) < 0)
                                return r;
                        LOAD(true, H, H, &y->wo, "transformer.layer.%zu.attention.out_lin.weight", i);
                        LOAD(true, H, 0, &y->bo, "transformer.layer.%zu.attention.out_lin.bias", i);
                        LOAD(true, I, H, &y->wi, "transformer.layer.%zu.ffn.lin1.weight", i);
                        LOAD(true, I, 0, &y->bi, "transformer.layer.%zu.ffn.lin1.bias", i);
                        LOAD(true, H, I, &y->wo2, "transformer.layer.%zu.ffn.lin2.weight", i);
                        LOAD(true, H, 0, &y->bo2, "transformer.layer.%zu.ffn.lin2.bias", i);
                } else {
                        snprintf(q, sizeof q, "encoder.layer.%zu.attention.self.query", i);
                        snprintf(k, sizeof k, "encoder.layer.%zu.attention.self.key", i);
                        snprintf(v, sizeof v, "encoder.layer.%zu.attention.self.value", i);
                        snprintf(n1, sizeof n1, "encoder.layer.%zu.attention.output.LayerNorm", i);
                        snprintf(n2, sizeof n2, "encoder.layer.%zu.output.LayerNorm", i);
                        if ((r = load_qkv(m, qkv, &y->wqkv, &y->bqkv)) < 0)
                                return r;
                        LOAD(true, H, H, &y->wo, "encoder.layer.%zu.attention.output.dense.weight", i);
                        LOAD(true, H, 0, &y->bo, "encoder.layer.%zu.attention.output.dense.bias", i);
                        LOAD(true, I, H, &y->wi, "encoder.layer.%zu.intermediate.dense.weight", i);
                        LOAD(true, I, 0, &y->bi, "encoder.layer.%zu.intermediate.dense.bias", i);
                        LOAD(true, H, I, &y->wo2, "encoder.layer.%zu.output.dense.weight", i);
                        LOAD(true, H, 0, &y->bo2, "encoder.layer.%zu.output.dense.bias", i);
                }
                if ((r = load_ln(m, n1, &y->ln1_w, &y->ln1_b)) < 0 || (r = load_ln(m, n2, &y->ln2_w, &y->ln2_b)) < 0)
                        return r;
        }
        if (c->task == CLF_TASK_EMBEDDING || c->multi_head)
                return 0;
        if (c->task == CLF_TASK_SEQUENCE) {
                m->head[0].act = distil ? CLF_ACT_RELU : CLF_ACT_TANH;
                if (distil) {
                        LOAD(true, H, H, &m->head[0].dense_w, "~pre_classifier.weight");
                        LOAD(true, H, 0, &m->head[0].dense_b, "~pre_classifier.bias");
                } else {
                        LOAD(true, H, H, &m->head[0].dense_w, "pooler.dense.weight");
                        LOAD(true, H, 0, &m->head[0].dense_b, "pooler.dense.bias");
                }
        }
        LOAD(true, L, H, &m->head[0].cls_w, "~classifier.weight");
        LOAD(false, L, 0, &m->head[0].cls_b, "~classifier.bias");
        return 0;
}

static int load_modernbert(struct clf_model *m) {
        const struct clf_config *c = &m->cfg;
        size_t H = c->hidden, I = c->intermediate, L = c->num_labels;
        int r;

        strcpy(m->pfx, "model.");
        if (!has_prefix(m->st, m->pfx))
                m->pfx[0] = 0;
        LOAD(true, c->vocab_size, H, &m->word_emb, "embeddings.tok_embeddings.weight");
        LOAD(true, H, 0, &m->emb_ln_w, "embeddings.norm.weight");
        LOAD(c->norm_bias, H, 0, &m->emb_ln_b, "embeddings.norm.bias");
        for (size_t i = 0; i < c->layers; i++) {
                struct clf_layer *y = &m->layer[i];

                y->local = i % c->global_every != 0;
                if (i > 0) {
                        LOAD(true, H, 0, &y->ln1_w, "layers.%zu.attn_norm.weight", i);
                        LOAD(c->norm_bias, H, 0, &y->ln1_b, "layers.%zu.attn_norm.bias", i);
                }
                LOAD(true, 3 * H, H, &y->wqkv, "layers.%zu.attn.Wqkv.weight", i);
                LOAD(c->attn_bias, 3 * H, 0, &y->bqkv, "layers.%zu.attn.Wqkv.bias", i);
                LOAD(true, H, H, &y->wo, "layers.%zu.attn.Wo.weight", i);
                LOAD(c->attn_bias, H, 0, &y->bo, "layers.%zu.attn.Wo.bias", i);
                LOAD(true, H, 0, &y->ln2_w, "layers.%zu.mlp_norm.weight", i);
                LOAD(c->norm_bias, H, 0, &y->ln2_b, "layers.%zu.mlp_norm.bias", i);
                LOAD(true, 2 * I, H, &y->wi, "layers.%zu.mlp.Wi.weight", i);
                LOAD(c->mlp_bias, 2 * I, 0, &y->bi, "layers.%zu.mlp.Wi.bias", i);
                LOAD(true, H, I, &y->wo2, "layers.%zu.mlp.Wo.weight", i);
                LOAD(c->mlp_bias, H, 0, &y->bo2, "layers.%zu.mlp.Wo.bias", i);
        }
        LOAD(true, H, 0, &m->final_ln_w, "final_norm.weight");
        LOAD(c->norm_bias, H, 0, &m->final_ln_b, "final_norm.bias");
        if (c->task != CLF_TASK_EMBEDDING && !c->multi_head) {
                struct clf_head_w *hw = &m->head[0];

                hw->act = c->classifier_act;
                LOAD(true, H, H, &hw->dense_w, "~head.dense.weight");
                LOAD(c->classifier_bias, H, 0, &hw->dense_b, "~head.dense.bias");
                LOAD(true, H, 0, &hw->norm_w, "~head.norm.weight");
                LOAD(c->norm_bias, H, 0, &hw->norm_b, "~head.norm.bias");
                LOAD(true, L, H, &hw->cls_w, "~classifier.weight");
                LOAD(false, L, 0, &hw->cls_b, "~classifier.bias");
        }
        /* RoPE tables, computed in double: cos/sin(t * theta^(-2i/hd)) */
        {
                size_t hd = H / c->heads, half = hd / 2, n = c->max_pos * half;
                float *cs = malloc(2 * n * sizeof *cs);

                if (!cs)
                        return -ENOMEM;
                for (int g = 0; g < 2; g++) {
                        double theta = g == 0 ? c->global_theta : c->local_theta;

                        for (size_t t = 0; t < c->max_pos; t++)
                                for (size_t i = 0; i < half; i++) {
                                        double a = (double)t * pow(theta, -(double)(2 * i) / (double)hd);

                                        cs[t * half + i] = (float)cos(a);
                                        cs[n + t * half + i] = (float)sin(a);
                                }
                        r = m->be->ops->alloc(m->be, 2 * n * sizeof *cs, (void **)&m->rope_cos[g]);
                        if (r < 0) {
                                free(cs);
                                return r;
                        }
                        m->rope_sin[g] = m->rope_cos[g] + n;
                        if ((r = m->be->ops->upload(m->be, m->rope_cos[g], cs, 2 * n * sizeof *cs)) < 0) {
                                free(cs);
                                return r;
                        }
                }
                free(cs);
        }
        return 0;
}

/* heads.<name>.weight [labels, H] (+ .bias), optionally
 * heads.<name>.dense.weight [H, H] (+ .bias) with tanh before it */
static int load_multi_heads(struct clf_model *m) {
        const struct clf_config *c = &m->cfg;
        size_t H = c->hidden;
        int r;

        for (size_t i = 0; i < c->n_clf_heads; i++) {
                const struct clf_head_cfg *hc = &c->clf_heads[i];
                struct clf_head_w *hw = &m->head[i];

                hw->act = CLF_ACT_TANH;
                LOAD(false, H, H, &hw->dense_w, "~heads.%s.dense.weight", hc->name);
                if (hw->dense_w)
                        LOAD(false, H, 0, &hw->dense_b, "~heads.%s.dense.bias", hc->name);
                LOAD(true, hc->num_labels, H, &hw->cls_w, "~heads.%s.weight", hc->name);
                LOAD(false, hc->num_labels, 0, &hw->cls_b, "~heads.%s.bias", hc->name);
                if (hc->kind == CLF_TASK_TOKEN) {
                        if ((r = get_host(m, false, hc->num_labels + 1, hc->num_labels, &hw->trans,
                                          "~heads.%s.transitions", hc->name)) < 0)
                                return r;
                        for (size_t k = 0; hw->trans && k < (hc->num_labels + 1) * hc->num_labels; k++)
                                if (!isfinite(hw->trans[k]) && !(isinf(hw->trans[k]) && hw->trans[k] < 0))
                                        return -EBADMSG;
                }
        }
        return 0;
}

#undef LOAD

static void free_acts(struct clf_model *m) {
        void **bufs[] = { (void **)&m->x,      (void **)&m->h,     (void **)&m->qkv,    (void **)&m->ctx,
                          (void **)&m->big,    (void **)&m->u,     (void **)&m->pooled, (void **)&m->pooled2,
                          (void **)&m->logits, (void **)&m->emb,   (void **)&m->maskf,  (void **)&m->ids,
                          (void **)&m->pos,    (void **)&m->zeros, (void **)&m->types };

        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
                if (*bufs[i])
                        m->be->ops->free(m->be, *bufs[i]);
                *bufs[i] = NULL;
        }
        free(m->h_mask);
        free(m->h_pos);
        m->h_mask = NULL;
        m->h_pos = NULL;
        m->cap_M = m->cap_B = 0;
}

void clf_model_free(struct clf_model *m) {
        if (!m)
                return;
        if (m->be) {
                free_acts(m);
                for (int g = 0; g < 2; g++)
                        if (m->rope_cos[g])
                                m->be->ops->free(m->be, m->rope_cos[g]);
                for (size_t i = 0; i < m->n_dev; i++)
                        m->be->ops->free(m->be, m->dev[i]);
                clf_backend_destroy(m->be);
        }
        for (size_t i = 0; i < m->n_host; i++)
                free(m->host[i]);
        free(m->host);
        free(m->dev);
        free(m->layer);
        free(m->head);
        clf_safetensors_close(m->st);
        clf_config_free(&m->cfg);
        free(m);
}

int clf_model_load(const char *dir, const struct clf_model_opts *opts, struct clf_model **ret_model) {
        struct clf_backend_opts bo = { .threads = opts ? opts->threads : 0 };
        struct clf_model *m;
        char path[4096];
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        snprintf(path, sizeof path, "%s/config.json", dir);
        if ((r = clf_config_load(path, &m->cfg)) < 0) {
                log_debug("classifier: %s: %s", path, strerror(-r));
                free(m);
                return r;
        }
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        if ((r = clf_safetensors_open(path, &m->st)) < 0) {
                log_debug("classifier: %s: %s", path, strerror(-r));
                goto fail;
        }
        if ((r = clf_backend_create(opts ? opts->backend : NULL, &bo, &m->be)) < 0)
                goto fail;
        m->layer = calloc(m->cfg.layers, sizeof *m->layer);
        m->head = calloc(m->cfg.n_clf_heads ? m->cfg.n_clf_heads : 1, sizeof *m->head);
        if (!m->layer || !m->head) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < m->cfg.n_clf_heads; i++)
                m->total_labels += m->cfg.clf_heads[i].num_labels;
        r = m->cfg.arch == CLF_ARCH_MODERNBERT ? load_modernbert(m) : load_bert(m);
        if (r >= 0 && m->cfg.multi_head)
                r = load_multi_heads(m);
        if (r < 0)
                goto fail;
        log_debug("classifier: %s: %s, %zu layers, hidden %zu, %zu labels, %s backend", dir, clf_arch_name(m->cfg.arch),
                  m->cfg.layers, m->cfg.hidden, m->cfg.num_labels, m->be->ops->name);
        *ret_model = m;
        return 0;
fail:
        clf_model_free(m);
        return r;
}

/* ---- forward ---- */

const float *clf_model_transitions(const struct clf_model *m, size_t head) {
        return head < m->cfg.n_clf_heads && m->head ? m->head[head].trans : NULL;
}

size_t clf_model_head_offset(const struct clf_model *m, size_t head, size_t B, size_t T) {
        size_t off = 0;

        for (size_t i = 0; i < head && i < m->cfg.n_clf_heads; i++)
                off += (m->cfg.clf_heads[i].kind == CLF_TASK_TOKEN ? B * T : B) * m->cfg.clf_heads[i].num_labels;
        return off;
}

size_t clf_model_logits_size(const struct clf_model *m, size_t B, size_t T) {
        return clf_model_head_offset(m, m->cfg.n_clf_heads, B, T);
}

static int reserve_acts(struct clf_model *m, size_t B, size_t T) {
        const struct clf_config *c = &m->cfg;
        struct clf_backend *be = m->be;
        size_t M = B * T, H = c->hidden, I = c->intermediate, L = m->total_labels ? m->total_labels : 1;
        int r = 0;

        if (M <= m->cap_M && B <= m->cap_B)
                return 0;
        free_acts(m);
        if (M < 64)
                M = 64;
        if (B < 8)
                B = 8;
#define ALLOC(p, n) \
        if (r >= 0) \
        r = be->ops->alloc(be, (n) * sizeof *(p), (void **)&(p))
        ALLOC(m->x, M * H);
        ALLOC(m->h, M * H);
        ALLOC(m->qkv, M * 3 * H);
        ALLOC(m->ctx, M * H);
        ALLOC(m->big, M * 2 * I);
        ALLOC(m->u, M * I);
        ALLOC(m->pooled, B * H);
        ALLOC(m->pooled2, B * H);
        ALLOC(m->logits, M * L);
        ALLOC(m->emb, B * H);
        ALLOC(m->maskf, M);
        ALLOC(m->ids, M);
        ALLOC(m->pos, M);
        ALLOC(m->zeros, M);
        ALLOC(m->types, M);
#undef ALLOC
        if (r >= 0) {
                m->h_mask = malloc(M * sizeof *m->h_mask);
                m->h_pos = calloc(M, sizeof *m->h_pos);
                if (!m->h_mask || !m->h_pos)
                        r = -ENOMEM;
        }
        if (r >= 0)
                r = be->ops->upload(be, m->zeros, m->h_pos, M * sizeof *m->zeros);
        if (r < 0) {
                free_acts(m);
                return r;
        }
        m->cap_M = M;
        m->cap_B = B;
        return 0;
}

#define OP(call)                      \
        do {                          \
                if ((r = (call)) < 0) \
                        return r;     \
        } while (0)

static int encoder_bert(struct clf_model *m, size_t B, size_t T, bool types) {
        const struct clf_config *c = &m->cfg;
        const struct clf_backend_ops *o = m->be->ops;
        struct clf_backend *be = m->be;
        size_t M = B * T, H = c->hidden, I = c->intermediate;
        int r;

        for (size_t b = 0; b < B; b++)
                for (size_t t = 0; t < T; t++)
                        m->h_pos[b * T + t] = (int32_t)t;
        OP(o->upload(be, m->pos, m->h_pos, M * sizeof *m->pos));
        OP(o->embed(be, m->x, m->word_emb, m->ids, M, H, false));
        OP(o->embed(be, m->x, m->pos_emb, m->pos, M, H, true));
        if (m->type_emb)
                OP(o->embed(be, m->x, m->type_emb, types ? m->types : m->zeros, M, H, true));
        OP(o->layernorm(be, m->x, m->x, m->emb_ln_w, m->emb_ln_b, M, H, c->norm_eps));
        for (size_t l = 0; l < c->layers; l++) {
                const struct clf_layer *y = &m->layer[l];

                OP(o->matmul(be, m->qkv, m->x, y->wqkv, y->bqkv, M, 3 * H, H));
                OP(o->attention(be, m->ctx, m->qkv, m->maskf, B, T, c->heads, H / c->heads, 0));
                OP(o->matmul(be, m->h, m->ctx, y->wo, y->bo, M, H, H));
                OP(o->add(be, m->h, m->x, M * H));
                OP(o->layernorm(be, m->x, m->h, y->ln1_w, y->ln1_b, M, H, c->norm_eps));
                OP(o->matmul(be, m->big, m->x, y->wi, y->bi, M, I, H));
                OP(o->act(be, m->big, M * I, c->act));
                OP(o->matmul(be, m->h, m->big, y->wo2, y->bo2, M, H, I));
                OP(o->add(be, m->h, m->x, M * H));
                OP(o->layernorm(be, m->x, m->h, y->ln2_w, y->ln2_b, M, H, c->norm_eps));
        }
        return 0;
}

static int encoder_modernbert(struct clf_model *m, size_t B, size_t T) {
        const struct clf_config *c = &m->cfg;
        const struct clf_backend_ops *o = m->be->ops;
        struct clf_backend *be = m->be;
        size_t M = B * T, H = c->hidden, I = c->intermediate, hd = H / c->heads;
        int r;

        OP(o->embed(be, m->x, m->word_emb, m->ids, M, H, false));
        OP(o->layernorm(be, m->x, m->x, m->emb_ln_w, m->emb_ln_b, M, H, c->norm_eps));
        for (size_t l = 0; l < c->layers; l++) {
                const struct clf_layer *y = &m->layer[l];
                const float *in = m->x;
                int g = y->local ? 1 : 0;

                if (y->ln1_w) {
                        OP(o->layernorm(be, m->h, m->x, y->ln1_w, y->ln1_b, M, H, c->norm_eps));
                        in = m->h;
                }
                OP(o->matmul(be, m->qkv, in, y->wqkv, y->bqkv, M, 3 * H, H));
                OP(o->rope(be, m->qkv, m->rope_cos[g], m->rope_sin[g], B, T, c->heads, hd));
                OP(o->attention(be, m->ctx, m->qkv, m->maskf, B, T, c->heads, hd, y->local ? c->local_window : 0));
                OP(o->matmul(be, m->h, m->ctx, y->wo, y->bo, M, H, H));
                OP(o->add(be, m->x, m->h, M * H));
                OP(o->layernorm(be, m->h, m->x, y->ln2_w, y->ln2_b, M, H, c->norm_eps));
                OP(o->matmul(be, m->big, m->h, y->wi, y->bi, M, 2 * I, H));
                OP(o->glu(be, m->u, m->big, M, I, c->act));
                OP(o->matmul(be, m->h, m->u, y->wo2, y->bo2, M, H, I));
                OP(o->add(be, m->x, m->h, M * H));
        }
        OP(o->layernorm(be, m->x, m->x, m->final_ln_w, m->final_ln_b, M, H, c->norm_eps));
        return 0;
}

/* logits of every head into m->logits, one after the other: [B, L] for a
 * sequence head, [B*T, L] for a token head */
static int heads(struct clf_model *m, size_t B, size_t T) {
        const struct clf_config *c = &m->cfg;
        const struct clf_backend_ops *o = m->be->ops;
        struct clf_backend *be = m->be;
        size_t M = B * T, H = c->hidden, off = 0;
        int r;

        for (size_t i = 0; i < c->n_clf_heads; i++) {
                const struct clf_head_cfg *hc = &c->clf_heads[i];
                const struct clf_head_w *hw = &m->head[i];
                bool seq = hc->kind == CLF_TASK_SEQUENCE;
                size_t rows = seq ? B : M;
                const float *in = m->x;
                float *tmp = seq ? m->pooled2 : m->h;

                if (seq) {
                        OP(o->pool(be, m->pooled, m->x, m->maskf, B, T, H, hc->pooling));
                        in = m->pooled;
                }
                if (hw->dense_w) {
                        OP(o->matmul(be, tmp, in, hw->dense_w, hw->dense_b, rows, H, H));
                        OP(o->act(be, tmp, rows * H, hw->act));
                        if (hw->norm_w)
                                OP(o->layernorm(be, tmp, tmp, hw->norm_w, hw->norm_b, rows, H, c->norm_eps));
                        in = tmp;
                }
                OP(o->matmul(be, m->logits + off, in, hw->cls_w, hw->cls_b, rows, hc->num_labels, H));
                off += rows * hc->num_labels;
        }
        return 0;
}

int clf_model_forward(struct clf_model *m, const struct clf_batch *in, float *ret_logits, float *ret_embedding) {
        const struct clf_config *c = &m->cfg;
        const struct clf_backend_ops *o = m->be->ops;
        struct clf_backend *be = m->be;
        size_t B = in->B, T = in->T, M = B * T;
        int r;

        if (B == 0 || T == 0 || !in->ids)
                return -EINVAL;
        if (T > c->max_pos)
                return -E2BIG;
        for (size_t i = 0; i < M; i++)
                if (in->ids[i] < 0 || (size_t)in->ids[i] >= c->vocab_size)
                        return -EINVAL;
        if (in->types && c->arch == CLF_ARCH_BERT && m->type_emb)
                for (size_t i = 0; i < M; i++)
                        if (in->types[i] < 0 || (size_t)in->types[i] >= c->type_vocab)
                                return -EINVAL;
        if ((r = reserve_acts(m, B, T)) < 0)
                return r;
        for (size_t i = 0; i < M; i++)
                m->h_mask[i] = in->mask ? (in->mask[i] ? 1.0f : 0.0f) : 1.0f;
        OP(o->upload(be, m->ids, in->ids, M * sizeof *m->ids));
        OP(o->upload(be, m->maskf, m->h_mask, M * sizeof *m->maskf));
        if (in->types && m->type_emb)
                OP(o->upload(be, m->types, in->types, M * sizeof *m->types));
        r = c->arch == CLF_ARCH_MODERNBERT ? encoder_modernbert(m, B, T)
                                           : encoder_bert(m, B, T, in->types && m->type_emb);
        if (r < 0)
                return r;
        if (ret_embedding) {
                OP(o->pool(be, m->emb, m->x, m->maskf, B, T, c->hidden, CLF_POOL_MEAN));
                OP(o->download(be, ret_embedding, m->emb, B * c->hidden * sizeof *ret_embedding));
        }
        if (ret_logits && c->n_clf_heads > 0) {
                OP(heads(m, B, T));
                OP(o->download(be, ret_logits, m->logits, clf_model_logits_size(m, B, T) * sizeof *ret_logits));
        }
        return o->sync(be);
}
