/* metrics_parse() on vLLM and SGLang /metrics samples and on a table of
 * malformed lines. Groups (argv[1], all when none): vllm, vllm-v0, sglang,
 * values, malformed, nodata, truncated. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>

#include "router/metrics_parse.h"
#include "router-test.h"

#define MODEL "meta-llama/Llama-3.1-8B-Instruct"

/* vLLM V1 with two data-parallel engines (per-engine label sets). */
static const char vllm_body[] =
        "# HELP python_gc_objects_collected_total Objects collected during gc\n"
        "# TYPE python_gc_objects_collected_total counter\n"
        "python_gc_objects_collected_total{generation=\"0\"} 12345.0\n"
        "process_resident_memory_bytes 2.147483648e+09\n"
        "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
        "# TYPE vllm:num_requests_running gauge\n"
        "vllm:num_requests_running{engine=\"0\",model_name=\"" MODEL "\"} 3.0\n"
        "vllm:num_requests_running{engine=\"1\",model_name=\"" MODEL "\"} 2.0\n"
        "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"
        "# TYPE vllm:num_requests_waiting gauge\n"
        "vllm:num_requests_waiting{engine=\"0\",model_name=\"" MODEL "\"} 5.0\n"
        "vllm:num_requests_waiting{engine=\"1\",model_name=\"" MODEL "\"} 1.0\n"
        "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n"
        "# TYPE vllm:kv_cache_usage_perc gauge\n"
        "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"" MODEL "\"} 0.4375\n"
        "vllm:kv_cache_usage_perc{engine=\"1\",model_name=\"" MODEL "\"} 0.6125\n"
        "# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.\n"
        "# TYPE vllm:prefix_cache_queries_total counter\n"
        "vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"" MODEL "\"} 1.048576e+06\n"
        "# HELP vllm:num_requests_waiting_created Number of requests waiting.\n"
        "# TYPE vllm:num_requests_waiting_created gauge\n"
        "vllm:num_requests_waiting_created{engine=\"0\",model_name=\"" MODEL "\"} 1.7e9\n"
        "# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.\n"
        "# TYPE vllm:time_to_first_token_seconds histogram\n"
        "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"0.001\",model_name=\"" MODEL "\"} 0.0\n"
        "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"0.005\",model_name=\"" MODEL "\"} 3.0\n"
        "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"+Inf\",model_name=\"" MODEL "\"} 42.0\n"
        "vllm:time_to_first_token_seconds_count{engine=\"0\",model_name=\"" MODEL "\"} 42.0\n"
        "vllm:time_to_first_token_seconds_sum{engine=\"0\",model_name=\"" MODEL "\"} 3.25\n"
        "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n"
        "# TYPE vllm:cache_config_info gauge\n"
        "vllm:cache_config_info{block_size=\"16\",cache_dtype=\"auto\",calculate_kv_scales=\"False\","
        "cpu_offload_gb=\"0\",enable_prefix_caching=\"True\",engine=\"0\",gpu_memory_utilization=\"0.9\","
        "is_attention_free=\"False\",num_cpu_blocks=\"None\",num_gpu_blocks=\"27296\","
        "num_gpu_blocks_override=\"None\",prefix_caching_hash_algo=\"builtin\",sliding_window=\"None\","
        "swap_space=\"4\",swap_space_bytes=\"4294967296\"} 1.0\n"
        "vllm:cache_config_info{block_size=\"16\",cache_dtype=\"auto\",engine=\"1\",num_gpu_blocks=\"27040\"} 1.0\n";

