/* The vLLM Semantic Router's `version: v0.3` format (listeners, providers,
 * routing.{modelCards,signals,decisions}, global), read into the same
 * struct sy_config as a classic file, plus cfg->v03 (common/config_v03.h)
 * for what only v0.3 says.
 *
 * The keys the classic parsers already read with the same meaning are
 * handed to them: a synthetic top-level mapping is added to the document
 * whose values are the v0.3 nodes themselves (providers.defaults.
 * reasoning_families as reasoning_families, routing.signals.domains as
 * categories, global.router.auto_model_names as auto_aliases...), so their
 * checks and their file:line:col messages are the classic ones.
 *
 * Everything else switchyard cannot do is refused at its node with the
 * key's path and a sentence, or with --allow-unsupported is one warning
 * (and kept in full in v03->refused for `switchyard check`). A signal that
 * cannot be honoured is dropped as a whole, and so is every decision that
 * names it: nothing is half enforced. */
/* paths in messages are cut at the buffer: that is fine */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "common/config-internal.h"
#include "common/config_v03.h"
#include "common/decisions.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V03_MAX_DECISIONS 100000u
#define V03_MAX_SIGNALS 100000u
#define V03_MAX_KEYWORDS 256u /* per signal */
#define V03_MAX_DEPTH 16      /* nesting of rules */

struct v03 {
        struct ctx *c;
        struct sy_v03 *v;
        int root_id, synth_id;
        const yaml_node_t *root;
        /* names of signals dropped (unsupported): decisions naming them are dropped */
        char **dropped;
        size_t n_dropped;
        /* reliability settings that are global in switchyard: the first node */
        const yaml_node_t *set_at[8];
        /* keyword signals by name (bsearch), and their name nodes */
        uint32_t *kw_sorted;
        const yaml_node_t **kw_nodes;
};

static const struct sy_v03 *sort_v; /* qsort has no context argument */

static int kw_cmp(const void *a, const void *b) {
        return strcmp(sort_v->keywords[*(const uint32_t *)a].name, sort_v->keywords[*(const uint32_t *)b].name);
}

static int dec_cmp(const void *a, const void *b) {
        return strcmp(sort_v->decisions[*(const uint32_t *)a].name, sort_v->decisions[*(const uint32_t *)b].name);
}

/* Sorts 0..n-1 by name; the first name given twice: its index (the later
 * one in the file), else -1. */
static ssize_t sort_names(const struct sy_v03 *v, uint32_t *idx, size_t n, int (*cmp)(const void *, const void *)) {
        ssize_t dup = -1;

        for (size_t i = 0; i < n; i++)
                idx[i] = (uint32_t)i;
        sort_v = v;
        qsort(idx, n, sizeof *idx, cmp);
        for (size_t i = 1; i < n; i++)
                if (cmp(&idx[i - 1], &idx[i]) == 0) {
                        uint32_t later = idx[i] > idx[i - 1] ? idx[i] : idx[i - 1];
                        if (dup < 0 || later < (uint32_t)dup)
                                dup = later;
                }
        return dup;
}

enum { G_POLICY, G_RETRIES, G_FAILS, G_EJECT, G_HPATH, G_HINT, G_HTIMEOUT };

static const yaml_node_t *get(const yaml_node_t *m, const char *key, struct ctx *c) {
        return cfg_map_get(c, m, key);
}

static int node_id(struct ctx *c, const yaml_node_t *n) {
        return n ? (int)(n - c->doc->nodes.start) + 1 : 0;
}

/* A key switchyard cannot honour: refused, or (--allow-unsupported) one
 * warning, recorded in full in v->refused. */
static int unsupported(struct v03 *x, const yaml_node_t *n, const char *path, const char *why) {
        struct ctx *c = x->c;
        char line[1100];
        int r;

        r = cfg_unsupportedf(c, n, "%s: %s", path, why);
        if (r < 0)
                return r;
        snprintf(line, sizeof line, "%zu:%zu: %s: %s", n->start_mark.line + 1, n->start_mark.column + 1, path, why);
        return cfg_push_dup(&x->v->refused, &x->v->n_refused, line);
}

/* Sentences for the keys of the reference configuration that switchyard does not have. */
static const struct {
        const char *key, *why;
} sentences[] = {
        { "semantic_cache", "semantic cache is not supported by switchyard" },
        { "response_cache", "semantic cache is not supported by switchyard" },
        { "evaluation", "model evaluation records are not used by switchyard" },
        { "recipes", "recipes (per-entrypoint routing) are not supported by switchyard" },
        { "entrypoints", "entrypoints (per-model-name recipes) are not supported by switchyard" },
        { "embeddings", "embedding signals are not supported by switchyard" },
        { "projections", "projections (weighted signal bands) are not supported by switchyard" },
        { "model_bindings", "model bindings are not supported by switchyard" },
        { "model_catalog", "the model catalog is not used: switchyard's classifier runs its own multi-head model" },
        { "looper", "the looper (multi-model loops) is not supported by switchyard" },
        { "memory", "memory stores are not supported by switchyard" },
        { "response_api", "the Responses API store is not supported by switchyard (responses are proxied as is)" },
        { "router_replay", "router replay is not supported by switchyard" },
        { "observability", "switchyard's observability is /metrics and its log; this section is not used" },
        { "management_api", "switchyard's management API is admin: in a classic file; this section is not used" },
        { "api", "the Semantic Router's API service settings are not used by switchyard" },
        { "pricing", "pricing is not used by switchyard" },
        { "external_model_ids", "external model ids are not used by switchyard" },
        { "api_format", "switchyard speaks the OpenAI API to every backend" },
        { "catalog", "catalog-backed models are not supported: give backend_refs" },
        { "context", "context signals are not supported by switchyard yet" },
        { "structure", "structure signals are not supported by switchyard yet" },
        { "language", "language signals are not supported by switchyard yet" },
        { "complexity", "complexity signals are not supported by switchyard" },
        { "fact_check", "fact-check signals are not supported by switchyard" },
        { "user_feedbacks", "user-feedback signals are not supported by switchyard" },
        { "preferences", "preference signals are not supported by switchyard" },
        { "hallucination", "hallucination detection is not supported by switchyard" },
        { "shadow_dispatch", "shadow dispatch is not supported by switchyard" },
        { "algorithm", "model selection algorithms are not supported: switchyard takes the first model of modelRefs "
                       "that is up" },
};

static const char *why_of(const yaml_node_t *k, char *buf, size_t cap) {
        char b[72];

        for (size_t i = 0; i < sizeof sentences / sizeof sentences[0]; i++)
                if (scalar_is(k, sentences[i].key))
                        return sentences[i].why;
        snprintf(buf, cap, "'%s' is not supported by switchyard", cfg_show(k, b));
        return buf;
}

/* Walks a mapping: known keys go to fn, the others are unsupported. */
typedef int pair_fn(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *path, void *ud);

