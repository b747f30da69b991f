/* simllm: command line, listeners (one SO_REUSEPORT socket per worker),
 * worker threads, clean shutdown on SIGTERM/SIGINT. */
#include "tests/simllm/simllm.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "http/http_listen.h"

static void usage(FILE *f) {
        fputs("usage: simllm --port P [options]\n"
              "  --host ADDR            listen address (127.0.0.1)\n"
              "  --port P               listen port; 0 picks a free one\n"
              "  --name REPLICA         replica name (sim-PORT)\n"
              "  --engine vllm|sglang   metric names and owned_by (vllm)\n"
              "  --model NAME           served model, repeatable (sim-model)\n"
              "  --threads N            worker threads (1)\n"
              "  --ttft-ms N            time to first token\n"
              "  --itl-ms N             inter-token latency\n"
              "  --prefill-us-per-token N  added to the TTFT per uncached prompt token (0)\n"
              "  --decode-us-per-token N   added to the ITL, x (1 + running/max-running) (0)\n"
              "  --max-tokens N         default output tokens (16)\n"
              "  --max-running N        concurrent sequences; more wait (256)\n"
              "  --prefill-lanes N      prefills computed at once, the others queue behind\n"
              "                         them (compute-bound prefill); 0: no limit (0)\n"
              "  --kv-blocks N          KV capacity in blocks of 16 tokens, also the prefix\n"
              "                         cache size (8192; 0: no prefix cache)\n"
              "  --max-model-len N      prompt + output token limit (32768)\n"
              "  --embed-dim N          embedding dimension (16)\n"
              "  --error-rate F         answer this fraction with --error-status\n"
              "  --error-status S       injected error status (500)\n"
              "  --hang-rate F          never answer this fraction\n"
              "  --reset-rate F         reset this fraction of connections mid-stream\n"
              "  --reset-after N        ... after N tokens (2)\n"
              "  --not-ready-ms N       /health answers 503 for the first N ms\n"
              "  --ready-file PATH      write the port there once listening\n"
              "  --seed N               fault injection random seed\n"
              "  --tls-cert PEM --tls-key PEM  serve HTTPS (only) with this certificate chain\n"
              "  --echo-header NAME     the request's NAME header comes back as x-simllm-echo\n"
              "Runtime knobs: POST /sim/config {\"ttft_ms\":..,\"itl_ms\":..,\"prefill_us_per_token\":..,\n"
              "  \"decode_us_per_token\":..,\"error_rate\":..,\n"
              "  \"error_status\":..,\"hang_rate\":..,\"reset_rate\":..,\"reset_after\":..,\"healthy\":..};\n"
              "counters: GET /sim/stats\n",
              f);
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *ret) {
        char *end;
        unsigned long long v;

        if (!s || !*s || *s == '-')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_double(const char *s, double lo, double hi, double *ret) {
        char *end;
        double v;

        if (!s || !*s)
                return -EINVAL;
        v = strtod(s, &end);
        if (*end || !(v >= lo && v <= hi))
                return -EINVAL;
        *ret = v;
        return 0;
}

enum {
        OPT_HOST = 256,
        OPT_PORT,
        OPT_NAME,
        OPT_ENGINE,
        OPT_MODEL,
        OPT_THREADS,
        OPT_TTFT,
        OPT_ITL,
        OPT_MAX_TOKENS,
        OPT_MAX_RUNNING,
        OPT_KV_BLOCKS,
        OPT_MAX_MODEL_LEN,
        OPT_EMBED_DIM,
        OPT_ERROR_RATE,
        OPT_ERROR_STATUS,
        OPT_HANG_RATE,
        OPT_RESET_RATE,
        OPT_RESET_AFTER,
        OPT_NOT_READY,
        OPT_READY_FILE,
        OPT_SEED,
        OPT_PREFILL,
        OPT_DECODE,
        OPT_PREFILL_LANES,
        OPT_TLS_CERT,
        OPT_TLS_KEY,
        OPT_ECHO_HEADER,
        OPT_HELP,
};

static const struct option long_opts[] = {
        { "host", required_argument, NULL, OPT_HOST },
        { "port", required_argument, NULL, OPT_PORT },
        { "name", required_argument, NULL, OPT_NAME },
        { "engine", required_argument, NULL, OPT_ENGINE },
        { "model", required_argument, NULL, OPT_MODEL },
        { "threads", required_argument, NULL, OPT_THREADS },
        { "ttft-ms", required_argument, NULL, OPT_TTFT },
        { "itl-ms", required_argument, NULL, OPT_ITL },
        { "max-tokens", required_argument, NULL, OPT_MAX_TOKENS },
        { "max-running", required_argument, NULL, OPT_MAX_RUNNING },
        { "kv-blocks", required_argument, NULL, OPT_KV_BLOCKS },
        { "max-model-len", required_argument, NULL, OPT_MAX_MODEL_LEN },
        { "embed-dim", required_argument, NULL, OPT_EMBED_DIM },
        { "error-rate", required_argument, NULL, OPT_ERROR_RATE },
        { "error-status", required_argument, NULL, OPT_ERROR_STATUS },
        { "hang-rate", required_argument, NULL, OPT_HANG_RATE },
        { "reset-rate", required_argument, NULL, OPT_RESET_RATE },
        { "reset-after", required_argument, NULL, OPT_RESET_AFTER },
        { "not-ready-ms", required_argument, NULL, OPT_NOT_READY },
        { "ready-file", required_argument, NULL, OPT_READY_FILE },
        { "seed", required_argument, NULL, OPT_SEED },
        { "prefill-us-per-token", required_argument, NULL, OPT_PREFILL },
        { "decode-us-per-token", required_argument, NULL, OPT_DECODE },
        { "prefill-lanes", required_argument, NULL, OPT_PREFILL_LANES },
        { "tls-cert", required_argument, NULL, OPT_TLS_CERT },
        { "tls-key", required_argument, NULL, OPT_TLS_KEY },
        { "echo-header", required_argument, NULL, OPT_ECHO_HEADER },
        { "help", no_argument, NULL, OPT_HELP },
        { 0 },
};

/* 0 ok, 1 --help, -EINVAL (message printed). */
static int parse_args(int argc, char **argv, struct sim_opts *o) {
        unsigned long long u;
        bool have_port = false;
        int opt;

        *o = (struct sim_opts){
                .host = "127.0.0.1",
                .engine = SIM_ENGINE_VLLM,
                .threads = 1,
                .max_tokens = 16,
                .max_running = 256,
                .kv_blocks = 8192,
                .max_model_len = 32768,
                .embed_dim = 16,
                .max_body = 32u << 20,
                .error_status = 500,
                .reset_after = 2,
        };
        while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
                const char *a = optarg;
                int r = 0;

                switch (opt) {
                case OPT_HOST:
                        o->host = a;
                        break;
                case OPT_PORT:
                        r = parse_uint(a, 65535, &u);
                        o->port = (int)u;
                        have_port = true;
                        break;
                case OPT_NAME:
                        o->name = a;
                        break;
                case OPT_ENGINE:
                        if (strcmp(a, "vllm") == 0)
                                o->engine = SIM_ENGINE_VLLM;
                        else if (strcmp(a, "sglang") == 0)
                                o->engine = SIM_ENGINE_SGLANG;
                        else
                                r = -EINVAL;
                        break;
                case OPT_MODEL:
                        if (o->n_models == SIM_MAX_MODELS || !*a || strlen(a) >= 256)
                                r = -EINVAL;
                        else
                                o->models[o->n_models++] = a;
                        break;
                case OPT_THREADS:
                        r = parse_uint(a, SIM_MAX_WORKERS, &u);
                        o->threads = (unsigned)u;
                        if (!r && u == 0)
                                r = -EINVAL;
                        break;
                case OPT_TTFT:
                        r = parse_double(a, 0, 1e7, &o->ttft_ms);
                        break;
                case OPT_ITL:
                        r = parse_double(a, 0, 1e7, &o->itl_ms);
                        break;
                case OPT_PREFILL:
                        r = parse_double(a, 0, 1e9, &o->prefill_us_per_token);
                        break;
                case OPT_DECODE:
                        r = parse_double(a, 0, 1e9, &o->decode_us_per_token);
                        break;
                case OPT_MAX_TOKENS:
                        r = parse_uint(a, INT32_MAX, &u);
                        o->max_tokens = (unsigned)u;
                        if (!r && u == 0)
                                r = -EINVAL;
                        break;
                case OPT_MAX_RUNNING:
                        r = parse_uint(a, 1u << 24, &u);
                        o->max_running = (unsigned)u;
                        if (!r && u == 0)
                                r = -EINVAL;
                        break;
                case OPT_TLS_CERT:
                        o->tls_cert = a;
                        break;
                case OPT_TLS_KEY:
                        o->tls_key = a;
                        break;
                case OPT_ECHO_HEADER:
                        o->echo_header = *a ? a : NULL;
                        r = *a ? 0 : -EINVAL;
                        break;
                case OPT_PREFILL_LANES:
                        r = parse_uint(a, SIM_MAX_PREFILL_LANES, &u);
                        o->prefill_lanes = (unsigned)u;
                        break;
                case OPT_KV_BLOCKS:
                        r = parse_uint(a, 1u << 28, &u);
                        o->kv_blocks = (unsigned)u;
                        break;
                case OPT_MAX_MODEL_LEN:
                        r = parse_uint(a, INT32_MAX, &u);
                        o->max_model_len = (unsigned)u;
                        break;
                case OPT_EMBED_DIM:
                        r = parse_uint(a, 256, &u);
                        o->embed_dim = (unsigned)u;
                        if (!r && u == 0)
                                r = -EINVAL;
                        break;
                case OPT_ERROR_RATE:
                        r = parse_double(a, 0, 1, &o->error_rate);
                        break;
                case OPT_ERROR_STATUS:
                        r = parse_uint(a, 599, &u);
                        o->error_status = (int)u;
                        if (!r && u < 200)
                                r = -EINVAL;
                        break;
                case OPT_HANG_RATE:
                        r = parse_double(a, 0, 1, &o->hang_rate);
                        break;
                case OPT_RESET_RATE:
                        r = parse_double(a, 0, 1, &o->reset_rate);
                        break;
                case OPT_RESET_AFTER:
                        r = parse_uint(a, INT32_MAX, &u);
                        o->reset_after = (int)u;
                        break;
                case OPT_NOT_READY:
                        r = parse_uint(a, UINT32_MAX, &u);
                        o->not_ready_ns = u * 1000000u;
                        break;
                case OPT_READY_FILE:
                        o->ready_file = a;
                        break;
                case OPT_SEED:
                        r = parse_uint(a, ULLONG_MAX, &u);
                        o->seed = u;
                        break;
                case OPT_HELP:
                case 'h':
                        return 1;
                default:
                        return -EINVAL;
                }
                if (r < 0) {
                        fprintf(stderr, "simllm: invalid value for --%s: %s\n", long_opts[opt - OPT_HOST].name, a);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "simllm: unexpected argument: %s\n", argv[optind]);
                return -EINVAL;
        }
        if (!have_port) {
                fprintf(stderr, "simllm: --port is required (0 picks a free one)\n");
                return -EINVAL;
        }
        if (o->n_models == 0)
                o->models[o->n_models++] = "sim-model";
        return 0;
}