/* vLLM V0: the older gauge name, no engine label. */
static const char vllm_v0_body[] =
        "# HELP vllm:num_requests_running Number of requests currently running on GPU.\n"
        "# TYPE vllm:num_requests_running gauge\n"
        "vllm:num_requests_running{model_name=\"" MODEL "\"} 7.0\n"
        "# HELP vllm:num_requests_swapped Number of requests swapped to CPU.\n"
        "# TYPE vllm:num_requests_swapped gauge\n"
        "vllm:num_requests_swapped{model_name=\"" MODEL "\"} 0.0\n"
        "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"
        "# TYPE vllm:num_requests_waiting gauge\n"
        "vllm:num_requests_waiting{model_name=\"" MODEL "\"} 0.0\n"
        "# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.\n"
        "# TYPE vllm:gpu_cache_usage_perc gauge\n"
        "vllm:gpu_cache_usage_perc{model_name=\"" MODEL "\"} 0.921875\n"
        "# HELP vllm:cpu_cache_usage_perc CPU KV-cache usage. 1 means 100 percent usage.\n"
        "# TYPE vllm:cpu_cache_usage_perc gauge\n"
        "vllm:cpu_cache_usage_perc{model_name=\"" MODEL "\"} 0.0\n"
        "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n"
        "# TYPE vllm:cache_config_info gauge\n"
        "vllm:cache_config_info{block_size=\"32\",cache_dtype=\"auto\",num_gpu_blocks=\"None\"} 1.0";

/* SGLang, two data-parallel ranks. */
#define QWEN "Qwen/Qwen2.5-7B-Instruct"
static const char sglang_body[] =
        "# HELP sglang:num_running_reqs The number of running requests.\n"
        "# TYPE sglang:num_running_reqs gauge\n"
        "sglang:num_running_reqs{dp_rank=\"0\",model_name=\"" QWEN "\"} 12.0\n"
        "sglang:num_running_reqs{dp_rank=\"1\",model_name=\"" QWEN "\"} 9.0\n"
        "# HELP sglang:num_used_tokens The number of used tokens.\n"
        "# TYPE sglang:num_used_tokens gauge\n"
        "sglang:num_used_tokens{dp_rank=\"0\",model_name=\"" QWEN "\"} 51234.0\n"
        "# HELP sglang:token_usage The token usage.\n"
        "# TYPE sglang:token_usage gauge\n"
        "sglang:token_usage{dp_rank=\"0\",model_name=\"" QWEN "\"} 0.37\n"
        "sglang:token_usage{dp_rank=\"1\",model_name=\"" QWEN "\"} 0.12\n"
        "# HELP sglang:gen_throughput The generation throughput (token/s).\n"
        "# TYPE sglang:gen_throughput gauge\n"
        "sglang:gen_throughput{dp_rank=\"0\",model_name=\"" QWEN "\"} 812.5\n"
        "# HELP sglang:num_queue_reqs The number of requests in the waiting queue.\n"
        "# TYPE sglang:num_queue_reqs gauge\n"
        "sglang:num_queue_reqs{dp_rank=\"0\",model_name=\"" QWEN "\"} 4.0\n"
        "sglang:num_queue_reqs{dp_rank=\"1\",model_name=\"" QWEN "\"} 0.0\n"
        "# HELP sglang:cache_hit_rate The prefix cache hit rate.\n"
        "# TYPE sglang:cache_hit_rate gauge\n"
        "sglang:cache_hit_rate{dp_rank=\"0\",model_name=\"" QWEN "\"} 0.52\n"
        "# HELP sglang:time_to_first_token_seconds Histogram of time to first token in seconds.\n"
        "# TYPE sglang:time_to_first_token_seconds histogram\n"
        "sglang:time_to_first_token_seconds_sum{model_name=\"" QWEN "\"} 41.5\n"
        "sglang:time_to_first_token_seconds_bucket{le=\"0.1\",model_name=\"" QWEN "\"} 10.0\n"
        "sglang:time_to_first_token_seconds_bucket{le=\"+Inf\",model_name=\"" QWEN "\"} 99.0\n"
        "sglang:time_to_first_token_seconds_count{model_name=\"" QWEN "\"} 99.0\n"
        "# EOF\n";

