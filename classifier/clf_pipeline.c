#include "classifier/clf_pipeline.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

struct clf_pipeline {
        struct clf_model *model;
        struct clf_tokenizer *tok;
        size_t max_len;
        enum clf_truncate policy;
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

void clf_pipeline_free(struct clf_pipeline *p) {
        if (!p)
                return;
        clf_model_free(p->model);
        clf_tokenizer_free(p->tok);
        free(p);
}

int clf_pipeline_load(const char *dir, const struct clf_pipeline_opts *opts, struct clf_pipeline **ret_p) {
        struct clf_model_opts mo = { .backend = opts ? opts->backend : NULL, .threads = opts ? opts->threads : 0 };
        struct clf_pipeline *p = calloc(1, sizeof *p);
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
        max_pos = clf_model_config(p->model)->max_pos;
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
        free(r->scores);
        clf_encoding_free(&r->tokens);
        free(r->token_label);
        free(r->token_score);
        free(r->embedding);
        memset(r, 0, sizeof *r);
}

/* probabilities of logits[0..n) into out; returns the argmax */
static int normalize(const float *logits, size_t n, bool sigmoid, float *out) {
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

int clf_pipeline_run(struct clf_pipeline *p, const char *const *texts, const size_t *lens, size_t n,
                     struct clf_result *ret_results) {
        const struct clf_config *c = clf_model_config(p->model);
        size_t T = 0, L = c->num_labels, H = c->hidden;
        struct clf_batch batch = { 0 };
        int32_t *ids = NULL, pad = clf_tokenizer_pad_id(p->tok);
        uint8_t *mask = NULL;
        float *logits = NULL, *emb = NULL;
        struct clf_result *res;
        int r = -ENOMEM;

        if (n == 0)
                return -EINVAL;
        res = calloc(n, sizeof *res);
        if (!res)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = clf_tokenizer_encode_model(p->tok, texts[i], lens ? lens[i] : strlen(texts[i]), p->max_len, p->policy,
                                               &res[i].tokens);
                if (r < 0)
                        goto out;
                if (res[i].tokens.n > T)
                        T = res[i].tokens.n;
        }
        if (T == 0)
                T = 1;   /* empty texts and no special tokens: one padding position */
        r = -ENOMEM;
        ids = malloc(n * T * sizeof *ids);
        mask = calloc(n * T, 1);
        emb = malloc(n * H * sizeof *emb);
        logits = malloc((clf_model_logits_size(p->model, n, T) + 1) * sizeof *logits);
        if (!ids || !mask || !emb || !logits)
                goto out;
        for (size_t i = 0; i < n; i++)
                for (size_t t = 0; t < T; t++) {
                        bool tok = t < res[i].tokens.n;

                        ids[i * T + t] = tok ? res[i].tokens.ids[t] : pad;
                        mask[i * T + t] = tok;
                }
        batch = (struct clf_batch){ .B = n, .T = T, .ids = ids, .mask = mask };
        if ((r = clf_model_forward(p->model, &batch, logits, emb)) < 0)
                goto out;
        r = -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct clf_result *x = &res[i];

                if (!(x->embedding = malloc(H * sizeof *x->embedding)))
                        goto out;
                memcpy(x->embedding, emb + i * H, H * sizeof *emb);
                if (c->task == CLF_TASK_SEQUENCE) {
                        if (!(x->scores = malloc(L * sizeof *x->scores)))
                                goto out;
                        x->label = normalize(logits + i * L, L, c->multi_label, x->scores);
                        x->score = x->scores[x->label];
                } else if (c->task == CLF_TASK_TOKEN) {
                        size_t nt = x->tokens.n;
                        float *tmp = malloc(L * sizeof *tmp);

                        x->token_label = malloc(nt * sizeof *x->token_label);
                        x->token_score = malloc(nt * sizeof *x->token_score);
                        if (!tmp || !x->token_label || !x->token_score) {
                                free(tmp);
                                goto out;
                        }
                        for (size_t t = 0; t < nt; t++) {
                                x->token_label[t] = normalize(logits + (i * T + t) * L, L, c->multi_label, tmp);
                                x->token_score[t] = tmp[x->token_label[t]];
                        }
                        free(tmp);
                        x->label = -1;
                }
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
        free(ids);
        free(mask);
        free(emb);
        free(logits);
        return r;
}
