/* Multi-head checkpoints (switchyard_heads) and PII spans.
 *
 *  - data/bert-multi-f16 (BertModel + category / jailbreak / pii heads,
 *    f16 weights) against the golden outputs of tools/classifier/ref.py
 *    (float64): ids, every head's logits (concatenated in the config's
 *    order), embedding within 1e-4; the texts as one padded batch equal
 *    the single runs within 1e-5, head by head;
 *  - the pipeline's per-head results (softmax per head, argmax, per-token
 *    tags) agree with the logits;
 *  - clf_spans on hand-made tags: BIO and plain labels, B- splits, type
 *    changes, "O" ends a span, tags read by word (the first token's),
 *    min score, byte offsets
 *    widened to whole characters without the leading space, cap;
 *  - EMAIL_ADDRESS spans completed around their '@';
 *  - clf_token_tags: argmax tags, and the Viterbi path over words with
 *    transitions;
 *  - the lexical model (clf_lexical) against tools/train/sylex.py's
 *    log-probabilities (data/lexical, made by its make.py);
 *  - the word CRF (clf_lexical_word_scores) against tools/train/sycrf.py's
 *    emission scores (data/crf, made by its make.py), and clf_token_tags
 *    with it against every tag path tried by brute force (the best path,
 *    the marginal probabilities);
 *  - clf_case_type on a table (tools/train/sytok.py's case_type agrees:
 *    tools/classifier/eval.py --compare runs both engines);
 *  - malformed switchyard_heads, switchyard_token_types,
 *    switchyard_lexical and switchyard_token_crf refused. */
#include <stdbool.h>
#include <unistd.h>

#include "classifier/clf_lexical.h"
#include "classifier/clf_pipeline.h"
#include "classifier/clf_spans.h"
#include "clf-test.h"

#define TOL_GOLDEN 1e-4
#define TOL_BATCH 1e-5

static void golden_and_batch(const char *data) {
        struct clf_model *m = NULL;
        struct clf_tokenizer *t = NULL;
        const struct clf_config *c;
        struct golden g;
        char path[512];
        double dl = 0, de = 0, db = 0;
        size_t T = 0, B;
        float **single, *lg;

        snprintf(path, sizeof path, "%s/bert-multi-f16.golden", data);
        golden_load(path, &g);
        snprintf(path, sizeof path, "%s/bert-multi-f16", data);
        check_eq(clf_model_load(path, NULL, &m), 0);
        check_eq(clf_tokenizer_load(path, &t), 0);
        c = clf_model_config(m);
        check(c->multi_head);
        check_eq(c->n_clf_heads, 3);
        check(strcmp(c->clf_heads[0].name, "category") == 0 && c->clf_heads[0].kind == CLF_TASK_SEQUENCE &&
              c->clf_heads[0].pooling == CLF_POOL_MEAN && c->clf_heads[0].num_labels == 4);
        check(strcmp(c->clf_heads[0].labels[1], "computer science") == 0);
        check(strcmp(c->clf_heads[1].name, "jailbreak") == 0 && c->clf_heads[1].pooling == CLF_POOL_CLS &&
              c->clf_heads[1].num_labels == 2 && strcmp(c->clf_heads[1].labels[1], "jailbreak") == 0);
        check(strcmp(c->clf_heads[2].name, "pii") == 0 && c->clf_heads[2].kind == CLF_TASK_TOKEN &&
              c->clf_heads[2].num_labels == 6);
        check_eq(clf_config_head(c, "pii"), 2);
        check_eq(clf_config_head(c, "nope"), -1);
        /* the legacy fields describe the first head */
        check(c->task == CLF_TASK_SEQUENCE && c->num_labels == 4 && c->labels == c->clf_heads[0].labels);
        single = golden_run_each(m, t, &g, &T, &dl, &de);
        /* one text's logits: category, jailbreak, then pii per token */
        for (size_t i = 0; i < g.n; i++) {
                check_eq(g.c[i].n_logits, 4 + 2 + g.c[i].n_ids * 6);
                check_eq(clf_model_head_offset(m, 2, 1, g.c[i].n_ids), 6);
        }
        B = g.n;
        lg = golden_run_batch(m, t, &g, T);
        for (size_t i = 0; i < B; i++) {
                const float *cat = lg + clf_model_head_offset(m, 0, B, T) + i * 4;
                const float *jb = lg + clf_model_head_offset(m, 1, B, T) + i * 2;
                const float *pii = lg + clf_model_head_offset(m, 2, B, T) + i * T * 6;
                double d = max_abs_diff(cat, single[i], 4);

                if (max_abs_diff(jb, single[i] + 4, 2) > d)
                        d = max_abs_diff(jb, single[i] + 4, 2);
                if (max_abs_diff(pii, single[i] + 6, g.c[i].n_ids * 6) > d)
                        d = max_abs_diff(pii, single[i] + 6, g.c[i].n_ids * 6);
                if (d > db)
                        db = d;
        }
        free(lg);
        printf("bert-multi-f16: %zu texts: max |logits - golden| %.2e, |embedding - golden| %.2e, "
               "|batch - single| %.2e\n",
               g.n, dl, de, db);
        check(dl <= TOL_GOLDEN && de <= TOL_GOLDEN && db <= TOL_BATCH);
        golden_logits_free(single, g.n);
        clf_tokenizer_free(t);
        clf_model_free(m);
        golden_free(&g);
}