static int parse_str(const char *s, size_t len, struct upstream_load *ret) {
        char *d = test_dup_exact(s, len);
        int r = metrics_parse(d, len, ret);
        free(d);
        return r;
}

static void check_vllm(const struct upstream_load *l) {
        CHECK_EQ(l->flags, UPSTREAM_LOAD_WAITING | UPSTREAM_LOAD_RUNNING | UPSTREAM_LOAD_KV_USAGE |
                                   UPSTREAM_LOAD_BLOCK_SIZE | UPSTREAM_LOAD_NUM_GPU_BLOCKS);
        CHECK_EQ(l->engines, UPSTREAM_ENGINE_VLLM);
        CHECK_DBL(l->waiting, 6.0);
        CHECK_DBL(l->running, 5.0);
        CHECK_DBL(l->kv_usage, 0.6125);
        CHECK_EQ(l->block_size, 16);
        CHECK_EQ(l->num_gpu_blocks, 27296);
        CHECK_EQ(l->n_samples, 8);
        CHECK_EQ(l->n_malformed, 0);
}

/* The same body with LF, with CRLF, and without its last newline. */
static void test_vllm(void) {
        struct upstream_load l;
        char crlf[sizeof(vllm_body) * 2];
        size_t n = 0;

        memset(&l, 0xa5, sizeof(l));
        CHECK_EQ(parse_str(vllm_body, sizeof(vllm_body) - 1, &l), 0);
        check_vllm(&l);

        CHECK_EQ(parse_str(vllm_body, sizeof(vllm_body) - 2, &l), 0);
        check_vllm(&l);

        for (const char *p = vllm_body; *p; p++) {
                if (*p == '\n')
                        crlf[n++] = '\r';
                crlf[n++] = *p;
        }
        CHECK_EQ(parse_str(crlf, n, &l), 0);
        check_vllm(&l);
        CHECK_EQ(parse_str(crlf, n - 2, &l), 0); /* no trailing CRLF */
        check_vllm(&l);
        CHECK_EQ(parse_str(crlf, n - 1, &l), 0); /* a lone trailing CR */
        check_vllm(&l);
}

static void test_vllm_v0(void) {
        struct upstream_load l;

        CHECK_EQ(parse_str(vllm_v0_body, sizeof(vllm_v0_body) - 1, &l), 0);
        /* num_gpu_blocks="None": block size only */
        CHECK_EQ(l.flags,
                 UPSTREAM_LOAD_WAITING | UPSTREAM_LOAD_RUNNING | UPSTREAM_LOAD_KV_USAGE | UPSTREAM_LOAD_BLOCK_SIZE);
        CHECK_DBL(l.waiting, 0.0);
        CHECK_DBL(l.running, 7.0);
        CHECK_DBL(l.kv_usage, 0.921875);
        CHECK_EQ(l.block_size, 32);
        CHECK_EQ(l.num_gpu_blocks, 0);
        CHECK_EQ(l.n_malformed, 0);
}

static void test_sglang(void) {
        struct upstream_load l;

        CHECK_EQ(parse_str(sglang_body, sizeof(sglang_body) - 1, &l), 0);
        CHECK_EQ(l.flags, UPSTREAM_LOAD_WAITING | UPSTREAM_LOAD_RUNNING | UPSTREAM_LOAD_KV_USAGE);
        CHECK_EQ(l.engines, UPSTREAM_ENGINE_SGLANG);
        CHECK_DBL(l.waiting, 4.0);
        CHECK_DBL(l.running, 21.0);
        CHECK_DBL(l.kv_usage, 0.37);
        CHECK_EQ(l.n_samples, 6);
        CHECK_EQ(l.n_malformed, 0);
}

