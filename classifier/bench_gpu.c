/* switchyard-classify-bench-gpu: throughput and latency of the encoder
 * forward pass on the CUDA backend, with the CPU backend's figures beside
 * them. Prints figures only; never decides pass/fail.
 *
 *   switchyard-classify-bench-gpu --gen DIR
 *       writes a BERT-base-size checkpoint with random weights (hidden 768,
 *       12 layers, 12 heads, intermediate 3072, vocab 30522, 14 labels;
 *       BF16, ~220 MB; deterministic; nothing downloaded)
 *   switchyard-classify-bench-gpu [-p f16|bf16|tf32|f32] [-t CPU_THREADS]
 *       [--tokens 128] [--max-batch 256] [--cpu-max-batch 8] [--seconds 2]
 *       [--no-cpu] [--backend cuda|cpu] MODEL_DIR
 *
 * 1. closed loop: forwards of B sequences of exactly `tokens` random ids
 *    (no padding), B = 1, 2, 4, .. max-batch: ms per batch and
 *    classifications/s (logits downloaded each time; tokenization is not
 *    included: see switchyard-classify-bench for the whole path);
 * 2. open loop at half the best throughput: Poisson arrivals, a greedy
 *    batcher (everything that has arrived, up to the best batch size, in
 *    one forward), latency = end of its forward - arrival: p50 / p99.
 * Both for the CUDA backend and (up to cpu-max-batch) the CPU backend;
 * --backend cpu measures the CPU alone in the first columns (to try the
 * benchmark where there is no GPU). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "classifier/clf_backend.h"
#include "classifier/clf_model.h"
#include "common/log.h"

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t next_u64(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static double uniform01(void) {
        return (double)(next_u64() >> 11) * (1.0 / 9007199254740992.0);
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

/* ---- --gen: a BERT-base-size checkpoint ---- */

#define GEN_H 768
#define GEN_L 12
#define GEN_HEADS 12
#define GEN_I 3072
#define GEN_VOCAB 30522
#define GEN_POS 512
#define GEN_LABELS 14

struct gen_tensor {
        char name[96];
        size_t d0, d1; /* d1 == 0: 1-D */
        int fill;      /* 0: random N(0, 0.02)-like, 1: ones, 2: zeros */
};

static size_t gen_list(struct gen_tensor *t) {
        size_t n = 0;

#define T(nm, a, b, f)                                                   \
        do {                                                             \
                if (t) {                                                 \
                        snprintf(t[n].name, sizeof t[n].name, "%s", nm); \
                        t[n].d0 = (a);                                   \
                        t[n].d1 = (b);                                   \
                        t[n].fill = (f);                                 \
                }                                                        \
                n++;                                                     \
        } while (0)
        T("bert.embeddings.word_embeddings.weight", GEN_VOCAB, GEN_H, 0);
        T("bert.embeddings.position_embeddings.weight", GEN_POS, GEN_H, 0);
        T("bert.embeddings.token_type_embeddings.weight", 2, GEN_H, 0);
        T("bert.embeddings.LayerNorm.weight", GEN_H, 0, 1);
        T("bert.embeddings.LayerNorm.bias", GEN_H, 0, 2);
        for (int l = 0; l < GEN_L; l++) {
                static const char *lin[] = { "attention.self.query", "attention.self.key", "attention.self.value",
                                             "attention.output.dense" };
                char nm[96];

                for (int i = 0; i < 4; i++) {
                        snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s.weight", l, lin[i]);
                        T(nm, GEN_H, GEN_H, 0);
                        snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s.bias", l, lin[i]);
                        T(nm, GEN_H, 0, 0);
                }
                snprintf(nm, sizeof nm, "bert.encoder.layer.%d.attention.output.LayerNorm.weight", l);
                T(nm, GEN_H, 0, 1);
                snprintf(nm, sizeof nm, "bert.encoder.layer.%d.attention.output.LayerNorm.bias", l);
                T(nm, GEN_H, 0, 2);
                snprintf(nm, sizeof nm, "bert.encoder.layer.%d.intermediate.dense.weight", l);
                T(nm, GEN_I, GEN_H, 0);
                snprintf(nm, sizeof nm, "bert.encoder.layer.%d.intermediate.dense.bias", l);
                T(nm, GEN_I, 0, 0);
                snprintf(nm, sizeof nm, "bert.encoder.layer.%d.output.dense.weight", l);
                T(nm, GEN_H, GEN_I, 0);
                snprintf(nm, sizeof nm, "bert.encoder.layer.%d.output.dense.bias", l);
                T(nm, GEN_H, 0, 0);
                snprintf(nm, sizeof nm, "bert.encoder.layer.%d.output.LayerNorm.weight", l);
                T(nm, GEN_H, 0, 1);
                snprintf(nm, sizeof nm, "bert.encoder.layer.%d.output.LayerNorm.bias", l);
                T(nm, GEN_H, 0, 2);
        }
        T("bert.pooler.dense.weight", GEN_H, GEN_H, 0);
        T("bert.pooler.dense.bias", GEN_H, 0, 0);
        T("classifier.weight", GEN_LABELS, GEN_H, 0);
        T("classifier.bias", GEN_LABELS, 0, 2);
#undef T
        return n;
}