static int walk(struct v03 *x, const yaml_node_t *m, const char *path, const char *const *known, pair_fn *fn,
                void *ud) {
        yaml_node_pair_t *pairs;
        size_t n;
        int r;

        r = cfg_map_pairs(x->c, m, path, &pairs, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const yaml_node_t *k, *v;
                char fw[512], why[160];

                cfg_pair(x->c, &pairs[i], path, fw, sizeof fw, &k, &v);
                if (!*path) /* the top level: the key alone */
                        memmove(fw, fw + 1, strlen(fw));
                if (known && cfg_in_list(k, known))
                        r = fn ? fn(x, k, v, fw, ud) : 0;
                else
                        r = unsupported(x, k, fw, why_of(k, why, sizeof why));
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool is_dropped(struct v03 *x, const char *kind, const char *name) {
        char key[256];

        snprintf(key, sizeof key, "%s/%s", kind, name);
        return cfg_str_index(x->dropped, x->n_dropped, key) >= 0;
}

static int drop(struct v03 *x, const char *kind, const char *name) {
        char key[256];

        snprintf(key, sizeof key, "%s/%s", kind, name);
        return cfg_push_dup(&x->dropped, &x->n_dropped, key);
}

/* ---- listeners ----------------------------------------------------------- */

static int listener_key(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *fw, void *ud) {
        struct ctx *c = x->c;
        struct sy_config *cfg = c->cfg;
        uint64_t u;
        int r;

        (void)ud;
        if (scalar_is(k, "name"))
                return cfg_get_name(c, v, fw, NAME_MODEL, &x->v->listener_name);
        if (scalar_is(k, "address"))
                return cfg_get_host(c, v, fw, &cfg->server.host);
        if (scalar_is(k, "port")) {
                r = cfg_get_uint(c, v, fw, 1, 65535, &u);
                cfg->server.port = (uint16_t)u;
                return r;
        }
        if (scalar_is(k, "timeout")) {
                r = cfg_get_duration(c, v, fw, NS_PER_MS, 1, MS_DAY, &u);
                cfg->proxy.first_byte_timeout_ms = cfg->proxy.idle_timeout_ms = (unsigned)u;
                return r;
        }
        /* api_keys: bearer credentials that would not be checked */
        if (v->type == YAML_SEQUENCE_NODE && v->data.sequence.items.top == v->data.sequence.items.start)
                return 0;
        return cfg_errf(c, k,
                        "%s: listener API keys are not checked by switchyard's v0.3 reader; they would not be "
                        "enforced, so they are refused (use a classic file's auth.api_keys)",
                        fw);
}

static int parse_listeners(struct v03 *x) {
        static const char *const known[] = { "name", "address", "port", "timeout", "api_keys", NULL };
        struct ctx *c = x->c;
        const yaml_node_t *l = get(x->root, "listeners", c);
        yaml_node_item_t *items;
        size_t n;
        int r;

        if (!l)
                return 0;
        r = cfg_seq_items(c, l, "listeners", &items, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char path[64];

                snprintf(path, sizeof path, "listeners[%zu]", i);
                if (i > 0)
                        return unsupported(x, node_at(c, items[i]), path,
                                           "switchyard serves one listener (the first); a second one is not "
                                           "supported");
                r = walk(x, node_at(c, items[i]), path, known, listener_key, NULL);
        }
        return r;
}

/* ---- providers ------------------------------------------------------------ */

/* A reliability setting is global in switchyard: every model must agree. */
static int global_setting(struct v03 *x, int slot, const yaml_node_t *v, const char *fw, bool same) {
        if (x->set_at[slot] && !same)
                return cfg_errf(x->c, v,
                                "%s: switchyard applies this to every upstream, and line %zu gives another value "
                                "for another model",
                                fw, x->set_at[slot]->start_mark.line + 1);
        x->set_at[slot] = v;
        return 0;
}

static int reliability_key(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *fw, void *ud) {
        static const struct {
                const char *key;
                int slot;
                bool ms; /* a duration, else a count */
                uint64_t min, max;
                size_t off; /* of the unsigned in struct sy_config */
        } nums[] = {
                { "retry_count", G_RETRIES, false, 0, 10, offsetof(struct sy_config, proxy.max_retries) },
                { "consecutive_5xx", G_FAILS, false, 1, 1000, offsetof(struct sy_config, router.passive_failures) },
                { "base_ejection_time", G_EJECT, true, 1, MS_HOUR, offsetof(struct sy_config, router.ejection_ms) },
                { "health_check_interval", G_HINT, true, 10, MS_HOUR, offsetof(struct sy_config, health.interval_ms) },
                /* the last: any other key walk() let through */
                { "health_check_timeout", G_HTIMEOUT, true, 1, 60000, offsetof(struct sy_config, health.timeout_ms) },
        };
        struct ctx *c = x->c;
        struct sy_config *cfg = c->cfg;
        unsigned *field;
        size_t i = 0;
        uint64_t u;
        int r;

        (void)ud;
        if (scalar_is(k, "lb_policy")) {
                char b[72];
                const char *p = scalar_is(v, "least_request") ? "least_request"
                                : scalar_is(v, "round_robin") ? "round_robin"
                                                              : NULL;
                if (!p)
                        return cfg_errf(c, v, "%s: expected least_request or round_robin, got %s%s%s", fw, Q(v),
                                        SHOW(v, b), Q(v));
                r = global_setting(x, G_POLICY, v, fw, x->set_at[G_POLICY] && !strcmp(cfg->router.policy, p));
                if (r < 0)
                        return r;
                free(cfg->router.policy);
                cfg->router.policy = strdup(p);
                return cfg->router.policy ? 0 : -ENOMEM;
        }
        if (scalar_is(k, "health_check_path")) {
                char *p = NULL;
                r = cfg_get_str(c, v, fw, CFG_PATH_MAX, &p);
                if (r < 0)
                        return r;
                if (p[0] != '/') {
                        free(p);
                        return cfg_errf(c, v, "%s: expected a path starting with '/'", fw);
                }
                r = global_setting(x, G_HPATH, v, fw, x->set_at[G_HPATH] && !strcmp(cfg->health.path, p));
                free(cfg->health.path);
                cfg->health.path = p;
                return r;
        }
        while (i + 1 < sizeof nums / sizeof *nums && !scalar_is(k, nums[i].key))
                i++;
        field = (unsigned *)((char *)cfg + nums[i].off);
        r = nums[i].ms ? cfg_get_duration(c, v, fw, NS_PER_MS, nums[i].min, nums[i].max, &u)
                       : cfg_get_uint(c, v, fw, nums[i].min, nums[i].max, &u);
        if (r >= 0)
                r = global_setting(x, nums[i].slot, v, fw, *field == u);
        *field = (unsigned)u;
        return r;
}

struct backend {
        struct sy_upstream_cfg up; /* moved into cfg->upstreams by add_backend */
        const yaml_node_t *node;
        bool skip; /* refused with --allow-unsupported: not made */
};

/* endpoint host:port, or base_url http(s)://host[:port][/ or /v1] */
static int backend_address(struct v03 *x, const yaml_node_t *v, const char *fw, struct backend *b, bool url) {
        struct ctx *c = x->c;
        const char *s, *end, *host, *path = NULL;
        size_t hl;
        uint16_t port = 0;
        char sb[72];

        if (v->type != YAML_SCALAR_NODE || is_null(v))
                return cfg_errf(c, v, "%s: expected %s, got %s", fw, url ? "a URL" : "host:port", cfg_kind_of(v));
        s = sval(v);
        end = s + slen(v);
        if (url) {
                bool https = slen(v) > 8 && !strncasecmp(s, "https://", 8);

                if (!https && (slen(v) < 8 || strncasecmp(s, "http://", 7) != 0))
                        return cfg_errf(c, v, "%s: expected http(s)://host[:port][/v1], got %s%s%s", fw, Q(v),
                                        SHOW(v, sb), Q(v));
                s += https ? 8 : 7;
                port = https ? 443 : 80;
                b->up.tls |= https;
                path = memchr(s, '/', (size_t)(end - s));
                if (path && !text_is(path, (size_t)(end - path), "/") && !text_is(path, (size_t)(end - path), "/v1") &&
                    !text_is(path, (size_t)(end - path), "/v1/"))
                        return cfg_errf(c, v,
                                        "%s: a base_url path other than /v1 is not supported (switchyard sends the "
                                        "client's /v1/... path)",
                                        fw);
        }
        if (cfg_url_host_port(s, path ? path : end, &host, &hl, &port) != URL_OK || !port ||
            (!url && end > s && end[-1] == '/'))
                return cfg_errf(c, v, "%s: expected %s, got %s%s%s", fw,
                                url ? "http(s)://host[:port][/v1]" : "host:port", Q(v), SHOW(v, sb), Q(v));
        return cfg_set_host_port(host, hl, port, &b->up.host, &b->up.port);
}

static int backend_key(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *fw, void *ud) {
        struct ctx *c = x->c;
        struct backend *b = ud;
        char sb[72];
        uint64_t u;
        int r;

        if (scalar_is(k, "name"))
                return cfg_get_name(c, v, fw, NAME_MODEL, &b->up.name);
        if (scalar_is(k, "weight")) {
                r = cfg_get_uint(c, v, fw, 0, CFG_WEIGHT_MAX, &u);
                b->up.weight = (uint32_t)u;
                return r;
        }
        if (scalar_is(k, "provider"))
                return 0; /* informational: vllm, openai, ... */
        if (scalar_is(k, "protocol")) {
                if (!scalar_is(v, "http") && !scalar_is(v, "https"))
                        return cfg_errf(c, v, "%s: expected http or https, got %s%s%s", fw, Q(v), SHOW(v, sb), Q(v));
                b->up.tls |= scalar_is(v, "https");
                return 0;
        }
        if (scalar_is(k, "endpoint") || scalar_is(k, "base_url"))
                return backend_address(x, v, fw, b, scalar_is(k, "base_url"));
        if (scalar_is(k, "chat_path") && scalar_is(v, "/chat/completions"))
                return 0; /* what the client's /v1/chat/completions becomes anyway */
        if (scalar_is(k, "api_key"))
                return unsupported(x, k, fw,
                                   "an API key written in the file is not read (a secret in the configuration): "
                                   "give api_key_env");
        /* api_key_env, auth_header, auth_prefix, extra_headers: the TLS
         * upstreams' provider keys, same names (common/config_tls.c) */
        r = cfg_upstream_tls_key(c, k, v, fw, &b->up);
        if (r > 0 && scalar_is(k, "auth_prefix") && b->up.auth_prefix && b->up.auth_prefix[0] &&
            b->up.auth_prefix[strlen(b->up.auth_prefix) - 1] != ' ') {
                /* vSR's "Bearer" is "Bearer <key>" */
                size_t n = strlen(b->up.auth_prefix);
                char *p = realloc(b->up.auth_prefix, n + 2);
                if (!p)
                        return -ENOMEM;
                p[n] = ' ';
                p[n + 1] = 0;
                b->up.auth_prefix = p;
        }
        if (r != 0)
                return r < 0 ? r : 0;
        return unsupported(x, k, fw, "other API paths and versions are not used by switchyard");
}

static struct sy_upstream_cfg *find_upstream(struct sy_config *cfg, const char *name) {
        for (size_t i = 0; i < cfg->n_upstreams; i++)
                if (!strcmp(cfg->upstreams[i].name, name))
                        return &cfg->upstreams[i];
        return NULL;
}

/* The backend as an upstream serving model (one upstream per distinct
 * name; the same name twice must be the same endpoint). */
static int add_backend(struct v03 *x, struct backend *b, const char *model, size_t idx) {
        struct ctx *c = x->c;
        struct sy_config *cfg = c->cfg;
        struct sy_upstream_cfg *u;
        char name[SY_CFG_NAME_MAX + 16];

        if (!b->up.name) {
                snprintf(name, sizeof name, "%s-%zu", model, idx);
                b->up.name = strdup(name);
                if (!b->up.name)
                        return -ENOMEM;
        }
        u = find_upstream(cfg, b->up.name);
        if (u && (strcmp(u->host, b->up.host) || u->port != b->up.port || u->tls != b->up.tls))
                return cfg_errf(c, b->node, "backend_refs: '%s' names another endpoint than at line %u", b->up.name,
                                u->line);
        if (!u) {
                if (cfg->n_upstreams >= SY_CFG_MAX_UPSTREAMS)
                        return cfg_errf(c, b->node, "more than %d upstreams", SY_CFG_MAX_UPSTREAMS);
                u = CFG_APPEND(cfg->upstreams, cfg->n_upstreams);
                if (!u)
                        return -ENOMEM;
                c->up_nodes[cfg->n_upstreams - 1] = b->node;
                *u = b->up;
                memset(&b->up, 0, sizeof b->up);
                u->engine = strdup("vllm");
                u->kind = SY_UPSTREAM_SERVER;
                u->line = (unsigned)b->node->start_mark.line + 1;
                if (!u->engine)
                        return -ENOMEM;
        }
        if (cfg_str_index(u->models, u->n_models, model) >= 0)
                return 0;
        return cfg_push_dup(&u->models, &u->n_models, model);
}

struct pmodel {
        struct model_set *set;
        struct sy_v03_model *vm;
        const yaml_node_t *refs;
        bool has_catalog;
};

static int model_key(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *fw, void *ud) {
        static const char *const rel_known[] = {
                "lb_policy",         "retry_count",           "consecutive_5xx",      "base_ejection_time",
                "health_check_path", "health_check_interval", "health_check_timeout", NULL
        };
        struct ctx *c = x->c;
        struct pmodel *pm = ud;

        if (scalar_is(k, "name"))
                return 0; /* read first */
        if (scalar_is(k, "provider_model_id"))
                return cfg_get_name(c, v, fw, NAME_MODEL, &pm->vm->provider_model_id);
        if (scalar_is(k, "reasoning_family"))
                return cfg_get_name(c, v, fw, NAME_MODEL, &pm->set->m.reasoning_family);
        if (scalar_is(k, "reasoning")) {
                const yaml_node_t *f = get(v, "family", c);
                yaml_node_pair_t *pairs;
                size_t n;
                int r = cfg_map_pairs(c, v, fw, &pairs, &n);

                if (r < 0)
                        return r;
                if (f && n == 1)
                        return cfg_get_name(c, f, fw, NAME_MODEL, &pm->set->m.reasoning_family);
                return unsupported(x, v, fw,
                                   "an inline reasoning definition is not supported: name a family "
                                   "(reasoning: {family: NAME}) of providers.defaults.reasoning_families");
        }
        if (scalar_is(k, "backend_refs")) {
                pm->refs = v;
                return 0;
        }
        if (scalar_is(k, "reliability"))
                return walk(x, v, fw, rel_known, reliability_key, NULL);
        return 0;
}

static int parse_model(struct v03 *x, const yaml_node_t *item, const char *path) {
        static const char *const known[] = { "name",      "provider_model_id", "reasoning_family",
                                             "reasoning", "backend_refs",      "reliability",
                                             NULL };
        static const char *const ref_known[] = {
                "name",        "endpoint",    "base_url",    "protocol",    "weight",        "provider",
                "api_key",     "api_key_env", "auth_header", "auth_prefix", "extra_headers", "chat_path",
                "api_version", "ca_file",     "sni",         NULL
        }; /* the last two: switchyard's */
        struct ctx *c = x->c;
        const yaml_node_t *nn = get(item, "name", c);
        struct pmodel pm = { 0 };
        struct model_set *set;
        yaml_node_item_t *items;
        size_t n, made = 0;
        char fw[512], lead[514];
        int r;

        if (!nn)
                return cfg_errf(c, item, "%s: missing name", path);
        set = CFG_APPEND(c->sets, c->n_sets);
        pm.vm = CFG_APPEND(x->v->models, x->v->n_models);
        if (!set || !pm.vm)
                return -ENOMEM;
        pm.set = set;
        snprintf(fw, sizeof fw, "%s.name", path);
        snprintf(lead, sizeof lead, "%s:", fw);
        r = cfg_set_name(c, set, nn, true, fw, lead);
        if (r < 0)
                return r;
        pm.vm->name = strdup(set->m.name);
        if (!pm.vm->name)
                return -ENOMEM;
        r = walk(x, item, path, known, model_key, &pm);
        if (r < 0)
                return r;
        if (!pm.refs && get(item, "catalog", c))
                made = 0; /* refused above (--allow-unsupported): not served */
        else if (!pm.refs)
                return cfg_errf(c, item, "%s: model '%s' has no backend_refs", path, set->m.name);
        else
                r = 1;
        if (r == 1) {
                snprintf(fw, sizeof fw, "%s.backend_refs", path);
                r = cfg_seq_items(c, pm.refs, fw, &items, &n);
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        struct backend b = { .up = { .weight = 1 }, .node = node_at(c, items[i]) };
                        char bp[512];

                        snprintf(bp, sizeof bp, "%s.backend_refs[%zu]", path, i);
                        cfg_upstream_tls_begin(c);
                        r = walk(x, b.node, bp, ref_known, backend_key, &b);
                        if (r >= 0 && !b.up.host)
                                r = cfg_errf(c, b.node, "%s: give endpoint (host:port) or base_url", bp);
                        if (r >= 0)
                                r = cfg_upstream_tls_finish(c, bp, &b.up);
                        if (r >= 0 && !b.skip) {
                                r = add_backend(x, &b, set->m.name, i);
                                made++;
                        }
                        sy_config_upstream_free(&b.up);
                }
        }
        if (r < 0)
                return r;
        if (made == 0) {
                /* every backend refused (--allow-unsupported): the model is not served */
                r = cfg_warnf(c, item, "%s: model '%s' has no backend switchyard can use; it is not served", path,
                              set->m.name);
                sy_config_model_free(&set->m);
                c->n_sets--;
                free(pm.vm->name);
                free(pm.vm->provider_model_id);
                x->v->n_models--;
        }
        return r;
}

static int defaults_key(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *fw, void *ud) {
        (void)x, (void)k, (void)v, (void)fw, (void)ud;
        return 0; /* read by the classic parsers through the synthetic root */
}

static int parse_providers(struct v03 *x) {
        static const char *const known[] = { "defaults", "models", NULL };
        static const char *const def_known[] = {
                "default_model", "model", "default_reasoning_effort", "reasoning_effort", "reasoning_families", NULL
        };
        struct ctx *c = x->c;
        const yaml_node_t *p = get(x->root, "providers", c), *d, *m;
        yaml_node_item_t *items;
        size_t n;
        int r;

        if (!p)
                return cfg_errf(c, x->root, "a v0.3 file needs providers.models (the models and their backends)");
        r = walk(x, p, "providers", known, NULL, NULL);
        if (r < 0)
                return r;
        if ((d = get(p, "defaults", c)) != NULL &&
            (r = walk(x, d, "providers.defaults", def_known, defaults_key, NULL)) < 0)
                return r;
        if (d && get(d, "default_model", c) && get(d, "model", c))
                return cfg_errf(c, get(d, "model", c), "providers.defaults: give default_model or model, not both");
        m = get(p, "models", c);
        if (!m)
                return cfg_errf(c, p, "providers: missing models");
        r = cfg_seq_items(c, m, "providers.models", &items, &n);
        if (r >= 0 && n > SY_CFG_MAX_MODELS)
                return cfg_errf(c, m, "providers.models: more than %d models", SY_CFG_MAX_MODELS);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char path[64];

                snprintf(path, sizeof path, "providers.models[%zu]", i);
                r = parse_model(x, node_at(c, items[i]), path);
        }
        return r;
}

