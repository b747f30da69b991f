/* Entity spans (PII) from a token classification head's per-token tags.
 *
 * Tags are BIO(ES) over entity types ("B-EMAIL_ADDRESS", "I-EMAIL_ADDRESS")
 * or plain entity labels ("EMAIL_ADDRESS", as vLLM Semantic Router's PII
 * models have); "O" is outside. Tags are read by word, as Hugging Face's
 * aggregation_strategy "first": a word is a run of tokens each glued to the
 * one before (it starts at the byte where that one ends, and the bytes on
 * both sides of the seam are ASCII letters or digits or non-ASCII), so
 * "yefimov" = "ye" "##fim" "##ov" is one word and "905-674" three; a word
 * takes its first token's tag. A word tagged B- or S-, or of another type
 * than the entity before it, starts an entity; a word of the same type
 * tagged I-, E- or plain extends it; "O" ends it. Special tokens (empty
 * offsets) are skipped. tools/train/syeval.py has the same rule.
 *
 * An EMAIL_ADDRESS span with an '@' in it is completed to the whole
 * address around that '@' (local part [A-Za-z0-9._%+-], domain
 * [A-Za-z0-9.-], no trailing '.' or '-'): the pattern is certain where the
 * model is not ("jane" in "jane@example.com" read as a plain word).
 *
 * A span covers the first token's start byte to the last token's end byte
 * of the original text, widened to whole UTF-8 characters (a byte-level
 * token may split one) and without leading whitespace (byte-level tokens
 * carry the space before a word). Its score is the minimum of its tokens'
 * words' first-token scores (the weakest bounds the confidence of the
 * whole entity). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "classifier/clf_config.h"
#include "classifier/clf_lexical.h"
#include "classifier/clf_tokenizer.h"

struct clf_span {
        uint32_t start, end; /* [start, end) bytes of the text */
        float score;
        const char *type; /* entity type: points into the head's label (not NUL-terminated) */
        size_t type_len;
};

/* Spans of a text, in order, into out[0..cap); returns how many there are
 * (may be more than cap: the first cap are written). Spans whose score is
 * below min_score are left out. */
size_t clf_spans(const struct clf_head_cfg *head, const struct clf_encoding *tokens, const int32_t *token_label,
                 const float *token_score, const char *text, size_t len, float min_score, struct clf_span *out,
                 size_t cap);

/* A word CRF beside a token head (config.json switchyard_token_crf). */
struct clf_token_crf {
        const struct clf_lexical *model; /* a word CRF (clf_lexical.h) */
        float encoder_weight;
};

/* Per-token tags of a token head from its logits ([tokens->n * labels]),
 * for clf_spans: label and score per token. Without trans or crf, each
 * token's argmax (softmax, or sigmoid for multi-label heads). With trans
 * ([labels + 1, labels] log transition probabilities between the tags of
 * consecutive words, row `labels` from the start: the checkpoint's
 * heads.<name>.transitions), the words' first tokens get the most likely
 * tag sequence (Viterbi: sum of log softmax + log transition), the other
 * tokens their argmax (clf_spans does not read them). With crf, a word's
 * emission is the CRF's score plus encoder_weight times the log softmax
 * of its first token, and the CRF's transitions replace trans. A token's
 * score is the softmax probability of its tag; with a CRF, a word's is the
 * marginal probability of its tag (forward-backward). 0 or -ENOMEM. */
int clf_token_tags(const struct clf_head_cfg *head, const struct clf_encoding *tokens, const char *text, size_t len,
                   const float *logits, const float *trans, const struct clf_token_crf *crf, int32_t *label,
                   float *score);

/* The entity type of a label ("B-EMAIL" -> "EMAIL", "O" -> NULL), and its
 * BIO prefix letter (0 without one). */
const char *clf_entity_of(const char *label, size_t *ret_len, char *ret_prefix);
