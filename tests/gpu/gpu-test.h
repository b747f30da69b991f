/* Helpers of the gpu suite (header-only): the CUDA backend in each
 * precision, or exit 77 (skip) when it cannot exist here, and error
 * figures. */
#pragma once
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/clf_backend.h"
#include "tests/check.h"

static const enum clf_precision gpu_precisions[] = { CLF_PREC_F32, CLF_PREC_TF32, CLF_PREC_F16, CLF_PREC_BF16 };
#define GPU_N_PREC (sizeof gpu_precisions / sizeof *gpu_precisions)

/* a CUDA backend, or the test is skipped (not built with CUDA, no device) */
static inline struct clf_backend *gpu_backend_or_skip(enum clf_precision p) {
        struct clf_backend_opts o = { .precision = p };
        struct clf_backend *be = NULL;
        int r = clf_backend_create("cuda", &o, &be);

        if (r == -EOPNOTSUPP) {
                printf("SKIP: built without CUDA (nvcc not found at configure time, or -Dcuda=disabled)\n");
                exit(TEST_SKIP);
        }
        if (r == -ENODEV) {
                printf("SKIP: no CUDA device (%s)\n", clf_cuda_why());
                exit(TEST_SKIP);
        }
        if (r < 0) {
                fprintf(stderr, "cuda backend (%s): %s\n", clf_precision_name(p), strerror(-r));
                exit(1);
        }
        return be;
}

/* deterministic uniform floats in [lo, hi) */
static uint64_t gpu_rng = 0x9e3779b97f4a7c15ull;

static inline float gpu_uniform(float lo, float hi) {
        gpu_rng ^= gpu_rng << 13;
        gpu_rng ^= gpu_rng >> 7;
        gpu_rng ^= gpu_rng << 17;
        return lo + (hi - lo) * (float)((gpu_rng >> 40) * (1.0 / 16777216.0));
}

static inline void gpu_fill(float *x, size_t n, float lo, float hi) {
        for (size_t i = 0; i < n; i++)
                x[i] = gpu_uniform(lo, hi);
}

/* errors of got against ref: max |diff|, max |diff| / max(|ref|, floor) */
struct gpu_err {
        double abs, rel;
};

static inline struct gpu_err gpu_compare(const float *got, const float *ref, size_t n, double floor) {
        struct gpu_err e = { 0, 0 };

        for (size_t i = 0; i < n; i++) {
                double d = fabs((double)got[i] - (double)ref[i]), m = fabs((double)ref[i]);

                if (isnan(d))
                        d = INFINITY;
                if (d > e.abs)
                        e.abs = d;
                d /= m > floor ? m : floor;
                if (d > e.rel)
                        e.rel = d;
        }
        return e;
}
