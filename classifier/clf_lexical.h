/* The lexical model of a switchyard multi-head checkpoint: a linear model
 * over word and character n-grams of the raw text (tools/train/sylex.py
 * defines the features and trains it), mixed with one sequence head of
 * the encoder (config.json "switchyard_lexical", see clf_config.h).
 *
 * File (safetensors): "keys" I32 [n] (FNV-1a 32 keys of the known
 * features, ascending as unsigned), "idf" F16/F32 [n], "weight" I8 [n,
 * labels] with "scale" F32 [labels] (weight * scale = W^T; 256 labels at most), "bias" F32
 * [labels]. Everything is copied at load; the file is not kept open.
 * A loaded model is read-only: any number of threads may use it. */
#pragma once
#include <stddef.h>

struct clf_lexical;

/* Returns 0, -errno of open, -EBADMSG (missing or inconsistent tensors,
 * labels != num_labels), -ENOMEM. */
int clf_lexical_load(const char *path, size_t num_labels, struct clf_lexical **ret_l);
void clf_lexical_free(struct clf_lexical *l);
size_t clf_lexical_features(const struct clf_lexical *l);

/* log-probabilities of the labels for text (num_labels floats).
 * 0 or -ENOMEM. */
int clf_lexical_logprobs(const struct clf_lexical *l, const char *text, size_t len, float *out);
