/* The CUDA backend: struct clf_backend_ops on one device and one stream.
 *
 * - GEMMs (matmul, and attention's QK^T and PV as strided-batched GEMMs)
 *   are cuBLAS calls (cublasGemmEx / cublasGemmStridedBatchedEx) with f32
 *   accumulation and f32 output. Operands by precision (clf_backend.h):
 *   f16 / bf16 (weights converted once, at their first GEMM, into a
 *   shadow copy kept beside the f32 one; activations converted per GEMM
 *   into a scratch buffer), tf32 (f32 operands, TF32 tensor cores), f32
 *   (pedantic SGEMM: the CPU oracle's arithmetic). In f16 / bf16 the bias
 *   costs no pass of its own: the converted x gets a column of ones and
 *   the weight's copy a column holding the bias (K rounded up to a
 *   multiple of 8 with zeros); in f32 / tf32 the output is filled with
 *   the bias and the GEMM adds to it (beta 1).
 * - Everything else is our kernels (cuda/kernels.cu), in f32.
 * - Attention: q, k, v split per head ([B*heads, T, hd], GEMM type);
 *   scores [pairs, T, T] f32 = scale * Q K^T; a masked softmax kernel
 *   (padding mask, local window) writes the probabilities in the GEMM
 *   type; O = P V; heads merged back into [B*T, H]. Scores are made for
 *   as many (sequence, head) pairs at once as fit in ATT_SCORES_MAX
 *   elements. cuDNN's fused attention is not used (see README).
 * - Memory: alloc/free are cudaMalloc/cudaFree (the model allocates its
 *   activations once, grow-only); scratch buffers are grow-only. Uploads
 *   go through a pinned staging buffer (copied, then an async copy on the
 *   stream; the staging space is reused after the next synchronization),
 *   downloads through another (async copy, stream sync, memcpy out).
 * - Errors: every CUDA / cuBLAS status becomes -errno with one log line;
 *   nothing aborts. A kernel fault shows at the next synchronization
 *   (download or sync) as -EIO. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "classifier/clf_backend.h"
#include "common/log.h"
}
#include "classifier/clf_cuda.h"

#define STAGE_MIN ((size_t)1 << 20)
#define STAGE_MAX ((size_t)64 << 20)
#define ATT_SCORES_MAX ((size_t)64 << 20) /* elements of the scores scratch */

/* a weight from weight(): its f32 copy and, once it was a GEMM operand,
 * its copy in the GEMM type, rows of kp elements: the row, then the bias
 * of that GEMM when there is one (a weight itself), then zeros */
struct cuda_weight {
        const float *w;
        void *lo;
        size_t n;
        const float *bias;
        size_t kp;
};

struct dev_buf {
        void *p;
        size_t cap; /* bytes */
};

struct clf_cuda {
        struct clf_backend be;
        int device;
        enum clf_precision prec;
        enum clf_cuda_dtype dt; /* GEMM operand type */
        cudaDataType_t cdt;
        cublasComputeType_t compute;
        cudaStream_t stream;
        cublasHandle_t blas;

        unsigned char *up, *down; /* pinned staging */
        size_t up_cap, up_off, down_cap;

        struct dev_buf xs, ws;                      /* matmul: x and (unregistered) w in the GEMM type */
        struct dev_buf aqkv, ascores, aprobs, aout; /* attention */

        struct cuda_weight *wt;
        size_t n_wt, cap_wt;
};

static char why_buf[256] = "not probed";

extern "C" const char *clf_cuda_why(void) {
        return why_buf;
}

/* ---- errors ---- */

