/* switchyard configuration: one YAML file read by every process.
 *
 * Native keys (see config/switchyard.example.yaml) and the classic vLLM
 * Semantic Router keys (vllm_endpoints, model_config, categories with
 * model_scores, default_model) are both accepted; the classic ones are
 * folded into the same structures.
 *
 * All strings are NUL-terminated and owned by the struct sy_config. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SY_CFG_MAX_UPSTREAMS 256
#define SY_CFG_MAX_MODELS 128
#define SY_CFG_MAX_CATEGORIES 64
#define SY_CFG_NAME_MAX 127 /* model, upstream, engine names */

struct sy_v03;

enum sy_upstream_kind {
        SY_UPSTREAM_SERVER = 0,  /* a vLLM / SGLang / OpenAI-compatible server: switchyard picks */
        SY_UPSTREAM_GATEWAY = 1, /* an llm-d / InferencePool gateway: forwarded to as is */
};

struct sy_upstream_cfg {
        char *name; /* unique */
        char *host; /* from url or address */
        uint16_t port;
        char *engine;  /* "vllm", "sglang", ... lower-case; default "vllm" */
        char **models; /* models served */
        size_t n_models;
        uint32_t weight; /* default 1 */
        enum sy_upstream_kind kind;
        unsigned line; /* line in the file, for messages */
        /* an https url (or tls: true): TLS with SNI and certificate
         * verification, always (common/config_tls.c) */
        bool tls;
        char *sni;          /* server name sent and verified; NULL: host (when a name) */
        char *ca_file;      /* PEM CA certificates; NULL: the system store */
        char *api_key_env;  /* environment variable the key was read from at load */
        char *api_key;      /* its value: a secret, never printed, logged or shown */
        char *auth_header;  /* header carrying the key (default Authorization) */
        char *auth_prefix;  /* before the key (default "Bearer ") */
        char **extra_names; /* extra_headers: sent on every request to this upstream */
        char **extra_values;
        size_t n_extra;
        char *health_path; /* NULL: health.path */
        /* via: a gateway upstream (kind: gateway) the requests to this server go
         * through, with x-gateway-destination-endpoint: host:port of this one */
        char *via;
};

/* model_config.<m>.pii_policy (vSR classic): with a policy set, the PII
 * guard runs on every request this model serves (explicit or chosen by
 * model "auto"); a detected type not allowed blocks the request (or, for
 * "auto", skips this model for the category's next candidate). */
struct sy_pii_policy {
        bool set;              /* a pii_policy: mapping is configured */
        bool allow_by_default; /* true (vSR default): every type allowed, the list is ignored
                                  * (refused at load if both are given: it would mean nothing) */
        char **types_allowed;  /* pii_types_allowed: vSR entity names (US_SSN, PERSON, ...), upper case */
        size_t n_types_allowed;
        unsigned line;
};

struct sy_model_cfg {
        char *name;
        struct sy_pii_policy pii_policy;
        char *default_engine;       /* engine used when the request names none; NULL: first upstream's */
        char *reasoning_family;     /* classic model_config key; may be NULL */
        char **preferred_endpoints; /* classic model_config key (upstream names); may be empty */
        size_t n_preferred_endpoints;
};

struct sy_model_score {
        char *model;
        double score;
        bool use_reasoning;
};

struct sy_category_cfg {
        char *name;
        char *system_prompt;       /* may be NULL */
        bool system_prompt_insert; /* system_prompt_mode: insert (prepend to the client's
                                    * system message) instead of replace (default) */
        struct sy_model_score *model_scores;
        size_t n_model_scores;
        /* guard switches of requests routed by this category (vSR classic
         * keys): -1 not set (the global setting applies), 0 off, 1 on */
        int8_t pii_enabled;
        int8_t jailbreak_enabled;
        double jailbreak_threshold; /* < 0: not set (prompt_guard.threshold) */
        double pii_threshold;       /* < 0: not set (classifier.pii_model.threshold) */
};

/* reasoning_families: how a model family switches reasoning on/off */
enum sy_reasoning_type {
        SY_REASONING_TEMPLATE_KWARGS = 0, /* "chat_template_kwargs": {parameter: true|false} */
        SY_REASONING_EFFORT = 1,          /* "parameter": default_reasoning_effort (only when on) */
};

struct sy_reasoning_family {
        char *name;
        enum sy_reasoning_type type;
        char *parameter;
};

/* discovery: sources of upstreams besides the file (router/discovery.h) */
enum sy_discovery_kind {
        SY_DISC_KUBERNETES = 1, /* EndpointSlices or pods through the API server */
        SY_DISC_DNS = 2,        /* A/AAAA records of a (headless service) name */
};

