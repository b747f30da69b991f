/* gpu suite: every op of the CUDA backend against the CPU backend (the
 * oracle) on random inputs, several shapes (odd sizes, padding masks,
 * fully padded sequences, local windows, more (sequence, head) pairs than
 * one scores chunk holds), in each GEMM precision. Prints the error of
 * every case; exits 77 when built without CUDA or without a device.
 *
 * Tolerances (inputs uniform in [-1, 1] unless said):
 * - matmul: |gpu - cpu| <= (2u + u^2 + (2K + 4) 2^-24) (sum_k |x_ik w_jk| + |b_j|)
 *   + 1e-6 element by element, u the unit roundoff of the operands
 *   (f32 0, tf32 2^-10, f16 2^-11, bf16 2^-8): the rounding of both
 *   operands plus f32 accumulation in any order on either side. Printed as
 *   the worst ratio error / bound (must be <= 1).
 * - attention (outputs are convex combinations of v): max abs error f32
 *   2e-5, tf32 and f16 2e-3, bf16 1.5e-2 (a float64 simulation of the
 *   roundings gives 2.3e-4, 2.4e-4, 1.7e-3 on these shapes).
 * - the f32 ops (embed, add: exact; layernorm 1e-5, act and glu 5e-6,
 *   rope 2e-6, pool 1e-6: max |diff| / max(|ref|, 1)); the CPU's erf and
 *   exp are polynomial approximations (~2e-7), the GPU's libdevice ones. */
#include <limits.h>
#include <stdbool.h>

#include "gpu-test.h"

static struct clf_backend *cpu, *gpu[GPU_N_PREC];
static int failures;

static const char *pname(size_t p) {
        return clf_precision_name(gpu_precisions[p]);
}

static void report(const char *op, const char *shape, const char *prec, const char *what, double v, double tol) {
        bool bad = !(v <= tol);

        printf("%-10s %-34s %-5s %s %.3e (tolerance %.1e)%s\n", op, shape, prec, what, v, tol, bad ? "  FAIL" : "");
        if (bad)
                failures++;
}

static void *dev_copy(struct clf_backend *be, const void *host, size_t bytes) {
        void *p = NULL;

        check_eq(be->ops->alloc(be, bytes, &p), 0);
        check_eq(be->ops->upload(be, p, host, bytes), 0);
        return p;
}

static float *host_back(struct clf_backend *be, const float *dev, size_t n) {
        float *h = malloc((n ? n : 1) * sizeof *h);

        check(h);
        check_eq(be->ops->download(be, h, dev, n * sizeof *h), 0);
        check_eq(be->ops->sync(be), 0);
        return h;
}

static float *rnd(size_t n, float lo, float hi) {
        float *x = malloc((n ? n : 1) * sizeof *x);

        check(x);
        gpu_fill(x, n, lo, hi);
        return x;
}

/* ---- memory ---- */

static void t_memory(struct clf_backend *be) {
        static const size_t sizes[] = { 1, 3, (1u << 20) + 5, (100u << 20) + 7 };
        size_t bad = 0;

        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
                size_t n = sizes[s];
                unsigned char *h = malloc(n), *back = malloc(n);
                void *d = NULL;

                check(h && back);
                for (size_t i = 0; i < n; i++)
                        h[i] = (unsigned char)(i * 131 + s);
                check_eq(be->ops->alloc(be, n, &d), 0);
                check_eq(be->ops->upload(be, d, h, n), 0);
                memset(back, 0, n);
                check_eq(be->ops->download(be, back, d, n), 0);
                if (memcmp(h, back, n) != 0)
                        bad++;
                be->ops->free(be, d);
                free(h);
                free(back);
        }
        /* many small uploads queued before any synchronization: each must
         * land (the staging space is reused only after the copies ran) */
        {
                size_t n = 3000, each = 1000;
                unsigned char *h = malloc(n * each), *back = malloc(n * each);
                void *d = NULL;

                check(h && back);
                check_eq(be->ops->alloc(be, n * each, &d), 0);
                for (size_t i = 0; i < n; i++) {
                        memset(h + i * each, (int)(i & 0xff), each);
                        check_eq(be->ops->upload(be, (unsigned char *)d + i * each, h + i * each, each), 0);
                        memset(h + i * each, 0xee, 1); /* the caller may reuse its buffer at once */
                        h[i * each] = (unsigned char)(i & 0xff);
                }
                check_eq(be->ops->download(be, back, d, n * each), 0);
                if (memcmp(h, back, n * each) != 0)
                        bad++;
                be->ops->free(be, d);
                free(h);
                free(back);
        }
        report("memory", "upload/download 1 B .. 100 MiB", "-", "mismatches", (double)bad, 0);
}

