/* Tokenizers of Hugging Face encoder checkpoints, in C:
 *  - BERT WordPiece from vocab.txt (+ tokenizer_config.json: do_lower_case,
 *    strip_accents, tokenize_chinese_chars), as BertTokenizer does;
 *  - tokenizer.json (the `tokenizers` library's format) with a WordPiece or
 *    a BPE model; normalizers BertNormalizer, Lowercase, NFD, NFC, StripAccents
 *    and Sequence; pre-tokenizers BertPreTokenizer and ByteLevel (GPT-2
 *    regex, byte-to-unicode map, as ModernBERT uses); added tokens
 *    (lstrip / rstrip / single_word / normalized); post-processors
 *    TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel.
 * Anything else is refused with -EOPNOTSUPP rather than tokenized wrongly.
 *
 * Offsets are byte offsets into the caller's text: token i covers
 * text[start[i], end[i]); special tokens added by the post-processor have
 * start == end == 0. Invalid UTF-8 bytes are read as U+FFFD.
 *
 * A tokenizer is immutable after loading: encode may be called from several
 * threads at once, each with its own struct clf_encoding. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct clf_tokenizer;

struct clf_encoding {
        int32_t *ids;
        uint32_t *start;
        uint32_t *end;
        size_t n, cap;
        /* filled by clf_pipeline_encode for models that use them: token
         * types ([cap]; see clf_case_type) and the lexical model's
         * log-probabilities ([n_lex]) */
        uint8_t *types;
        float *lex;
        size_t n_lex;
};

/* "case" token type of a token's original text (UTF-8): 2 when it has two
 * or more letters, all upper case; 1 when its first character is an
 * upper-case letter; else 0. Letters and case: ASCII, Latin-1
 * (U+00C0-U+00DE upper but U+00D7, U+00DF-U+00FF lower but U+00F7) and
 * Latin Extended-A (U+0100-U+017F, even upper, odd lower), as
 * tools/train/sytok.py's case_type. */
#define CLF_CASE_TYPES 3
int clf_case_type(const char *s, size_t len);
/* the case of code point cp by the same letters: 1 upper, -1 lower, 0 neither */
int clf_letter_case(uint32_t cp);

void clf_encoding_init(struct clf_encoding *e);
void clf_encoding_free(struct clf_encoding *e);

/* Long prompts: how encode_model fits them into max_len tokens.
 *  HEAD_TAIL (default): the first ceil(b/2) and the last floor(b/2) content
 *   tokens, b = max_len - special tokens: instructions are usually at the
 *   start or the end of a long paste;
 *  HEAD: the first b (what Hugging Face's truncation=True does);
 *  TAIL: the last b.
 * Texts far longer than max_len are not tokenized whole: only a head and a
 * tail window, cut between words and grown until they hold the tokens
 * kept; the result is the same as tokenizing everything, the cost is that
 * of the tokens kept (a 1 MiB paste costs what 512 tokens cost). */
enum clf_truncate { CLF_TRUNC_HEAD_TAIL, CLF_TRUNC_HEAD, CLF_TRUNC_TAIL };

/* Loads dir/tokenizer.json if present, else (or when it uses something not
 * supported here) dir/vocab.txt with the options of
 * dir/tokenizer_config.json (BERT defaults when absent).
 * Returns 0, -ENOENT, -EBADMSG (malformed file), -EOPNOTSUPP, -ENOMEM. */
int clf_tokenizer_load(const char *dir, struct clf_tokenizer **ret_tok);
int clf_tokenizer_load_json(const char *path, struct clf_tokenizer **ret_tok);

struct clf_wordpiece_opts {
        int lowercase;     /* do_lower_case, default 1 */
        int strip_accents; /* -1: same as lowercase */
        int chinese_chars; /* tokenize_chinese_chars, default 1 */
};
int clf_tokenizer_load_vocab_txt(const char *path, const struct clf_wordpiece_opts *opts,
                                 struct clf_tokenizer **ret_tok);

void clf_tokenizer_free(struct clf_tokenizer *tok);

/* Content tokens of text (no special tokens added, no truncation),
 * appended to e after clearing it. */
int clf_tokenizer_encode(const struct clf_tokenizer *tok, const char *text, size_t len, struct clf_encoding *e);

/* What the model reads: specials of the post-processor around the content,
 * at most max_len tokens in all (content cut by policy). max_len must leave
 * room for one content token: -EINVAL otherwise. */
int clf_tokenizer_encode_model(const struct clf_tokenizer *tok, const char *text, size_t len, size_t max_len,
                               enum clf_truncate policy, struct clf_encoding *e);

/* Number of special tokens encode_model adds. */
size_t clf_tokenizer_n_special(const struct clf_tokenizer *tok);

int32_t clf_tokenizer_token_id(const struct clf_tokenizer *tok, const char *s);
const char *clf_tokenizer_id_token(const struct clf_tokenizer *tok, int32_t id);
size_t clf_tokenizer_vocab_size(const struct clf_tokenizer *tok);
/* The padding id ([PAD], <pad>, <|padding|>), or 0. */
int32_t clf_tokenizer_pad_id(const struct clf_tokenizer *tok);
