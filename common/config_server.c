/* switchyard's own fixed sections: server, proxy, health, router (with
 * its weights, saturation, queue and session sub-mappings) and shm, each a
 * table of keys (config-internal.h's field engine). Unknown keys are
 * errors, except vLLM Semantic Router's own router: block (one warning). */
#include "common/config-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool path_ok(const char *s, size_t len) {
        size_t i;

        if (len == 0 || s[0] != '/')
                return false;
        for (i = 0; i < len; i++)
                if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
                        return false;
        return true;
}

/* A header name switchyard sets or reads itself: not one that carries
 * credentials or framing. */
static int get_header_name(struct ctx *c, const yaml_node_t *v, const char *what, void *p) {
        static const char *const reserved[] = {
                "authorization",  "proxy-authorization", "x-api-key",  "cookie",       "host",
                "content-length", "transfer-encoding",   "connection", "content-type", NULL
        };

        return cfg_get_header_name(c, v, what, reserved, "is a header switchyard must not take for this", p);
}

static int get_http_path(struct ctx *c, const yaml_node_t *v, const char *what, void *p) {
        char b[72];

        if (v->type != YAML_SCALAR_NODE || is_null(v) || !path_ok(sval(v), slen(v)))
                return cfg_errf(c, v,
                                "%s: expected an absolute URL path such as "
                                "/health, got %s%s%s",
                                what, Q(v), SHOW(v, b), Q(v));
        return cfg_get_str(c, v, what, CFG_PATH_MAX, (char **)p);
}

static int get_dir(struct ctx *c, const yaml_node_t *v, const char *what, void *p) {
        char b[72];

        if (v->type != YAML_SCALAR_NODE || is_null(v) || !path_ok(sval(v), slen(v)))
                return cfg_errf(c, v, "%s: expected an absolute directory path, got %s%s%s", what, Q(v), SHOW(v, b),
                                Q(v));
        return cfg_get_str(c, v, what, CFG_DIR_MAX, (char **)p);
}

static int get_policy(struct ctx *c, const yaml_node_t *v, const char *what, void *p) {
        char b[72];

        if (!scalar_is(v, "scorer") && !scalar_is(v, "least_request") && !scalar_is(v, "round_robin"))
                return cfg_errf(c, v,
                                "%s: unknown policy %s%s%s (scorer, least_request or "
                                "round_robin)",
                                what, Q(v), SHOW(v, b), Q(v));
        return cfg_get_str(c, v, what, 32, (char **)p);
}

static const struct cfg_field server_fields[] = {
        F_STR("host", FT_HOST, server.host, "0.0.0.0"),
        FD("port", FT_U16, server.port, 0, 65535, 8080),
        FD("workers", FT_UINT, server.workers, 0, 1024, 0),
        FD("max_connections", FT_UINT, server.max_connections, 1, 10000000, 10000),
        FD("max_header_bytes", FT_SIZE, server.max_header_bytes, 256, 1u << 20, 16384),
        FD("max_headers", FT_UINT, server.max_headers, 1, 1024, 64),
        FD("max_body_bytes", FT_SIZE, server.max_body_bytes, 1, 1u << 30, 4u << 20),
        FD("header_timeout_ms", FT_MS, server.header_timeout_ms, 1, MS_HOUR, 10000),
        FD("idle_timeout_ms", FT_MS, server.idle_timeout_ms, 1, MS_DAY, 60000),
        FD("send_timeout_ms", FT_MS, server.send_timeout_ms, 1, MS_DAY, 60000),
        FD("drain_timeout_ms", FT_MS, server.drain_timeout_ms, 0, MS_HOUR, 30000),
};

static const struct cfg_field proxy_fields[] = {
        FD("connect_timeout_ms", FT_MS, proxy.connect_timeout_ms, 1, 600000, 2000),
        FD("first_byte_timeout_ms", FT_MS, proxy.first_byte_timeout_ms, 1, MS_DAY, 60000),
        FD("idle_timeout_ms", FT_MS, proxy.idle_timeout_ms, 1, MS_DAY, 60000),
        FD("max_retries", FT_UINT, proxy.max_retries, 0, 16, 2),
        FD("pool_size", FT_UINT, proxy.pool_size, 0, 65536, 64),
        F_FN_STR("selected_model_header", get_header_name, proxy.selected_model_header, "x-selected-model"),
};

static const struct cfg_field health_fields[] = {
        F_FN_STR("path", get_http_path, health.path, "/health"),
        FD("interval_ms", FT_MS, health.interval_ms, 10, MS_HOUR, 1000),
        FD("timeout_ms", FT_MS, health.timeout_ms, 1, 600000, 1000),
        FD("unhealthy_threshold", FT_UINT, health.unhealthy_threshold, 1, 1000, 2),
        FD("healthy_threshold", FT_UINT, health.healthy_threshold, 1, 1000, 1),
};