/* ---- routing.modelCards ----------------------------------------------------- */

static int card_key(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *fw, void *ud) {
        struct sy_v03_model *vm = ud;

        if (!scalar_is(k, "context_window_size"))
                return 0; /* descriptive: display_name, description, tags, ... */
        return cfg_get_size(x->c, v, fw, 1, 1ull << 40, &vm->context_window);
}

static int parse_cards(struct v03 *x, const yaml_node_t *cards) {
        struct ctx *c = x->c;
        yaml_node_item_t *items;
        size_t n;
        int r = cfg_seq_items(c, cards, "routing.modelCards", &items, &n);

        for (size_t i = 0; r >= 0 && i < n; i++) {
                const yaml_node_t *it = node_at(c, items[i]), *nn = get(it, "name", c);
                struct sy_v03_model *vm = NULL;
                yaml_node_pair_t *pairs;
                size_t np;
                char path[64];

                snprintf(path, sizeof path, "routing.modelCards[%zu]", i);
                if (!nn || nn->type != YAML_SCALAR_NODE)
                        return cfg_errf(c, it, "%s: missing name", path);
                for (size_t j = 0; j < x->v->n_models; j++)
                        if (text_is(sval(nn), slen(nn), x->v->models[j].name))
                                vm = &x->v->models[j];
                if (!vm) {
                        r = cfg_warnf(c, nn, "%s: no model of providers.models is named so; the card is not used",
                                      path);
                        continue;
                }
                r = cfg_map_pairs(c, it, path, &pairs, &np);
                for (size_t j = 0; r >= 0 && j < np; j++) {
                        const yaml_node_t *k, *v;
                        char fw[512];

                        cfg_pair(c, &pairs[j], path, fw, sizeof fw, &k, &v);
                        r = card_key(x, k, v, fw, vm);
                }
        }
        return r;
}

