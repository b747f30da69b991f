/* Upstreams and models: switchyard's upstreams and the classic
 * vllm_endpoints (one table-driven walker for both forms), the per-model
 * settings of models (strict) and model_config (classic, lenient) with
 * their pii_policy, and the model table built from them. */
#include "common/config-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- upstreams --------------------------------------------------------- */

static int new_upstream(struct ctx *c, const yaml_node_t *item, struct sy_upstream_cfg **ret_up) {
        struct sy_config *cfg = c->cfg;
        struct sy_upstream_cfg *v;

        if (cfg->n_upstreams >= SY_CFG_MAX_UPSTREAMS)
                return cfg_errf(c, item, "more than %d upstreams", SY_CFG_MAX_UPSTREAMS);
        v = CFG_APPEND(cfg->upstreams, cfg->n_upstreams);
        if (!v)
                return -ENOMEM;
        v->weight = 1;
        v->kind = SY_UPSTREAM_SERVER;
        v->line = (unsigned)item->start_mark.line + 1;
        c->up_nodes[cfg->n_upstreams - 1] = item;
        *ret_up = v;
        return 0;
}

static int check_upstream_name(struct ctx *c, const yaml_node_t *n, const struct sy_upstream_cfg *up) {
        const struct sy_config *cfg = c->cfg;
        size_t i;

        for (i = 0; i < cfg->n_upstreams; i++)
                if (&cfg->upstreams[i] != up && cfg->upstreams[i].name && strcmp(cfg->upstreams[i].name, up->name) == 0)
                        return cfg_errf(c, n, "duplicate upstream name '%s' (first at line %u)", up->name,
                                        cfg->upstreams[i].line);
        return 0;
}

static int finish_upstream(struct ctx *c, const yaml_node_t *item, const char *what, struct sy_upstream_cfg *up,
                           const yaml_node_t *name_node, bool have_addr, const char *addr_key, bool have_port) {
        if (!name_node)
                return cfg_errf(c, item, "%s: missing 'name'", what);
        if (!have_addr)
                return cfg_errf(c, item, "%s: missing '%s'", what, addr_key);
        if (!have_port)
                return cfg_errf(c, item, "%s: missing 'port'", what);
        if (!up->engine) {
                up->engine = strdup("vllm");
                if (!up->engine)
                        return -ENOMEM;
        }
        return check_upstream_name(c, name_node, up);
}

/* The two forms of an upstream list: switchyard's upstreams (strict) and
 * vLLM Semantic Router's vllm_endpoints ({name, address, port, weight,
 * models}, engine "vllm"; other keys are warnings). */
static const char *const vllm_ignored[] = { "health_check_path", NULL };

enum up_key { UK_NAME, UK_URL, UK_ADDRESS, UK_PORT, UK_ENGINE, UK_MODELS, UK_WEIGHT, UK_KIND };

static const struct up_form {
        const char *sect;
        struct {
                const char *key;
                enum up_key k;
        } keys[7];                  /* ends at a NULL key */
        const char *addr_key;       /* required: url or address */
        bool strict;                /* unknown keys: errors, else warnings */
        const char *const *ignored; /* lenient: keys accepted silently */
} forms[] = {
        { "upstreams",
          { { "name", UK_NAME },
            { "url", UK_URL },
            { "engine", UK_ENGINE },
            { "models", UK_MODELS },
            { "weight", UK_WEIGHT },
            { "kind", UK_KIND } },
          "url",
          true,
          NULL },
        { "vllm_endpoints",
          { { "name", UK_NAME },
            { "address", UK_ADDRESS },
            { "port", UK_PORT },
            { "weight", UK_WEIGHT },
            { "models", UK_MODELS } },
          "address",
          false,
          vllm_ignored },
};

