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

#if HAVE_CBLAS
#include <cblas.h>
#if HAVE_OPENBLAS_THREADS
void openblas_set_num_threads(int num_threads);
#endif
/* C[M, N] = alpha A[M, K] . op(B) + beta C; op(B) = B^T ([N, K]) or B ([K, N]) */
static void gemm(bool trans_b, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                 const float *B, size_t ldb, float beta, float *C, size_t ldc) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K,
                    alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}
#else
/* no BLAS: plain loops (correct, slow) */
static void gemm(bool trans_b, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                 const float *B, size_t ldb, float beta, float *C, size_t ldc) {
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
        float *scores;          /* attention scratch [T, T] */
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

static int cpu_embed(struct clf_backend *be, float *out, const float *table, const int32_t *ids, size_t n,
                     size_t dim, bool accumulate) {
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

static int cpu_matmul(struct clf_backend *be, float *out, const float *x, const float *w, const float *bias,
                      size_t M, size_t N, size_t K) {
        if (bias)
                for (size_t i = 0; i < M; i++)
                        memcpy(out + i * N, bias, N * sizeof *out);
        gemm(true, M, N, K, 1.0f, x, K, w, K, bias ? 1.0f : 0.0f, out, N);
        return 0;
}

static int cpu_layernorm(struct clf_backend *be, float *out, const float *x, const float *w, const float *b,
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

static int cpu_add(struct clf_backend *be, float *out, const float *x, size_t n) {
        for (size_t i = 0; i < n; i++)
                out[i] += x[i];
        return 0;
}

static inline float act1(float v, enum clf_act act) {
        switch (act) {
        case CLF_ACT_GELU:
                return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
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

static int cpu_act(struct clf_backend *be, float *x, size_t n, enum clf_act act) {
        for (size_t i = 0; i < n; i++)
                x[i] = act1(x[i], act);
        return 0;
}

static int cpu_glu(struct clf_backend *be, float *out, const float *x, size_t M, size_t n_half, enum clf_act act) {
        for (size_t i = 0; i < M; i++) {
                const float *xi = x + i * 2 * n_half;
                float *oi = out + i * n_half;

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

                        for (size_t part = 0; part < 2; part++)      /* q, k */
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

static int cpu_attention(struct clf_backend *be, float *out, const float *qkv, const float *mask, size_t B,
                         size_t T, size_t heads, size_t hd, size_t window) {
        struct clf_cpu *c = (struct clf_cpu *)be;
        size_t H = heads * hd, half_w = window / 2;
        float scale = 1.0f / sqrtf((float)hd);

        if (T * T > c->scores_cap) {
                float *p = realloc(c->scores, T * T * sizeof *p);

                if (!p)
                        return -ENOMEM;
                c->scores = p;
                c->scores_cap = T * T;
        }
        for (size_t b = 0; b < B; b++) {
                const float *mb = mask + b * T;
                size_t n = T;   /* keys (and the queries that matter) end at the last valid one */

                while (n > 0 && mb[n - 1] == 0.0f)
                        n--;
                for (size_t t = n; t < T; t++)
                        memset(out + (b * T + t) * H, 0, H * sizeof *out);
                if (n == 0)
                        continue;
                for (size_t h = 0; h < heads; h++) {
                        const float *q = qkv + b * T * 3 * H + h * hd, *k = q + H, *v = q + 2 * H;
                        float *s = c->scores, *o = out + b * T * H + h * hd;

                        gemm(true, n, n, hd, scale, q, 3 * H, k, 3 * H, 0.0f, s, n);
                        for (size_t i = 0; i < n; i++) {
                                float *si = s + i * n, mx = -INFINITY, sum = 0;
                                size_t j0 = 0, j1 = n;

                                if (window) {
                                        j0 = i > half_w ? i - half_w : 0;
                                        j1 = i + half_w + 1 < n ? i + half_w + 1 : n;
                                }
                                for (size_t j = 0; j < n; j++)
                                        if (j < j0 || j >= j1 || mb[j] == 0.0f)
                                                si[j] = -INFINITY;
                                        else if (si[j] > mx)
                                                mx = si[j];
                                if (mx == -INFINITY) {
                                        memset(si, 0, n * sizeof *si);
                                        continue;
                                }
                                for (size_t j = 0; j < n; j++) {
                                        float e = si[j] == -INFINITY ? 0.0f : expf(si[j] - mx);

                                        si[j] = e;
                                        sum += e;
                                }
                                for (size_t j = 0; j < n; j++)
                                        si[j] /= sum;
                        }
                        gemm(false, n, hd, n, 1.0f, s, n, v, 3 * H, 0.0f, o, H);
                }
        }
        return 0;
}

static int cpu_pool(struct clf_backend *be, float *out, const float *x, const float *mask, size_t B, size_t T,
                    size_t H, enum clf_pooling mode) {
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
