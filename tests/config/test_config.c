/* Unit tests for common/config.c.
 *
 *   test_config GROUP EXAMPLE_YAML CLASSIC_YAML
 *
 * GROUP: files (the two shipped configs), defaults, errors (a table of bad
 * configs: message substring and line), durations, limits, guards (guard,
 * auth, rate_limits, pii_policy, the category guard keys: values, defaults,
 * key digests, refusals with line:col), mutations
 * (every prefix and many one-byte edits of the shipped files load or fail
 * cleanly; run under ASan/UBSan for the error paths). */
#include "common/config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"

static const char *example_path, *classic_path;

static struct sy_config *load_ok(const char *yaml) {
        struct sy_config *cfg = NULL;
        char err[512];
        int r = sy_config_load_string("t", yaml, strlen(yaml), &cfg, err, sizeof err);

        if (r < 0) {
                fprintf(stderr, "unexpected failure (%d): %s\n--- yaml ---\n%s\n", r, err, yaml);
                check_failures++;
                return NULL;
        }
        return cfg;
}


static bool has_warning(const struct sy_config *cfg, const char *sub) {
        for (size_t i = 0; i < cfg->n_warnings; i++)
                if (strstr(cfg->warnings[i], sub))
                        return true;
        return false;
}

/* "name:LINE:COL: ..." -> LINE, or 0 */
static unsigned err_line(const char *err, const char *name) {
        size_t n = strlen(name);

        if (strncmp(err, name, n) != 0 || err[n] != ':')
                return 0;
        return (unsigned)strtoul(err + n + 1, NULL, 10);
}

static void expect_fail(const char *yaml, const char *msg, unsigned line) {
        struct sy_config *cfg = NULL;
        char err[512];
        int r = sy_config_load_string("lim", yaml, strlen(yaml), &cfg, err, sizeof err);

        if (r != -EINVAL || !strstr(err, msg) || err_line(err, "lim") != line) {
                fprintf(stderr, "limit: rc %d, error \"%s\", want \"%s\" at line %u\n", r, err, msg, line);
                check_failures++;
                sy_config_free(cfg);
        }
}

/* ---- files ----------------------------------------------------------- */

static void test_example(void) {
        struct sy_config *cfg = NULL;
        const struct sy_upstream_cfg *up;
        const struct sy_model_cfg *m;
        char err[512];
        int r;

        unsetenv("SWITCHYARD_RUNTIME_DIR");
        r = sy_config_load(example_path, &cfg, err, sizeof err);
        if (r < 0) {
                fprintf(stderr, "example: %s\n", err);
                check_failures++;
                return;
        }
        CHECK_STR(cfg->path, example_path);
        CHECK_STR(cfg->server.host, "0.0.0.0");
        CHECK(cfg->server.port == 8080);
        CHECK(cfg->server.workers == 0);
        CHECK(cfg->server.max_connections == 10000);
        CHECK(cfg->server.max_header_bytes == 16384);
        CHECK(cfg->server.max_headers == 64);
        CHECK(cfg->server.max_body_bytes == 4u << 20);
        CHECK(cfg->server.header_timeout_ms == 10000);
        CHECK(cfg->server.idle_timeout_ms == 60000);
        CHECK(cfg->server.send_timeout_ms == 60000);
        CHECK(cfg->server.drain_timeout_ms == 30000);
        CHECK(cfg->proxy.connect_timeout_ms == 2000);
        CHECK(cfg->proxy.first_byte_timeout_ms == 60000);
        CHECK(cfg->proxy.idle_timeout_ms == 60000);
        CHECK(cfg->proxy.max_retries == 2);
        CHECK(cfg->proxy.pool_size == 64);
        CHECK_STR(cfg->health.path, "/health");
        CHECK(cfg->health.interval_ms == 1000);
        CHECK(cfg->health.timeout_ms == 1000);
        CHECK(cfg->health.unhealthy_threshold == 2);
        CHECK(cfg->health.healthy_threshold == 1);
        CHECK_STR(cfg->router.policy, "scorer");
        CHECK(cfg->router.pick_timeout_us == 2000);
        CHECK(cfg->router.passive_failures == 3);
        CHECK(cfg->router.ejection_ms == 5000);
        CHECK_STR(cfg->shm.runtime_dir, "/run/switchyard");
        CHECK(cfg->shm.ring_bytes == 262144);
        CHECK(cfg->shm.max_workers == 64);

        CHECK(cfg->n_upstreams == 5);
        up = sy_config_find_upstream(cfg, "llama-vllm-0");
        CHECK(up && up == &cfg->upstreams[0]);
        if (up) {
                CHECK_STR(up->host, "127.0.0.1");
                CHECK(up->port == 8101);
                CHECK_STR(up->engine, "vllm");
                CHECK(up->n_models == 1);
                CHECK_STR(up->models[0], "meta-llama/Llama-3.2-1B-Instruct");
                CHECK(up->weight == 1);
                CHECK(up->kind == SY_UPSTREAM_SERVER);
                CHECK(up->line > 1);
        }
        up = sy_config_find_upstream(cfg, "llama-vllm-1");
        CHECK(up && strcmp(up->engine, "vllm") == 0 && up->weight == 1 && up->port == 8102);
        up = sy_config_find_upstream(cfg, "qwen-sglang");
        CHECK(up && strcmp(up->engine, "sglang") == 0 && up->weight == 2);
        CHECK(up && strcmp(up->host, "localhost") == 0 && up->port == 8104);
        up = sy_config_find_upstream(cfg, "phi-pool");
        CHECK(up && up->kind == SY_UPSTREAM_GATEWAY);
        CHECK(sy_config_find_upstream(cfg, "nope") == NULL);
        CHECK(cfg->upstreams[0].line < cfg->upstreams[1].line);

        CHECK(cfg->n_models == 3);
        if (cfg->n_models == 3) {
                CHECK_STR(cfg->models[0].name, "meta-llama/Llama-3.2-1B-Instruct");
                CHECK_STR(cfg->models[1].name, "Qwen/Qwen3-0.6B");
                CHECK_STR(cfg->models[2].name, "microsoft/Phi-4-mini-instruct");
        }
        m = sy_config_find_model(cfg, "Qwen/Qwen3-0.6B");
        CHECK(m && m->default_engine && strcmp(m->default_engine, "vllm") == 0);
        CHECK(m && m->reasoning_family && strcmp(m->reasoning_family, "qwen3") == 0);
        m = sy_config_find_model(cfg, "meta-llama/Llama-3.2-1B-Instruct");
        CHECK(m && m->default_engine == NULL && m->n_preferred_endpoints == 2);
        m = sy_config_find_model(cfg, "microsoft/Phi-4-mini-instruct");
        CHECK(m && m->default_engine == NULL && m->reasoning_family == NULL && m->n_preferred_endpoints == 0);
        CHECK(sy_config_find_model(cfg, "auto") == NULL);

        CHECK(cfg->n_auto_aliases == 2);
        if (cfg->n_auto_aliases == 2) {
                CHECK_STR(cfg->auto_aliases[0], "auto");
                CHECK_STR(cfg->auto_aliases[1], "MoM");
        }
        CHECK(fabs(cfg->confidence_threshold - 0.5) < 1e-9);
        CHECK_STR(cfg->default_model, "meta-llama/Llama-3.2-1B-Instruct");
        CHECK(cfg->n_categories == 3);
        if (cfg->n_categories == 3) {
                const struct sy_category_cfg *c = &cfg->categories[0];

                CHECK_STR(c->name, "math");
                CHECK(c->system_prompt && strstr(c->system_prompt, "step by step"));
                CHECK(c->n_model_scores == 2);
                if (c->n_model_scores == 2) {
                        CHECK_STR(c->model_scores[0].model, "microsoft/Phi-4-mini-instruct");
                        CHECK(c->model_scores[0].score == 1.0);
                        CHECK(!c->model_scores[0].use_reasoning);
                        CHECK_STR(c->model_scores[1].model, "Qwen/Qwen3-0.6B");
                        CHECK(fabs(c->model_scores[1].score - 0.8) < 1e-9);
                        CHECK(c->model_scores[1].use_reasoning);
                }
                CHECK_STR(cfg->categories[1].name, "computer science");
                CHECK(cfg->categories[2].system_prompt == NULL);
        }
        CHECK(cfg->n_warnings == 0);
        for (size_t i = 0; i < cfg->n_warnings; i++)
                fprintf(stderr, "unexpected warning: %s\n", cfg->warnings[i]);
        sy_config_free(cfg);
}