enum sy_k8s_resource {
        SY_K8S_ENDPOINTSLICES = 0,
        SY_K8S_PODS = 1,
};

struct sy_discovery_cfg {
        enum sy_discovery_kind kind;
        char *engine;  /* NULL: owned_by from /v1/models, else "vllm" */
        char **models; /* every endpoint serves these (may be empty) */
        size_t n_models;
        char *model_label;                   /* kubernetes: label whose value is the model; may be NULL */
        bool models_from_v1;                 /* models_from: v1_models (ask each endpoint) */
        uint32_t weight;                     /* of each upstream made; default 1 */
        enum sy_upstream_kind upstream_kind; /* default server */
        /* kubernetes */
        char *namespace_;     /* NULL: the pod's own (service-account namespace file) */
        char *label_selector; /* NULL: every object */
        enum sy_k8s_resource resource;
        char *port_name;  /* named port; or */
        uint16_t port;    /* number (dns: required) */
        char *api_server; /* https://host:port; NULL: KUBERNETES_SERVICE_HOST/PORT */
        char *token_file; /* default /var/run/secrets/kubernetes.io/serviceaccount/token */
        char *ca_file;    /* default .../serviceaccount/ca.crt */
        /* dns */
        char *dns_name;
        unsigned interval_ms; /* re-resolve period, default 5000 */
        unsigned line;
};

/* guard.pii_message / guard.jailbreak_message defaults */
#define SY_CFG_PII_MESSAGE                                                     \
        "I can't process this request: it contains personal information that " \
        "the privacy policy for this model does not allow"
#define SY_CFG_JAILBREAK_MESSAGE                                          \
        "I can't process this request: it was detected as an attempt to " \
        "bypass the model's safety rules (jailbreak)"

struct sy_config {
        char *path;

        struct {
                char *host;                 /* default "0.0.0.0" */
                uint16_t port;              /* default 8080 */
                unsigned workers;           /* 0 = one per core */
                unsigned max_connections;   /* per process, default 10000 */
                size_t max_header_bytes;    /* default 16384 -> 431 */
                unsigned max_headers;       /* default 64 -> 431 */
                size_t max_body_bytes;      /* default 4 MiB -> 413 */
                unsigned header_timeout_ms; /* default 10000 (408) */
                unsigned idle_timeout_ms;   /* keep-alive idle, default 60000 */
                unsigned send_timeout_ms;   /* a client write with no progress, default 60000 */
                unsigned drain_timeout_ms;  /* SIGTERM: finish in-flight, default 30000 */
        } server;

        struct {
                unsigned connect_timeout_ms;    /* default 2000 */
                unsigned first_byte_timeout_ms; /* default 60000 (prefill can be slow) */
                unsigned idle_timeout_ms;       /* between bytes of a response, default 60000 */
                unsigned max_retries;           /* before first byte, default 2 */
                unsigned pool_size;             /* idle kept-alive conns per worker per upstream, default 64 */
                char *selected_model_header;    /* sent upstream with the model served, default
                                                   "x-selected-model" (what HTTPRoutes match on) */
        } proxy;

        struct {
                char *path;                   /* default "/health" */
                unsigned interval_ms;         /* default 1000 */
                unsigned timeout_ms;          /* default 1000 */
                unsigned unhealthy_threshold; /* default 2 */
                unsigned healthy_threshold;   /* default 1 */
        } health;

        struct {
                char *policy;              /* "scorer" (default), "least_request", "round_robin" */
                unsigned pick_timeout_us;  /* frontend waits this long for the router, default 2000 */
                unsigned passive_failures; /* consecutive failures before ejection, default 3 */
                unsigned ejection_ms;      /* default 5000 */
                /* endpoint picker (router/picker.h); set when the policy is "scorer" */
                unsigned scrape_interval_ms; /* GET /metrics per endpoint, default 100; 0: no scraping */
                unsigned scrape_timeout_ms;  /* default 500 */
                unsigned stale_after_ms;     /* no good scrape for this long: saturated, default 1000 */
                struct {
                        double queue, kv_cache, inflight_tokens, prefix, session; /* defaults 1, 1, 1, 3, 10 */
                } weights;
                struct {
                        unsigned queue_depth; /* waiting requests, default 5 */
                        double kv_cache;      /* KV-cache use fraction, default 0.9 */
                } saturation;
                struct {
                        unsigned max;        /* requests queued in the router per model, default 256; 0: shed at once */
                        unsigned timeout_ms; /* default 2000 */
                } queue;
                unsigned retry_after_s; /* Retry-After on 429/503 when shed, default 1 */
                struct {
                        unsigned ttl_ms; /* default 600000 (10 min) */
                        unsigned max;    /* sessions remembered, default 65536 */
                        char *header;    /* the session key's request header, default "x-session-id" */
                } session;
        } router;