/* Value syntax, label syntax and blanks that are all well-formed. */
static void test_values(void) {
        static const struct {
                const char *body;
                unsigned flags;
                double waiting, running, usage;
        } cases[] = {
                { "vllm:num_requests_waiting 1e3\n", UPSTREAM_LOAD_WAITING, 1000, 0, 0 },
                { "vllm:num_requests_waiting 2.5E+1", UPSTREAM_LOAD_WAITING, 25, 0, 0 },
                { "vllm:num_requests_waiting .5", UPSTREAM_LOAD_WAITING, 0.5, 0, 0 },
                { "vllm:num_requests_waiting -2", UPSTREAM_LOAD_WAITING, 0, 0, 0 },
                { "vllm:num_requests_waiting -Inf", UPSTREAM_LOAD_WAITING, 0, 0, 0 },
                { "vllm:num_requests_waiting 5 1700000000000", UPSTREAM_LOAD_WAITING, 5, 0, 0 },
                { "vllm:num_requests_waiting 5 -1700000000000  ", UPSTREAM_LOAD_WAITING, 5, 0, 0 },
                { "vllm:num_requests_waiting 5 1.7e9", UPSTREAM_LOAD_WAITING, 5, 0, 0 },
                { "  \tvllm:num_requests_waiting\t 5 \t", UPSTREAM_LOAD_WAITING, 5, 0, 0 },
                { "vllm:num_requests_waiting{} 5", UPSTREAM_LOAD_WAITING, 5, 0, 0 },
                { "vllm:num_requests_waiting{a=\"b\",} 5", UPSTREAM_LOAD_WAITING, 5, 0, 0 },
                { "vllm:num_requests_waiting{ a = \"b\" , c=\"d\" }5", UPSTREAM_LOAD_WAITING, 5, 0, 0 },
                { "vllm:num_requests_waiting{m=\"a\\\"b\\\\c\\n}{ 9\"} 5", UPSTREAM_LOAD_WAITING, 5, 0, 0 },
                { "vllm:num_requests_waiting{m=\"\"} 5", UPSTREAM_LOAD_WAITING, 5, 0, 0 },
                { "vllm:num_requests_waiting{m=\"\xc3\xa9t\xc3\xa9\"} 5", UPSTREAM_LOAD_WAITING, 5, 0, 0 },
                /* NaN samples are skipped: no signal from them */
                { "vllm:num_requests_waiting NaN\nvllm:num_requests_running 1", UPSTREAM_LOAD_RUNNING, 0, 1, 0 },
                { "vllm:num_requests_waiting{a=\"1\"} nan\nvllm:num_requests_waiting{a=\"2\"} 3", UPSTREAM_LOAD_WAITING,
                  3, 0, 0 },
                { "vllm:kv_cache_usage_perc NaN\nvllm:kv_cache_usage_perc 0.5", UPSTREAM_LOAD_KV_USAGE, 0, 0, 0.5 },
                { "vllm:kv_cache_usage_perc 0.5\nvllm:kv_cache_usage_perc NaN", UPSTREAM_LOAD_KV_USAGE, 0, 0, 0.5 },
                /* usage clamped to [0, 1], max over samples and metric names */
                { "vllm:kv_cache_usage_perc +Inf", UPSTREAM_LOAD_KV_USAGE, 0, 0, 1 },
                { "vllm:kv_cache_usage_perc 1.5", UPSTREAM_LOAD_KV_USAGE, 0, 0, 1 },
                { "vllm:kv_cache_usage_perc -0.5", UPSTREAM_LOAD_KV_USAGE, 0, 0, 0 },
                { "vllm:kv_cache_usage_perc 2.5e-1\nvllm:gpu_cache_usage_perc 1.25e-1", UPSTREAM_LOAD_KV_USAGE, 0, 0,
                  0.25 },
                { "vllm:gpu_cache_usage_perc 0.125\nvllm:kv_cache_usage_perc 0.25", UPSTREAM_LOAD_KV_USAGE, 0, 0,
                  0.25 },
                /* both engines in one body: counts add up */
                { "vllm:num_requests_waiting 2\nsglang:num_queue_reqs 3\nsglang:num_running_reqs 4\n"
                  "sglang:token_usage 0.75",
                  UPSTREAM_LOAD_WAITING | UPSTREAM_LOAD_RUNNING | UPSTREAM_LOAD_KV_USAGE, 5, 4, 0.75 },
                /* names that only start like a known one */
                { "vllm:num_requests_waiting_total 9\nvllm:num_requests_running 1", UPSTREAM_LOAD_RUNNING, 0, 1, 0 },
                { "xvllm:num_requests_waiting 9\nvllm:num_requests_running 1", UPSTREAM_LOAD_RUNNING, 0, 1, 0 },
                { "# vllm:num_requests_waiting 9\nvllm:num_requests_running 1", UPSTREAM_LOAD_RUNNING, 0, 1, 0 },
                { "\n\n\r\n  \nvllm:num_requests_running 1\n\n", UPSTREAM_LOAD_RUNNING, 0, 1, 0 },
        };
        struct upstream_load l;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int r = parse_str(cases[i].body, strlen(cases[i].body), &l);

                CHECK_EQ(r, 0);
                if (r != 0) {
                        fprintf(stderr, "  case %zu: %s\n", i, cases[i].body);
                        continue;
                }
                if (l.flags != cases[i].flags || l.n_malformed != 0)
                        fprintf(stderr, "  case %zu: %s\n", i, cases[i].body);
                CHECK_EQ(l.flags, cases[i].flags);
                CHECK_EQ(l.n_malformed, 0);
                CHECK_DBL(l.waiting, cases[i].waiting);
                CHECK_DBL(l.running, cases[i].running);
                CHECK_DBL(l.kv_usage, cases[i].usage);
        }

        /* +Inf requests: saturated, kept as such */
        CHECK_EQ(parse_str("vllm:num_requests_running +Inf", 30, &l), 0);
        CHECK(isinf(l.running) && l.running > 0);
        CHECK_EQ(parse_str("sglang:num_queue_reqs inf", 25, &l), 0);
        CHECK(isinf(l.waiting) && l.waiting > 0);
        /* overflowing values become +-HUGE_VAL, not errors */
        CHECK_EQ(parse_str("vllm:num_requests_running 1e999", 31, &l), 0);
        CHECK(isinf(l.running));

        /* cache info: labels in any order; values that are not numbers skipped */
        {
                static const char b[] = "vllm:cache_config_info{num_gpu_blocks=\"100\",foo=\"x\",block_size=\"64\"} 1\n"
                                        "vllm:cache_config_info{block_size=\"\",num_gpu_blocks=\"1e3\"} 1\n"
                                        "vllm:cache_config_info{block_size=\"1\\\\6\",num_gpu_blocks=\" 5\"} 1\n";
                CHECK_EQ(parse_str(b, sizeof(b) - 1, &l), 0);
                CHECK_EQ(l.flags, UPSTREAM_LOAD_BLOCK_SIZE | UPSTREAM_LOAD_NUM_GPU_BLOCKS);
                CHECK_EQ(l.block_size, 64);
                CHECK_EQ(l.num_gpu_blocks, 100);
                CHECK_EQ(l.n_samples, 1);
                CHECK_EQ(l.n_malformed, 0);
        }
}

