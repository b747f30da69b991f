/* switchyard convert: a classic file written as v0.3, or a v0.3 file as
 * classic, where both can say it. What the other form cannot say (a
 * keyword signal in classic, pii_policy in v0.3, API keys...) is not
 * approximated: convert names it on stderr and writes nothing (exit 1).
 * The output is loaded back before it is printed, so it always loads. */
#include "supervisor/convert.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/config_v03.h"

struct out {
        struct buf b;
        int refused;
};

static void q(struct buf *b, const char *s) { /* a YAML double-quoted scalar */
        buf_append(b, "\"", 1);
        for (; *s; s++) {
                if (*s == '"' || *s == '\\')
                        buf_printf(b, "\\%c", *s);
                else if ((unsigned char)*s < 0x20)
                        buf_printf(b, "\\x%02x", (unsigned char)*s);
                else
                        buf_append(b, s, 1);
        }
        buf_append(b, "\"", 1);
}

static void cannot(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cannot(struct out *o, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "convert: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\n");
        o->refused++;
}

static bool builtin_family(const struct sy_reasoning_family *f) {
        static const struct {
                const char *name, *param;
                enum sy_reasoning_type type;
        } b[] = { { "qwen3", "enable_thinking", SY_REASONING_TEMPLATE_KWARGS },
                  { "deepseek", "thinking", SY_REASONING_TEMPLATE_KWARGS },
                  { "gpt-oss", "reasoning_effort", SY_REASONING_EFFORT },
                  { "gpt", "reasoning_effort", SY_REASONING_EFFORT } };

        for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
                if (!strcmp(f->name, b[i].name) && !strcmp(f->parameter, b[i].param) && f->type == b[i].type)
                        return true;
        return false;
}

static void families(struct buf *b, const struct sy_config *cfg, const char *indent) {
        bool any = false;

        for (size_t i = 0; i < cfg->n_reasoning_families; i++) {
                const struct sy_reasoning_family *f = &cfg->reasoning_families[i];

                if (builtin_family(f))
                        continue;
                if (!any)
                        buf_printf(b, "%sreasoning_families:\n", indent);
                any = true;
                buf_printf(b, "%s  ", indent);
                q(b, f->name);
                buf_printf(b, ": {type: %s, parameter: ",
                           f->type == SY_REASONING_EFFORT ? "reasoning_effort" : "chat_template_kwargs");
                q(b, f->parameter);
                buf_printf(b, "}\n");
        }
}

/* default_model, default_reasoning_effort, reasoning_families: the same
 * keys in both forms, at indent */
static void defaults(struct buf *b, const struct sy_config *cfg, const char *indent) {
        if (cfg->default_model) {
                buf_printf(b, "%sdefault_model: ", indent);
                q(b, cfg->default_model);
                buf_printf(b, "\n");
        }
        buf_printf(b, "%sdefault_reasoning_effort: %s\n", indent, cfg->default_reasoning_effort);
        families(b, cfg, indent);
}

/* [ "a", "b" ] and a newline */
static void flow_list(struct buf *b, char *const *v, size_t n) {
        buf_append(b, "[", 1);
        for (size_t i = 0; i < n; i++) {
                buf_printf(b, "%s", i ? ", " : "");
                q(b, v[i]);
        }
        buf_append(b, "]\n", 2);
}

static void common_refusals(struct out *o, const struct sy_config *cfg) {
        if (cfg->n_api_keys)
                cannot(o, "auth.api_keys: %zu API keys have no v0.3 form switchyard reads", cfg->n_api_keys);
        if (cfg->n_discovery)
                cannot(o, "discovery: upstreams found at run time have no v0.3 form");
        if (cfg->admin.enabled)
                cannot(o, "admin: the admin API has no v0.3 form");
        if (cfg->rate_limits.redis.host)
                cannot(o, "rate_limits.redis: a global budget has no v0.3 form switchyard reads");
        if (cfg->metrics_token)
                cannot(o, "auth.metrics_token has no v0.3 form");
        for (size_t i = 0; i < cfg->n_upstreams; i++)
                if (cfg->upstreams[i].tls || cfg->upstreams[i].api_key_env || cfg->upstreams[i].n_extra ||
                    cfg->upstreams[i].health_path)
                        cannot(o, "upstream %s: TLS, provider keys and per-upstream health paths are not converted",
                               cfg->upstreams[i].name);
}

/* ---- classic -> v0.3 --------------------------------------------------------- */