        struct {
                char *runtime_dir;    /* default $SWITCHYARD_RUNTIME_DIR or /run/switchyard */
                unsigned ring_bytes;  /* per ring, power of two, default 262144 */
                unsigned max_workers; /* ring pairs in the segment, default 64 */
        } shm;

        struct sy_upstream_cfg *upstreams;
        size_t n_upstreams;
        struct sy_model_cfg *models; /* every model named anywhere, deduplicated */
        size_t n_models;

        /* model "auto" (classifier issue); parsed and validated now */
        char *default_model; /* may be NULL */
        char **auto_aliases; /* default {"auto", "MoM"} */
        size_t n_auto_aliases;
        double confidence_threshold; /* default 0.5 */
        struct sy_category_cfg *categories;
        size_t n_categories;
        /* built-ins (qwen3, deepseek, gpt-oss, gpt) plus reasoning_families */
        struct sy_reasoning_family *reasoning_families;
        size_t n_reasoning_families;
        char *default_reasoning_effort; /* default "high" */
        unsigned classify_turns;        /* user turns classified, newest first; default 1 */

        /* upstream discovery (kubernetes, dns) and the router's admin API */
        struct sy_discovery_cfg *discovery;
        size_t n_discovery;
        struct {
                bool enabled;  /* the admin: section is present */
                char *host;    /* listen address, default 127.0.0.1 */
                uint16_t port; /* default 9090 */
                char *token;   /* bearer token (or read from token_file at start) */
                char *token_file;
                char *state_file; /* admin changes persisted here; NULL: not persisted */
        } admin;

        /* the classifier process (classifier/daemon.c): classifier: and the
         * classic prompt_guard: section */
        struct {
                bool enabled;               /* run it: a classifier: section (unless enabled: false),
                                              * prompt_guard.enabled, or categories */
                char *model;                /* multi-head checkpoint dir; NULL: the embedded default */
                char *backend;              /* "auto" (default), "cpu", "cuda" */
                unsigned threads;           /* CPU (OpenBLAS) threads, default 1 */
                unsigned max_batch;         /* texts per forward pass, default 32 */
                unsigned max_batch_wait_us; /* wait for more while not full, default 500 */
                unsigned max_len;           /* tokens per text; 0: the model's (at most 512) */
                unsigned timeout_ms;        /* the frontend waits this long for a verdict, default 50 */
                /* classic vSR: a single-head checkpoint per role, each its own pass
                 * (classifier.category_model, classifier.pii_model, prompt_guard) */
                struct sy_classifier_role_cfg {
                        char *model_id;     /* directory (relative: to the config file's); NULL: none */
                        char *mapping_path; /* vSR *_mapping.json (idx_to_category / idx_to_label); may be NULL */
                        double threshold;   /* pii: span score (default 0.5); jailbreak: default 0.7;
                                              * category: see confidence_threshold */
                        bool use_cpu;
                        bool missing; /* model_id is not a directory here (a warning says so) */
                        unsigned line;
                } category, pii, jailbreak;
                bool jailbreak_enabled; /* prompt_guard.enabled (default true) */
                bool jailbreak_block;   /* a prompt_guard: section, enabled: model "auto" requests
                                              * scoring >= jailbreak.threshold are refused (400) */
        } classifier;

        /* guards (frontend stage_guard.c): what a blocked request is answered.
         * The messages are plain text (no format placeholders): the frontend
         * appends " (TYPE,...)" to the PII one. Defaults: SY_CFG_*_MESSAGE. */
        struct {
                unsigned block_status;          /* 0 (default): 200 with a chat completion saying why
                                              * (vSR's fast response); else this status (400..599)
                                              * with an OpenAI-style error */
                char *pii_message;              /* assistant text / error message when PII blocks */
                char *jailbreak_message;        /* ... when the jailbreak guard blocks */
                bool include_history;           /* guards read every user turn, not only the last;
                                              * guard.include_history or prompt_guard.include_history */
                bool on_classifier_error_allow; /* guard.on_classifier_error: block (default: a
                                              * guarded request without a verdict is refused, 503)
                                              * or allow (it goes on unchecked) */
        } guard;

        /* API keys (auth:). Off when n_api_keys == 0. Keys are held only as
         * SHA-256 digests: key_sha256 as written, or key_env / key_file read
         * and hashed at load (the plain key wiped right after). */
        struct sy_api_key_cfg {
                char *name; /* client id in logs and metrics; unique */
                uint8_t sha256[32];
                char **models; /* allow-list; empty: every model */
                size_t n_models;
                int64_t requests_per_minute; /* -1: rate_limits' value applies; 0: no limit */
                int64_t tokens_per_minute;   /* -1: rate_limits' value applies; 0: no limit */
                unsigned line;
        } * api_keys;
        size_t n_api_keys;
        char *metrics_token; /* auth.metrics_token(_file/_env): /metrics needs
                                              * Authorization: Bearer <it>; NULL: open */