static uint16_t to_bf16(float f) {
        uint32_t u;

        memcpy(&u, &f, sizeof u);
        u += 0x7fff + ((u >> 16) & 1); /* round to nearest even (finite inputs) */
        return (uint16_t)(u >> 16);
}

static int gen(const char *dir) {
        size_t n = gen_list(NULL), off = 0, hlen, cap = 64 * 1024, len = 0;
        struct gen_tensor *t = calloc(n, sizeof *t);
        char *hdr = malloc(cap), path[4096];
        uint16_t *buf = NULL;
        size_t buf_n = 0;
        FILE *f;

        if (!t || !hdr)
                return -ENOMEM;
        gen_list(t);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        snprintf(path, sizeof path, "%s/config.json", dir);
        if (!(f = fopen(path, "w")))
                return -errno;
        fprintf(f,
                "{\n  \"architectures\": [\"BertForSequenceClassification\"], \"model_type\": \"bert\",\n"
                "  \"vocab_size\": %d, \"hidden_size\": %d, \"num_hidden_layers\": %d, \"num_attention_heads\": %d,\n"
                "  \"intermediate_size\": %d, \"hidden_act\": \"gelu\", \"max_position_embeddings\": %d,\n"
                "  \"type_vocab_size\": 2, \"layer_norm_eps\": 1e-12, \"pad_token_id\": 0,\n  \"id2label\": {",
                GEN_VOCAB, GEN_H, GEN_L, GEN_HEADS, GEN_I, GEN_POS);
        for (int i = 0; i < GEN_LABELS; i++)
                fprintf(f, "%s\"%d\": \"c%d\"", i ? ", " : "", i, i);
        fprintf(f, "}\n}\n");
        if (fclose(f) != 0)
                return -EIO;

        len = (size_t)snprintf(hdr, cap, "{");
        for (size_t i = 0; i < n; i++) {
                size_t numel = t[i].d0 * (t[i].d1 ? t[i].d1 : 1), bytes = numel * 2;
                char shape[64];

                if (t[i].d1)
                        snprintf(shape, sizeof shape, "[%zu, %zu]", t[i].d0, t[i].d1);
                else
                        snprintf(shape, sizeof shape, "[%zu]", t[i].d0);
                len += (size_t)snprintf(hdr + len, cap - len,
                                        "%s\"%s\": {\"dtype\": \"BF16\", \"shape\": %s, "
                                        "\"data_offsets\": [%zu, %zu]}",
                                        i ? ", " : "", t[i].name, shape, off, off + bytes);
                if (len >= cap - 256)
                        return -E2BIG;
                off += bytes;
        }
        len += (size_t)snprintf(hdr + len, cap - len, "}");
        while (len % 8)
                hdr[len++] = ' ';
        hlen = len;
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        if (!(f = fopen(path, "wb")))
                return -errno;
        {
                uint64_t le = hlen;
                unsigned char b8[8];

                for (int i = 0; i < 8; i++)
                        b8[i] = (unsigned char)(le >> (8 * i));
                fwrite(b8, 1, 8, f);
                fwrite(hdr, 1, hlen, f);
        }
        for (size_t i = 0; i < n; i++) {
                size_t numel = t[i].d0 * (t[i].d1 ? t[i].d1 : 1);

                if (numel > buf_n) {
                        free(buf);
                        buf = malloc(numel * sizeof *buf);
                        if (!buf) {
                                fclose(f);
                                return -ENOMEM;
                        }
                        buf_n = numel;
                }
                for (size_t k = 0; k < numel; k++) {
                        /* uniform with the standard deviation 0.02 of BERT's init */
                        float v = t[i].fill == 1   ? 1.0f
                                  : t[i].fill == 2 ? 0.0f
                                                   : (float)((uniform01() * 2 - 1) * 0.0346);

                        buf[k] = to_bf16(v);
                }
                if (fwrite(buf, sizeof *buf, numel, f) != numel) {
                        fclose(f);
                        return -EIO;
                }
        }
        free(buf);
        free(hdr);
        free(t);
        if (fclose(f) != 0)
                return -EIO;
        printf("wrote %s: BERT-base size (hidden %d, %d layers, %d heads, intermediate %d), random BF16 weights, "
               "%.0f MB\n",
               dir, GEN_H, GEN_L, GEN_HEADS, GEN_I, (double)(off + hlen + 8) / 1e6);
        return 0;
}

