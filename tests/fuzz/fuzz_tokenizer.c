/* libFuzzer target: tokenizing untrusted text (prompts) with the
 * tokenizers the classifier loads (classifier/clf_tokenizer.c and the
 * WordPiece / BPE models under it): models/default's vocab.txt
 * (WordPiece), a tokenizer.json WordPiece (DistilBERT) and a ByteLevel BPE
 * one (ModernBERT), from tests/classifier/data.
 *
 * Input: byte 0 picks the tokenizer (% 3), the truncation policy
 * ((>> 2) % 3) and max_len (8 + (>> 4)); the rest is the text.
 *
 * Checks: ids inside the vocabulary; offsets inside the text, start <=
 * end, in order; encode_model gives at most max_len tokens, and its
 * content tokens are exactly what the policy keeps of encode's (the
 * windowed tokenizing of long texts must not change the result). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "classifier/clf_tokenizer.h"
#include "common/log.h"
#include "fuzz_common.h"

static struct clf_tokenizer *toks[3];

static void load(void) {
        static const char *const paths[3] = {
                FUZZ_SRCDIR "/models/default",
                FUZZ_SRCDIR "/tests/classifier/data/distilbert-tok-f32/tokenizer.json",
                FUZZ_SRCDIR "/tests/classifier/data/modernbert-tok-bf16/tokenizer.json",
        };
        for (int i = 0; i < 3; i++) {
                int r = i == 0 ? clf_tokenizer_load(paths[i], &toks[i]) : clf_tokenizer_load_json(paths[i], &toks[i]);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", paths[i], strerror(-r));
                        abort();
                }
        }
}

static void check_enc(const struct clf_tokenizer *t, const struct clf_encoding *e, size_t len, bool specials) {
        size_t vs = clf_tokenizer_vocab_size(t);
        uint32_t last = 0;

        for (size_t i = 0; i < e->n; i++) {
                FUZZ_CHECK(e->ids[i] >= 0 && (size_t)e->ids[i] < vs);
                FUZZ_CHECK(e->start[i] <= e->end[i] && e->end[i] <= len);
                if (specials && e->start[i] == 0 && e->end[i] == 0)
                        continue;
                FUZZ_CHECK(e->start[i] >= last);
                last = e->start[i];
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct clf_encoding all, e;
        const struct clf_tokenizer *t;
        enum clf_truncate pol;
        size_t max_len, ns, b, keep, len;
        char *text;

        if (size < 1)
                return 0;
        if (!toks[0]) {
                sy_log_level = -1;
                load();
        }
        t = toks[data[0] % 3];
        pol = (enum clf_truncate)((data[0] >> 2) % 3);
        max_len = 8 + (data[0] >> 4);
        len = size - 1;
        text = malloc(len ? len : 1);
        memcpy(text, data + 1, len);
        clf_encoding_init(&all);
        clf_encoding_init(&e);

        FUZZ_CHECK(clf_tokenizer_encode(t, text, len, &all) == 0);
        check_enc(t, &all, len, false);
        FUZZ_CHECK(clf_tokenizer_encode_model(t, text, len, max_len, pol, &e) == 0);
        check_enc(t, &e, len, true);
        ns = clf_tokenizer_n_special(t);
        FUZZ_CHECK(ns < max_len && e.n <= max_len);
        b = max_len - ns;
        keep = all.n < b ? all.n : b;
        FUZZ_CHECK(e.n == keep + ns);
        if (ns == 2) { /* [CLS] content [SEP] */
                const int32_t *c = e.ids + 1;
                size_t head = pol == CLF_TRUNC_HEAD ? keep : pol == CLF_TRUNC_TAIL ? 0 : (keep + 1) / 2;
                FUZZ_CHECK(!head || memcmp(c, all.ids, head * sizeof *c) == 0);
                FUZZ_CHECK(keep == head ||
                           memcmp(c + head, all.ids + all.n - (keep - head), (keep - head) * sizeof *c) == 0);
        }
        clf_encoding_free(&all);
        clf_encoding_free(&e);
        free(text);
        return 0;
}
