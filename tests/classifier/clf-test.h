/* Helpers shared by the classifier tests (header-only, everything static):
 * checks, the golden files written by tools/classifier/gen_testdata.py,
 * and running a checkpoint over a golden file's texts.
 *
 * Golden format, one record per line:
 *   dir NAME | max_len N | policy P       (header)
 *   text HEX                              (UTF-8 of the text, hex)
 *   ids N v...  | logits N v... | embedding N v... */
#pragma once
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/clf_model.h"
#include "classifier/clf_tokenizer.h"
#include "tests/check.h"

#define GOLDEN_MAX_CASES 64

struct golden_case {
        char *text;
        size_t text_len;
        int32_t *ids;
        size_t n_ids;
        float *logits;
        size_t n_logits;
        float *embedding;
        size_t n_embedding;
};

struct golden {
        char dir[256];
        size_t max_len;
        struct golden_case c[GOLDEN_MAX_CASES];
        size_t n;
};

static inline char *golden_unhex(const char *h, size_t *ret_len) {
        size_t n = strlen(h) / 2;
        char *s = malloc(n + 1);

        check(s);
        for (size_t i = 0; i < n; i++) {
                unsigned v;

                check(sscanf(h + 2 * i, "%2x", &v) == 1);
                s[i] = (char)v;
        }
        s[n] = 0;
        *ret_len = n;
        return s;
}

static inline size_t golden_count(char **p) {
        char *end;
        size_t n = strtoul(*p, &end, 10);

        *p = end;
        return n;
}

static inline void golden_load(const char *path, struct golden *g) {
        FILE *f = fopen(path, "r");
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        struct golden_case *cur = NULL;

        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                exit(1);
        }
        memset(g, 0, sizeof *g);
        while ((len = getline(&line, &cap, f)) >= 0) {
                char *p;

                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                        line[--len] = 0;
                if (line[0] == '#' || len == 0)
                        continue;
                if (strncmp(line, "dir ", 4) == 0) {
                        snprintf(g->dir, sizeof g->dir, "%s", line + 4);
                } else if (strncmp(line, "max_len ", 8) == 0) {
                        g->max_len = strtoul(line + 8, NULL, 10);
                } else if (strncmp(line, "text", 4) == 0) {
                        check(g->n < GOLDEN_MAX_CASES);
                        cur = &g->c[g->n++];
                        cur->text = golden_unhex(line[4] ? line + 5 : "", &cur->text_len);
                } else if (strncmp(line, "ids ", 4) == 0) {
                        check(cur);
                        p = line + 4;
                        cur->n_ids = golden_count(&p);
                        cur->ids = malloc((cur->n_ids + 1) * sizeof *cur->ids);
                        check(cur->ids);
                        for (size_t i = 0; i < cur->n_ids; i++)
                                cur->ids[i] = (int32_t)strtol(p, &p, 10);
                } else if (strncmp(line, "logits ", 7) == 0 || strncmp(line, "embedding ", 10) == 0) {
                        bool lg = line[0] == 'l';
                        size_t n;
                        float *v;

                        check(cur);
                        p = line + (lg ? 7 : 10);
                        n = golden_count(&p);
                        v = malloc((n + 1) * sizeof *v);
                        check(v);
                        for (size_t i = 0; i < n; i++)
                                v[i] = strtof(p, &p);
                        if (lg) {
                                cur->logits = v;
                                cur->n_logits = n;
                        } else {
                                cur->embedding = v;
                                cur->n_embedding = n;
                        }
                }
        }
        free(line);
        fclose(f);
}

static inline void golden_free(struct golden *g) {
        for (size_t i = 0; i < g->n; i++) {
                free(g->c[i].text);
                free(g->c[i].ids);
                free(g->c[i].logits);
                free(g->c[i].embedding);
        }
        memset(g, 0, sizeof *g);
}

static inline double max_abs_diff(const float *a, const float *b, size_t n) {
        double m = 0;

        for (size_t i = 0; i < n; i++) {
                double d = fabs((double)a[i] - (double)b[i]);

                if (!(d <= m))
                        m = isnan(d) ? INFINITY : d;
        }
        return m;
}

/* Each golden case alone through model m (tokenizer t): its ids, and the
 * sizes of its logits and embedding, must be the golden's. Returns every
 * case's logits (free with golden_logits_free); raises *ret_T to the
 * longest case and *ret_dl / *ret_de to the largest |logits - golden| /
 * |embedding - golden|. */
static inline float **golden_run_each(struct clf_model *m, struct clf_tokenizer *t, const struct golden *g,
                                      size_t *ret_T, double *ret_dl, double *ret_de) {
        size_t H = clf_model_config(m)->hidden;
        float **logits = calloc(g->n ? g->n : 1, sizeof *logits);
        struct clf_encoding e;

        check(logits);
        clf_encoding_init(&e);
        for (size_t i = 0; i < g->n; i++) {
                const struct golden_case *gc = &g->c[i];
                float *emb = malloc(H * sizeof *emb), *lg;
                struct clf_batch in;
                size_t nl;
                double a, b;

                check_eq(clf_tokenizer_encode_model(t, gc->text, gc->text_len, g->max_len, CLF_TRUNC_HEAD_TAIL, &e), 0);
                check_eq(e.n, gc->n_ids);
                check(memcmp(e.ids, gc->ids, e.n * sizeof *e.ids) == 0);
                nl = clf_model_logits_size(m, 1, e.n);
                check_eq(nl, gc->n_logits);
                check_eq(H, gc->n_embedding);
                lg = malloc(nl * sizeof *lg);
                check(emb && lg);
                in = (struct clf_batch){ .B = 1, .T = e.n, .ids = e.ids, .mask = NULL };
                check_eq(clf_model_forward(m, &in, lg, emb), 0);
                a = max_abs_diff(lg, gc->logits, nl);
                b = max_abs_diff(emb, gc->embedding, H);
                if (a > *ret_dl)
                        *ret_dl = a;
                if (b > *ret_de)
                        *ret_de = b;
                logits[i] = lg;
                free(emb);
                if (e.n > *ret_T)
                        *ret_T = e.n;
        }
        clf_encoding_free(&e);
        return logits;
}

static inline void golden_logits_free(float **logits, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(logits[i]);
        free(logits);
}

/* Every golden case in one batch right-padded to T tokens (the padding
 * masked out): the batch's logits (malloc'd). */
static inline float *golden_run_batch(struct clf_model *m, struct clf_tokenizer *t, const struct golden *g, size_t T) {
        size_t B = g->n;
        int32_t *ids = calloc(B * T, sizeof *ids);
        uint8_t *mask = calloc(B * T, 1);
        float *lg = malloc(clf_model_logits_size(m, B, T) * sizeof *lg);
        struct clf_batch in = { .B = B, .T = T, .ids = ids, .mask = mask };

        check(ids && mask && lg);
        for (size_t i = 0; i < B; i++)
                for (size_t k = 0; k < T; k++) {
                        ids[i * T + k] = k < g->c[i].n_ids ? g->c[i].ids[k] : clf_tokenizer_pad_id(t);
                        mask[i * T + k] = k < g->c[i].n_ids;
                }
        check_eq(clf_model_forward(m, &in, lg, NULL), 0);
        free(ids);
        free(mask);
        return lg;
}