static int argmax(const float *v, size_t n) {
        int b = 0;

        for (size_t i = 1; i < n; i++)
                if (v[i] > v[b])
                        b = (int)i;
        return b;
}

static void pipeline(const char *data) {
        struct clf_pipeline *p;
        struct clf_result res[GOLDEN_MAX_CASES];
        const char *texts[GOLDEN_MAX_CASES];
        size_t lens[GOLDEN_MAX_CASES];
        struct golden g;
        char path[512];

        snprintf(path, sizeof path, "%s/bert-multi-f16.golden", data);
        golden_load(path, &g);
        snprintf(path, sizeof path, "%s/bert-multi-f16", data);
        check_eq(clf_pipeline_load(path, NULL, &p), 0);
        for (size_t i = 0; i < g.n; i++) {
                texts[i] = g.c[i].text;
                lens[i] = g.c[i].text_len;
        }
        check_eq(clf_pipeline_run(p, texts, lens, g.n, res), 0);
        for (size_t i = 0; i < g.n; i++) {
                const struct clf_result *r = &res[i];
                const float *lg = g.c[i].logits;
                float sum = 0;

                check_eq(r->n_heads, 3);
                check_eq(r->tokens.n, g.c[i].n_ids);
                check_eq(r->heads[0].label, argmax(lg, 4));
                check_eq(r->heads[1].label, argmax(lg + 4, 2));
                check(r->label == r->heads[0].label && r->scores == r->heads[0].scores);
                for (size_t k = 0; k < 4; k++)
                        sum += r->heads[0].scores[k];
                check(fabsf(sum - 1.0f) < 1e-5f);
                check(fabsf(r->heads[1].scores[0] + r->heads[1].scores[1] - 1.0f) < 1e-5f);
                check(r->heads[0].scores == NULL || r->heads[2].scores == NULL);
                for (size_t t = 0; t < r->tokens.n; t++) {
                        check_eq(r->heads[2].token_label[t], argmax(lg + 6 + t * 6, 6));
                        check(r->heads[2].token_score[t] > 1.0f / 6 - 1e-6f && r->heads[2].token_score[t] <= 1.0f);
                }
                clf_result_free(&res[i]);
        }
        clf_pipeline_free(p);
        golden_free(&g);
}

/* ---- spans ---- */

static char *LABELS[] = { "O", "B-EMAIL", "I-EMAIL", "B-PERSON", "I-PERSON", "PHONE" };

static size_t spans_of(const char *text, const uint32_t *start, const uint32_t *end, const int32_t *tags,
                       const float *scores, size_t n, float min_score, struct clf_span *out, size_t cap) {
        struct clf_head_cfg h = { .name = "pii", .kind = CLF_TASK_TOKEN, .num_labels = 6, .labels = LABELS };
        int32_t ids[32] = { 0 };
        struct clf_encoding e = { .ids = ids, .start = (uint32_t *)start, .end = (uint32_t *)end, .n = n };

        return clf_spans(&h, &e, tags, scores, text, strlen(text), min_score, out, cap);
}

static void check_span(const struct clf_span *s, const char *text, const char *type, const char *what, float score) {
        if (strlen(type) != s->type_len || memcmp(s->type, type, s->type_len) != 0 ||
            strlen(what) != s->end - s->start || memcmp(text + s->start, what, s->end - s->start) != 0 ||
            fabsf(s->score - score) > 1e-6f) {
                fprintf(stderr, "span %.*s [%u, %u) '%.*s' %.3f, expected %s '%s' %.3f\n", (int)s->type_len, s->type,
                        s->start, s->end, (int)(s->end - s->start), text + s->start, s->score, type, what, score);
                exit(1);
        }
}