/* ---- routing.signals -------------------------------------------------------- */

/* the signal lists, their names, "" for the ones handed elsewhere */
static int signal_name(struct v03 *x, const yaml_node_t *it, const char *path, char **ret) {
        const yaml_node_t *nn = get(it, "name", x->c);
        char fw[512];

        if (!nn)
                return cfg_errf(x->c, it, "%s: missing name", path);
        snprintf(fw, sizeof fw, "%s.name", path);
        return cfg_get_name(x->c, nn, fw, NAME_CATEGORY, ret);
}

static int str_list(struct ctx *c, const yaml_node_t *v, const char *fw, size_t max, bool upper, char ***arr,
                    size_t *n_arr) {
        yaml_node_item_t *items;
        size_t n;
        int r = cfg_seq_items(c, v, fw, &items, &n);

        if (r >= 0 && n > max)
                return cfg_errf(c, v, "%s: more than %zu entries", fw, max);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                char *s = NULL;

                r = cfg_get_str(c, node_at(c, items[i]), fw, 1024, &s);
                if (r < 0)
                        break;
                if (!*s) {
                        free(s);
                        return cfg_errf(c, node_at(c, items[i]), "%s: an empty string", fw);
                }
                for (char *p = s; upper && *p; p++)
                        *p = (char)toupper((unsigned char)*p);
                r = cfg_push_str(arr, n_arr, s);
        }
        return r;
}

static int kw_key(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *fw, void *ud) {
        struct ctx *c = x->c;
        struct sy_kw_signal *s = ud;
        char b[72];

        if (scalar_is(k, "name") || scalar_is(k, "description"))
                return 0;
        if (scalar_is(k, "operator")) {
                if (scalar_is(v, "OR") || scalar_is(v, "or"))
                        s->op = SY_KW_OR;
                else if (scalar_is(v, "AND") || scalar_is(v, "and"))
                        s->op = SY_KW_AND;
                else if (scalar_is(v, "NOR") || scalar_is(v, "nor"))
                        s->op = SY_KW_NOR;
                else
                        return cfg_errf(c, v, "%s: expected AND, OR or NOR, got %s%s%s", fw, Q(v), SHOW(v, b), Q(v));
                return 0;
        }
        if (scalar_is(k, "case_sensitive"))
                return cfg_get_bool(c, v, fw, &s->case_sensitive);
        if (scalar_is(k, "keywords"))
                return str_list(c, v, fw, V03_MAX_KEYWORDS, false, &s->keywords, &s->n_keywords);
        /* method */
        if (scalar_is(v, "regex")) {
                s->regex = true;
                return 0;
        }
        if (scalar_is(v, "exact") || scalar_is(v, "keyword"))
                return 0;
        return 1; /* bm25, ngram, fuzzy, ...: the signal is dropped */
}

static int parse_keywords(struct v03 *x, const yaml_node_t *list) {
        static const char *const known[] = { "name",     "description", "operator", "case_sensitive",
                                             "keywords", "method",      NULL };
        struct ctx *c = x->c;
        struct sy_v03 *v = x->v;
        yaml_node_item_t *items;
        size_t n;
        int r = cfg_seq_items(c, list, "routing.signals.keywords", &items, &n);

        if (r >= 0 && n > V03_MAX_SIGNALS)
                return cfg_errf(c, list, "routing.signals.keywords: more than %u signals", V03_MAX_SIGNALS);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const yaml_node_t *it = node_at(c, items[i]);
                struct sy_kw_signal *s = CFG_APPEND(v->keywords, v->n_keywords);
                yaml_node_pair_t *pairs;
                size_t np;
                char path[64];
                bool bad = false;

                if (!s)
                        return -ENOMEM;
                snprintf(path, sizeof path, "routing.signals.keywords[%zu]", i);
                s->line = (unsigned)it->start_mark.line + 1;
                r = signal_name(x, it, path, &s->name);
                if (r < 0)
                        return r;
                r = cfg_map_pairs(c, it, path, &pairs, &np);
                for (size_t j = 0; r >= 0 && j < np; j++) {
                        const yaml_node_t *k, *val;
                        char fw[512], why[160];

                        cfg_pair(c, &pairs[j], path, fw, sizeof fw, &k, &val);
                        if (!cfg_in_list(k, known)) {
                                r = unsupported(x, k, fw, why_of(k, why, sizeof why));
                                bad = true;
                                continue;
                        }
                        r = kw_key(x, k, val, fw, s);
                        if (r == 1) {
                                snprintf(why, sizeof why,
                                         "keyword method '%s' is not supported (exact and regex are); the "
                                         "signal and the decisions naming it are dropped",
                                         sval(val));
                                r = unsupported(x, val, fw, why);
                                bad = true;
                        }
                }
                if (r < 0)
                        return r;
                if (!bad && s->n_keywords == 0)
                        return cfg_errf(c, it, "%s: no keywords", path);
                if (!bad && s->regex) {
                        s->re = calloc(s->n_keywords, sizeof *s->re);
                        if (!s->re)
                                return -ENOMEM;
                        for (size_t j = 0; j < s->n_keywords; j++) {
                                int e = regcomp(&s->re[j], s->keywords[j],
                                                REG_EXTENDED | REG_NOSUB | (s->case_sensitive ? 0 : REG_ICASE));
                                if (e) {
                                        char eb[128];
                                        regerror(e, &s->re[j], eb, sizeof eb);
                                        for (size_t q = 0; q < j; q++)
                                                regfree(&s->re[q]);
                                        free(s->re);
                                        s->re = NULL;
                                        return cfg_errf(c, it, "%s: keyword '%s': not a POSIX extended regex: %s", path,
                                                        s->keywords[j], eb);
                                }
                        }
                }
                if (!bad) {
                        const yaml_node_t **nodes = realloc(x->kw_nodes, v->n_keywords * sizeof *nodes);
                        if (!nodes)
                                return -ENOMEM;
                        x->kw_nodes = nodes;
                        nodes[v->n_keywords - 1] = it;
                }
                if (bad) {
                        r = drop(x, "keyword", s->name);
                        /* the slot is kept out of the table */
                        free(s->name);
                        cfg_free_strv(s->keywords, s->n_keywords);
                        v->n_keywords--;
                }
        }
        return r;
}

static int parse_domains(struct v03 *x, const yaml_node_t *list) {
        struct ctx *c = x->c;
        struct sy_v03 *v = x->v;
        yaml_node_item_t *items;
        size_t n;
        int r = cfg_seq_items(c, list, "routing.signals.domains", &items, &n);

        for (size_t i = 0; r >= 0 && i < n; i++) {
                const yaml_node_t *it = node_at(c, items[i]), *mm = get(it, "mmlu_categories", c);
                struct sy_domain_signal *d = CFG_APPEND(v->domains, v->n_domains);
                char path[64];

                if (!d)
                        return -ENOMEM;
                snprintf(path, sizeof path, "routing.signals.domains[%zu]", i);
                d->line = (unsigned)it->start_mark.line + 1;
                r = signal_name(x, it, path, &d->name);
                if (r >= 0 && mm)
                        r = str_list(c, mm, path, 64, false, &d->categories, &d->n_categories);
                if (r >= 0 && d->n_categories == 0)
                        r = cfg_push_dup(&d->categories, &d->n_categories, d->name);
        }
        return r;
}

static int guard_signal_key(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *fw, double *th,
                            bool *hist) {
        if (scalar_is(k, "name") || scalar_is(k, "description"))
                return 0;
        if (scalar_is(k, "threshold"))
                return cfg_get_double(x->c, v, fw, 0.0, 1.0, th);
        if (scalar_is(k, "include_history"))
                return cfg_get_bool(x->c, v, fw, hist);
        if (scalar_is(k, "method") && scalar_is(v, "classifier"))
                return 0;
        return 1;
}

/* jailbreak[] and pii[]: a key not understood drops the signal (and the
 * decisions naming it): a guard is enforced as written or not at all */