static int write_ready_file(const char *path, int port) {
        char tmp[PATH_MAX];
        FILE *f;

        if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
                return -ENAMETOOLONG;
        f = fopen(tmp, "w");
        if (!f)
                return -errno;
        fprintf(f, "%d\n", port);
        if (fclose(f) != 0 || rename(tmp, path) < 0) {
                int r = -errno;

                unlink(tmp);
                return r;
        }
        return 0;
}

int main(int argc, char **argv) {
        static struct sim sim;
        static struct worker workers[SIM_MAX_WORKERS];
        static char default_name[32];
        struct sim_opts o;
        sigset_t sigs;
        unsigned started = 0, inited = 0;
        int r, port = 0, sig = 0, ret = 1;

        sy_log_init("simllm");
        r = parse_args(argc, argv, &o);
        if (r != 0) {
                usage(r > 0 ? stdout : stderr);
                return r > 0 ? 0 : 2;
        }

        /* signals are taken by sigwait in this thread only */
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGINT);
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);
        signal(SIGPIPE, SIG_IGN);

        port = o.port;
        for (unsigned i = 0; i < o.threads; i++) {
                uint16_t bound = 0;
                int fd = -1;

                /* SO_REUSEPORT: every worker has its own socket and the kernel spreads connections */
                r = http_listen(o.host, (uint16_t)port, HTTP_LISTEN_NONBLOCK | HTTP_LISTEN_REUSEPORT, 4096, &fd,
                                &bound);
                if (r < 0) {
                        log_err("cannot listen on %s:%d: %s", o.host, port, strerror(-r));
                        goto out;
                }
                port = bound;
                workers[i].lfd = fd;
                inited = i + 1;
        }
        o.port = port;
        if (!o.name) {
                snprintf(default_name, sizeof default_name, "sim-%d", port);
                o.name = default_name;
        }
        r = sim_init(&sim, &o);
        if (r >= 0 && (o.tls_cert || o.tls_key) && (r = sim_tls_init(&sim)) < 0)
                log_err("--tls-cert / --tls-key: cannot use them");
        if (r < 0) {
                log_err("init: %s", strerror(-r));
                for (unsigned i = 0; i < inited; i++)
                        close(workers[i].lfd);
                return 1;
        }
        for (unsigned i = 0; i < o.threads; i++) {
                int fd = workers[i].lfd;

                r = worker_init(&workers[i], &sim, i, fd);
                if (r < 0) {
                        log_err("worker %u: %s", i, strerror(-r));
                        for (unsigned j = i; j < o.threads; j++)
                                close(workers[j].lfd);
                        inited = i;
                        goto out_workers;
                }
        }
        inited = o.threads;
        for (unsigned i = 0; i < o.threads; i++) {
                r = pthread_create(&workers[i].thread, NULL, worker_run, &workers[i]);
                if (r != 0) {
                        log_err("pthread_create: %s", strerror(r));
                        goto out_threads;
                }
                started = i + 1;
        }
        if (o.ready_file) {
                r = write_ready_file(o.ready_file, port);
                if (r < 0) {
                        log_err("ready file %s: %s", o.ready_file, strerror(-r));
                        goto out_threads;
                }
        }
        printf("simllm %s listening on %s:%d (engine %s, %u model%s, %u thread%s)\n", o.name, o.host, port,
               sim.engine_name, o.n_models, o.n_models == 1 ? "" : "s", o.threads, o.threads == 1 ? "" : "s");
        fflush(stdout);
        log_info("listening on %s:%d", o.host, port);

        while (sigwait(&sigs, &sig) != 0)
                ;
        log_info("signal %d: shutting down", sig);
        ret = 0;
out_threads:
        for (unsigned i = 0; i < started; i++) {
                uint64_t one = 1;

                atomic_store_explicit(&workers[i].stop, true, memory_order_release);
                (void)!write(workers[i].efd, &one, sizeof one);
        }
        for (unsigned i = 0; i < started; i++)
                pthread_join(workers[i].thread, NULL);
out_workers:
        for (unsigned i = 0; i < inited; i++)
                worker_destroy(&workers[i]);
        sim_destroy(&sim);
        return ret;
out:
        for (unsigned i = 0; i < inited; i++)
                close(workers[i].lfd);
        return 1;
}