/* ---- matmul ---- */

static double unit_roundoff(enum clf_precision p) {
        switch (p) {
        case CLF_PREC_TF32:
                return ldexp(1.0, -10);
        case CLF_PREC_F16:
                return ldexp(1.0, -11);
        case CLF_PREC_BF16:
                return ldexp(1.0, -8);
        default:
                return 0;
        }
}

static void t_matmul(size_t M, size_t N, size_t K, bool with_bias, bool as_weight) {
        float *x = rnd(M * K, -1, 1), *w = rnd(N * K, -1, 1), *b = rnd(N, -1, 1), *ref = malloc(M * N * sizeof *ref);
        double *mag = malloc(M * N * sizeof *mag);
        char shape[64];

        check(ref && mag);
        snprintf(shape, sizeof shape, "M %zu N %zu K %zu%s%s", M, N, K, with_bias ? " +b" : "",
                 as_weight ? " weight()" : " alloc()");
        check_eq(cpu->ops->matmul(cpu, ref, x, w, with_bias ? b : NULL, M, N, K), 0);
        for (size_t i = 0; i < M; i++)
                for (size_t j = 0; j < N; j++) {
                        double s = with_bias ? fabs(b[j]) : 0;

                        for (size_t k = 0; k < K; k++)
                                s += fabs((double)x[i * K + k] * w[j * K + k]);
                        mag[i * N + j] = s;
                }
        for (size_t p = 0; p < GPU_N_PREC; p++) {
                struct clf_backend *be = gpu[p];
                double u = unit_roundoff(gpu_precisions[p]), c = 2 * u + u * u + (2.0 * K + 4) * ldexp(1.0, -24);
                float *dx = dev_copy(be, x, M * K * sizeof *x), *dw, *db = NULL, *dout, *got, *again;
                double worst = 0;

                if (as_weight) {
                        check_eq(be->ops->weight(be, w, N * K, &dw), 0);
                        if (with_bias)
                                check_eq(be->ops->weight(be, b, N, &db), 0);
                } else {
                        dw = dev_copy(be, w, N * K * sizeof *w);
                        if (with_bias)
                                db = dev_copy(be, b, N * sizeof *b);
                }
                check_eq(be->ops->alloc(be, M * N * sizeof *dout, (void **)&dout), 0);
                check_eq(be->ops->matmul(be, dout, dx, dw, db, M, N, K), 0);
                got = host_back(be, dout, M * N);
                /* a second run (the weight's low-precision copy now exists) gives the same */
                check_eq(be->ops->matmul(be, dout, dx, dw, db, M, N, K), 0);
                again = host_back(be, dout, M * N);
                for (size_t i = 0; i < M * N; i++) {
                        double r = fabs((double)got[i] - ref[i]) / (c * mag[i] + 1e-6);

                        if (!(r <= worst))
                                worst = isnan(r) ? INFINITY : r;
                }
                report("matmul", shape, pname(p), "error/bound", worst, 1.0);
                report("matmul", shape, pname(p), "run 2 - run 1", gpu_compare(again, got, M * N, 1).abs, 0);
                be->ops->free(be, dx);
                be->ops->free(be, dw);
                be->ops->free(be, db);
                be->ops->free(be, dout);
                free(got);
                free(again);
        }
        free(x);
        free(w);
        free(b);
        free(ref);
        free(mag);
}

