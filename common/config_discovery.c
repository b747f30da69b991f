/* Discovery (kubernetes, dns: upstreams found at run time) and the
 * router's admin API listener. */
#include "common/config-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- discovery and admin ----------------------------------------------- */

#define CFG_DISCOVERY_MAX 32
#define CFG_SELECTOR_MAX 1024
#define CFG_FILE_PATH_MAX 4096

#ifdef HAVE_OPENSSL
#define CFG_HAVE_TLS 1
#else
#define CFG_HAVE_TLS 0
#endif

static int get_file_path(struct ctx *c, const yaml_node_t *n, const char *what, char **ret) {
        char b[72];

        if (n->type != YAML_SCALAR_NODE || is_null(n) || slen(n) == 0)
                return cfg_errf(c, n, "%s: expected a file path, got %s", what, cfg_kind_of(n));
        for (size_t i = 0; i < slen(n); i++)
                if ((unsigned char)sval(n)[i] < 0x20 || sval(n)[i] == 0x7f)
                        return cfg_errf(c, n, "%s: \"%s\" is not a valid file path", what, cfg_show(n, b));
        return cfg_get_str(c, n, what, CFG_FILE_PATH_MAX, ret);
}

/* http(s)://host[:port] with nothing after it (a trailing / is allowed). */
static int get_api_server(struct ctx *c, const yaml_node_t *n, const char *what, char **ret) {
        const char *s, *h;
        char b[72];
        size_t hl;
        uint16_t port;
        bool tls;

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return cfg_errf(c, n, "%s: expected a URL, got %s", what, cfg_kind_of(n));
        s = sval(n);
        tls = slen(n) > 8 && strncasecmp(s, "https://", 8) == 0;
        if (!tls && !(slen(n) > 7 && strncasecmp(s, "http://", 7) == 0))
                return cfg_errf(c, n, "%s: \"%s\" is not a URL of the form https://host[:port]", what, cfg_show(n, b));
        if (tls && !CFG_HAVE_TLS)
                return cfg_errf(c, n,
                                "%s: this build of switchyard has no TLS (built without "
                                "OpenSSL); kubernetes discovery over https needs it",
                                what);
        if (cfg_url_host_port(s + (tls ? 8 : 7), s + slen(n), &h, &hl, &port) != URL_OK)
                return cfg_errf(c, n, "%s: \"%s\" is not a URL of the form https://host[:port] (no path)", what,
                                cfg_show(n, b));
        return cfg_get_str(c, n, what, CFG_HOST_MAX + 16, ret);
}