static int cu_check(cudaError_t e, const char *what) {
        if (e == cudaSuccess)
                return 0;
        log_err("classifier: CUDA: %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
        switch (e) {
        case cudaErrorMemoryAllocation:
                return -ENOMEM;
        case cudaErrorInvalidValue:
                return -EINVAL;
        case cudaErrorNoDevice:
        case cudaErrorInsufficientDriver:
        case cudaErrorInvalidDevice:
                return -ENODEV;
        default:
                return -EIO;
        }
}

static int blas_check(cublasStatus_t st, const char *what) {
        if (st == CUBLAS_STATUS_SUCCESS)
                return 0;
        log_err("classifier: cuBLAS: %s: %s", what, cublasGetStatusString(st));
        switch (st) {
        case CUBLAS_STATUS_ALLOC_FAILED:
                return -ENOMEM;
        case CUBLAS_STATUS_INVALID_VALUE:
                return -EINVAL;
        case CUBLAS_STATUS_NOT_SUPPORTED:
        case CUBLAS_STATUS_ARCH_MISMATCH:
                return -EOPNOTSUPP;
        default:
                return -EIO;
        }
}

#define CU(call)                                  \
        do {                                      \
                int r_ = cu_check((call), #call); \
                if (r_ < 0)                       \
                        return r_;                \
        } while (0)

#define BLAS(call)                                  \
        do {                                        \
                int r_ = blas_check((call), #call); \
                if (r_ < 0)                         \
                        return r_;                  \
        } while (0)

static struct clf_cuda *cuda_of(struct clf_backend *be) {
        return (struct clf_cuda *)be;
}

/* the calling thread's current device is per thread: set it on entry */
#define ENTER(c) CU(cudaSetDevice((c)->device))

/* ---- memory ---- */

/* grow-only device scratch; the old buffer may still be read by queued
 * work, so the stream is drained first */
static int buf_reserve(struct clf_cuda *c, struct dev_buf *b, size_t bytes) {
        size_t cap;

        if (bytes <= b->cap)
                return 0;
        CU(cudaStreamSynchronize(c->stream));
        if (b->p)
                CU(cudaFree(b->p));
        b->p = NULL;
        b->cap = 0;
        cap = (bytes + bytes / 4 + 255) & ~(size_t)255;
        CU(cudaMalloc(&b->p, cap));
        b->cap = cap;
        return 0;
}

static int cuda_alloc(struct clf_backend *be, size_t bytes, void **ret_ptr) {
        struct clf_cuda *c = cuda_of(be);
        void *p = NULL;

        ENTER(c);
        CU(cudaMalloc(&p, bytes ? bytes : 256));
        *ret_ptr = p;
        return 0;
}

static bool is_weight(const struct clf_cuda *c, const void *ptr) {
        for (size_t i = 0; i < c->n_wt; i++)
                if (c->wt[i].w == ptr)
                        return true;
        return false;
}

/* after a stream synchronization */
static void weight_forget(struct clf_cuda *c, const void *ptr) {
        for (size_t i = 0; i < c->n_wt; i++)
                if (c->wt[i].bias == ptr) { /* copies made with it as their bias */
                        cudaFree(c->wt[i].lo);
                        c->wt[i].lo = NULL;
                        c->wt[i].bias = NULL;
                }
        for (size_t i = 0; i < c->n_wt; i++)
                if (c->wt[i].w == ptr) {
                        cudaFree(c->wt[i].lo);
                        c->wt[i] = c->wt[--c->n_wt];
                        return;
                }
}

static void cuda_free(struct clf_backend *be, void *ptr) {
        struct clf_cuda *c = cuda_of(be);

        if (!ptr)
                return;
        cudaSetDevice(c->device);
        cudaStreamSynchronize(c->stream); /* queued work may still use it */
        weight_forget(c, ptr);
        cu_check(cudaFree(ptr), "cudaFree");
}

static int stage_grow(unsigned char **buf, size_t *cap, size_t want) {
        size_t n = *cap * 2 > want ? *cap * 2 : want;

        if (n > STAGE_MAX)
                n = STAGE_MAX;
        if (n <= *cap)
                return 0;
        CU(cudaFreeHost(*buf));
        *buf = NULL;
        *cap = 0;
        CU(cudaMallocHost((void **)buf, n));
        *cap = n;
        return 0;
}

static int cuda_upload(struct clf_backend *be, void *dst, const void *src, size_t bytes) {
        struct clf_cuda *c = cuda_of(be);
        unsigned char *d = (unsigned char *)dst;
        const unsigned char *s = (const unsigned char *)src;
        int r;

        ENTER(c);
        while (bytes > 0) {
                size_t n;

                if (c->up_off >= c->up_cap || bytes > c->up_cap - c->up_off) {
                        /* no room left: wait for the queued copies out of the staging buffer */
                        CU(cudaStreamSynchronize(c->stream));
                        c->up_off = 0;
                        if (bytes > c->up_cap && (r = stage_grow(&c->up, &c->up_cap, bytes)) < 0)
                                return r;
                }
                n = bytes < c->up_cap - c->up_off ? bytes : c->up_cap - c->up_off;
                memcpy(c->up + c->up_off, s, n);
                CU(cudaMemcpyAsync(d, c->up + c->up_off, n, cudaMemcpyHostToDevice, c->stream));
                c->up_off += (n + 63) & ~(size_t)63;
                d += n;
                s += n;
                bytes -= n;
        }
        return 0;
}

static int cuda_download(struct clf_backend *be, void *dst, const void *src, size_t bytes) {
        struct clf_cuda *c = cuda_of(be);
        unsigned char *d = (unsigned char *)dst;
        const unsigned char *s = (const unsigned char *)src;
        int r;

        ENTER(c);
        if (bytes > c->down_cap && (r = stage_grow(&c->down, &c->down_cap, bytes)) < 0)
                return r;
        while (bytes > 0) {
                size_t n = bytes < c->down_cap ? bytes : c->down_cap;

                CU(cudaMemcpyAsync(c->down, s, n, cudaMemcpyDeviceToHost, c->stream));
                CU(cudaStreamSynchronize(c->stream));
                c->up_off = 0;
                memcpy(d, c->down, n);
                d += n;
                s += n;
                bytes -= n;
        }
        return 0;
}

static int cuda_weight(struct clf_backend *be, const float *host, size_t n, float **ret_w) {
        struct clf_cuda *c = cuda_of(be);
        float *w = NULL;
        int r;

        ENTER(c);
        if (c->n_wt == c->cap_wt) {
                size_t cap = c->cap_wt ? c->cap_wt * 2 : 64;
                struct cuda_weight *a = (struct cuda_weight *)realloc(c->wt, cap * sizeof *a);

                if (!a)
                        return -ENOMEM;
                c->wt = a;
                c->cap_wt = cap;
        }
        CU(cudaMalloc(&w, n ? n * sizeof *w : 256));
        /* from pageable memory: the runtime stages it; done before return */
        if ((r = cu_check(cudaMemcpyAsync(w, host, n * sizeof *w, cudaMemcpyHostToDevice, c->stream),
                          "weight upload")) < 0 ||
            (r = cu_check(cudaStreamSynchronize(c->stream), "weight upload")) < 0) {
                cudaFree(w);
                return r;
        }
        c->wt[c->n_wt++] = (struct cuda_weight){ w, NULL, n, NULL, 0 };
        *ret_w = w;
        return 0;
}

static int cuda_sync(struct clf_backend *be) {
        struct clf_cuda *c = cuda_of(be);

        ENTER(c);
        CU(cudaStreamSynchronize(c->stream));
        c->up_off = 0;
        return 0;
}

/* ---- GEMMs ---- */

/* x [rows, K] in the GEMM type with rows of Kp elements (Kp > K: x, col
 * (ones when NULL), zeros) */
static int to_gemm_type(struct clf_cuda *c, void *dst, const float *x, const float *col, size_t rows, size_t K,
                        size_t Kp) {
        if (Kp == K)
                CU(clf_cuda_convert(dst, c->dt, x, rows * K, c->stream));
        else
                CU(clf_cuda_convert_rows(dst, c->dt, x, col, rows, K, Kp, c->stream));
        return 0;
}

/* w [N, K] (and the bias column when Kp > K) in the GEMM type: the
 * weight's copy, made at its first use (again if it is used with another
 * bias), or a conversion into scratch for a buffer that is not a weight
 * or a bias that is not one */
static int gemm_weight(struct clf_cuda *c, const float *w, const float *bias, size_t N, size_t K, size_t Kp,
                       const void **ret) {
        size_t es = clf_cuda_dtype_size(c->dt);
        bool cache = !bias || is_weight(c, bias);
        int r;

        for (size_t i = 0; cache && i < c->n_wt; i++) {
                struct cuda_weight *e = &c->wt[i];

                if (e->w != w || e->n != N * K)
                        continue;
                if (e->lo && (e->bias != bias || e->kp != Kp)) {
                        CU(cudaStreamSynchronize(c->stream)); /* queued GEMMs may read it */
                        cudaFree(e->lo);
                        e->lo = NULL;
                }
                if (!e->lo) {
                        CU(cudaMalloc(&e->lo, N * Kp * es));
                        if ((r = to_gemm_type(c, e->lo, w, bias, N, K, Kp)) < 0) {
                                cudaFree(e->lo);
                                e->lo = NULL;
                                return r;
                        }
                        e->bias = bias;
                        e->kp = Kp;
                }
                *ret = e->lo;
                return 0;
        }
        if ((r = buf_reserve(c, &c->ws, N * Kp * es)) < 0 || (r = to_gemm_type(c, c->ws.p, w, bias, N, K, Kp)) < 0)
                return r;
        *ret = c->ws.p;
        return 0;
}

/* row-major out[M, N] = x[M, K] w[N, K]^T is column-major
 * out^T[N, M] = w^T x^T: A = w (K x N col-major, transposed), B = x
 * (K x M col-major), leading dimension ld >= K for both */
static int gemm(struct clf_cuda *c, float *out, const void *w, const void *x, size_t M, size_t N, size_t K, size_t ld,
                float beta) {
        const float alpha = 1.0f;

        BLAS(cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)N, (int)M, (int)K, &alpha, w, c->cdt, (int)ld, x,
                          c->cdt, (int)ld, &beta, out, CUDA_R_32F, (int)N, c->compute, CUBLAS_GEMM_DEFAULT));
        return 0;
}

static int cuda_matmul(struct clf_backend *be, float *out, const float *x, const float *w, const float *bias, size_t M,
                       size_t N, size_t K) {
        struct clf_cuda *c = cuda_of(be);
        int r;

        if (M == 0 || N == 0)
                return 0;
        if (M > INT_MAX || N > INT_MAX || K > INT_MAX - 16)
                return -EINVAL;
        ENTER(c);
        if (K == 0 && !bias) {
                CU(cudaMemsetAsync(out, 0, M * N * sizeof *out, c->stream));
                return 0;
        }
        if (c->dt != CLF_CUDA_F32) { /* f16 / bf16: the bias as one more column */
                size_t Kp = bias ? (K + 1 + 7) & ~(size_t)7 : K;
                const void *A;

                if ((r = gemm_weight(c, w, bias, N, K, Kp, &A)) < 0 ||
                    (r = buf_reserve(c, &c->xs, M * Kp * clf_cuda_dtype_size(c->dt))) < 0 ||
                    (r = to_gemm_type(c, c->xs.p, x, NULL, M, K, Kp)) < 0)
                        return r;
                return gemm(c, out, A, c->xs.p, M, N, Kp, Kp, 0.0f);
        }
        if (bias)
                CU(clf_cuda_bias_fill(out, bias, M, N, c->stream));
        if (K == 0)
                return 0;
        return gemm(c, out, w, x, M, N, K, K, bias ? 1.0f : 0.0f);
}

static int cuda_attention(struct clf_backend *be, float *out, const float *qkv, const float *mask, size_t B, size_t T,
                          size_t heads, size_t hd, size_t window) {
        struct clf_cuda *c = cuda_of(be);
        size_t es = clf_cuda_dtype_size(c->dt), Z = B * heads, part = B * T * heads * hd, chunk;
        const float scale = 1.0f / sqrtf((float)hd), one = 1.0f, zero = 0.0f;
        const unsigned char *q, *k, *v;
        int r;

        if (B == 0 || T == 0 || heads == 0 || hd == 0)
                return 0;
        if (T > INT_MAX || hd > INT_MAX || T * T > (size_t)LLONG_MAX / 2)
                return -EINVAL;
        ENTER(c);
        chunk = ATT_SCORES_MAX / (T * T);
        if (chunk < 1)
                chunk = 1;
        if (chunk > Z)
                chunk = Z;
        if (chunk > INT_MAX)
                chunk = INT_MAX;
        if ((r = buf_reserve(c, &c->aqkv, 3 * part * es)) < 0 ||
            (r = buf_reserve(c, &c->ascores, chunk * T * T * sizeof(float))) < 0 ||
            (r = buf_reserve(c, &c->aprobs, chunk * T * T * es)) < 0 ||
            (r = buf_reserve(c, &c->aout, part * sizeof(float))) < 0)
                return r;
        CU(clf_cuda_attn_split(c->aqkv.p, c->dt, qkv, B, T, heads, hd, c->stream));
        q = (const unsigned char *)c->aqkv.p;
        k = q + part * es;
        v = k + part * es;
        for (size_t z0 = 0; z0 < Z; z0 += chunk) {
                size_t zc = Z - z0 < chunk ? Z - z0 : chunk, off = z0 * T * hd;

                /* scores_z[i, j] = scale * q_z[i, :] . k_z[j, :] (as matmul: x = q, w = k) */
                BLAS(cublasGemmStridedBatchedEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)T, (int)T, (int)hd, &scale,
                                                k + off * es, c->cdt, (int)hd, (long long)(T * hd), q + off * es,
                                                c->cdt, (int)hd, (long long)(T * hd), &zero, c->ascores.p, CUDA_R_32F,
                                                (int)T, (long long)(T * T), (int)zc, c->compute, CUBLAS_GEMM_DEFAULT));
                CU(clf_cuda_softmax(c->aprobs.p, c->dt, (const float *)c->ascores.p, mask, z0, zc, T, heads, window,
                                    c->stream));
                /* o_z[i, d] = sum_j p_z[i, j] v_z[j, d]: column-major
                 * o^T[hd, T] = v^T[hd, T] p^T[T, T], both as stored */
                BLAS(cublasGemmStridedBatchedEx(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)hd, (int)T, (int)T, &one,
                                                v + off * es, c->cdt, (int)hd, (long long)(T * hd), c->aprobs.p, c->cdt,
                                                (int)T, (long long)(T * T), &zero, (float *)c->aout.p + off, CUDA_R_32F,
                                                (int)hd, (long long)(T * hd), (int)zc, c->compute,
                                                CUBLAS_GEMM_DEFAULT));
        }
        CU(clf_cuda_attn_merge(out, (const float *)c->aout.p, B, T, heads, hd, c->stream));
        return 0;
}