static int parse_guard_signals(struct v03 *x, const yaml_node_t *list, bool pii) {
        struct ctx *c = x->c;
        struct sy_v03 *v = x->v;
        const char *what = pii ? "routing.signals.pii" : "routing.signals.jailbreak";
        yaml_node_item_t *items;
        size_t n;
        int r = cfg_seq_items(c, list, what, &items, &n);

        for (size_t i = 0; r >= 0 && i < n; i++) {
                const yaml_node_t *it = node_at(c, items[i]);
                yaml_node_pair_t *pairs;
                size_t np;
                char path[64], *name = NULL, **allowed = NULL;
                size_t n_allowed = 0;
                double th = pii ? 0.5 : 0.7;
                bool hist = false, bad = false;

                snprintf(path, sizeof path, "%s[%zu]", what, i);
                r = signal_name(x, it, path, &name);
                if (r >= 0)
                        r = cfg_map_pairs(c, it, path, &pairs, &np);
                for (size_t j = 0; r >= 0 && j < np; j++) {
                        const yaml_node_t *k, *val;
                        char fw[512], why[200];

                        cfg_pair(c, &pairs[j], path, fw, sizeof fw, &k, &val);
                        if (pii && scalar_is(k, "pii_types_allowed")) {
                                r = str_list(c, val, fw, 64, true, &allowed, &n_allowed);
                                continue;
                        }
                        r = guard_signal_key(x, k, val, fw, &th, &hist);
                        if (r == 1) {
                                char b[72];
                                snprintf(why, sizeof why,
                                         "'%s' is not supported (switchyard's %s signal is its classifier head "
                                         "with threshold and include_history); the signal and the decisions "
                                         "naming it are dropped",
                                         cfg_show(k, b), pii ? "pii" : "jailbreak");
                                r = unsupported(x, k, fw, why);
                                bad = true;
                        }
                }
                if (r >= 0 && bad)
                        r = drop(x, pii ? "pii" : "jailbreak", name);
                if (r >= 0 && !bad && pii) {
                        struct sy_pii_signal *s = CFG_APPEND(v->piis, v->n_piis);
                        if (!s) {
                                r = -ENOMEM;
                        } else {
                                *s = (struct sy_pii_signal){ name,    th,        hist,
                                                             allowed, n_allowed, (unsigned)it->start_mark.line + 1 };
                                name = NULL;
                                allowed = NULL;
                                n_allowed = 0;
                        }
                } else if (r >= 0 && !bad) {
                        struct sy_jb_signal *s = CFG_APPEND(v->jailbreaks, v->n_jailbreaks);
                        if (!s) {
                                r = -ENOMEM;
                        } else {
                                *s = (struct sy_jb_signal){ name, th, hist, (unsigned)it->start_mark.line + 1 };
                                name = NULL;
                        }
                }
                free(name);
                cfg_free_strv(allowed, n_allowed);
        }
        return r;
}

static int index_keywords(struct v03 *x) {
        struct sy_v03 *v = x->v;
        ssize_t dup;

        free(x->kw_sorted);
        x->kw_sorted = calloc(v->n_keywords ? v->n_keywords : 1, sizeof *x->kw_sorted);
        if (!x->kw_sorted)
                return -ENOMEM;
        dup = sort_names(v, x->kw_sorted, v->n_keywords, kw_cmp);
        if (dup >= 0)
                return cfg_errf(x->c, x->kw_nodes[dup], "routing.signals.keywords: signal '%s' defined twice",
                                v->keywords[dup].name);
        return 0;
}

static int signals_key(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *fw, void *ud) {
        (void)fw, (void)ud;
        if (scalar_is(k, "keywords"))
                return parse_keywords(x, v);
        if (scalar_is(k, "domains"))
                return parse_domains(x, v);
        if (scalar_is(k, "jailbreak"))
                return parse_guard_signals(x, v, false);
        return parse_guard_signals(x, v, true);
}

/* the names of an unsupported signal list: decisions naming them are dropped */
static int drop_list(struct v03 *x, const yaml_node_t *k, const yaml_node_t *list) {
        yaml_node_item_t *items;
        size_t n;
        char kind[72];
        int r;

        if (list->type != YAML_SEQUENCE_NODE)
                return 0;
        cfg_show(k, kind);
        /* the condition type is the list's name less a plural s */
        if (strlen(kind) > 1 && kind[strlen(kind) - 1] == 's' && strcmp(kind, "fact_check"))
                kind[strlen(kind) - 1] = 0;
        r = cfg_seq_items(x->c, list, kind, &items, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const yaml_node_t *nn = get(node_at(x->c, items[i]), "name", x->c);
                char b[72];

                if (nn && nn->type == YAML_SCALAR_NODE)
                        r = drop(x, kind, cfg_show(nn, b));
        }
        return r;
}

/* ---- routing.decisions ------------------------------------------------------ */

static ssize_t find_signal(struct v03 *x, enum sy_rule_kind kind, const yaml_node_t *nn) {
        struct sy_v03 *v = x->v;
        size_t n = kind == SY_RULE_DOMAIN      ? v->n_domains
                   : kind == SY_RULE_KEYWORD   ? v->n_keywords
                   : kind == SY_RULE_JAILBREAK ? v->n_jailbreaks
                                               : v->n_piis;

        if (kind == SY_RULE_KEYWORD) {
                size_t lo = 0, hi = n;
                while (lo < hi) {
                        size_t mid = (lo + hi) / 2;
                        const char *name = v->keywords[x->kw_sorted[mid]].name;
                        size_t nl = strlen(name), m = nl < slen(nn) ? nl : slen(nn);
                        int cmp = memcmp(name, sval(nn), m);
                        if (cmp == 0)
                                cmp = nl < slen(nn) ? -1 : nl > slen(nn);
                        if (cmp == 0)
                                return x->kw_sorted[mid];
                        if (cmp < 0)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                return -1;
        }
        for (size_t i = 0; i < n; i++) {
                const char *name = kind == SY_RULE_DOMAIN      ? v->domains[i].name
                                   : kind == SY_RULE_KEYWORD   ? v->keywords[i].name
                                   : kind == SY_RULE_JAILBREAK ? v->jailbreaks[i].name
                                                               : v->piis[i].name;
                if (text_is(sval(nn), slen(nn), name))
                        return (ssize_t)i;
        }
        return -1;
}

static int new_rule(struct sy_v03 *v, uint8_t kind, uint32_t arg, uint32_t n, uint32_t *ret) {
        struct sy_rule *r = CFG_APPEND(v->rules, v->n_rules);

        if (!r)
                return -ENOMEM;
        *r = (struct sy_rule){ kind, arg, n };
        *ret = (uint32_t)(v->n_rules - 1);
        return 0;
}

/* 1: the decision is dropped (a condition on something unsupported) */
static int parse_rule(struct v03 *x, const yaml_node_t *n, const char *path, unsigned depth, uint32_t *ret) {
        static const struct {
                const char *type;
                enum sy_rule_kind kind;
        } types[] = { { "domain", SY_RULE_DOMAIN },
                      { "keyword", SY_RULE_KEYWORD },
                      { "jailbreak", SY_RULE_JAILBREAK },
                      { "pii", SY_RULE_PII } };
        struct ctx *c = x->c;
        struct sy_v03 *v = x->v;
        const yaml_node_t *op = get(n, "operator", c), *conds = get(n, "conditions", c), *t = get(n, "type", c);
        const yaml_node_t *nn = get(n, "name", c);
        char b[72], b2[72], why[300];

        if (depth > V03_MAX_DEPTH)
                return cfg_errf(c, n, "%s: rules nested deeper than %u", path, V03_MAX_DEPTH);
        if (n->type != YAML_MAPPING_NODE)
                return cfg_errf(c, n, "%s: expected a mapping (operator and conditions, or type and name)", path);
        if (op || conds) {
                yaml_node_item_t *items;
                size_t k, cnt;
                uint8_t kind;
                uint32_t *tmp, self;
                int r;

                if (!op || !conds || t || nn)
                        return cfg_errf(c, n, "%s: an operator needs conditions (and no type or name)", path);
                if (scalar_is(op, "AND") || scalar_is(op, "and"))
                        kind = SY_RULE_AND;
                else if (scalar_is(op, "OR") || scalar_is(op, "or"))
                        kind = SY_RULE_OR;
                else if (scalar_is(op, "NOT") || scalar_is(op, "not"))
                        kind = SY_RULE_NOT;
                else
                        return cfg_errf(c, op, "%s.operator: expected AND, OR or NOT, got %s%s%s", path, Q(op),
                                        SHOW(op, b), Q(op));
                r = cfg_seq_items(c, conds, path, &items, &cnt);
                if (r < 0)
                        return r;
                tmp = calloc(cnt ? cnt : 1, sizeof *tmp);
                if (!tmp)
                        return -ENOMEM;
                for (k = 0; k < cnt; k++) {
                        char cp[512];

                        snprintf(cp, sizeof cp, "%s.conditions[%zu]", path, k);
                        r = parse_rule(x, node_at(c, items[k]), cp, depth + 1, &tmp[k]);
                        if (r != 0) {
                                free(tmp);
                                return r;
                        }
                }
                r = new_rule(v, kind, (uint32_t)v->n_kids, (uint32_t)cnt, &self);
                for (k = 0; r >= 0 && k < cnt; k++) {
                        uint32_t *slot = CFG_APPEND(v->kids, v->n_kids);
                        if (!slot)
                                r = -ENOMEM;
                        else
                                *slot = tmp[k];
                }
                free(tmp);
                *ret = self;
                return r < 0 ? r : 0;
        }
        if (!t || !nn || t->type != YAML_SCALAR_NODE || nn->type != YAML_SCALAR_NODE)
                return cfg_errf(c, n, "%s: a condition needs type and name", path);
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
                ssize_t s;

                if (!scalar_is(t, types[i].type))
                        continue;
                s = find_signal(x, types[i].kind, nn);
                if (s < 0 && is_dropped(x, types[i].type, cfg_show(nn, b)))
                        return 1;
                if (s < 0)
                        return cfg_errf(c, nn, "%s: no %s signal named '%s' in routing.signals", path, types[i].type,
                                        cfg_show(nn, b));
                if (types[i].kind == SY_RULE_DOMAIN)
                        v->uses_domain = true;
                if (types[i].kind == SY_RULE_JAILBREAK)
                        v->uses_jailbreak = true;
                if (types[i].kind == SY_RULE_PII)
                        v->uses_pii = true;
                return new_rule(v, (uint8_t)types[i].kind, (uint32_t)s, 0, ret);
        }
        snprintf(why, sizeof why,
                 "conditions of type '%s' are not supported (domain, keyword, jailbreak, pii are); the decision "
                 "is dropped",
                 cfg_show(t, b2));
        {
                char tp[512];
                snprintf(tp, sizeof tp, "%s.type", path);
                int r = unsupported(x, t, tp, why);
                return r < 0 ? r : 1;
        }
}

