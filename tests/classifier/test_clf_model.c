/* Every checkpoint under data/ (BERT sequence, DistilBERT token, ModernBERT
 * sequence and token classification; f32, f16, bf16) against the golden
 * outputs of the PyTorch reference (tools/classifier/ref.py, float64):
 * token ids, logits, pooled embedding; then the same texts as one padded
 * batch must give the single-sequence results.
 *
 * Tolerance: the engine computes in f32 from the stored weights (converted
 * at load), the reference in float64 from the same weights, so the bound
 * is the same for every dtype: max |diff| <= 1e-4 on logits and embedding
 * (printed per checkpoint); batch vs single: <= 1e-5. */
#include <stdbool.h>

#include "clf-test.h"

#define TOL_GOLDEN 1e-4
#define TOL_BATCH 1e-5

static const char *names[] = {
        "bert-seq-f32",        "bert-seq-f16",        "bert-seq-bf16",      "distilbert-tok-f32",
        "distilbert-tok-f16",  "distilbert-tok-bf16", "modernbert-seq-f32", "modernbert-seq-f16",
        "modernbert-seq-bf16", "modernbert-tok-f32",  "modernbert-tok-f16", "modernbert-tok-bf16",
};

static double worst_logits, worst_emb, worst_batch;

static void run_one(const char *data, const char *name) {
        struct clf_model *m = NULL;
        struct clf_tokenizer *t = NULL;
        const struct clf_config *c;
        struct golden g;
        char path[512];
        double dl = 0, de = 0, db = 0;
        size_t T = 0, L;
        float **single_logits, *lg;
        int r;

        snprintf(path, sizeof path, "%s/%s.golden", data, name);
        golden_load(path, &g);
        snprintf(path, sizeof path, "%s/%s", data, name);
        if ((r = clf_model_load(path, NULL, &m)) < 0 || (r = clf_tokenizer_load(path, &t)) < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                exit(1);
        }
        c = clf_model_config(m);
        L = c->num_labels;
        check(c->task != CLF_TASK_EMBEDDING);
        single_logits = golden_run_each(m, t, &g, &T, &dl, &de);

        /* all texts as one right-padded batch */
        lg = golden_run_batch(m, t, &g, T);
        for (size_t i = 0; i < g.n; i++) {
                double d;

                if (c->task == CLF_TASK_SEQUENCE)
                        d = max_abs_diff(lg + i * L, single_logits[i], L);
                else /* token logits of the real tokens */
                        d = max_abs_diff(lg + i * T * L, single_logits[i], g.c[i].n_ids * L);
                if (d > db)
                        db = d;
        }
        free(lg);
        printf("%-22s %-10s %zu texts: max |logits - golden| %.2e, |embedding - golden| %.2e, "
               "|batch - single| %.2e\n",
               name, clf_arch_name(c->arch), g.n, dl, de, db);
        if (dl > TOL_GOLDEN || de > TOL_GOLDEN || db > TOL_BATCH) {
                fprintf(stderr, "%s: beyond tolerance (golden %.0e, batch %.0e)\n", name, TOL_GOLDEN, TOL_BATCH);
                exit(1);
        }
        if (dl > worst_logits)
                worst_logits = dl;
        if (de > worst_emb)
                worst_emb = de;
        if (db > worst_batch)
                worst_batch = db;
        golden_logits_free(single_logits, g.n);
        clf_tokenizer_free(t);
        clf_model_free(m);
        golden_free(&g);
}

/* inputs the forward pass must refuse */
static void refusals(const char *data) {
        struct clf_model *m = NULL;
        char path[512];
        int32_t ids[600] = { 0 };
        float out[600 * 8];
        struct clf_batch in = { .B = 1, .T = 4, .ids = ids };

        snprintf(path, sizeof path, "%s/bert-seq-f32", data);
        check_eq(clf_model_load(path, NULL, &m), 0);
        ids[2] = (int32_t)clf_model_config(m)->vocab_size;
        check_eq(clf_model_forward(m, &in, out, NULL), -EINVAL);
        ids[2] = -1;
        check_eq(clf_model_forward(m, &in, out, NULL), -EINVAL);
        ids[2] = 0;
        in.T = clf_model_config(m)->max_pos + 1;
        check_eq(clf_model_forward(m, &in, out, NULL), -E2BIG);
        in.B = 0;
        check_eq(clf_model_forward(m, &in, out, NULL), -EINVAL);
        clf_model_free(m);
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
                return 2;
        }
        for (size_t i = 0; i < sizeof names / sizeof *names; i++)
                run_one(argv[1], names[i]);
        refusals(argv[1]);
        printf("all checkpoints: worst |logits - golden| %.2e, |embedding - golden| %.2e (tolerance %.0e); "
               "|batch - single| %.2e (tolerance %.0e)\n",
               worst_logits, worst_emb, TOL_GOLDEN, worst_batch, TOL_BATCH);
        return 0;
}