#define S(lit) \
        { lit, sizeof(lit) - 1 }

/* Each malformed line sits between two good ones: it is counted, skipped,
 * and none of its value is taken. */
static void test_malformed(void) {
        static const struct {
                const char *line;
                size_t len;
        } cases[] = {
                S("vllm:num_requests_waiting"),
                S("vllm:num_requests_waiting "),
                S("vllm:num_requests_waiting\t"),
                S("vllm:num_requests_waiting abc"),
                S("vllm:num_requests_waiting 1.2.3"),
                S("vllm:num_requests_waiting 0x10"),
                S("vllm:num_requests_waiting 1e"),
                S("vllm:num_requests_waiting --1"),
                S("vllm:num_requests_waiting 1_000"),
                S("vllm:num_requests_waiting 5,0"),
                S("vllm:num_requests_waiting nanx"),
                S("vllm:num_requests_waiting Infinit"),
                S("vllm:num_requests_waiting 5 6 7"),
                S("vllm:num_requests_waiting 5 12x"),
                S("vllm:num_requests_waiting 5 +Inf"),
                S("vllm:num_requests_waiting 5 NaN"),
                S("vllm:num_requests_waiting 000000000000000000000000000000000000000000000000000000000000000005"),
                S("vllm:num_requests_waiting5"),
                S("vllm:num_requests_waiting-x 5"),
                S("vllm:num_requests_waiting{model_name=\"a\" 5"),
                S("vllm:num_requests_waiting{model_name=\"a} 5"),
                S("vllm:num_requests_waiting{model_name=\"a\\"),
                S("vllm:num_requests_waiting{model_name=a} 5"),
                S("vllm:num_requests_waiting{=\"a\"} 5"),
                S("vllm:num_requests_waiting{1a=\"a\"} 5"),
                S("vllm:num_requests_waiting{a:b=\"a\"} 5"),
                S("vllm:num_requests_waiting{model_name=\"a\\q\"} 5"),
                S("vllm:num_requests_waiting{model_name=\"a\",,} 5"),
                S("vllm:num_requests_waiting{model_name=\"a\"\"b\"} 5"),
                S("vllm:num_requests_waiting{model_name \"a\"} 5"),
                S("vllm:num_requests_waiting{"),
                S("vllm:num_requests_waiting}"),
                S("vllm:num_requests_waiting{a=\"b\"}"),
                S("vllm:num_requests_waiting{a=\"b\"} "),
                S("{\"vllm:num_requests_waiting\"} 5"),
                S("1vllm:num_requests_waiting 5"),
                S("-vllm:num_requests_waiting 5"),
                S("vllm:num_requests_waiting 5\0"),
                S("vllm:num_requests_waiting \0 5"),
                S("vllm:num_requests_waiting 5\r5"),
                S("\0vllm:num_requests_waiting 5"),
                S("vllm:num_requests_waiting\x01 5"),
                S("vllm:num_requests_waiting\xc3\xa9 5"),
                S("vllm:cache_config_info{block_size=\"16\"}"),
                S("vllm:kv_cache_usage_perc{a=\"b\"} 0.9 x"),
        };
        static const char pre[] = "vllm:num_requests_running 1\n", post[] = "\nvllm:num_requests_running 2\n";
        struct upstream_load l;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char buf[512];
                size_t n = 0;
                int r;

                memcpy(buf + n, pre, sizeof(pre) - 1);
                n += sizeof(pre) - 1;
                memcpy(buf + n, cases[i].line, cases[i].len);
                n += cases[i].len;
                memcpy(buf + n, post, sizeof(post) - 1);
                n += sizeof(post) - 1;
                r = parse_str(buf, n, &l);
                CHECK_EQ(r, 0);
                if (r != 0 || l.n_malformed != 1 || l.flags != UPSTREAM_LOAD_RUNNING)
                        fprintf(stderr, "  case %zu: \"%.*s\"\n", i, (int)cases[i].len, cases[i].line);
                if (r != 0)
                        continue;
                CHECK_EQ(l.n_malformed, 1);
                CHECK_EQ(l.flags, UPSTREAM_LOAD_RUNNING);
                CHECK_DBL(l.running, 3.0);
                CHECK_DBL(l.waiting, 0.0);
                CHECK_EQ(l.n_samples, 2);

                /* alone in the body, as its last line without a newline */
                r = parse_str(cases[i].line, cases[i].len, &l);
                if (r != -ENODATA)
                        fprintf(stderr, "  case %zu alone: \"%.*s\"\n", i, (int)cases[i].len, cases[i].line);
                CHECK_EQ(r, -ENODATA);
        }
}

