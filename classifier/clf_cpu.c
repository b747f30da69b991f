/* The CPU backend: GEMMs on a CBLAS (OpenBLAS from Debian: its thread
 * count is the `threads` option, process-wide as OpenBLAS has it; plain
 * loops when built without a BLAS), the other ops as plain loops. Weights alias the host arrays (no copy). This
 * is the oracle the other backends are compared with. */
#include "classifier/clf_backend.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* The element-wise loops (activations, layer norm, softmax) are built for
 * AVX-512, AVX2 and the baseline, picked at load time (GCC target_clones,
 * an ifunc): the binary stays portable and the loops run at the width the
 * CPU has. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define CLONES
#endif

#if HAVE_CBLAS
#include <cblas.h>
#if HAVE_OPENBLAS_THREADS
void openblas_set_num_threads(int num_threads);
#endif
/* C[M, N] = alpha A[M, K] . op(B) + beta C; op(B) = B^T ([N, K]) or B ([K, N]) */
static void gemm(bool trans_b, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda, const float *B,
                 size_t ldb, float beta, float *C, size_t ldc) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A,
                    (int)lda, B, (int)ldb, beta, C, (int)ldc);
}
#else
/* no BLAS: plain loops (correct, slow) */
static void gemm(bool trans_b, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda, const float *B,
                 size_t ldb, float beta, float *C, size_t ldc) {
        for (size_t i = 0; i < M; i++)
                for (size_t j = 0; j < N; j++) {
                        float acc = 0;

                        for (size_t k = 0; k < K; k++)
                                acc += A[i * lda + k] * (trans_b ? B[j * ldb + k] : B[k * ldb + j]);
                        C[i * ldc + j] = alpha * acc + (beta != 0.0f ? beta * C[i * ldc + j] : 0.0f);
                }
}
#endif

struct clf_cpu {
        struct clf_backend be;
        float *scores; /* attention scratch [QBLOCK, T] */
        size_t scores_cap;
};

static void cpu_destroy(struct clf_backend *be) {
        struct clf_cpu *c = (struct clf_cpu *)be;

        free(c->scores);
        free(c);
}

static int cpu_alloc(struct clf_backend *be, size_t bytes, void **ret_ptr) {
        void *p = NULL;

        if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
                return -ENOMEM;
        *ret_ptr = p;
        return 0;
}

static void cpu_free(struct clf_backend *be, void *ptr) {
        free(ptr);
}

static int cpu_copy(struct clf_backend *be, void *dst, const void *src, size_t bytes) {
        if (dst != src)
                memcpy(dst, src, bytes);
        return 0;
}

static int cpu_weight(struct clf_backend *be, const float *host, size_t n, float **ret_w) {
        *ret_w = (float *)host;
        return 0;
}

static int cpu_sync(struct clf_backend *be) {
        return 0;
}

static int cpu_embed(struct clf_backend *be, float *out, const float *table, const int32_t *ids, size_t n, size_t dim,
                     bool accumulate) {
        for (size_t i = 0; i < n; i++) {
                const float *row = table + (size_t)ids[i] * dim;
                float *o = out + i * dim;

                if (accumulate)
                        for (size_t j = 0; j < dim; j++)
                                o[j] += row[j];
                else
                        memcpy(o, row, dim * sizeof *o);
        }
        return 0;
}

static int cpu_matmul(struct clf_backend *be, float *out, const float *x, const float *w, const float *bias, size_t M,
                      size_t N, size_t K) {
        if (bias)
                for (size_t i = 0; i < M; i++)
                        memcpy(out + i * N, bias, N * sizeof *out);
        gemm(true, M, N, K, 1.0f, x, K, w, K, bias ? 1.0f : 0.0f, out, N);
        return 0;
}

CLONES static int cpu_layernorm(struct clf_backend *be, float *out, const float *x, const float *w, const float *b,
                                size_t M, size_t N, float eps) {
        for (size_t i = 0; i < M; i++) {
                const float *xi = x + i * N;
                float *oi = out + i * N;
                float mean = 0, var = 0, inv;

                for (size_t j = 0; j < N; j++)
                        mean += xi[j];
                mean /= (float)N;
                for (size_t j = 0; j < N; j++) {
                        float d = xi[j] - mean;

                        var += d * d;
                }
                var /= (float)N;
                inv = 1.0f / sqrtf(var + eps);
                for (size_t j = 0; j < N; j++)
                        oi[j] = (xi[j] - mean) * inv * w[j] + (b ? b[j] : 0.0f);
        }
        return 0;
}

CLONES static int cpu_add(struct clf_backend *be, float *out, const float *x, size_t n) {
        for (size_t i = 0; i < n; i++)
                out[i] += x[i];
        return 0;
}

