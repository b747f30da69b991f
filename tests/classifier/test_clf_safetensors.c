/* safetensors: a good file with F32/F16/BF16 tensors, then malformed
 * headers (truncated file, header length beyond the file, invalid JSON,
 * wrong dtype, shape/offsets mismatch, offsets out of range, overlaps,
 * duplicates), and a model directory whose checkpoint lacks tensors or has
 * misshapen ones. Argument: tests/classifier/data. */
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "classifier/clf_model.h"
#include "classifier/clf_safetensors.h"
#include "clf-test.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) {
        static char p[512];

        snprintf(p, sizeof p, "%s/%s", tmpdir, name);
        return p;
}

/* writes [u64 header length][header padded with spaces][data] */
static void write_st(const char *path, const char *header, const void *data, size_t data_len, long long hlen_override) {
        FILE *f = fopen(path, "wb");
        size_t hl = strlen(header), pad = (8 - hl % 8) % 8;
        unsigned long long n = hlen_override >= 0 ? (unsigned long long)hlen_override : hl + pad;
        unsigned char le[8];

        check(f);
        for (int i = 0; i < 8; i++)
                le[i] = (unsigned char)(n >> (8 * i));
        check(fwrite(le, 1, 8, f) == 8);
        check(fwrite(header, 1, hl, f) == hl);
        for (size_t i = 0; i < pad; i++)
                fputc(' ', f);
        if (data_len)
                check(fwrite(data, 1, data_len, f) == data_len);
        fclose(f);
}

static int open_st(const char *header, const void *data, size_t data_len) {
        struct clf_safetensors *st = NULL;
        int r;

        write_st(tmp_path("t.safetensors"), header, data, data_len, -1);
        r = clf_safetensors_open(tmp_path("t.safetensors"), &st);
        clf_safetensors_close(st);
        return r;
}

static void good(void) {
        /* a: F32 [2,2]; b: F16 [5]; c: BF16 [2]; d: I64 [1] */
        unsigned char data[16 + 10 + 4 + 8];
        float a[4] = { 1.5f, -2.0f, 0.0f, 3.25f }, out[5];
        uint16_t b[5] = { 0x3c00, 0xc100, 0x7bff, 0x0001, 0x7c00 }; /* 1, -2.5, 65504, 2^-24, inf */
        uint16_t c[2] = { 0x3f80, 0xc049 };                         /* 1, -3.140625 */
        long long d = 7;
        struct clf_safetensors *st;
        const struct clf_st_tensor *t;
        const char *h = "{\"__metadata__\":{\"format\":\"pt\"},"
                        "\"b\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[16,26]},"
                        "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                        "\"c\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[26,30]},"
                        "\"d\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[30,38]},"
                        "\"e\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[38,38]}}";

        memcpy(data, a, 16);
        memcpy(data + 16, b, 10);
        memcpy(data + 26, c, 4);
        memcpy(data + 30, &d, 8);
        write_st(tmp_path("good.safetensors"), h, data, sizeof data, -1);
        check_eq(clf_safetensors_open(tmp_path("good.safetensors"), &st), 0);
        check_eq(clf_safetensors_count(st), 5);
        t = clf_safetensors_find(st, "a");
        check(t && t->dtype == CLF_DTYPE_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 2 && t->numel == 4);
        check_eq(clf_safetensors_to_f32(t, out, 4), 0);
        check(memcmp(out, a, 16) == 0);
        check_eq(clf_safetensors_to_f32(t, out, 3), -EINVAL);
        t = clf_safetensors_find(st, "b");
        check(t && t->dtype == CLF_DTYPE_F16);
        check_eq(clf_safetensors_to_f32(t, out, 5), 0);
        check(out[0] == 1.0f && out[1] == -2.5f && out[2] == 65504.0f && out[3] == ldexpf(1.0f, -24) && isinf(out[4]));
        t = clf_safetensors_find(st, "c");
        check_eq(clf_safetensors_to_f32(t, out, 2), 0);
        check(out[0] == 1.0f && out[1] == -3.140625f);
        t = clf_safetensors_find(st, "d");
        check_eq(clf_safetensors_to_f32(t, out, 1), -EOPNOTSUPP);
        t = clf_safetensors_find(st, "e");
        check(t && t->numel == 0);
        check(clf_safetensors_find(st, "__metadata__") == NULL);
        check(clf_safetensors_find(st, "zz") == NULL);
        clf_safetensors_close(st);
        printf("good file: ok\n");
}

