/* Shared between clf_tokenizer.c, clf_wordpiece.c and clf_bpe.c. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classifier/clf_tokenizer.h"
#include "classifier/clf_vocab.h"

/* A normalized string: UTF-8 bytes, each with the span [o0, o1) of the
 * original text it came from. */
struct clf_nstr {
        char *s;
        uint32_t *o0, *o1;
        size_t n, cap;
};

int clf_nstr_push_cp(struct clf_nstr *ns, uint32_t cp, uint32_t o0, uint32_t o1);
void clf_nstr_free(struct clf_nstr *ns);

/* Appends one token to e. */
int clf_encoding_push(struct clf_encoding *e, int32_t id, uint32_t start, uint32_t end);

/* WordPiece model (clf_wordpiece.c) */
struct clf_wordpiece {
        struct clf_vocab *vocab; /* borrowed */
        int32_t unk_id;
        char prefix[16]; /* continuing_subword_prefix, "##" */
        size_t prefix_len;
        size_t max_chars; /* max_input_chars_per_word */
};
/* BertPreTokenizer: words of ns[a, b) split on white space and punctuation */
int clf_bert_pretokenize(const struct clf_nstr *ns, size_t a, size_t b, int (*word)(void *ctx, size_t wa, size_t wb),
                         void *ctx);
/* WordPiece on the word ns[a, b): tokens appended to e */
int clf_wordpiece_word(const struct clf_wordpiece *wp, const struct clf_nstr *ns, size_t a, size_t b,
                       struct clf_encoding *e);

/* BPE model (clf_bpe.c) */
struct clf_bpe;
int clf_bpe_new(struct clf_vocab *vocab, int32_t unk_id, bool fuse_unk, bool ignore_merges, bool byte_level,
                struct clf_bpe **ret_bpe);
void clf_bpe_free(struct clf_bpe *bpe);
/* Adds merge (a, b) with the next rank; the merged token must be in the
 * vocab. Returns 0, -ENOENT (a part or the result not in the vocab), -ENOMEM. */
int clf_bpe_add_merge(struct clf_bpe *bpe, const char *a, size_t alen, const char *b, size_t blen);
/* ByteLevel pre-tokenizer (GPT-2 regex) on ns[a, b); calls word() per piece */
int clf_bytelevel_pretokenize(const struct clf_nstr *ns, size_t a, size_t b,
                              int (*word)(void *ctx, size_t wa, size_t wb), void *ctx);
/* BPE on the word ns[a, b) (byte-level mapped when the model is byte level) */
int clf_bpe_word(const struct clf_bpe *bpe, const struct clf_nstr *ns, size_t a, size_t b, struct clf_encoding *e);
