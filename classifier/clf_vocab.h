/* Token string <-> id table of a tokenizer (open addressing, FNV-1a).
 * Strings are raw bytes (UTF-8), not necessarily NUL-free. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct clf_vocab;

int clf_vocab_new(struct clf_vocab **ret_vocab);
void clf_vocab_free(struct clf_vocab *v);

/* Maps s -> id and id -> s. A string already present is remapped to the
 * new id (the later entry wins, as when Hugging Face reads vocab.txt).
 * Returns 0, -EINVAL (id < 0 or > CLF_VOCAB_MAX_ID), -ENOMEM. */
#define CLF_VOCAB_MAX_ID (1 << 24)
int clf_vocab_add(struct clf_vocab *v, const char *s, size_t len, int32_t id);

/* The id of s, or -1. */
int32_t clf_vocab_find(const struct clf_vocab *v, const char *s, size_t len);

/* The string of id (NUL-terminated copy owned by the vocab), or NULL. */
const char *clf_vocab_token(const struct clf_vocab *v, int32_t id, size_t *ret_len);

/* One past the largest id added. */
size_t clf_vocab_size(const struct clf_vocab *v);