/* ---- the other ops: one kernel each ---- */

static int cuda_embed(struct clf_backend *be, float *out, const float *table, const int32_t *ids, size_t n, size_t dim,
                      bool accumulate) {
        struct clf_cuda *c = cuda_of(be);

        ENTER(c);
        CU(clf_cuda_embed(out, table, ids, n, dim, accumulate, c->stream));
        return 0;
}

static int cuda_layernorm(struct clf_backend *be, float *out, const float *x, const float *w, const float *b, size_t M,
                          size_t N, float eps) {
        struct clf_cuda *c = cuda_of(be);

        ENTER(c);
        CU(clf_cuda_layernorm(out, x, w, b, M, N, eps, c->stream));
        return 0;
}

static int cuda_add(struct clf_backend *be, float *out, const float *x, size_t n) {
        struct clf_cuda *c = cuda_of(be);

        ENTER(c);
        CU(clf_cuda_add(out, x, n, c->stream));
        return 0;
}

static int cuda_act(struct clf_backend *be, float *x, size_t n, enum clf_act act) {
        struct clf_cuda *c = cuda_of(be);

        ENTER(c);
        CU(clf_cuda_act(x, n, act, c->stream));
        return 0;
}

static int cuda_glu(struct clf_backend *be, float *out, const float *x, size_t M, size_t n_half, enum clf_act act) {
        struct clf_cuda *c = cuda_of(be);

        ENTER(c);
        CU(clf_cuda_glu(out, x, M, n_half, act, c->stream));
        return 0;
}