static void test_classic(void) {
        struct sy_config *cfg = NULL;
        const struct sy_upstream_cfg *up;
        const struct sy_model_cfg *m;
        char err[512];
        int r;

        /* by default a key switchyard would not use is refused, at its place */
        unsetenv(SY_ALLOW_UNSUPPORTED_ENV);
        r = sy_config_load(classic_path, &cfg, err, sizeof err);
        CHECK(r == -EINVAL && strstr(err, "'bert_model' (vLLM Semantic Router) is not used by switchyard; refused") &&
              err_line(err, classic_path) > 1);
        if (r == 0)
                sy_config_free(cfg);
        cfg = NULL;
        /* --allow-unsupported: the rest loads, one warning each */
        setenv(SY_ALLOW_UNSUPPORTED_ENV, "1", 1);
        r = sy_config_load(classic_path, &cfg, err, sizeof err);
        unsetenv(SY_ALLOW_UNSUPPORTED_ENV);
        if (r < 0) {
                fprintf(stderr, "classic: %s\n", err);
                check_failures++;
                return;
        }
        /* switchyard sections take their defaults */
        CHECK(cfg->server.port == 8080);
        CHECK_STR(cfg->router.policy, "scorer");
        CHECK(cfg->router.pick_timeout_us == 2000);

        CHECK(cfg->n_upstreams == 2);
        up = sy_config_find_upstream(cfg, "llama-endpoint");
        CHECK(up && strcmp(up->host, "127.0.0.1") == 0 && up->port == 8000);
        CHECK(up && strcmp(up->engine, "vllm") == 0 && up->kind == SY_UPSTREAM_SERVER);
        /* no models of its own: model_config preferred_endpoints gives it llama3-8b */
        CHECK(up && up->n_models == 1 && strcmp(up->models[0], "llama3-8b") == 0);
        up = sy_config_find_upstream(cfg, "phi4-endpoint");
        CHECK(up && strcmp(up->host, "localhost") == 0 && up->port == 8001);
        /* listed in models and in preferred_endpoints: once */
        CHECK(up && up->n_models == 1 && strcmp(up->models[0], "phi4-mini") == 0);

        CHECK(cfg->n_models == 2);
        if (cfg->n_models == 2) {
                CHECK_STR(cfg->models[0].name, "llama3-8b");
                CHECK_STR(cfg->models[1].name, "phi4-mini");
        }
        m = sy_config_find_model(cfg, "llama3-8b");
        CHECK(m && m->reasoning_family && strcmp(m->reasoning_family, "deepseek") == 0);
        CHECK(m && m->n_preferred_endpoints == 1 && strcmp(m->preferred_endpoints[0], "llama-endpoint") == 0);
        CHECK(m && m->pii_policy.set && m->pii_policy.allow_by_default && m->pii_policy.n_types_allowed == 0);
        m = sy_config_find_model(cfg, "phi4-mini");
        CHECK(m && m->pii_policy.set && !m->pii_policy.allow_by_default && m->pii_policy.n_types_allowed == 2);
        if (m && m->pii_policy.n_types_allowed == 2) {
                CHECK_STR(m->pii_policy.types_allowed[0], "EMAIL_ADDRESS");
                CHECK_STR(m->pii_policy.types_allowed[1], "PERSON");
        }
        CHECK_STR(cfg->default_model, "llama3-8b");
        /* classifier.category_model.threshold */
        CHECK(fabs(cfg->confidence_threshold - 0.6) < 1e-9);
        CHECK(cfg->n_auto_aliases == 2);

        CHECK(cfg->n_categories == 6);
        if (cfg->n_categories == 6) {
                const struct sy_category_cfg *math = &cfg->categories[3];

                CHECK_STR(cfg->categories[0].name, "business");
                CHECK(cfg->categories[0].system_prompt != NULL);
                CHECK(cfg->categories[1].system_prompt == NULL);
                CHECK(cfg->categories[2].n_model_scores == 1 && cfg->categories[2].model_scores[0].use_reasoning);
                CHECK_STR(math->name, "math");
                CHECK(math->n_model_scores == 2);
                if (math->n_model_scores == 2) {
                        /* category-level use_reasoning is the default ... */
                        CHECK_STR(math->model_scores[0].model, "phi4-mini");
                        CHECK(math->model_scores[0].use_reasoning);
                        /* ... an entry's own use_reasoning wins */
                        CHECK(!math->model_scores[1].use_reasoning);
                        CHECK(fabs(math->model_scores[1].score - 0.6) < 1e-9);
                }
                CHECK_STR(cfg->categories[4].name, "computer science");
                CHECK(cfg->categories[1].pii_enabled == 1 && fabs(cfg->categories[1].pii_threshold - 0.8) < 1e-9);
                CHECK(cfg->categories[1].jailbreak_enabled == -1 && cfg->categories[1].jailbreak_threshold < 0);
                CHECK(cfg->categories[0].pii_enabled == -1 && cfg->categories[0].pii_threshold < 0);
        }
        /* the guard defaults: no guard: section */
        CHECK(cfg->guard.block_status == 0 && cfg->n_api_keys == 0 && cfg->rate_limits.requests_per_minute == 0);
        CHECK(has_warning(cfg, "'bert_model' (vLLM Semantic Router) is not used"));
        CHECK(has_warning(cfg, "'semantic_cache'"));
        CHECK(!has_warning(cfg, "'reasoning_families'"));
        {
                /* reasoning_families are read: the file's and the built-ins */
                const struct sy_reasoning_family *f = sy_config_find_reasoning(cfg, "gpt-oss");
                CHECK(f && f->type == SY_REASONING_EFFORT && strcmp(f->parameter, "reasoning_effort") == 0);
                f = sy_config_find_reasoning(cfg, "deepseek");
                CHECK(f && f->type == SY_REASONING_TEMPLATE_KWARGS && strcmp(f->parameter, "thinking") == 0);
                CHECK(sy_config_find_reasoning(cfg, "no-such-family") == NULL);
                CHECK_STR(cfg->default_reasoning_effort, "high");
        }
        CHECK(has_warning(cfg, "router: vLLM Semantic Router dual-path keys"));
        /* classic classifier roles: a checkpoint directory per role, relative to the
         * file's directory; one that is not there is a warning (the classifier
         * process refuses it, the others do not need it) */
        CHECK(cfg->classifier.enabled);
        CHECK(cfg->classifier.category.model_id &&
              strstr(cfg->classifier.category.model_id, "/models/category_classifier_modernbert-base_model") &&
              cfg->classifier.category.missing);
        CHECK(cfg->classifier.pii.model_id && fabs(cfg->classifier.pii.threshold - 0.7) < 1e-9);
        CHECK(!cfg->classifier.jailbreak_enabled && !cfg->classifier.jailbreak.model_id);
        CHECK(has_warning(cfg, "switchyard does not download models"));
        CHECK(!has_warning(cfg, "pii_policy"));
        CHECK(!has_warning(cfg, "health_check_path"));
        CHECK(!has_warning(cfg, "description"));
        /* warnings carry file:line:col */
        for (size_t i = 0; i < cfg->n_warnings; i++) {
                CHECK(strncmp(cfg->warnings[i], classic_path, strlen(classic_path)) == 0);
                if (strstr(cfg->warnings[i], "'bert_model'"))
                        CHECK(err_line(cfg->warnings[i], classic_path) > 1);
        }
        sy_config_free(cfg);
}

static void test_files(void) {
        struct sy_config *cfg = (struct sy_config *)1;
        char err[512];
        int r;

        test_example();
        test_classic();

        r = sy_config_load("/nonexistent/switchyard.yaml", &cfg, err, sizeof err);
        CHECK(r == -ENOENT);
        CHECK(cfg == (struct sy_config *)1);
        CHECK(strstr(err, "/nonexistent/switchyard.yaml: ") == err);
        r = sy_config_load("/", &cfg, err, sizeof err);
        CHECK(r == -EISDIR);
        CHECK(cfg == (struct sy_config *)1);
}

/* ---- defaults -------------------------------------------------------- */

static void test_defaults(void) {
        static const char min[] = "upstreams:\n"
                                  "  - name: a\n"
                                  "    url: http://10.0.0.1\n"
                                  "    models: [m]\n";
        struct sy_config *cfg;

        unsetenv("SWITCHYARD_RUNTIME_DIR");
        cfg = load_ok("");
        if (cfg) {
                CHECK(cfg->server.port == 8080);
                CHECK(cfg->n_upstreams == 0 && cfg->n_models == 0);
                CHECK(has_warning(cfg, "no upstreams configured"));
                CHECK(cfg->default_model == NULL);
                CHECK(cfg->n_categories == 0);
                sy_config_free(cfg);
        }
        cfg = load_ok("# only a comment\n---\n");
        sy_config_free(cfg);
        cfg = load_ok("~\n");
        sy_config_free(cfg);

        cfg = load_ok(min);
        if (cfg) {
                CHECK_STR(cfg->path, "t");
                CHECK_STR(cfg->server.host, "0.0.0.0");
                CHECK(cfg->server.port == 8080);
                CHECK(cfg->server.workers == 0);
                CHECK(cfg->server.max_connections == 10000);
                CHECK(cfg->server.max_header_bytes == 16384);
                CHECK(cfg->server.max_headers == 64);
                CHECK(cfg->server.max_body_bytes == 4u << 20);
                CHECK(cfg->server.header_timeout_ms == 10000);
                CHECK(cfg->server.idle_timeout_ms == 60000);
                CHECK(cfg->server.send_timeout_ms == 60000);
                CHECK(cfg->server.drain_timeout_ms == 30000);
                CHECK(cfg->proxy.connect_timeout_ms == 2000);
                CHECK(cfg->proxy.first_byte_timeout_ms == 60000);
                CHECK(cfg->proxy.idle_timeout_ms == 60000);
                CHECK(cfg->proxy.max_retries == 2);
                CHECK(cfg->proxy.pool_size == 64);
                CHECK_STR(cfg->health.path, "/health");
                CHECK(cfg->health.interval_ms == 1000);
                CHECK(cfg->health.timeout_ms == 1000);
                CHECK(cfg->health.unhealthy_threshold == 2);
                CHECK(cfg->health.healthy_threshold == 1);
                CHECK_STR(cfg->router.policy, "scorer");
                CHECK(cfg->router.pick_timeout_us == 2000);
                CHECK(cfg->router.passive_failures == 3);
                CHECK(cfg->router.ejection_ms == 5000);
                CHECK_STR(cfg->shm.runtime_dir, "/run/switchyard");
                CHECK(cfg->shm.ring_bytes == 262144);
                CHECK(cfg->shm.max_workers == 64);
                CHECK(cfg->n_upstreams == 1);
                CHECK(cfg->upstreams[0].port == 80);
                CHECK(cfg->upstreams[0].line == 2);
                CHECK_STR(cfg->upstreams[0].engine, "vllm");
                CHECK(cfg->upstreams[0].weight == 1);
                CHECK(cfg->upstreams[0].kind == SY_UPSTREAM_SERVER);
                CHECK(cfg->n_models == 1);
                CHECK(cfg->models[0].default_engine == NULL);
                CHECK(cfg->models[0].n_preferred_endpoints == 0);
                CHECK(cfg->n_auto_aliases == 2);
                CHECK(fabs(cfg->confidence_threshold - 0.5) < 1e-9);
                CHECK(cfg->default_model == NULL);
                CHECK(cfg->n_warnings == 0);
                sy_config_free(cfg);
        }

        /* SWITCHYARD_RUNTIME_DIR replaces the default; the file's key wins */
        setenv("SWITCHYARD_RUNTIME_DIR", "/tmp/sy-test-run", 1);
        cfg = load_ok(min);
        if (cfg) {
                CHECK_STR(cfg->shm.runtime_dir, "/tmp/sy-test-run");
                sy_config_free(cfg);
        }
        cfg = load_ok("shm: {runtime_dir: /var/run/sy}\n");
        if (cfg) {
                CHECK_STR(cfg->shm.runtime_dir, "/var/run/sy");
                sy_config_free(cfg);
        }
        setenv("SWITCHYARD_RUNTIME_DIR", "", 1);
        cfg = load_ok("");
        if (cfg) {
                CHECK_STR(cfg->shm.runtime_dir, "/run/switchyard");
                sy_config_free(cfg);
        }
        unsetenv("SWITCHYARD_RUNTIME_DIR");

        /* flow style, IPv6, hostnames, explicit nulls for empty sections */
        cfg = load_ok("server: {host: '::', port: 0}\n"
                      "proxy:\n"
                      "health: ~\n"
                      "upstreams:\n"
                      "  - {name: v6, url: 'http://[::1]:9000/', models: [x], engine: sglang}\n"
                      "  - {name: dns, url: 'HTTP://llama.default.svc.cluster.local:8000', "
                      "models: [x, y], kind: gateway}\n"
                      "vllm_endpoints:\n"
                      "  - {name: ep, address: vllm-0.vllm, port: 8000, models: [z]}\n"
                      "auto_aliases: []\n"
                      "categories: []\n"
                      "default_model: null\n");
        if (cfg) {
                CHECK_STR(cfg->server.host, "::");
                CHECK(cfg->server.port == 0);
                CHECK_STR(cfg->upstreams[0].host, "::1");
                CHECK(cfg->upstreams[0].port == 9000);
                CHECK_STR(cfg->upstreams[0].engine, "sglang");
                CHECK_STR(cfg->upstreams[1].host, "llama.default.svc.cluster.local");
                CHECK(cfg->upstreams[1].kind == SY_UPSTREAM_GATEWAY);
                CHECK_STR(cfg->upstreams[2].host, "vllm-0.vllm");
                CHECK_STR(cfg->upstreams[2].engine, "vllm");
                CHECK(cfg->n_models == 3);
                CHECK(cfg->n_auto_aliases == 0);
                CHECK(cfg->default_model == NULL);
                sy_config_free(cfg);
        }

        /* unknown top-level keys, unused vSR sections and keys: refused with
         * file:line:col; with --allow-unsupported a warning each */
        expect_fail("frobnicate: 1\n", "lim:1:1: unknown top-level key 'frobnicate'; refused", 1);
        expect_fail("observability: {tracing: {enabled: false}}\n",
                    "lim:1:1: 'observability' (vLLM Semantic Router) is not used by switchyard; refused", 1);
        expect_fail("upstreams: []\ndecisions: []\n", "lim:2:1: decisions", 2);
        expect_fail("model_config:\n  c: {frob: 1}\n", "lim:2:7: model_config.c: key 'frob' is not used", 2);
        /* a v0.3 file without models is refused even so: it would load as an empty router */
        setenv(SY_ALLOW_UNSUPPORTED_ENV, "1", 1);
        expect_fail("version: v0.3\nlisteners: [{name: http, address: 0.0.0.0, port: 8801}]\n",
                    "lim:1:1: a v0.3 file needs providers.models", 1);
        expect_fail("version: v0.4\nlisteners: []\n", "lim:1:10: version: 'v0.4'", 1);
        cfg = load_ok("frobnicate: 1\n"
                      "observability: {tracing: {enabled: false}}\n"
                      "decisions: []\n");
        if (cfg) {
                CHECK(has_warning(cfg, "t:1:1: unknown top-level key 'frobnicate'; ignored (--allow-unsupported)"));
                CHECK(has_warning(cfg, "t:2:1: 'observability' (vLLM Semantic Router)"));
                CHECK(has_warning(cfg, "t:3:1: decisions"));
                sy_config_free(cfg);
        }

        /* classic model_config for a model nobody serves: warning, dropped */
        cfg = load_ok("vllm_endpoints:\n"
                      "  - {name: e1, address: 127.0.0.1, port: 8000, weight: 2}\n"
                      "model_config:\n"
                      "  a: {preferred_endpoints: [e1]}\n"
                      "  b:\n"
                      "  c: {pii_policy: {allow_by_default: true}, frob: 1}\n"
                      "default_model: a\n");
        if (cfg) {
                CHECK(cfg->n_models == 1);
                CHECK(cfg->upstreams[0].weight == 2);
                CHECK(has_warning(cfg, "t:5:3: model_config: 'b' is not served"));
                CHECK(has_warning(cfg, "t:6:45: model_config.c: key 'frob' is not used"));
                /* no discovery or admin API: nothing can serve 'c' later, its policy goes too */
                CHECK(has_warning(cfg, "t:6:3: model_config: 'c' is not served"));
                CHECK(!has_warning(cfg, "allow_by_default"));
                sy_config_free(cfg);
        }
        unsetenv(SY_ALLOW_UNSUPPORTED_ENV);

        /* system_prompt_enabled: false drops the prompt; model "auto" served:
         * the default alias is dropped with a warning */
        cfg = load_ok("upstreams: [{name: a, url: 'http://h', models: [auto, m]}]\n"
                      "categories:\n"
                      "  - name: x\n"
                      "    system_prompt: hi\n"
                      "    system_prompt_enabled: false\n"
                      "    model_scores: [{model: m, score: 0}]\n");
        if (cfg) {
                CHECK(cfg->categories[0].system_prompt == NULL);
                CHECK(cfg->n_auto_aliases == 1 && strcmp(cfg->auto_aliases[0], "MoM") == 0);
                CHECK(has_warning(cfg, "named 'auto'"));
                sy_config_free(cfg);
        }

        /* YAML anchors and aliases work */
        cfg = load_ok("upstreams:\n"
                      "  - &base {name: a, url: 'http://h:1', models: &ms [m1, m2]}\n"
                      "  - {name: b, url: 'http://h:2', models: *ms}\n");
        if (cfg) {
                CHECK(cfg->n_upstreams == 2 && cfg->upstreams[1].n_models == 2);
                sy_config_free(cfg);
        }
}