/* ---- attention ---- */

enum mask_kind { MASK_FULL, MASK_PAD, MASK_HOLES };

static void make_mask(float *mask, size_t B, size_t T, enum mask_kind kind) {
        for (size_t b = 0; b < B; b++) {
                /* PAD: lengths T, then shorter ones, one empty sequence when B >= 3 */
                size_t len = kind == MASK_PAD ? (b == 2 ? 0 : T - (b * T) / (B + 1)) : T;

                for (size_t t = 0; t < T; t++) {
                        float v = t < len ? 1.0f : 0.0f;

                        if (kind == MASK_HOLES) /* left padding, holes, a padded tail */
                                v = (t < 2 || t + 3 >= T || gpu_uniform(0, 1) < 0.2f) ? 0.0f : 1.0f;
                        mask[b * T + t] = v;
                }
        }
}

static void t_attention(size_t B, size_t T, size_t heads, size_t hd, size_t window, enum mask_kind kind, float amp) {
        static const double tol[] = { 2e-5, 2e-3, 2e-3, 1.5e-2 }; /* f32 tf32 f16 bf16 */
        size_t H = heads * hd, n = B * T * 3 * H;
        float *qkv = rnd(n, -amp, amp), *mask = malloc(B * T * sizeof *mask), *ref = malloc(B * T * H * sizeof *ref);
        static const char *kinds[] = { "full", "padded", "holes" };
        char shape[64];

        check(mask && ref);
        make_mask(mask, B, T, kind);
        snprintf(shape, sizeof shape, "B %zu T %zu h %zu hd %zu w %zu %s%s", B, T, heads, hd, window, kinds[kind],
                 amp != 1.0f ? " x4" : "");
        check_eq(cpu->ops->attention(cpu, ref, qkv, mask, B, T, heads, hd, window), 0);
        for (size_t p = 0; p < GPU_N_PREC; p++) {
                struct clf_backend *be = gpu[p];
                float *dq = dev_copy(be, qkv, n * sizeof *qkv), *dm = dev_copy(be, mask, B * T * sizeof *mask), *dout;
                float *got;
                struct gpu_err e;

                check_eq(be->ops->alloc(be, B * T * H * sizeof *dout, (void **)&dout), 0);
                check_eq(be->ops->attention(be, dout, dq, dm, B, T, heads, hd, window), 0);
                got = host_back(be, dout, B * T * H);
                e = gpu_compare(got, ref, B * T * H, 1);
                /* large scores (x4) are judged in f32 only: the kernels' logic, not the roundings */
                if (amp == 1.0f || gpu_precisions[p] == CLF_PREC_F32)
                        report("attention", shape, pname(p), "max abs", e.abs, tol[p]);
                else
                        printf("%-10s %-34s %-5s max abs %.3e (not judged)\n", "attention", shape, pname(p), e.abs);
                be->ops->free(be, dq);
                be->ops->free(be, dm);
                be->ops->free(be, dout);
                free(got);
        }
        free(qkv);
        free(mask);
        free(ref);
}

/* ---- the f32 ops: same result in every precision; checked on each backend ---- */