static int cuda_rope(struct clf_backend *be, float *qkv, const float *cos_t, const float *sin_t, size_t B, size_t T,
                     size_t heads, size_t hd) {
        struct clf_cuda *c = cuda_of(be);

        ENTER(c);
        CU(clf_cuda_rope(qkv, cos_t, sin_t, B, T, heads, hd, c->stream));
        return 0;
}

static int cuda_pool(struct clf_backend *be, float *out, const float *x, const float *mask, size_t B, size_t T,
                     size_t H, enum clf_pooling mode) {
        struct clf_cuda *c = cuda_of(be);

        ENTER(c);
        CU(clf_cuda_pool(out, x, mask, B, T, H, mode, c->stream));
        return 0;
}

/* ---- lifetime ---- */

static void cuda_destroy(struct clf_backend *be) {
        struct clf_cuda *c = cuda_of(be);
        struct dev_buf *bufs[] = { &c->xs, &c->ws, &c->aqkv, &c->ascores, &c->aprobs, &c->aout };

        cudaSetDevice(c->device);
        if (c->stream)
                cudaStreamSynchronize(c->stream);
        for (size_t i = 0; i < c->n_wt; i++) { /* weights the caller did not free */
                cudaFree(c->wt[i].lo);
                cudaFree((void *)c->wt[i].w);
        }
        free(c->wt);
        for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
                cudaFree(bufs[i]->p);
        cudaFreeHost(c->up);
        cudaFreeHost(c->down);
        if (c->blas)
                cublasDestroy(c->blas);
        if (c->stream)
                cudaStreamDestroy(c->stream);
        free(c);
}

