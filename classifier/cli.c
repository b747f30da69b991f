/* switchyard-classify: classify text with a Hugging Face encoder checkpoint
 * directory (config.json, model.safetensors, tokenizer.json or vocab.txt),
 * single-head or multi-head (switchyard_heads).
 *
 *   switchyard-classify [options] MODEL_DIR [TEXT...]
 *   switchyard-classify --model MODEL_DIR --jsonl [--batch N] < texts.jsonl
 *
 * Without TEXT, each line of standard input is one text. Sequence
 * classifiers print the top labels with their scores; token classifiers
 * print the entity spans (B-/I- labels merged) with byte offsets.
 *
 * --jsonl: each input line is {"text": "..."}; each output line is
 *   {"heads": {"category": {"label": "...", "score": 0.9, "scores": [...]},
 *              "pii": {"spans": [{"type": "EMAIL_ADDRESS", "start": 10,
 *                                 "end": 27, "score": 0.99}]}},
 *    "tokens": N}
 * (byte offsets into the text; a single-head checkpoint's head is named
 * by --head-name, default "category" for a sequence head and "pii" for a
 * token head); a line that cannot be read gives {"error": "..."}. Lines
 * are classified --batch at a time (default 8), answers in input order. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/clf_pipeline.h"
#include "classifier/clf_spans.h"
#include "common/json.h"
#include "common/log.h"

static void usage(FILE *f) {
        fprintf(f, "usage: switchyard-classify [options] MODEL_DIR [TEXT...]\n"
                   "  -t, --threads N       CPU GEMM threads (default: BLAS default)\n"
                   "  -b, --backend NAME    cpu, cuda or auto (default auto)\n"
                   "  -m, --max-len N       tokens read per text (default min(512, model max))\n"
                   "      --truncate P      head_tail (default), head or tail\n"
                   "  -k, --top K           labels shown per text (default 3)\n"
                   "      --ids             print the token ids\n"
                   "      --embedding       print the pooled embedding\n"
                   "      --model DIR       the model directory (instead of MODEL_DIR)\n"
                   "      --jsonl           JSON lines in ({\"text\": ...}) and out (see the source's header)\n"
                   "      --batch N         texts per batch with --jsonl (default 8)\n"
                   "      --head-name NAME  name of a single-head checkpoint's head in --jsonl output\n"
                   "  -h, --help\n"
                   "Without TEXT, each line of standard input is classified.\n");
}

struct cli {
        struct clf_pipeline *p;
        int top;
        bool ids, embedding;
        const char *head_name;
};

static void print_spans(const struct clf_head_cfg *hc, const struct clf_encoding *tokens,
                        const struct clf_head_result *y, const char *text, size_t len) {
        struct clf_span sp[256];
        size_t n = clf_spans(hc, tokens, y->token_label, y->token_score, text, len, 0.0f, sp, 256);

        for (size_t i = 0; i < n && i < 256; i++)
                printf("  %.*s\t[%u, %u)\t%.4f\t%.*s\n", (int)sp[i].type_len, sp[i].type, sp[i].start, sp[i].end,
                       sp[i].score, (int)(sp[i].end - sp[i].start), text + sp[i].start);
        if (n == 0)
                printf("  (no entities)\n");
}

/* ---- --jsonl ---- */

static void put_json_str(FILE *f, const char *s, size_t len) {
        char buf[512];
        char *big = NULL, *out = buf;
        size_t cap = sizeof buf;
        int n;

        if (len * 6 + 3 > cap) {
                cap = len * 6 + 3;
                big = malloc(cap);
                if (!big) {
                        fputs("\"\"", f);
                        return;
                }
                out = big;
        }
        n = json_string_encode(s, len, out, cap);
        if (n > 0)
                fwrite(out, 1, (size_t)n, f);
        else
                fputs("\"\"", f);
        free(big);
}

