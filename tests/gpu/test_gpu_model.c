/* gpu suite: whole models on the CUDA backend against the CPU backend.
 * Every golden checkpoint of tests/classifier/data (BERT sequence,
 * DistilBERT token, ModernBERT sequence and token with local attention;
 * f32 / f16 / bf16 weights), in each GEMM precision:
 *   1. each golden text alone: logits and pooled embedding vs CPU (and, in
 *      f32, vs the float64 golden within the CPU test's 1e-4);
 *   2. the golden texts as one right-padded batch vs the CPU single runs;
 *   3. a batch of 13 random sequences of mixed lengths (1 .. 100 tokens,
 *      one of the full padded length) vs the CPU single runs.
 * Error: max |gpu - cpu| / max(1, max |cpu|) over the output; tolerance
 * f32 1e-4, tf32 and f16 1e-2, bf16 5e-2 (printed per checkpoint and
 * precision). Exits 77 without CUDA or a device. */
#include <stdbool.h>

#include "classifier/clf_model.h"
#include "gpu-test.h"
#include "tests/classifier/clf-test.h"

static const char *names[] = {
        "bert-seq-f32",        "bert-seq-f16",        "bert-seq-bf16",      "distilbert-tok-f32",
        "distilbert-tok-f16",  "distilbert-tok-bf16", "modernbert-seq-f32", "modernbert-seq-f16",
        "modernbert-seq-bf16", "modernbert-tok-f32",  "modernbert-tok-f16", "modernbert-tok-bf16",
};

static const double tol[] = { 1e-4, 1e-2, 1e-2, 5e-2 }; /* f32 tf32 f16 bf16, as gpu_precisions */

#define TOL_GOLDEN_F32 1e-4 /* as test_clf_model's CPU bound */
#define RB 13               /* random batch */
#define RB_MAXLEN 100

static int failures;
static double worst[GPU_N_PREC];

/* a batch and the CPU's single-sequence outputs for each of its rows */
struct case_set {
        size_t B, T;
        int32_t *ids;
        uint8_t *mask;
        size_t *len;
        float **lg, **emb; /* [B] CPU single runs */
};

static double scaled_err(const float *got, const float *ref, size_t n) {
        double m = 1;

        for (size_t i = 0; i < n; i++)
                if (fabs(ref[i]) > m)
                        m = fabs(ref[i]);
        return max_abs_diff(got, ref, n) / m;
}

static struct clf_model *load(const char *path, const char *backend) {
        struct clf_model_opts o = { .backend = backend, .threads = 1 };
        struct clf_model *m = NULL;
        int r = clf_model_load(path, &o, &m);

        if (r < 0) {
                fprintf(stderr, "%s on %s: %s\n", path, backend, strerror(-r));
                exit(1);
        }
        return m;
}

static void fill_cpu(struct clf_model *cpu, struct case_set *cs) {
        size_t H = clf_model_config(cpu)->hidden;

        cs->lg = calloc(cs->B, sizeof *cs->lg);
        cs->emb = calloc(cs->B, sizeof *cs->emb);
        check(cs->lg && cs->emb);
        for (size_t b = 0; b < cs->B; b++) {
                struct clf_batch in = { .B = 1, .T = cs->len[b] ? cs->len[b] : 1, .ids = cs->ids + b * cs->T };

                cs->lg[b] = malloc((clf_model_logits_size(cpu, 1, in.T) + 1) * sizeof(float));
                cs->emb[b] = malloc(H * sizeof(float));
                check(cs->lg[b] && cs->emb[b]);
                check_eq(clf_model_forward(cpu, &in, cs->lg[b], cs->emb[b]), 0);
        }
}

static void free_cases(struct case_set *cs) {
        for (size_t b = 0; b < cs->B; b++) {
                free(cs->lg[b]);
                free(cs->emb[b]);
        }
        free(cs->lg);
        free(cs->emb);
        free(cs->ids);
        free(cs->mask);
        free(cs->len);
}

static void alloc_cases(struct case_set *cs, size_t B, size_t T) {
        cs->B = B;
        cs->T = T;
        cs->ids = calloc(B * T, sizeof *cs->ids);
        cs->mask = calloc(B * T, 1);
        cs->len = calloc(B, sizeof *cs->len);
        check(cs->ids && cs->mask && cs->len);
}

/* the batch on gpu vs the CPU single runs; returns the scaled error */
static double batch_err(struct clf_model *gpu, const struct case_set *cs) {
        const struct clf_config *c = clf_model_config(gpu);
        size_t L = c->num_labels, H = c->hidden;
        float *lg = malloc(clf_model_logits_size(gpu, cs->B, cs->T) * sizeof *lg),
              *emb = malloc(cs->B * H * sizeof *emb);
        struct clf_batch in = { .B = cs->B, .T = cs->T, .ids = cs->ids, .mask = cs->mask };
        double e = 0;

        check(lg && emb);
        check_eq(clf_model_forward(gpu, &in, lg, emb), 0);
        for (size_t b = 0; b < cs->B; b++) {
                double d;

                if (cs->len[b] == 0)
                        continue;
                if (c->task == CLF_TASK_SEQUENCE)
                        d = scaled_err(lg + b * L, cs->lg[b], L);
                else
                        d = scaled_err(lg + b * cs->T * L, cs->lg[b], cs->len[b] * L);
                if (d > e)
                        e = d;
                d = scaled_err(emb + b * H, cs->emb[b], H);
                if (d > e)
                        e = d;
        }
        free(lg);
        free(emb);
        return e;
}