/* ---- measurements ---- */

struct bench {
        struct clf_model *m;
        const char *name;
        size_t T, max_B;
        int32_t *ids;
        float *logits;
};

static int forward(struct bench *b, size_t B) {
        struct clf_batch in = { .B = B, .T = b->T, .ids = b->ids, .mask = NULL };

        return clf_model_forward(b->m, &in, b->logits, NULL);
}

/* closed loop: classifications/s at batch B (at least 3 forwards and `seconds`) */
static int closed_loop(struct bench *b, size_t B, double seconds, double *ret_rate, double *ret_ms) {
        double t0, el;
        int n = 0, r;

        for (int i = 0; i < 2; i++) /* warm-up: buffers, weight copies, cuBLAS heuristics */
                if ((r = forward(b, B)) < 0)
                        return r;
        t0 = now_s();
        do {
                if ((r = forward(b, B)) < 0)
                        return r;
                n++;
                el = now_s() - t0;
        } while (n < 3 || el < seconds);
        *ret_rate = (double)n * (double)B / el;
        *ret_ms = el * 1e3 / n;
        return 0;
}

/* open loop: Poisson arrivals at `rate`, greedy batches of up to max_B */
static int open_loop(struct bench *b, double rate, size_t max_B, double seconds, double *ret_p50, double *ret_p99,
                     double *ret_rate, size_t *ret_n) {
        size_t N = (size_t)(rate * seconds), done = 0;
        double *arr, *lat, t0, t = 0;
        int r = 0;

        if (N < 20)
                N = 20;
        arr = malloc(N * sizeof *arr);
        lat = malloc(N * sizeof *lat);
        if (!arr || !lat) {
                free(arr);
                free(lat);
                return -ENOMEM;
        }
        for (size_t i = 0; i < N; i++) {
                t += -log(1.0 - uniform01()) / rate;
                arr[i] = t;
        }
        t0 = now_s();
        while (done < N) {
                double now = now_s() - t0;
                size_t arrived = done, B;

                while (arrived < N && arr[arrived] <= now)
                        arrived++;
                if (arrived == done) {
                        double wait = arr[done] - now;
                        struct timespec ts = { (time_t)wait, (long)((wait - floor(wait)) * 1e9) };

                        nanosleep(&ts, NULL);
                        continue;
                }
                B = arrived - done < max_B ? arrived - done : max_B;
                if ((r = forward(b, B)) < 0)
                        break;
                now = now_s() - t0;
                for (size_t i = done; i < done + B; i++)
                        lat[i] = (now - arr[i]) * 1e3;
                done += B;
        }
        if (r >= 0) {
                *ret_rate = (double)N / (now_s() - t0);
                qsort(lat, N, sizeof *lat, cmp_double);
                *ret_p50 = lat[N / 2];
                *ret_p99 = lat[(size_t)((double)N * 0.99) < N ? (size_t)((double)N * 0.99) : N - 1];
                *ret_n = N;
        }
        free(arr);
        free(lat);
        return r;
}

