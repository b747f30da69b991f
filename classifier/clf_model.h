/* An encoder checkpoint (config.json + model.safetensors) loaded onto a
 * backend, and its forward pass over a padded batch.
 *
 * Weights: f32, f16 and bf16 (and f64) tensors are converted to f32 at
 * load (f32 tensors that are 4-byte aligned in the mapping are used in
 * place by the CPU backend: no copy). All compute is f32.
 *
 * BERT / MiniLM and DistilBERT: post-LN, exact (erf) GELU unless the config
 * says otherwise, learned absolute positions, token type 0.
 * ModernBERT: pre-norm LayerNorm (bias per norm_bias), RoPE (rotate-half),
 * GeGLU MLP, local (sliding window, |i-j| <= local_attention/2) attention
 * except every global_attn_every_n_layers-th layer, final norm; the head
 * is dense -> act -> norm -> classifier, on the CLS row or the masked mean
 * (classifier_pooling) for sequence classification, on every row for
 * token classification.
 * Multi-head checkpoints (clf_config.h): per head, pool (mean or CLS) for
 * sequence heads, optional dense + tanh, linear.
 * Outputs: logits (sequence: [B, labels]; token: [B, T, labels]; per head,
 * concatenated) and the pooled embedding: the masked mean of the final hidden states [B, hidden].
 * A model is used by one thread at a time. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "classifier/clf_config.h"

struct clf_model;

struct clf_model_opts {
        const char *backend; /* "cpu", "cuda", NULL: auto */
        int threads;         /* CPU GEMM threads, 0: BLAS default */
};

/* Returns 0, -ENOENT, -EBADMSG (malformed files, missing or misshapen
 * tensor), -EOPNOTSUPP, -ENOMEM. */
int clf_model_load(const char *dir, const struct clf_model_opts *opts, struct clf_model **ret_model);
void clf_model_free(struct clf_model *m);

const struct clf_config *clf_model_config(const struct clf_model *m);
const char *clf_model_backend(const struct clf_model *m);

struct clf_batch {
        size_t B, T;          /* sequences, padded length (<= max_position_embeddings) */
        const int32_t *ids;   /* [B*T] */
        const uint8_t *mask;  /* [B*T] 1 token, 0 padding; NULL: all tokens */
        const int32_t *types; /* [B*T] token type ids (BERT); NULL: all 0 */
};

/* Floats of ret_logits for a batch: the heads' logits one after the
 * other (config heads[] order), B*labels for a sequence head, B*T*labels
 * for a token head; one head: B*labels or B*T*labels as before. */
size_t clf_model_logits_size(const struct clf_model *m, size_t B, size_t T);
/* where head `head`'s logits start in ret_logits */
size_t clf_model_head_offset(const struct clf_model *m, size_t head, size_t B, size_t T);
/* a token head's tag transitions, heads.<name>.transitions: [labels + 1,
 * labels] log-probabilities, row `labels` from the start; NULL if none
 * (see clf_token_tags) */
const float *clf_model_transitions(const struct clf_model *m, size_t head);

/* ret_logits and/or ret_embedding ([B*hidden]) may be NULL.
 * Returns 0, -EINVAL (id out of the vocabulary, empty batch), -E2BIG
 * (T above max_position_embeddings), -ENOMEM, a backend error. */
int clf_model_forward(struct clf_model *m, const struct clf_batch *in, float *ret_logits, float *ret_embedding);
