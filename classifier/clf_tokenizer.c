/* The tokenizer pipeline of the Hugging Face `tokenizers` library, for the
 * pieces encoder classifiers use:
 *   1. split the text on added tokens that are not normalized;
 *   2. normalize each remaining piece (code point steps, offsets kept);
 *   3. split it on the normalized added tokens;
 *   4. pre-tokenize (BERT or ByteLevel) and run the model (WordPiece, BPE);
 *   5. the post-processor's special tokens, truncation (encode_model).
 * Known difference from `tokenizers`: after an added token with rstrip,
 * matching resumes after the stripped space. */
#include "classifier/clf_tokenizer.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classifier/clf_json.h"
#include "common/file.h"
#include "classifier/clf_tokenizer-internal.h"
#include "classifier/clf_unicode.h"
#include "common/log.h"

#define CLF_TOKENIZER_MAX_FILE (256u << 20)
#define MAX_NORM 16
#define MAX_SPECIAL 8

enum norm_step { NS_CLEAN, NS_CJK, NS_NFD, NS_NFC, NS_STRIP_MN, NS_LOWER };
enum pretok { PT_NONE, PT_BERT, PT_BYTELEVEL };
enum model_kind { MK_WORDPIECE, MK_BPE };

struct added_tok {
        char *s;
        size_t len;
        int32_t id;
        bool lstrip, rstrip, single_word, normalized, special;
};

struct clf_tokenizer {
        struct clf_vocab *vocab;
        enum model_kind model;
        struct clf_wordpiece wp;
        struct clf_bpe *bpe;
        uint8_t norm[MAX_NORM];
        size_t n_norm;
        enum pretok pre;
        bool add_prefix_space, use_regex;
        struct added_tok *added;
        size_t n_added;
        bool any_added[2]; /* [normalized] */
        int32_t prefix[MAX_SPECIAL], suffix[MAX_SPECIAL];
        size_t n_prefix, n_suffix;
        int32_t pad_id;
};

/* ---- encodings and normalized strings ---- */

void clf_encoding_init(struct clf_encoding *e) {
        memset(e, 0, sizeof *e);
}

void clf_encoding_free(struct clf_encoding *e) {
        free(e->ids);
        free(e->start);
        free(e->end);
        free(e->types);
        free(e->lex);
        memset(e, 0, sizeof *e);
}

static int encoding_reserve(struct clf_encoding *e, size_t n) {
        size_t cap;
        void *p;

        if (n <= e->cap)
                return 0;
        cap = e->cap ? e->cap : 64;
        while (cap < n)
                cap *= 2;
        if (!(p = realloc(e->ids, cap * sizeof *e->ids)))
                return -ENOMEM;
        e->ids = p;
        if (!(p = realloc(e->start, cap * sizeof *e->start)))
                return -ENOMEM;
        e->start = p;
        if (!(p = realloc(e->end, cap * sizeof *e->end)))
                return -ENOMEM;
        e->end = p;
        if (!(p = realloc(e->types, cap)))
                return -ENOMEM;
        e->types = p;
        e->cap = cap;
        return 0;
}

int clf_letter_case(uint32_t cp) {
        if (cp >= 'A' && cp <= 'Z')
                return 1;
        if (cp >= 'a' && cp <= 'z')
                return -1;
        if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
                return 1;
        if (cp >= 0xDF && cp <= 0xFF && cp != 0xF7)
                return -1;
        if (cp >= 0x100 && cp <= 0x17F)
                return cp % 2 ? -1 : 1;
        return 0;
}

int clf_case_type(const char *s, size_t len) {
        size_t letters = 0, i = 0;
        bool all_upper = true;

        while (i < len) {
                unsigned char c = (unsigned char)s[i];
                uint32_t cp = c;
                size_t k = 1;
                int lc;

                if (c >= 0xC0 && c < 0xE0 && i + 1 < len) {
                        cp = ((uint32_t)(c & 0x1f) << 6) | ((unsigned char)s[i + 1] & 0x3f);
                        k = 2;
                } else if (c >= 0x80) {
                        cp = 0xFFFD; /* beyond U+07FF or broken: no case here */
                        k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 1;
                }
                lc = clf_letter_case(cp);
                if (i == 0 && lc != 1)
                        return 0;
                if (lc) {
                        letters++;
                        if (lc < 0)
                                all_upper = false;
                }
                i += k;
        }
        if (letters == 0)
                return 0;
        return letters >= 2 && all_upper ? 2 : 1;
}

int clf_encoding_push(struct clf_encoding *e, int32_t id, uint32_t start, uint32_t end) {
        int r;

        if (e->n == e->cap && (r = encoding_reserve(e, e->n + 1)) < 0)
                return r;
        e->ids[e->n] = id;
        e->start[e->n] = start;
        e->end[e->n] = end;
        e->n++;
        return 0;
}

static int nstr_reserve(struct clf_nstr *ns, size_t n) {
        size_t cap;
        void *p;

        if (n <= ns->cap)
                return 0;
        cap = ns->cap ? ns->cap : 256;
        while (cap < n)
                cap *= 2;
        if (!(p = realloc(ns->s, cap)))
                return -ENOMEM;
        ns->s = p;
        if (!(p = realloc(ns->o0, cap * sizeof *ns->o0)))
                return -ENOMEM;
        ns->o0 = p;
        if (!(p = realloc(ns->o1, cap * sizeof *ns->o1)))
                return -ENOMEM;
        ns->o1 = p;
        ns->cap = cap;
        return 0;
}

