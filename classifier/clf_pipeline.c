/* Text in, verdict out: tokenizer + model of one checkpoint directory
 * (see clf_pipeline.h). */
#include "classifier/clf_pipeline.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/clf_lexical.h"
#include "classifier/clf_spans.h"
#include "common/log.h"

struct clf_pipeline {
        struct clf_model *model;
        struct clf_tokenizer *tok;
        size_t max_len;
        enum clf_truncate policy;
        /* scratch of clf_pipeline_forward, grown as needed */
        int32_t *ids, *types;
        uint8_t *mask;
        float *logits, *emb;
        size_t cap_ids, cap_types, cap_mask, cap_logits, cap_emb;
        struct clf_lexical *lex;  /* config.json switchyard_lexical */
        struct clf_token_crf crf; /* config.json switchyard_token_crf (.model NULL: none) */
};

struct clf_model *clf_pipeline_model(const struct clf_pipeline *p) {
        return p->model;
}

const struct clf_tokenizer *clf_pipeline_tokenizer(const struct clf_pipeline *p) {
        return p->tok;
}

size_t clf_pipeline_max_len(const struct clf_pipeline *p) {
        return p->max_len;
}

const struct clf_token_crf *clf_pipeline_token_crf(const struct clf_pipeline *p, size_t h) {
        return p->crf.model && (int)h == clf_model_config(p->model)->crf_head ? &p->crf : NULL;
}

void clf_pipeline_free(struct clf_pipeline *p) {
        if (!p)
                return;
        clf_model_free(p->model);
        clf_tokenizer_free(p->tok);
        clf_lexical_free(p->lex);
        clf_lexical_free((struct clf_lexical *)p->crf.model);
        free(p->ids);
        free(p->types);
        free(p->mask);
        free(p->logits);
        free(p->emb);
        free(p);
}

/* a lexical model file of the checkpoint directory: a word CRF or a text model */
static int load_beside(const char *dir, const char *file, size_t labels, bool crf, struct clf_lexical **ret) {
        char path[4096];
        int r;

        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
                return -ENAMETOOLONG;
        if ((r = clf_lexical_load(path, labels, ret)) < 0) {
                log_err("classifier: %s: %s", path, strerror(-r));
                return r;
        }
        if (!clf_lexical_transitions(*ret) != !crf) {
                log_err("classifier: %s: %s", path, crf ? "not a word CRF" : "a word CRF, not a text model");
                clf_lexical_free(*ret);
                *ret = NULL;
                return -EBADMSG;
        }
        return 0;
}

int clf_pipeline_load(const char *dir, const struct clf_pipeline_opts *opts, struct clf_pipeline **ret_p) {
        struct clf_model_opts mo = { .backend = opts ? opts->backend : NULL, .threads = opts ? opts->threads : 0 };
        struct clf_pipeline *p = calloc(1, sizeof *p);
        const struct clf_config *c;
        size_t max_pos;
        int r;

        if (!p)
                return -ENOMEM;
        if ((r = clf_tokenizer_load(dir, &p->tok)) < 0) {
                log_debug("classifier: %s: tokenizer: %s", dir, strerror(-r));
                goto fail;
        }
        if ((r = clf_model_load(dir, &mo, &p->model)) < 0)
                goto fail;
        c = clf_model_config(p->model);
        if (c->lexical_head >= 0 &&
            (r = load_beside(dir, c->lexical_file, c->clf_heads[c->lexical_head].num_labels, false, &p->lex)) < 0)
                goto fail;
        if (c->crf_head >= 0) {
                struct clf_lexical *crf;

                if ((r = load_beside(dir, c->crf_file, c->clf_heads[c->crf_head].num_labels, true, &crf)) < 0)
                        goto fail;
                p->crf = (struct clf_token_crf){ .model = crf, .encoder_weight = c->crf_encoder_weight };
        }
        max_pos = c->max_pos;
        p->max_len = opts && opts->max_len ? opts->max_len : 512;
        if (p->max_len > max_pos)
                p->max_len = max_pos;
        p->policy = opts ? opts->policy : CLF_TRUNC_HEAD_TAIL;
        if (p->max_len <= clf_tokenizer_n_special(p->tok)) {
                r = -EINVAL;
                goto fail;
        }
        *ret_p = p;
        return 0;
fail:
        clf_pipeline_free(p);
        return r;
}