/* ---- errors ---------------------------------------------------------- */

#define U1 "upstreams:\n  - name: a\n    url: http://127.0.0.1:8000\n    models: [m1]\n"

static const struct bad {
        const char *yaml;
        const char *msg; /* substring of the error */
        unsigned line;   /* 1-based line in the message */
} bad[] = {
        /* YAML itself */
        { "server:\n  port: 80\n  host: [a, b\n", "YAML syntax error", 4 },
        { "server:\n  port: 80\n\tworkers: 2\n", "YAML syntax error", 3 },
        { "server: {port: 80}\nproxy: *nope\n", "found undefined alias", 2 },
        { "server:\n  port: 80\n  port: 81\n", "duplicate key 'port' (first at line 2)", 3 },
        { "a: 1\n---\nb: 2\n", "more than one YAML document", 3 },
        { "- a\n- b\n", "expected a mapping of sections at the top level", 1 },
        { "server:\n  host: \"\xff\xfe\"\n", "YAML syntax error", 2 },
        { "server: [1, 2]\n", "server: expected a mapping, got a sequence", 1 },
        { "upstreams: {a: 1}\n", "upstreams: expected a list, got a mapping", 1 },
        { "server:\n  ? [a]\n  : 1\n", "keys must be scalars", 2 },

        /* types and ranges */
        { "server:\n  port: \"abc\"\n", "server.port: expected an integer", 2 },
        { "server:\n  port: abc\n", "server.port: expected an integer, got \"abc\"", 2 },
        { "server:\n  port: -1\n", "server.port: must not be negative", 2 },
        { "server:\n  port: 70000\n", "server.port: 70000 is out of range (0..65535)", 2 },
        { "server:\n  port: \"8080\"\n", "got a quoted string", 2 },
        { "server:\n  port: 80.5\n", "expected an integer", 2 },
        { "server:\n  port: 0x50\n", "expected an integer", 2 },
        { "server:\n  port: 080\n", "leading zeros", 2 },
        { "server:\n  port: 99999999999999999999999\n", "out of range", 2 },
        { "server:\n  port:\n", "expected an integer, got nothing", 2 },
        { "server:\n  port: [80]\n", "expected an integer, got a sequence", 2 },
        { "server:\n  max_connections: 0\n", "server.max_connections: 0 is out of range", 2 },
        { "server:\n  max_header_bytes: 100\n", "out of range (256..1048576 bytes)", 2 },
        { "server:\n  max_body_bytes: 4MB\n", "expected a size such as", 2 },
        { "server:\n  max_body_bytes: 2GiB\n", "out of range", 2 },
        { "server:\n  max_body_bytes: \"-4MiB\"\n", "must not be negative", 2 },
        { "server:\n  host: 1.2.3.4:80\n", "not a valid host name or IP address", 2 },
        { "server:\n  host: http://x\n", "not a URL", 2 },
        { "server:\n  workers: 100\nshm:\n  max_workers: 8\n", "server.workers: 100 is more than shm.max_workers (8)",
          2 },
        { "proxy:\n  max_retries: 17\n", "proxy.max_retries: 17 is out of range (0..16)", 2 },
        { "health:\n  path: health\n", "health.path: expected an absolute URL path", 2 },
        { "health:\n  path: /he alth\n", "health.path: expected an absolute URL path", 2 },
        { "router:\n  policy: random\n", "router.policy: unknown policy \"random\"", 2 },
        { "shm:\n  ring_bytes: 5000\n", "shm.ring_bytes: 5000 is not a power of two", 2 },
        { "shm:\n  ring_bytes: 2048\n", "shm.ring_bytes: 2048 is out of range", 2 },
        { "shm:\n  runtime_dir: run/sy\n", "shm.runtime_dir: expected an absolute directory", 2 },
        { "confidence_threshold: high\n", "confidence_threshold: expected a number", 1 },
        { "confidence_threshold: 1.5\n", "confidence_threshold: 1.5 is out of range (0..1)", 1 },
        { "confidence_threshold: .nan\n", "expected a number", 1 },
        { "classifier:\n  category_model:\n    threshold: 2\n",
          "classifier.category_model.threshold: 2 is out of range", 3 },
        { "classifier:\n  backend: tpu\n", "classifier.backend: expected auto, cpu or cuda", 2 },
        { "classifier:\n  max_batch: 0\n", "classifier.max_batch: 0 is out of range", 2 },
        { "classifier:\n  max_batch_wait_us: 2s\n", "classifier.max_batch_wait_us: 2s is out of range", 2 },

        /* durations */
        { "server:\n  header_timeout_ms: 10 s\n", "expected a duration such as", 2 },
        { "server:\n  header_timeout_ms: 1500us\n", "\"1500us\" is not a whole number of milliseconds", 2 },
        { "server:\n  header_timeout_ms: -5ms\n", "must not be negative", 2 },
        { "server:\n  header_timeout_ms: 0\n", "out of range (1ms..3600000ms)", 2 },
        { "server:\n  header_timeout_ms: 2h\n", "out of range", 2 },
        { "server:\n  header_timeout_ms: \"250\"\n", "got a quoted string", 2 },
        { "server:\n  header_timeout_ms: 1.5\n", "expected a duration", 2 },
        { "router:\n  pick_timeout_us: 1ns\n", "not a whole number of microseconds", 2 },
        { "router:\n  pick_timeout_us: 11s\n", "out of range (1us..10000000us)", 2 },

        /* unknown keys in switchyard's own sections */
        { "server:\n  port: 80\n  prot: 81\n", "unknown key 'prot' in server (known: host, port,", 3 },
        { "proxy:\n  connect_timeout: 5\n", "unknown key 'connect_timeout' in proxy", 2 },
        { "health:\n  interval: 5\n", "unknown key 'interval' in health", 2 },
        { "router:\n  polcy: round_robin\n", "unknown key 'polcy' in router", 2 },
        { "router:\n  policy: fastest\n", "unknown policy \"fastest\" (scorer, least_request", 2 },
        { "router:\n  weights: {queue: 1, prefx: 2}\n", "unknown key 'prefx' in router.weights", 2 },
        { "router:\n  weights: {queue: -1}\n", "router.weights.queue: -1 is out of range", 2 },
        { "router:\n  saturation: {kv_cache: 1.5}\n", "router.saturation.kv_cache: 1.5 is out of range", 2 },
        { "router:\n  queue: 5\n", "router.queue", 2 },
        { "shm:\n  ring_size: 4096\n", "unknown key 'ring_size' in shm", 2 },
        { U1 "    modle: x\n", "unknown key 'modle' in upstream", 5 },
        { U1 "models:\n  m1: {engine: vllm}\n", "unknown key 'engine' in models.m1", 6 },

        /* upstreams */
        { U1 "  - name: a\n    url: http://127.0.0.1:8001\n    models: [m1]\n",
          "duplicate upstream name 'a' (first at line 2)", 5 },
        { U1 "  - name: b\n    url: http://127.0.0.1:8001\n", "upstream 'b' serves no models", 5 },
        { U1 "  - name: b\n    url: http://127.0.0.1:8001\n    models: []\n", "upstream 'b' serves no models", 5 },
        { "upstreams:\n  - url: http://h\n    models: [m]\n", "upstreams[0]: missing 'name'", 2 },
        { "upstreams:\n  - name: a\n    models: [m]\n", "upstreams[0]: missing 'url'", 2 },
        { "upstreams:\n  - name: a\n    url: https://h:443/v1\n    models: [m]\n",
          "is not a URL of the form https://host[:port]", 3 },
        { "upstreams:\n  - name: a\n    url: ftp://h\n    models: [m]\n", "is not a URL of the form http://host[:port]",
          3 },
        { "upstreams:\n  - name: a\n    url: http://h:8000/v1\n    models: [m]\n", "(no path, query or user info)", 3 },
        { "upstreams:\n  - name: a\n    url: http://u@h:8000\n    models: [m]\n", "does not name a valid host", 3 },
        { "upstreams:\n  - name: a\n    url: http://h:0\n    models: [m]\n", "has an invalid port (1..65535)", 3 },
        { "upstreams:\n  - name: a\n    url: http://h:99999\n    models: [m]\n", "has an invalid port", 3 },
        { "upstreams:\n  - name: a\n    url: http://:80\n    models: [m]\n", "does not name a valid host", 3 },
        { "upstreams:\n  - name: a\n    url: http://[::1\n    models: [m]\n", "is not a URL of the form", 3 },
        { U1 "    engine: vLLM\n", "'vLLM' is not a valid engine name", 5 },
        { U1 "    engine: \"\"\n", "upstreams[0].engine: must not be empty", 5 },
        { U1 "    kind: router\n", "unknown kind \"router\" (server or gateway)", 5 },
        { U1 "    weight: 0\n", "upstreams[0].weight: 0 is out of range", 5 },
        { "upstreams:\n  - name: a\n    url: http://h\n    models: [m1, m2, m1]\n", "'m1' is listed twice", 4 },
        { "upstreams:\n  - name: a\n    url: http://h\n    models: [\"has space\"]\n",
          "'has space' is not a valid name", 4 },
        { "upstreams:\n  - name: a\n    url: http://h\n    models: [\"\"]\n", "must not be empty", 4 },
        { "upstreams:\n  - name: a\n    url: http://h\n    models: m1\n", "upstreams[0].models: expected a list", 4 },
        { "upstreams:\n  - name: a\n    url: http://h\n    models: [[m1]]\n", "expected a name, got a sequence", 4 },
        { "upstreams:\n  - a\n", "upstreams[0]: expected a mapping", 2 },

        /* classic endpoints and model_config */
        { "vllm_endpoints:\n  - name: e\n    address: http://10.0.0.1\n    port: 8000\n",
          "vllm_endpoints[0].address: expected a host name or IP address, not a URL", 3 },
        { "vllm_endpoints:\n  - name: e\n    address: 10.0.0.1\n", "missing 'port'", 2 },
        { "vllm_endpoints:\n  - name: e\n    port: 8000\n", "missing 'address'", 2 },
        { "vllm_endpoints:\n  - name: e\n    address: 10.0.0.1\n    port: 0\n",
          "vllm_endpoints[0].port: 0 is out of range (1..65535)", 4 },
        { "vllm_endpoints:\n  - {name: e, address: h, port: 1}\n", "upstream 'e' serves no models", 2 },
        { "vllm_endpoints:\n  - {name: e, address: h, port: 1}\n"
          "model_config:\n  m: {preferred_endpoints: [e, f]}\n",
          "model_config.m.preferred_endpoints: no upstream named 'f'", 4 },
        { U1 "vllm_endpoints:\n  - {name: a, address: h, port: 1, models: [m1]}\n",
          "duplicate upstream name 'a' (first at line 2)", 6 },
        { U1 "models:\n  m1: {default_engine: sglang}\n",
          "models.m1: default_engine 'sglang': no upstream with that engine serves", 6 },
        { U1 "models:\n  m2: {}\n", "models: 'm2' is not served by any upstream", 6 },
        { U1 "models:\n  m1: {}\nmodel_config:\n  m1: {}\n", "settings for model 'm1' given twice (first at line 6)",
          8 },
        { U1 "model_config: [m1]\n", "model_config: expected a mapping", 5 },

        /* model "auto" */
        { U1 "default_model: m2\n", "default_model: 'm2' is not served by any upstream", 5 },
        { U1 "auto_aliases: [auto, m1]\n", "auto_aliases: 'm1' is also a served model", 5 },
        { U1 "auto_aliases: [auto, auto]\n", "'auto' is listed twice", 5 },
        { U1 "categories:\n  - name: math\n    model_scores:\n      - model: m2\n"
             "        score: 1\n",
          "categories[0].model_scores[0]: model 'm2' is not served by any upstream", 8 },
        { U1 "categories:\n  - name: math\n    model_scores:\n      - model: m1\n",
          "categories[0].model_scores[0]: missing 'score'", 8 },
        { U1 "categories:\n  - name: math\n    model_scores:\n      - score: 1\n", "missing 'model'", 8 },
        { U1 "categories:\n  - name: math\n    model_scores:\n      - model: m1\n"
             "        score: 1.5\n",
          "score: 1.5 is out of range (0..1)", 9 },
        { U1 "categories:\n  - name: math\n    model_scores:\n      - model: m1\n"
             "        score: 1\n        use_reasoning: maybe\n",
          "use_reasoning: expected true or false, got \"maybe\"", 10 },
        { U1 "categories:\n  - name: math\n    model_scores:\n      - {model: m1, score: 1}\n"
             "      - {model: m1, score: 0.5}\n",
          "model 'm1' is listed twice", 9 },
        { U1 "categories:\n  - name: math\n  - name: math\n", "categories[1]: duplicate category 'math'", 7 },
        { U1 "categories:\n  - system_prompt: x\n", "categories[0]: missing 'name'", 6 },
        { U1 "categories:\n  - name: \" math\"\n", "is not a valid category name", 6 },
        { U1 "categories:\n  - name: math\n    use_reasoning: 1\n",
          "categories[0].use_reasoning: expected true or false", 7 },
        { U1 "categories:\n  - name: math\n    system_prompt: [a]\n", "system_prompt: expected a string", 7 },
        { U1 "categories:\n  - name: math\n    system_prompt: \"a\\0b\"\n", "contains a NUL character", 7 },
};

