/* An upstream's TLS and provider keys: an https url (or tls: true), sni,
 * ca_file, api_key_env with auth_header / auth_prefix, extra_headers and
 * health_path. Every key is checked here and enforced by the processes
 * (http/tls.c builds the client contexts and the headers): certificate
 * verification is never turned off, the API key is read from the
 * environment at load and never printed. */
#include "common/config-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#define TLS_EXTRA_MAX 16
#define TLS_VALUE_MAX 1024

enum { TK_TLS, TK_SNI, TK_CA, TK_KEY_ENV, TK_AUTH_HEADER, TK_AUTH_PREFIX, TK_EXTRA, TK_HEALTH, TK_VIA, TK_N };

static const char *const tls_keys[TK_N] = {
        "tls", "sni", "ca_file", "api_key_env", "auth_header", "auth_prefix", "extra_headers", "health_path", "via",
};

/* Header names switchyard writes itself on every upstream request. */
static const char *const reserved_headers[] = { "host",       "content-length", "transfer-encoding",
                                                "connection", "content-type",   "te",
                                                "upgrade",    "trailer",        NULL };

const char *cfg_upstream_tls_known(void) {
        return "tls, sni, ca_file, api_key_env, auth_header, auth_prefix, extra_headers, health_path, via";
}

void cfg_upstream_tls_begin(struct ctx *c) {
        memset(c->up_tls_nodes, 0, sizeof c->up_tls_nodes);
        c->up_url_node = NULL;
        c->up_url_https = false;
}

/* http://host[:port] or https://host[:port] (443 by default). */
int cfg_upstream_url(struct ctx *c, const yaml_node_t *v, const char *what, struct sy_upstream_cfg *up) {
        const char *h;
        uint16_t port = 443;
        size_t hl = 0;
        char b[72];

        c->up_url_node = v;
        if (v->type != YAML_SCALAR_NODE || is_null(v) || slen(v) < 8 || strncasecmp(sval(v), "https://", 8) != 0)
                return cfg_parse_url(c, v, what, &up->host, &up->port);
        if (memchr(sval(v), 0, slen(v)) || cfg_url_host_port(sval(v) + 8, sval(v) + slen(v), &h, &hl, &port) != URL_OK)
                return cfg_errf(c, v,
                                "%s: \"%s\" is not a URL of the form https://host[:port] (no path, query or "
                                "user info)",
                                what, cfg_show(v, b));
        c->up_url_https = true;
        up->tls = true;
        return cfg_set_host_port(h, hl, port, &up->host, &up->port);
}

static bool is_ip(const char *s, size_t len) {
        unsigned char a[16];
        char t[64];

        if (len >= sizeof t)
                return false;
        memcpy(t, s, len);
        t[len] = 0;
        return inet_pton(AF_INET, t, a) == 1 || inet_pton(AF_INET6, t, a) == 1;
}

static bool text_ok(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return true;
}

static int get_value(struct ctx *c, const yaml_node_t *v, const char *what, size_t max, char **ret) {
        if (v->type == YAML_SCALAR_NODE && !is_null(v) && !text_ok(sval(v), slen(v)))
                return cfg_errf(c, v, "%s: contains a control character (CR, LF, ...)", what);
        return cfg_get_str(c, v, what, max, ret);
}

static int get_key_env(struct ctx *c, const yaml_node_t *v, const char *what, struct sy_upstream_cfg *up) {
        const char *val;
        char b[72];
        int r;

        if (v->type != YAML_SCALAR_NODE || is_null(v) || !cfg_env_name_ok(sval(v), slen(v), 128))
                return cfg_errf(c, v, "%s: expected an environment variable name such as OPENAI_API_KEY, got %s%s%s",
                                what, Q(v), SHOW(v, b), Q(v));
        r = cfg_get_str(c, v, what, 128, &up->api_key_env);
        if (r < 0)
                return r;
        val = getenv(up->api_key_env);
        if (!val || !val[0])
                return cfg_errf(c, v,
                                "%s: the environment variable %s is not set (the API key is read from it "
                                "when the configuration loads)",
                                what, up->api_key_env);
        /* the value is a secret: the message never shows it */
        if (!text_ok(val, strlen(val)) || strlen(val) > TLS_VALUE_MAX)
                return cfg_errf(c, v, "%s: the value of %s has a control character or is over %d bytes", what,
                                up->api_key_env, TLS_VALUE_MAX);
        free(up->api_key);
        up->api_key = strdup(val);
        return up->api_key ? 0 : -ENOMEM;
}