static struct clf_backend_ops make_ops(void) {
        struct clf_backend_ops o;

        memset(&o, 0, sizeof o);
        o.name = "cuda";
        o.weights_alias_host = false;
        o.destroy = cuda_destroy;
        o.alloc = cuda_alloc;
        o.free = cuda_free;
        o.upload = cuda_upload;
        o.download = cuda_download;
        o.weight = cuda_weight;
        o.sync = cuda_sync;
        o.embed = cuda_embed;
        o.matmul = cuda_matmul;
        o.layernorm = cuda_layernorm;
        o.add = cuda_add;
        o.act = cuda_act;
        o.glu = cuda_glu;
        o.rope = cuda_rope;
        o.attention = cuda_attention;
        o.pool = cuda_pool;
        return o;
}

static const struct clf_backend_ops cuda_ops = make_ops();

static int pick_precision(const struct clf_backend_opts *opts, enum clf_precision *ret) {
        const char *e = getenv("SWITCHYARD_CLF_PRECISION");

        if (opts && opts->precision != CLF_PREC_DEFAULT) {
                *ret = opts->precision;
                return 0;
        }
        if (!e || !*e) {
                *ret = CLF_PREC_F16;
                return 0;
        }
        if (clf_precision_parse(e, ret) < 0) {
                log_err("classifier: SWITCHYARD_CLF_PRECISION=%s: expected f16, bf16, tf32 or f32", e);
                return -EINVAL;
        }
        return 0;
}