static void test_errors(void) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                struct sy_config *cfg = (struct sy_config *)1;
                char err[512] = "untouched";
                int want = -EINVAL;
                int r = sy_config_load_string("bad", bad[i].yaml, strlen(bad[i].yaml), &cfg, err, sizeof err);
                unsigned line = err_line(err, "bad");

                if (getenv("SHOW_ERRORS"))
                        printf("%s\n", err);
                if (r != want || cfg != (struct sy_config *)1 || !strstr(err, bad[i].msg) || line != bad[i].line) {
                        fprintf(stderr,
                                "bad[%zu]: rc %d (want %d), line %u (want %u)\n"
                                "  error: %s\n  want:  %s\n--- yaml ---\n%s------------\n",
                                i, r, want, line, bad[i].line, err, bad[i].msg, bad[i].yaml);
                        check_failures++;
                        if (r == 0 && cfg != (struct sy_config *)1)
                                sy_config_free(cfg);
                }
        }

        /* a small error buffer is truncated, not overrun; NULL is allowed */
        {
                struct sy_config *cfg = NULL;
                char small[12];
                int r = sy_config_load_string("bad", "server: {port: x}\n", 18, &cfg, small, sizeof small);

                CHECK(r == -EINVAL && strlen(small) == sizeof small - 1 && cfg == NULL);
                r = sy_config_load_string("bad", "server: {port: x}\n", 18, &cfg, NULL, 0);
                CHECK(r == -EINVAL && cfg == NULL);
                r = sy_config_load_string(NULL, "server: {port: x}\n", 18, &cfg, small, sizeof small);
                CHECK(r == -EINVAL && strncmp(small, "<string>:1:", 11) == 0);
        }
}

/* ---- durations ------------------------------------------------------- */

static void test_durations(void) {
        static const struct {
                const char *s;
                uint64_t unit_ns;
                int rc;
                uint64_t v;
        } d[] = {
                { "250", 1000000, 0, 250 },
                { "0", 1000000, 0, 0 },
                { "250ms", 1000000, 0, 250 },
                { "2s", 1000000, 0, 2000 },
                { "1m", 1000000, 0, 60000 },
                { "1h", 1000000, 0, 3600000 },
                { "1m30s", 1000000, 0, 90000 },
                { "1h2m3s4ms", 1000000, 0, 3723004 },
                { "1.5s", 1000000, 0, 1500 },
                { "0.25s", 1000000, 0, 250 },
                { ".5s", 1000000, 0, 500 },
                { "1000us", 1000000, 0, 1 },
                { "1000000ns", 1000000, 0, 1 },
                { "1500us", 1000000, -EDOM, 0 },
                { "1.0005s", 1000000, -EDOM, 0 },
                { "2ms", 1000, 0, 2000 },
                { "500us", 1000, 0, 500 },
                { "500\xc2\xb5s", 1000, 0, 500 },
                { "1.5ms", 1000, 0, 1500 },
                { "1ns", 1000, -EDOM, 0 },
                { "", 1000000, -EINVAL, 0 },
                { "ms", 1000000, -EINVAL, 0 },
                { "5", 1000, 0, 5 },
                { "5x", 1000000, -EINVAL, 0 },
                { "5 s", 1000000, -EINVAL, 0 },
                { "-5s", 1000000, -EINVAL, 0 },
                { "1.s", 1000000, -EINVAL, 0 },
                { "1..5s", 1000000, -EINVAL, 0 },
                { "1.0000000001s", 1000000, -EINVAL, 0 },
                { "5s ", 1000000, -EINVAL, 0 },
                { "18446744073709551615", 1000000, 0, UINT64_MAX },
                { "18446744073709551616", 1000000, -ERANGE, 0 },
                { "9999999999999h", 1000000, -ERANGE, 0 },
                { "5000000000h", 1000000, -ERANGE, 0 },
        };
        struct sy_config *cfg;

        for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
                uint64_t v = 12345;
                int r = sy_config_parse_duration(d[i].s, strlen(d[i].s), d[i].unit_ns, &v);

                if (r != d[i].rc || (r == 0 && v != d[i].v) || (r < 0 && v != 12345)) {
                        fprintf(stderr, "duration[%zu] \"%s\": rc %d v %llu, want rc %d v %llu\n", i, d[i].s, r,
                                (unsigned long long)v, d[i].rc, (unsigned long long)d[i].v);
                        check_failures++;
                }
        }

        /* through the loader: every _ms key takes both forms */
        cfg = load_ok("server:\n"
                      "  header_timeout_ms: 250ms\n"
                      "  idle_timeout_ms: \"2s\"\n"
                      "  send_timeout_ms: 1.5s\n"
                      "  drain_timeout_ms: 1m\n"
                      "proxy:\n"
                      "  connect_timeout_ms: 1500\n"
                      "  first_byte_timeout_ms: 1m30s\n"
                      "  idle_timeout_ms: 0.5s\n"
                      "health:\n"
                      "  interval_ms: 10ms\n"
                      "  timeout_ms: 10m\n"
                      "router:\n"
                      "  pick_timeout_us: 1.5ms\n"
                      "  ejection_ms: 3000\n"
                      "  policy: round_robin\n"
                      "  passive_failures: 0\n");
        if (cfg) {
                CHECK(cfg->server.header_timeout_ms == 250);
                CHECK(cfg->server.idle_timeout_ms == 2000);
                CHECK(cfg->server.send_timeout_ms == 1500);
                CHECK(cfg->server.drain_timeout_ms == 60000);
                CHECK(cfg->proxy.connect_timeout_ms == 1500);
                CHECK(cfg->proxy.first_byte_timeout_ms == 90000);
                CHECK(cfg->proxy.idle_timeout_ms == 500);
                CHECK(cfg->health.interval_ms == 10);
                CHECK(cfg->health.timeout_ms == 600000);
                CHECK(cfg->router.pick_timeout_us == 1500);
                CHECK(cfg->router.ejection_ms == 3000);
                CHECK_STR(cfg->router.policy, "round_robin");
                CHECK(cfg->router.passive_failures == 0);
                sy_config_free(cfg);
        }
        /* the endpoint picker's keys, nested mappings included */
        cfg = load_ok("router:\n"
                      "  policy: least_request\n"
                      "  scrape_interval_ms: 50ms\n"
                      "  scrape_timeout_ms: 1s\n"
                      "  stale_after_ms: 2s\n"
                      "  retry_after_s: 3\n"
                      "  weights: {queue: 2, kv_cache: 0.5, inflight_tokens: 0, prefix: 4, session: 100}\n"
                      "  saturation: {queue_depth: 8, kv_cache: 0.75}\n"
                      "  queue:\n"
                      "    max: 10\n"
                      "    timeout_ms: 300ms\n"
                      "  session: {ttl_ms: 1m, max: 1000}\n");
        if (cfg) {
                CHECK_STR(cfg->router.policy, "least_request");
                CHECK(cfg->router.scrape_interval_ms == 50);
                CHECK(cfg->router.scrape_timeout_ms == 1000);
                CHECK(cfg->router.stale_after_ms == 2000);
                CHECK(cfg->router.retry_after_s == 3);
                CHECK(cfg->router.weights.queue == 2);
                CHECK(cfg->router.weights.kv_cache == 0.5);
                CHECK(cfg->router.weights.inflight_tokens == 0);
                CHECK(cfg->router.weights.prefix == 4);
                CHECK(cfg->router.weights.session == 100);
                CHECK(cfg->router.saturation.queue_depth == 8);
                CHECK(cfg->router.saturation.kv_cache == 0.75);
                CHECK(cfg->router.queue.max == 10);
                CHECK(cfg->router.queue.timeout_ms == 300);
                CHECK(cfg->router.session.ttl_ms == 60000);
                CHECK(cfg->router.session.max == 1000);
                sy_config_free(cfg);
        }
        cfg = load_ok("router: {policy: scorer}\n");
        if (cfg) {
                CHECK_STR(cfg->router.policy, "scorer");
                CHECK(cfg->router.scrape_interval_ms == 100);
                CHECK(cfg->router.stale_after_ms == 1000);
                CHECK(cfg->router.weights.prefix == 3);
                CHECK(cfg->router.weights.session == 10);
                CHECK(cfg->router.saturation.queue_depth == 5);
                CHECK(cfg->router.saturation.kv_cache == 0.9);
                CHECK(cfg->router.queue.max == 256);
                CHECK(cfg->router.queue.timeout_ms == 2000);
                CHECK(cfg->router.retry_after_s == 1);
                CHECK_STR(cfg->router.session.header, "x-session-id");
                CHECK_STR(cfg->proxy.selected_model_header, "x-selected-model");
                sy_config_free(cfg);
        }
        /* sizes */
        cfg = load_ok("server: {max_header_bytes: 8KiB, max_body_bytes: 1GiB}\n"
                      "shm: {ring_bytes: 1MiB}\n");
        if (cfg) {
                CHECK(cfg->server.max_header_bytes == 8192);
                CHECK(cfg->server.max_body_bytes == 1u << 30);
                CHECK(cfg->shm.ring_bytes == 1u << 20);
                sy_config_free(cfg);
        }
}

