/* Tokenizers against the ids of the Python references (tools/classifier/
 * ref.py): BERT WordPiece from vocab.txt (uncased), WordPiece from
 * tokenizer.json (cased), byte-level BPE from tokenizer.json (ModernBERT
 * layout), the same with an NFC normalizer. Then offsets, special tokens, truncation policies, hostile
 * input. Argument: tests/classifier/data. */
#include <stdbool.h>
#include <time.h>

#include "classifier/clf_tokenizer.h"
#include "clf-test.h"

static const char *data;

static struct clf_tokenizer *load(const char *name) {
        struct clf_tokenizer *t = NULL;
        char path[512];
        int r;

        snprintf(path, sizeof path, "%s/%s", data, name);
        r = clf_tokenizer_load(path, &t);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                exit(1);
        }
        return t;
}

static void golden_ids(const char *file, bool contiguous) {
        struct clf_tokenizer *t;
        struct clf_encoding e;
        struct golden g;
        char path[512];
        size_t bad = 0;

        snprintf(path, sizeof path, "%s/%s", data, file);
        golden_load(path, &g);
        t = load(g.dir);
        clf_encoding_init(&e);
        for (size_t i = 0; i < g.n; i++) {
                const struct golden_case *c = &g.c[i];
                bool same;

                check_eq(clf_tokenizer_encode(t, c->text, c->text_len, &e), 0);
                same = e.n == c->n_ids && memcmp(e.ids, c->ids, e.n * sizeof *e.ids) == 0;
                if (!same) {
                        bad++;
                        fprintf(stderr, "%s: case %zu \"%s\":\n  want", file, i, c->text);
                        for (size_t k = 0; k < c->n_ids; k++)
                                fprintf(stderr, " %d", c->ids[k]);
                        fprintf(stderr, "\n  got ");
                        for (size_t k = 0; k < e.n; k++)
                                fprintf(stderr, " %d", e.ids[k]);
                        fprintf(stderr, "\n");
                }
                /* offsets: inside the text, in order; byte-level BPE with no
                 * normalizer covers every byte exactly once */
                for (size_t k = 0; k < e.n; k++) {
                        check(e.start[k] <= e.end[k] && e.end[k] <= c->text_len);
                        if (k)
                                check(e.start[k] >= e.start[k - 1]);
                        if (contiguous)
                                check_eq(e.start[k], k ? e.end[k - 1] : 0);
                }
                if (contiguous)
                        check_eq(e.n ? e.end[e.n - 1] : 0, c->text_len);
        }
        printf("%s: %zu texts, %zu mismatches\n", file, g.n, bad);
        check_eq(bad, 0);
        clf_encoding_free(&e);
        clf_tokenizer_free(t);
        golden_free(&g);
}