/* fn for each item of the sequence seq (what), as prefix[i]; how many in *ret_n */
static int each_item(struct v03 *x, const yaml_node_t *seq, const char *what, const char *prefix,
                     int (*fn)(struct v03 *x, void *arg, const yaml_node_t *it, const char *path), void *arg,
                     size_t *ret_n) {
        yaml_node_item_t *items;
        size_t n = 0;
        int r = cfg_seq_items(x->c, seq, what, &items, &n);

        for (size_t i = 0; r >= 0 && i < n; i++) {
                char ip[512];

                snprintf(ip, sizeof ip, "%s[%zu]", prefix, i);
                r = fn(x, arg, node_at(x->c, items[i]), ip);
        }
        if (ret_n)
                *ret_n = n;
        return r;
}

static int plugin(struct v03 *x, void *arg, const yaml_node_t *p, const char *path) {
        struct sy_decision *d = arg;
        struct ctx *c = x->c;
        const yaml_node_t *t = get(p, "type", c), *conf = get(p, "configuration", c), *e;
        char fw[512], why[160];
        bool enabled = true;
        int r;

        if (!t || t->type != YAML_SCALAR_NODE)
                return cfg_errf(c, p, "%s: missing type", path);
        snprintf(fw, sizeof fw, "%s.type", path);
        if (!scalar_is(t, "system_prompt") && !scalar_is(t, "fast_response"))
                return unsupported(x, t, fw, why_of(t, why, sizeof why));
        if (conf && (e = get(conf, "enabled", c)) != NULL) {
                snprintf(fw, sizeof fw, "%s.configuration.enabled", path);
                r = cfg_get_bool(c, e, fw, &enabled);
                if (r < 0)
                        return r;
        }
        if (!enabled)
                return 0;
        if (scalar_is(t, "fast_response")) {
                const yaml_node_t *m = get(conf, "message", c);

                snprintf(fw, sizeof fw, "%s.configuration.message", path);
                if (!m)
                        return cfg_errf(c, conf ? conf : p, "%s: missing", fw);
                return cfg_get_str(c, m, fw, CFG_PROMPT_MAX, &d->fast_response);
        } else {
                const yaml_node_t *s = get(conf, "system_prompt", c), *m = get(conf, "mode", c);

                if (!s)
                        s = get(conf, "prompt", c);
                snprintf(fw, sizeof fw, "%s.configuration.system_prompt", path);
                if (!s)
                        return cfg_errf(c, conf ? conf : p, "%s: missing", fw);
                if (m && !scalar_is(m, "insert") && !scalar_is(m, "replace"))
                        return cfg_errf(c, m, "%s.configuration.mode: expected insert or replace", path);
                d->prompt_insert = m && scalar_is(m, "insert");
                return cfg_get_str(c, s, fw, CFG_PROMPT_MAX, &d->system_prompt);
        }
}

static int model_ref(struct v03 *x, void *arg, const yaml_node_t *it, const char *path) {
        struct sy_decision *d = arg;
        struct ctx *c = x->c;
        const yaml_node_t *m = get(it, "model", c), *ur = get(it, "use_reasoning", c);
        struct sy_model_ref *ref;
        char fw[512], *name = NULL;
        int r;

        snprintf(fw, sizeof fw, "%s.model", path);
        if (!m)
                return cfg_errf(c, it, "%s: missing", fw);
        r = cfg_get_name(c, m, fw, NAME_MODEL, &name);
        if (r < 0)
                return r;
        if (!cfg_model_by_name(c->cfg, name)) {
                r = unsupported(x, m, fw, "a model that providers.models does not serve; the reference is dropped");
                free(name);
                return r;
        }
        ref = CFG_APPEND(d->refs, d->n_refs);
        if (!ref) {
                free(name);
                return -ENOMEM;
        }
        ref->model = name;
        if (ur) {
                snprintf(fw, sizeof fw, "%s.use_reasoning", path);
                return cfg_get_bool(c, ur, fw, &ref->use_reasoning);
        }
        return 0;
}

static void decision_free(struct sy_decision *d) {
        free(d->name);
        for (size_t i = 0; i < d->n_refs; i++)
                free(d->refs[i].model);
        free(d->refs);
        free(d->system_prompt);
        free(d->fast_response);
}

/* 1: dropped */
static int parse_decision(struct v03 *x, struct sy_decision *d, const yaml_node_t *it, const char *path) {
        static const char *const known[] = { "name", "description", "priority", "rules", "modelRefs", "plugins", NULL };
        struct ctx *c = x->c;
        const yaml_node_t *nn = get(it, "name", c), *pr = get(it, "priority", c), *rules = get(it, "rules", c);
        const yaml_node_t *refs = get(it, "modelRefs", c), *plugins = get(it, "plugins", c);
        size_t n;
        char fw[512];
        int r;

        if (!nn)
                return cfg_errf(c, it, "%s: missing name", path);
        snprintf(fw, sizeof fw, "%s.name", path);
        r = cfg_get_name(c, nn, fw, NAME_CATEGORY, &d->name);
        if (r < 0)
                return r;
        if (pr) {
                char b[72];
                double p = 0;

                snprintf(fw, sizeof fw, "%s.priority", path);
                r = cfg_get_double(c, pr, fw, -1e15, 1e15, &p);
                if (r < 0)
                        return r;
                if (p != (double)(int64_t)p)
                        return cfg_errf(c, pr, "%s: expected a whole number, got %s", fw, cfg_show(pr, b));
                d->priority = (int64_t)p;
        }
        r = walk(x, it, path, known, NULL, NULL);
        if (r < 0)
                return r;
        if (!rules)
                return cfg_errf(c, it, "%s: missing rules", path);
        snprintf(fw, sizeof fw, "%s.rules", path);
        r = parse_rule(x, rules, fw, 0, &d->rule);
        if (r != 0)
                return r;
        n = 0;
        if (plugins) {
                snprintf(fw, sizeof fw, "%s.plugins", path);
                r = each_item(x, plugins, fw, fw, plugin, d, NULL);
                if (r < 0)
                        return r;
        }
        if (refs) {
                snprintf(fw, sizeof fw, "%s.modelRefs", path);
                r = each_item(x, refs, fw, fw, model_ref, d, &n);
                if (r < 0)
                        return r;
        }
        if (!d->fast_response && d->n_refs == 0) {
                if (n > 0)
                        return 1; /* every reference dropped (--allow-unsupported) */
                return cfg_errf(c, it, "%s: decision '%s' has no modelRefs and no fast_response plugin", path, d->name);
        }
        return 0;
}

static int by_priority(const void *a, const void *b) {
        const struct sy_decision *x = a, *y = b;

        if (x->priority != y->priority)
                return x->priority > y->priority ? -1 : 1;
        return x->order < y->order ? -1 : x->order > y->order;
}

static int parse_decisions(struct v03 *x, const yaml_node_t *list) {
        struct ctx *c = x->c;
        struct sy_v03 *v = x->v;
        yaml_node_item_t *items;
        size_t n;
        int r = cfg_seq_items(c, list, "routing.decisions", &items, &n);

        if (r < 0)
                return r;
        if (n > V03_MAX_DECISIONS)
                return cfg_errf(c, list, "routing.decisions: more than %u decisions", V03_MAX_DECISIONS);
        v->decisions = calloc(n ? n : 1, sizeof *v->decisions);
        if (!v->decisions)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const yaml_node_t *it = node_at(c, items[i]);
                struct sy_decision *d = &v->decisions[v->n_decisions];
                char path[64];

                snprintf(path, sizeof path, "routing.decisions[%zu]", i);
                d->line = (unsigned)it->start_mark.line + 1;
                d->order = (uint32_t)i;
                r = parse_decision(x, d, it, path);
                if (r < 0) {
                        decision_free(d);
                        memset(d, 0, sizeof *d);
                        return r;
                }
                if (r == 1) {
                        r = cfg_warnf(c, it, "%s: decision '%s' is dropped (it needs what is refused above)", path,
                                      d->name ? d->name : "?");
                        decision_free(d);
                        memset(d, 0, sizeof *d);
                        if (r < 0)
                                return r;
                        continue;
                }
                d->name_node = get(it, "name", c);
                v->n_decisions++;
        }
        {
                uint32_t *idx = calloc(v->n_decisions ? v->n_decisions : 1, sizeof *idx);
                ssize_t dup;

                if (!idx)
                        return -ENOMEM;
                dup = sort_names(v, idx, v->n_decisions, dec_cmp);
                free(idx);
                if (dup >= 0)
                        return cfg_errf(c, v->decisions[dup].name_node, "routing.decisions: decision '%s' given twice",
                                        v->decisions[dup].name);
        }
        qsort(v->decisions, v->n_decisions, sizeof *v->decisions, by_priority);
        return 0;
}

