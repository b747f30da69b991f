/* The lexical models of a switchyard multi-head checkpoint.
 *
 * A text model: a linear model over word and character n-grams of the raw
 * text (tools/train/sylex.py defines the features and trains it), mixed
 * with one sequence head of the encoder (config.json "switchyard_lexical",
 * see clf_config.h).
 *
 * A word CRF: emission scores of each word of a token head from sparse
 * features of the word and its neighbours, and tag transitions
 * (tools/train/sycrf.py defines the features and trains it), added to the
 * token head's log-probabilities (config.json "switchyard_token_crf", see
 * clf_spans.h clf_token_tags).
 *
 * File (safetensors): "keys" I32 [n] (FNV-1a 32 keys of the known
 * features), "weight" I8 [n, labels] with "scale" F32 [labels] (weight *
 * scale = W^T; 256 labels at most), "bias" F32 [labels]; a text model has
 * "idf" F16/F32 [n], a word CRF "transitions" F32 [labels + 1, labels]
 * (row `labels`: from the start) instead. Everything is copied at load;
 * the file is not kept open.
 * A loaded model is read-only: any number of threads may use it. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct clf_lexical;

/* Returns 0, -errno of open, -EBADMSG (missing or inconsistent tensors,
 * labels != num_labels), -ENOMEM. */
int clf_lexical_load(const char *path, size_t num_labels, struct clf_lexical **ret_l);
void clf_lexical_free(struct clf_lexical *l);
size_t clf_lexical_features(const struct clf_lexical *l);

/* The transitions of a word CRF ([labels + 1, labels]); NULL for a text
 * model. */
const float *clf_lexical_transitions(const struct clf_lexical *l);

/* Text model: log-probabilities of the labels for text (num_labels
 * floats). 0, -EINVAL (a word CRF) or -ENOMEM. */
int clf_lexical_logprobs(const struct clf_lexical *l, const char *text, size_t len, float *out);

/* Word CRF: the emission scores of the nw words [start[i], end[i]) (byte
 * ranges of text, in order, not overlapping) into out [nw * labels].
 * 0, -EINVAL (a text model) or -ENOMEM. */
int clf_lexical_word_scores(const struct clf_lexical *l, const char *text, size_t len, const uint32_t *start,
                            const uint32_t *end, size_t nw, float *out);