static void malformed(void) {
        unsigned char data[64] = { 0 };
        struct clf_safetensors *st = NULL;
        static const struct {
                const char *what, *header;
        } cases[] = {
                { "not JSON", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}" },
                { "not an object", "[1,2,3]" },
                { "unknown dtype", "{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}" },
                { "dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}" },
                { "missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}" },
                { "shape vs bytes", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}" },
                { "offsets beyond data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[32],\"data_offsets\":[0,128]}}" },
                { "end before begin", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}" },
                { "one offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}" },
                { "negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}" },
                { "fractional offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]}}" },
                { "huge shape",
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]}}" },
                { "too many dims", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}" },
                { "overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}" },
                { "duplicate", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}" },
                { "entry not an object", "{\"a\":[1]}" },
        };

        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                int r = open_st(cases[i].header, data, sizeof data);

                if (r != -EBADMSG) {
                        fprintf(stderr, "malformed '%s': got %d\n", cases[i].what, r);
                        exit(1);
                }
        }
        /* valid: metadata only, and an escaped name */
        check_eq(open_st("{\"__metadata__\":{}}", data, 0), 0);
        check_eq(open_st("{\"a\\u0062\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", data, 4), 0);

        /* truncated files and lying header lengths */
        write_st(tmp_path("t.safetensors"), "", NULL, 0, 0);
        check(truncate(tmp_path("t.safetensors"), 5) == 0);
        check_eq(clf_safetensors_open(tmp_path("t.safetensors"), &st), -EBADMSG);
        write_st(tmp_path("t.safetensors"), "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data, 4,
                 4096);
        check_eq(clf_safetensors_open(tmp_path("t.safetensors"), &st), -EBADMSG);
        write_st(tmp_path("t.safetensors"), "{}", NULL, 0, (long long)1 << 62);
        check_eq(clf_safetensors_open(tmp_path("t.safetensors"), &st), -EBADMSG);
        write_st(tmp_path("t.safetensors"), "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", data,
                 16, -1);
        check_eq(clf_safetensors_open(tmp_path("t.safetensors"), &st), 0);
        clf_safetensors_close(st);
        {
                struct stat sb;

                check(stat(tmp_path("t.safetensors"), &sb) == 0);
                check(truncate(tmp_path("t.safetensors"), sb.st_size - 8) == 0); /* data cut short */
        }
        check_eq(clf_safetensors_open(tmp_path("t.safetensors"), &st), -EBADMSG);
        check_eq(clf_safetensors_open(tmp_path("missing.safetensors"), &st), -ENOENT);
        printf("malformed headers: %zu cases refused: ok\n", sizeof cases / sizeof *cases + 4);
}

static void copy_file(const char *from, const char *to) {
        FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
        char buf[4096];
        size_t n;

        check(a && b);
        while ((n = fread(buf, 1, sizeof buf, a)) > 0)
                check(fwrite(buf, 1, n, b) == n);
        fclose(a);
        fclose(b);
}

/* a BERT config with a checkpoint missing tensors / with a wrong shape */
static void bad_checkpoints(const char *data) {
        struct clf_model *m = NULL;
        char from[512], dir[512];
        float w[64] = { 0 };

        snprintf(dir, sizeof dir, "%s/model", tmpdir);
        check(mkdir(dir, 0700) == 0);
        snprintf(from, sizeof from, "%s/bert-seq-f32/config.json", data);
        copy_file(from, tmp_path("model/config.json"));
        write_st(
                tmp_path("model/model.safetensors"),
                "{\"bert.embeddings.word_embeddings.weight\":{\"dtype\":\"F32\",\"shape\":[2,32],\"data_offsets\":[0,256]}}",
                w, sizeof w, -1);
        check_eq(clf_model_load(dir, NULL, &m), -EBADMSG); /* word embeddings misshapen */
        write_st(tmp_path("model/model.safetensors"), "{\"__metadata__\":{\"format\":\"pt\"}}", NULL, 0, -1);
        check_eq(clf_model_load(dir, NULL, &m), -EBADMSG); /* missing */
        unlink(tmp_path("model/model.safetensors"));
        check_eq(clf_model_load(dir, NULL, &m), -ENOENT);
        check_eq(clf_model_load("/nonexistent-model-dir", NULL, &m), -ENOENT);
        /* a config for an architecture not implemented */
        {
                FILE *f = fopen(tmp_path("model/config.json"), "w");

                check(f);
                fputs("{\"model_type\":\"t5\",\"architectures\":[\"T5ForSequenceClassification\"]}", f);
                fclose(f);
        }
        check_eq(clf_model_load(dir, NULL, &m), -EOPNOTSUPP);
        check(m == NULL);
        unlink(tmp_path("model/config.json"));
        rmdir(dir);
        printf("bad checkpoints refused: ok\n");
}

int main(int argc, char **argv) {
        snprintf(tmpdir, sizeof tmpdir, "%s/clf-st-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        check(mkdtemp(tmpdir));
        good();
        malformed();
        if (argc > 1)
                bad_checkpoints(argv[1]);
        unlink(tmp_path("good.safetensors"));
        unlink(tmp_path("t.safetensors"));
        rmdir(tmpdir);
        return 0;
}