void clf_result_free(struct clf_result *r) {
        for (size_t h = 0; r->heads && h < r->n_heads; h++) {
                free(r->heads[h].scores);
                free(r->heads[h].token_label);
                free(r->heads[h].token_score);
        }
        free(r->heads);
        clf_encoding_free(&r->tokens);
        free(r->embedding);
        memset(r, 0, sizeof *r);
}

int clf_normalize(const float *logits, size_t n, bool sigmoid, float *out) {
        float mx = -INFINITY, sum = 0;
        int best = 0;

        for (size_t i = 0; i < n; i++) {
                if (logits[i] > logits[best])
                        best = (int)i;
                if (logits[i] > mx)
                        mx = logits[i];
        }
        for (size_t i = 0; i < n; i++) {
                out[i] = sigmoid ? 1.0f / (1.0f + expf(-logits[i])) : expf(logits[i] - mx);
                sum += out[i];
        }
        if (!sigmoid)
                for (size_t i = 0; i < n; i++)
                        out[i] /= sum;
        return best;
}

int clf_pipeline_encode(const struct clf_pipeline *p, const char *text, size_t len, struct clf_encoding *e) {
        return clf_pipeline_encode_opt(p, text, len, true, e);
}

int clf_pipeline_encode_opt(const struct clf_pipeline *p, const char *text, size_t len, bool lexical,
                            struct clf_encoding *e) {
        const struct clf_config *c = clf_model_config(p->model);
        int r;

        if ((r = clf_tokenizer_encode_model(p->tok, text, len, p->max_len, p->policy, e)) < 0)
                return r;
        if (c->case_types)
                for (size_t t = 0; t < e->n; t++)
                        e->types[t] = e->end[t] > e->start[t] && e->end[t] <= len
                                              ? (uint8_t)clf_case_type(text + e->start[t], e->end[t] - e->start[t])
                                              : 0;
        e->n_lex = 0;
        if (p->lex && lexical) {
                size_t L = c->clf_heads[c->lexical_head].num_labels;

                if (!e->lex && !(e->lex = malloc(L * sizeof *e->lex)))
                        return -ENOMEM;
                if ((r = clf_lexical_logprobs(p->lex, text, len, e->lex)) < 0)
                        return r;
                e->n_lex = L;
        }
        return r;
}

/* the lexical head's logits <- log p_encoder + weight * log p_lexical */
static void mix_lexical(struct clf_pipeline *p, const struct clf_encoding *const *enc, size_t n, size_t T) {
        const struct clf_config *c = clf_model_config(p->model);
        size_t L = c->clf_heads[c->lexical_head].num_labels;
        float *base = p->logits + clf_model_head_offset(p->model, (size_t)c->lexical_head, n, T);

        for (size_t i = 0; i < n; i++) {
                float *lg = base + i * L, mx = -INFINITY;
                double sum = 0;

                if (enc[i]->n_lex != L)
                        continue;
                for (size_t k = 0; k < L; k++)
                        mx = lg[k] > mx ? lg[k] : mx;
                for (size_t k = 0; k < L; k++)
                        sum += exp((double)lg[k] - mx);
                for (size_t k = 0; k < L; k++)
                        lg[k] = (float)(lg[k] - mx - log(sum)) + c->lexical_weight * enc[i]->lex[k];
        }
}

/* grows a scratch array to n elements of size sz */
static int grow(void **buf, size_t *cap, size_t n, size_t sz) {
        void *q;

        if (n <= *cap)
                return 0;
        n = n < 64 ? 64 : n + n / 2;
        q = realloc(*buf, n * sz);
        if (!q)
                return -ENOMEM;
        *buf = q;
        *cap = n;
        return 0;
}