static void specials_and_truncation(void) {
        struct clf_tokenizer *t = load("bert-seq-f32");
        struct clf_encoding all, e;
        const char *text = "the quick brown fox jumps over the lazy dog and the quick brown fox jumps again";
        int32_t cls = clf_tokenizer_token_id(t, "[CLS]"), sep = clf_tokenizer_token_id(t, "[SEP]");
        size_t n;

        clf_encoding_init(&all);
        clf_encoding_init(&e);
        check(cls >= 0 && sep >= 0);
        check_eq(clf_tokenizer_pad_id(t), clf_tokenizer_token_id(t, "[PAD]"));
        check_eq(clf_tokenizer_n_special(t), 2);
        check_eq(clf_tokenizer_encode(t, text, strlen(text), &all), 0);
        n = all.n;
        check(n > 12);

        /* fits: [CLS] content [SEP] */
        check_eq(clf_tokenizer_encode_model(t, text, strlen(text), 512, CLF_TRUNC_HEAD_TAIL, &e), 0);
        check_eq(e.n, n + 2);
        check(e.ids[0] == cls && e.ids[n + 1] == sep);
        check(memcmp(e.ids + 1, all.ids, n * sizeof *e.ids) == 0);
        check(e.start[0] == 0 && e.end[0] == 0);

        /* head + tail: budget 8 -> first 4 and last 4 */
        check_eq(clf_tokenizer_encode_model(t, text, strlen(text), 10, CLF_TRUNC_HEAD_TAIL, &e), 0);
        check_eq(e.n, 10);
        check(e.ids[0] == cls && e.ids[9] == sep);
        check(memcmp(e.ids + 1, all.ids, 4 * sizeof *e.ids) == 0);
        check(memcmp(e.ids + 5, all.ids + n - 4, 4 * sizeof *e.ids) == 0);
        check_eq(e.start[5], all.start[n - 4]);
        /* odd budget: the head gets the extra token */
        check_eq(clf_tokenizer_encode_model(t, text, strlen(text), 9, CLF_TRUNC_HEAD_TAIL, &e), 0);
        check(memcmp(e.ids + 1, all.ids, 4 * sizeof *e.ids) == 0);
        check(memcmp(e.ids + 5, all.ids + n - 3, 3 * sizeof *e.ids) == 0);
        /* head / tail */
        check_eq(clf_tokenizer_encode_model(t, text, strlen(text), 10, CLF_TRUNC_HEAD, &e), 0);
        check(memcmp(e.ids + 1, all.ids, 8 * sizeof *e.ids) == 0);
        check_eq(clf_tokenizer_encode_model(t, text, strlen(text), 10, CLF_TRUNC_TAIL, &e), 0);
        check(memcmp(e.ids + 1, all.ids + n - 8, 8 * sizeof *e.ids) == 0);
        check_eq(e.ids[9], sep);
        /* budget of one */
        check_eq(clf_tokenizer_encode_model(t, text, strlen(text), 3, CLF_TRUNC_HEAD_TAIL, &e), 0);
        check(e.n == 3 && e.ids[1] == all.ids[0]);
        check_eq(clf_tokenizer_encode_model(t, text, strlen(text), 2, CLF_TRUNC_HEAD_TAIL, &e), -EINVAL);
        /* empty text */
        check_eq(clf_tokenizer_encode_model(t, "", 0, 16, CLF_TRUNC_HEAD_TAIL, &e), 0);
        check(e.n == 2 && e.ids[0] == cls && e.ids[1] == sep);
        clf_encoding_free(&all);
        clf_encoding_free(&e);
        clf_tokenizer_free(t);

        /* the BPE template */
        t = load("modernbert-seq-f32");
        clf_encoding_init(&e);
        check_eq(clf_tokenizer_encode_model(t, "Hi", 2, 8, CLF_TRUNC_HEAD_TAIL, &e), 0);
        check_eq(e.ids[0], clf_tokenizer_token_id(t, "[CLS]"));
        check_eq(e.ids[e.n - 1], clf_tokenizer_token_id(t, "[SEP]"));
        check_eq(clf_tokenizer_pad_id(t), clf_tokenizer_token_id(t, "[PAD]"));
        check(strcmp(clf_tokenizer_id_token(t, clf_tokenizer_token_id(t, "[MASK]")), "[MASK]") == 0);
        clf_encoding_free(&e);
        clf_tokenizer_free(t);
        printf("specials and truncation: ok\n");
}