int cfg_parse_discovery(struct ctx *c) {
        static const char *const k8s_keys[] = {
                "kind",          "namespace",  "label_selector", "resource",    "port",
                "engine",        "models",     "model_label",    "models_from", "weight",
                "upstream_kind", "api_server", "token_file",     "ca_file",     NULL,
        };
        static const char *const dns_keys[] = {
                "kind",        "name",   "port",          "engine",      "models",
                "models_from", "weight", "upstream_kind", "interval_ms", NULL,
        };
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *v = cfg_root_get(c, "discovery");
        yaml_node_item_t *items = NULL;
        size_t n_items = 0, i, j, n;
        int r;

        if (!v)
                return 0;
        r = CFG_SEQ_ARRAY(c, v, "discovery", CFG_DISCOVERY_MAX, "sources", false, &items, &n_items, cfg->discovery);
        if (r < 0)
                return r;
        for (i = 0; i < n_items; i++) {
                const yaml_node_t *item = node_at(c, items[i]), *kind;
                struct sy_discovery_cfg *d = &cfg->discovery[cfg->n_discovery++];
                const char *const *keys;
                yaml_node_pair_t *pairs;
                bool have_port = false;
                char what[48], fw[48 + 72 + 2], b[72], known[256] = "";

                snprintf(what, sizeof what, "discovery[%zu]", i);
                d->weight = 1;
                d->interval_ms = 5000;
                d->line = (unsigned)item->start_mark.line + 1;
                r = cfg_map_pairs(c, item, what, &pairs, &n);
                if (r < 0)
                        return r;
                kind = cfg_map_get(c, item, "kind");
                if (!kind)
                        return cfg_errf(c, item, "%s: missing 'kind' (kubernetes or dns)", what);
                if (scalar_is(kind, "kubernetes")) {
                        d->kind = SY_DISC_KUBERNETES;
                        keys = k8s_keys;
                        if (!CFG_HAVE_TLS && !cfg_map_get(c, item, "api_server"))
                                return cfg_errf(c, kind,
                                                "%s: kind kubernetes: this build of switchyard "
                                                "has no TLS (built without OpenSSL), which the API server "
                                                "needs",
                                                what);
                } else if (scalar_is(kind, "dns")) {
                        d->kind = SY_DISC_DNS;
                        keys = dns_keys;
                } else {
                        return cfg_errf(c, kind, "%s.kind: unknown kind %s%s%s (kubernetes or dns)", what, Q(kind),
                                        SHOW(kind, b), Q(kind));
                }
                for (j = 0; keys[j]; j++) {
                        strncat(known, keys[j], sizeof known - strlen(known) - 1);
                        if (keys[j + 1])
                                strncat(known, ", ", sizeof known - strlen(known) - 1);
                }
                for (j = 0; j < n; j++) {
                        const yaml_node_t *k, *val;
                        uint64_t u;

                        r = 0;
                        cfg_pair(c, &pairs[j], what, fw, sizeof fw, &k, &val);
                        if (!cfg_in_list(k, keys))
                                return cfg_errf(c, k, "unknown key '%s' in %s (kind %s; known: %s)", cfg_show(k, b),
                                                what, sval(kind), known);
                        if (scalar_is(k, "kind")) {
                                continue;
                        } else if (scalar_is(k, "engine")) {
                                r = cfg_get_name(c, val, fw, NAME_ENGINE, &d->engine);
                        } else if (scalar_is(k, "models")) {
                                r = cfg_get_name_list(c, val, fw, NAME_MODEL, SY_CFG_MAX_MODELS, &d->models,
                                                      &d->n_models);
                        } else if (scalar_is(k, "model_label")) {
                                r = cfg_get_name(c, val, fw, NAME_MODEL, &d->model_label);
                        } else if (scalar_is(k, "models_from")) {
                                if (!scalar_is(val, "v1_models"))
                                        return cfg_errf(c, val, "%s: expected v1_models, got %s%s%s", fw, Q(val),
                                                        SHOW(val, b), Q(val));
                                d->models_from_v1 = true;
                        } else if (scalar_is(k, "weight")) {
                                r = cfg_get_uint(c, val, fw, 1, CFG_WEIGHT_MAX, &u);
                                d->weight = (uint32_t)u;
                        } else if (scalar_is(k, "upstream_kind")) {
                                r = cfg_get_upstream_kind(c, val, fw, &d->upstream_kind);
                        } else if (scalar_is(k, "port")) {
                                have_port = true;
                                if (d->kind == SY_DISC_KUBERNETES && val->type == YAML_SCALAR_NODE && !is_null(val) &&
                                    !cfg_all_digits(sval(val), slen(val))) {
                                        r = cfg_get_name(c, val, fw, NAME_ENGINE, &d->port_name);
                                } else {
                                        r = cfg_get_uint(c, val, fw, 1, 65535, &u);
                                        d->port = (uint16_t)u;
                                }
                        } else if (scalar_is(k, "namespace")) {
                                r = cfg_get_name(c, val, fw, NAME_ENGINE, &d->namespace_);
                        } else if (scalar_is(k, "label_selector")) {
                                r = cfg_get_str(c, val, fw, CFG_SELECTOR_MAX, &d->label_selector);
                                for (size_t x = 0; r == 0 && d->label_selector[x]; x++)
                                        if ((unsigned char)d->label_selector[x] < 0x20 ||
                                            (unsigned char)d->label_selector[x] >= 0x7f)
                                                r = cfg_errf(c, val, "%s: not printable ASCII", fw);
                        } else if (scalar_is(k, "resource")) {
                                if (scalar_is(val, "endpointslices"))
                                        d->resource = SY_K8S_ENDPOINTSLICES;
                                else if (scalar_is(val, "pods"))
                                        d->resource = SY_K8S_PODS;
                                else
                                        r = cfg_errf(c, val,
                                                     "%s: expected endpointslices or pods, got "
                                                     "%s%s%s",
                                                     fw, Q(val), SHOW(val, b), Q(val));
                        } else if (scalar_is(k, "api_server")) {
                                r = get_api_server(c, val, fw, &d->api_server);
                        } else if (scalar_is(k, "token_file")) {
                                r = get_file_path(c, val, fw, &d->token_file);
                        } else if (scalar_is(k, "ca_file")) {
                                r = get_file_path(c, val, fw, &d->ca_file);
                        } else if (scalar_is(k, "name")) {
                                r = cfg_get_host(c, val, fw, &d->dns_name);
                        } else if (scalar_is(k, "interval_ms")) {
                                r = cfg_get_duration(c, val, fw, NS_PER_MS, 100, MS_HOUR, &u);
                                d->interval_ms = (unsigned)u;
                        }
                        if (r < 0)
                                return r;
                }
                if (!have_port)
                        return cfg_errf(c, item, "%s: missing 'port'%s", what,
                                        d->kind == SY_DISC_KUBERNETES ? " (a number or a port name)" : "");
                if (d->kind == SY_DISC_DNS && !d->dns_name)
                        return cfg_errf(c, item, "%s: missing 'name' (the DNS name to resolve)", what);
                if (d->n_models == 0 && !d->model_label && !d->models_from_v1)
                        return cfg_errf(c, item, "%s: no models: give models, %smodels_from: v1_models", what,
                                        d->kind == SY_DISC_KUBERNETES ? "model_label or " : "");
        }
        return 0;
}

