/* libFuzzer target: the tokenizer loaders (classifier/clf_tokenizer.c,
 * clf_vocab.c, clf_json.c): tokenizer.json, or vocab.txt with
 * tokenizer_config.json options, from untrusted bytes (a model directory
 * is downloaded).
 *
 * Input: byte 0 bit 0: the rest is a vocab.txt (options from bits 1-3);
 * else a tokenizer.json. Checks: a load fails with the documented codes or
 * gives a tokenizer that encodes a fixed text into ids of its vocabulary,
 * offsets inside the text; a token's id is in the vocabulary and names a
 * token. */
#include <errno.h>
#include <string.h>

#include "classifier/clf_tokenizer.h"
#include "common/log.h"
#include "fuzz_file.h"

static const char sample[] = "Hello, World! naïve café 東京 x\xff\xfe 12345 <mask> [SEP] don't";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct clf_tokenizer *t = NULL;
        char path[64];
        int fd, r;

        if (size < 1)
                return 0;
        sy_log_level = -1;
        fd = fuzz_file(data + 1, size - 1, path, sizeof path);
        if (data[0] & 1) {
                struct clf_wordpiece_opts o = { .lowercase = (data[0] >> 1) & 1,
                                                .strip_accents = (data[0] & 4) ? -1 : (data[0] >> 3) & 1,
                                                .chinese_chars = (data[0] >> 4) & 1 };
                r = clf_tokenizer_load_vocab_txt(path, &o, &t);
        } else {
                r = clf_tokenizer_load_json(path, &t);
        }
        close(fd);
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EOPNOTSUPP || r == -ENOENT || r == -EINVAL || r == -E2BIG);
        if (r < 0)
                return 0;
        struct clf_encoding e;
        size_t vs = clf_tokenizer_vocab_size(t);
        clf_encoding_init(&e);
        if (clf_tokenizer_encode(t, sample, sizeof sample - 1, &e) == 0)
                for (size_t i = 0; i < e.n; i++) {
                        FUZZ_CHECK(e.ids[i] >= 0 && (size_t)e.ids[i] < vs);
                        FUZZ_CHECK(e.start[i] <= e.end[i] && e.end[i] <= sizeof sample - 1);
                }
        if (clf_tokenizer_encode_model(t, sample, sizeof sample - 1, 16, CLF_TRUNC_HEAD_TAIL, &e) == 0)
                FUZZ_CHECK(e.n <= 16);
        for (size_t id = 0; id < vs && id < 4096; id++) {
                /* a token's id names a token (not necessarily the same one:
                 * a file may give two tokens one id, the last one wins) */
                const char *s = clf_tokenizer_id_token(t, (int32_t)id);
                int32_t back = s ? clf_tokenizer_token_id(t, s) : -1;
                if (back >= 0)
                        FUZZ_CHECK((size_t)back < vs && clf_tokenizer_id_token(t, back));
        }
        clf_encoding_free(&e);
        clf_tokenizer_free(t);
        return 0;
}