static void spans(void) {
        struct clf_span sp[8];
        /* [CLS] "mail" " jo" "@x.com" " and" " Bob" " Smith" " 555" "-12" [SEP] */
        const char *text = "mail jo@x.com and Bob Smith 555-12";
        uint32_t st[] = { 0, 0, 4, 7, 13, 17, 21, 27, 31, 0 };
        uint32_t en[] = { 0, 4, 7, 13, 17, 21, 27, 31, 34, 0 };
        int32_t tags[] = { 1, 0, 1, 2, 0, 3, 4, 5, 5, 5 };
        float sc[] = { 0.9f, 0.9f, 0.8f, 0.7f, 0.9f, 0.95f, 0.6f, 0.99f, 0.97f, 0.9f };
        size_t n;

        n = spans_of(text, st, en, tags, sc, 10, 0.0f, sp, 8);
        check_eq(n, 3);
        check_span(&sp[0], text, "EMAIL", "jo@x.com", 0.7f); /* leading space dropped, min score */
        check_span(&sp[1], text, "PERSON", "Bob Smith", 0.6f);
        check_span(&sp[2], text, "PHONE", "555-12", 0.97f); /* plain labels merge; the end ends it */
        /* min score drops the weak one; cap limits what is written, not the count */
        n = spans_of(text, st, en, tags, sc, 10, 0.65f, sp, 8);
        check_eq(n, 2);
        check_span(&sp[1], text, "PHONE", "555-12", 0.97f);
        check_eq(spans_of(text, st, en, tags, sc, 10, 0.0f, sp, 1), 3);
        check_span(&sp[0], text, "EMAIL", "jo@x.com", 0.7f);
        /* B- splits two entities of one type; a type change splits too */
        {
                int32_t t2[] = { 0, 3, 0, 0, 0, 3, 3, 2, 2, 0 };

                n = spans_of(text, st, en, t2, sc, 10, 0.0f, sp, 8);
                check_eq(n, 4);
                check_span(&sp[0], text, "PERSON", "mail", 0.9f);
                check_span(&sp[1], text, "PERSON", "Bob", 0.95f);
                check_span(&sp[2], text, "PERSON", "Smith", 0.6f);
                check_span(&sp[3], text, "EMAIL", "555-12", 0.97f); /* I- without B- starts one */
        }
        /* tags are read by word: a B- on "@x.com" (after "jo", but "@" is no
         * word character) starts another entity */
        {
                int32_t t4[] = { 0, 0, 1, 1, 0, 0, 0, 0, 0, 0 };

                n = spans_of(text, st, en, t4, sc, 10, 0.0f, sp, 8);
                check_eq(n, 2);
                check_span(&sp[0], text, "EMAIL", "jo", 0.8f);
                check_span(&sp[1], text, "EMAIL", "@x.com", 0.7f);
        }
        /* the rest of a word ("son" glued to " Smith") takes the word's first
         * token's tag, whatever its own */
        {
                const char *t5 = "Bob Smithson and Al";
                uint32_t s5[] = { 0, 3, 9, 12, 16 }, e5[] = { 3, 9, 12, 16, 19 };
                int32_t g5[] = { 3, 4, 0, 0, 3 }, g6[] = { 3, 3, 4, 0, 4 }, g7[] = { 3, 0, 3, 0, 0 };
                float c5[] = { 0.9f, 0.8f, 0.1f, 1, 0.7f };

                n = spans_of(t5, s5, e5, g5, c5, 5, 0.0f, sp, 8);
                check_eq(n, 2);
                check_span(&sp[0], t5, "PERSON", "Bob Smithson", 0.8f); /* "son"'s score not counted */
                check_span(&sp[1], t5, "PERSON", "Al", 0.7f);
                n = spans_of(t5, s5, e5, g6, c5, 5, 0.0f, sp, 8);
                check_eq(n, 3); /* B- starts one; I- alone too */
                check_span(&sp[0], t5, "PERSON", "Bob", 0.9f);
                check_span(&sp[1], t5, "PERSON", "Smithson", 0.8f);
                check_span(&sp[2], t5, "PERSON", "Al", 0.7f);
                n = spans_of(t5, s5, e5, g7, c5, 5, 0.0f, sp, 8);
                check_eq(n, 1); /* O on " Smith": "son" is not a word */
                check_span(&sp[0], t5, "PERSON", "Bob", 0.9f);
        }
        /* a byte-level token splitting a character: the span covers it whole */
        {
                const char *t3 = "x \xc3\xa9t\xc3\xa9"; /* "x été" */
                uint32_t s3[] = { 0, 1, 3, 5 }, e3[] = { 1, 3, 5, 7 };
                int32_t g3[] = { 0, 3, 0, 0 }; /* one word: its first token tags it */
                float c3[] = { 1, 1, 1, 1 };

                n = spans_of(t3, s3, e3, g3, c3, 4, 0.0f, sp, 8);
                check_eq(n, 1);
                check_span(&sp[0], t3, "PERSON", "\xc3\xa9t\xc3\xa9", 1.0f);
        }
        /* no entities; empty encoding */
        {
                int32_t t4[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

                check_eq(spans_of(text, st, en, t4, sc, 10, 0.0f, sp, 8), 0);
                check_eq(spans_of(text, st, en, t4, sc, 0, 0.0f, sp, 8), 0);
        }
        {
                size_t l;
                char pfx;

                check(clf_entity_of("O", &l, &pfx) == NULL);
                check(strcmp(clf_entity_of("B-EMAIL_ADDRESS", &l, &pfx), "EMAIL_ADDRESS") == 0 && pfx == 'B' &&
                      l == 13);
                check(strcmp(clf_entity_of("EMAIL_ADDRESS", &l, &pfx), "EMAIL_ADDRESS") == 0 && pfx == 0);
                check(strcmp(clf_entity_of("B-", &l, &pfx), "B-") == 0 && pfx == 0);
        }
}

/* an EMAIL_ADDRESS span with an '@' covers the whole address */
static void email_completion(void) {
        static char *labels[] = { "O", "B-EMAIL_ADDRESS", "I-EMAIL_ADDRESS" };
        struct clf_head_cfg h = { .name = "pii", .kind = CLF_TASK_TOKEN, .num_labels = 3, .labels = labels };
        /* "mail" " jane" "@" "example" "." "com" "." " ok" */
        const char *text = "mail jane@example.com. ok";
        uint32_t st[] = { 0, 4, 9, 10, 17, 18, 21, 22 }, en[] = { 4, 9, 10, 17, 18, 21, 22, 25 };
        int32_t ids[8] = { 0 }, tags[] = { 0, 0, 1, 2, 2, 2, 2, 1 };
        float sc[] = { 1, 1, 0.9f, 0.9f, 0.9f, 0.9f, 0.6f, 0.8f };
        struct clf_encoding e = { .ids = ids, .start = st, .end = en, .n = 8 };
        struct clf_span sp[4];

        check_eq(clf_spans(&h, &e, tags, sc, text, strlen(text), 0, sp, 4), 2);
        check_span(&sp[0], text, "EMAIL_ADDRESS", "jane@example.com", 0.6f); /* "jane" in, trailing "." out */
        check_span(&sp[1], text, "EMAIL_ADDRESS", "ok", 0.8f);               /* no '@': as tagged */
}

/* ---- tags from logits: argmax, Viterbi over words ---- */

static void token_tags(void) {
        static char *labels[] = { "O", "B-P", "I-P" };
        struct clf_head_cfg h = { .name = "pii", .kind = CLF_TASK_TOKEN, .num_labels = 3, .labels = labels };
        /* [CLS] "Steffen" " Mau" "er" " sang" [SEP] */
        const char *text = "Steffen Mauer sang";
        uint32_t st[] = { 0, 0, 7, 11, 13, 0 }, en[] = { 0, 7, 11, 13, 18, 0 };
        int32_t ids[6] = { 0 }, lab[6];
        struct clf_encoding e = { .ids = ids, .start = st, .end = en, .n = 6 };
        /* logits: B-P wins on both names (I-P close behind on " Mau") */
        const float lg[] = { 5, 0, 0, 0, 4, 1, 0, 3, 2.5f, 0, 0, 9, 4, 0, 0, 5, 0, 0 };
        float sc[6], tr[4 * 3];
        struct clf_span sp[4];

        check_eq(clf_token_tags(&h, &e, text, strlen(text), lg, NULL, NULL, lab, sc), 0);
        check(lab[1] == 1 && lab[2] == 1 && lab[3] == 2 && lab[4] == 0);
        check(fabsf(sc[1] - expf(4) / (1 + expf(4) + expf(1))) < 1e-6f);
        check_eq(clf_spans(&h, &e, lab, sc, text, strlen(text), 0, sp, 4), 2); /* "Steffen", "Mauer" */
        /* transitions: B-P -> B-P never seen: the path takes I-P on " Mau";
         * "er" (the rest of the word) keeps its argmax */
        for (int i = 0; i < 12; i++)
                tr[i] = logf(0.3f);
        tr[1 * 3 + 1] = -INFINITY;   /* B-P -> B-P */
        tr[3 * 3 + 2] = logf(0.01f); /* start -> I-P */
        check_eq(clf_token_tags(&h, &e, text, strlen(text), lg, tr, NULL, lab, sc), 0);
        check(lab[1] == 1 && lab[2] == 2 && lab[3] == 2 && lab[4] == 0);
        check(fabsf(sc[2] - expf(2.5f) / (1 + expf(3) + expf(2.5f))) < 1e-6f);
        check_eq(clf_spans(&h, &e, lab, sc, text, strlen(text), 0, sp, 4), 1);
        check_span(&sp[0], text, "P", "Steffen Mauer", sc[2]);
}

/* ---- the lexical model against tools/train/sylex.py (data/lexical) ---- */

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void lexical(const char *data) {
        struct clf_lexical *l = NULL;
        char path[512], line[4096], *text = NULL;
        size_t len = 0, cases = 0;
        double worst = 0;
        FILE *f;

        snprintf(path, sizeof path, "%s/lexical/lexical.safetensors", data);
        check(clf_lexical_load(path, 4, &l) == -EBADMSG); /* the file has 3 labels */
        check_eq(clf_lexical_load(path, 3, &l), 0);
        check_eq(clf_lexical_features(l), 1082);
        snprintf(path, sizeof path, "%s/lexical/golden.txt", data);
        check((f = fopen(path, "r")) != NULL);
        while (fgets(line, sizeof line, f)) {
                float got[3];
                double want[3];

                if (strncmp(line, "text ", 5) == 0) {
                        free(text);
                        len = strcspn(line + 5, "\n") / 2;
                        check((text = malloc(len + 1)) != NULL);
                        for (size_t i = 0; i < len; i++)
                                text[i] = (char)(hexval(line[5 + 2 * i]) * 16 + hexval(line[6 + 2 * i]));
                } else if (strncmp(line, "long", 4) == 0) {
                        free(text);
                        len = 20000 + 10 + 20000;
                        check((text = malloc(len + 1)) != NULL);
                        memset(text, 'x', 20000);
                        memcpy(text + 20000, " integral ", 10);
                        memset(text + 20010, 'y', 20000);
                } else if (sscanf(line, "logprobs %lf %lf %lf", &want[0], &want[1], &want[2]) == 3) {
                        check(text != NULL);
                        check_eq(clf_lexical_logprobs(l, text, len, got), 0);
                        for (int k = 0; k < 3; k++)
                                if (fabs(got[k] - want[k]) > worst)
                                        worst = fabs(got[k] - want[k]);
                        cases++;
                }
        }
        fclose(f);
        free(text);
        clf_lexical_free(l);
        printf("lexical: %zu texts, max |logprob - sylex.py| %.2e\n", cases, worst);
        check_eq(cases, 10);
        check(worst < 1e-4);
        snprintf(path, sizeof path, "%s/lexical/nonexistent.safetensors", data);
        check(clf_lexical_load(path, 3, &l) == -ENOENT);
}

/* ---- the word CRF against tools/train/sycrf.py (data/crf) ---- */

#define CRF_TAGS 3

/* clf_token_tags with the CRF on one token per word: the path it picks
 * scores the best of all CRF_TAGS^n paths (n <= 6) */
static void crf_path(const struct clf_lexical *l, const char *text, size_t len, const uint32_t *ws, const uint32_t *we,
                     size_t n, float enc_w, double *worst_gap, double *worst_marginal) {
        struct clf_head_cfg h = { .kind = CLF_TASK_TOKEN, .num_labels = CRF_TAGS };
        struct clf_token_crf crf = { .model = l, .encoder_weight = enc_w };
        struct clf_encoding e = { .start = (uint32_t *)ws, .end = (uint32_t *)we, .n = n };
        const float *tr = clf_lexical_transitions(l);
        float lg[6 * CRF_TAGS], em[6 * CRF_TAGS], sc[6];
        int32_t lab[6], ids[6] = { 0 };
        double best = -INFINITY, got = 0;
        size_t paths = 1;

        e.ids = ids;
        for (size_t i = 0; i < n * CRF_TAGS; i++)
                lg[i] = (float)((i * 7919) % 11) * 3.0f - 15.0f;
        check_eq(clf_lexical_word_scores(l, text, len, ws, we, n, em), 0);
        for (size_t w = 0; w < n; w++) {
                double mx = -INFINITY, sum = 0;

                for (int j = 0; j < CRF_TAGS; j++)
                        mx = lg[w * CRF_TAGS + j] > mx ? lg[w * CRF_TAGS + j] : mx;
                for (int j = 0; j < CRF_TAGS; j++)
                        sum += exp(lg[w * CRF_TAGS + j] - mx);
                for (int j = 0; j < CRF_TAGS; j++)
                        em[w * CRF_TAGS + j] += enc_w * (float)(lg[w * CRF_TAGS + j] - mx - log(sum));
        }
        check_eq(clf_token_tags(&h, &e, text, len, lg, NULL, &crf, lab, sc), 0);
        for (size_t i = 0; i < n; i++)
                paths *= CRF_TAGS;
        for (size_t p = 0; p < paths; p++) {
                double v = 0;
                size_t q = p, prev = CRF_TAGS;
                bool same = true;

                for (size_t w = 0; w < n; w++, q /= CRF_TAGS) {
                        size_t j = q % CRF_TAGS;

                        v += tr[prev * CRF_TAGS + j] + em[w * CRF_TAGS + j];
                        same = same && lab[w] == (int32_t)j;
                        prev = j;
                }
                best = v > best ? v : best;
                if (same)
                        got = v;
        }
        if (best - got > *worst_gap)
                *worst_gap = best - got;
        /* each word's score: the marginal probability of its tag, summed over the paths */
        for (size_t w = 0; w < n; w++) {
                double z = 0, m = 0;

                for (size_t p = 0; p < paths; p++) {
                        double v = 0;
                        size_t q = p, prev = CRF_TAGS, tw = 0;

                        for (size_t u = 0; u < n; u++, q /= CRF_TAGS) {
                                size_t j = q % CRF_TAGS;

                                v += tr[prev * CRF_TAGS + j] + em[u * CRF_TAGS + j];
                                if (u == w)
                                        tw = j;
                                prev = j;
                        }
                        z += exp(v - best);
                        if (tw == (size_t)lab[w])
                                m += exp(v - best);
                }
                if (fabs(sc[w] - m / z) > *worst_marginal)
                        *worst_marginal = fabs(sc[w] - m / z);
        }
}

static void crf(const char *data) {
        struct clf_lexical *l = NULL;
        char path[512], line[4096], *text = NULL;
        size_t len = 0, words = 0, texts = 0, n = 0, paths = 0;
        uint32_t ws[64], we[64];
        float want[64 * CRF_TAGS];
        double worst = 0, worst_gap = 0, worst_marginal = 0;
        FILE *f;

        snprintf(path, sizeof path, "%s/crf/crf.safetensors", data);
        check(clf_lexical_load(path, CRF_TAGS + 1, &l) == -EBADMSG);
        check_eq(clf_lexical_load(path, CRF_TAGS, &l), 0);
        check_eq(clf_lexical_features(l), 960);
        check(clf_lexical_transitions(l) != NULL);
        check(clf_lexical_logprobs(l, "x", 1, want) == -EINVAL); /* not a text model */
        snprintf(path, sizeof path, "%s/crf/golden.txt", data);
        check((f = fopen(path, "r")) != NULL);
        for (bool more = true; more;) {
                unsigned s, e;
                double v[CRF_TAGS];

                more = fgets(line, sizeof line, f) != NULL;
                if (!more || strncmp(line, "text ", 5) == 0) {
                        if (text) { /* the text before is complete: compare */
                                float got[64 * CRF_TAGS];

                                check_eq(clf_lexical_word_scores(l, text, len, ws, we, n, got), 0);
                                for (size_t i = 0; i < n * CRF_TAGS; i++)
                                        if (fabs(got[i] - want[i]) > worst)
                                                worst = fabs(got[i] - want[i]);
                                if (n > 0 && n <= 6) {
                                        crf_path(l, text, len, ws, we, n, 0.5f, &worst_gap, &worst_marginal);
                                        crf_path(l, text, len, ws, we, n, 0.0f, &worst_gap, &worst_marginal);
                                        paths++;
                                }
                                texts++;
                                words += n;
                                free(text);
                                text = NULL;
                        }
                        if (!more)
                                break;
                        len = strcspn(line + 5, "\n") / 2;
                        check((text = malloc(len + 1)) != NULL);
                        for (size_t i = 0; i < len; i++)
                                text[i] = (char)(hexval(line[5 + 2 * i]) * 16 + hexval(line[6 + 2 * i]));
                        n = 0;
                } else if (sscanf(line, "word %u %u %lf %lf %lf", &s, &e, &v[0], &v[1], &v[2]) == 5) {
                        check(text != NULL && n < 64 && s < e && e <= len);
                        ws[n] = s;
                        we[n] = e;
                        for (int k = 0; k < CRF_TAGS; k++)
                                want[n * CRF_TAGS + k] = (float)v[k];
                        n++;
                }
        }
        fclose(f);
        clf_lexical_free(l);
        printf("crf: %zu texts, %zu words, max |emission - sycrf.py| %.2e; %zu texts' paths tried by brute force: "
               "worst gap to the best path %.2e, worst marginal %.2e\n",
               texts, words, worst, paths, worst_gap, worst_marginal);
        check_eq(texts, 15);
        check(words > 80);
        check(paths >= 3);
        check(worst < 1e-4);
        check(worst_gap < 1e-4);
        check(worst_marginal < 1e-4);
        /* a text model is not a CRF */
        snprintf(path, sizeof path, "%s/lexical/lexical.safetensors", data);
        check_eq(clf_lexical_load(path, 3, &l), 0);
        check(clf_lexical_transitions(l) == NULL);
        check(clf_lexical_word_scores(l, "x", 1, ws, we, 0, want) == -EINVAL);
        clf_lexical_free(l);
}

static void case_types(void) {
        static const struct {
                const char *s;
                int type;
        } T[] = {
                { "lang", 0 },         { "Lang", 1 },
                { "LANG", 2 },         { "D", 1 },
                { "D.", 1 },           { "McD", 1 },
                { "NaSA", 1 },         { "4U", 0 },
                { "A4", 1 },           { "", 0 },
                { "##", 0 },           { "\xc3\x96ntes", 1 }, /* Öntes */
                { "\xc3\x96NT", 2 },   { "\xc3\xa9t\xc3\xa9", 0 },
                { "\xc5\xa0koda", 1 }, /* été, Škoda */
                { "\xc5\xa1koda", 0 }, { "\xd0\x9c\xd0\xb8", 0 },
                { "\xc3\x97X", 0 }, /* Ми, ×X */
                { "A\xc3\x9f", 1 },    { "\xc3", 0 },
        };

        for (size_t i = 0; i < sizeof T / sizeof *T; i++)
                if (clf_case_type(T[i].s, strlen(T[i].s)) != T[i].type) {
                        fprintf(stderr, "clf_case_type(%s) = %d, expected %d\n", T[i].s,
                                clf_case_type(T[i].s, strlen(T[i].s)), T[i].type);
                        exit(1);
                }
}

/* ---- malformed switchyard_heads ---- */

static int load_config_text(const char *json) {
        char path[] = "/tmp/clf-heads-XXXXXX";
        struct clf_config c;
        int fd = mkstemp(path), r;

        check(fd >= 0);
        check(write(fd, json, strlen(json)) == (ssize_t)strlen(json));
        close(fd);
        r = clf_config_load(path, &c);
        unlink(path);
        if (r == 0)
                clf_config_free(&c);
        return r;
}

#define BASE                                                                                   \
        "{\"model_type\": \"bert\", \"architectures\": [\"BertModel\"], \"hidden_size\": 32, " \
        "\"num_attention_heads\": 4, \"switchyard_heads\": "

static void refusals(void) {
        check_eq(load_config_text(BASE "[{\"name\": \"a\", \"labels\": [\"x\", \"y\"]}]}"), 0);
        check_eq(load_config_text(BASE "[{\"name\": \"a\", \"kind\": \"token\", \"labels\": [\"O\"]}]}"), 0);
        check(load_config_text(BASE "[]}") < 0);
        check(load_config_text(BASE "{}}") < 0);
        check(load_config_text(BASE "[{\"labels\": [\"x\"]}]}") < 0); /* no name */
        check(load_config_text(BASE "[{\"name\": \"a\"}]}") < 0);     /* no labels */
        check(load_config_text(BASE "[{\"name\": \"a\", \"labels\": []}]}") < 0);
        check(load_config_text(BASE "[{\"name\": \"a\", \"labels\": [1]}]}") < 0);
        check(load_config_text(BASE "[{\"name\": \"a b\", \"labels\": [\"x\"]}]}") < 0);
        check(load_config_text(BASE "[{\"name\": \"a\", \"kind\": \"span\", \"labels\": [\"x\"]}]}") < 0);
        check(load_config_text(BASE "[{\"name\": \"a\", \"pooling\": \"max\", \"labels\": [\"x\"]}]}") < 0);
        check(load_config_text(
                      BASE "[{\"name\": \"a\", \"labels\": [\"x\"]}, {\"name\": \"a\", \"labels\": [\"x\"]}]}") < 0);
        /* switchyard_token_types, switchyard_lexical */
#define HEADS \
        "[{\"name\": \"a\", \"labels\": [\"x\", \"y\"]}, {\"name\": \"t\", \"kind\": \"token\", \"labels\": [\"O\"]}]"
        check_eq(load_config_text(BASE HEADS ", \"type_vocab_size\": 3, \"switchyard_token_types\": \"case\"}"), 0);
        check(load_config_text(BASE HEADS ", \"switchyard_token_types\": \"case\"}") < 0); /* 2 types */
        check(load_config_text(BASE HEADS ", \"type_vocab_size\": 3, \"switchyard_token_types\": \"shape\"}") < 0);
        check_eq(load_config_text(BASE HEADS ", \"switchyard_lexical\": {\"head\": \"a\", \"file\": \"l.st\"}}"), 0);
        check_eq(load_config_text(BASE HEADS ", \"switchyard_lexical\": {\"head\": \"a\", \"file\": \"l.st\", "
                                             "\"weight\": 2.5}}"),
                 0);
        check(load_config_text(BASE HEADS ", \"switchyard_lexical\": {\"head\": \"t\", \"file\": \"l.st\"}}") < 0);
        check(load_config_text(BASE HEADS ", \"switchyard_lexical\": {\"head\": \"b\", \"file\": \"l.st\"}}") < 0);
        check(load_config_text(BASE HEADS ", \"switchyard_lexical\": {\"head\": \"a\", \"file\": \"../l.st\"}}") < 0);
        check(load_config_text(BASE HEADS ", \"switchyard_lexical\": {\"head\": \"a\"}}") < 0);
        check(load_config_text(BASE HEADS ", \"switchyard_lexical\": {\"head\": \"a\", \"file\": \"l.st\", "
                                          "\"weight\": -1}}") < 0);
        check(load_config_text(BASE HEADS ", \"switchyard_lexical\": \"a\"}") < 0);
        /* switchyard_token_crf */
        check_eq(load_config_text(BASE HEADS ", \"switchyard_token_crf\": {\"head\": \"t\", \"file\": \"c.st\"}}"), 0);
        check_eq(load_config_text(BASE HEADS ", \"switchyard_token_crf\": {\"head\": \"t\", \"file\": \"c.st\", "
                                             "\"encoder_weight\": 0.3}}"),
                 0);
        check(load_config_text(BASE HEADS ", \"switchyard_token_crf\": {\"head\": \"a\", \"file\": \"c.st\"}}") < 0);
        check(load_config_text(BASE HEADS ", \"switchyard_token_crf\": {\"head\": \"t\", \"file\": \"/c.st\"}}") < 0);
        check(load_config_text(BASE HEADS ", \"switchyard_token_crf\": {\"head\": \"t\", \"file\": \"c.st\", "
                                          "\"encoder_weight\": -0.1}}") < 0);
        check(load_config_text(BASE HEADS ", \"switchyard_token_crf\": {\"head\": \"t\", \"file\": \"c.st\", "
                                          "\"encoder_weight\": \"1\"}}") < 0);
#undef HEADS
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
                return 2;
        }
        golden_and_batch(argv[1]);
        pipeline(argv[1]);
        spans();
        email_completion();
        token_tags();
        lexical(argv[1]);
        crf(argv[1]);
        case_types();
        refusals();
        printf("ok\n");
        return 0;
}
