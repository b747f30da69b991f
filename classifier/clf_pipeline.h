/* Text in, verdict out: a model directory's tokenizer and model together.
 * Texts of one call are padded to the longest and run as one batch.
 *
 * Multi-head checkpoints: one encoder pass, a result per head.
 *
 * Long prompts: at most max_len tokens reach the model (default: the
 * smaller of 512 and max_position_embeddings), cut by the truncation
 * policy (default head + tail, see clf_tokenizer.h). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classifier/clf_model.h"
#include "classifier/clf_tokenizer.h"

struct clf_pipeline;

struct clf_pipeline_opts {
        const char *backend; /* NULL: auto */
        int threads;         /* 0: BLAS default */
        size_t max_len;      /* 0: min(512, max_position_embeddings) */
        enum clf_truncate policy;
};

int clf_pipeline_load(const char *dir, const struct clf_pipeline_opts *opts, struct clf_pipeline **ret_p);
void clf_pipeline_free(struct clf_pipeline *p);

struct clf_model *clf_pipeline_model(const struct clf_pipeline *p);
const struct clf_tokenizer *clf_pipeline_tokenizer(const struct clf_pipeline *p);
size_t clf_pipeline_max_len(const struct clf_pipeline *p);
/* the word CRF of token head h (config.json switchyard_token_crf), or NULL:
 * for clf_token_tags */
const struct clf_token_crf *clf_pipeline_token_crf(const struct clf_pipeline *p, size_t h);

/* one classification head's verdict */
struct clf_head_result {
        /* sequence head: argmax label, its score, all scores (softmax;
         * sigmoid for multi-label heads) */
        int label;
        float score;
        float *scores; /* [num_labels] */
        /* token head: per token of the result's tokens, the argmax label
         * and its score */
        int32_t *token_label;
        float *token_score;
};

struct clf_result {
        /* the first head (the only one of a single-head checkpoint); these
         * point into heads[0] */
        int label;
        float score;
        float *scores; /* [num_labels] */
        /* token classification: the tokens read (ids, byte offsets into
         * the text) and per token the argmax label and its softmax score */
        struct clf_encoding tokens;
        int32_t *token_label;
        float *token_score;
        /* masked mean of the final hidden states [hidden] */
        float *embedding;
        /* every head, in clf_config clf_heads[] order */
        size_t n_heads;
        struct clf_head_result *heads;
};

/* Classifies texts[0..n) in one batch; ret_results[i] is filled for each
 * text (free each with clf_result_free). */
int clf_pipeline_run(struct clf_pipeline *p, const char *const *texts, const size_t *lens, size_t n,
                     struct clf_result *ret_results);
void clf_result_free(struct clf_result *r);

/* The lower layer, without per-call allocations once warm (the classifier
 * process uses it): runs pre-tokenized encodings (from
 * clf_pipeline_encode) as one batch padded to the longest, T tokens.
 * *ret_logits (clf_model_logits_size(model, n, T) floats, heads one after
 * the other, see clf_model_head_offset) and *ret_embedding (n * hidden, or
 * NULL when want_embedding is false) point into the pipeline's scratch,
 * valid until the next call. */
int clf_pipeline_encode(const struct clf_pipeline *p, const char *text, size_t len, struct clf_encoding *e);
/* lexical false: without the category head's lexical expert (its logits are
 * then the encoder's alone): for texts whose category nobody reads */
int clf_pipeline_encode_opt(const struct clf_pipeline *p, const char *text, size_t len, bool lexical,
                            struct clf_encoding *e);
int clf_pipeline_forward(struct clf_pipeline *p, const struct clf_encoding *const *enc, size_t n, bool want_embedding,
                         const float **ret_logits, const float **ret_embedding, size_t *ret_T);

/* probabilities of logits[0..n) into out (softmax, or sigmoid per value);
 * returns the argmax */
int clf_normalize(const float *logits, size_t n, bool sigmoid, float *out);