static void t_embed(size_t vocab, size_t n, size_t dim) {
        float *t1 = rnd(vocab * dim, -1, 1), *t2 = rnd(vocab * dim, -1, 1), *ref = malloc(n * dim * sizeof *ref);
        int32_t *ids = malloc(n * sizeof *ids);
        char shape[64];

        check(ref && ids);
        for (size_t i = 0; i < n; i++)
                ids[i] = (int32_t)(gpu_uniform(0, 1) * (float)vocab) % (int32_t)vocab;
        snprintf(shape, sizeof shape, "vocab %zu n %zu dim %zu", vocab, n, dim);
        check_eq(cpu->ops->embed(cpu, ref, t1, ids, n, dim, false), 0);
        check_eq(cpu->ops->embed(cpu, ref, t2, ids, n, dim, true), 0);
        for (size_t p = 0; p < GPU_N_PREC; p++) {
                struct clf_backend *be = gpu[p];
                float *d1, *d2, *dout, *got;
                int32_t *di = dev_copy(be, ids, n * sizeof *ids);

                check_eq(be->ops->weight(be, t1, vocab * dim, &d1), 0);
                check_eq(be->ops->weight(be, t2, vocab * dim, &d2), 0);
                check_eq(be->ops->alloc(be, n * dim * sizeof *dout, (void **)&dout), 0);
                check_eq(be->ops->embed(be, dout, d1, di, n, dim, false), 0);
                check_eq(be->ops->embed(be, dout, d2, di, n, dim, true), 0);
                got = host_back(be, dout, n * dim);
                report("embed", shape, pname(p), "max abs", gpu_compare(got, ref, n * dim, 1).abs, 0);
                be->ops->free(be, d1);
                be->ops->free(be, d2);
                be->ops->free(be, di);
                be->ops->free(be, dout);
                free(got);
        }
        free(t1);
        free(t2);
        free(ref);
        free(ids);
}

static void t_layernorm(size_t M, size_t N, bool bias, float eps) {
        float *x = rnd(M * N, 2, 8), *w = rnd(N, -2, 2), *b = rnd(N, -1, 1), *ref = malloc(M * N * sizeof *ref);
        char shape[64];

        check(ref);
        snprintf(shape, sizeof shape, "M %zu N %zu%s eps %.0e", M, N, bias ? " +b" : "", (double)eps);
        check_eq(cpu->ops->layernorm(cpu, ref, x, w, bias ? b : NULL, M, N, eps), 0);
        for (size_t p = 0; p < GPU_N_PREC; p++) {
                struct clf_backend *be = gpu[p];
                float *dx = dev_copy(be, x, M * N * sizeof *x), *dw = dev_copy(be, w, N * sizeof *w);
                float *db = bias ? dev_copy(be, b, N * sizeof *b) : NULL, *got;

                /* in place, as the model uses it */
                check_eq(be->ops->layernorm(be, dx, dx, dw, db, M, N, eps), 0);
                got = host_back(be, dx, M * N);
                report("layernorm", shape, pname(p), "max rel", gpu_compare(got, ref, M * N, 1).rel, 1e-5);
                be->ops->free(be, dx);
                be->ops->free(be, dw);
                be->ops->free(be, db);
                free(got);
        }
        free(x);
        free(w);
        free(b);
        free(ref);
}

static void t_add(size_t n) {
        float *a = rnd(n, -1, 1), *x = rnd(n, -1, 1), *ref = malloc(n * sizeof *ref);
        char shape[64];

        check(ref);
        memcpy(ref, a, n * sizeof *ref);
        snprintf(shape, sizeof shape, "n %zu", n);
        check_eq(cpu->ops->add(cpu, ref, x, n), 0);
        for (size_t p = 0; p < GPU_N_PREC; p++) {
                struct clf_backend *be = gpu[p];
                float *da = dev_copy(be, a, n * sizeof *a), *dx = dev_copy(be, x, n * sizeof *x), *got;

                check_eq(be->ops->add(be, da, dx, n), 0);
                got = host_back(be, da, n);
                report("add", shape, pname(p), "max abs", gpu_compare(got, ref, n, 1).abs, 0);
                be->ops->free(be, da);
                be->ops->free(be, dx);
                free(got);
        }
        free(a);
        free(x);
        free(ref);
}

static const char *act_names[] = { "gelu", "gelu_tanh", "relu", "silu", "tanh" };

