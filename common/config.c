/* switchyard configuration loader (libyaml document API).
 *
 * The file is loaded into a libyaml node tree, then walked section by
 * section in a fixed order (so cross references resolve without a second
 * pass over the text):
 *
 *   server proxy health router shm       strict: unknown keys are errors
 *   upstreams (native) vllm_endpoints (classic)
 *   discovery admin
 *   models (native, strict) model_config (classic, lenient)
 *   -> every upstream serves >= 1 model; the model table is built
 *   auto_aliases confidence_threshold classifier categories default_model
 *   reasoning_families; auth guard rate_limits; the guards' cross checks
 *
 * Each section is in its own file (see common/config-internal.h); this one
 * has the load, the top level, the defaults and the frees.
 *
 * Every error is "name:line:col: message" (1-based, from the libyaml marks
 * of the offending node); only the first one is reported. Keys switchyard
 * does not use are recorded as warnings in cfg->warnings, never logged
 * here (library code); keys of the guards' sections it would not enforce
 * are errors. Everything allocated hangs off the struct sy_config or the
 * load context, so there is one cleanup path. */
#include "common/config-internal.h"
#include "common/config_v03.h"
#include "common/file.h"
#include "common/secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- top level --------------------------------------------------------- */

static const char *const top_keys[] = {
        "server",
        "proxy",
        "health",
        "router",
        "shm",
        "upstreams",
        "vllm_endpoints",
        "models",
        "model_config",
        "auto_aliases",
        "confidence_threshold",
        "classifier",
        "categories",
        "default_model",
        "reasoning_families",
        "default_reasoning_effort",
        "classify_turns",
        "discovery",
        "admin",
        "prompt_guard",
        "guard",
        "auth",
        "rate_limits",
        NULL,
};

/* Policy keys in the wrong place, and where they belong */
static const char *const misplaced[][2] = {
        { "api_keys", "auth.api_keys" },
        { "metrics_token", "auth.metrics_token" },
        { "pii_policy", "model_config.<model>.pii_policy" },
        { "redis", "rate_limits.redis" },
        { "block_status", "guard.block_status" },
        { "requests_per_minute", "rate_limits.requests_per_minute" },
        { "tokens_per_minute", "rate_limits.tokens_per_minute" },
};

/* Optimal string alignment distance (case-insensitive), capped at 3. */
static unsigned edit_distance(const char *a, size_t la, const char *b) {
        unsigned d[34][34];
        size_t lb = strlen(b), i, j;

        if (la > 32 || lb > 32)
                return 3;
        for (i = 0; i <= la; i++)
                d[i][0] = (unsigned)i;
        for (j = 0; j <= lb; j++)
                d[0][j] = (unsigned)j;
        for (i = 1; i <= la; i++)
                for (j = 1; j <= lb; j++) {
                        unsigned cost = strncasecmp(a + i - 1, b + j - 1, 1) != 0;
                        unsigned v = d[i - 1][j - 1] + cost;

                        if (d[i - 1][j] + 1 < v)
                                v = d[i - 1][j] + 1;
                        if (d[i][j - 1] + 1 < v)
                                v = d[i][j - 1] + 1;
                        if (i > 1 && j > 1 && strncasecmp(a + i - 1, b + j - 2, 1) == 0 &&
                            strncasecmp(a + i - 2, b + j - 1, 1) == 0 && d[i - 2][j - 2] + 1 < v)
                                v = d[i - 2][j - 2] + 1;
                        d[i][j] = v;
                }
        return d[la][lb] < 3 ? d[la][lb] : 3;
}

/* A top-level key that is a policy section misspelt, or a policy key out
 * of its section: refused, since its policy would silently not apply. */