static int bench_open(struct bench *b, const char *dir, const char *backend, int threads, size_t T, size_t max_B) {
        struct clf_model_opts o = { .backend = backend, .threads = threads };
        const struct clf_config *c;
        int r;

        memset(b, 0, sizeof *b);
        if ((r = clf_model_load(dir, &o, &b->m)) < 0)
                return r;
        c = clf_model_config(b->m);
        if (T > c->max_pos)
                T = c->max_pos;
        b->name = backend;
        b->T = T;
        b->max_B = max_B;
        b->ids = malloc(max_B * T * sizeof *b->ids);
        b->logits = malloc(clf_model_logits_size(b->m, max_B, T) * sizeof *b->logits + 64);
        if (!b->ids || !b->logits)
                return -ENOMEM;
        for (size_t i = 0; i < max_B * T; i++) /* [CLS] ... random ... */
                b->ids[i] = (int32_t)(1 + next_u64() % (c->vocab_size - 1));
        return 0;
}

static void bench_close(struct bench *b) {
        clf_model_free(b->m);
        free(b->ids);
        free(b->logits);
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "gen", required_argument, NULL, 'g' },       { "precision", required_argument, NULL, 'p' },
                { "threads", required_argument, NULL, 't' },   { "tokens", required_argument, NULL, 'T' },
                { "max-batch", required_argument, NULL, 'B' }, { "cpu-max-batch", required_argument, NULL, 'C' },
                { "seconds", required_argument, NULL, 's' },   { "no-cpu", no_argument, NULL, 'N' },
                { "backend", required_argument, NULL, 'b' },   { 0 },
        };
        size_t T = 128, max_B = 256, cpu_max_B = 8, nb = 0, best_i = 0;
        double seconds = 2, gpu_rate[16], gpu_ms[16], cpu_rate[16], cpu_ms[16], best = 0, cpu_best = 0;
        size_t sizes[16];
        int threads = (int)sysconf(_SC_NPROCESSORS_ONLN), opt, r;
        bool cpu = true;
        struct bench g, c;
        const char *dir, *backend = "cuda";

        sy_log_init("classify-bench-gpu");
        while ((opt = getopt_long(argc, argv, "g:p:t:", longopts, NULL)) != -1) {
                switch (opt) {
                case 'g':
                        if ((r = gen(optarg)) < 0) {
                                fprintf(stderr, "switchyard-classify-bench-gpu: %s: %s\n", optarg, strerror(-r));
                                return 1;
                        }
                        return 0;
                case 'p':
                        setenv("SWITCHYARD_CLF_PRECISION", optarg, 1);
                        break;
                case 't':
                        threads = atoi(optarg);
                        break;
                case 'T':
                        T = (size_t)strtoul(optarg, NULL, 10);
                        break;
                case 'B':
                        max_B = (size_t)strtoul(optarg, NULL, 10);
                        break;
                case 'C':
                        cpu_max_B = (size_t)strtoul(optarg, NULL, 10);
                        break;
                case 's':
                        seconds = atof(optarg);
                        break;
                case 'N':
                        cpu = false;
                        break;
                case 'b':
                        backend = optarg;
                        break;
                default:
                        fprintf(stderr,
                                "usage: switchyard-classify-bench-gpu --gen DIR | [-p PRECISION] [-t CPU_THREADS] "
                                "[--tokens T] [--max-batch B] [--cpu-max-batch B] [--seconds S] [--no-cpu] MODEL_DIR\n");
                        return 2;
                }
        }
        if (optind >= argc || T == 0 || max_B == 0) {
                fprintf(stderr, "usage: switchyard-classify-bench-gpu --gen DIR | [options] MODEL_DIR\n");
                return 2;
        }
        dir = argv[optind];
        if (strcmp(backend, "cuda") != 0)
                cpu = false;
        if ((r = bench_open(&g, dir, backend, threads, T, max_B)) < 0) {
                fprintf(stderr, "switchyard-classify-bench-gpu: %s on %s: %s (%s)\n", dir, backend, strerror(-r),
                        clf_cuda_why());
                return r == -ENODEV || r == -EOPNOTSUPP ? 77 : 1;
        }
        T = g.T;
        printf("model %s: %s, %zu layers, hidden %zu; %zu tokens per sequence, no padding; GEMMs %s; %s\n", dir,
               clf_arch_name(clf_model_config(g.m)->arch), clf_model_config(g.m)->layers, clf_model_config(g.m)->hidden,
               T,
               strcmp(clf_model_backend(g.m), "cuda") != 0 ? "f32"
               : getenv("SWITCHYARD_CLF_PRECISION")        ? getenv("SWITCHYARD_CLF_PRECISION")
                                                           : "f16 (default)",
               strcmp(clf_model_backend(g.m), "cuda") == 0 ? clf_cuda_why() : "CPU backend");
        for (size_t B = 1; B <= max_B && nb < 16; B *= 2) {
                if ((r = closed_loop(&g, B, seconds, &gpu_rate[nb], &gpu_ms[nb])) < 0) {
                        fprintf(stderr, "switchyard-classify-bench-gpu: %s, batch %zu: %s\n", backend, B, strerror(-r));
                        return 1;
                }
                cpu_rate[nb] = cpu_ms[nb] = -1;
                if (gpu_rate[nb] > best) {
                        best = gpu_rate[nb];
                        best_i = nb;
                }
                sizes[nb++] = B;
        }
        if (cpu) {
                if ((r = bench_open(&c, dir, "cpu", threads, T, cpu_max_B)) < 0) {
                        fprintf(stderr, "switchyard-classify-bench-gpu: %s on cpu: %s\n", dir, strerror(-r));
                        return 1;
                }
                for (size_t i = 0; i < nb && sizes[i] <= cpu_max_B; i++) {
                        if ((r = closed_loop(&c, sizes[i], seconds, &cpu_rate[i], &cpu_ms[i])) < 0) {
                                fprintf(stderr, "switchyard-classify-bench-gpu: cpu: %s\n", strerror(-r));
                                return 1;
                        }
                        if (cpu_rate[i] > cpu_best)
                                cpu_best = cpu_rate[i];
                }
        }
        printf("\nclosed loop (forward of a full batch, back to back)\n");
        printf("%6s  %9s ms %9s classif/s   %12s %16s\n", "batch", clf_model_backend(g.m), clf_model_backend(g.m),
               "cpu ms", "cpu classif/s");
        for (size_t i = 0; i < nb; i++) {
                if (cpu_rate[i] >= 0)
                        printf("%6zu  %12.3f %16.1f   %12.3f %16.2f\n", sizes[i], gpu_ms[i], gpu_rate[i], cpu_ms[i],
                               cpu_rate[i]);
                else
                        printf("%6zu  %12.3f %16.1f   %12s %16s\n", sizes[i], gpu_ms[i], gpu_rate[i], "-", "-");
        }
        printf("best: %s %.1f classifications/s at batch %zu (target >= 5000/s on an H100 at 128 tokens)",
               clf_model_backend(g.m), best, sizes[best_i]);
        if (cpu)
                printf("; cpu %.2f/s (%d threads)", cpu_best, threads);
        printf("\n\nopen loop at half the best rate (Poisson arrivals, greedy batching)\n");
        {
                double p50, p99, rate;
                size_t n;

                if ((r = open_loop(&g, best / 2, sizes[best_i], 2 * seconds + 3, &p50, &p99, &rate, &n)) < 0) {
                        fprintf(stderr, "switchyard-classify-bench-gpu: open loop: %s\n", strerror(-r));
                        return 1;
                }
                printf("%-5s offered %.1f/s, served %.1f/s, %zu requests, max batch %zu: latency p50 %.3f ms  p99 %.3f ms\n",
                       clf_model_backend(g.m), best / 2, rate, n, sizes[best_i], p50, p99);
                if (cpu && cpu_best > 0) {
                        if ((r = open_loop(&c, cpu_best / 2, cpu_max_B, 2 * seconds + 3, &p50, &p99, &rate, &n)) < 0) {
                                fprintf(stderr, "switchyard-classify-bench-gpu: cpu open loop: %s\n", strerror(-r));
                                return 1;
                        }
                        printf("%-5s offered %.2f/s, served %.2f/s, %zu requests, max batch %zu: latency p50 %.3f ms  "
                               "p99 %.3f ms\n",
                               "cpu", cpu_best / 2, rate, n, cpu_max_B, p50, p99);
                }
        }
        bench_close(&g);
        if (cpu)
                bench_close(&c);
        return 0;
}