static int upstream_key(struct ctx *c, enum up_key kind, const yaml_node_t *val, const char *fw,
                        struct sy_upstream_cfg *up) {
        uint64_t u;
        int r;

        switch (kind) {
        case UK_NAME:
                return cfg_get_name(c, val, fw, NAME_MODEL, &up->name);
        case UK_URL:
                return cfg_upstream_url(c, val, fw, up);
        case UK_ADDRESS:
                return cfg_get_host(c, val, fw, &up->host);
        case UK_PORT:
                r = cfg_get_uint(c, val, fw, 1, 65535, &u);
                up->port = (uint16_t)u;
                return r;
        case UK_ENGINE:
                return cfg_get_name(c, val, fw, NAME_ENGINE, &up->engine);
        case UK_MODELS:
                return cfg_get_name_list(c, val, fw, NAME_MODEL, SY_CFG_MAX_MODELS, &up->models, &up->n_models);
        case UK_WEIGHT:
                r = cfg_get_uint(c, val, fw, 1, CFG_WEIGHT_MAX, &u);
                up->weight = (uint32_t)u;
                return r;
        case UK_KIND:
                return cfg_get_upstream_kind(c, val, fw, &up->kind);
        }
        return -EINVAL;
}

static int parse_form(struct ctx *c, const struct up_form *f) {
        const yaml_node_t *v = cfg_root_get(c, f->sect);
        yaml_node_item_t *items = NULL;
        size_t n_items = 0, i, x;
        bool has_port_key = false;
        char known[128] = "";
        int r;

        if (!v)
                return 0;
        r = cfg_seq_items(c, v, f->sect, &items, &n_items);
        if (r < 0)
                return r;
        for (x = 0; f->keys[x].key; x++) {
                has_port_key |= f->keys[x].k == UK_PORT;
                snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", x ? ", " : "", f->keys[x].key);
        }
        for (i = 0; i < n_items; i++) {
                const yaml_node_t *item = node_at(c, items[i]), *name_node = NULL, *k, *val;
                struct sy_upstream_cfg *up = NULL;
                struct cfg_pairs it;
                bool have_addr = false, have_port = false;
                char what[48], fw[48 + 72 + 2], b[72];

                snprintf(what, sizeof what, "%s[%zu]", f->sect, i);
                cfg_upstream_tls_begin(c);
                r = new_upstream(c, item, &up);
                if (r < 0)
                        return r;
                r = cfg_pairs_begin(c, item, what, &it);
                while (r >= 0 && cfg_pairs_next(c, &it, what, fw, sizeof fw, &k, &val)) {
                        for (x = 0; f->keys[x].key && !scalar_is(k, f->keys[x].key); x++)
                                ;
                        if (f->keys[x].key) {
                                name_node = f->keys[x].k == UK_NAME ? val : name_node;
                                have_addr |= f->keys[x].k == UK_URL || f->keys[x].k == UK_ADDRESS;
                                have_port |= f->keys[x].k == UK_PORT;
                                r = upstream_key(c, f->keys[x].k, val, fw, up);
                        } else if ((r = cfg_upstream_tls_key(c, k, val, fw, up)) != 0) {
                                /* taken (1) or refused */
                        } else if (f->strict) {
                                r = cfg_errf(c, k, "unknown key '%s' in upstream (known: %s, %s)", cfg_show(k, b),
                                             known, cfg_upstream_tls_known());
                        } else {
                                r = cfg_in_list(k, f->ignored) ? 0 : cfg_unused_key(c, k, what);
                        }
                }
                if (r < 0)
                        return r;
                r = finish_upstream(c, item, what, up, name_node, have_addr, f->addr_key, have_port || !has_port_key);
                if (r >= 0)
                        r = cfg_upstream_tls_finish(c, what, up);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cfg_parse_upstreams(struct ctx *c) {
        int r = 0;

        for (size_t i = 0; r >= 0 && i < sizeof forms / sizeof forms[0]; i++)
                r = parse_form(c, &forms[i]);
        return r < 0 ? r : cfg_check_vias(c);
}

static struct sy_upstream_cfg *upstream_by_name(struct sy_config *cfg, const char *name) {
        return CFG_FIND_NAMED(cfg->upstreams, cfg->n_upstreams, name);
}

/* ---- per-model settings ------------------------------------------------ */

static int new_set(struct ctx *c, struct model_set **ret_set) {
        struct model_set *v = CFG_APPEND(c->sets, c->n_sets);

        if (!v)
                return -ENOMEM;
        *ret_set = v;
        return 0;
}

/* preferred_endpoints: [upstream names]; each of them serves the model. */
static int parse_preferred(struct ctx *c, const yaml_node_t *v, const char *what, struct model_set *set) {
        yaml_node_item_t *items = NULL;
        size_t n_items = 0, i;
        int r;

        r = cfg_get_name_list(c, v, what, NAME_MODEL, SY_CFG_MAX_UPSTREAMS, &set->m.preferred_endpoints,
                              &set->m.n_preferred_endpoints);
        if (r < 0)
                return r;
        r = cfg_seq_items(c, v, what, &items, &n_items);
        if (r < 0)
                return r;
        for (i = 0; i < n_items; i++) {
                const yaml_node_t *it = node_at(c, items[i]);
                struct sy_upstream_cfg *up = upstream_by_name(c->cfg, set->m.preferred_endpoints[i]);

                if (!up)
                        return cfg_errf(c, it, "%s: no upstream named '%s'", what, set->m.preferred_endpoints[i]);
                if (cfg_str_index(up->models, up->n_models, set->m.name) >= 0)
                        continue;
                if (up->n_models >= SY_CFG_MAX_MODELS)
                        return cfg_errf(c, it, "%s: upstream '%s' would serve more than %d models", what, up->name,
                                        SY_CFG_MAX_MODELS);
                r = cfg_push_dup(&up->models, &up->n_models, set->m.name);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* model_config.<m>.pii_policy: {allow_by_default, pii_types_allowed} */
static const char *const pii_type_names[] = {
        "PERSON",      "EMAIL_ADDRESS", "US_SSN",    "CREDIT_CARD",       "PHONE_NUMBER", "STREET_ADDRESS",
        "IP_ADDRESS",  "IBAN_CODE",     "DATE_TIME", "ORGANIZATION",      "GPE",          "AGE",
        "DOMAIN_NAME", "NRP",           "TITLE",     "US_DRIVER_LICENSE", "ZIP_CODE",     NULL,
};

static int parse_pii_policy(struct ctx *c, const yaml_node_t *v, const char *what, struct sy_pii_policy *p) {
        const yaml_node_t *list = NULL;
        yaml_node_item_t *items = NULL;
        yaml_node_pair_t *pairs;
        size_t n, i, n_items = 0;
        char fw[SY_CFG_NAME_MAX + 160], b[72], known[400] = "";
        int r;

        r = cfg_map_pairs(c, v, what, &pairs, &n);
        if (r < 0)
                return r;
        p->set = true;
        p->allow_by_default = true;
        p->line = (unsigned)v->start_mark.line + 1;
        for (i = 0; i < n; i++) {
                const yaml_node_t *k, *val;

                cfg_pair(c, &pairs[i], what, fw, sizeof fw, &k, &val);
                if (scalar_is(k, "allow_by_default"))
                        r = cfg_get_bool(c, val, fw, &p->allow_by_default);
                else if (scalar_is(k, "pii_types_allowed"))
                        r = cfg_seq_items(c, list = val, fw, &items, &n_items);
                else
                        r = cfg_errf(c, k, "unknown key '%s' in %s (known: allow_by_default, pii_types_allowed)",
                                     cfg_show(k, b), what);
                if (r < 0)
                        return r;
        }
        for (i = 0; pii_type_names[i]; i++) {
                strcat(known, pii_type_names[i]);
                if (pii_type_names[i + 1])
                        strcat(known, ", ");
        }
        snprintf(fw, sizeof fw, "%s.pii_types_allowed", what);
        for (i = 0; i < n_items; i++) {
                const yaml_node_t *it = node_at(c, items[i]);

                if (it->type != YAML_SCALAR_NODE || is_null(it))
                        return cfg_errf(c, it, "%s: expected a PII type name, got %s", fw, cfg_kind_of(it));
                if (!cfg_in_list(it, pii_type_names))
                        return cfg_errf(c, it, "%s: unknown PII type '%s' (known: %s)", fw, cfg_show(it, b), known);
                if (cfg_str_index(p->types_allowed, p->n_types_allowed, sval(it)) >= 0)
                        return cfg_errf(c, it, "%s: '%s' is listed twice", fw, cfg_show(it, b));
                r = cfg_push_dup(&p->types_allowed, &p->n_types_allowed, sval(it));
                if (r < 0)
                        return r;
        }
        if (p->allow_by_default && list && n_items > 0)
                return cfg_errf(c, list,
                                "%s: with allow_by_default: true every type is allowed, so this list "
                                "would mean nothing; set allow_by_default: false to allow only these types",
                                fw);
        if (!p->allow_by_default && !c->pii_needs)
                c->pii_needs = v;
        return 0;
}

int cfg_set_name(struct ctx *c, struct model_set *set, const yaml_node_t *key, bool native, const char *what,
                 const char *lead) {
        int r;

        set->key = key;
        set->native = native;
        r = cfg_get_name(c, key, what, NAME_MODEL, &set->m.name);
        if (r < 0)
                return r;
        for (size_t k = 0; k + 1 < c->n_sets; k++)
                if (strcmp(c->sets[k].m.name, set->m.name) == 0)
                        return cfg_errf(c, key, "%s model '%s' given twice (first at line %zu)", lead, set->m.name,
                                        c->sets[k].key->start_mark.line + 1);
        return 0;
}

int cfg_parse_model_settings(struct ctx *c, const char *sect, bool native) {
        static const char *const ignored[] = {
                "param_count", "batch_size", "context_size", "pricing", "loras", "description", NULL,
        };
        const yaml_node_t *v = cfg_root_get(c, sect);
        yaml_node_pair_t *pairs;
        size_t n, i;
        int r;

        if (!v)
                return 0;
        r = cfg_map_pairs(c, v, sect, &pairs, &n);
        if (r < 0)
                return r;
        if (n > SY_CFG_MAX_MODELS)
                return cfg_errf(c, v, "%s: more than %d models", sect, SY_CFG_MAX_MODELS);
        for (i = 0; i < n; i++) {
                const yaml_node_t *key = node_at(c, pairs[i].key);
                const yaml_node_t *val = node_at(c, pairs[i].value), *sk, *sv;
                struct cfg_pairs it;
                struct model_set *set;
                char what[SY_CFG_NAME_MAX + 48], fw[SY_CFG_NAME_MAX + 48 + 72 + 2], b[72];

                r = new_set(c, &set);
                if (r < 0)
                        return r;
                snprintf(what, sizeof what, "%s key", sect);
                r = cfg_set_name(c, set, key, native, what, "settings for");
                if (r < 0)
                        return r;
                snprintf(what, sizeof what, "%s.%s", sect, set->m.name);
                r = cfg_pairs_begin(c, val, what, &it);
                while (r >= 0 && cfg_pairs_next(c, &it, what, fw, sizeof fw, &sk, &sv)) {
                        if (scalar_is(sk, "preferred_endpoints"))
                                r = parse_preferred(c, sv, fw, set);
                        else if (scalar_is(sk, "reasoning_family"))
                                r = cfg_get_name(c, sv, fw, NAME_MODEL, &set->m.reasoning_family);
                        else if (scalar_is(sk, "default_engine"))
                                r = cfg_get_name(c, sv, fw, NAME_ENGINE, &set->m.default_engine);
                        else if (scalar_is(sk, "pii_policy"))
                                r = parse_pii_policy(c, sv, fw, &set->m.pii_policy);
                        else if (scalar_is(sk, "allow_by_default") || scalar_is(sk, "pii_types_allowed"))
                                r = cfg_errf(c, sk,
                                             "%s: '%s' belongs inside pii_policy: (%s.pii_policy.%s); "
                                             "here it would not be enforced",
                                             what, cfg_show(sk, b), what, cfg_show(sk, b));
                        else if (native)
                                r = cfg_errf(c, sk,
                                             "unknown key '%s' in %s (known: "
                                             "default_engine, reasoning_family, "
                                             "preferred_endpoints, pii_policy)",
                                             cfg_show(sk, b), what);
                        else if (!cfg_in_list(sk, ignored))
                                r = cfg_unused_key(c, sk, what);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

struct sy_model_cfg *cfg_model_by_name(struct sy_config *cfg, const char *name) {
        return CFG_FIND_NAMED(cfg->models, cfg->n_models, name);
}

int sy_config_ensure_model(struct sy_config *cfg, const char *name, struct sy_model_cfg **ret) {
        struct sy_model_cfg *v = cfg_model_by_name(cfg, name);

        if (!v) {
                if (cfg->n_models >= SY_CFG_MAX_MODELS)
                        return -E2BIG;
                v = CFG_APPEND(cfg->models, cfg->n_models);
                if (!v)
                        return -ENOMEM;
                v->name = strdup(name);
                if (!v->name) {
                        cfg->n_models--; /* the table holds named models only */
                        return -ENOMEM;
                }
        }
        if (ret)
                *ret = v;
        return 0;
}

/* Every upstream serves something; the model table is every served model
 * in first-seen order (upstreams in file order, then their lists), with
 * the per-model settings moved in. */
int cfg_build_models(struct ctx *c) {
        struct sy_config *cfg = c->cfg;
        size_t i, j;
        int r;

        for (i = 0; i < cfg->n_upstreams; i++) {
                const struct sy_upstream_cfg *up = &cfg->upstreams[i];

                if (up->n_models == 0)
                        return cfg_errf(c, c->up_nodes[i],
                                        "upstream '%s' serves no models: list "
                                        "them in its models, or name it in a model's "
                                        "preferred_endpoints",
                                        up->name);
                for (j = 0; j < up->n_models; j++) {
                        r = sy_config_ensure_model(cfg, up->models[j], NULL);
                        if (r == -E2BIG)
                                return cfg_errf(c, c->up_nodes[i],
                                                "more than %d distinct models "
                                                "(upstream '%s')",
                                                SY_CFG_MAX_MODELS, up->name);
                        if (r < 0)
                                return r;
                }
        }
        for (i = 0; i < c->n_sets; i++) {
                struct model_set *set = &c->sets[i];
                struct sy_model_cfg *m = cfg_model_by_name(cfg, set->m.name);
                bool kept;

                if (!m && set->native && cfg->n_discovery == 0)
                        return cfg_errf(c, set->key, "models: '%s' is not served by any upstream", set->m.name);
                /* a policy is not dropped while upstreams added later (discovery, the
                 * admin API) may serve the model: it must hold then */
                kept = !set->native && set->m.pii_policy.set && (cfg->n_discovery || cfg->admin.enabled);
                if (!m && !set->native) {
                        r = cfg_warnf(c, set->key, "model_config: '%s' is not served by any endpoint%s", set->m.name,
                                      kept ? " (yet); kept for its pii_policy" : "; ignored");
                        if (r < 0)
                                return r;
                }
                if (!m && (set->native || kept)) {
                        /* discovered upstreams may serve it: kept, with no upstream yet */
                        r = sy_config_ensure_model(cfg, set->m.name, &m);
                        if (r == -E2BIG)
                                return cfg_errf(c, set->key, "more than %d distinct models", SY_CFG_MAX_MODELS);
                        if (r < 0)
                                return r;
                }
                if (!m)
                        continue; /* ignored (warned above) */
                if (set->m.default_engine) {
                        for (j = 0; j < cfg->n_upstreams; j++)
                                if (strcmp(cfg->upstreams[j].engine, set->m.default_engine) == 0 &&
                                    cfg_str_index(cfg->upstreams[j].models, cfg->upstreams[j].n_models, m->name) >= 0)
                                        break;
                        if (j == cfg->n_upstreams && cfg->n_discovery == 0)
                                return cfg_errf(c, set->key,
                                                "%s.%s: default_engine '%s': no "
                                                "upstream with that engine serves the model",
                                                set->native ? "models" : "model_config", m->name,
                                                set->m.default_engine);
                }
                m->default_engine = set->m.default_engine;
                m->reasoning_family = set->m.reasoning_family;
                m->preferred_endpoints = set->m.preferred_endpoints;
                m->n_preferred_endpoints = set->m.n_preferred_endpoints;
                m->pii_policy = set->m.pii_policy;
                set->m.default_engine = NULL;
                set->m.reasoning_family = NULL;
                set->m.preferred_endpoints = NULL;
                set->m.n_preferred_endpoints = 0;
                memset(&set->m.pii_policy, 0, sizeof set->m.pii_policy);
        }
        return 0;
}