/* ---- limits ---------------------------------------------------------- */

struct sbuf {
        char *p;
        size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...) {
        va_list ap;
        int n;

        for (;;) {
                va_start(ap, fmt);
                n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
                va_end(ap);
                if (n >= 0 && (size_t)n < b->cap - b->len)
                        break;
                b->cap = b->cap * 2 + (size_t)n + 64;
                b->p = realloc(b->p, b->cap);
                if (!b->p)
                        abort();
        }
        b->len += (size_t)n;
}

/* n_up upstreams, upstream i serving models_per distinct models when
 * distinct, else all serving "m" */
static char *gen_upstreams(unsigned n_up, unsigned models_per, bool distinct) {
        struct sbuf b = { malloc(64), 0, 64 };

        b.p[0] = 0;
        sb_printf(&b, "upstreams:\n");
        for (unsigned i = 0; i < n_up; i++) {
                sb_printf(&b, "  - name: u%u\n    url: http://10.0.%u.%u:8000\n    models: [", i, i / 256, i % 256);
                for (unsigned j = 0; j < models_per; j++)
                        sb_printf(&b, "%sm%u", j ? ", " : "", distinct ? i * models_per + j : j);
                sb_printf(&b, "]\n");
        }
        return b.p;
}


static void test_limits(void) {
        struct sy_config *cfg;
        struct sbuf b;
        char *y;
        char name[200];

        /* 256 upstreams are fine, the 257th (line 2 + 256 * 3) is refused */
        y = gen_upstreams(SY_CFG_MAX_UPSTREAMS, 1, false);
        cfg = load_ok(y);
        CHECK(cfg && cfg->n_upstreams == SY_CFG_MAX_UPSTREAMS && cfg->n_models == 1);
        sy_config_free(cfg);
        free(y);
        y = gen_upstreams(SY_CFG_MAX_UPSTREAMS + 1, 1, false);
        expect_fail(y, "more than 256 upstreams", 2 + SY_CFG_MAX_UPSTREAMS * 3);
        free(y);

        /* 128 distinct models are fine, one more is refused at its upstream */
        y = gen_upstreams(2, SY_CFG_MAX_MODELS / 2, true);
        cfg = load_ok(y);
        CHECK(cfg && cfg->n_models == SY_CFG_MAX_MODELS);
        if (cfg)
                CHECK_STR(cfg->models[SY_CFG_MAX_MODELS - 1].name, "m127");
        sy_config_free(cfg);
        free(y);
        y = gen_upstreams(3, SY_CFG_MAX_MODELS / 2, true);
        expect_fail(y, "more than 128 distinct models (upstream 'u2')", 8);
        free(y);
        /* and one upstream listing 129 */
        y = gen_upstreams(1, SY_CFG_MAX_MODELS + 1, true);
        expect_fail(y, "upstreams[0].models: more than 128 entries", 4);
        free(y);

        /* 64 categories are fine, 65 are refused at the 65th */
        for (unsigned n = SY_CFG_MAX_CATEGORIES; n <= SY_CFG_MAX_CATEGORIES + 1; n++) {
                b = (struct sbuf){ malloc(64), 0, 64 };
                sb_printf(&b, U1 "categories:\n");
                for (unsigned i = 0; i < n; i++)
                        sb_printf(&b, "  - name: c%u\n    model_scores: [{model: m1, score: 0.5}]\n", i);
                if (n == SY_CFG_MAX_CATEGORIES) {
                        cfg = load_ok(b.p);
                        CHECK(cfg && cfg->n_categories == SY_CFG_MAX_CATEGORIES);
                        sy_config_free(cfg);
                } else {
                        expect_fail(b.p, "categories: more than 64 categories", 6 + SY_CFG_MAX_CATEGORIES * 2);
                }
                free(b.p);
        }

        /* names: 127 characters are fine, 128 are not */
        memset(name, 'x', SY_CFG_NAME_MAX);
        name[SY_CFG_NAME_MAX] = 0;
        b = (struct sbuf){ malloc(64), 0, 64 };
        sb_printf(&b, "upstreams:\n  - name: %s\n    url: http://h\n    models: [%s]\n", name, name);
        cfg = load_ok(b.p);
        CHECK(cfg && strlen(cfg->upstreams[0].name) == SY_CFG_NAME_MAX);
        sy_config_free(cfg);
        free(b.p);
        name[SY_CFG_NAME_MAX] = 'x';
        name[SY_CFG_NAME_MAX + 1] = 0;
        b = (struct sbuf){ malloc(64), 0, 64 };
        sb_printf(&b, "upstreams:\n  - name: a\n    url: http://h\n    models: [%s]\n", name);
        expect_fail(b.p, "is longer than 127 characters", 4);
        free(b.p);
        b = (struct sbuf){ malloc(64), 0, 64 };
        sb_printf(&b, U1 "    engine: %s\n", name);
        for (size_t i = 0; i < b.len; i++)
                if (b.p[i] == 'x')
                        b.p[i] = 'e';
        expect_fail(b.p, "is longer than 127 characters", 5);
        free(b.p);
        b = (struct sbuf){ malloc(64), 0, 64 };
        sb_printf(&b, U1 "categories:\n  - name: %s\n", name);
        expect_fail(b.p, "is longer than 127 characters", 6);
        free(b.p);

        /* auto aliases: 16 */
        expect_fail(U1 "auto_aliases: [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12,"
                       " a13, a14, a15, a16]\n",
                    "auto_aliases: more than 16 entries", 5);

        /* ring_bytes: powers of two from 4096 */
        cfg = load_ok("shm: {ring_bytes: 4096}\n");
        CHECK(cfg && cfg->shm.ring_bytes == 4096);
        sy_config_free(cfg);
        expect_fail("shm: {ring_bytes: 12288}\n", "not a power of two", 1);

        /* a system prompt over 64 KiB */
        b = (struct sbuf){ malloc(64), 0, 64 };
        sb_printf(&b, U1 "categories:\n  - name: c\n    system_prompt: \"");
        for (unsigned i = 0; i < 65 * 1024; i++)
                sb_printf(&b, "p");
        sb_printf(&b, "\"\n");
        expect_fail(b.p, "longer than 65536 bytes", 7);
        free(b.p);

        /* more than 1024 keys in a walked mapping */
        b = (struct sbuf){ malloc(64), 0, 64 };
        sb_printf(&b, "server:\n");
        for (unsigned i = 0; i < 1025; i++)
                sb_printf(&b, "  k%u: 1\n", i);
        expect_fail(b.p, "server: more than 1024 keys", 2);
        free(b.p);

        /* a recursive alias cannot loop the walker */
        {
                static const char rec[] = "upstreams: &a [*a]\n";
                struct sy_config *c2 = NULL;
                char err[256];
                int r = sy_config_load_string("rec", rec, strlen(rec), &c2, err, sizeof err);

                CHECK(r == -EINVAL);
                sy_config_free(r == 0 ? c2 : NULL);
        }
}

/* ---- guards ---------------------------------------------------------- */

/* "name:LINE:COL: ..." -> COL, or 0 */
static unsigned err_col(const char *err, const char *name) {
        const char *p;
        size_t n = strlen(name);

        if (strncmp(err, name, n) != 0 || err[n] != ':' || !(p = strchr(err + n + 1, ':')))
                return 0;
        return (unsigned)strtoul(p + 1, NULL, 10);
}