/* router's sub-mappings (FT_MAP): weights are >= 0, any scale */
static const struct cfg_field router_weights_fields[] = {
        FD("queue", FT_DOUBLE, router.weights.queue, 0, 1000000, 1),
        FD("kv_cache", FT_DOUBLE, router.weights.kv_cache, 0, 1000000, 1),
        FD("inflight_tokens", FT_DOUBLE, router.weights.inflight_tokens, 0, 1000000, 1),
        FD("prefix", FT_DOUBLE, router.weights.prefix, 0, 1000000, 3),
        FD("session", FT_DOUBLE, router.weights.session, 0, 1000000, 10),
};

static const struct cfg_field router_saturation_fields[] = {
        FD("queue_depth", FT_UINT, router.saturation.queue_depth, 1, 1000000, 5),
        FD("kv_cache", FT_DOUBLE, router.saturation.kv_cache, 0, 1, 0.9),
};

static const struct cfg_field router_queue_fields[] = {
        FD("max", FT_UINT, router.queue.max, 0, 1000000, 256),
        FD("timeout_ms", FT_MS, router.queue.timeout_ms, 1, MS_HOUR, 2000),
};

static const struct cfg_field router_session_fields[] = {
        FD("ttl_ms", FT_MS, router.session.ttl_ms, 1, MS_DAY, 600000),
        FD("max", FT_UINT, router.session.max, 1, 1u << 24, 65536),
        F_FN_STR("header", get_header_name, router.session.header, "x-session-id"),
};

static const struct cfg_section router_weights = SECTION("router.weights", router_weights_fields);
static const struct cfg_section router_saturation = SECTION("router.saturation", router_saturation_fields);
static const struct cfg_section router_queue = SECTION("router.queue", router_queue_fields);
static const struct cfg_section router_session = SECTION("router.session", router_session_fields);

static const struct cfg_field router_fields[] = {
        F_FN_STR("policy", get_policy, router.policy, "scorer"),
        FD("pick_timeout_us", FT_US, router.pick_timeout_us, 1, 10000000, 2000),
        FD("passive_failures", FT_UINT, router.passive_failures, 0, 1000, 3),
        FD("ejection_ms", FT_MS, router.ejection_ms, 1, MS_HOUR, 5000),
        FD("scrape_interval_ms", FT_MS, router.scrape_interval_ms, 0, MS_HOUR, 100),
        FD("scrape_timeout_ms", FT_MS, router.scrape_timeout_ms, 1, 600000, 500),
        FD("stale_after_ms", FT_MS, router.stale_after_ms, 1, MS_DAY, 1000),
        FD("retry_after_s", FT_UINT, router.retry_after_s, 0, 3600, 1),
        F_SUB("weights", router.weights, router_weights),
        F_SUB("saturation", router.saturation, router_saturation),
        F_SUB("queue", router.queue, router_queue),
        F_SUB("session", router.session, router_session),
};

static const struct cfg_field shm_fields[] = {
        F_FN("runtime_dir", get_dir, shm.runtime_dir), /* default: config.c */
        FD("ring_bytes", FT_POW2, shm.ring_bytes, 4096, 1u << 30, 262144),
        FD("max_workers", FT_UINT, shm.max_workers, 1, 1024, 64),
};

/* vLLM Semantic Router's own top-level `router:` block (dual-path LoRA
 * selection); its keys share switchyard's section name and are ignored. */
static const char *const vsr_router_keys[] = {
        "high_confidence_threshold",
        "low_latency_threshold_ms",
        "lora_baseline_score",
        "traditional_baseline_score",
        "embedding_baseline_score",
        "success_confidence_threshold",
        "large_batch_threshold",
        "lora_default_execution_time_ms",
        "traditional_default_execution_time_ms",
        "default_confidence_threshold",
        "default_max_latency_ms",
        "default_batch_size",
        "default_avg_execution_time_ms",
        "lora_default_confidence",
        "traditional_default_confidence",
        "lora_default_success_rate",
        "traditional_default_success_rate",
        "multi_task_lora_weight",
        "single_task_traditional_weight",
        "large_batch_lora_weight",
        "small_batch_traditional_weight",
        "medium_batch_weight",
        "high_confidence_lora_weight",
        "low_confidence_traditional_weight",
        "low_latency_lora_weight",
        "high_latency_traditional_weight",
        "performance_history_weight",
        "traditional_bert_confidence_threshold",
        "traditional_modernbert_confidence_threshold",
        "traditional_pii_detection_threshold",
        "traditional_token_classification_threshold",
        "traditional_dropout_prob",
        "traditional_attention_dropout_prob",
        "tie_break_confidence",
        NULL,
};

static const struct cfg_section sections[] = {
        SECTION("server", server_fields),
        SECTION("proxy", proxy_fields),
        SECTION("health", health_fields),
        { "router", router_fields, sizeof router_fields / sizeof router_fields[0], vsr_router_keys, "dual-path keys" },
        SECTION("shm", shm_fields),
};

int cfg_server_defaults(struct sy_config *cfg) {
        int r = 0;

        for (size_t i = 0; r >= 0 && i < sizeof sections / sizeof sections[0]; i++)
                r = cfg_section_defaults(cfg, &sections[i]);
        return r;
}

int cfg_parse_server(struct ctx *c) {
        int r = 0;

        for (size_t i = 0; r >= 0 && i < sizeof sections / sizeof sections[0]; i++)
                r = cfg_parse_section(c, &sections[i]);
        return r;
}