static void to_v03(struct out *o, const struct sy_config *cfg) {
        struct buf *b = &o->b;

        common_refusals(o, cfg);
        if (cfg->classifier.jailbreak_block)
                cannot(o, "prompt_guard blocks every request; v0.3 decisions apply to model auto only");
        if (!strcmp(cfg->router.policy, "scorer"))
                cannot(o, "router.policy scorer (the default) has no v0.3 lb_policy; set least_request or "
                          "round_robin to convert");
        if (cfg->rate_limits.burst_requests || cfg->rate_limits.burst_tokens)
                cannot(o, "rate_limits.burst_*: a local-limiter rule's bucket is its per-minute count");
        for (size_t i = 0; i < cfg->n_models; i++)
                if (cfg->models[i].pii_policy.set)
                        cannot(o, "model_config.%s.pii_policy has no v0.3 form (PII is a decision's signal)",
                               cfg->models[i].name);
        for (size_t i = 0; i < cfg->n_upstreams; i++)
                if (cfg->upstreams[i].kind == SY_UPSTREAM_GATEWAY || strcmp(cfg->upstreams[i].engine, "vllm"))
                        cannot(o, "upstream %s: only vllm servers have a v0.3 form here (engine %s%s)",
                               cfg->upstreams[i].name, cfg->upstreams[i].engine,
                               cfg->upstreams[i].kind == SY_UPSTREAM_GATEWAY ? ", a gateway" : "");
        for (size_t i = 0; i < cfg->n_categories; i++) {
                const struct sy_category_cfg *c = &cfg->categories[i];
                if (c->pii_enabled >= 0 || c->jailbreak_enabled >= 0 || c->pii_threshold >= 0 ||
                    c->jailbreak_threshold >= 0)
                        cannot(o, "categories.%s: its guard switches have no v0.3 form", c->name);
        }
        buf_printf(b, "version: v0.3\n\nlisteners:\n  - name: http-%u\n    address: ", cfg->server.port);
        q(b, cfg->server.host);
        buf_printf(b, "\n    port: %u\n    timeout: %ums\n\nproviders:\n  defaults:\n", cfg->server.port,
                   cfg->proxy.first_byte_timeout_ms);
        defaults(b, cfg, "    ");
        buf_printf(b, "  models:\n");
        for (size_t i = 0; i < cfg->n_models; i++) {
                const struct sy_model_cfg *m = &cfg->models[i];

                buf_printf(b, "    - name: ");
                q(b, m->name);
                buf_printf(b, "\n");
                if (m->reasoning_family) {
                        buf_printf(b, "      reasoning_family: ");
                        q(b, m->reasoning_family);
                        buf_printf(b, "\n");
                }
                if (i == 0)
                        buf_printf(b,
                                   "      reliability: {lb_policy: %s, retry_count: %u, consecutive_5xx: %u, "
                                   "base_ejection_time: %ums, health_check_path: ",
                                   cfg->router.policy, cfg->proxy.max_retries, cfg->router.passive_failures,
                                   cfg->router.ejection_ms);
                if (i == 0) {
                        q(b, cfg->health.path);
                        buf_printf(b, ", health_check_interval: %ums, health_check_timeout: %ums}\n",
                                   cfg->health.interval_ms, cfg->health.timeout_ms);
                }
                buf_printf(b, "      backend_refs:\n");
                for (size_t u = 0; u < cfg->n_upstreams; u++) {
                        const struct sy_upstream_cfg *up = &cfg->upstreams[u];
                        bool serves = false;

                        for (size_t k = 0; k < up->n_models; k++)
                                serves |= !strcmp(up->models[k], m->name);
                        if (!serves)
                                continue;
                        buf_printf(b, "        - name: ");
                        q(b, up->name);
                        buf_printf(b, "\n          endpoint: \"%s%s%s:%u\"\n          weight: %u\n",
                                   strchr(up->host, ':') ? "[" : "", up->host, strchr(up->host, ':') ? "]" : "",
                                   up->port, up->weight);
                }
        }
        if (cfg->n_categories) {
                buf_printf(b, "\nrouting:\n  signals:\n    domains:\n");
                for (size_t i = 0; i < cfg->n_categories; i++) {
                        buf_printf(b, "      - name: ");
                        q(b, cfg->categories[i].name);
                        buf_printf(b, "\n");
                }
                buf_printf(b, "  decisions:\n");
                for (size_t i = 0; i < cfg->n_categories; i++) {
                        const struct sy_category_cfg *c = &cfg->categories[i];
                        struct sy_model_score *ms = malloc((c->n_model_scores + 1) * sizeof *ms);

                        if (!c->n_model_scores && !c->system_prompt) {
                                free(ms);
                                continue;
                        }
                        if (!c->n_model_scores)
                                cannot(o, "categories.%s: a system prompt for default_model has no decision form",
                                       c->name);
                        /* a category takes its best-scored model that is up; a
                         * decision its first that is up: best first */
                        memcpy(ms, c->model_scores, c->n_model_scores * sizeof *ms);
                        for (size_t x = 1; x < c->n_model_scores; x++)
                                for (size_t y = x; y > 0 && ms[y].score > ms[y - 1].score; y--) {
                                        struct sy_model_score t = ms[y];
                                        ms[y] = ms[y - 1];
                                        ms[y - 1] = t;
                                }
                        buf_printf(b, "    - name: ");
                        q(b, c->name);
                        buf_printf(b, "\n      priority: 100\n      rules: {type: domain, name: ");
                        q(b, c->name);
                        buf_printf(b, "}\n      modelRefs:\n");
                        for (size_t k = 0; k < c->n_model_scores; k++) {
                                buf_printf(b, "        - model: ");
                                q(b, ms[k].model);
                                buf_printf(b, "\n          use_reasoning: %s\n",
                                           ms[k].use_reasoning ? "true" : "false");
                        }
                        free(ms);
                        if (c->system_prompt) {
                                buf_printf(b,
                                           "      plugins:\n        - type: system_prompt\n          "
                                           "configuration:\n            mode: %s\n            system_prompt: ",
                                           c->system_prompt_insert ? "insert" : "replace");
                                q(b, c->system_prompt);
                                buf_printf(b, "\n");
                        }
                }
        }
        buf_printf(b, "\nglobal:\n  router:\n    auto_model_names: ");
        flow_list(b, cfg->auto_aliases, cfg->n_auto_aliases);
        buf_printf(b, "  services:\n    authz:\n      identity:\n        user_id_header: ");
        q(b, cfg->rate_limits.client_header);
        buf_printf(b, "\n");
        if (cfg->rate_limits.requests_per_minute || cfg->rate_limits.tokens_per_minute) {
                buf_printf(b, "    ratelimit:\n      providers:\n        - type: local-limiter\n          rules:\n"
                              "            - name: every-client\n");
                if (cfg->rate_limits.requests_per_minute)
                        buf_printf(b, "              requests_per_unit: %u\n", cfg->rate_limits.requests_per_minute);
                if (cfg->rate_limits.tokens_per_minute)
                        buf_printf(b, "              tokens_per_unit: %u\n", cfg->rate_limits.tokens_per_minute);
                buf_printf(b, "              unit: minute\n");
        }
}