static int get_ca_file(struct ctx *c, const yaml_node_t *v, const char *what, struct sy_upstream_cfg *up) {
        X509 *x = NULL;
        BIO *bio;
        int r = cfg_get_path(c, v, what, &up->ca_file);

        if (r < 0)
                return r;
        bio = BIO_new_file(up->ca_file, "r");
        if (!bio)
                return cfg_errf(c, v, "%s: cannot read %s: %s", what, up->ca_file, strerror(errno ? errno : ENOENT));
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
        if (!x)
                return cfg_errf(c, v, "%s: %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", what,
                                up->ca_file);
        X509_free(x);
        return 0;
}

static int get_extra(struct ctx *c, const yaml_node_t *v, const char *what, struct sy_upstream_cfg *up) {
        yaml_node_pair_t *pairs;
        size_t n;
        char fw[160];
        int r = cfg_map_pairs(c, v, what, &pairs, &n);

        if (r < 0)
                return r;
        if (n > TLS_EXTRA_MAX)
                return cfg_errf(c, v, "%s: more than %d headers", what, TLS_EXTRA_MAX);
        for (size_t i = 0; i < n; i++) {
                const yaml_node_t *k, *val;
                char *name = NULL, *value = NULL;

                cfg_pair(c, &pairs[i], what, fw, sizeof fw, &k, &val);
                r = cfg_get_header_name(c, k, what, reserved_headers, "is a header switchyard writes itself", &name);
                if (r >= 0)
                        r = get_value(c, val, fw, TLS_VALUE_MAX, &value);
                for (size_t j = 0; r >= 0 && j < up->n_extra; j++)
                        if (strcasecmp(up->extra_names[j], name) == 0)
                                r = cfg_errf(c, k, "%s: header %s is given twice", what, name);
                if (r >= 0 && (r = cfg_push_str(&up->extra_names, &up->n_extra, name)) >= 0) {
                        up->n_extra--;
                        name = NULL;
                        r = cfg_push_str(&up->extra_values, &up->n_extra, value);
                        if (r >= 0)
                                value = NULL;
                        else
                                free(up->extra_names[up->n_extra]); /* keep the two lists the same length */
                }
                free(name);
                free(value);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int get_health_path(struct ctx *c, const yaml_node_t *v, const char *what, struct sy_upstream_cfg *up) {
        char b[72];

        if (v->type != YAML_SCALAR_NODE || is_null(v) || slen(v) == 0 || sval(v)[0] != '/' || slen(v) > CFG_PATH_MAX ||
            !text_ok(sval(v), slen(v)) || memchr(sval(v), ' ', slen(v)))
                return cfg_errf(c, v, "%s: expected an absolute URL path such as /v1/models, got %s%s%s", what, Q(v),
                                SHOW(v, b), Q(v));
        return cfg_get_str(c, v, what, CFG_PATH_MAX, &up->health_path);
}

int cfg_upstream_tls_key(struct ctx *c, const yaml_node_t *k, const yaml_node_t *v, const char *what,
                         struct sy_upstream_cfg *up) {
        char b[72];
        int x;

        for (x = 0; x < TK_N && !scalar_is(k, tls_keys[x]); x++)
                ;
        if (x == TK_N)
                return 0;
        c->up_tls_nodes[x] = k;
        switch (x) {
        case TK_TLS:
                if (cfg_get_bool(c, v, what, &c->up_tls_value) < 0)
                        return -EINVAL;
                up->tls |= c->up_tls_value;
                return 1;
        case TK_SNI:
                if (v->type == YAML_SCALAR_NODE && !is_null(v) && is_ip(sval(v), slen(v)))
                        return cfg_errf(c, v, "%s: \"%s\" is an IP address; SNI names a host", what, cfg_show(v, b));
                return cfg_get_host(c, v, what, &up->sni) < 0 ? -EINVAL : 1;
        case TK_CA:
                return get_ca_file(c, v, what, up) < 0 ? -EINVAL : 1;
        case TK_KEY_ENV:
                return get_key_env(c, v, what, up) < 0 ? -EINVAL : 1;
        case TK_AUTH_HEADER:
                return cfg_get_header_name(c, v, what, reserved_headers, "is a header switchyard writes itself",
                                           &up->auth_header) < 0
                               ? -EINVAL
                               : 1;
        case TK_AUTH_PREFIX:
                return get_value(c, v, what, 64, &up->auth_prefix) < 0 ? -EINVAL : 1;
        case TK_EXTRA:
                return get_extra(c, v, what, up) < 0 ? -EINVAL : 1;
        case TK_HEALTH:
                return get_health_path(c, v, what, up) < 0 ? -EINVAL : 1;
        case TK_VIA:
                c->up_via_nodes[c->cfg->n_upstreams - 1] = v;
                return cfg_get_name(c, v, what, NAME_MODEL, &up->via) < 0 ? -EINVAL : 1;
        }
        return 0;
}

/* After the upstream's keys: the combinations that would mean nothing. */
int cfg_upstream_tls_finish(struct ctx *c, const char *what, struct sy_upstream_cfg *up) {
        const yaml_node_t *const *n = c->up_tls_nodes;

        if (n[TK_TLS] && c->up_url_node && c->up_url_https != c->up_tls_value)
                return cfg_errf(c, n[TK_TLS], "%s: tls: %s contradicts the url's scheme (%s); write the url as %s://",
                                what, c->up_tls_value ? "true" : "false", c->up_url_https ? "https" : "http",
                                c->up_tls_value ? "https" : "http");
#ifndef HAVE_OPENSSL
        if (up->tls)
                return cfg_errf(c, n[TK_TLS] ? n[TK_TLS] : c->up_url_node,
                                "%s: TLS upstreams need OpenSSL, which this switchyard was built without", what);
#endif
        if (!up->tls && (n[TK_SNI] || n[TK_CA]))
                return cfg_errf(c, n[TK_SNI] ? n[TK_SNI] : n[TK_CA],
                                "%s: %s is for TLS upstreams only (an https:// url, or tls: true)", what,
                                n[TK_SNI] ? "sni" : "ca_file");
        if (!up->api_key_env && (n[TK_AUTH_HEADER] || n[TK_AUTH_PREFIX]))
                return cfg_errf(c, n[TK_AUTH_HEADER] ? n[TK_AUTH_HEADER] : n[TK_AUTH_PREFIX],
                                "%s: %s says how the API key is sent, but no api_key_env gives one", what,
                                n[TK_AUTH_HEADER] ? "auth_header" : "auth_prefix");
        if (up->api_key_env && !up->auth_header && !(up->auth_header = strdup("Authorization")))
                return -ENOMEM;
        if (up->api_key_env && !up->auth_prefix && !n[TK_AUTH_PREFIX] && !(up->auth_prefix = strdup("Bearer ")))
                return -ENOMEM;
        for (size_t i = 0; up->auth_header && i < up->n_extra; i++)
                if (strcasecmp(up->extra_names[i], up->auth_header) == 0)
                        return cfg_errf(c, n[TK_EXTRA], "%s: extra_headers sets %s, which carries the API key", what,
                                        up->auth_header);
        if (up->api_key_env && !up->tls) {
                int r = cfg_warnf(c, n[TK_KEY_ENV], "%s: the API key from %s goes over plain HTTP (no TLS)", what,
                                  up->api_key_env);
                if (r < 0)
                        return r;
        }
        if (up->tls && !up->sni && !is_ip(up->host, strlen(up->host)) && !(up->sni = strdup(up->host)))
                return -ENOMEM;
        return 0;
}

/* After every upstream: a via names a gateway upstream of the file. */
int cfg_check_vias(struct ctx *c) {
        const struct sy_config *cfg = c->cfg;

        for (size_t i = 0; i < cfg->n_upstreams; i++) {
                const struct sy_upstream_cfg *u = &cfg->upstreams[i];
                const struct sy_upstream_cfg *g = NULL;

                if (!u->via)
                        continue;
                for (size_t j = 0; j < cfg->n_upstreams; j++)
                        if (strcmp(cfg->upstreams[j].name, u->via) == 0)
                                g = &cfg->upstreams[j];
                if (u->kind != SY_UPSTREAM_SERVER)
                        return cfg_errf(c, c->up_via_nodes[i],
                                        "upstream '%s': via is for servers switchyard picks (a gateway picks its "
                                        "own endpoint)",
                                        u->name);
                if (!g)
                        return cfg_errf(c, c->up_via_nodes[i], "upstream '%s': via: no upstream named '%s'", u->name,
                                        u->via);
                if (g->kind != SY_UPSTREAM_GATEWAY)
                        return cfg_errf(c, c->up_via_nodes[i],
                                        "upstream '%s': via: '%s' is not a gateway (kind: gateway)", u->name, u->via);
        }
        return 0;
}
