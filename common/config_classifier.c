/* Model "auto" and the classifier: auto_aliases, classifier (the
 * classifier process; classic single-head roles category_model and
 * pii_model), prompt_guard (the jailbreak guard), categories (model_scores,
 * system prompts, the guard switches), reasoning_families and
 * default_model. */
#include "common/config-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- model "auto" ------------------------------------------------------ */

int cfg_parse_aliases(struct ctx *c) {
        static const char *const defaults[] = { "auto", "MoM" };
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *v = cfg_root_get(c, "auto_aliases");
        yaml_node_item_t *items = NULL;
        size_t n_items = 0, i;
        int r;

        if (!v) {
                for (i = 0; i < 2; i++) {
                        if (cfg_model_by_name(cfg, defaults[i])) {
                                r = cfg_warnf(c, NULL,
                                              "a served model is named '%s'; it is not "
                                              "an auto alias",
                                              defaults[i]);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        r = cfg_push_dup(&cfg->auto_aliases, &cfg->n_auto_aliases, defaults[i]);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        r = cfg_get_name_list(c, v, "auto_aliases", NAME_MODEL, CFG_ALIASES_MAX, &cfg->auto_aliases,
                              &cfg->n_auto_aliases);
        if (r < 0)
                return r;
        r = cfg_seq_items(c, v, "auto_aliases", &items, &n_items);
        if (r < 0)
                return r;
        for (i = 0; i < n_items; i++)
                if (cfg_model_by_name(cfg, cfg->auto_aliases[i]))
                        return cfg_errf(c, node_at(c, items[i]),
                                        "auto_aliases: '%s' is also a "
                                        "served model",
                                        cfg->auto_aliases[i]);
        return 0;
}

/* ---- the classifier: classifier: and prompt_guard: ---------------------- */

static int get_model_dir(struct ctx *c, const yaml_node_t *v, const char *what, char **ret, bool *ret_missing) {
        struct stat st;
        int r = cfg_get_path(c, v, what, ret);

        if (r < 0)
                return r;
        *ret_missing = stat(*ret, &st) < 0 || !S_ISDIR(st.st_mode);
        if (*ret_missing)
                return cfg_warnf(
                        c, v,
                        "%s: '%s' is not a model directory here; switchyard does not download "
                        "models: download it (e.g. huggingface-cli download ORG/NAME --local-dir DIR) and give "
                        "the directory's path; the classifier will not start with this configuration",
                        what, *ret);
        return 0;
}

enum clf_role { ROLE_CATEGORY, ROLE_PII, ROLE_JAILBREAK };

/* classifier.category_model / classifier.pii_model / prompt_guard. The
 * guards' sections (pii_model, prompt_guard) are strict: an unknown key
 * there is refused, not warned about. */
static int parse_role(struct ctx *c, const yaml_node_t *v, const char *what, enum clf_role role,
                      struct sy_classifier_role_cfg *rc, double *threshold, bool *enabled) {
        static const char *const known[] = {
                [ROLE_CATEGORY] = "model_id, threshold, use_cpu, use_modernbert, category_mapping_path",
                [ROLE_PII] = "model_id, threshold, use_cpu, use_modernbert, pii_mapping_path",
                [ROLE_JAILBREAK] = "enabled, threshold, include_history, model_id, use_cpu, use_modernbert, "
                                   "jailbreak_mapping_path",
        };
        yaml_node_pair_t *pairs;
        size_t n, i;
        char fw[128], b[72];
        int r;

        r = cfg_map_pairs(c, v, what, &pairs, &n);
        if (r < 0)
                return r;
        rc->line = (unsigned)v->start_mark.line + 1;
        for (i = 0; i < n; i++) {
                const yaml_node_t *k, *val;

                cfg_pair(c, &pairs[i], what, fw, sizeof fw, &k, &val);
                if (scalar_is(k, "model_id"))
                        r = get_model_dir(c, val, fw, &rc->model_id, &rc->missing);
                else if (scalar_is(k, "threshold"))
                        r = cfg_get_double(c, val, fw, 0.0, 1.0, threshold);
                else if (scalar_is(k, "use_cpu"))
                        r = cfg_get_bool(c, val, fw, &rc->use_cpu);
                else if (role == ROLE_JAILBREAK && scalar_is(k, "enabled"))
                        r = cfg_get_bool(c, val, fw, enabled);
                else if (role == ROLE_JAILBREAK && scalar_is(k, "include_history")) {
                        c->pg_history = val;
                        r = cfg_get_bool(c, val, fw, &c->cfg->guard.include_history);
                } else if (scalar_is(k, "category_mapping_path") || scalar_is(k, "pii_mapping_path") ||
                           scalar_is(k, "jailbreak_mapping_path"))
                        r = is_null(val) ? 0 : cfg_get_path(c, val, fw, &rc->mapping_path);
                else if (scalar_is(k, "use_modernbert"))
                        r = 0; /* the architecture is read from the checkpoint's config.json */
                else if (role != ROLE_CATEGORY)
                        r = cfg_errf(c, k, "unknown key '%s' in %s (known: %s)", cfg_show(k, b), what, known[role]);
                else
                        r = cfg_unused_key(c, k, what);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cfg_parse_classifier(struct ctx *c) {
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *v = cfg_root_get(c, "confidence_threshold");
        const yaml_node_t *clf = cfg_root_get(c, "classifier"), *pg = cfg_root_get(c, "prompt_guard");
        const yaml_node_t *cats = cfg_root_get(c, "categories");
        const yaml_node_t *t = cfg_map_get(c, cfg_map_get(c, clf, "category_model"), "threshold");
        yaml_node_pair_t *pairs;
        bool enabled = true, pg_enabled = false;
        size_t n, i;
        int r;

        n = 0;
        r = clf ? cfg_map_pairs(c, clf, "classifier", &pairs, &n) : 0;
        if (r < 0)
                return r;
        for (i = 0; i < n; i++) {
                const yaml_node_t *k, *val;
                char fw[96], b[72];
                uint64_t u = 0;

                cfg_pair(c, &pairs[i], "classifier", fw, sizeof fw, &k, &val);
                if (scalar_is(k, "enabled")) {
                        r = cfg_get_bool(c, val, fw, &enabled);
                        c->clf_off = r == 0 && !enabled ? val : NULL;
                } else if (scalar_is(k, "model")) {
                        bool missing = false;

                        r = get_model_dir(c, val, fw, &cfg->classifier.model, &missing);
                } else if (scalar_is(k, "backend")) {
                        if (!scalar_is(val, "auto") && !scalar_is(val, "cpu") && !scalar_is(val, "cuda"))
                                return cfg_errf(c, val, "%s: expected auto, cpu or cuda, got %s%s%s", fw, Q(val),
                                                SHOW(val, b), Q(val));
                        r = cfg_get_str(c, val, fw, 8, &cfg->classifier.backend);
                } else if (scalar_is(k, "threads")) {
                        r = cfg_get_uint(c, val, fw, 1, 256, &u);
                        cfg->classifier.threads = (unsigned)u;
                } else if (scalar_is(k, "max_batch")) {
                        r = cfg_get_uint(c, val, fw, 1, 1024, &u);
                        cfg->classifier.max_batch = (unsigned)u;
                } else if (scalar_is(k, "max_batch_wait_us")) {
                        r = cfg_get_duration(c, val, fw, NS_PER_US, 0, 1000000, &u);
                        cfg->classifier.max_batch_wait_us = (unsigned)u;
                } else if (scalar_is(k, "max_len")) {
                        r = cfg_get_uint(c, val, fw, 0, 8192, &u);
                        if (r >= 0 && u > 0 && u < 8)
                                return cfg_errf(c, val, "%s: %llu is too small (0 or 8..8192)", fw,
                                                (unsigned long long)u);
                        cfg->classifier.max_len = (unsigned)u;
                } else if (scalar_is(k, "timeout_ms")) {
                        r = cfg_get_duration(c, val, fw, NS_PER_MS, 1, 60000, &u);
                        cfg->classifier.timeout_ms = (unsigned)u;
                } else if (scalar_is(k, "pii_threshold")) {
                        r = cfg_get_double(c, val, fw, 0.0, 1.0, &cfg->classifier.pii.threshold);
                } else if (scalar_is(k, "jailbreak_threshold")) {
                        r = cfg_get_double(c, val, fw, 0.0, 1.0, &cfg->classifier.jailbreak.threshold);
                } else if (scalar_is(k, "category_model")) {
                        double th = cfg->confidence_threshold;

                        r = parse_role(c, val, fw, ROLE_CATEGORY, &cfg->classifier.category, &th, NULL);
                } else if (scalar_is(k, "pii_model")) {
                        r = parse_role(c, val, fw, ROLE_PII, &cfg->classifier.pii, &cfg->classifier.pii.threshold,
                                       NULL);
                } else {
                        r = cfg_unused_key(c, k, "classifier");
                }
                if (r < 0)
                        return r;
        }
        if (pg) {
                pg_enabled = true; /* vSR's default when the section is there */
                r = parse_role(c, pg, "prompt_guard", ROLE_JAILBREAK, &cfg->classifier.jailbreak,
                               &cfg->classifier.jailbreak.threshold, &pg_enabled);
                if (r < 0)
                        return r;
                cfg->classifier.jailbreak_enabled = pg_enabled;
                cfg->classifier.jailbreak_block = pg_enabled;
        }
        cfg->classifier.enabled = (clf && enabled) || (pg && pg_enabled) ||
                                  (!clf && cats && cats->type == YAML_SEQUENCE_NODE &&
                                   cats->data.sequence.items.top > cats->data.sequence.items.start);
        if (v)
                return cfg_get_double(c, v, "confidence_threshold", 0.0, 1.0, &c->cfg->confidence_threshold);
        if (t)
                return cfg_get_double(c, t, "classifier.category_model.threshold", 0.0, 1.0,
                                      &c->cfg->confidence_threshold);
        return 0;
}

static int parse_model_scores(struct ctx *c, const yaml_node_t *v, const char *what, bool use_reasoning,
                              struct sy_category_cfg *cat) {
        static const char *const ignored[] = { "reasoning_effort", "reasoning_description", NULL };
        yaml_node_item_t *items = NULL;
        size_t n_items = 0, i;
        int r;

        r = CFG_SEQ_ARRAY(c, v, what, SY_CFG_MAX_MODELS, "entries", false, &items, &n_items, cat->model_scores);
        if (r < 0)
                return r;
        for (i = 0; i < n_items; i++) {
                const yaml_node_t *item = node_at(c, items[i]), *model_node = NULL, *k2, *val;
                struct cfg_pairs it;
                struct sy_model_score *ms = &cat->model_scores[cat->n_model_scores++];
                bool have_score = false;
                char iw[160], fw[240];
                size_t k;

                ms->use_reasoning = use_reasoning;
                snprintf(iw, sizeof iw, "%s[%zu]", what, i);
                r = cfg_pairs_begin(c, item, iw, &it);
                while (r >= 0 && cfg_pairs_next(c, &it, iw, fw, sizeof fw, &k2, &val)) {
                        if (scalar_is(k2, "model")) {
                                model_node = val;
                                r = cfg_get_name(c, val, fw, NAME_MODEL, &ms->model);
                        } else if (scalar_is(k2, "score")) {
                                have_score = true;
                                r = cfg_get_double(c, val, fw, 0.0, 1.0, &ms->score);
                        } else if (scalar_is(k2, "use_reasoning")) {
                                r = cfg_get_bool(c, val, fw, &ms->use_reasoning);
                        } else if (!cfg_in_list(k2, ignored)) {
                                r = cfg_unused_key(c, k2, iw);
                        }
                }
                if (r < 0)
                        return r;
                if (!model_node)
                        return cfg_errf(c, item, "%s: missing 'model'", iw);
                if (!have_score)
                        return cfg_errf(c, item, "%s: missing 'score'", iw);
                if (!cfg_model_by_name(c->cfg, ms->model))
                        return cfg_errf(c, model_node,
                                        "%s: model '%s' is not served by any "
                                        "upstream",
                                        iw, ms->model);
                for (k = 0; k + 1 < cat->n_model_scores; k++)
                        if (strcmp(cat->model_scores[k].model, ms->model) == 0)
                                return cfg_errf(c, model_node, "%s: model '%s' is listed twice", iw, ms->model);
        }
        return 0;
}

int cfg_parse_categories(struct ctx *c) {
        static const char *const ignored[] = {
                "description",
                "mmlu_categories",
                "reasoning_description",
                "reasoning_effort",
                "semantic_cache_enabled",
                "semantic_cache_similarity_threshold",
                NULL,
        };
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *v = cfg_root_get(c, "categories");
        yaml_node_item_t *items = NULL;
        size_t n_items = 0, i;
        int r;

        if (!v)
                return 0;
        r = CFG_SEQ_ARRAY(c, v, "categories", SY_CFG_MAX_CATEGORIES, "categories", true, &items, &n_items,
                          cfg->categories);
        if (r < 0)
                return r;
        for (i = 0; i < n_items; i++) {
                const yaml_node_t *item = node_at(c, items[i]), *name_node = NULL;
                const yaml_node_t *scores = NULL, *ur, *k2, *val;
                struct cfg_pairs it;
                struct sy_category_cfg *cat = &cfg->categories[cfg->n_categories++];
                bool use_reasoning = false, prompt_enabled = true;
                char what[48], fw[128];
                size_t k;

                snprintf(what, sizeof what, "categories[%zu]", i);
                cat->pii_enabled = -1;
                cat->jailbreak_enabled = -1;
                cat->pii_threshold = -1;
                cat->jailbreak_threshold = -1;
                r = cfg_pairs_begin(c, item, what, &it);
                if (r < 0)
                        return r;
                /* category-level use_reasoning (older vSR) is the default of its scores */
                ur = cfg_map_get(c, item, "use_reasoning");
                if (ur) {
                        snprintf(fw, sizeof fw, "%s.use_reasoning", what);
                        r = cfg_get_bool(c, ur, fw, &use_reasoning);
                        if (r < 0)
                                return r;
                }
                while (r >= 0 && cfg_pairs_next(c, &it, what, fw, sizeof fw, &k2, &val)) {
                        if (scalar_is(k2, "name")) {
                                name_node = val;
                                r = cfg_get_name(c, val, fw, NAME_CATEGORY, &cat->name);
                        } else if (scalar_is(k2, "system_prompt")) {
                                if (!is_null(val))
                                        r = cfg_get_str(c, val, fw, CFG_PROMPT_MAX, &cat->system_prompt);
                        } else if (scalar_is(k2, "system_prompt_enabled")) {
                                r = cfg_get_bool(c, val, fw, &prompt_enabled);
                        } else if (scalar_is(k2, "system_prompt_mode")) {
                                if (scalar_is(val, "insert"))
                                        cat->system_prompt_insert = true;
                                else if (!scalar_is(val, "replace"))
                                        r = cfg_errf(c, val, "%s: expected 'replace' or 'insert'", fw);
                        } else if (scalar_is(k2, "model_scores")) {
                                scores = val;
                        } else if (scalar_is(k2, "use_reasoning")) {
                                /* read above */
                        } else if (scalar_is(k2, "pii_enabled") || scalar_is(k2, "jailbreak_enabled")) {
                                bool on = false;

                                r = cfg_get_bool(c, val, fw, &on);
                                if (scalar_is(k2, "pii_enabled"))
                                        cat->pii_enabled = on;
                                else
                                        cat->jailbreak_enabled = on;
                                if (on && scalar_is(k2, "jailbreak_enabled") && !c->jb_needs)
                                        c->jb_needs = val;
                        } else if (scalar_is(k2, "pii_threshold")) {
                                r = cfg_get_double(c, val, fw, 0.0, 1.0, &cat->pii_threshold);
                        } else if (scalar_is(k2, "jailbreak_threshold")) {
                                r = cfg_get_double(c, val, fw, 0.0, 1.0, &cat->jailbreak_threshold);
                        } else if (!cfg_in_list(k2, ignored)) {
                                r = cfg_unused_key(c, k2, what);
                        }
                }
                if (r < 0)
                        return r;
                if (!name_node)
                        return cfg_errf(c, item, "%s: missing 'name'", what);
                for (k = 0; k + 1 < cfg->n_categories; k++)
                        if (strcmp(cfg->categories[k].name, cat->name) == 0)
                                return cfg_errf(c, name_node, "%s: duplicate category '%s'", what, cat->name);
                if (cat->system_prompt && (!prompt_enabled || cat->system_prompt[0] == 0)) {
                        free(cat->system_prompt);
                        cat->system_prompt = NULL;
                }
                if (scores) {
                        snprintf(fw, sizeof fw, "%s.model_scores", what);
                        r = parse_model_scores(c, scores, fw, use_reasoning, cat);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* reasoning_families (classic vSR) on top of the built-in ones, and
 * default_reasoning_effort; every model's reasoning_family must be known. */
static int add_family(struct sy_config *cfg, const char *name, enum sy_reasoning_type t, const char *param) {
        struct sy_reasoning_family *f;

        for (size_t i = 0; i < cfg->n_reasoning_families; i++)
                if (strcmp(cfg->reasoning_families[i].name, name) == 0) {
                        f = &cfg->reasoning_families[i];
                        goto set;
                }
        f = realloc(cfg->reasoning_families, (cfg->n_reasoning_families + 1) * sizeof *f);
        if (!f)
                return -ENOMEM;
        cfg->reasoning_families = f;
        f = &f[cfg->n_reasoning_families++];
        f->name = strdup(name);
        f->parameter = NULL;
        if (!f->name)
                return -ENOMEM;
set:
        f->type = t;
        free(f->parameter);
        f->parameter = strdup(param);
        return f->parameter ? 0 : -ENOMEM;
}

int cfg_parse_reasoning(struct ctx *c) {
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *v = cfg_root_get(c, "reasoning_families"), *e;
        yaml_node_pair_t *pairs;
        size_t n, i;
        int r;

        if ((r = add_family(cfg, "qwen3", SY_REASONING_TEMPLATE_KWARGS, "enable_thinking")) < 0 ||
            (r = add_family(cfg, "deepseek", SY_REASONING_TEMPLATE_KWARGS, "thinking")) < 0 ||
            (r = add_family(cfg, "gpt-oss", SY_REASONING_EFFORT, "reasoning_effort")) < 0 ||
            (r = add_family(cfg, "gpt", SY_REASONING_EFFORT, "reasoning_effort")) < 0)
                return r;
        if (v && !is_null(v)) {
                r = cfg_map_pairs(c, v, "reasoning_families", &pairs, &n);
                if (r < 0)
                        return r;
                for (i = 0; i < n; i++) {
                        const yaml_node_t *k, *f;
                        const yaml_node_t *t, *p;
                        char *name = NULL, *param = NULL, fw[160];

                        cfg_pair(c, &pairs[i], "reasoning_families", fw, sizeof fw, &k, &f);
                        r = cfg_get_name(c, k, "reasoning_families", NAME_MODEL, &name);
                        if (r < 0)
                                return r;
                        t = cfg_map_get(c, f, "type");
                        p = cfg_map_get(c, f, "parameter");
                        if (f->type != YAML_MAPPING_NODE || !t || !p) {
                                free(name);
                                return cfg_errf(c, f, "%s: expected a mapping with 'type' and 'parameter'", fw);
                        }
                        if (!scalar_is(t, "chat_template_kwargs") && !scalar_is(t, "reasoning_effort")) {
                                free(name);
                                return cfg_errf(c, t,
                                                "%s.type: expected 'chat_template_kwargs' or "
                                                "'reasoning_effort'",
                                                fw);
                        }
                        r = cfg_get_name(c, p, fw, NAME_MODEL, &param);
                        if (r >= 0)
                                r = add_family(cfg, name,
                                               scalar_is(t, "reasoning_effort") ? SY_REASONING_EFFORT
                                                                                : SY_REASONING_TEMPLATE_KWARGS,
                                               param);
                        free(name);
                        free(param);
                        if (r < 0)
                                return r;
                }
        }
        e = cfg_root_get(c, "default_reasoning_effort");
        if (e && !is_null(e)) {
                if (!scalar_is(e, "low") && !scalar_is(e, "medium") && !scalar_is(e, "high"))
                        return cfg_errf(c, e, "default_reasoning_effort: expected low, medium or high");
                r = cfg_get_str(c, e, "default_reasoning_effort", 16, &cfg->default_reasoning_effort);
        } else {
                cfg->default_reasoning_effort = strdup("high");
                r = cfg->default_reasoning_effort ? 0 : -ENOMEM;
        }
        if (r < 0)
                return r;
        for (i = 0; i < cfg->n_models; i++)
                if (cfg->models[i].reasoning_family && !sy_config_find_reasoning(cfg, cfg->models[i].reasoning_family))
                        return cfg_errf(c, NULL,
                                        "model '%s': reasoning_family '%s' is not defined "
                                        "(built in: qwen3, deepseek, gpt-oss, gpt; or add it under "
                                        "reasoning_families)",
                                        cfg->models[i].name, cfg->models[i].reasoning_family);
        v = cfg_root_get(c, "classify_turns");
        if (v) {
                uint64_t t;
                r = cfg_get_uint(c, v, "classify_turns", 1, 16, &t);
                if (r < 0)
                        return r;
                cfg->classify_turns = (unsigned)t;
        }
        return 0;
}

int cfg_parse_default_model(struct ctx *c) {
        const yaml_node_t *v = cfg_root_get(c, "default_model");
        int r;

        if (!v || is_null(v))
                return 0;
        r = cfg_get_name(c, v, "default_model", NAME_MODEL, &c->cfg->default_model);
        if (r < 0)
                return r;
        if (!cfg_model_by_name(c->cfg, c->cfg->default_model))
                return cfg_errf(c, v, "default_model: '%s' is not served by any upstream", c->cfg->default_model);
        return 0;
}
