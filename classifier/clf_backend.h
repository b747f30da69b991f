/* Compute backends of the classifier behind one small ops table (ggml /
 * llm.c style). The model code (clf_model.c) only calls these ops on
 * buffers the backend allocated; a CUDA backend implements the same table
 * with cuBLAS GEMMs and its own kernels (op_kernel -> clf_cuda_op() -> op).
 * The registry (clf_backend.c) holds the only `#if HAVE_CUDA`; the CPU
 * backend is the oracle every other backend is tested against.
 *
 * Tensors are f32, row-major, contiguous unless a stride says otherwise.
 * Linear layers use the Hugging Face layout: weight [out, in]. A backend
 * instance is used by one thread at a time. Ops return 0 or -errno. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classifier/clf_config.h"

struct clf_backend;

struct clf_backend_ops {
        const char *name;
        /* true when weight() keeps pointing at the host array it was given
         * (the caller must keep it alive until the backend is gone) */
        bool weights_alias_host;

        void (*destroy)(struct clf_backend *be);

        /* memory */
        int (*alloc)(struct clf_backend *be, size_t bytes, void **ret_ptr);
        void (*free)(struct clf_backend *be, void *ptr);
        int (*upload)(struct clf_backend *be, void *dst, const void *src, size_t bytes);
        int (*download)(struct clf_backend *be, void *dst, const void *src, size_t bytes);
        /* a weight from n host floats: the backend's copy (or the host
         * array itself when weights_alias_host); freed with free() unless
         * aliased */
        int (*weight)(struct clf_backend *be, const float *host, size_t n, float **ret_w);
        int (*sync)(struct clf_backend *be);

        /* out[i, :] (+)= table[ids[i], :] for i < n; dim columns */
        int (*embed)(struct clf_backend *be, float *out, const float *table, const int32_t *ids, size_t n, size_t dim,
                     bool accumulate);
        /* out[M, N] = x[M, K] . w[N, K]^T (+ bias[N]) */
        int (*matmul)(struct clf_backend *be, float *out, const float *x, const float *w, const float *bias, size_t M,
                      size_t N, size_t K);
        /* out[M, N] = layernorm(x) * w (+ b); out may be x */
        int (*layernorm)(struct clf_backend *be, float *out, const float *x, const float *w, const float *b, size_t M,
                         size_t N, float eps);
        /* out[i] += x[i] */
        int (*add)(struct clf_backend *be, float *out, const float *x, size_t n);
        /* x[i] = act(x[i]) */
        int (*act)(struct clf_backend *be, float *x, size_t n, enum clf_act act);
        /* GeGLU: out[M, n] = act(x[:, :n]) * x[:, n:], x is [M, 2n] */
        int (*glu)(struct clf_backend *be, float *out, const float *x, size_t M, size_t n_half, enum clf_act act);
        /* rotary embedding (rotate-half) on the q and k parts of qkv
         * [B*T, 3*heads*hd], position t of each sequence using the
         * cos/sin tables [max_T, hd/2] */
        int (*rope)(struct clf_backend *be, float *qkv, const float *cos_t, const float *sin_t, size_t B, size_t T,
                    size_t heads, size_t hd);
        /* softmax(q k^T / sqrt(hd) + mask) v per sequence and head;
         * qkv [B*T, 3*heads*hd] (q | k | v), out [B*T, heads*hd];
         * mask [B*T] (1 valid key, 0 padding); window > 0: keys with
         * |i - j| <= window / 2 only. Rows with no valid key are 0. */
        int (*attention)(struct clf_backend *be, float *out, const float *qkv, const float *mask, size_t B, size_t T,
                         size_t heads, size_t hd, size_t window);
        /* out[B, H]: row 0 of each sequence (CLS) or the masked mean */
        int (*pool)(struct clf_backend *be, float *out, const float *x, const float *mask, size_t B, size_t T, size_t H,
                    enum clf_pooling mode);
};

struct clf_backend {
        const struct clf_backend_ops *ops;
};

/* GEMM operands of a GPU backend (accumulation is always f32; the other
 * ops are f32). The CPU backend is f32 whatever this says. */
enum clf_precision {
        CLF_PREC_DEFAULT, /* $SWITCHYARD_CLF_PRECISION, else f16 */
        CLF_PREC_F16,     /* activations rounded to f16 per GEMM, weights kept in f16 */
        CLF_PREC_BF16,    /* the same in bf16 */
        CLF_PREC_TF32,    /* f32 operands, TF32 tensor cores */
        CLF_PREC_F32,     /* exact f32 GEMMs (the oracle's precision) */
};

struct clf_backend_opts {
        int threads; /* CPU GEMM threads; 0: the BLAS default */
        int device;  /* GPU ordinal */
        enum clf_precision precision;
};

/* "f16", "bf16", "tf32", "f32" (or "fp16", "fp32"...); -EINVAL otherwise */
int clf_precision_parse(const char *s, enum clf_precision *ret);
const char *clf_precision_name(enum clf_precision p);

/* name: "cpu", "cuda" or NULL / "auto" (CUDA when built with it and a
 * device is present, else CPU). Returns -EOPNOTSUPP for "cuda" without
 * CUDA, -ENODEV without a device, -EINVAL for an unknown name. */
int clf_backend_create(const char *name, const struct clf_backend_opts *opts, struct clf_backend **ret_be);
void clf_backend_destroy(struct clf_backend *be);

/* backends (clf_cpu.c; clf_cuda.cu when built with CUDA) */
int clf_cpu_create(const struct clf_backend_opts *opts, struct clf_backend **ret_be);
/* -ENODEV when there is no usable device; clf_cuda_why() then says why
 * (the CUDA runtime's message; "built without CUDA" in such a build) */
int clf_cuda_create(const struct clf_backend_opts *opts, struct clf_backend **ret_be);
const char *clf_cuda_why(void);