static int routing_key(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *fw, void *ud) {
        static const char *const sig_known[] = { "keywords", "domains", "jailbreak", "pii", NULL };
        yaml_node_pair_t *pairs;
        size_t n;
        int r = 0;

        (void)ud;
        if (scalar_is(k, "modelCards"))
                return parse_cards(x, v);
        if (scalar_is(k, "decisions"))
                return 0; /* after the signals */
        if (scalar_is(k, "signals") && (r = walk(x, v, fw, sig_known, signals_key, NULL)) >= 0 &&
            (r = index_keywords(x)) < 0)
                return r;
        if (scalar_is(k, "strategy")) {
                if (scalar_is(v, "priority"))
                        return 0;
                return unsupported(x, v, fw,
                                   "switchyard's decision strategy is priority: the highest-priority "
                                   "matching decision wins");
        }
        /* signals (read above): the unsupported lists' names, dropped */
        if (r < 0)
                return r;
        r = cfg_map_pairs(x->c, v, fw, &pairs, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const yaml_node_t *sk = node_at(x->c, pairs[i].key);

                if (!cfg_in_list(sk, sig_known))
                        r = drop_list(x, sk, node_at(x->c, pairs[i].value));
        }
        return r;
}

static int parse_routing(struct v03 *x) {
        static const char *const known[] = { "modelCards", "signals", "decisions", "strategy", NULL };
        struct ctx *c = x->c;
        const yaml_node_t *rt = get(x->root, "routing", c), *d;
        int r = index_keywords(x); /* none yet: decisions may come without signals */

        if (r < 0)
                return r;

        if (!rt)
                return 0;
        r = walk(x, rt, "routing", known, routing_key, NULL);
        if (r >= 0 && (d = get(rt, "decisions", c)) != NULL)
                r = parse_decisions(x, d);
        return r;
}

/* ---- global ------------------------------------------------------------------- */

static int limit_rule(struct v03 *x, void *unused, const yaml_node_t *it, const char *path) {
        static const char *const known[] = { "name", "match", "requests_per_unit", "tokens_per_unit", "unit", NULL };
        struct ctx *c = x->c;
        struct sy_limit_rule *l = CFG_APPEND(x->v->limits, x->v->n_limits);
        const yaml_node_t *m = get(it, "match", c), *u = get(it, "unit", c), *nn = get(it, "name", c);
        const yaml_node_t *rq = get(it, "requests_per_unit", c), *tk = get(it, "tokens_per_unit", c);
        uint64_t per = 1, reqs = 0, toks = 0;
        yaml_node_pair_t *pairs;
        size_t n;
        char fw[512], b[72];
        int r;

        (void)unused;
        if (!l)
                return -ENOMEM;
        l->line = (unsigned)it->start_mark.line + 1;
        r = cfg_map_pairs(c, it, path, &pairs, &n);
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (!cfg_in_list(node_at(c, pairs[i].key), known))
                        r = cfg_errf(c, node_at(c, pairs[i].key),
                                     "%s: unknown key '%s' in a rate-limit rule (known: name, match, "
                                     "requests_per_unit, tokens_per_unit, unit); a limit is enforced as written "
                                     "or refused",
                                     path, cfg_show(node_at(c, pairs[i].key), b));
        if (r < 0)
                return r;
        if (nn && (r = cfg_get_name(c, nn, path, NAME_CATEGORY, &l->name)) < 0)
                return r;
        if (u) {
                if (scalar_is(u, "second"))
                        per = 1;
                else if (scalar_is(u, "minute"))
                        per = 60;
                else if (scalar_is(u, "hour"))
                        per = 3600;
                else if (scalar_is(u, "day"))
                        per = 86400;
                else
                        return cfg_errf(c, u, "%s.unit: expected second, minute, hour or day", path);
        } else {
                per = 60;
        }
        snprintf(fw, sizeof fw, "%s.requests_per_unit", path);
        if (rq && (r = cfg_get_uint(c, rq, fw, 0, CFG_RATE_MAX, &reqs)) < 0)
                return r;
        snprintf(fw, sizeof fw, "%s.tokens_per_unit", path);
        if (tk && (r = cfg_get_uint(c, tk, fw, 0, CFG_RATE_MAX, &toks)) < 0)
                return r;
        if (!reqs && !toks)
                return cfg_errf(c, it, "%s: give requests_per_unit or tokens_per_unit", path);
        /* a bucket of the unit's size refilled over the unit: per minute */
        if ((reqs * 60) % per || (toks * 60) % per)
                return cfg_errf(c, u ? u : it,
                                "%s: switchyard's limiter counts whole requests and tokens per minute: %llu "
                                "requests and %llu tokens per %s are not (use a count divisible by %llu)",
                                path, (unsigned long long)reqs, (unsigned long long)toks, u ? sval(u) : "minute",
                                (unsigned long long)(per / 60));
        l->rpm = (uint32_t)(reqs * 60 / per);
        l->tpm = (uint32_t)(toks * 60 / per);
        if (l->rpm > CFG_RATE_MAX || l->tpm > CFG_RATE_MAX)
                return cfg_errf(c, it, "%s: more than %llu per minute", path, CFG_RATE_MAX);
        l->burst_requests = (uint32_t)reqs;
        l->burst_tokens = (uint32_t)toks;
        if (m) {
                yaml_node_pair_t *mp;
                size_t mn;

                snprintf(fw, sizeof fw, "%s.match", path);
                r = cfg_map_pairs(c, m, fw, &mp, &mn);
                for (size_t i = 0; r >= 0 && i < mn; i++) {
                        const yaml_node_t *k, *val;
                        char kf[240];

                        cfg_pair(c, &mp[i], fw, kf, sizeof kf, &k, &val);
                        if (scalar_is(k, "user"))
                                r = cfg_get_name(c, val, kf, NAME_MODEL, &l->user);
                        else if (scalar_is(k, "model"))
                                r = cfg_get_name(c, val, kf, NAME_MODEL, &l->model);
                        else
                                r = cfg_errf(c, k,
                                             "%s: switchyard matches rate-limit rules on user and model only (no "
                                             "groups); this rule would not be enforced, so it is refused",
                                             kf);
                }
        }
        return r;
}

static int limiter(struct v03 *x, void *unused, const yaml_node_t *p, const char *path) {
        struct ctx *c = x->c;
        const yaml_node_t *t = get(p, "type", c), *rules = get(p, "rules", c);
        yaml_node_pair_t *pairs;
        char rp[512];
        size_t n;
        int r;

        (void)unused;

        if (!t || !scalar_is(t, "local-limiter"))
                return cfg_errf(c, t ? t : p,
                                "%s.type: only the local-limiter provider is supported (switchyard's own limiter); "
                                "a limit that would not be enforced is refused",
                                path);
        r = cfg_map_pairs(c, p, path, &pairs, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const yaml_node_t *k = node_at(c, pairs[i].key);
                char b[72];

                if (!scalar_is(k, "type") && !scalar_is(k, "rules"))
                        r = cfg_errf(c, k, "%s: unknown key '%s' (type, rules)", path, cfg_show(k, b));
        }
        if (r < 0 || !rules)
                return r;
        snprintf(rp, sizeof rp, "%s.rules", path);
        return each_item(x, rules, path, rp, limit_rule, NULL, NULL);
}

static int parse_ratelimit(struct v03 *x, const yaml_node_t *rl) {
        struct ctx *c = x->c;
        yaml_node_pair_t *pairs;
        size_t n;
        int r = cfg_map_pairs(c, rl, "global.services.ratelimit", &pairs, &n);

        for (size_t i = 0; r >= 0 && i < n; i++) {
                const yaml_node_t *k, *v;
                char fw[512];

                cfg_pair(c, &pairs[i], "global.services.ratelimit", fw, sizeof fw, &k, &v);
                if (scalar_is(k, "providers"))
                        r = each_item(x, v, fw, fw, limiter, NULL, NULL);
                else if (scalar_is(k, "fail_open")) {
                        bool b;
                        r = cfg_get_bool(c, v, fw, &b); /* the local limiter cannot fail */
                } else {
                        char b[72];
                        r = cfg_errf(c, k, "%s: unknown key '%s' (providers, fail_open)", fw, cfg_show(k, b));
                }
        }
        return r;
}

static int identity_key(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *fw, void *ud) {
        static const char *const refused[] = { "authorization", "host", "content-length", NULL };
        struct sy_config *cfg = x->c->cfg;

        (void)k, (void)ud;
        free(cfg->rate_limits.client_header);
        cfg->rate_limits.client_header = NULL;
        return cfg_get_header_name(x->c, v, fw, refused, "is not a client identity", &cfg->rate_limits.client_header);
}

static int authz_key(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *fw, void *ud) {
        static const char *const known[] = { "user_id_header", NULL };

        (void)k, (void)ud;
        return walk(x, v, fw, known, identity_key, NULL);
}

static int services_key(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *fw, void *ud) {
        static const char *const authz_known[] = { "identity", NULL };

        (void)ud;
        if (scalar_is(k, "ratelimit"))
                return parse_ratelimit(x, v);
        return walk(x, v, fw, authz_known, authz_key, NULL);
}

static int router_key(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *fw, void *ud) {
        (void)x, (void)k, (void)v, (void)fw, (void)ud;
        return 0; /* auto_model_names: through the synthetic root */
}