extern "C" int clf_cuda_create(const struct clf_backend_opts *opts, struct clf_backend **ret_be) {
        int n = 0, dev = opts ? opts->device : 0, r;
        enum clf_precision prec;
        struct cudaDeviceProp prop;
        struct clf_cuda *c;
        cudaError_t e;

        e = cudaGetDeviceCount(&n);
        if (e != cudaSuccess || n <= 0) {
                snprintf(why_buf, sizeof why_buf, "%s", e != cudaSuccess ? cudaGetErrorString(e) : "no CUDA device");
                (void)cudaGetLastError(); /* not sticky: leave no error behind */
                log_debug("classifier: CUDA: %s", why_buf);
                return -ENODEV;
        }
        if (dev < 0 || dev >= n) {
                snprintf(why_buf, sizeof why_buf, "device %d asked for, %d present", dev, n);
                log_debug("classifier: CUDA: %s", why_buf);
                return -ENODEV;
        }
        if ((r = pick_precision(opts, &prec)) < 0)
                return r;
        CU(cudaSetDevice(dev));
        CU(cudaGetDeviceProperties(&prop, dev));
        c = (struct clf_cuda *)calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->be.ops = &cuda_ops;
        c->device = dev;
        c->prec = prec;
        switch (prec) {
        case CLF_PREC_BF16:
                c->dt = CLF_CUDA_BF16;
                c->cdt = CUDA_R_16BF;
                c->compute = CUBLAS_COMPUTE_32F;
                break;
        case CLF_PREC_TF32:
                c->dt = CLF_CUDA_F32;
                c->cdt = CUDA_R_32F;
                c->compute = CUBLAS_COMPUTE_32F_FAST_TF32;
                break;
        case CLF_PREC_F32:
                c->dt = CLF_CUDA_F32;
                c->cdt = CUDA_R_32F;
                c->compute = CUBLAS_COMPUTE_32F_PEDANTIC;
                break;
        default:
                c->prec = CLF_PREC_F16;
                c->dt = CLF_CUDA_F16;
                c->cdt = CUDA_R_16F;
                c->compute = CUBLAS_COMPUTE_32F;
                break;
        }
        if ((r = cu_check(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "stream")) < 0 ||
            (r = blas_check(cublasCreate(&c->blas), "cublasCreate")) < 0 ||
            (r = blas_check(cublasSetStream(c->blas, c->stream), "cublasSetStream")) < 0 ||
            (r = cu_check(cudaMallocHost((void **)&c->up, STAGE_MIN), "pinned staging")) < 0 ||
            (r = cu_check(cudaMallocHost((void **)&c->down, STAGE_MIN), "pinned staging")) < 0) {
                cuda_destroy(&c->be);
                return r;
        }
        c->up_cap = c->down_cap = STAGE_MIN;
        snprintf(why_buf, sizeof why_buf, "device %d: %.200s", dev, prop.name);
        log_debug("classifier: CUDA backend on device %d of %d: %s, sm_%d%d, %zu MiB, GEMMs in %s", dev, n, prop.name,
                  prop.major, prop.minor, (size_t)(prop.totalGlobalMem >> 20), clf_precision_name(c->prec));
        *ret_be = &c->be;
        return 0;
}