static void hex32(const uint8_t d[32], char out[65]) {
        for (int i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* printf %s sk-test-key-1 | sha256sum, and sk-test-key-2 */
#define SHA_KEY1 "c1fa602237f88a7c84dc1cff004a4f10f0e85127b2a3461aa33aea6694808262"
#define SHA_KEY2 "1e65193bdb95bdb11459530aacbb10e034c09c302fe378abe229774ea3ddc6f1"

#define G2 "upstreams:\n  - {name: a, url: 'http://h:1', models: [m1, m2]}\n" /* 2 lines */

static const struct bad_at {
        const char *yaml;
        const char *msg;
        unsigned line, col;
} bad_guard[] = {
        /* pii_policy */
        { G2 "model_config:\n  m1:\n    pii_policy: {allow_by_default: false, pii_types_allowed: [FOO]}\n",
          "model_config.m1.pii_policy.pii_types_allowed: unknown PII type 'FOO' (known: PERSON, EMAIL_ADDRESS, "
          "US_SSN,",
          5, 63 },
        { G2 "model_config:\n  m1:\n    pii_policy:\n      pii_types_allowed: [US_SSN]\n",
          "with allow_by_default: true every type is allowed, so this list would mean nothing", 6, 26 },
        { G2 "model_config:\n  m1:\n    pii_policy: {allow_by_default: true, pii_types_allowed: [PERSON]}\n",
          "would mean nothing", 5, 61 },
        { G2 "model_config:\n  m1:\n    pii_policy: {allow_by_default: false, pii_types_allowed: [person]}\n",
          "unknown PII type 'person'", 5, 63 },
        { G2 "model_config:\n  m1:\n    pii_policy: {allow_by_default: false, pii_types_allowed: [AGE, AGE]}\n",
          "'AGE' is listed twice", 5, 68 },
        { G2 "model_config:\n  m1:\n    pii_policy: {allow_by_default: false, pii_types_allowed: AGE}\n",
          "pii_types_allowed: expected a list", 5, 62 },
        { G2 "model_config:\n  m1:\n    pii_policy: {allow_by_default: maybe}\n",
          "model_config.m1.pii_policy.allow_by_default: expected true or false", 5, 36 },
        { G2 "model_config:\n  m1:\n    pii_policy: {allow_by_defualt: false}\n",
          "unknown key 'allow_by_defualt' in model_config.m1.pii_policy (known: allow_by_default, "
          "pii_types_allowed)",
          5, 18 },
        { G2 "model_config:\n  m1:\n    pii_policy: [US_SSN]\n", "model_config.m1.pii_policy: expected a mapping", 5,
          17 },
        { G2 "model_config:\n  m1:\n    allow_by_default: false\n", "'allow_by_default' belongs inside pii_policy:", 5,
          5 },
        { G2 "model_config:\n  m1:\n    pii_types_allowed: [PERSON]\n",
          "'pii_types_allowed' belongs inside pii_policy:", 5, 5 },
        { G2 "models:\n  m1:\n    pii_policy: {allow_by_default: false, pii_types_allowed: [X]}\n",
          "models.m1.pii_policy.pii_types_allowed: unknown PII type 'X'", 5, 63 },
        { G2 "model_config:\n  m1:\n    pii_polcy: {allow_by_default: false}\n",
          "unknown key 'pii_polcy' looks like a guard setting", 5, 5 },

        /* categories */
        { G2 "categories:\n  - name: x\n    pii_enabled: 1\n", "categories[0].pii_enabled: expected true or false", 5,
          18 },
        { G2 "categories:\n  - name: x\n    jailbreak_enabled: sure\n",
          "categories[0].jailbreak_enabled: expected true or false, got \"sure\"", 5, 24 },
        { G2 "categories:\n  - name: x\n    jailbreak_threshold: 1.5\n",
          "categories[0].jailbreak_threshold: 1.5 is out of range (0..1)", 5, 26 },
        { G2 "categories:\n  - name: x\n    pii_threshold: -0.1\n",
          "categories[0].pii_threshold: -0.1 is out of range (0..1)", 5, 20 },
        { G2 "categories:\n  - name: x\n    jailbreak_treshold: 0.5\n",
          "unknown key 'jailbreak_treshold' looks like a guard setting", 5, 5 },

        /* prompt_guard, classifier */
        { "prompt_guard:\n  enabled: true\n  treshold: 0.5\n",
          "unknown key 'treshold' in prompt_guard (known: enabled, threshold, include_history,", 3, 3 },
        { "prompt_guard:\n  include_history: 2\n", "prompt_guard.include_history: expected true or false", 2, 20 },
        { "classifier:\n  pii_model:\n    threhold: 0.5\n",
          "unknown key 'threhold' in classifier.pii_model (known: model_id, threshold,", 3, 5 },
        { "classifier:\n  pii_treshold: 0.5\n", "unknown key 'pii_treshold' looks like a guard setting", 2, 3 },
        { "prompt_guard: {enabled: true, include_history: true}\nguard: {include_history: false}\n",
          "guard.include_history: also given as prompt_guard.include_history (line 1); use one", 2, 26 },
        { G2 "classifier: {enabled: false}\nmodel_config:\n  m1: {pii_policy: {allow_by_default: false}}\n",
          "a pii_policy with allow_by_default: false needs the classifier, but classifier.enabled is false "
          "(line 3)",
          5, 20 },
        { G2 "classifier: {enabled: false}\ncategories:\n  - {name: x, jailbreak_enabled: true}\n",
          "jailbreak_enabled: true needs the classifier, but classifier.enabled is false", 5, 34 },
        { G2 "classifier:\n  category_model: {model_id: /nonexistent}\n"
             "model_config:\n  m1: {pii_policy: {allow_by_default: false}}\n",
          "needs PII detection: the classifier has classic checkpoints but no classifier.pii_model.model_id", 6, 20 },
        { G2 "classifier:\n  pii_model: {model_id: /nonexistent}\nprompt_guard: {enabled: true}\n",
          "the jailbreak guard needs a jailbreak model: the classifier has classic checkpoints but no "
          "prompt_guard.model_id",
          5, 15 },
        { G2 "classifier:\n  pii_model: {model_id: /nonexistent}\nprompt_guard: {enabled: false}\n"
             "categories:\n  - {name: x, jailbreak_enabled: true}\n",
          "the jailbreak guard needs a jailbreak model", 7, 34 },

        /* guard: */
        { "guard:\n  block_status: 200\n", "guard.block_status: 200 is not an error status: 0 (a 200 answer", 2, 17 },
        { "guard:\n  block_status: 600\n", "guard.block_status: 600 is out of range (0..599)", 2, 17 },
        { "guard:\n  pii_message: \"\"\n", "guard.pii_message: must not be empty", 2, 16 },
        { "guard:\n  jailbreak_message: \"a\\nb\"\n", "guard.jailbreak_message: contains a control character", 2, 22 },
        { "guard:\n  pii_message: [a]\n", "guard.pii_message: expected a string, got a sequence", 2, 16 },
        { "guard:\n  include_history: yes please\n", "guard.include_history: expected true or false", 2, 20 },
        { "guard:\n  on_classifier_error: ignore\n",
          "guard.on_classifier_error: expected block or allow, got "
          "\"ignore\"",
          2, 24 },
        { "guard:\n  block_status: 403\n  blocks_status: 403\n",
          "unknown key 'blocks_status' in guard (known: block_status, pii_message, jailbreak_message, "
          "include_history, on_classifier_error)",
          3, 3 },

        /* auth: */
        { "auth:\n  api_keys:\n    - name: a\n      key_sha256: abc\n",
          "auth.api_keys[0].key_sha256: expected 64 hexadecimal digits", 4, 19 },
        { "auth:\n  api_keys:\n    - name: a\n      key_sha256: \"" SHA_KEY1 "\"\n    - name: b\n      key_sha256: \""
          "C1FA602237F88A7C84DC1CFF004A4F10F0E85127B2A3461AA33AEA6694808262\"\n",
          "auth.api_keys[1]: the same key as 'a' (line 3); every key must be distinct", 6, 19 },
        { "auth:\n  api_keys:\n    - name: a\n      key_sha256: \"" SHA_KEY1
          "\"\n    - name: a\n      key_sha256: \"" SHA_KEY2 "\"\n",
          "auth.api_keys[1]: duplicate API key name 'a' (first at line 3)", 5, 13 },
        { "auth:\n  api_keys:\n    - key_sha256: \"" SHA_KEY1 "\"\n", "auth.api_keys[0]: missing 'name'", 3, 7 },
        { "auth:\n  api_keys:\n    - name: a\n",
          "auth.api_keys[0]: missing the key: give key_sha256, key_env or "
          "key_file",
          3, 7 },
        { "auth:\n  api_keys:\n    - name: a\n      key_sha256: \"" SHA_KEY1 "\"\n      key_env: K\n",
          "auth.api_keys[0]: give one of key_sha256, key_env or key_file, not both key_sha256 and key_env", 5, 7 },
        { "auth:\n  api_keys:\n    - name: a\n      key_sha256: \"" SHA_KEY1 "\"\n      rpm: 5\n",
          "unknown key 'rpm' in auth.api_keys[0] (known: name, key_sha256, key_env, key_file, models,", 5, 7 },
        { "auth:\n  api_keys:\n    - name: \"a b\"\n      key_sha256: \"" SHA_KEY1 "\"\n",
          "auth.api_keys[0].name: 'a b' is not a valid name", 3, 13 },
        { G2 "auth:\n  api_keys:\n    - name: a\n      key_sha256: \"" SHA_KEY1 "\"\n      models: [m1, m3]\n",
          "auth.api_keys[0].models: model 'm3' is not served by any upstream", 7, 20 },
        { "auth:\n  api_keys:\n    - name: a\n      key_sha256: \"" SHA_KEY1 "\"\n      requests_per_minute: -1\n",
          "auth.api_keys[0].requests_per_minute: must not be negative", 5, 28 },
        { "auth:\n  api_keys:\n    - name: a\n      key_env: SY_TEST_UNSET_KEY\n",
          "auth.api_keys[0].key_env: environment variable SY_TEST_UNSET_KEY is not set", 4, 16 },
        { "auth:\n  api_keys:\n    - name: a\n      key_env: SY_TEST_EMPTY_KEY\n",
          "environment variable SY_TEST_EMPTY_KEY is empty", 4, 16 },
        { "auth:\n  api_keys:\n    - name: a\n      key_env: SY_TEST_SHORT_KEY\n",
          "environment variable SY_TEST_SHORT_KEY is shorter than 8 bytes", 4, 16 },
        { "auth:\n  api_keys:\n    - name: a\n      key_env: SY_TEST_LONG_KEY\n",
          "environment variable SY_TEST_LONG_KEY is longer than 4096 bytes", 4, 16 },
        { "auth:\n  api_keys:\n    - name: a\n      key_env: SY_TEST_SPACE_KEY\n",
          "contains a space, control or non-ASCII character", 4, 16 },
        { "auth:\n  api_keys:\n    - name: a\n      key_env: \"1BAD\"\n",
          "auth.api_keys[0].key_env: \"1BAD\" is not an environment variable name", 4, 16 },
        { "auth:\n  api_keys:\n    - name: a\n      key_file: /nonexistent/sy.key\n",
          "auth.api_keys[0].key_file: cannot read file '/nonexistent/sy.key': No such file or directory", 4, 17 },
        { "auth:\n  api_keys:\n    - name: a\n      key_file: /\n", "file '/' is not a regular file", 4, 17 },
        { "auth:\n  api_keys: {name: a}\n", "auth.api_keys: expected a list", 2, 13 },
        { "auth:\n  api_keys:\n    - a\n", "auth.api_keys[0]: expected a mapping", 3, 7 },
        { "auth:\n  api_key: []\n", "unknown key 'api_key' in auth (known: api_keys, metrics_token,", 2, 3 },
        { "auth:\n  api_keys_file: /etc/keys\n", "unknown key 'api_keys_file' in auth", 2, 3 },
        { "auth:\n  metrics_token: short\n", "auth.metrics_token: the token is shorter than 8 bytes", 2, 18 },
        { "auth:\n  metrics_token: metrics-secret-1\n  metrics_token_env: SY_TEST_KEY1\n",
          "auth: give one of metrics_token, metrics_token_env or metrics_token_file, not both", 3, 3 },
        { "auth:\n  metrics_token_env: SY_TEST_UNSET_KEY\n",
          "auth.metrics_token_env: environment variable "
          "SY_TEST_UNSET_KEY is not set",
          2, 22 },

        /* rate_limits: */
        { "rate_limits:\n  requests_per_minute: -5\n", "rate_limits.requests_per_minute: must not be negative", 2, 24 },
        { "rate_limits:\n  requests_per_minute: 1000000001\n",
          "rate_limits.requests_per_minute: 1000000001 is "
          "out of range (0..1000000000)",
          2, 24 },
        { "rate_limits:\n  max_clients: 8\n", "rate_limits.max_clients: 8 is out of range (16..16777216)", 2, 16 },
        { "rate_limits:\n  client_header: \"X Client\"\n",
          "rate_limits.client_header: expected an HTTP header "
          "name",
          2, 18 },
        { "rate_limits:\n  client_header: authorization\n", "\"authorization\" carries credentials", 2, 18 },
        { "proxy:\n  selected_model_header: Host\n",
          "proxy.selected_model_header: \"Host\" is a header switchyard must not take", 2, 26 },
        { "proxy:\n  selected_model_header: \"x selected\"\n",
          "proxy.selected_model_header: expected an HTTP header name", 2, 26 },
        { "router:\n  session: {header: Cookie}\n", "router.session.header: \"Cookie\" is a header switchyard", 2, 21 },
        { "rate_limits:\n  client_header: X-API-Key\n", "\"X-API-Key\" carries credentials", 2, 18 },
        { "rate_limits:\n  burst_requests: 10\n", "rate_limits.burst_requests: no requests_per_minute is set", 2, 19 },
        { "rate_limits:\n  requests_per_minute: 5\n  burst_tokens: 10\n",
          "rate_limits.burst_tokens: no "
          "tokens_per_minute is set",
          3, 17 },
        { "rate_limits:\n  requests_per_minute: 5\n  requests_per_minut: 5\n",
          "unknown key 'requests_per_minut' in rate_limits (known: client_header,", 3, 3 },
        { "rate_limits:\n  requests_per_minute: 5\n  redis: {host: r, prot: 1}\n",
          "unknown key 'prot' in rate_limits.redis (known: url, host, port,", 3, 20 },
        { "rate_limits:\n  redis: {host: r}\n", "rate_limits.redis: no limit is set", 2, 10 },
        { "rate_limits:\n  requests_per_minute: 5\n  redis: {port: 1}\n", "rate_limits.redis: missing host", 3, 10 },
        { "rate_limits:\n  requests_per_minute: 5\n  redis: {url: \"redis://r:1\", host: r}\n",
          "rate_limits.redis: give url or host and port, not both", 3, 37 },
        { "rate_limits:\n  requests_per_minute: 5\n  redis: {url: \"http://r:1\"}\n",
          "rate_limits.redis.url: \"http://r:1\" is not a URL of the form redis://host[:port]", 3, 16 },
        { "rate_limits:\n  requests_per_minute: 5\n  redis: {url: \"redis://:pw@r:1\"}\n",
          "no user or password in the URL", 3, 16 },
        { "rate_limits:\n  requests_per_minute: 5\n  redis: {url: \"redis://r:99999\"}\n",
          "is not a URL of the form redis://host[:port] (valid host", 3, 16 },
        { "rate_limits:\n  requests_per_minute: 5\n  redis: {host: r, timeout_ms: 0}\n",
          "rate_limits.redis.timeout_ms: 0 is out of range (1ms..60000ms)", 3, 32 },
        { "rate_limits:\n  requests_per_minute: 5\n  redis: {host: r, fail_open: 1}\n",
          "rate_limits.redis.fail_open: expected true or false", 3, 31 },
        { "rate_limits:\n  requests_per_minute: 5\n  redis: {host: r, key_prefix: \"a b\"}\n",
          "rate_limits.redis.key_prefix: expected 1..64 printable ASCII", 3, 32 },
        { "rate_limits:\n  requests_per_minute: 5\n  redis: {host: r, password_env: SY_TEST_UNSET_KEY}\n",
          "rate_limits.redis.password_env: environment variable SY_TEST_UNSET_KEY is not set", 3, 34 },
        { "rate_limits:\n  requests_per_minute: 5\n  redis: {host: \"http://r\"}\n",
          "rate_limits.redis.host: expected a host name or IP address, not a URL", 3, 17 },

        /* policy keys out of place or misspelt, and vSR decisions' guards */
        { "api_keys: []\n", "'api_keys' is not a top-level key: it belongs in auth.api_keys", 1, 1 },
        { "pii_policy: {allow_by_default: false}\n", "it belongs in model_config.<model>.pii_policy", 1, 1 },
        { "redis: {host: r}\n", "it belongs in rate_limits.redis", 1, 1 },
        { "rate_limit:\n  requests_per_minute: 5\n",
          "unknown top-level key 'rate_limit': did you mean "
          "'rate_limits'?",
          1, 1 },
        { "ratelimits: {}\n", "did you mean 'rate_limits'?", 1, 1 },
        { "guards: {block_status: 403}\n", "did you mean 'guard'?", 1, 1 },
        { "Auth: {}\n", "did you mean 'auth'?", 1, 1 },
        { "prompt_gaurd: {enabled: true}\n", "did you mean 'prompt_guard'?", 1, 1 },
        { "decisions:\n  - name: x\n    plugins:\n      - type: pii\n        configuration: {enabled: true}\n",
          "decisions: 'pii' is a guard setting in vSR decisions", 4, 15 },
        { "decisions:\n  - name: x\n    jailbreak_enabled: true\n",
          "decisions: 'jailbreak_enabled' is a guard "
          "setting",
          3, 5 },
};

static void test_guard_errors(void) {
        char big[5000];

        setenv("SY_TEST_EMPTY_KEY", "", 1);
        setenv("SY_TEST_SHORT_KEY", "sk-1234", 1);
        memset(big, 'k', 4097);
        big[4097] = 0;
        setenv("SY_TEST_LONG_KEY", big, 1);
        setenv("SY_TEST_SPACE_KEY", "sk-with space", 1);
        setenv("SY_TEST_KEY1", "sk-test-key-1", 1);
        unsetenv("SY_TEST_UNSET_KEY");
        for (size_t i = 0; i < sizeof bad_guard / sizeof bad_guard[0]; i++) {
                struct sy_config *cfg = (struct sy_config *)1;
                char err[1024] = "untouched";
                int r = sy_config_load_string("bad", bad_guard[i].yaml, strlen(bad_guard[i].yaml), &cfg, err,
                                              sizeof err);
                unsigned line = err_line(err, "bad"), col = err_col(err, "bad");

                if (getenv("SHOW_ERRORS"))
                        printf("%s\n", err);
                if (r != -EINVAL || cfg != (struct sy_config *)1 || !strstr(err, bad_guard[i].msg) ||
                    line != bad_guard[i].line || col != bad_guard[i].col) {
                        fprintf(stderr,
                                "bad_guard[%zu]: rc %d, at %u:%u (want %u:%u)\n  error: %s\n  want:  %s\n"
                                "--- yaml ---\n%s------------\n",
                                i, r, line, col, bad_guard[i].line, bad_guard[i].col, err, bad_guard[i].msg,
                                bad_guard[i].yaml);
                        check_failures++;
                        if (r == 0 && cfg != (struct sy_config *)1)
                                sy_config_free(cfg);
                }
        }
}

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "w");

        CHECK(f != NULL);
        if (!f)
                return;
        fputs(text, f);
        fclose(f);
}