static void put_jsonl(const struct cli *cl, const struct clf_result *r, const char *text, size_t len) {
        const struct clf_config *c = clf_model_config(clf_pipeline_model(cl->p));

        fputs("{\"heads\": {", stdout);
        for (size_t h = 0; h < r->n_heads; h++) {
                const struct clf_head_cfg *hc = &c->clf_heads[h];
                const struct clf_head_result *y = &r->heads[h];
                const char *name = hc->name[0]                  ? hc->name
                                   : cl->head_name              ? cl->head_name
                                   : hc->kind == CLF_TASK_TOKEN ? "pii"
                                                                : "category";

                if (h)
                        fputs(", ", stdout);
                put_json_str(stdout, name, strlen(name));
                fputs(": {", stdout);
                if (hc->kind == CLF_TASK_SEQUENCE) {
                        fputs("\"label\": ", stdout);
                        put_json_str(stdout, hc->labels[y->label], strlen(hc->labels[y->label]));
                        printf(", \"score\": %.6g, \"scores\": [", y->score);
                        for (size_t i = 0; i < hc->num_labels; i++)
                                printf("%s%.6g", i ? ", " : "", y->scores[i]);
                        fputs("]}", stdout);
                } else {
                        struct clf_span sp[256];
                        size_t n = clf_spans(hc, &r->tokens, y->token_label, y->token_score, text, len, 0.0f, sp, 256);

                        fputs("\"spans\": [", stdout);
                        for (size_t i = 0; i < n && i < 256; i++) {
                                fputs(i ? ", {\"type\": " : "{\"type\": ", stdout);
                                put_json_str(stdout, sp[i].type, sp[i].type_len);
                                printf(", \"start\": %u, \"end\": %u, \"score\": %.6g}", sp[i].start, sp[i].end,
                                       sp[i].score);
                        }
                        fputs("]}", stdout);
                }
        }
        printf("}, \"tokens\": %zu}\n", r->tokens.n);
}

static void put_error(const char *msg) {
        fputs("{\"error\": ", stdout);
        put_json_str(stdout, msg, strlen(msg));
        fputs("}\n", stdout);
}

/* the decoded "text" of a JSON line into *ret (malloc'd) */
static int read_text(const char *line, size_t len, char **ret, size_t *ret_len) {
        struct json_limits lim = { .max_depth = 16, .max_members = 64 };
        struct json_member top[64];
        const struct json_member *m;
        size_t n;
        char *s;
        int k;

        if (json_scan_object(line, len, &lim, top, &n, NULL) < 0)
                return -EBADMSG;
        m = json_find(top, n, "text");
        if (!m || m->type != JSON_STRING)
                return -ENOENT;
        s = malloc(m->val_len + 1);
        if (!s)
                return -ENOMEM;
        k = json_string_decode(m->val, m->val_len, s, m->val_len);
        if (k < 0) {
                free(s);
                return -EBADMSG;
        }
        s[k] = 0;
        *ret = s;
        *ret_len = (size_t)k;
        return 0;
}