int clf_pipeline_forward(struct clf_pipeline *p, const struct clf_encoding *const *enc, size_t n, bool want_embedding,
                         const float **ret_logits, const float **ret_embedding, size_t *ret_T) {
        const struct clf_config *c = clf_model_config(p->model);
        int32_t pad = clf_tokenizer_pad_id(p->tok);
        struct clf_batch batch;
        size_t T = 0;
        int r;

        if (n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (enc[i]->n > T)
                        T = enc[i]->n;
        if (T == 0)
                T = 1; /* empty texts and no special tokens: one padding position */
        if (grow((void **)&p->ids, &p->cap_ids, n * T, sizeof *p->ids) < 0 ||
            (c->case_types && grow((void **)&p->types, &p->cap_types, n * T, sizeof *p->types) < 0) ||
            grow((void **)&p->mask, &p->cap_mask, n * T, 1) < 0 ||
            grow((void **)&p->emb, &p->cap_emb, n * c->hidden, sizeof *p->emb) < 0 ||
            grow((void **)&p->logits, &p->cap_logits, clf_model_logits_size(p->model, n, T) + 1, sizeof *p->logits) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                for (size_t t = 0; t < T; t++) {
                        bool tok = t < enc[i]->n;

                        p->ids[i * T + t] = tok ? enc[i]->ids[t] : pad;
                        p->mask[i * T + t] = tok;
                        if (c->case_types)
                                p->types[i * T + t] = tok ? enc[i]->types[t] : 0;
                }
        batch = (struct clf_batch){
                .B = n, .T = T, .ids = p->ids, .mask = p->mask, .types = c->case_types ? p->types : NULL
        };
        if ((r = clf_model_forward(p->model, &batch, p->logits, want_embedding ? p->emb : NULL)) < 0)
                return r;
        if (p->lex)
                mix_lexical(p, enc, n, T);
        *ret_logits = p->logits;
        if (ret_embedding)
                *ret_embedding = want_embedding ? p->emb : NULL;
        *ret_T = T;
        return 0;
}

int clf_pipeline_run(struct clf_pipeline *p, const char *const *texts, const size_t *lens, size_t n,
                     struct clf_result *ret_results) {
        const struct clf_config *c = clf_model_config(p->model);
        const struct clf_encoding **enc = NULL;
        const float *logits, *emb;
        size_t T, H = c->hidden, NH = c->n_clf_heads;
        struct clf_result *res;
        int r = -ENOMEM;

        if (n == 0)
                return -EINVAL;
        res = calloc(n, sizeof *res);
        enc = calloc(n, sizeof *enc);
        if (!res || !enc)
                goto out;
        for (size_t i = 0; i < n; i++) {
                r = clf_pipeline_encode(p, texts[i], lens ? lens[i] : strlen(texts[i]), &res[i].tokens);
                if (r < 0)
                        goto out;
                enc[i] = &res[i].tokens;
        }
        if ((r = clf_pipeline_forward(p, enc, n, true, &logits, &emb, &T)) < 0)
                goto out;
        r = -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct clf_result *x = &res[i];

                if (!(x->embedding = malloc(H * sizeof *x->embedding)))
                        goto out;
                memcpy(x->embedding, emb + i * H, H * sizeof *emb);
                x->label = -1;
                if (NH == 0)
                        continue;
                if (!(x->heads = calloc(NH, sizeof *x->heads)))
                        goto out;
                x->n_heads = NH;
                for (size_t h = 0; h < NH; h++) {
                        const struct clf_head_cfg *hc = &c->clf_heads[h];
                        const float *lg = logits + clf_model_head_offset(p->model, h, n, T);
                        struct clf_head_result *y = &x->heads[h];
                        size_t L = hc->num_labels;

                        y->label = -1;
                        if (hc->kind == CLF_TASK_SEQUENCE) {
                                if (!(y->scores = malloc(L * sizeof *y->scores)))
                                        goto out;
                                y->label = clf_normalize(lg + i * L, L, hc->multi_label, y->scores);
                                y->score = y->scores[y->label];
                        } else {
                                size_t nt = x->tokens.n;

                                y->token_label = malloc((nt + 1) * sizeof *y->token_label);
                                y->token_score = malloc((nt + 1) * sizeof *y->token_score);
                                if (!y->token_label || !y->token_score ||
                                    clf_token_tags(hc, &x->tokens, texts[i], lens ? lens[i] : strlen(texts[i]),
                                                   lg + i * T * L, clf_model_transitions(p->model, h),
                                                   clf_pipeline_token_crf(p, h), y->token_label, y->token_score) < 0)
                                        goto out;
                        }
                }
                x->label = x->heads[0].label;
                x->score = x->heads[0].score;
                x->scores = x->heads[0].scores;
                x->token_label = x->heads[0].token_label;
                x->token_score = x->heads[0].token_score;
        }
        memcpy(ret_results, res, n * sizeof *res);
        free(res);
        res = NULL;
        r = 0;
out:
        if (res) {
                for (size_t i = 0; i < n; i++)
                        clf_result_free(&res[i]);
                free(res);
        }
        free(enc);
        return r;
}