static void test_guards(void) {
        struct sy_config *cfg;
        const struct sy_model_cfg *m;
        char hex[65], dir[] = "/tmp/sy-cfg-test-XXXXXX", path[256], err[512];
        int r;

        /* defaults */
        cfg = load_ok(G2 "categories:\n  - {name: x, model_scores: [{model: m1, score: 1}]}\n");
        if (cfg) {
                CHECK(cfg->guard.block_status == 0);
                CHECK_STR(cfg->guard.pii_message, SY_CFG_PII_MESSAGE);
                CHECK_STR(cfg->guard.jailbreak_message, SY_CFG_JAILBREAK_MESSAGE);
                CHECK(!strchr(cfg->guard.pii_message, '%') && !strchr(cfg->guard.jailbreak_message, '%'));
                CHECK(!cfg->guard.include_history && !cfg->guard.on_classifier_error_allow);
                CHECK(cfg->n_api_keys == 0 && cfg->api_keys == NULL && cfg->metrics_token == NULL);
                CHECK_STR(cfg->rate_limits.client_header, "X-Client-ID");
                CHECK(cfg->rate_limits.requests_per_minute == 0 && cfg->rate_limits.tokens_per_minute == 0);
                CHECK(cfg->rate_limits.burst_requests == 0 && cfg->rate_limits.burst_tokens == 0);
                CHECK(cfg->rate_limits.max_clients == 65536);
                CHECK(cfg->rate_limits.redis.host == NULL && cfg->rate_limits.redis.port == 6379);
                CHECK_STR(cfg->rate_limits.redis.key_prefix, "switchyard:rl:");
                CHECK(cfg->rate_limits.redis.timeout_ms == 5 && cfg->rate_limits.redis.fail_open);
                CHECK(cfg->rate_limits.redis.password_env == NULL);
                CHECK(!cfg->models[0].pii_policy.set && cfg->models[0].pii_policy.n_types_allowed == 0);
                CHECK(cfg->categories[0].pii_enabled == -1 && cfg->categories[0].jailbreak_enabled == -1);
                CHECK(cfg->categories[0].pii_threshold < 0 && cfg->categories[0].jailbreak_threshold < 0);
                CHECK(!cfg->classifier.jailbreak_block);
                CHECK(cfg->n_warnings == 0);
                sy_config_free(cfg);
        }

        /* pii_policy (classic and native), category guard keys, guard: */
        cfg = load_ok(G2 "  - {name: b, url: 'http://h:2', models: [m3]}\n"
                         "model_config:\n"
                         "  m1:\n"
                         "    pii_policy:\n"
                         "      allow_by_default: false\n"
                         "      pii_types_allowed: [EMAIL_ADDRESS, PERSON, ZIP_CODE]\n"
                         "  m2:\n"
                         "    pii_policy: {allow_by_default: true}\n"
                         "models:\n"
                         "  m3: {pii_policy: {allow_by_default: false}}\n"
                         "categories:\n"
                         "  - name: x\n"
                         "    pii_enabled: false\n"
                         "    jailbreak_enabled: true\n"
                         "    jailbreak_threshold: 0.9\n"
                         "    pii_threshold: 0.25\n"
                         "    model_scores: [{model: m1, score: 1}]\n"
                         "  - {name: y, pii_enabled: true, jailbreak_enabled: false}\n"
                         "guard:\n"
                         "  block_status: 403\n"
                         "  pii_message: \"Blocked: personal data\"\n"
                         "  jailbreak_message: Nope\n"
                         "  include_history: true\n"
                         "  on_classifier_error: allow\n");
        if (cfg) {
                m = sy_config_find_model(cfg, "m1");
                CHECK(m && m->pii_policy.set && !m->pii_policy.allow_by_default && m->pii_policy.line == 7);
                CHECK(m && m->pii_policy.n_types_allowed == 3);
                if (m && m->pii_policy.n_types_allowed == 3) {
                        CHECK_STR(m->pii_policy.types_allowed[0], "EMAIL_ADDRESS");
                        CHECK_STR(m->pii_policy.types_allowed[2], "ZIP_CODE");
                }
                m = sy_config_find_model(cfg, "m2");
                CHECK(m && m->pii_policy.set && m->pii_policy.allow_by_default && m->pii_policy.n_types_allowed == 0);
                m = sy_config_find_model(cfg, "m3");
                CHECK(m && m->pii_policy.set && !m->pii_policy.allow_by_default && m->pii_policy.n_types_allowed == 0);
                CHECK(cfg->categories[0].pii_enabled == 0 && cfg->categories[0].jailbreak_enabled == 1);
                CHECK(fabs(cfg->categories[0].jailbreak_threshold - 0.9) < 1e-9);
                CHECK(fabs(cfg->categories[0].pii_threshold - 0.25) < 1e-9);
                CHECK(cfg->categories[1].pii_enabled == 1 && cfg->categories[1].jailbreak_enabled == 0);
                CHECK(cfg->categories[1].pii_threshold < 0 && cfg->categories[1].jailbreak_threshold < 0);
                CHECK(cfg->guard.block_status == 403);
                CHECK_STR(cfg->guard.pii_message, "Blocked: personal data");
                CHECK_STR(cfg->guard.jailbreak_message, "Nope");
                CHECK(cfg->guard.include_history && cfg->guard.on_classifier_error_allow);
                /* the guards need the classifier and its jailbreak head, prompt_guard or not */
                CHECK(cfg->classifier.enabled && cfg->classifier.jailbreak_enabled && !cfg->classifier.jailbreak_block);
                CHECK(cfg->n_warnings == 0);
                sy_config_free(cfg);
        }
        /* a policy alone starts the classifier; prompt_guard.include_history; on_classifier_error: block */
        cfg = load_ok(G2 "model_config:\n  m1: {pii_policy: {allow_by_default: false}}\n"
                         "prompt_guard: {enabled: true, threshold: 0.6, include_history: true}\n"
                         "guard: {on_classifier_error: block, block_status: 0}\n");
        if (cfg) {
                CHECK(cfg->classifier.enabled && cfg->classifier.jailbreak_block);
                CHECK(fabs(cfg->classifier.jailbreak.threshold - 0.6) < 1e-9);
                CHECK(cfg->guard.include_history && !cfg->guard.on_classifier_error_allow);
                sy_config_free(cfg);
        }
        cfg = load_ok(G2 "model_config:\n  m1: {pii_policy: {allow_by_default: false}}\n");
        CHECK(cfg && cfg->classifier.enabled);
        sy_config_free(cfg);
        /* a policy on a model nobody serves yet, with discovery or admin: kept */
        cfg = load_ok(G2
                      "admin: {token: t0123456789}\nmodel_config:\n  later: {pii_policy: {allow_by_default: false}}\n");
        if (cfg) {
                m = sy_config_find_model(cfg, "later");
                CHECK(m && m->pii_policy.set && !m->pii_policy.allow_by_default);
                CHECK(has_warning(cfg, "t:5:3: model_config: 'later' is not served by any endpoint (yet); kept"));
                sy_config_free(cfg);
        }

        /* auth: the three key sources; digests of known keys */
        CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof path, "%s/k2.key", dir);
        write_file(path, "sk-test-key-2 \r\nsecond line ignored\n");
        snprintf(path, sizeof path, "%s/metrics.token", dir);
        write_file(path, "metrics-secret-1");
        snprintf(path, sizeof path, "%s/switchyard.yaml", dir);
        write_file(path, G2 "auth:\n"
                            "  metrics_token_file: metrics.token\n"
                            "  api_keys:\n"
                            "    - name: admin\n"
                            "      key_sha256: \"" SHA_KEY2 "\"\n"
                            "    - name: env-client\n"
                            "      key_env: SY_TEST_KEY1\n"
                            "      models: [m1]\n"
                            "      requests_per_minute: 60\n"
                            "    - name: file-client\n"
                            "      key_file: k2-other.key\n"
                            "      tokens_per_minute: 0\n");
        setenv("SY_TEST_KEY1", "sk-test-key-1", 1);
        /* key_file relative to the config file's directory */
        {
                char p2[256];

                snprintf(p2, sizeof p2, "%s/k2-other.key", dir);
                write_file(p2, "sk-test-key-3\n");
        }
        cfg = NULL;
        r = sy_config_load(path, &cfg, err, sizeof err);
        if (r < 0) {
                fprintf(stderr, "auth: %s\n", err);
                check_failures++;
        } else {
                CHECK(cfg->n_api_keys == 3);
                if (cfg->n_api_keys == 3) {
                        const struct sy_api_key_cfg *k = cfg->api_keys;

                        CHECK_STR(k[0].name, "admin");
                        hex32(k[0].sha256, hex);
                        CHECK_STR(hex, SHA_KEY2);
                        CHECK(k[0].n_models == 0 && k[0].requests_per_minute == -1 && k[0].tokens_per_minute == -1);
                        CHECK(k[0].line == 6);
                        CHECK_STR(k[1].name, "env-client");
                        hex32(k[1].sha256, hex);
                        CHECK_STR(hex, SHA_KEY1);
                        CHECK(k[1].n_models == 1 && strcmp(k[1].models[0], "m1") == 0);
                        CHECK(k[1].requests_per_minute == 60 && k[1].tokens_per_minute == -1);
                        CHECK_STR(k[2].name, "file-client");
                        hex32(k[2].sha256, hex);
                        /* printf %s sk-test-key-3 | sha256sum */
                        CHECK_STR(hex, "507ec51c602a1154d3513b169b3254cd72cb4973585a02881f05379ed7a14c3d");
                        CHECK(k[2].tokens_per_minute == 0 && k[2].requests_per_minute == -1);
                }
                CHECK_STR(cfg->metrics_token, "metrics-secret-1");
                sy_config_free(cfg);
        }
        /* key_file: first line, trailing whitespace and CR stripped; upper-case key_sha256 */
        snprintf(path, sizeof path, "%s/switchyard.yaml", dir);
        write_file(
                path,
                "auth:\n"
                "  metrics_token_env: SY_TEST_KEY1\n"
                "  api_keys:\n"
                "    - {name: f, key_file: k2.key}\n"
                "    - {name: u, key_sha256: \"C1FA602237F88A7C84DC1CFF004A4F10F0E85127B2A3461AA33AEA6694808262\"}\n");
        cfg = NULL;
        r = sy_config_load(path, &cfg, err, sizeof err);
        if (r < 0) {
                fprintf(stderr, "auth 2: %s\n", err);
                check_failures++;
        } else {
                CHECK(cfg->n_api_keys == 2);
                hex32(cfg->api_keys[0].sha256, hex);
                CHECK_STR(hex, SHA_KEY2);
                hex32(cfg->api_keys[1].sha256, hex);
                CHECK_STR(hex, SHA_KEY1);
                CHECK_STR(cfg->metrics_token, "sk-test-key-1");
                sy_config_free(cfg);
        }
        /* the same key from a file and as a digest: refused at the second */
        write_file(path, "auth:\n  api_keys:\n    - {name: f, key_file: k2.key}\n"
                         "    - {name: g, key_sha256: \"" SHA_KEY2 "\"}\n");
        cfg = NULL;
        r = sy_config_load(path, &cfg, err, sizeof err);
        CHECK(r == -EINVAL && strstr(err, ":4:29: auth.api_keys[1]: the same key as 'f' (line 3)"));
        /* a key file with a NUL byte, or empty */
        {
                char p2[256];
                FILE *f;

                snprintf(p2, sizeof p2, "%s/nul.key", dir);
                f = fopen(p2, "w");
                if (f) {
                        fwrite("sk-abc\0defghij\n", 1, 15, f);
                        fclose(f);
                }
                write_file(path, "auth:\n  api_keys:\n    - {name: f, key_file: nul.key}\n");
                r = sy_config_load(path, &cfg, err, sizeof err);
                CHECK(r == -EINVAL && strstr(err, ":3:27: auth.api_keys[0].key_file: file '") &&
                      strstr(err, "nul.key' contains a NUL byte"));
                snprintf(p2, sizeof p2, "%s/empty.key", dir);
                write_file(p2, "\n");
                write_file(path, "auth:\n  api_keys:\n    - {name: f, key_file: empty.key}\n");
                r = sy_config_load(path, &cfg, err, sizeof err);
                CHECK(r == -EINVAL && strstr(err, "empty.key' is empty"));
                unlink(p2);
                snprintf(p2, sizeof p2, "%s/nul.key", dir);
                unlink(p2);
                snprintf(p2, sizeof p2, "%s/k2-other.key", dir);
                unlink(p2);
        }
        snprintf(path, sizeof path, "%s/k2.key", dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/metrics.token", dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/switchyard.yaml", dir);
        unlink(path);
        rmdir(dir);
        /* inline metrics_token; a key's models may name a model discovery may find */
        cfg = load_ok("discovery:\n  - {kind: dns, name: vllm.svc, port: 8000, models: [d1]}\n"
                      "auth:\n  metrics_token: metrics-secret-1\n"
                      "  api_keys:\n    - {name: a, key_sha256: \"" SHA_KEY1 "\", models: [d1, d2]}\n");
        if (cfg) {
                CHECK_STR(cfg->metrics_token, "metrics-secret-1");
                CHECK(cfg->api_keys[0].n_models == 2);
                CHECK(has_warning(cfg, "model 'd2' is not served by any upstream in the file (discovery may find it)"));
                sy_config_free(cfg);
        }

        /* rate_limits, redis by host and by url */
        setenv("SY_TEST_REDIS_PW", "pw", 1);
        cfg = load_ok("rate_limits:\n"
                      "  client_header: X-Tenant\n"
                      "  requests_per_minute: 100\n"
                      "  tokens_per_minute: 1000000000\n"
                      "  burst_requests: 20\n"
                      "  burst_tokens: 5000\n"
                      "  max_clients: 1024\n"
                      "  redis:\n"
                      "    host: 10.0.0.5\n"
                      "    port: 6380\n"
                      "    key_prefix: \"sy:{rl}:\"\n"
                      "    timeout_ms: 2s\n"
                      "    fail_open: false\n"
                      "    password_env: SY_TEST_REDIS_PW\n");
        if (cfg) {
                CHECK_STR(cfg->rate_limits.client_header, "X-Tenant");
                CHECK(cfg->rate_limits.requests_per_minute == 100);
                CHECK(cfg->rate_limits.tokens_per_minute == 1000000000);
                CHECK(cfg->rate_limits.burst_requests == 20 && cfg->rate_limits.burst_tokens == 5000);
                CHECK(cfg->rate_limits.max_clients == 1024);
                CHECK_STR(cfg->rate_limits.redis.host, "10.0.0.5");
                CHECK(cfg->rate_limits.redis.port == 6380);
                CHECK_STR(cfg->rate_limits.redis.key_prefix, "sy:{rl}:");
                CHECK(cfg->rate_limits.redis.timeout_ms == 2000 && !cfg->rate_limits.redis.fail_open);
                CHECK_STR(cfg->rate_limits.redis.password_env, "SY_TEST_REDIS_PW");
                sy_config_free(cfg);
        }
        cfg = load_ok("rate_limits:\n  redis: {url: \"redis://cache.svc:7000/\"}\n"
                      "auth:\n  api_keys:\n    - {name: a, key_sha256: \"" SHA_KEY1 "\", tokens_per_minute: 10}\n");
        if (cfg) {
                CHECK_STR(cfg->rate_limits.redis.host, "cache.svc");
                CHECK(cfg->rate_limits.redis.port == 7000);
                CHECK(cfg->rate_limits.requests_per_minute == 0);
                CHECK(cfg->api_keys[0].tokens_per_minute == 10);
                sy_config_free(cfg);
        }
        cfg = load_ok("rate_limits:\n  requests_per_minute: 1\n  redis: {url: \"REDIS://[::1]\"}\n");
        if (cfg) {
                CHECK_STR(cfg->rate_limits.redis.host, "::1");
                CHECK(cfg->rate_limits.redis.port == 6379);
                sy_config_free(cfg);
        }

        test_guard_errors();
}

