/* switchyard-classify-bench: CPU (or GPU) latency of a model directory per
 * request at given token counts (default 16, 128, 512), whole path:
 * tokenization of a text of about that length, truncation, forward pass,
 * scores. With --batch B[,B...], also the throughput of batches of B
 * requests of that length (tools/classifier/torch_bench.py prints the same
 * figures for PyTorch; tools/classifier/bench.sh runs both).
 * Prints wall-clock percentiles and the median CPU time of the process
 * (all threads): on a shared machine the latter is the better estimate of
 * the uncontended latency. Prints figures only; never decides pass/fail.
 *
 *   switchyard-classify-bench [-t THREADS] [-n ITERS] [--batch B[,B...]] MODEL_DIR [TOKENS...] */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classifier/clf_pipeline.h"
#include "common/log.h"

static const char *words[] = {
        "how",   "do",         "I",    "reverse", "a",        "linked",  "list",   "in",       "Python",  "?",
        "the",   "derivative", "of",   "x",       "squared",  "is",      "2x",     ",",        "explain", "why",
        "Linux", "kernel",     "open", "source",  "history",  "Rome",    "empire", "integral", "sin",     "from",
        "0",     "to",         "pi",   ".",       "function", "returns", "sum",
};

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

/* a text of at least `tokens` tokens */
static char *make_text(const struct clf_tokenizer *tok, size_t tokens) {
        struct clf_encoding e;
        size_t cap = 64, len = 0, k = 0;
        char *s = malloc(cap);

        clf_encoding_init(&e);
        if (!s)
                return NULL;
        s[0] = 0;
        for (;;) {
                const char *w = words[k++ % (sizeof words / sizeof *words)];
                size_t wl = strlen(w);

                if (len + wl + 2 > cap) {
                        char *ns = realloc(s, cap * 2 + wl);

                        if (!ns) {
                                free(s);
                                clf_encoding_free(&e);
                                return NULL;
                        }
                        s = ns;
                        cap = cap * 2 + wl;
                }
                if (len)
                        s[len++] = ' ';
                memcpy(s + len, w, wl + 1);
                len += wl;
                if (k % 16 == 0 && clf_tokenizer_encode(tok, s, len, &e) == 0 && e.n >= tokens)
                        break;
        }
        clf_encoding_free(&e);
        return s;
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "threads", required_argument, NULL, 't' },
                { "iters", required_argument, NULL, 'n' },
                { "batch", required_argument, NULL, 'B' },
                { "backend", required_argument, NULL, 'b' },
                { 0 },
        };
        struct clf_pipeline_opts po = { .threads = 1 };
        size_t lens[16] = { 16, 128, 512 }, n_lens = 3, batches[8], n_batches = 0;
        int iters = 0, opt, r;
        const char *dir;

        sy_log_init("classify-bench");
        while ((opt = getopt_long(argc, argv, "t:n:b:", longopts, NULL)) != -1) {
                switch (opt) {
                case 't':
                        po.threads = atoi(optarg);
                        break;
                case 'n':
                        iters = atoi(optarg);
                        break;
                case 'B': {
                        char *p = optarg;

                        while (*p && n_batches < 8) {
                                batches[n_batches++] = (size_t)strtoul(p, &p, 10);
                                if (*p == ',')
                                        p++;
                                else
                                        break;
                        }
                        break;
                }
                case 'b':
                        po.backend = optarg;
                        break;
                default:
                        fprintf(stderr, "usage: switchyard-classify-bench [-t THREADS] [-n ITERS] [--batch B] "
                                        "MODEL_DIR [TOKENS...]\n");
                        return 2;
                }
        }
        if (optind >= argc) {
                fprintf(stderr,
                        "usage: switchyard-classify-bench [-t THREADS] [-n ITERS] [--batch B] MODEL_DIR [TOKENS...]\n");
                return 2;
        }
        dir = argv[optind++];
        if (optind < argc) {
                n_lens = 0;
                for (; optind < argc && n_lens < 16; optind++)
                        lens[n_lens++] = (size_t)strtoul(argv[optind], NULL, 10);
        }
        for (size_t li = 0; li < n_lens; li++) {
                struct clf_pipeline *p;
                const struct clf_config *c;
                size_t want = lens[li];
                char *text;
                double *ts, *cs;
                int n;

                po.max_len = want;
                if ((r = clf_pipeline_load(dir, &po, &p)) < 0) {
                        fprintf(stderr, "switchyard-classify-bench: %s: %s\n", dir, strerror(-r));
                        return 1;
                }
                c = clf_model_config(clf_pipeline_model(p));
                if (want > c->max_pos) {
                        printf("%4zu tokens: above max_position_embeddings %zu, skipped\n", want, c->max_pos);
                        clf_pipeline_free(p);
                        continue;
                }
                text = make_text(clf_pipeline_tokenizer(p), want);
                n = iters > 0 ? iters : want <= 16 ? 200 : want <= 128 ? 50 : 12;
                ts = malloc((size_t)n * sizeof *ts);
                cs = malloc((size_t)n * sizeof *cs);
                if (!text || !ts || !cs) {
                        clf_pipeline_free(p);
                        return 1;
                }
                for (int i = -2; i < n; i++) { /* 2 warm-up runs */
                        const char *tx = text;
                        size_t tl = strlen(text);
                        struct clf_result res;
                        double t0 = now_ms(), c0 = cpu_ms();

                        if ((r = clf_pipeline_run(p, &tx, &tl, 1, &res)) < 0) {
                                fprintf(stderr, "switchyard-classify-bench: %s\n", strerror(-r));
                                return 1;
                        }
                        if (i >= 0) {
                                ts[i] = now_ms() - t0;
                                cs[i] = cpu_ms() - c0;
                        }
                        if (i == 0 && res.tokens.n != want)
                                fprintf(stderr, "note: %zu tokens read, not %zu\n", res.tokens.n, want);
                        clf_result_free(&res);
                }
                qsort(ts, (size_t)n, sizeof *ts, cmp_double);
                qsort(cs, (size_t)n, sizeof *cs, cmp_double);
                printf("%s %s %zu layers hidden %zu, %s, threads %d: %4zu tokens: p50 %.3f ms  p90 %.3f ms  "
                       "p99 %.3f ms  (cpu p50 %.3f ms, %d runs)\n",
                       dir, clf_arch_name(c->arch), c->layers, c->hidden, clf_model_backend(clf_pipeline_model(p)),
                       po.threads, want, ts[n / 2], ts[(size_t)(n * 0.9)], ts[(size_t)(n * 0.99)], cs[n / 2], n);
                for (size_t bi = 0; bi < n_batches; bi++) {
                        size_t batch = batches[bi];
                        const char **tx = malloc(batch * sizeof *tx);
                        struct clf_result *res = malloc(batch * sizeof *res);
                        int rounds = n / 4 > 2 ? n / 4 : 2;
                        double t0;

                        if (batch < 1 || !tx || !res)
                                return 1;
                        for (size_t b = 0; b < batch; b++)
                                tx[b] = text;
                        t0 = now_ms();
                        for (int i = 0; i < rounds; i++) {
                                if ((r = clf_pipeline_run(p, tx, NULL, batch, res)) < 0) {
                                        fprintf(stderr, "switchyard-classify-bench: %s\n", strerror(-r));
                                        return 1;
                                }
                                for (size_t b = 0; b < batch; b++)
                                        clf_result_free(&res[b]);
                        }
                        printf("      batch %zu x %zu tokens: %.1f requests/s (%.3f ms per batch)\n", batch, want,
                               rounds * batch / ((now_ms() - t0) / 1e3), (now_ms() - t0) / rounds);
                        free(tx);
                        free(res);
                }
                free(ts);
                free(cs);
                free(text);
                clf_pipeline_free(p);
        }
        return 0;
}