static int run_jsonl(struct cli *cl, size_t batch) {
        char **texts = calloc(batch, sizeof *texts);
        size_t *lens = calloc(batch, sizeof *lens);
        int *errs = calloc(batch, sizeof *errs);
        struct clf_result *res = calloc(batch, sizeof *res);
        const char **ok_texts = calloc(batch, sizeof *ok_texts);
        size_t *ok_lens = calloc(batch, sizeof *ok_lens);
        char *line = NULL;
        size_t cap = 0;
        bool eof = false;
        int rc = 0;

        if (!texts || !lens || !errs || !res || !ok_texts || !ok_lens) {
                rc = 1;
                goto out;
        }
        while (!eof) {
                size_t n = 0, n_ok = 0, k = 0;
                ssize_t got;
                int r;

                while (n < batch && (got = getline(&line, &cap, stdin)) >= 0) {
                        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
                                got--;
                        if (got == 0)
                                continue;
                        texts[n] = NULL;
                        errs[n] = read_text(line, (size_t)got, &texts[n], &lens[n]);
                        if (errs[n] == 0) {
                                ok_texts[n_ok] = texts[n];
                                ok_lens[n_ok++] = lens[n];
                        }
                        n++;
                }
                if (n < batch)
                        eof = true;
                r = n_ok ? clf_pipeline_run(cl->p, ok_texts, ok_lens, n_ok, res) : 0;
                for (size_t i = 0; i < n; i++) {
                        if (errs[i] < 0)
                                put_error(errs[i] == -ENOENT   ? "no \"text\" string member"
                                          : errs[i] == -ENOMEM ? "out of memory"
                                                               : "invalid JSON");
                        else if (r < 0)
                                put_error(strerror(-r));
                        else
                                put_jsonl(cl, &res[k++], texts[i], lens[i]);
                        free(texts[i]);
                        texts[i] = NULL;
                }
                if (r >= 0)
                        for (size_t i = 0; i < n_ok; i++)
                                clf_result_free(&res[i]);
                else
                        rc = 1;
                fflush(stdout);
        }
out:
        free(line);
        free(texts);
        free(lens);
        free(errs);
        free(res);
        free(ok_texts);
        free(ok_lens);
        return rc;
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
        for (size_t h = 0; h < r.n_heads; h++) {
                const struct clf_head_cfg *hc = &c->clf_heads[h];
                const struct clf_head_result *y = &r.heads[h];

                if (hc->name[0])
                        printf(" %s:\n", hc->name);
                if (hc->kind == CLF_TASK_SEQUENCE) {
                        bool *shown = calloc(hc->num_labels, sizeof *shown);

                        for (int k = 0; shown && k < cl->top && (size_t)k < hc->num_labels; k++) {
                                size_t best = SIZE_MAX;

                                for (size_t i = 0; i < hc->num_labels; i++)
                                        if (!shown[i] && (best == SIZE_MAX || y->scores[i] > y->scores[best]))
                                                best = i;
                                shown[best] = true;
                                printf("  %-24s %.4f\n", hc->labels[best], y->scores[best]);
                        }
                        free(shown);
                } else {
                        print_spans(hc, &r.tokens, y, text, len);
                }
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
                { "threads", required_argument, NULL, 't' },
                { "backend", required_argument, NULL, 'b' },
                { "max-len", required_argument, NULL, 'm' },
                { "truncate", required_argument, NULL, 'T' },
                { "top", required_argument, NULL, 'k' },
                { "ids", no_argument, NULL, 'I' },
                { "embedding", no_argument, NULL, 'E' },
                { "help", no_argument, NULL, 'h' },
                { "model", required_argument, NULL, 'M' },
                { "jsonl", no_argument, NULL, 'J' },
                { "batch", required_argument, NULL, 'B' },
                { "head-name", required_argument, NULL, 'N' },
                { 0 },
        };
        struct clf_pipeline_opts po = { 0 };
        struct cli cl = { .top = 3 };
        const char *model = NULL;
        bool jsonl = false;
        size_t batch = 8;
        int opt, r, rc = 0;

        sy_log_init("classify");
        while ((opt = getopt_long(argc, argv, "t:b:m:k:h", longopts, NULL)) != -1) {
                switch (opt) {
                case 't':
                        po.threads = atoi(optarg);
                        break;
                case 'b':
                        po.backend = optarg;
                        break;
                case 'm':
                        po.max_len = (size_t)strtoul(optarg, NULL, 10);
                        break;
                case 'k':
                        cl.top = atoi(optarg);
                        break;
                case 'I':
                        cl.ids = true;
                        break;
                case 'E':
                        cl.embedding = true;
                        break;
                case 'M':
                        model = optarg;
                        break;
                case 'J':
                        jsonl = true;
                        break;
                case 'B':
                        batch = (size_t)strtoul(optarg, NULL, 10);
                        break;
                case 'N':
                        cl.head_name = optarg;
                        break;
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
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (!model) {
                if (optind >= argc) {
                        usage(stderr);
                        return 2;
                }
                model = argv[optind];
        } else {
                optind--; /* the texts start at optind + 1 */
        }
        if (batch < 1 || batch > 4096) {
                fprintf(stderr, "switchyard-classify: --batch: 1..4096\n");
                return 2;
        }
        if ((r = clf_pipeline_load(model, &po, &cl.p)) < 0) {
                fprintf(stderr, "switchyard-classify: %s: %s\n", model, strerror(-r));
                return 1;
        }
        {
                const struct clf_config *c = clf_model_config(clf_pipeline_model(cl.p));

                log_info("%s: %s, %zu layers, hidden %zu, %zu heads, %s backend, max %zu tokens", model,
                         clf_arch_name(c->arch), c->layers, c->hidden, c->n_clf_heads,
                         clf_model_backend(clf_pipeline_model(cl.p)), clf_pipeline_max_len(cl.p));
        }
        if (jsonl) {
                rc = run_jsonl(&cl, batch);
        } else if (optind + 1 < argc) {
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