/* ---- mutations ------------------------------------------------------- */

static char *slurp(const char *path, size_t *ret_len) {
        FILE *f = fopen(path, "rb");
        char *p;
        long n;

        if (!f)
                return NULL;
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);
        p = malloc((size_t)n + 1);
        if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
                free(p);
                p = NULL;
        }
        fclose(f);
        *ret_len = (size_t)n;
        return p;
}

static void try_load(const char *buf, size_t len) {
        struct sy_config *cfg = NULL;
        char err[512] = "";
        int r = sy_config_load_string("mut", buf, len, &cfg, err, sizeof err);

        if (r == 0) {
                CHECK(cfg != NULL);
                sy_config_free(cfg);
                return;
        }
        if (r != -EINVAL || strncmp(err, "mut:", 4) != 0 || cfg != NULL) {
                fprintf(stderr, "mutation: rc %d, error \"%s\"\n", r, err);
                check_failures++;
        }
}

/* Every prefix of both shipped files, and every third byte of them replaced
 * by each of subst[]: some 140,000 loads of up to 23 KB (a minute or more
 * on a loaded machine). The work is dealt into MUT_PARTS groups
 * (mutations-0 .. mutations-3, run in parallel by meson) by position:
 * part k takes the prefixes n with n % MUT_PARTS == k and the replaced
 * positions i with (i / 3) % MUT_PARTS == k, so the parts together load
 * exactly what "mutations" (part < 0: all) does. A replacement by the byte
 * already there is the whole file again, loaded once as its longest prefix. */
#define MUT_PARTS 4

static void test_mutations(int part) {
        static const char subst[] = { ':', ' ', '\n', '-', '"', '[', '{', '&', '*', '0', '\0' };
        const char *paths[] = { example_path, classic_path };

        setenv(SY_ALLOW_UNSUPPORTED_ENV, "1", 1); /* the classic file loads whole */

        for (size_t p = 0; p < 2; p++) {
                size_t len;
                char *orig = slurp(paths[p], &len), *buf;

                CHECK(orig != NULL);
                if (!orig)
                        continue;
                buf = malloc(len + 1);
                for (size_t n = 0; n <= len; n++)
                        if (part < 0 || n % MUT_PARTS == (size_t)part)
                                try_load(orig, n); /* every prefix */
                for (size_t i = 0; i < len; i += 3) {
                        if (part >= 0 && (i / 3) % MUT_PARTS != (size_t)part)
                                continue;
                        for (size_t s = 0; s < sizeof subst; s++) {
                                if (orig[i] == subst[s])
                                        continue;
                                memcpy(buf, orig, len);
                                buf[i] = subst[s];
                                try_load(buf, len);
                        }
                }
                free(buf);
                free(orig);
        }
        unsetenv(SY_ALLOW_UNSUPPORTED_ENV);
}

int main(int argc, char **argv) {
        const char *group = argc > 1 ? argv[1] : "all";
        bool all = strcmp(group, "all") == 0;

        if (argc < 4) {
                fprintf(stderr, "usage: %s GROUP EXAMPLE_YAML CLASSIC_YAML\n", argv[0]);
                return 2;
        }
        example_path = argv[2];
        classic_path = argv[3];
        if (all || strcmp(group, "files") == 0)
                test_files();
        if (all || strcmp(group, "defaults") == 0)
                test_defaults();
        if (all || strcmp(group, "errors") == 0)
                test_errors();
        if (all || strcmp(group, "durations") == 0)
                test_durations();
        if (all || strcmp(group, "limits") == 0)
                test_limits();
        if (all || strcmp(group, "guards") == 0)
                test_guards();
        if (all || strcmp(group, "mutations") == 0)
                test_mutations(-1);
        else if (strncmp(group, "mutations-", 10) == 0 && group[10] >= '0' && group[10] < '0' + MUT_PARTS && !group[11])
                test_mutations(group[10] - '0');
        if (check_failures) {
                fprintf(stderr, "%d check(s) failed\n", check_failures);
                return 1;
        }
        printf("ok\n");
        return 0;
}