/* No known signal: -ENODATA and *ret untouched; bad arguments: -EINVAL. */
static void test_nodata(void) {
        static const char *bodies[] = {
                "",
                "\n",
                "\r\n\r\n",
                ("# HELP vllm:num_requests_waiting Number of requests waiting.\n"
                 "# TYPE vllm:num_requests_waiting gauge\n"),
                "process_resident_memory_bytes 1.2e9\npython_info{implementation=\"CPython\"} 1.0\n",
                "vllm:time_to_first_token_seconds_bucket{le=\"+Inf\"} 4\n",
                "vllm:num_requests_waiting NaN\nsglang:token_usage nan\n",
                "vllm:cache_config_info{block_size=\"None\",num_gpu_blocks=\"None\"} 1.0\n",
                "vllm:cache_config_info{cache_dtype=\"auto\"} 1.0\n",
                "garbage\n{}{}{}\n\"\"\"\n",
                "<html><body>404 Not Found</body></html>",
                "{\"error\": \"not found\"}",
        };
        struct upstream_load l, before;

        memset(&l, 0x5a, sizeof(l));
        before = l;
        for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
                int r = parse_str(bodies[i], strlen(bodies[i]), &l);
                if (r != -ENODATA)
                        fprintf(stderr, "  body %zu: %s\n", i, bodies[i]);
                CHECK_EQ(r, -ENODATA);
                CHECK(memcmp(&l, &before, sizeof(l)) == 0);
        }
        CHECK_EQ(metrics_parse(NULL, 0, &l), -ENODATA);
        CHECK_EQ(metrics_parse(NULL, 5, &l), -EINVAL);
        CHECK_EQ(metrics_parse("vllm:num_requests_running 1", 27, NULL), -EINVAL);
        CHECK(memcmp(&l, &before, sizeof(l)) == 0);
        /* len bounds the read: a known sample past len is not seen */
        CHECK_EQ(metrics_parse("x 1\nvllm:num_requests_running 1", 4, &l), -ENODATA);
}