        /* rate_limits: per client (API key name, else client_header's value,
         * else the peer address); token buckets of capacity burst refilled
         * at the per-minute rate */
        struct {
                char *client_header;          /* default "X-Client-ID" */
                uint32_t requests_per_minute; /* 0: no request limit */
                uint32_t tokens_per_minute;   /* 0: no token limit */
                uint32_t burst_requests;      /* bucket size; 0 (default): requests_per_minute */
                uint32_t burst_tokens;        /* bucket size; 0 (default): tokens_per_minute */
                uint32_t max_clients;         /* limiter entries kept, oldest evicted; default 65536 */
                struct {
                        char *host;          /* redis: a global budget shared by instances; NULL: local only */
                        uint16_t port;       /* default 6379 */
                        char *key_prefix;    /* default "switchyard:rl:" */
                        unsigned timeout_ms; /* per call, default 5 */
                        bool fail_open;      /* Redis unreachable: true (default) the local
                                              * limiter decides; false: 503 */
                        char *password_env;  /* AUTH from this environment variable; NULL: none */
                } redis;
        } rate_limits;

        /* a vSR `version: v0.3` file: its signals, decisions, model cards,
         * limiter rules (common/config_v03.h); NULL for a classic file */
        struct sy_v03 *v03;

        /* Keys accepted but not used (unknown top-level keys, classic vSR
         * settings switchyard ignores): "file:line:col: message" each, at
         * most 64; the caller logs them. */
        char **warnings;
        size_t n_warnings;
};

/* Loads and validates. On error returns -errno (-EINVAL for bad content,
 * -ENOENT etc. for I/O) and writes "file:line:col: message" into err. */
/* Keys switchyard reads but would not use (foreign vSR sections, unknown
 * keys) are refused at load with file:line:col, unless the environment has
 * SWITCHYARD_ALLOW_UNSUPPORTED=1 (what `switchyard ... --allow-unsupported`
 * sets for itself and the processes it starts): then each is one warning.
 * Policy-like keys that would not be enforced are refused either way. */
#define SY_ALLOW_UNSUPPORTED_ENV "SWITCHYARD_ALLOW_UNSUPPORTED"
bool sy_config_allow_unsupported(void);
int sy_config_load(const char *path, struct sy_config **ret_cfg, char *err, size_t errlen);
/* Same, from a buffer; name is used in messages. */
int sy_config_load_string(const char *name, const char *yaml, size_t len, struct sy_config **ret_cfg, char *err,
                          size_t errlen);
void sy_config_free(struct sy_config *cfg);
/* The model table's entry for name (*ret, if ret), added with no
 * settings when there is none. -E2BIG (SY_CFG_MAX_MODELS), -ENOMEM. */
int sy_config_ensure_model(struct sy_config *cfg, const char *name, struct sy_model_cfg **ret);
/* Frees what one upstream / model entry owns (not the entry itself). */
void sy_config_upstream_free(struct sy_upstream_cfg *u);
void sy_config_model_free(struct sy_model_cfg *m);

/* The file's rules, for names and addresses given otherwise (admin API,
 * discovery): models and upstreams (printable ASCII, no spaces, quotes or
 * backslashes, 1..127 bytes), engines ([a-z0-9_-]+), hosts (a name or an
 * IP literal without brackets), and http://host[:port][/] (port 80 if
 * absent; -EINVAL otherwise). */
bool sy_config_name_ok(const char *s);
bool sy_config_engine_ok(const char *s);
bool sy_config_host_ok(const char *s);
int sy_config_parse_http_url(const char *url, char **ret_host, uint16_t *ret_port);

/* Parses a duration: a bare integer is a count of unit_ns (1000000 for
 * keys ending in _ms, 1000 for _us); otherwise numbers with units, summed:
 * "250ms", "2s", "1m", "1m30s", "1.5s", "500us", "1h" (ns, us, ms, s, m, h).
 * *ret_value is in units of unit_ns. Returns 0, -EINVAL (malformed),
 * -EDOM (not a whole number of units, e.g. "1500us" for ms), -ERANGE. */
int sy_config_parse_duration(const char *s, size_t len, uint64_t unit_ns, uint64_t *ret_value);

const struct sy_reasoning_family *sy_config_find_reasoning(const struct sy_config *cfg, const char *name);
const struct sy_model_cfg *sy_config_find_model(const struct sy_config *cfg, const char *name);
const struct sy_upstream_cfg *sy_config_find_upstream(const struct sy_config *cfg, const char *name);