/* host:port or [v6]:port */
static int get_listen(struct ctx *c, const yaml_node_t *n, const char *what, char **ret_host, uint16_t *ret_port) {
        const char *s, *colon, *h;
        size_t hl, pl;
        uint64_t port = 0;
        char b[72];

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return cfg_errf(c, n, "%s: expected host:port, got %s", what, cfg_kind_of(n));
        s = sval(n);
        colon = memrchr(s, ':', slen(n));
        if (!colon)
                goto bad;
        h = s;
        hl = (size_t)(colon - s);
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
                h++;
                hl -= 2;
        }
        pl = (size_t)(s + slen(n) - colon - 1);
        if (!cfg_host_ok(h, hl) || !cfg_all_digits(colon + 1, pl) || cfg_digits_u64(colon + 1, pl, &port) < 0 ||
            port < 1 || port > 65535)
                goto bad;
        return cfg_set_host_port(h, hl, (uint16_t)port, ret_host, ret_port);
bad:
        return cfg_errf(c, n, "%s: expected host:port such as \"127.0.0.1:9090\", got \"%s\"", what, cfg_show(n, b));
}

static int get_admin_listen(struct ctx *c, const yaml_node_t *v, const char *what, void *p) {
        return get_listen(c, v, what, p, &c->cfg->admin.port);
}

static int get_admin_token(struct ctx *c, const yaml_node_t *v, const char *what, void *p) {
        return cfg_get_str(c, v, what, 4096, p);
}

static int get_file_path_field(struct ctx *c, const yaml_node_t *v, const char *what, void *p) {
        return get_file_path(c, v, what, p);
}

static const struct cfg_field admin_fields[] = {
        F_FN("listen", get_admin_listen, admin.host),
        F_FN("token", get_admin_token, admin.token),
        F_FN("token_file", get_file_path_field, admin.token_file),
        F_FN("state_file", get_file_path_field, admin.state_file),
};
static const struct cfg_section admin_section = SECTION("admin", admin_fields);

int cfg_parse_admin(struct ctx *c) {
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *v = cfg_root_get(c, "admin");
        int r;

        if (!v)
                return 0;
        cfg->admin.enabled = true;
        r = cfg_parse_fields(c, &admin_section, v);
        if (r < 0)
                return r;
        if ((!cfg->admin.token || !cfg->admin.token[0]) && !cfg->admin.token_file)
                return cfg_errf(c, v,
                                "admin: give token or token_file (the admin API always needs a "
                                "bearer token)");
        if (cfg->admin.token && cfg->admin.token_file)
                return cfg_errf(c, v, "admin: token and token_file are both given; use one");
        if (!cfg->admin.host) {
                cfg->admin.host = strdup("127.0.0.1");
                if (!cfg->admin.host)
                        return -ENOMEM;
                cfg->admin.port = 9090;
        }
        return 0;
}