static int global_key(struct v03 *x, const yaml_node_t *k, const yaml_node_t *v, const char *fw, void *ud) {
        static const char *const router_known[] = { "auto_model_names", NULL };
        static const char *const services_known[] = { "ratelimit", "authz", NULL };

        (void)ud;
        if (scalar_is(k, "router"))
                return walk(x, v, fw, router_known, router_key, NULL);
        return walk(x, v, fw, services_known, services_key, NULL);
}

static int parse_global(struct v03 *x) {
        static const char *const known[] = { "router", "services", NULL };
        const yaml_node_t *g = get(x->root, "global", x->c);

        return g ? walk(x, g, "global", known, global_key, NULL) : 0;
}

/* ---- the load ------------------------------------------------------------------ */

bool cfg_is_v03(struct ctx *c) {
        const yaml_node_t *v = cfg_root_get(c, "version");

        return v && (scalar_is(v, "v0.3") || scalar_is(v, "0.3"));
}

/* The synthetic root: classic key -> the v0.3 node with that meaning. */
static int synthesize(struct v03 *x) {
        struct ctx *c = x->c;
        const yaml_node_t *root = c->root, *p = get(root, "providers", c), *d = get(p, "defaults", c);
        const yaml_node_t *g = get(root, "global", c), *rt = get(root, "routing", c);
        struct {
                const char *key;
                int value;
        } map[] = {
                { "default_model",
                  node_id(c, get(d, "default_model", c) ? get(d, "default_model", c) : get(d, "model", c)) },
                { "default_reasoning_effort",
                  node_id(c, get(d, "default_reasoning_effort", c) ? get(d, "default_reasoning_effort", c)
                                                                   : get(d, "reasoning_effort", c)) },
                { "reasoning_families", node_id(c, get(d, "reasoning_families", c)) },
                { "auto_aliases", node_id(c, get(get(g, "router", c), "auto_model_names", c)) },
                { "categories", node_id(c, get(get(rt, "signals", c), "domains", c)) },
        };
        int m;

        x->root_id = node_id(c, root);
        m = yaml_document_add_mapping(c->doc, NULL, YAML_BLOCK_MAPPING_STYLE);
        if (!m)
                return -ENOMEM;
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
                int k;

                if (!map[i].value)
                        continue;
                k = yaml_document_add_scalar(c->doc, NULL, (yaml_char_t *)map[i].key, (int)strlen(map[i].key),
                                             YAML_PLAIN_SCALAR_STYLE);
                if (!k || !yaml_document_append_mapping_pair(c->doc, m, k, map[i].value))
                        return -ENOMEM;
        }
        x->synth_id = m;
        /* the node array may have moved */
        x->root = node_at(c, x->root_id);
        c->root = node_at(c, m);
        return 0;
}

static int top_level(struct v03 *x) {
        static const char *const known[] = { "version", "listeners", "providers", "routing", "global", NULL };
        return walk(x, x->root, "", known, NULL, NULL);
}

/* The model table is built: the families and references it needs resolve. */
static int check_models(struct v03 *x) {
        struct ctx *c = x->c;

        for (size_t i = 0; i < c->n_sets; i++) {
                const char *f = c->sets[i].m.reasoning_family;
                struct sy_model_cfg *m = cfg_model_by_name(c->cfg, c->sets[i].m.name);

                if (f && !sy_config_find_reasoning(c->cfg, f))
                        return cfg_errf(c, c->sets[i].key,
                                        "model '%s': reasoning family '%s' is not one of qwen3, deepseek, gpt-oss, "
                                        "gpt or providers.defaults.reasoning_families",
                                        c->sets[i].m.name, f);
                if (m && f && !m->reasoning_family && !(m->reasoning_family = strdup(f)))
                        return -ENOMEM;
        }
        return 0;
}

static void guards_from_signals(struct v03 *x) {
        struct sy_config *cfg = x->c->cfg;
        struct sy_v03 *v = x->v;

        v->pii_min_threshold = 1.0;
        for (size_t i = 0; i < v->n_piis; i++) {
                if (v->piis[i].threshold < v->pii_min_threshold)
                        v->pii_min_threshold = v->piis[i].threshold;
                v->include_history |= v->piis[i].include_history;
        }
        for (size_t i = 0; i < v->n_jailbreaks; i++)
                v->include_history |= v->jailbreaks[i].include_history;
        if (v->uses_domain || v->uses_jailbreak || v->uses_pii)
                cfg->classifier.enabled = true;
        cfg->classifier.jailbreak_enabled = v->uses_jailbreak;
        if (v->uses_pii && v->pii_min_threshold < cfg->classifier.pii.threshold)
                cfg->classifier.pii.threshold = v->pii_min_threshold;
}

static int limits_from_rules(struct v03 *x) {
        struct sy_config *cfg = x->c->cfg;
        struct sy_v03 *v = x->v;

        /* a rule for everyone and every model is the limiter's default;
         * the others are looked up per request (frontend/stage_limit.c) */
        for (size_t i = 0; i < v->n_limits; i++) {
                struct sy_limit_rule *l = &v->limits[i];

                if ((l->user && strcmp(l->user, "*")) || l->model)
                        continue;
                if (cfg->rate_limits.requests_per_minute || cfg->rate_limits.tokens_per_minute)
                        return cfg_errf(x->c, NULL, "two rate-limit rules for every user (lines %u and %u)",
                                        v->limits[0].line, l->line);
                cfg->rate_limits.requests_per_minute = l->rpm;
                cfg->rate_limits.tokens_per_minute = l->tpm;
                cfg->rate_limits.burst_requests = l->burst_requests;
                cfg->rate_limits.burst_tokens = l->burst_tokens;
        }
        return 0;
}

int cfg_load_v03(struct ctx *c) {
        static const struct { /* in order; v or c */
                int (*v)(struct v03 *x);
                int (*c)(struct ctx *c);
        } steps[] = {
                { synthesize, NULL },
                { top_level, NULL },
                { parse_listeners, NULL },
                { parse_providers, NULL },
                { NULL, cfg_build_models },
                { NULL, cfg_parse_aliases },
                { NULL, cfg_parse_classifier },
                { NULL, cfg_parse_categories },
                { NULL, cfg_parse_default_model },
                { NULL, cfg_parse_reasoning },
                { check_models, NULL },
                { parse_routing, NULL },
                { parse_global, NULL },
                { NULL, cfg_parse_auth },
                { NULL, cfg_parse_policy },
                { limits_from_rules, NULL },
        };
        struct v03 x = { .c = c };
        int r = 0;

        x.v = calloc(1, sizeof *x.v);
        if (!x.v)
                return -ENOMEM;
        c->cfg->v03 = x.v;
        for (size_t i = 0; r >= 0 && i < sizeof steps / sizeof *steps; i++)
                r = steps[i].v ? steps[i].v(&x) : steps[i].c(c);
        if (r >= 0) {
                guards_from_signals(&x);
                r = sy_decisions_compile(x.v);
        }
        cfg_free_strv(x.dropped, x.n_dropped);
        free(x.kw_sorted);
        free(x.kw_nodes);
        c->root = node_at(c, x.root_id);
        if (r >= 0 && c->cfg->n_upstreams == 0)
                r = cfg_warnf(c, NULL, "no upstreams configured (providers.models[].backend_refs)");
        return r;
}

/* ---- the structure ---------------------------------------------------------------- */

const struct sy_v03_model *sy_v03_find_model(const struct sy_v03 *v, const char *name) {
        if (!v || !name)
                return NULL;
        for (size_t i = 0; i < v->n_models; i++)
                if (!strcmp(v->models[i].name, name))
                        return &v->models[i];
        return NULL;
}

void sy_v03_free(struct sy_v03 *v) {
        if (!v)
                return;
        free(v->listener_name);
        for (size_t i = 0; i < v->n_keywords; i++) {
                struct sy_kw_signal *s = &v->keywords[i];
                if (s->re)
                        for (size_t j = 0; j < s->n_keywords; j++)
                                regfree(&s->re[j]);
                free(s->re);
                free(s->name);
                cfg_free_strv(s->keywords, s->n_keywords);
        }
        free(v->keywords);
        for (size_t i = 0; i < v->n_domains; i++) {
                free(v->domains[i].name);
                cfg_free_strv(v->domains[i].categories, v->domains[i].n_categories);
        }
        free(v->domains);
        for (size_t i = 0; i < v->n_jailbreaks; i++)
                free(v->jailbreaks[i].name);
        free(v->jailbreaks);
        for (size_t i = 0; i < v->n_piis; i++) {
                free(v->piis[i].name);
                cfg_free_strv(v->piis[i].types_allowed, v->piis[i].n_types_allowed);
        }
        free(v->piis);
        free(v->rules);
        free(v->kids);
        for (size_t i = 0; i < v->n_decisions; i++)
                decision_free(&v->decisions[i]);
        free(v->decisions);
        for (size_t i = 0; i < v->n_models; i++) {
                free(v->models[i].name);
                free(v->models[i].provider_model_id);
        }
        free(v->models);
        for (size_t i = 0; i < v->n_limits; i++) {
                free(v->limits[i].name);
                free(v->limits[i].user);
                free(v->limits[i].model);
        }
        free(v->limits);
        cfg_free_strv(v->refused, v->n_refused);
        sy_decisions_index_free(v->index);
        free(v);
}