static int check_policy_near_miss(struct ctx *c, const yaml_node_t *k) {
        static const char *const sections[] = { "guard", "auth", "rate_limits", "prompt_guard" };
        char b[72];

        for (size_t i = 0; i < sizeof misplaced / sizeof misplaced[0]; i++)
                if (scalar_is(k, misplaced[i][0]))
                        return cfg_errf(c, k,
                                        "'%s' is not a top-level key: it belongs in %s; here it would "
                                        "not be enforced",
                                        cfg_show(k, b), misplaced[i][1]);
        for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
                if (edit_distance(sval(k), slen(k), sections[i]) <= (strlen(sections[i]) > 5 ? 2u : 1u))
                        return cfg_errf(c, k,
                                        "unknown top-level key '%s': did you mean '%s'? (a policy section "
                                        "misspelt would not be enforced)",
                                        cfg_show(k, b), sections[i]);
        return 0;
}

/* Newer vSR decisions are not supported (a warning); a PII or jailbreak
 * plugin in them is policy and is refused. */
static int check_decisions(struct ctx *c, const yaml_node_t *n, unsigned depth) {
        char b[72];
        int r;

        if (depth > 16)
                return 0;
        if (n->type == YAML_MAPPING_NODE) {
                for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
                        const yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);

                        if (k->type == YAML_SCALAR_NODE &&
                            (cfg_policy_like(k) ||
                             (scalar_is(k, "type") && v->type == YAML_SCALAR_NODE && cfg_policy_like(v))))
                                return cfg_errf(c, scalar_is(k, "type") ? v : k,
                                                "decisions: '%s' is a guard "
                                                "setting in vSR decisions, which switchyard does not support; it "
                                                "would not be enforced: use prompt_guard, model_config.<model>."
                                                "pii_policy and categories' pii_enabled / jailbreak_enabled",
                                                cfg_show(scalar_is(k, "type") ? v : k, b));
                        r = check_decisions(c, v, depth + 1);
                        if (r < 0)
                                return r;
                }
        } else if (n->type == YAML_SEQUENCE_NODE) {
                for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
                        r = check_decisions(c, node_at(c, *it), depth + 1);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Classic vLLM Semantic Router keys switchyard does not use. */
static const char *const vsr_keys[] = {
        "bert_model",       "semantic_cache",    "tools",         "api",
        "observability",    "clear_route_cache", "keyword_rules", "embedding_rules",
        "embedding_models", "response_api",      "vector_store",  "hallucination_mitigation",
        "looper",           "interceptors",      "strategy",      "providers",
        "listeners",        "version",           "routing",       "global",
        "recipes",          "entrypoints",       "decisions",     NULL,
};

static int check_top_keys(struct ctx *c) {
        yaml_node_pair_t *pairs;
        size_t n, i;
        int r;

        r = cfg_map_pairs(c, c->root, "top level", &pairs, &n);
        if (r < 0)
                return r;
        for (i = 0; i < n; i++) {
                const yaml_node_t *k = node_at(c, pairs[i].key);
                char b[72];

                if (cfg_in_list(k, top_keys))
                        continue;
                r = cfg_in_list(k, vsr_keys) ? 0 : check_policy_near_miss(c, k);
                if (r >= 0 && scalar_is(k, "decisions"))
                        r = check_decisions(c, node_at(c, pairs[i].value), 0);
                if (r < 0)
                        return r;
                if (scalar_is(k, "version"))
                        r = cfg_errf(c, node_at(c, pairs[i].value),
                                     "version: '%s': of the vLLM Semantic Router's versioned formats switchyard "
                                     "reads v0.3 (listeners, providers, routing, global); this one it does not, and "
                                     "it would load as an empty router, so it is refused: write version: v0.3 or "
                                     "the classic keys (see config/switchyard.example.yaml)",
                                     cfg_show(node_at(c, pairs[i].value), b));
                else if (scalar_is(k, "decisions"))
                        r = cfg_unsupportedf(c, k,
                                             "decisions (newer vLLM Semantic Router routing) are not "
                                             "supported; use categories with model_scores");
                else if (cfg_in_list(k, vsr_keys))
                        r = cfg_unsupportedf(c, k, "'%s' (vLLM Semantic Router) is not used by switchyard",
                                             cfg_show(k, b));
                else
                        r = cfg_unsupportedf(c, k, "unknown top-level key '%s'", cfg_show(k, b));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_models(struct ctx *c) {
        return cfg_parse_model_settings(c, "models", true);
}

static int parse_model_config(struct ctx *c) {
        return cfg_parse_model_settings(c, "model_config", false);
}

/* The walk, in order: each step may use what the steps before it read. */
static int (*const steps[])(struct ctx *c) = {
        cfg_parse_server,        cfg_parse_upstreams, cfg_parse_discovery, cfg_parse_admin,      parse_models,
        parse_model_config,      cfg_build_models,    cfg_parse_aliases,   cfg_parse_classifier, cfg_parse_categories,
        cfg_parse_default_model, cfg_parse_reasoning, cfg_parse_auth,      cfg_parse_policy,     cfg_check_guards,
};

static int parse_root(struct ctx *c) {
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *w;
        int r;

        if (c->root && cfg_is_v03(c))
                return cfg_load_v03(c);
        if (c->root) {
                r = check_top_keys(c);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
                r = steps[i](c);
                if (r < 0)
                        return r;
        }

        w = cfg_map_get(c, cfg_root_get(c, "server"), "workers");
        if (cfg->server.workers > cfg->shm.max_workers)
                return cfg_errf(c, w, "server.workers: %u is more than shm.max_workers (%u)", cfg->server.workers,
                                cfg->shm.max_workers);
        if (cfg->n_upstreams == 0)
                return cfg_warnf(c, NULL, "no upstreams configured (upstreams: or vllm_endpoints:)");
        return 0;
}

static int yaml_error(struct ctx *c, const yaml_parser_t *p) {
        size_t line = p->problem_mark.line, col = p->problem_mark.column, i;
        const char *problem = p->problem ? p->problem : "unknown error";

        if (p->error == YAML_MEMORY_ERROR)
                return -ENOMEM;
        if (p->error == YAML_READER_ERROR) {
                /* reader errors carry a byte offset, not a mark */
                line = col = 0;
                for (i = 0; i < p->problem_offset && i < c->len; i++) {
                        if (c->buf[i] == '\n') {
                                line++;
                                col = 0;
                        } else {
                                col++;
                        }
                }
        }
        if (c->err && c->errlen > 0) {
                if (p->context)
                        snprintf(c->err, c->errlen,
                                 "%s:%zu:%zu: YAML syntax error: %s (%s at "
                                 "line %zu)",
                                 c->name, line + 1, col + 1, problem, p->context, p->context_mark.line + 1);
                else
                        snprintf(c->err, c->errlen, "%s:%zu:%zu: YAML syntax error: %s", c->name, line + 1, col + 1,
                                 problem);
        }
        return -EINVAL;
}

static int config_new(const char *name, struct sy_config **ret_cfg) {
        const char *rd = getenv("SWITCHYARD_RUNTIME_DIR");
        struct sy_config *cfg = calloc(1, sizeof *cfg);

        if (!cfg)
                return -ENOMEM;
        cfg->classifier.threads = 1;
        cfg->classifier.max_batch = 32;
        cfg->classifier.max_batch_wait_us = 500;
        cfg->classifier.timeout_ms = 50;
        cfg->classifier.pii.threshold = 0.5;
        cfg->classifier.jailbreak.threshold = 0.7;
        cfg->classifier.jailbreak_enabled = true;
        cfg->confidence_threshold = 0.5;
        cfg->classify_turns = 1;
        cfg->path = strdup(name);
        cfg->classifier.backend = strdup("auto");
        cfg->shm.runtime_dir = strdup(rd && *rd ? rd : "/run/switchyard");
        if (!cfg->path || !cfg->classifier.backend || !cfg->shm.runtime_dir || cfg_server_defaults(cfg) < 0 ||
            cfg_policy_defaults(cfg) < 0) {
                sy_config_free(cfg);
                return -ENOMEM;
        }
        *ret_cfg = cfg;
        return 0;
}

bool sy_config_allow_unsupported(void) {
        const char *v = getenv(SY_ALLOW_UNSUPPORTED_ENV);
        return v && strcmp(v, "1") == 0;
}

int sy_config_load_string(const char *name, const char *yaml, size_t len, struct sy_config **ret_cfg, char *err,
                          size_t errlen) {
        struct ctx c = { .err = err, .errlen = errlen };
        struct sy_config *cfg = NULL;
        yaml_parser_t parser;
        yaml_document_t doc, doc2;
        bool have_parser = false, have_doc = false;
        size_t i;
        int r;

        if (err && errlen > 0)
                err[0] = 0;
        c.name = name ? name : "<string>";
        c.allow_unsupported = sy_config_allow_unsupported();
        if (!ret_cfg || (!yaml && len > 0))
                return -EINVAL;
        if (len > CFG_FILE_MAX) {
                if (err && errlen > 0)
                        snprintf(err, errlen, "%s: larger than %u bytes", c.name, CFG_FILE_MAX);
                return -EFBIG;
        }
        c.buf = yaml ? yaml : "";
        c.len = len;
        r = config_new(c.name, &cfg);
        if (r < 0)
                goto out;
        c.cfg = cfg;
        if (!yaml_parser_initialize(&parser)) {
                r = -ENOMEM;
                goto out;
        }
        have_parser = true;
        yaml_parser_set_input_string(&parser, (const unsigned char *)c.buf, len);
        if (!yaml_parser_load(&parser, &doc)) {
                r = yaml_error(&c, &parser);
                goto out;
        }
        have_doc = true;
        c.doc = &doc;
        c.root = yaml_document_get_root_node(&doc);
        if (c.root) {
                const yaml_node_t *root2;

                if (!yaml_parser_load(&parser, &doc2)) {
                        r = yaml_error(&c, &parser);
                        goto out;
                }
                root2 = yaml_document_get_root_node(&doc2);
                if (root2)
                        r = cfg_errf(&c, root2, "more than one YAML document in the file");
                yaml_document_delete(&doc2);
                if (r < 0)
                        goto out;
                if (c.root->type != YAML_MAPPING_NODE && !is_null(c.root)) {
                        r = cfg_errf(&c, c.root,
                                     "expected a mapping of sections at the top "
                                     "level, got %s",
                                     cfg_kind_of(c.root));
                        goto out;
                }
                if (is_null(c.root))
                        c.root = NULL;
        }
        r = parse_root(&c);
out:
        if (r == -ENOMEM && err && errlen > 0)
                snprintf(err, errlen, "%s: out of memory", c.name);
        for (i = 0; i < c.n_sets; i++)
                sy_config_model_free(&c.sets[i].m);
        free(c.sets);
        if (have_doc)
                yaml_document_delete(&doc);
        if (have_parser)
                yaml_parser_delete(&parser);
        if (r < 0) {
                sy_config_free(cfg);
                return r;
        }
        *ret_cfg = cfg;
        return 0;
}

int sy_config_load(const char *path, struct sy_config **ret_cfg, char *err, size_t errlen) {
        char *buf = NULL;
        size_t len = 0;
        int r;

        if (err && errlen > 0)
                err[0] = 0;
        if (!path || !ret_cfg)
                return -EINVAL;
        r = sy_read_file(path, CFG_FILE_MAX, &buf, &len);
        if (r < 0) {
                if (err && errlen > 0)
                        snprintf(err, errlen, "%s: %s", path,
                                 r == -EFBIG    ? "file too large"
                                 : r == -ENOMEM ? "out of memory"
                                                : strerror(-r));
                return r;
        }
        r = sy_config_load_string(path, buf, len, ret_cfg, err, errlen);
        free(buf);
        return r;
}

void sy_config_upstream_free(struct sy_upstream_cfg *u) {
        free(u->name);
        free(u->host);
        free(u->engine);
        cfg_free_strv(u->models, u->n_models);
        free(u->sni);
        free(u->ca_file);
        free(u->api_key_env);
        sy_secret_free(u->api_key);
        free(u->auth_header);
        free(u->auth_prefix);
        cfg_free_strv(u->extra_names, u->n_extra);
        cfg_free_strv(u->extra_values, u->n_extra);
        free(u->health_path);
        free(u->via);
}

void sy_config_model_free(struct sy_model_cfg *m) {
        free(m->name);
        free(m->default_engine);
        free(m->reasoning_family);
        cfg_free_strv(m->preferred_endpoints, m->n_preferred_endpoints);
        cfg_free_strv(m->pii_policy.types_allowed, m->pii_policy.n_types_allowed);
}

/* The string members of struct sy_config (char *) that sy_config_free() frees. */
#define STR(m) offsetof(struct sy_config, m)
static const size_t config_strings[] = { STR(path),
                                         STR(server.host),
                                         STR(health.path),
                                         STR(router.policy),
                                         STR(shm.runtime_dir),
                                         STR(default_model),
                                         STR(classifier.model),
                                         STR(classifier.backend),
                                         STR(classifier.category.model_id),
                                         STR(classifier.category.mapping_path),
                                         STR(classifier.pii.model_id),
                                         STR(classifier.pii.mapping_path),
                                         STR(classifier.jailbreak.model_id),
                                         STR(classifier.jailbreak.mapping_path),
                                         STR(admin.host),
                                         STR(admin.token),
                                         STR(admin.token_file),
                                         STR(admin.state_file),
                                         STR(default_reasoning_effort),
                                         STR(guard.pii_message),
                                         STR(guard.jailbreak_message),
                                         STR(rate_limits.client_header),
                                         STR(proxy.selected_model_header),
                                         STR(router.session.header),
                                         STR(rate_limits.redis.host),
                                         STR(rate_limits.redis.key_prefix),
                                         STR(rate_limits.redis.password_env) };
#undef STR

void sy_config_free(struct sy_config *cfg) {
        size_t i, j;

        if (!cfg)
                return;
        for (i = 0; i < sizeof config_strings / sizeof config_strings[0]; i++)
                free(*(char **)((char *)cfg + config_strings[i]));
        for (i = 0; i < cfg->n_upstreams; i++)
                sy_config_upstream_free(&cfg->upstreams[i]);
        free(cfg->upstreams);
        for (i = 0; i < cfg->n_models; i++)
                sy_config_model_free(&cfg->models[i]);
        free(cfg->models);
        cfg_free_strv(cfg->auto_aliases, cfg->n_auto_aliases);
        for (i = 0; i < cfg->n_categories; i++) {
                free(cfg->categories[i].name);
                free(cfg->categories[i].system_prompt);
                for (j = 0; j < cfg->categories[i].n_model_scores; j++)
                        free(cfg->categories[i].model_scores[j].model);
                free(cfg->categories[i].model_scores);
        }
        free(cfg->categories);
        for (i = 0; i < cfg->n_discovery; i++) {
                struct sy_discovery_cfg *d = &cfg->discovery[i];

                free(d->engine);
                cfg_free_strv(d->models, d->n_models);
                free(d->model_label);
                free(d->namespace_);
                free(d->label_selector);
                free(d->port_name);
                free(d->api_server);
                free(d->token_file);
                free(d->ca_file);
                free(d->dns_name);
        }
        free(cfg->discovery);
        for (i = 0; i < cfg->n_reasoning_families; i++) {
                free(cfg->reasoning_families[i].name);
                free(cfg->reasoning_families[i].parameter);
        }
        free(cfg->reasoning_families);
        for (i = 0; i < cfg->n_api_keys; i++) {
                free(cfg->api_keys[i].name);
                cfg_free_strv(cfg->api_keys[i].models, cfg->api_keys[i].n_models);
        }
        free(cfg->api_keys);
        sy_secret_free(cfg->metrics_token);
        cfg_free_strv(cfg->warnings, cfg->n_warnings);
        sy_v03_free(cfg->v03);
        free(cfg);
}

const struct sy_reasoning_family *sy_config_find_reasoning(const struct sy_config *cfg, const char *name) {
        return cfg && name ? CFG_FIND_NAMED(cfg->reasoning_families, cfg->n_reasoning_families, name) : NULL;
}

const struct sy_model_cfg *sy_config_find_model(const struct sy_config *cfg, const char *name) {
        return cfg && name ? CFG_FIND_NAMED(cfg->models, cfg->n_models, name) : NULL;
}

const struct sy_upstream_cfg *sy_config_find_upstream(const struct sy_config *cfg, const char *name) {
        return cfg && name ? CFG_FIND_NAMED(cfg->upstreams, cfg->n_upstreams, name) : NULL;
}
