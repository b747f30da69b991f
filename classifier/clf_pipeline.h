/* Text in, verdict out: a model directory's tokenizer and model together.
 * Texts of one call are padded to the longest and run as one batch.
 *
 * Long prompts: at most max_len tokens reach the model (default: the
 * smaller of 512 and max_position_embeddings), cut by the truncation
 * policy (default head + tail, see clf_tokenizer.h). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "classifier/clf_model.h"
#include "classifier/clf_tokenizer.h"

struct clf_pipeline;

struct clf_pipeline_opts {
        const char *backend;            /* NULL: auto */
        int threads;                    /* 0: BLAS default */
        size_t max_len;                 /* 0: min(512, max_position_embeddings) */
        enum clf_truncate policy;
};

int clf_pipeline_load(const char *dir, const struct clf_pipeline_opts *opts, struct clf_pipeline **ret_p);
void clf_pipeline_free(struct clf_pipeline *p);

struct clf_model *clf_pipeline_model(const struct clf_pipeline *p);
const struct clf_tokenizer *clf_pipeline_tokenizer(const struct clf_pipeline *p);
size_t clf_pipeline_max_len(const struct clf_pipeline *p);

struct clf_result {
        /* sequence classification: argmax label, its score, all scores
         * (softmax; sigmoid for multi-label models) */
        int label;
        float score;
        float *scores;                  /* [num_labels] */
        /* token classification: the tokens read (ids, byte offsets into
         * the text) and per token the argmax label and its softmax score */
        struct clf_encoding tokens;
        int32_t *token_label;
        float *token_score;
        /* masked mean of the final hidden states [hidden] */
        float *embedding;
};

/* Classifies texts[0..n) in one batch; ret_results[i] is filled for each
 * text (free each with clf_result_free). */
int clf_pipeline_run(struct clf_pipeline *p, const char *const *texts, const size_t *lens, size_t n,
                     struct clf_result *ret_results);
void clf_result_free(struct clf_result *r);