/* expf without a libm call, so that loops over it vectorize (built with
 * -O3 -fno-trapping-math): Cephes' polynomial after reduction by ln 2
 * (relative error ~2e-7); inputs clamped to [-87, 88]. */
static inline float fast_expf(float x) {
        float n, r, p, y;
        int32_t e;

        x = x < -87.0f ? -87.0f : x;
        x = x > 88.0f ? 88.0f : x;
        n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(x / ln 2) */
        r = x - n * 0.693359375f + n * 2.12194440e-4f;
        p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r * r + r + 1.0f;
        e = ((int32_t)n + 127) << 23;
        y = ((union {
                    int32_t i;
                    float f;
            }){ .i = e })
                    .f;
        return p * y;
}

/* erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7) */
static inline float fast_erff(float x) {
        float a = fabsf(x), t = 1.0f / (1.0f + 0.3275911f * a), y;

        y = 1.0f - (((((1.061405429f * t - 1.453152027f) * t) + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) *
                           t * fast_expf(-a * a);
        return copysignf(y, x);
}

static inline float act1(float v, enum clf_act act) {
        switch (act) {
        case CLF_ACT_GELU:
                return 0.5f * v * (1.0f + fast_erff(v * 0.70710678118654752f));
        case CLF_ACT_GELU_TANH:
                return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        case CLF_ACT_RELU:
                return v > 0 ? v : 0;
        case CLF_ACT_SILU:
                return v / (1.0f + expf(-v));
        case CLF_ACT_TANH:
                return tanhf(v);
        }
        return v;
}

CLONES static int cpu_act(struct clf_backend *be, float *x, size_t n, enum clf_act act) {
        if (act == CLF_ACT_GELU) { /* the common case, branch-free */
                for (size_t i = 0; i < n; i++)
                        x[i] = 0.5f * x[i] * (1.0f + fast_erff(x[i] * 0.70710678118654752f));
                return 0;
        }
        for (size_t i = 0; i < n; i++)
                x[i] = act1(x[i], act);
        return 0;
}

CLONES static int cpu_glu(struct clf_backend *be, float *out, const float *x, size_t M, size_t n_half,
                          enum clf_act act) {
        for (size_t i = 0; i < M; i++) {
                const float *xi = x + i * 2 * n_half;
                float *oi = out + i * n_half;

                if (act == CLF_ACT_GELU)
                        for (size_t j = 0; j < n_half; j++)
                                oi[j] = 0.5f * xi[j] * (1.0f + fast_erff(xi[j] * 0.70710678118654752f)) *
                                        xi[n_half + j];
                else
                        for (size_t j = 0; j < n_half; j++)
                                oi[j] = act1(xi[j], act) * xi[n_half + j];
        }
        return 0;
}

static int cpu_rope(struct clf_backend *be, float *qkv, const float *cos_t, const float *sin_t, size_t B, size_t T,
                    size_t heads, size_t hd) {
        size_t H = heads * hd, half = hd / 2;

        for (size_t b = 0; b < B; b++)
                for (size_t t = 0; t < T; t++) {
                        float *row = qkv + (b * T + t) * 3 * H;
                        const float *c = cos_t + t * half, *s = sin_t + t * half;

                        for (size_t part = 0; part < 2; part++) /* q, k */
                                for (size_t h = 0; h < heads; h++) {
                                        float *v = row + part * H + h * hd;

                                        for (size_t i = 0; i < half; i++) {
                                                float x1 = v[i], x2 = v[i + half];

                                                v[i] = x1 * c[i] - x2 * s[i];
                                                v[i + half] = x2 * c[i] + x1 * s[i];
                                        }
                                }
                }
        return 0;
}

/* Attention in blocks of QBLOCK queries: scores [QBLOCK, keys in reach]
 * (the window's band for local layers, all keys for global ones), so the
 * scratch is O(QBLOCK * T) and local layers cost O(T * window). */
#define QBLOCK 64

CLONES static int cpu_attention(struct clf_backend *be, float *out, const float *qkv, const float *mask, size_t B,
                                size_t T, size_t heads, size_t hd, size_t window) {
        struct clf_cpu *c = (struct clf_cpu *)be;
        size_t H = heads * hd, half_w = window / 2, need = QBLOCK * T;
        float scale = 1.0f / sqrtf((float)hd);

        if (need > c->scores_cap) {
                float *p = realloc(c->scores, need * sizeof *p);

                if (!p)
                        return -ENOMEM;
                c->scores = p;
                c->scores_cap = need;
        }
        for (size_t b = 0; b < B; b++) {
                const float *mb = mask + b * T;
                size_t n = T; /* keys (and the queries that matter) end at the last valid one */

                while (n > 0 && mb[n - 1] == 0.0f)
                        n--;
                for (size_t t = n; t < T; t++)
                        memset(out + (b * T + t) * H, 0, H * sizeof *out);
                if (n == 0)
                        continue;
                for (size_t i0 = 0; i0 < n; i0 += QBLOCK) {
                        size_t i1 = i0 + QBLOCK < n ? i0 + QBLOCK : n, k0 = 0, k1 = n, nk;

                        if (window) {
                                k0 = i0 > half_w ? i0 - half_w : 0;
                                k1 = i1 - 1 + half_w + 1 < n ? i1 - 1 + half_w + 1 : n;
                        }
                        nk = k1 - k0;
                        for (size_t h = 0; h < heads; h++) {
                                const float *q = qkv + (b * T + i0) * 3 * H + h * hd;
                                const float *k = qkv + (b * T + k0) * 3 * H + H + h * hd;
                                const float *v = qkv + (b * T + k0) * 3 * H + 2 * H + h * hd;
                                float *s = c->scores, *o = out + (b * T + i0) * H + h * hd;

                                gemm(true, i1 - i0, nk, hd, scale, q, 3 * H, k, 3 * H, 0.0f, s, nk);
                                for (size_t i = i0; i < i1; i++) {
                                        float *si = s + (i - i0) * nk, mx = -INFINITY, sum = 0;
                                        const float *km = mb + k0; /* 1 valid key, 0 padding */
                                        size_t j0 = 0, j1 = nk;

                                        if (window) {
                                                j0 = (i > half_w && i - half_w > k0 ? i - half_w : k0) - k0;
                                                j1 = (i + half_w + 1 < k1 ? i + half_w + 1 : k1) - k0;
                                        }
                                        for (size_t j = j0; j < j1; j++)
                                                if (km[j] != 0.0f && si[j] > mx)
                                                        mx = si[j];
                                        if (mx == -INFINITY) { /* no key to attend to */
                                                memset(si, 0, nk * sizeof *si);
                                                continue;
                                        }
                                        for (size_t j = 0; j < j0; j++)
                                                si[j] = 0.0f;
                                        for (size_t j = j1; j < nk; j++)
                                                si[j] = 0.0f;
                                        for (size_t j = j0; j < j1; j++)
                                                si[j] = fast_expf(si[j] - mx) * km[j];
                                        for (size_t j = j0; j < j1; j++)
                                                sum += si[j];
                                        sum = 1.0f / sum;
                                        for (size_t j = j0; j < j1; j++)
                                                si[j] *= sum;
                                }
                                gemm(false, i1 - i0, hd, nk, 1.0f, s, nk, v, 3 * H, 0.0f, o, H);
                        }
                }
        }
        return 0;
}

static int cpu_pool(struct clf_backend *be, float *out, const float *x, const float *mask, size_t B, size_t T, size_t H,
                    enum clf_pooling mode) {
        for (size_t b = 0; b < B; b++) {
                float *o = out + b * H, cnt = 0;

                if (mode == CLF_POOL_CLS) {
                        memcpy(o, x + b * T * H, H * sizeof *o);
                        continue;
                }
                memset(o, 0, H * sizeof *o);
                for (size_t t = 0; t < T; t++) {
                        float m = mask[b * T + t];

                        if (m == 0.0f)
                                continue;
                        cnt += m;
                        for (size_t j = 0; j < H; j++)
                                o[j] += m * x[(b * T + t) * H + j];
                }
                if (cnt > 0)
                        for (size_t j = 0; j < H; j++)
                                o[j] /= cnt;
        }
        return 0;
}

static const struct clf_backend_ops cpu_ops = {
        .name = "cpu",
        .weights_alias_host = true,
        .destroy = cpu_destroy,
        .alloc = cpu_alloc,
        .free = cpu_free,
        .upload = cpu_copy,
        .download = cpu_copy,
        .weight = cpu_weight,
        .sync = cpu_sync,
        .embed = cpu_embed,
        .matmul = cpu_matmul,
        .layernorm = cpu_layernorm,
        .add = cpu_add,
        .act = cpu_act,
        .glu = cpu_glu,
        .rope = cpu_rope,
        .attention = cpu_attention,
        .pool = cpu_pool,
};

int clf_cpu_create(const struct clf_backend_opts *opts, struct clf_backend **ret_be) {
        struct clf_cpu *c = calloc(1, sizeof *c);

        if (!c)
                return -ENOMEM;
        c->be.ops = &cpu_ops;
#if HAVE_OPENBLAS_THREADS
        if (opts && opts->threads > 0)
                openblas_set_num_threads(opts->threads);
#endif
        log_debug("classifier: CPU backend, %d BLAS threads", opts ? opts->threads : 0);
        *ret_be = &c->be;
        return 0;
}
