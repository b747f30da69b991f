/* BERT pre-tokenization and the WordPiece model (greedy longest match,
 * continuing pieces prefixed with "##", a word with an unknown piece or with
 * more than max_input_chars_per_word characters becomes [UNK]). */
#include "classifier/clf_tokenizer-internal.h"
#include "classifier/clf_unicode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool is_bert_punct(uint32_t cp) {
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
                return true;
        return cp >= 0x80 && clf_unicode_is_punct(cp);
}

int clf_bert_pretokenize(const struct clf_nstr *ns, size_t a, size_t b, int (*word)(void *ctx, size_t wa, size_t wb),
                         void *ctx) {
        size_t start = a, i = a;
        int r;

        while (i < b) {
                uint32_t cp;
                size_t n = clf_utf8_decode(ns->s + i, b - i, &cp);

                if (clf_unicode_is_white_space(cp) || is_bert_punct(cp)) {
                        if (start < i && (r = word(ctx, start, i)) < 0)
                                return r;
                        if (!clf_unicode_is_white_space(cp) && (r = word(ctx, i, i + n)) < 0)
                                return r;
                        start = i + n;
                }
                i += n;
        }
        if (start < b && (r = word(ctx, start, b)) < 0)
                return r;
        return 0;
}

int clf_wordpiece_word(const struct clf_wordpiece *wp, const struct clf_nstr *ns, size_t a, size_t b,
                       struct clf_encoding *e) {
        char stackbuf[1024], *buf = stackbuf;
        size_t n_chars = 0, n0 = e->n, start = a;
        int r = 0;

        for (size_t i = a; i < b; i++)
                n_chars += ((unsigned char)ns->s[i] & 0xc0) != 0x80;
        if (n_chars > wp->max_chars)
                return clf_encoding_push(e, wp->unk_id, ns->o0[a], ns->o1[b - 1]);
        if (wp->prefix_len + (b - a) > sizeof stackbuf) {
                buf = malloc(wp->prefix_len + (b - a));
                if (!buf)
                        return -ENOMEM;
        }
        memcpy(buf, wp->prefix, wp->prefix_len);
        while (start < b) {
                size_t end = b;
                int32_t id = -1;

                while (start < end) {
                        if (start == a) {
                                id = clf_vocab_find(wp->vocab, ns->s + start, end - start);
                        } else {
                                memcpy(buf + wp->prefix_len, ns->s + start, end - start);
                                id = clf_vocab_find(wp->vocab, buf, wp->prefix_len + end - start);
                        }
                        if (id >= 0)
                                break;
                        /* one character back */
                        do
                                end--;
                        while (end > start && ((unsigned char)ns->s[end] & 0xc0) == 0x80);
                }
                if (id < 0) {
                        e->n = n0; /* the whole word is unknown */
                        r = clf_encoding_push(e, wp->unk_id, ns->o0[a], ns->o1[b - 1]);
                        goto out;
                }
                if ((r = clf_encoding_push(e, id, ns->o0[start], ns->o1[end - 1])) < 0)
                        goto out;
                start = end;
        }
out:
        if (buf != stackbuf)
                free(buf);
        return r;
}