static void run_one(const char *data, const char *name) {
        struct clf_model *cpu;
        const struct clf_config *c;
        struct case_set gold, rnd;
        struct golden g;
        char path[512];
        size_t T = 0;

        snprintf(path, sizeof path, "%s/%s.golden", data, name);
        golden_load(path, &g);
        snprintf(path, sizeof path, "%s/%s", data, name);
        cpu = load(path, "cpu");
        c = clf_model_config(cpu);

        /* the golden texts, one right-padded batch */
        for (size_t i = 0; i < g.n; i++)
                if (g.c[i].n_ids > T)
                        T = g.c[i].n_ids;
        alloc_cases(&gold, g.n, T);
        for (size_t i = 0; i < g.n; i++) {
                gold.len[i] = g.c[i].n_ids;
                for (size_t k = 0; k < T; k++) {
                        gold.ids[i * T + k] =
                                k < g.c[i].n_ids ? g.c[i].ids[k] : (int32_t)(c->pad_id >= 0 ? c->pad_id : 0);
                        gold.mask[i * T + k] = k < g.c[i].n_ids;
                }
        }
        fill_cpu(cpu, &gold);

        /* random ids, mixed lengths; row 0 has the full padded length */
        T = RB_MAXLEN < c->max_pos ? RB_MAXLEN : c->max_pos;
        alloc_cases(&rnd, RB, T);
        for (size_t b = 0; b < RB; b++) {
                rnd.len[b] = b == 0 ? T : 1 + (size_t)(gpu_uniform(0, 1) * (float)(T - 1));
                for (size_t k = 0; k < T; k++) {
                        rnd.ids[b * T + k] =
                                (int32_t)(gpu_uniform(0, 1) * (float)c->vocab_size) % (int32_t)c->vocab_size;
                        rnd.mask[b * T + k] = k < rnd.len[b];
                }
        }
        fill_cpu(cpu, &rnd);

        for (size_t p = 0; p < GPU_N_PREC; p++) {
                struct clf_model *gpu;
                double e_single = 0, e_golden = 0, e_gbatch, e_rbatch, e;

                setenv("SWITCHYARD_CLF_PRECISION", clf_precision_name(gpu_precisions[p]), 1);
                gpu = load(path, "cuda");
                check(strcmp(clf_model_backend(gpu), "cuda") == 0);
                for (size_t i = 0; i < g.n; i++) {
                        size_t nl = clf_model_logits_size(gpu, 1, g.c[i].n_ids), H = c->hidden;
                        float *lg = malloc(nl * sizeof *lg), *emb = malloc(H * sizeof *emb);
                        struct clf_batch in = { .B = 1, .T = g.c[i].n_ids, .ids = g.c[i].ids };

                        check(lg && emb);
                        check_eq(clf_model_forward(gpu, &in, lg, emb), 0);
                        e = scaled_err(lg, gold.lg[i], nl);
                        e_single = e > e_single ? e : e_single;
                        e = scaled_err(emb, gold.emb[i], H);
                        e_single = e > e_single ? e : e_single;
                        e = max_abs_diff(lg, g.c[i].logits, nl);
                        e_golden = e > e_golden ? e : e_golden;
                        e = max_abs_diff(emb, g.c[i].embedding, H);
                        e_golden = e > e_golden ? e : e_golden;
                        free(lg);
                        free(emb);
                }
                e_gbatch = batch_err(gpu, &gold);
                e_rbatch = batch_err(gpu, &rnd);
                e = e_single > e_gbatch ? e_single : e_gbatch;
                e = e > e_rbatch ? e : e_rbatch;
                printf("%-22s %-5s single %.2e  golden batch %.2e  mixed batch (%d, T %zu) %.2e  |-golden| %.2e  "
                       "(tolerance %.0e)%s\n",
                       name, clf_precision_name(gpu_precisions[p]), e_single, e_gbatch, RB, rnd.T, e_rbatch, e_golden,
                       tol[p], e > tol[p] ? "  FAIL" : "");
                if (!(e <= tol[p]))
                        failures++;
                if (gpu_precisions[p] == CLF_PREC_F32 && !(e_golden <= TOL_GOLDEN_F32)) {
                        printf("%-22s f32 vs golden %.2e beyond %.0e  FAIL\n", name, e_golden, TOL_GOLDEN_F32);
                        failures++;
                }
                if (e > worst[p])
                        worst[p] = e;
                clf_model_free(gpu);
        }
        free_cases(&gold);
        free_cases(&rnd);
        clf_model_free(cpu);
        golden_free(&g);
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
                return 2;
        }
        clf_backend_destroy(gpu_backend_or_skip(CLF_PREC_F32)); /* or exit 77 */
        for (size_t i = 0; i < sizeof names / sizeof *names; i++)
                run_one(argv[1], names[i]);
        for (size_t p = 0; p < GPU_N_PREC; p++)
                printf("all checkpoints, %-5s: worst %.2e (tolerance %.0e)\n", clf_precision_name(gpu_precisions[p]),
                       worst[p], tol[p]);
        unsetenv("SWITCHYARD_CLF_PRECISION");
        if (failures) {
                fprintf(stderr, "%d checkpoint/precision pair(s) beyond tolerance\n", failures);
                return 1;
        }
        return 0;
}
