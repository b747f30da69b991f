/* Load signals from an inference server's /metrics body (Prometheus text
 * exposition format, as served by vLLM and SGLang).
 *
 * metrics_parse() is a pure function over a buffer: it never allocates,
 * never writes outside *ret, and reads at most len bytes (the buffer need
 * not be NUL-terminated). Lines may end in LF or CRLF; the last line needs
 * no newline. Comment lines (# HELP, # TYPE, # EOF, ...), empty lines and
 * samples of metrics it does not know are ignored. A line that is not a
 * well-formed sample is skipped and counted in n_malformed; it does not fail
 * the scrape.
 *
 * Known metrics and how their samples (one per label set) are combined:
 *   vllm:num_requests_waiting, sglang:num_queue_reqs     -> waiting   (sum)
 *   vllm:num_requests_running, sglang:num_running_reqs   -> running   (sum)
 *   vllm:kv_cache_usage_perc, vllm:gpu_cache_usage_perc,
 *   sglang:token_usage                                   -> kv_usage  (max)
 *   vllm:cache_config_info labels block_size, num_gpu_blocks
 *                                              -> block_size, num_gpu_blocks (max)
 * Values: NaN samples are ignored; request counts below 0 count as 0 and
 * +Inf stays +Inf (a saturated endpoint); usage fractions are clamped to
 * [0, 1] (vLLM's "_perc" gauges are fractions too). Timestamps after the
 * value are accepted and ignored. A value or timestamp longer than 63
 * characters counts as malformed. Numbers are parsed with strtod(), so the
 * process must run in the "C" numeric locale (the default). */
#pragma once
#include <stddef.h>
#include <stdint.h>

enum {
        UPSTREAM_LOAD_WAITING = 1u << 0,
        UPSTREAM_LOAD_RUNNING = 1u << 1,
        UPSTREAM_LOAD_KV_USAGE = 1u << 2,
        UPSTREAM_LOAD_BLOCK_SIZE = 1u << 3,
        UPSTREAM_LOAD_NUM_GPU_BLOCKS = 1u << 4,
};

enum {
        UPSTREAM_ENGINE_VLLM = 1u << 0,   /* saw a known vllm: sample */
        UPSTREAM_ENGINE_SGLANG = 1u << 1, /* saw a known sglang: sample */
};

struct upstream_load {
        uint32_t flags;          /* UPSTREAM_LOAD_*: which fields below are set */
        uint32_t engines;        /* UPSTREAM_ENGINE_* */
        double waiting;          /* queued requests */
        double running;          /* running requests */
        double kv_usage;         /* KV-cache use, fraction in [0, 1] */
        uint64_t block_size;     /* KV-cache block size, tokens */
        uint64_t num_gpu_blocks; /* KV-cache blocks on the GPU */
        uint32_t n_samples;      /* samples of known metrics that were used */
        uint32_t n_malformed;    /* lines skipped as malformed */
};

/* Parses buf[0..len). Returns 0 and fills *ret (zeroing fields not present)
 * when at least one signal was found; -ENODATA when the body holds none of
 * the known metrics (every line may have been malformed); -EINVAL for a NULL
 * ret, or a NULL buf with len > 0. *ret is untouched on failure. */
int metrics_parse(const char *buf, size_t len, struct upstream_load *ret);
