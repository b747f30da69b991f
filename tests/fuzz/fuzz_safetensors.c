/* libFuzzer target: safetensors files (classifier/clf_safetensors.c), the
 * 8-byte header length, the JSON header and the tensors' byte ranges.
 *
 * Checks: open fails with -EBADMSG (or -ENOMEM) or gives tensors whose
 * data lies inside the file, do not overlap, have nbytes = numel * dtype
 * size and numel = the product of the shape; names are unique and found by
 * clf_safetensors_find; F32/F16/BF16/F64 tensors convert (every byte of
 * the range is read, so ASan sees a range past the end of the mapping). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "classifier/clf_safetensors.h"
#include "fuzz_file.h"

static size_t dtype_size(enum clf_dtype d) {
        switch (d) {
        case CLF_DTYPE_F64:
        case CLF_DTYPE_I64:
                return 8;
        case CLF_DTYPE_F32:
        case CLF_DTYPE_I32:
                return 4;
        case CLF_DTYPE_F16:
        case CLF_DTYPE_BF16:
        case CLF_DTYPE_I16:
                return 2;
        default:
                return 1;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct clf_safetensors *st = NULL;
        char path[64];
        int fd = fuzz_file(data, size, path, sizeof path), r;

        r = clf_safetensors_open(path, &st);
        close(fd);
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r < 0)
                return 0;
        size_t n = clf_safetensors_count(st);
        const uint8_t *lo = NULL, *hi = NULL;
        for (size_t i = 0; i < n; i++) {
                const struct clf_st_tensor *t = clf_safetensors_at(st, i);
                size_t numel = 1;
                FUZZ_CHECK(t && t->name && t->ndim <= CLF_ST_MAX_DIMS);
                for (unsigned k = 0; k < t->ndim; k++) {
                        FUZZ_CHECK(t->shape[k] >= 0);
                        numel *= (size_t)t->shape[k];
                }
                FUZZ_CHECK(numel == t->numel);
                FUZZ_CHECK(t->nbytes == t->numel * dtype_size(t->dtype));
                FUZZ_CHECK(clf_safetensors_find(st, t->name) == t);
                if (t->nbytes) {
                        const uint8_t *d = t->data;
                        /* inside the file's bytes: the header comes first, 8 + its length */
                        FUZZ_CHECK(size >= 8 && t->nbytes <= size - 8);
                        if (!lo || d < lo)
                                lo = d;
                        if (!hi || d + t->nbytes > hi)
                                hi = d + t->nbytes;
                        for (size_t j = 0; j < i; j++) {
                                const struct clf_st_tensor *u = clf_safetensors_at(st, j);
                                const uint8_t *e = u->data;
                                FUZZ_CHECK(!u->nbytes || d + t->nbytes <= e || e + u->nbytes <= d);
                        }
                }
                if (t->dtype == CLF_DTYPE_F32 || t->dtype == CLF_DTYPE_F16 || t->dtype == CLF_DTYPE_BF16 ||
                    t->dtype == CLF_DTYPE_F64) {
                        float *out = malloc(t->numel ? t->numel * sizeof *out : 1);
                        FUZZ_CHECK(clf_safetensors_to_f32(t, out, t->numel) == 0);
                        free(out);
                } else {
                        volatile uint8_t sum = 0;
                        for (size_t j = 0; j < t->nbytes; j++)
                                sum += ((const uint8_t *)t->data)[j];
                        (void)sum;
                }
        }
        if (lo)
                FUZZ_CHECK((size_t)(hi - lo) <= size - 8);
        clf_safetensors_close(st);
        return 0;
}