static void t_act(size_t n, enum clf_act act) {
        float *x = rnd(n, -8, 8), *ref = malloc(n * sizeof *ref);
        char shape[64];

        check(ref);
        memcpy(ref, x, n * sizeof *ref);
        snprintf(shape, sizeof shape, "n %zu %s", n, act_names[act]);
        check_eq(cpu->ops->act(cpu, ref, n, act), 0);
        for (size_t p = 0; p < GPU_N_PREC; p++) {
                struct clf_backend *be = gpu[p];
                float *dx = dev_copy(be, x, n * sizeof *x), *got;

                check_eq(be->ops->act(be, dx, n, act), 0);
                got = host_back(be, dx, n);
                report("act", shape, pname(p), "max rel", gpu_compare(got, ref, n, 1).rel, 5e-6);
                be->ops->free(be, dx);
                free(got);
        }
        free(x);
        free(ref);
}

static void t_glu(size_t M, size_t nh, enum clf_act act) {
        float *x = rnd(M * 2 * nh, -4, 4), *ref = malloc(M * nh * sizeof *ref);
        char shape[64];

        check(ref);
        snprintf(shape, sizeof shape, "M %zu n %zu %s", M, nh, act_names[act]);
        check_eq(cpu->ops->glu(cpu, ref, x, M, nh, act), 0);
        for (size_t p = 0; p < GPU_N_PREC; p++) {
                struct clf_backend *be = gpu[p];
                float *dx = dev_copy(be, x, M * 2 * nh * sizeof *x), *dout, *got;

                check_eq(be->ops->alloc(be, M * nh * sizeof *dout, (void **)&dout), 0);
                check_eq(be->ops->glu(be, dout, dx, M, nh, act), 0);
                got = host_back(be, dout, M * nh);
                report("glu", shape, pname(p), "max rel", gpu_compare(got, ref, M * nh, 1).rel, 5e-6 * 4);
                be->ops->free(be, dx);
                be->ops->free(be, dout);
                free(got);
        }
        free(x);
        free(ref);
}

static void t_rope(size_t B, size_t T, size_t heads, size_t hd) {
        size_t n = B * T * 3 * heads * hd, half = hd / 2, max_t = T + 3;
        float *qkv = rnd(n, -1, 1), *cs = rnd(max_t * (half ? half : 1), -1, 1),
              *sn = rnd(max_t * (half ? half : 1), -1, 1);
        float *ref = malloc(n * sizeof *ref);
        char shape[64];

        check(ref);
        memcpy(ref, qkv, n * sizeof *ref);
        snprintf(shape, sizeof shape, "B %zu T %zu h %zu hd %zu", B, T, heads, hd);
        check_eq(cpu->ops->rope(cpu, ref, cs, sn, B, T, heads, hd), 0);
        for (size_t p = 0; p < GPU_N_PREC; p++) {
                struct clf_backend *be = gpu[p];
                size_t tn = max_t * (half ? half : 1);
                float *dq = dev_copy(be, qkv, n * sizeof *qkv), *dc = dev_copy(be, cs, tn * sizeof *cs);
                float *ds = dev_copy(be, sn, tn * sizeof *sn), *got;

                check_eq(be->ops->rope(be, dq, dc, ds, B, T, heads, hd), 0);
                got = host_back(be, dq, n);
                report("rope", shape, pname(p), "max rel", gpu_compare(got, ref, n, 1).rel, 2e-6);
                be->ops->free(be, dq);
                be->ops->free(be, dc);
                be->ops->free(be, ds);
                free(got);
        }
        free(qkv);
        free(cs);
        free(sn);
        free(ref);
}

static void t_pool(size_t B, size_t T, size_t H, enum clf_pooling mode) {
        float *x = rnd(B * T * H, -1, 1), *mask = malloc(B * T * sizeof *mask), *ref = malloc(B * H * sizeof *ref);
        char shape[64];

        check(mask && ref);
        make_mask(mask, B, T, MASK_PAD);
        snprintf(shape, sizeof shape, "B %zu T %zu H %zu %s", B, T, H, mode == CLF_POOL_CLS ? "cls" : "mean");
        check_eq(cpu->ops->pool(cpu, ref, x, mask, B, T, H, mode), 0);
        for (size_t p = 0; p < GPU_N_PREC; p++) {
                struct clf_backend *be = gpu[p];
                float *dx = dev_copy(be, x, B * T * H * sizeof *x), *dm = dev_copy(be, mask, B * T * sizeof *mask);
                float *dout, *got;

                check_eq(be->ops->alloc(be, B * H * sizeof *dout, (void **)&dout), 0);
                check_eq(be->ops->pool(be, dout, dx, dm, B, T, H, mode), 0);
                got = host_back(be, dout, B * H);
                report("pool", shape, pname(p), "max rel", gpu_compare(got, ref, B * H, 1).rel, 1e-6);
                be->ops->free(be, dx);
                be->ops->free(be, dm);
                be->ops->free(be, dout);
                free(got);
        }
        free(x);
        free(mask);
        free(ref);
}