/* random bytes, invalid UTF-8, a long paste: no crash, sane output */
static void hostile(void) {
        static const char *dirs[] = { "bert-seq-f32", "distilbert-tok-f32", "modernbert-seq-f32" };
        size_t big = 1u << 20;
        char *buf = malloc(big);
        uint64_t s = 88172645463325252ull;

        check(buf);
        for (size_t d = 0; d < 3; d++) {
                struct clf_tokenizer *t = load(dirs[d]);
                struct clf_encoding e;
                size_t vs = clf_tokenizer_vocab_size(t);
                struct timespec t0, t1;

                clf_encoding_init(&e);
                for (int round = 0; round < 200; round++) {
                        size_t len = (size_t)(s % 300);

                        for (size_t i = 0; i < len; i++) {
                                s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                                buf[i] = round % 2 ? (char)s : "ab \t[]#'\xc3\xa9\xe4\xb8\xad\x80"[s % 14];
                        }
                        check_eq(clf_tokenizer_encode_model(t, buf, len, 64, CLF_TRUNC_HEAD_TAIL, &e), 0);
                        check(e.n >= 2 && e.n <= 64);
                        for (size_t k = 0; k < e.n; k++)
                                check(e.ids[k] >= 0 && (size_t)e.ids[k] < vs && e.end[k] <= len);
                }
                /* 1 MiB paste */
                for (size_t i = 0; i < big; i++)
                        buf[i] = "lorem ipsum dolor sit amet, consectetur 123 "[i % 44];
                clock_gettime(CLOCK_MONOTONIC, &t0);
                check_eq(clf_tokenizer_encode_model(t, buf, big, 512, CLF_TRUNC_HEAD_TAIL, &e), 0);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                check_eq(e.n, 512);
                printf("%s: 1 MiB text tokenized in %.1f ms\n", dirs[d],
                       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
                clf_encoding_free(&e);
                clf_tokenizer_free(t);
        }
        free(buf);
}

/* the windowed tokenization of long texts equals tokenizing it all */
static void long_windows(void) {
        static const char *dirs[] = { "bert-seq-f32", "distilbert-tok-f32", "modernbert-seq-f32" };
        static const char *words[] = { "Café", "naïve", "  ",   "fox",  "jumps", "[MASK]", "'s",     "我爱", "\n\n",
                                       "x=1;", "\t",    "über", "dog.", "😀",     "1234",   "e-mail", "   ",  "ok" };
        size_t len = 300000;
        char *buf = malloc(len + 16);
        uint64_t s = 0x9e3779b97f4a7c15ull;
        size_t n = 0;

        check(buf);
        while (n < len) {
                const char *w;

                s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                w = words[s % 18];
                memcpy(buf + n, w, strlen(w));
                n += strlen(w);
                if (s % 3)
                        buf[n++] = ' ';
        }
        for (size_t d = 0; d < 3; d++) {
                struct clf_tokenizer *t = load(dirs[d]);
                struct clf_encoding all, e;
                size_t ns = clf_tokenizer_n_special(t), pre = ns / 2;

                clf_encoding_init(&all);
                clf_encoding_init(&e);
                check_eq(clf_tokenizer_encode(t, buf, n, &all), 0);
                for (int policy = 0; policy < 3; policy++)
                        for (size_t max_len = 8; max_len <= 512; max_len *= 4) {
                                size_t b = max_len - ns, kh, kt;

                                kh = policy == CLF_TRUNC_HEAD ? b : policy == CLF_TRUNC_TAIL ? 0 : (b + 1) / 2;
                                kt = b - kh;
                                check_eq(clf_tokenizer_encode_model(t, buf, n, max_len, (enum clf_truncate)policy, &e),
                                         0);
                                check_eq(e.n, max_len);
                                check(memcmp(e.ids + pre, all.ids, kh * sizeof *e.ids) == 0);
                                check(memcmp(e.start + pre, all.start, kh * sizeof *e.start) == 0);
                                check(memcmp(e.ids + pre + kh, all.ids + all.n - kt, kt * sizeof *e.ids) == 0);
                                check(memcmp(e.end + pre + kh, all.end + all.n - kt, kt * sizeof *e.end) == 0);
                        }
                printf("%s: windowed truncation of a %zu-byte text (%zu tokens) = full: ok\n", dirs[d], n, all.n);
                clf_encoding_free(&all);
                clf_encoding_free(&e);
                clf_tokenizer_free(t);
        }
        free(buf);
}

static void errors(void) {
        struct clf_tokenizer *t = NULL;
        char path[512];

        check_eq(clf_tokenizer_load("/nonexistent-dir", &t), -ENOENT);
        snprintf(path, sizeof path, "%s/bert-seq-f32/config.json", data);
        check_eq(clf_tokenizer_load_json(path, &t), -EBADMSG); /* JSON, but no model */
        snprintf(path, sizeof path, "%s/tokenizer-bpe.golden", data);
        check_eq(clf_tokenizer_load_json(path, &t), -EBADMSG); /* not JSON */
        check(t == NULL);
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
                return 2;
        }
        data = argv[1];
        golden_ids("tokenizer-wordpiece-uncased.golden", false);
        golden_ids("tokenizer-wordpiece-cased.golden", false);
        golden_ids("tokenizer-bpe.golden", true);
        golden_ids("tokenizer-bpe-nfc.golden", false);
        specials_and_truncation();
        hostile();
        long_windows();
        errors();
        return 0;
}
