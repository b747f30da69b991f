/* switchyard-classify: classify text with a Hugging Face encoder checkpoint
 * directory (config.json, model.safetensors, tokenizer.json or vocab.txt).
 *
 *   switchyard-classify [options] MODEL_DIR [TEXT...]
 *
 * Without TEXT, each line of standard input is one text. Sequence
 * classifiers print the top labels with their scores; token classifiers
 * print the entity spans (B-/I- labels merged) with byte offsets. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/clf_pipeline.h"
#include "common/log.h"

static void usage(FILE *f) {
        fprintf(f,
                "usage: switchyard-classify [options] MODEL_DIR [TEXT...]\n"
                "  -t, --threads N       CPU GEMM threads (default: BLAS default)\n"
                "  -b, --backend NAME    cpu, cuda or auto (default auto)\n"
                "  -m, --max-len N       tokens read per text (default min(512, model max))\n"
                "      --truncate P      head_tail (default), head or tail\n"
                "  -k, --top K           labels shown per text (default 3)\n"
                "      --ids             print the token ids\n"
                "      --embedding       print the pooled embedding\n"
                "  -h, --help\n"
                "Without TEXT, each line of standard input is classified.\n");
}

struct cli {
        struct clf_pipeline *p;
        int top;
        bool ids, embedding;
};

static const char *entity_of(const char *label, char *prefix) {
        *prefix = 0;
        if ((label[0] == 'B' || label[0] == 'I' || label[0] == 'E' || label[0] == 'S') && label[1] == '-') {
                *prefix = label[0];
                return label + 2;
        }
        return label;
}

static void print_spans(const struct clf_config *c, const struct clf_result *r, const char *text, size_t len) {
        const char *cur = NULL;
        size_t start = 0, end = 0;
        float score = 0;
        bool any = false;

        for (size_t t = 0; t <= r->tokens.n; t++) {
                const char *ent = NULL;
                char pfx = 0;

                if (t < r->tokens.n && r->tokens.end[t] > r->tokens.start[t]) {
                        const char *label = c->labels[r->token_label[t]];

                        ent = entity_of(label, &pfx);
                        if (strcmp(label, "O") == 0)
                                ent = NULL;
                }
                if (cur && (!ent || strcmp(ent, cur) != 0 || pfx == 'B')) {
                        /* whole characters (byte-level tokens may split one), no leading space */
                        while (start > 0 && ((unsigned char)text[start] & 0xc0) == 0x80)
                                start--;
                        while (end < len && ((unsigned char)text[end] & 0xc0) == 0x80)
                                end++;
                        while (start < end && (text[start] == ' ' || text[start] == '\t' || text[start] == '\n'))
                                start++;
                        printf("  %s\t[%zu, %zu)\t%.4f\t%.*s\n", cur, start, end, score, (int)(end - start), text + start);
                        cur = NULL;
                        any = true;
                }
                if (ent && !cur) {
                        cur = ent;
                        start = r->tokens.start[t];
                        score = r->token_score[t];
                }
                if (ent) {
                        end = r->tokens.end[t];
                        if (r->token_score[t] < score)
                                score = r->token_score[t];
                }
        }
        if (!any)
                printf("  (no entities)\n");
}

static int classify(struct cli *cl, const char *text, size_t len) {
        const struct clf_config *c = clf_model_config(clf_pipeline_model(cl->p));
        struct clf_result r;
        int ret = clf_pipeline_run(cl->p, &text, &len, 1, &r);

        if (ret < 0) {
                fprintf(stderr, "switchyard-classify: %s\n", strerror(-ret));
                return ret;
        }
        printf("%.*s%s\n", len > 72 ? 72 : (int)len, text, len > 72 ? "..." : "");
        if (cl->ids) {
                printf("  ids (%zu):", r.tokens.n);
                for (size_t i = 0; i < r.tokens.n; i++)
                        printf(" %d", r.tokens.ids[i]);
                printf("\n");
        }
        if (c->task == CLF_TASK_SEQUENCE) {
                bool *shown = calloc(c->num_labels, sizeof *shown);

                for (int k = 0; shown && k < cl->top && (size_t)k < c->num_labels; k++) {
                        size_t best = SIZE_MAX;

                        for (size_t i = 0; i < c->num_labels; i++)
                                if (!shown[i] && (best == SIZE_MAX || r.scores[i] > r.scores[best]))
                                        best = i;
                        shown[best] = true;
                        printf("  %-24s %.4f\n", c->labels[best], r.scores[best]);
                }
                free(shown);
        } else if (c->task == CLF_TASK_TOKEN) {
                print_spans(c, &r, text, len);
        }
        if (cl->embedding || c->task == CLF_TASK_EMBEDDING) {
                printf("  embedding (%zu):", c->hidden);
                for (size_t i = 0; i < c->hidden; i++)
                        printf(" %.6g", r.embedding[i]);
                printf("\n");
        }
        clf_result_free(&r);
        return 0;
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "threads", required_argument, NULL, 't' }, { "backend", required_argument, NULL, 'b' },
                { "max-len", required_argument, NULL, 'm' }, { "truncate", required_argument, NULL, 'T' },
                { "top", required_argument, NULL, 'k' },     { "ids", no_argument, NULL, 'I' },
                { "embedding", no_argument, NULL, 'E' },     { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        struct clf_pipeline_opts po = { 0 };
        struct cli cl = { .top = 3 };
        int opt, r, rc = 0;

        sy_log_init("classify");
        while ((opt = getopt_long(argc, argv, "t:b:m:k:h", longopts, NULL)) != -1) {
                switch (opt) {
                case 't': po.threads = atoi(optarg); break;
                case 'b': po.backend = optarg; break;
                case 'm': po.max_len = (size_t)strtoul(optarg, NULL, 10); break;
                case 'k': cl.top = atoi(optarg); break;
                case 'I': cl.ids = true; break;
                case 'E': cl.embedding = true; break;
                case 'T':
                        if (strcmp(optarg, "head_tail") == 0)
                                po.policy = CLF_TRUNC_HEAD_TAIL;
                        else if (strcmp(optarg, "head") == 0)
                                po.policy = CLF_TRUNC_HEAD;
                        else if (strcmp(optarg, "tail") == 0)
                                po.policy = CLF_TRUNC_TAIL;
                        else {
                                usage(stderr);
                                return 2;
                        }
                        break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return 2;
        }
        if ((r = clf_pipeline_load(argv[optind], &po, &cl.p)) < 0) {
                fprintf(stderr, "switchyard-classify: %s: %s\n", argv[optind], strerror(-r));
                return 1;
        }
        {
                const struct clf_config *c = clf_model_config(clf_pipeline_model(cl.p));

                log_info("%s: %s, %zu layers, hidden %zu, %zu labels, %s backend, max %zu tokens", argv[optind],
                         clf_arch_name(c->arch), c->layers, c->hidden, c->num_labels,
                         clf_model_backend(clf_pipeline_model(cl.p)), clf_pipeline_max_len(cl.p));
        }
        if (optind + 1 < argc) {
                for (int i = optind + 1; i < argc; i++)
                        if (classify(&cl, argv[i], strlen(argv[i])) < 0)
                                rc = 1;
        } else {
                char *line = NULL;
                size_t cap = 0;
                ssize_t n;

                while ((n = getline(&line, &cap, stdin)) >= 0) {
                        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                                n--;
                        if (classify(&cl, line, (size_t)n) < 0)
                                rc = 1;
                }
                free(line);
        }
        clf_pipeline_free(cl.p);
        return rc;
}