int clf_nstr_push_cp(struct clf_nstr *ns, uint32_t cp, uint32_t o0, uint32_t o1) {
        char u[4];
        size_t n = clf_utf8_encode(cp, u);
        int r;

        if (ns->n + n > ns->cap && (r = nstr_reserve(ns, ns->n + n)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                ns->s[ns->n] = u[i];
                ns->o0[ns->n] = o0;
                ns->o1[ns->n] = o1;
                ns->n++;
        }
        return 0;
}

void clf_nstr_free(struct clf_nstr *ns) {
        free(ns->s);
        free(ns->o0);
        free(ns->o1);
        memset(ns, 0, sizeof *ns);
}

/* ---- normalization ---- */

struct cpbuf {
        uint32_t *cp, *o0, *o1;
        size_t n, cap;
};

static int cp_push(struct cpbuf *b, uint32_t cp, uint32_t o0, uint32_t o1) {
        if (b->n == b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 256;
                void *p;

                if (!(p = realloc(b->cp, cap * sizeof *b->cp)))
                        return -ENOMEM;
                b->cp = p;
                if (!(p = realloc(b->o0, cap * sizeof *b->o0)))
                        return -ENOMEM;
                b->o0 = p;
                if (!(p = realloc(b->o1, cap * sizeof *b->o1)))
                        return -ENOMEM;
                b->o1 = p;
                b->cap = cap;
        }
        b->cp[b->n] = cp;
        b->o0[b->n] = o0;
        b->o1[b->n] = o1;
        b->n++;
        return 0;
}

static void cp_free(struct cpbuf *b) {
        free(b->cp);
        free(b->o0);
        free(b->o1);
}

static bool is_cjk(uint32_t cp) {
        return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
               (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) ||
               (cp >= 0x2b820 && cp <= 0x2ceaf) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/* canonical ordering: non-starters sorted by combining class, stably */
static void canonical_order(struct cpbuf *b) {
        for (size_t i = 1; i < b->n; i++) {
                uint8_t c = clf_unicode_ccc(b->cp[i]);
                size_t j = i;

                if (c == 0)
                        continue;
                while (j > 0) {
                        uint8_t p = clf_unicode_ccc(b->cp[j - 1]);
                        uint32_t t;

                        if (p == 0 || p <= c)
                                break;
                        t = b->cp[j], b->cp[j] = b->cp[j - 1], b->cp[j - 1] = t;
                        t = b->o0[j], b->o0[j] = b->o0[j - 1], b->o0[j - 1] = t;
                        t = b->o1[j], b->o1[j] = b->o1[j - 1], b->o1[j - 1] = t;
                        j--;
                }
        }
}

/* canonical composition of a decomposed, ordered buffer, in place; the
 * composite's span covers both parts */
static void compose(struct cpbuf *b) {
        size_t n = 0;
        long s = -1;      /* last starter in the output */
        uint8_t last = 0; /* class of the last output character */

        for (size_t i = 0; i < b->n; i++) {
                uint32_t c = b->cp[i], p;
                uint8_t cc = clf_unicode_ccc(c);

                if (s >= 0 && ((size_t)s == n - 1 || (last != 0 && last < cc)) &&
                    (p = clf_unicode_compose(b->cp[s], c)) != 0) {
                        b->cp[s] = p;
                        if (b->o0[i] < b->o0[s])
                                b->o0[s] = b->o0[i];
                        if (b->o1[i] > b->o1[s])
                                b->o1[s] = b->o1[i];
                        continue;
                }
                if (cc == 0)
                        s = (long)n;
                last = cc;
                b->cp[n] = c, b->o0[n] = b->o0[i], b->o1[n] = b->o1[i];
                n++;
        }
        b->n = n;
}

static int norm_step(enum norm_step step, const struct cpbuf *in, struct cpbuf *out) {
        int r = 0;

        out->n = 0;
        for (size_t i = 0; i < in->n && r >= 0; i++) {
                uint32_t c = in->cp[i], o0 = in->o0[i], o1 = in->o1[i], tmp[CLF_UNICODE_NFD_MAX];
                size_t k;

                switch (step) {
                case NS_CLEAN:
                        if (c == '\t' || c == '\n' || c == '\r' || clf_unicode_is_white_space(c)) {
                                r = cp_push(out, ' ', o0, o1);
                                break;
                        }
                        if (c == 0 || c == 0xfffd || clf_unicode_is_other(c))
                                break;
                        r = cp_push(out, c, o0, o1);
                        break;
                case NS_CJK:
                        if (!is_cjk(c)) {
                                r = cp_push(out, c, o0, o1);
                                break;
                        }
                        if ((r = cp_push(out, ' ', o0, o1)) < 0 || (r = cp_push(out, c, o0, o1)) < 0)
                                break;
                        r = cp_push(out, ' ', o0, o1);
                        break;
                case NS_NFD:
                case NS_NFC:
                        k = clf_unicode_nfd(c, tmp);
                        for (size_t j = 0; j < k && r >= 0; j++)
                                r = cp_push(out, tmp[j], o0, o1);
                        break;
                case NS_STRIP_MN:
                        if (clf_unicode_category(c) != CLF_UCAT_MN)
                                r = cp_push(out, c, o0, o1);
                        break;
                case NS_LOWER:
                        k = clf_unicode_lower(c, tmp);
                        for (size_t j = 0; j < k && r >= 0; j++)
                                r = cp_push(out, tmp[j], o0, o1);
                        break;
                }
        }
        if (r >= 0 && (step == NS_NFD || step == NS_NFC))
                canonical_order(out);
        if (r >= 0 && step == NS_NFC)
                compose(out);
        return r;
}

/* text[a, b) -> ns (cleared first) */
static int normalize(const struct clf_tokenizer *t, const char *text, size_t a, size_t b, struct clf_nstr *ns) {
        struct cpbuf x = { 0 }, y = { 0 };
        int r = 0;

        ns->n = 0;
        if (t->n_norm == 0) {
                /* bytes as they are, each its own offset */
                if ((r = nstr_reserve(ns, b - a + 1)) < 0)
                        return r;
                memcpy(ns->s, text + a, b - a);
                for (size_t i = a; i < b; i++) {
                        ns->o0[i - a] = (uint32_t)i;
                        ns->o1[i - a] = (uint32_t)i + 1;
                }
                ns->n = b - a;
                return 0;
        }
        for (size_t i = a; i < b && r >= 0;) {
                uint32_t cp;
                size_t n = clf_utf8_decode(text + i, b - i, &cp);

                r = cp_push(&x, cp, (uint32_t)i, (uint32_t)(i + n));
                i += n;
        }
        for (size_t s = 0; s < t->n_norm && r >= 0; s++) {
                struct cpbuf tmp;

                r = norm_step((enum norm_step)t->norm[s], &x, &y);
                tmp = x, x = y, y = tmp;
        }
        for (size_t i = 0; i < x.n && r >= 0; i++)
                r = clf_nstr_push_cp(ns, x.cp[i], x.o0[i], x.o1[i]);
        cp_free(&x);
        cp_free(&y);
        return r;
}

/* ---- added tokens ---- */

struct seg {
        size_t a, b;
        int32_t id; /* -1: a piece of text to tokenize */
};

struct segvec {
        struct seg *v;
        size_t n, cap;
};

static int seg_push(struct segvec *sv, size_t a, size_t b, int32_t id) {
        if (sv->n == sv->cap) {
                size_t cap = sv->cap ? sv->cap * 2 : 16;
                struct seg *p = realloc(sv->v, cap * sizeof *p);

                if (!p)
                        return -ENOMEM;
                sv->v = p;
                sv->cap = cap;
        }
        sv->v[sv->n++] = (struct seg){ a, b, id };
        return 0;
}

static bool is_word_char(uint32_t cp) {
        return cp == '_' || clf_unicode_is_alnum(cp);
}

/* code point ending just before s[p] (p > a) */
static uint32_t cp_before(const char *s, size_t a, size_t p) {
        size_t q = p - 1;
        uint32_t cp;

        while (q > a && ((unsigned char)s[q] & 0xc0) == 0x80 && p - q < 4)
                q--;
        clf_utf8_decode(s + q, p - q, &cp);
        return cp;
}

/* s[a, b) split into text pieces and added tokens (those whose normalized
 * flag is `normalized`): leftmost-longest matches, then single_word,
 * lstrip and rstrip as the tokenizers library applies them. */
static int split_added(const struct clf_tokenizer *t, const char *s, size_t a, size_t b, bool normalized,
                       struct segvec *out) {
        size_t last = a, p = a;
        int r;

        out->n = 0;
        if (!t->any_added[normalized])
                return seg_push(out, a, b, -1);
        while (p < b) {
                const struct added_tok *best = NULL;
                size_t start = p, stop;

                for (size_t k = 0; k < t->n_added; k++) {
                        const struct added_tok *at = &t->added[k];

                        if (at->normalized != normalized || at->len > b - p || at->s[0] != s[p])
                                continue;
                        if ((!best || at->len > best->len) && memcmp(at->s, s + p, at->len) == 0)
                                best = at;
                }
                if (!best) {
                        p++;
                        continue;
                }
                stop = p + best->len;
                if (best->single_word) {
                        uint32_t after = 0;

                        if (stop < b)
                                clf_utf8_decode(s + stop, b - stop, &after);
                        if ((start > a && is_word_char(cp_before(s, a, start))) || (stop < b && is_word_char(after))) {
                                p++;
                                continue;
                        }
                }
                if (best->lstrip)
                        while (start > last && clf_unicode_is_white_space(cp_before(s, last, start)))
                                start -= clf_utf8_encode(cp_before(s, last, start), (char[4]){ 0 });
                if (best->rstrip)
                        while (stop < b) {
                                uint32_t cp;
                                size_t n = clf_utf8_decode(s + stop, b - stop, &cp);

                                if (!clf_unicode_is_white_space(cp))
                                        break;
                                stop += n;
                        }
                if (last < start && (r = seg_push(out, last, start, -1)) < 0)
                        return r;
                if ((r = seg_push(out, start, stop, best->id)) < 0)
                        return r;
                last = p = stop;
        }
        if (last < b)
                return seg_push(out, last, b, -1);
        return 0;
}

/* ---- encode ---- */

struct word_ctx {
        const struct clf_tokenizer *t;
        const struct clf_nstr *ns;
        struct clf_encoding *e;
};

static int on_word(void *ctx, size_t wa, size_t wb) {
        struct word_ctx *w = ctx;

        if (w->t->model == MK_WORDPIECE)
                return clf_wordpiece_word(&w->t->wp, w->ns, wa, wb, w->e);
        return clf_bpe_word(w->t->bpe, w->ns, wa, wb, w->e);
}

static int pretokenize(const struct clf_tokenizer *t, const struct clf_nstr *ns, size_t a, size_t b,
                       struct clf_encoding *e) {
        struct word_ctx w = { t, ns, e };

        switch (t->pre) {
        case PT_BERT:
                return clf_bert_pretokenize(ns, a, b, on_word, &w);
        case PT_BYTELEVEL:
                if (t->add_prefix_space && ns->s[a] != ' ') {
                        struct clf_nstr tmp = { 0 };
                        int r = clf_nstr_push_cp(&tmp, ' ', ns->o0[a], ns->o0[a]);

                        if (r >= 0 && (r = nstr_reserve(&tmp, b - a + 1)) >= 0) {
                                memcpy(tmp.s + 1, ns->s + a, b - a);
                                memcpy(tmp.o0 + 1, ns->o0 + a, (b - a) * sizeof *tmp.o0);
                                memcpy(tmp.o1 + 1, ns->o1 + a, (b - a) * sizeof *tmp.o1);
                                tmp.n = b - a + 1;
                                w.ns = &tmp;
                                r = t->use_regex ? clf_bytelevel_pretokenize(&tmp, 0, tmp.n, on_word, &w)
                                                 : on_word(&w, 0, tmp.n);
                        }
                        clf_nstr_free(&tmp);
                        return r;
                }
                return t->use_regex ? clf_bytelevel_pretokenize(ns, a, b, on_word, &w) : on_word(&w, a, b);
        case PT_NONE:
                return on_word(&w, a, b);
        }
        return -EINVAL;
}

int clf_tokenizer_encode(const struct clf_tokenizer *t, const char *text, size_t len, struct clf_encoding *e) {
        struct segvec s1 = { 0 }, s2 = { 0 };
        struct clf_nstr ns = { 0 };
        int r;

        e->n = 0;
        if (len > UINT32_MAX - 8)
                return -E2BIG;
        if ((r = split_added(t, text, 0, len, false, &s1)) < 0)
                goto out;
        for (size_t i = 0; i < s1.n; i++) {
                if (s1.v[i].a == s1.v[i].b)
                        continue;
                if (s1.v[i].id >= 0) {
                        if ((r = clf_encoding_push(e, s1.v[i].id, (uint32_t)s1.v[i].a, (uint32_t)s1.v[i].b)) < 0)
                                goto out;
                        continue;
                }
                if ((r = normalize(t, text, s1.v[i].a, s1.v[i].b, &ns)) < 0)
                        goto out;
                if ((r = split_added(t, ns.s, 0, ns.n, true, &s2)) < 0)
                        goto out;
                for (size_t j = 0; j < s2.n; j++) {
                        const struct seg *g = &s2.v[j];

                        if (g->a == g->b)
                                continue;
                        if (g->id >= 0)
                                r = clf_encoding_push(e, g->id, ns.o0[g->a], ns.o1[g->b - 1]);
                        else
                                r = pretokenize(t, &ns, g->a, g->b, e);
                        if (r < 0)
                                goto out;
                }
        }
        r = 0;
out:
        free(s1.v);
        free(s2.v);
        clf_nstr_free(&ns);
        return r;
}

size_t clf_tokenizer_n_special(const struct clf_tokenizer *t) {
        return t->n_prefix + t->n_suffix;
}

/* A byte position where the text can be cut without changing its tokens:
 * a single space between two characters that are not white space. Every
 * pre-tokenizer here ends a token before such a space and starts the next
 * at it, the normalizers work per character. (An added token containing
 * such a space could be cut: none of the supported vocabularies has one.) */
static bool safe_cut(const char *text, size_t len, size_t i) {
        uint32_t cp;

        if (i == 0 || i + 1 >= len || text[i] != ' ')
                return false;
        if (clf_unicode_is_white_space(cp_before(text, 0, i)))
                return false;
        clf_utf8_decode(text + i + 1, len - i - 1, &cp);
        return !clf_unicode_is_white_space(cp);
}

/* Tokens of text[a, b) appended to e with offsets into text. */
static int encode_range(const struct clf_tokenizer *t, const char *text, size_t a, size_t b, struct clf_encoding *e) {
        struct clf_encoding part;
        int r;

        clf_encoding_init(&part);
        if ((r = clf_tokenizer_encode(t, text + a, b - a, &part)) >= 0 &&
            (r = encoding_reserve(e, e->n + part.n + 1)) >= 0) {
                for (size_t i = 0; i < part.n; i++) {
                        e->ids[e->n + i] = part.ids[i];
                        e->start[e->n + i] = part.start[i] + (uint32_t)a;
                        e->end[e->n + i] = part.end[i] + (uint32_t)a;
                }
                e->n += part.n;
        }
        clf_encoding_free(&part);
        return r;
}

/* Long texts: tokenize only a head window and a tail window, each cut at a
 * safe position and grown until it holds the tokens kept, so that a 1 MiB
 * paste costs what its first and last few hundred tokens cost. Returns 1
 * when done (e holds the kept content), 0 when the windows meet (the
 * caller tokenizes the whole text). */
static int encode_windows(const struct clf_tokenizer *t, const char *text, size_t len, size_t keep_head,
                          size_t keep_tail, struct clf_encoding *e) {
        size_t w = 8 * (keep_head > keep_tail ? keep_head : keep_tail) + 256, head_end = 0, tail_start = len;
        struct clf_encoding h, tl;
        int r = 0;

        clf_encoding_init(&h);
        clf_encoding_init(&tl);
        for (;; w *= 2) {
                if (w >= len / 2) {
                        r = 0;
                        goto out;
                }
                h.n = tl.n = 0;
                if (keep_head) {
                        head_end = w;
                        while (head_end < len && !safe_cut(text, len, head_end))
                                head_end++;
                        if ((r = encode_range(t, text, 0, head_end, &h)) < 0)
                                goto out;
                }
                if (keep_tail) {
                        tail_start = len - w;
                        while (tail_start > 0 && !safe_cut(text, len, tail_start))
                                tail_start--;
                        if ((r = encode_range(t, text, tail_start, len, &tl)) < 0)
                                goto out;
                }
                if (head_end > tail_start) {
                        r = 0;
                        goto out;
                }
                if (h.n >= keep_head && tl.n >= keep_tail)
                        break;
        }
        e->n = 0;
        if ((r = encoding_reserve(e, keep_head + keep_tail)) < 0)
                goto out;
        if (keep_head) {
                memcpy(e->ids, h.ids, keep_head * sizeof *e->ids);
                memcpy(e->start, h.start, keep_head * sizeof *e->start);
                memcpy(e->end, h.end, keep_head * sizeof *e->end);
        }
        if (keep_tail) {
                memcpy(e->ids + keep_head, tl.ids + tl.n - keep_tail, keep_tail * sizeof *e->ids);
                memcpy(e->start + keep_head, tl.start + tl.n - keep_tail, keep_tail * sizeof *e->start);
                memcpy(e->end + keep_head, tl.end + tl.n - keep_tail, keep_tail * sizeof *e->end);
        }
        e->n = keep_head + keep_tail;
        r = 1;
out:
        clf_encoding_free(&h);
        clf_encoding_free(&tl);
        return r;
}

int clf_tokenizer_encode_model(const struct clf_tokenizer *t, const char *text, size_t len, size_t max_len,
                               enum clf_truncate policy, struct clf_encoding *e) {
        size_t budget, n, keep_head, keep_tail, total;
        int r;

        if (max_len <= t->n_prefix + t->n_suffix)
                return -EINVAL;
        budget = max_len - t->n_prefix - t->n_suffix;
        switch (policy) {
        case CLF_TRUNC_HEAD:
                keep_head = budget, keep_tail = 0;
                break;
        case CLF_TRUNC_TAIL:
                keep_head = 0, keep_tail = budget;
                break;
        default:
                keep_head = (budget + 1) / 2, keep_tail = budget / 2;
                break;
        }
        e->n = 0;
        r = len > 64 * budget + 4096 ? encode_windows(t, text, len, keep_head, keep_tail, e) : 0;
        if (r < 0)
                return r;
        if (r == 0 && (r = clf_tokenizer_encode(t, text, len, e)) < 0)
                return r;
        n = e->n;
        if (n > budget) {
                memmove(e->ids + keep_head, e->ids + n - keep_tail, keep_tail * sizeof *e->ids);
                memmove(e->start + keep_head, e->start + n - keep_tail, keep_tail * sizeof *e->start);
                memmove(e->end + keep_head, e->end + n - keep_tail, keep_tail * sizeof *e->end);
                n = budget;
        }
        total = n + t->n_prefix + t->n_suffix;
        if ((r = encoding_reserve(e, total + 1)) < 0)
                return r;
        memmove(e->ids + t->n_prefix, e->ids, n * sizeof *e->ids);
        memmove(e->start + t->n_prefix, e->start, n * sizeof *e->start);
        memmove(e->end + t->n_prefix, e->end, n * sizeof *e->end);
        for (size_t i = 0; i < t->n_prefix; i++) {
                e->ids[i] = t->prefix[i];
                e->start[i] = e->end[i] = 0;
        }
        for (size_t i = 0; i < t->n_suffix; i++) {
                e->ids[t->n_prefix + n + i] = t->suffix[i];
                e->start[t->n_prefix + n + i] = e->end[t->n_prefix + n + i] = 0;
        }
        e->n = total;
        return 0;
}

/* ---- lookups ---- */

int32_t clf_tokenizer_token_id(const struct clf_tokenizer *t, const char *s) {
        size_t len = strlen(s);

        for (size_t i = 0; i < t->n_added; i++)
                if (t->added[i].len == len && memcmp(t->added[i].s, s, len) == 0)
                        return t->added[i].id;
        return clf_vocab_find(t->vocab, s, len);
}

const char *clf_tokenizer_id_token(const struct clf_tokenizer *t, int32_t id) {
        for (size_t i = 0; i < t->n_added; i++)
                if (t->added[i].id == id)
                        return t->added[i].s;
        return clf_vocab_token(t->vocab, id, NULL);
}

size_t clf_tokenizer_vocab_size(const struct clf_tokenizer *t) {
        size_t n = clf_vocab_size(t->vocab);

        for (size_t i = 0; i < t->n_added; i++)
                if ((size_t)t->added[i].id + 1 > n)
                        n = (size_t)t->added[i].id + 1;
        return n;
}

int32_t clf_tokenizer_pad_id(const struct clf_tokenizer *t) {
        return t->pad_id;
}

/* ---- construction ---- */

void clf_tokenizer_free(struct clf_tokenizer *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->n_added; i++)
                free(t->added[i].s);
        free(t->added);
        clf_bpe_free(t->bpe);
        clf_vocab_free(t->vocab);
        free(t);
}

static int add_added(struct clf_tokenizer *t, const char *s, size_t len, int32_t id, bool lstrip, bool rstrip,
                     bool single_word, bool normalized, bool special) {
        struct added_tok *p;
        char *copy;

        if (len == 0 || id < 0)
                return -EBADMSG;
        p = realloc(t->added, (t->n_added + 1) * sizeof *p);
        if (!p)
                return -ENOMEM;
        t->added = p;
        copy = malloc(len + 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, s, len);
        copy[len] = 0;
        t->added[t->n_added++] = (struct added_tok){ copy, len, id, lstrip, rstrip, single_word, normalized, special };
        t->any_added[normalized] = true;
        return 0;
}

static void find_pad(struct clf_tokenizer *t) {
        static const char *names[] = { "[PAD]", "<pad>", "<|padding|>" };

        t->pad_id = 0;
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
                int32_t id = clf_tokenizer_token_id(t, names[i]);

                if (id >= 0) {
                        t->pad_id = id;
                        return;
                }
        }
}