/* ---- v0.3 -> classic ------------------------------------------------------------ */

static void to_classic(struct out *o, const struct sy_config *cfg) {
        const struct sy_v03 *v = cfg->v03;
        struct buf *b = &o->b;

        common_refusals(o, cfg);
        for (size_t i = 0; i < v->n_models; i++)
                if (v->models[i].provider_model_id)
                        cannot(o, "model %s: provider_model_id has no classic form", v->models[i].name);
        if (v->n_keywords || v->n_jailbreaks || v->n_piis)
                cannot(o, "routing.signals: keyword, jailbreak and pii signals have no classic form");
        for (size_t i = 0; i < v->n_limits; i++)
                if ((v->limits[i].user && strcmp(v->limits[i].user, "*")) || v->limits[i].model)
                        cannot(o, "rate-limit rule %s: a rule for one user or model has no classic form",
                               v->limits[i].name ? v->limits[i].name : "?");
        for (size_t i = 0; i < v->n_decisions; i++) {
                const struct sy_decision *d = &v->decisions[i];
                const struct sy_rule *r = &v->rules[d->rule];

                if (r->kind != SY_RULE_DOMAIN || d->fast_response)
                        cannot(o,
                               "decision %s: only a single domain condition with modelRefs has a classic form "
                               "(a category)",
                               d->name);
        }
        buf_printf(b, "server:\n  host: ");
        q(b, cfg->server.host);
        buf_printf(b, "\n  port: %u\nproxy:\n  first_byte_timeout_ms: %u\n  idle_timeout_ms: %u\n  max_retries: %u\n",
                   cfg->server.port, cfg->proxy.first_byte_timeout_ms, cfg->proxy.idle_timeout_ms,
                   cfg->proxy.max_retries);
        buf_printf(b, "health:\n  path: ");
        q(b, cfg->health.path);
        buf_printf(b,
                   "\n  interval_ms: %u\n  timeout_ms: %u\nrouter:\n  policy: %s\n  passive_failures: %u\n"
                   "  ejection_ms: %u\nupstreams:\n",
                   cfg->health.interval_ms, cfg->health.timeout_ms, cfg->router.policy, cfg->router.passive_failures,
                   cfg->router.ejection_ms);
        for (size_t u = 0; u < cfg->n_upstreams; u++) {
                const struct sy_upstream_cfg *up = &cfg->upstreams[u];

                buf_printf(b, "  - name: ");
                q(b, up->name);
                buf_printf(b, "\n    url: \"http://%s%s%s:%u\"\n    weight: %u\n    models: ",
                           strchr(up->host, ':') ? "[" : "", up->host, strchr(up->host, ':') ? "]" : "", up->port,
                           up->weight);
                flow_list(b, up->models, up->n_models);
        }
        buf_printf(b, "model_config:\n");
        for (size_t i = 0; i < cfg->n_models; i++) {
                buf_printf(b, "  ");
                q(b, cfg->models[i].name);
                buf_printf(b, ": {");
                if (cfg->models[i].reasoning_family) {
                        buf_printf(b, "reasoning_family: ");
                        q(b, cfg->models[i].reasoning_family);
                }
                buf_printf(b, "}\n");
        }
        defaults(b, cfg, "");
        buf_printf(b, "auto_aliases: ");
        flow_list(b, cfg->auto_aliases, cfg->n_auto_aliases);
        if (v->n_decisions) {
                buf_printf(b, "categories:\n");
                for (size_t i = 0; i < v->n_decisions; i++) {
                        const struct sy_decision *d = &v->decisions[i];
                        const struct sy_domain_signal *dom;

                        if (v->rules[d->rule].kind != SY_RULE_DOMAIN || d->fast_response)
                                continue; /* refused above */
                        dom = &v->domains[v->rules[d->rule].arg];
                        if (dom->n_categories != 1)
                                cannot(o, "domain %s: several mmlu_categories have no classic form", dom->name);
                        buf_printf(b, "  - name: ");
                        q(b, dom->categories[0]);
                        buf_printf(b, "\n    model_scores:\n");
                        /* the first model of the decision scores highest */
                        for (size_t k = 0; k < d->n_refs; k++) {
                                buf_printf(b, "      - model: ");
                                q(b, d->refs[k].model);
                                buf_printf(b, "\n        score: %.3f\n        use_reasoning: %s\n",
                                           1.0 - (double)k / (double)(d->n_refs + 1),
                                           d->refs[k].use_reasoning ? "true" : "false");
                        }
                        if (d->system_prompt) {
                                buf_printf(b, "    system_prompt: ");
                                q(b, d->system_prompt);
                                buf_printf(b, "\n    system_prompt_mode: %s\n",
                                           d->prompt_insert ? "insert" : "replace");
                        }
                }
        }
        if (cfg->rate_limits.requests_per_minute || cfg->rate_limits.tokens_per_minute) {
                buf_printf(b, "rate_limits:\n  client_header: ");
                q(b, cfg->rate_limits.client_header);
                buf_printf(b, "\n  requests_per_minute: %u\n  tokens_per_minute: %u\n",
                           cfg->rate_limits.requests_per_minute, cfg->rate_limits.tokens_per_minute);
                if (cfg->rate_limits.burst_requests != cfg->rate_limits.requests_per_minute)
                        buf_printf(b, "  burst_requests: %u\n", cfg->rate_limits.burst_requests);
                if (cfg->rate_limits.burst_tokens != cfg->rate_limits.tokens_per_minute)
                        buf_printf(b, "  burst_tokens: %u\n", cfg->rate_limits.burst_tokens);
        }
}

int convert_main(const char *path) {
        struct out o = { 0 };
        struct sy_config *cfg, *back;
        char err[1024];
        int r = 1;

        if (sy_config_load(path, &cfg, err, sizeof err) < 0) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }
        if (cfg->v03)
                to_classic(&o, cfg);
        else
                to_v03(&o, cfg);
        if (o.refused) {
                fprintf(stderr, "convert: %s: %d thing(s) above cannot be said in the %s form; nothing written\n", path,
                        o.refused, cfg->v03 ? "classic" : "v0.3");
        } else if (sy_config_load_string("converted", o.b.p ? o.b.p : "", o.b.len, &back, err, sizeof err) < 0) {
                fprintf(stderr, "convert: the converted file does not load (a bug): %s\n", err);
        } else {
                sy_config_free(back);
                fwrite(o.b.p, 1, o.b.len, stdout);
                r = 0;
        }
        buf_free(&o.b);
        sy_config_free(cfg);
        return r;
}