int main(void) {
        struct clf_backend_opts co = { .threads = 1 };

        for (size_t p = 0; p < GPU_N_PREC; p++)
                gpu[p] = gpu_backend_or_skip(gpu_precisions[p]);
        check_eq(clf_backend_create("cpu", &co, &cpu), 0);

        t_memory(gpu[0]);

        /* refused sizes leave everything alone */
        check_eq(gpu[0]->ops->matmul(gpu[0], NULL, NULL, NULL, NULL, (size_t)INT_MAX + 1, 1, 1), -EINVAL);

        {
                static const size_t mm[][3] = {
                        { 1, 1, 1 },    { 1, 2, 768 },     { 3, 5, 7 },        { 17, 33, 65 },
                        { 64, 96, 32 }, { 130, 200, 300 }, { 128, 2304, 768 }, { 257, 768, 3072 },
                };

                for (size_t i = 0; i < sizeof mm / sizeof *mm; i++)
                        t_matmul(mm[i][0], mm[i][1], mm[i][2], i % 3 != 0, i % 2 == 0);
        }

        t_attention(1, 1, 1, 8, 0, MASK_FULL, 1);
        t_attention(2, 7, 3, 16, 0, MASK_PAD, 1);
        t_attention(3, 37, 4, 32, 0, MASK_PAD, 1);
        t_attention(2, 33, 2, 64, 0, MASK_HOLES, 1);
        t_attention(2, 130, 12, 64, 0, MASK_PAD, 1);
        t_attention(4, 128, 12, 64, 0, MASK_PAD, 4);
        t_attention(2, 100, 2, 64, 16, MASK_PAD, 1);
        t_attention(3, 300, 4, 32, 128, MASK_PAD, 1);
        t_attention(2, 61, 2, 16, 10, MASK_HOLES, 4);
        t_attention(1, 8192, 2, 32, 0, MASK_FULL, 1); /* one pair per scores chunk */

        t_embed(50, 1, 1);
        t_embed(50, 17, 33);
        t_embed(300, 300, 768);

        t_layernorm(1, 1, true, 1e-12f);
        t_layernorm(3, 7, false, 1e-5f);
        t_layernorm(130, 768, true, 1e-12f);
        t_layernorm(5, 1000, true, 1e-5f);

        t_add(1);
        t_add(12345);

        for (int a = 0; a < 5; a++) {
                t_act(1, (enum clf_act)a);
                t_act(100003, (enum clf_act)a);
                t_glu(7, 33, (enum clf_act)a);
        }
        t_glu(130, 1152, CLF_ACT_GELU);

        t_rope(1, 1, 1, 2);
        t_rope(2, 17, 3, 16);
        t_rope(3, 130, 12, 64);
        t_rope(1, 5, 2, 7);

        t_pool(1, 1, 1, CLF_POOL_CLS);
        t_pool(4, 33, 65, CLF_POOL_MEAN);
        t_pool(5, 130, 768, CLF_POOL_MEAN);
        t_pool(5, 130, 768, CLF_POOL_CLS);

        for (size_t p = 0; p < GPU_N_PREC; p++)
                clf_backend_destroy(gpu[p]);
        clf_backend_destroy(cpu);
        if (failures) {
                fprintf(stderr, "%d case(s) beyond tolerance\n", failures);
                return 1;
        }
        printf("all ops within tolerance\n");
        return 0;
}