static int set_bert_normalizer(struct clf_tokenizer *t, bool clean, bool cjk, int strip, bool lower) {
        if (t->n_norm + 5 > MAX_NORM)
                return -EOPNOTSUPP;
        if (clean)
                t->norm[t->n_norm++] = NS_CLEAN;
        if (cjk)
                t->norm[t->n_norm++] = NS_CJK;
        if (strip < 0 ? lower : strip) {
                t->norm[t->n_norm++] = NS_NFD;
                t->norm[t->n_norm++] = NS_STRIP_MN;
        }
        if (lower)
                t->norm[t->n_norm++] = NS_LOWER;
        return 0;
}

int clf_tokenizer_load_vocab_txt(const char *path, const struct clf_wordpiece_opts *opts,
                                 struct clf_tokenizer **ret_tok) {
        static const char *specials[] = { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
        struct clf_tokenizer *t = NULL;
        char *buf = NULL;
        size_t len, line = 0;
        int32_t cls, sep;
        int r;

        if ((r = sy_read_file(path, CLF_TOKENIZER_MAX_FILE, &buf, &len)) < 0)
                return r;
        t = calloc(1, sizeof *t);
        if (!t) {
                r = -ENOMEM;
                goto fail;
        }
        if ((r = clf_vocab_new(&t->vocab)) < 0)
                goto fail;
        for (size_t p = 0; p < len; line++) {
                char *nl = memchr(buf + p, '\n', len - p);
                size_t e = nl ? (size_t)(nl - buf) : len, l = e - p;

                if (l > 0 && buf[p + l - 1] == '\r')
                        l--;
                if (!nl && l == 0)
                        break;
                if ((r = clf_vocab_add(t->vocab, buf + p, l, (int32_t)line)) < 0)
                        goto fail;
                p = e + 1;
        }
        t->model = MK_WORDPIECE;
        t->wp.vocab = t->vocab;
        t->wp.unk_id = clf_vocab_find(t->vocab, "[UNK]", 5);
        memcpy(t->wp.prefix, "##", 2);
        t->wp.prefix_len = 2;
        t->wp.max_chars = 100;
        if (t->wp.unk_id < 0) {
                r = -EBADMSG;
                goto fail;
        }
        r = set_bert_normalizer(t, true, opts ? opts->chinese_chars != 0 : true, opts ? opts->strip_accents : -1,
                                opts ? opts->lowercase != 0 : true);
        if (r < 0)
                goto fail;
        t->pre = PT_BERT;
        for (size_t i = 0; i < sizeof specials / sizeof *specials; i++) {
                int32_t id = clf_vocab_find(t->vocab, specials[i], strlen(specials[i]));

                if (id >= 0 &&
                    (r = add_added(t, specials[i], strlen(specials[i]), id, false, false, false, false, true)) < 0)
                        goto fail;
        }
        cls = clf_vocab_find(t->vocab, "[CLS]", 5);
        sep = clf_vocab_find(t->vocab, "[SEP]", 5);
        if (cls >= 0)
                t->prefix[t->n_prefix++] = cls;
        if (sep >= 0)
                t->suffix[t->n_suffix++] = sep;
        find_pad(t);
        free(buf);
        log_debug("classifier: vocab.txt %s: %zu tokens", path, clf_vocab_size(t->vocab));
        *ret_tok = t;
        return 0;
fail:
        free(buf);
        clf_tokenizer_free(t);
        return r;
}

/* ---- tokenizer.json ---- */

static bool type_is(const char *obj, size_t len, const char *type) {
        struct json_member m;
        char buf[64];

        if (clf_json_get(obj, len, "type", &m) <= 0 || m.type != JSON_STRING)
                return false;
        int n = json_string_decode(m.val, m.val_len, buf, sizeof buf - 1);
        if (n < 0)
                return false;
        buf[n] = 0;
        return strcmp(buf, type) == 0;
}

/* optional bool member, default when absent or null */
static int get_bool(const char *obj, size_t len, const char *key, int dflt) {
        struct json_member m;
        bool v;
        int r = clf_json_get(obj, len, key, &m);

        if (r <= 0 || m.type == JSON_NULL)
                return dflt;
        if (clf_json_bool(&m, &v) < 0)
                return dflt;
        return v;
}

static int parse_normalizer(struct clf_tokenizer *t, const struct json_member *nm, unsigned depth) {
        const char *o = nm->val;
        size_t l = nm->val_len;

        if (nm->type == JSON_NULL)
                return 0;
        if (nm->type != JSON_OBJECT || depth > 4)
                return -EBADMSG;
        if (type_is(o, l, "BertNormalizer"))
                return set_bert_normalizer(t, get_bool(o, l, "clean_text", 1),
                                           get_bool(o, l, "handle_chinese_chars", 1),
                                           get_bool(o, l, "strip_accents", -1), get_bool(o, l, "lowercase", 1));
        if (type_is(o, l, "Sequence")) {
                struct json_member arr, el;
                size_t it = 0;
                int r;

                if (clf_json_get(o, l, "normalizers", &arr) <= 0 || arr.type != JSON_ARRAY)
                        return -EBADMSG;
                while ((r = json_iter(arr.val, arr.val_len, &it, &el)) > 0)
                        if ((r = parse_normalizer(t, &el, depth + 1)) < 0)
                                return r;
                return r;
        }
        if (t->n_norm >= MAX_NORM)
                return -EOPNOTSUPP;
        if (type_is(o, l, "Lowercase")) {
                t->norm[t->n_norm++] = NS_LOWER;
                return 0;
        }
        if (type_is(o, l, "NFD")) {
                t->norm[t->n_norm++] = NS_NFD;
                return 0;
        }
        if (type_is(o, l, "NFC")) {
                t->norm[t->n_norm++] = NS_NFC;
                return 0;
        }
        if (type_is(o, l, "StripAccents")) {
                t->norm[t->n_norm++] = NS_STRIP_MN;
                return 0;
        }
        log_debug("classifier: tokenizer.json: unsupported normalizer %.*s", (int)(l < 80 ? l : 80), o);
        return -EOPNOTSUPP;
}

static int parse_pretokenizer(struct clf_tokenizer *t, const struct json_member *pm, unsigned depth) {
        const char *o = pm->val;
        size_t l = pm->val_len;

        if (pm->type == JSON_NULL)
                return 0;
        if (pm->type != JSON_OBJECT || depth > 4)
                return -EBADMSG;
        if (type_is(o, l, "Sequence")) {
                struct json_member arr, el;
                size_t it = 0;
                int r;

                if (clf_json_get(o, l, "pretokenizers", &arr) <= 0 || arr.type != JSON_ARRAY)
                        return -EBADMSG;
                while ((r = json_iter(arr.val, arr.val_len, &it, &el)) > 0) {
                        if (t->pre != PT_NONE)
                                return -EOPNOTSUPP; /* one pre-tokenizer at most */
                        if ((r = parse_pretokenizer(t, &el, depth + 1)) < 0)
                                return r;
                }
                return r;
        }
        if (type_is(o, l, "BertPreTokenizer")) {
                t->pre = PT_BERT;
                return 0;
        }
        if (type_is(o, l, "ByteLevel")) {
                t->pre = PT_BYTELEVEL;
                t->add_prefix_space = get_bool(o, l, "add_prefix_space", 1);
                t->use_regex = get_bool(o, l, "use_regex", 1);
                return 0;
        }
        log_debug("classifier: tokenizer.json: unsupported pre_tokenizer %.*s", (int)(l < 80 ? l : 80), o);
        return -EOPNOTSUPP;
}

/* ["[SEP]", 102] -> id */
static int pair_id(const char *o, size_t l, const char *key, int32_t *ret_id) {
        struct json_member arr, el;
        size_t it = 0;
        int64_t v;
        int r;

        if (clf_json_get(o, l, key, &arr) <= 0 || arr.type != JSON_ARRAY)
                return -EBADMSG;
        for (int k = 0; k < 2; k++)
                if ((r = json_iter(arr.val, arr.val_len, &it, &el)) <= 0)
                        return -EBADMSG;
        if (clf_json_int64(&el, &v) < 0 || v < 0 || v > CLF_VOCAB_MAX_ID)
                return -EBADMSG;
        *ret_id = (int32_t)v;
        return 0;
}

static int template_special(struct clf_tokenizer *t, const char *o, size_t l, const struct json_member *item,
                            bool after) {
        struct json_member st, idm, specials, entry, ids, el;
        char *name = NULL;
        size_t it = 0;
        int r;

        if ((r = clf_json_get(item->val, item->val_len, "SpecialToken", &st)) <= 0)
                return r < 0 ? r : -EBADMSG;
        if (clf_json_get(st.val, st.val_len, "id", &idm) <= 0 || (r = clf_json_strdup(&idm, &name)) < 0)
                return -EBADMSG;
        r = -EBADMSG;
        if (clf_json_get(o, l, "special_tokens", &specials) <= 0 || specials.type != JSON_OBJECT)
                goto out;
        if (clf_json_get(specials.val, specials.val_len, name, &entry) <= 0 || entry.type != JSON_OBJECT)
                goto out;
        if (clf_json_get(entry.val, entry.val_len, "ids", &ids) <= 0 || ids.type != JSON_ARRAY)
                goto out;
        while ((r = json_iter(ids.val, ids.val_len, &it, &el)) > 0) {
                int64_t v;

                if (clf_json_int64(&el, &v) < 0 || v < 0 || v > CLF_VOCAB_MAX_ID) {
                        r = -EBADMSG;
                        goto out;
                }
                if ((after ? t->n_suffix : t->n_prefix) >= MAX_SPECIAL) {
                        r = -EOPNOTSUPP;
                        goto out;
                }
                if (after)
                        t->suffix[t->n_suffix++] = (int32_t)v;
                else
                        t->prefix[t->n_prefix++] = (int32_t)v;
        }
out:
        free(name);
        return r;
}

static int parse_postprocessor(struct clf_tokenizer *t, const struct json_member *pm, unsigned depth) {
        const char *o = pm->val;
        size_t l = pm->val_len;
        int r;

        if (pm->type == JSON_NULL)
                return 0;
        if (pm->type != JSON_OBJECT || depth > 4)
                return -EBADMSG;
        if (type_is(o, l, "TemplateProcessing")) {
                struct json_member single, item;
                size_t it = 0;
                bool after = false;

                if (clf_json_get(o, l, "single", &single) <= 0 || single.type != JSON_ARRAY)
                        return -EBADMSG;
                while ((r = json_iter(single.val, single.val_len, &it, &item)) > 0) {
                        struct json_member x;

                        if (item.type != JSON_OBJECT)
                                return -EBADMSG;
                        if (clf_json_get(item.val, item.val_len, "Sequence", &x) > 0) {
                                after = true;
                                continue;
                        }
                        if ((r = template_special(t, o, l, &item, after)) < 0)
                                return r;
                }
                return r;
        }
        if (type_is(o, l, "BertProcessing") || type_is(o, l, "RobertaProcessing")) {
                int32_t cls, sep;

                if ((r = pair_id(o, l, "cls", &cls)) < 0 || (r = pair_id(o, l, "sep", &sep)) < 0)
                        return r;
                if (t->n_prefix >= MAX_SPECIAL || t->n_suffix >= MAX_SPECIAL)
                        return -EOPNOTSUPP;
                t->prefix[t->n_prefix++] = cls;
                t->suffix[t->n_suffix++] = sep;
                return 0;
        }
        if (type_is(o, l, "ByteLevel"))
                return 0; /* offsets only */
        if (type_is(o, l, "Sequence")) {
                struct json_member arr, el;
                size_t it = 0;

                if (clf_json_get(o, l, "processors", &arr) <= 0 || arr.type != JSON_ARRAY)
                        return -EBADMSG;
                while ((r = json_iter(arr.val, arr.val_len, &it, &el)) > 0)
                        if ((r = parse_postprocessor(t, &el, depth + 1)) < 0)
                                return r;
                return r;
        }
        log_debug("classifier: tokenizer.json: unsupported post_processor %.*s", (int)(l < 80 ? l : 80), o);
        return -EOPNOTSUPP;
}

static int parse_vocab(struct clf_tokenizer *t, const char *o, size_t l) {
        struct json_member vm, el;
        size_t it = 0;
        char *key = NULL;
        int r;

        if (clf_json_get(o, l, "vocab", &vm) <= 0 || vm.type != JSON_OBJECT)
                return -EBADMSG;
        key = malloc(vm.val_len + 1);
        if (!key)
                return -ENOMEM;
        while ((r = json_iter(vm.val, vm.val_len, &it, &el)) > 0) {
                int64_t id;
                int n = clf_json_key(&el, key, vm.val_len + 1);

                if (n < 0 || clf_json_int64(&el, &id) < 0 || id < 0 || id > CLF_VOCAB_MAX_ID) {
                        r = -EBADMSG;
                        break;
                }
                if ((r = clf_vocab_add(t->vocab, key, (size_t)n, (int32_t)id)) < 0)
                        break;
        }
        free(key);
        return r;
}

/* optional string member ("" when absent or null) */
static int get_str(const char *o, size_t l, const char *key, char **ret) {
        struct json_member m;
        int r = clf_json_get(o, l, key, &m);

        if (r < 0)
                return r;
        if (r == 0 || m.type == JSON_NULL) {
                *ret = strdup("");
                return *ret ? 0 : -ENOMEM;
        }
        return clf_json_strdup(&m, ret);
}

static int parse_model(struct clf_tokenizer *t, const struct json_member *mm) {
        const char *o = mm->val;
        size_t l = mm->val_len;
        char *unk = NULL, *prefix = NULL, *suffix = NULL;
        int r;

        if (mm->type != JSON_OBJECT)
                return -EBADMSG;
        if ((r = parse_vocab(t, o, l)) < 0)
                return r;
        if ((r = get_str(o, l, "unk_token", &unk)) < 0)
                goto out;
        if (type_is(o, l, "WordPiece")) {
                struct json_member m;
                int64_t maxc = 100;

                t->model = MK_WORDPIECE;
                t->wp.vocab = t->vocab;
                t->wp.unk_id = clf_vocab_find(t->vocab, unk, strlen(unk));
                if ((r = get_str(o, l, "continuing_subword_prefix", &prefix)) < 0)
                        goto out;
                if (clf_json_get(o, l, "max_input_chars_per_word", &m) > 0 && clf_json_int64(&m, &maxc) < 0) {
                        r = -EBADMSG;
                        goto out;
                }
                if (t->wp.unk_id < 0 || strlen(prefix) >= sizeof t->wp.prefix || maxc < 1) {
                        r = -EBADMSG;
                        goto out;
                }
                strcpy(t->wp.prefix, prefix);
                t->wp.prefix_len = strlen(prefix);
                t->wp.max_chars = (size_t)maxc;
        } else if (type_is(o, l, "BPE")) {
                struct json_member merges, el;
                size_t it = 0;
                int32_t unk_id = -1;

                t->model = MK_BPE;
                if ((r = get_str(o, l, "continuing_subword_prefix", &prefix)) < 0 ||
                    (r = get_str(o, l, "end_of_word_suffix", &suffix)) < 0)
                        goto out;
                if (*prefix || *suffix || get_bool(o, l, "byte_fallback", 0)) {
                        r = -EOPNOTSUPP;
                        goto out;
                }
                if (*unk && (unk_id = clf_vocab_find(t->vocab, unk, strlen(unk))) < 0) {
                        r = -EBADMSG;
                        goto out;
                }
                r = clf_bpe_new(t->vocab, unk_id, get_bool(o, l, "fuse_unk", 0), get_bool(o, l, "ignore_merges", 0),
                                t->pre == PT_BYTELEVEL, &t->bpe);
                if (r < 0)
                        goto out;
                if (clf_json_get(o, l, "merges", &merges) <= 0 || merges.type != JSON_ARRAY) {
                        r = -EBADMSG;
                        goto out;
                }
                while ((r = json_iter(merges.val, merges.val_len, &it, &el)) > 0) {
                        char *a = NULL, *b = NULL, *sp;

                        if (el.type == JSON_STRING) {
                                /* "a b" */
                                if ((r = clf_json_strdup(&el, &a)) < 0)
                                        goto out;
                                sp = strchr(a, ' ');
                                if (!sp || strchr(sp + 1, ' ')) {
                                        free(a);
                                        r = -EBADMSG;
                                        goto out;
                                }
                                *sp = 0;
                                r = clf_bpe_add_merge(t->bpe, a, strlen(a), sp + 1, strlen(sp + 1));
                                free(a);
                        } else if (el.type == JSON_ARRAY) {
                                /* ["a", "b"] */
                                struct json_member x;
                                size_t it2 = 0;

                                if (json_iter(el.val, el.val_len, &it2, &x) <= 0 || clf_json_strdup(&x, &a) < 0) {
                                        r = -EBADMSG;
                                        goto out;
                                }
                                if (json_iter(el.val, el.val_len, &it2, &x) <= 0 || clf_json_strdup(&x, &b) < 0) {
                                        free(a);
                                        r = -EBADMSG;
                                        goto out;
                                }
                                r = clf_bpe_add_merge(t->bpe, a, strlen(a), b, strlen(b));
                                free(a);
                                free(b);
                        } else {
                                r = -EBADMSG;
                        }
                        if (r == -ENOENT) {
                                log_debug("classifier: tokenizer.json: merge of tokens not in the vocab");
                                r = -EBADMSG;
                        }
                        if (r < 0)
                                goto out;
                }
        } else {
                r = -EOPNOTSUPP;
        }
out:
        free(unk);
        free(prefix);
        free(suffix);
        return r;
}

static int parse_added(struct clf_tokenizer *t, const struct json_member *am) {
        struct json_member el;
        size_t it = 0;
        int r;

        if (am->type == JSON_NULL)
                return 0;
        if (am->type != JSON_ARRAY)
                return -EBADMSG;
        while ((r = json_iter(am->val, am->val_len, &it, &el)) > 0) {
                struct json_member idm, cm;
                const char *o = el.val;
                size_t l = el.val_len;
                char *content = NULL;
                int64_t id;
                int n;

                if (el.type != JSON_OBJECT || clf_json_get(o, l, "id", &idm) <= 0 || clf_json_int64(&idm, &id) < 0 ||
                    id < 0 || id > CLF_VOCAB_MAX_ID || clf_json_get(o, l, "content", &cm) <= 0)
                        return -EBADMSG;
                if ((n = clf_json_strdup(&cm, &content)) < 0)
                        return n;
                bool special = get_bool(o, l, "special", 0);
                r = add_added(t, content, (size_t)n, (int32_t)id, get_bool(o, l, "lstrip", 0),
                              get_bool(o, l, "rstrip", 0), get_bool(o, l, "single_word", 0),
                              get_bool(o, l, "normalized", !special), special);
                free(content);
                if (r < 0)
                        return r;
        }
        return r;
}

int clf_tokenizer_load_json(const char *path, struct clf_tokenizer **ret_tok) {
        struct json_limits lim = { .max_depth = 16, .max_members = 64 };
        struct json_member top[64];
        const struct json_member *m;
        struct clf_tokenizer *t = NULL;
        char *buf = NULL;
        size_t len, n, erroff = 0;
        int r;

        if ((r = sy_read_file(path, CLF_TOKENIZER_MAX_FILE, &buf, &len)) < 0)
                return r;
        if ((r = json_scan_object(buf, len, &lim, top, &n, &erroff)) < 0) {
                log_debug("classifier: %s: invalid JSON at byte %zu", path, erroff);
                r = r == -EPROTOTYPE ? -EBADMSG : r;
                goto fail;
        }
        t = calloc(1, sizeof *t);
        if (!t) {
                r = -ENOMEM;
                goto fail;
        }
        t->pad_id = 0;
        if ((r = clf_vocab_new(&t->vocab)) < 0)
                goto fail;
        r = -EBADMSG;
        if ((m = json_find(top, n, "normalizer")) && (r = parse_normalizer(t, m, 0)) < 0)
                goto fail;
        if ((m = json_find(top, n, "pre_tokenizer")) && (r = parse_pretokenizer(t, m, 0)) < 0)
                goto fail;
        if (!(m = json_find(top, n, "model"))) {
                r = -EBADMSG;
                goto fail;
        }
        if ((r = parse_model(t, m)) < 0)
                goto fail;
        if ((m = json_find(top, n, "added_tokens")) && (r = parse_added(t, m)) < 0)
                goto fail;
        if ((m = json_find(top, n, "post_processor")) && (r = parse_postprocessor(t, m, 0)) < 0)
                goto fail;
        find_pad(t);
        free(buf);
        log_debug("classifier: tokenizer.json %s: %zu tokens, %zu added", path, clf_vocab_size(t->vocab), t->n_added);
        *ret_tok = t;
        return 0;
fail:
        log_debug("classifier: %s: %s", path, strerror(-r));
        free(buf);
        clf_tokenizer_free(t);
        return r;
}

static int read_wordpiece_opts(const char *path, struct clf_wordpiece_opts *o) {
        struct json_limits lim = { .max_depth = 16, .max_members = 256 };
        struct json_member top[256];
        const struct json_member *m;
        char *buf;
        size_t len, n;
        bool v;
        int r;

        if ((r = sy_read_file(path, 16u << 20, &buf, &len)) < 0)
                return r == -ENOENT ? 0 : r;
        r = json_scan_object(buf, len, &lim, top, &n, NULL);
        if (r < 0) {
                free(buf);
                return r == -E2BIG ? -EOPNOTSUPP : -EBADMSG;
        }
        if ((m = json_find(top, n, "do_lower_case")) && clf_json_bool(m, &v) == 0)
                o->lowercase = v;
        if ((m = json_find(top, n, "strip_accents")) && clf_json_bool(m, &v) == 0)
                o->strip_accents = v;
        if ((m = json_find(top, n, "tokenize_chinese_chars")) && clf_json_bool(m, &v) == 0)
                o->chinese_chars = v;
        free(buf);
        return 0;
}

int clf_tokenizer_load(const char *dir, struct clf_tokenizer **ret_tok) {
        struct clf_wordpiece_opts o = { .lowercase = 1, .strip_accents = -1, .chinese_chars = 1 };
        char path[4096];
        int r;

        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        r = clf_tokenizer_load_json(path, ret_tok);
        if (r != -ENOENT && r != -EOPNOTSUPP)
                return r;
        if (r == -EOPNOTSUPP) {
                /* a BERT-family directory also has vocab.txt: BertTokenizer's way */
                snprintf(path, sizeof path, "%s/vocab.txt", dir);
                if (access(path, R_OK) < 0)
                        return -EOPNOTSUPP;
                log_debug("classifier: %s: tokenizer.json not supported, using vocab.txt", dir);
        }
        snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
        if ((r = read_wordpiece_opts(path, &o)) < 0)
                return r;
        snprintf(path, sizeof path, "%s/vocab.txt", dir);
        return clf_tokenizer_load_vocab_txt(path, &o, ret_tok);
}