/* Every prefix of every sample: no crash, no read past len (ASan), never
 * more samples than the whole body. A scrape cut in the middle of a line
 * sees at most that one line malformed. */
static void test_truncated(void) {
        static const struct {
                const char *body;
                size_t len;
        } bodies[] = { S(vllm_body), S(vllm_v0_body), S(sglang_body) };

        for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++) {
                struct upstream_load full;

                CHECK_EQ(parse_str(bodies[b].body, bodies[b].len, &full), 0);
                for (size_t n = 0; n <= bodies[b].len; n++) {
                        struct upstream_load l;
                        int r = parse_str(bodies[b].body, n, &l);

                        CHECK(r == 0 || r == -ENODATA);
                        if (r == 0) {
                                CHECK(l.n_samples <= full.n_samples);
                                CHECK(l.n_malformed <= 1);
                                CHECK((l.flags & ~full.flags) == 0);
                                CHECK(l.waiting <= full.waiting && l.running <= full.running);
                        }
                }
        }
}

int main(int argc, char **argv) {
        static const struct {
                const char *name;
                void (*fn)(void);
        } groups[] = {
                { "vllm", test_vllm },           { "vllm-v0", test_vllm_v0 },     { "sglang", test_sglang },
                { "values", test_values },       { "malformed", test_malformed }, { "nodata", test_nodata },
                { "truncated", test_truncated },
        };
        bool ran = false;

        for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
                if (argc > 1 && strcmp(argv[1], groups[i].name) != 0)
                        continue;
                groups[i].fn();
                ran = true;
        }
        if (!ran) {
                fprintf(stderr, "unknown group: %s\n", argv[1]);
                return 2;
        }
        return check_done(argc > 1 ? argv[1] : "metrics_parse");
}
