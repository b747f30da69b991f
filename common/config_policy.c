/* The guardrails' sections: guard (what a blocked request is answered),
 * auth (API keys, held as SHA-256 digests; the metrics token) and
 * rate_limits (with redis), and the cross checks that make every guard
 * that is configured enforceable (cfg_check_guards). Every key here is
 * enforced or refused: unknown keys are errors. */
#include "common/config-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#define CFG_MESSAGE_MAX 512 /* bytes of a guard message */

static int get_env_name(struct ctx *c, const yaml_node_t *n, const char *what, char **ret) {
        char b[72];

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return cfg_errf(c, n, "%s: expected an environment variable name, got %s", what, cfg_kind_of(n));
        if (!cfg_env_name_ok(sval(n), slen(n), 255))
                return cfg_errf(c, n, "%s: \"%s\" is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)", what,
                                cfg_show(n, b));
        return cfg_get_str(c, n, what, 255, ret);
}


/* guard messages: one line of text (UTF-8 allowed), no control characters */
static int get_message(struct ctx *c, const yaml_node_t *n, const char *what, void *ret) {
        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return cfg_errf(c, n, "%s: expected a string, got %s", what, cfg_kind_of(n));
        if (slen(n) == 0)
                return cfg_errf(c, n, "%s: must not be empty", what);
        for (size_t i = 0; i < slen(n); i++)
                if ((unsigned char)sval(n)[i] < 0x20 || sval(n)[i] == 0x7f)
                        return cfg_errf(c, n, "%s: contains a control character (one line of text)", what);
        return cfg_get_str(c, n, what, CFG_MESSAGE_MAX, ret);
}


/* redis://host[:port][/] (port 6379 if absent); the password comes from
 * password_env, never from the URL */
static int get_redis_url(struct ctx *c, const yaml_node_t *n, const char *what, void *p) {
        char **ret_host = p;
        uint16_t *ret_port = &c->cfg->rate_limits.redis.port;
        const char *rest, *h;
        char b[72];
        uint16_t port = 6379;
        size_t hl = 0;
        int r = cfg_url_scheme(c, n, what, "redis://", &rest);

        if (r < 0)
                return r;
        if (memchr(sval(n), '@', slen(n)))
                return cfg_errf(c, n,
                                "%s: no user or password in the URL: give the password's environment "
                                "variable in rate_limits.redis.password_env",
                                what);
        if (cfg_url_host_port(rest, sval(n) + slen(n), &h, &hl, &port) != URL_OK)
                return cfg_errf(c, n,
                                "%s: \"%s\" is not a URL of the form redis://host[:port] (valid host, port "
                                "1..65535, no path)",
                                what, cfg_show(n, b));
        return cfg_set_host_port(h, hl, port, ret_host, ret_port);
}


static int get_env_field(struct ctx *c, const yaml_node_t *v, const char *what, void *p) {
        return get_env_name(c, v, what, p);
}

/* 0, or an error status */
static int get_status(struct ctx *c, const yaml_node_t *v, const char *what, void *p) {
        char b[72];
        uint64_t u;
        int r = cfg_get_uint(c, v, what, 0, 599, &u);

        if (r == 0 && u != 0 && u < 400)
                return cfg_errf(c, v,
                                "%s: %s is not an error status: 0 (a 200 answer saying why, as "
                                "vSR does) or 400..599",
                                what, cfg_show(v, b));
        if (r == 0)
                *(unsigned *)p = (unsigned)u;
        return r;
}

static int get_on_error(struct ctx *c, const yaml_node_t *v, const char *what, void *p) {
        char b[72];

        if (!scalar_is(v, "block") && !scalar_is(v, "allow"))
                return cfg_errf(c, v, "%s: expected block or allow, got %s%s%s", what, Q(v), SHOW(v, b), Q(v));
        *(bool *)p = scalar_is(v, "allow");
        return 0;
}

static int get_client_header(struct ctx *c, const yaml_node_t *v, const char *what, void *p) {
        static const char *const credentials[] = { "authorization", "proxy-authorization", "x-api-key", "cookie",
                                                   NULL };

        return cfg_get_header_name(c, v, what, credentials,
                                   "carries credentials; they must not become client ids "
                                   "(in logs, metrics and the limiter's table)",
                                   p);
}

static int get_key_prefix(struct ctx *c, const yaml_node_t *v, const char *what, void *p) {
        char b[72];

        if (v->type != YAML_SCALAR_NODE || is_null(v) || slen(v) == 0 || slen(v) > 64 || memchr(sval(v), 0, slen(v)) ||
            !cfg_name_ok(sval(v), slen(v), NAME_MODEL))
                return cfg_errf(c, v,
                                "%s: expected 1..64 printable ASCII characters without spaces, "
                                "quotes or backslashes, got %s%s%s",
                                what, Q(v), SHOW(v, b), Q(v));
        return cfg_get_str(c, v, what, 64, p);
}

/* guard: what a blocked request is answered (frontend/stage_guard.c) */
static const struct cfg_field guard_fields[] = {
        F_FN("block_status", get_status, guard.block_status),
        F_FN_STR("pii_message", get_message, guard.pii_message, SY_CFG_PII_MESSAGE),
        F_FN_STR("jailbreak_message", get_message, guard.jailbreak_message, SY_CFG_JAILBREAK_MESSAGE),
        F("include_history", FT_BOOL, guard.include_history, 0, 0),
        F_FN("on_classifier_error", get_on_error, guard.on_classifier_error_allow),
};

static const struct cfg_field redis_fields[] = {
        F_FN("url", get_redis_url, rate_limits.redis.host),
        F("host", FT_HOST, rate_limits.redis.host, 0, 0),
        FD("port", FT_U16, rate_limits.redis.port, 1, 65535, 6379),
        F_FN_STR("key_prefix", get_key_prefix, rate_limits.redis.key_prefix, "switchyard:rl:"),
        FD("timeout_ms", FT_MS, rate_limits.redis.timeout_ms, 1, 60000, 5),
        FD("fail_open", FT_BOOL, rate_limits.redis.fail_open, 0, 0, true),
        F_FN("password_env", get_env_field, rate_limits.redis.password_env),
};

static const struct cfg_section redis_section = SECTION("rate_limits.redis", redis_fields);

static const struct cfg_field rate_limits_fields[] = {
        F_FN_STR("client_header", get_client_header, rate_limits.client_header, "X-Client-ID"),
        F("requests_per_minute", FT_UINT, rate_limits.requests_per_minute, 0, CFG_RATE_MAX),
        F("tokens_per_minute", FT_UINT, rate_limits.tokens_per_minute, 0, CFG_RATE_MAX),
        F("burst_requests", FT_UINT, rate_limits.burst_requests, 0, CFG_RATE_MAX),
        F("burst_tokens", FT_UINT, rate_limits.burst_tokens, 0, CFG_RATE_MAX),
        FD("max_clients", FT_UINT, rate_limits.max_clients, 16, 1u << 24, 65536),
        F_SUB("redis", rate_limits.redis, redis_section),
};

static const struct cfg_section guard_section = SECTION("guard", guard_fields);
static const struct cfg_section rate_limits_section = SECTION("rate_limits", rate_limits_fields);

int cfg_policy_defaults(struct sy_config *cfg) {
        int r = cfg_section_defaults(cfg, &guard_section);

        return r < 0 ? r : cfg_section_defaults(cfg, &rate_limits_section);
}

/* ---- guardrails: guard, auth, rate_limits ------------------------------ */

#define CFG_SECRET_MIN 8
#define CFG_SECRET_MAX 4096
#define CFG_API_KEYS_MAX 4096

/* What an API key or token must be: 8..4096 visible ASCII characters (it
 * travels in an HTTP header). Never quotes the secret. */
static int check_secret(struct ctx *c, const yaml_node_t *n, const char *what, const char *src, const char *s,
                        size_t len) {
        if (len == 0)
                return cfg_errf(c, n, "%s: %s is empty", what, src);
        if (memchr(s, 0, len))
                return cfg_errf(c, n, "%s: %s contains a NUL byte", what, src);
        if (len < CFG_SECRET_MIN)
                return cfg_errf(c, n, "%s: %s is shorter than %d bytes", what, src, CFG_SECRET_MIN);
        if (len > CFG_SECRET_MAX)
                return cfg_errf(c, n, "%s: %s is longer than %d bytes", what, src, CFG_SECRET_MAX);
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
                        return cfg_errf(c, n,
                                        "%s: %s contains a space, control or non-ASCII character (a key "
                                        "is sent in an HTTP header: visible ASCII only)",
                                        what, src);
        return 0;
}

/* The secret of a *_env or *_file key into buf (CFG_SECRET_MAX + 2 bytes,
 * wiped by the caller): the variable's value, or the file's first line
 * without trailing whitespace. */
static int read_secret(struct ctx *c, const yaml_node_t *k, const yaml_node_t *v, const char *what, char *buf,
                       size_t *ret_len) {
        char src[600], *path = NULL, *nl;
        const size_t cap = CFG_SECRET_MAX + 2;
        size_t len = 0;
        struct stat st;
        ssize_t got;
        int r, fd;

        if (slen(k) > 4 && memcmp(sval(k) + slen(k) - 4, "_env", 4) == 0) {
                char *name = NULL;
                const char *val;

                r = get_env_name(c, v, what, &name);
                if (r < 0)
                        return r;
                val = getenv(name);
                snprintf(src, sizeof src, "environment variable %s", name);
                free(name);
                if (!val)
                        return cfg_errf(c, v, "%s: %s is not set", what, src);
                len = strlen(val);
                r = check_secret(c, v, what, src, val, len);
                if (r < 0)
                        return r;
                memcpy(buf, val, len);
                *ret_len = len;
                return 0;
        }
        r = cfg_get_path(c, v, what, &path);
        if (r < 0)
                return r;
        snprintf(src, sizeof src, "file '%s'", path);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        free(path);
        if (fd < 0)
                return cfg_errf(c, v, "%s: cannot read %s: %s", what, src, strerror(errno));
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return cfg_errf(c, v, "%s: %s is not a regular file", what, src);
        }
        while (len < cap && (got = read(fd, buf + len, cap - len)) != 0) {
                if (got < 0 && errno == EINTR)
                        continue;
                if (got < 0) {
                        r = errno;
                        close(fd);
                        return cfg_errf(c, v, "%s: cannot read %s: %s", what, src, strerror(r));
                }
                len += (size_t)got;
                if (memchr(buf, '\n', len))
                        break;
        }
        close(fd);
        nl = memchr(buf, '\n', len);
        if (nl)
                len = (size_t)(nl - buf);
        while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t' || buf[len - 1] == '\r'))
                len--;
        r = check_secret(c, v, what, src, buf, len);
        if (r < 0)
                return r;
        *ret_len = len;
        return 0;
}

static int sha256(const void *p, size_t len, uint8_t out[32]) {
        unsigned int n = 0;

        return EVP_Digest(p, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -EIO;
}

static int hex_digest(struct ctx *c, const yaml_node_t *v, const char *what, uint8_t out[32]) {
        if (v->type != YAML_SCALAR_NODE || is_null(v) || slen(v) != 64)
                return cfg_errf(c, v,
                                "%s: expected 64 hexadecimal digits (the SHA-256 of the key, e.g. "
                                "printf %%s KEY | sha256sum)",
                                what);
        for (size_t i = 0; i < 64; i++) {
                char ch = sval(v)[i];
                int d = ch >= '0' && ch <= '9'   ? ch - '0'
                        : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                        : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                 : -1;

                if (d < 0)
                        return cfg_errf(c, v, "%s: expected 64 hexadecimal digits, found '%c'", what,
                                        ch > 0x20 && ch < 0x7f ? ch : '?');
                out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | d : d << 4);
        }
        return 0;
}

/* One of KEY, KEY_env, KEY_file of mapping item (KEY "key" means key_sha256,
 * key_env, key_file): the node of the one given, NULL if none; more than one
 * is refused. */
static int one_source(struct ctx *c, const yaml_node_t *item, const char *what, const char *const keys[3],
                      const yaml_node_t **ret_key, const yaml_node_t **ret_val) {
        yaml_node_pair_t *p;

        *ret_key = *ret_val = NULL;
        for (p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top; p++) {
                const yaml_node_t *k = node_at(c, p->key);

                if (!scalar_is(k, keys[0]) && !scalar_is(k, keys[1]) && !scalar_is(k, keys[2]))
                        continue;
                if (*ret_key)
                        return cfg_errf(c, k, "%s: give one of %s, %s or %s, not both %s and %s", what, keys[0],
                                        keys[1], keys[2], sval(*ret_key), sval(k));
                *ret_key = k;
                *ret_val = node_at(c, p->value);
        }
        return 0;
}

static int parse_api_key(struct ctx *c, const yaml_node_t *item, const char *what, struct sy_api_key_cfg *key) {
        static const char *const sources[3] = { "key_sha256", "key_env", "key_file" };
        static const char *const known[] = { "name",   "key_sha256",          "key_env",           "key_file",
                                             "models", "requests_per_minute", "tokens_per_minute", NULL };
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *name = NULL, *sk, *sv;
        yaml_node_pair_t *pairs;
        char fw[160], b[72];
        size_t n, j;
        uint64_t u;
        int r;

        key->requests_per_minute = key->tokens_per_minute = -1;
        key->line = (unsigned)item->start_mark.line + 1;
        r = cfg_map_pairs(c, item, what, &pairs, &n);
        if (r < 0)
                return r;
        if (item->type != YAML_MAPPING_NODE)
                return cfg_errf(c, item, "%s: expected a mapping with name and key_sha256, key_env or key_file", what);
        for (j = 0; j < n; j++) {
                const yaml_node_t *k, *val;

                cfg_pair(c, &pairs[j], what, fw, sizeof fw, &k, &val);
                r = 0;
                if (!cfg_in_list(k, known)) {
                        r = cfg_errf(c, k,
                                     "unknown key '%s' in %s (known: name, key_sha256, key_env, key_file, "
                                     "models, requests_per_minute, tokens_per_minute)",
                                     cfg_show(k, b), what);
                } else if (scalar_is(k, "name")) {
                        name = val;
                        r = cfg_get_name(c, val, fw, NAME_MODEL, &key->name);
                } else if (scalar_is(k, "models")) {
                        r = cfg_get_name_list(c, val, fw, NAME_MODEL, SY_CFG_MAX_MODELS, &key->models, &key->n_models);
                        for (size_t m = 0; r == 0 && m < key->n_models; m++) {
                                if (cfg_model_by_name(cfg, key->models[m]))
                                        continue;
                                if (cfg->n_discovery == 0)
                                        r = cfg_errf(c, node_at(c, val->data.sequence.items.start[m]),
                                                     "%s: model '%s' is not served by any upstream", fw,
                                                     key->models[m]);
                                else
                                        r = cfg_warnf(c, node_at(c, val->data.sequence.items.start[m]),
                                                      "%s: model '%s' is not served by any upstream in the file "
                                                      "(discovery may find it)",
                                                      fw, key->models[m]);
                        }
                } else if (scalar_is(k, "requests_per_minute") || scalar_is(k, "tokens_per_minute")) {
                        r = cfg_get_uint(c, val, fw, 0, CFG_RATE_MAX, &u);
                        if (scalar_is(k, "requests_per_minute"))
                                key->requests_per_minute = (int64_t)u;
                        else
                                key->tokens_per_minute = (int64_t)u;
                }
                if (r < 0)
                        return r;
        }
        if (!name)
                return cfg_errf(c, item, "%s: missing 'name' (the client's id in logs and metrics)", what);
        for (j = 0; j < cfg->n_api_keys; j++)
                if (strcmp(cfg->api_keys[j].name, key->name) == 0)
                        return cfg_errf(c, name, "%s: duplicate API key name '%s' (first at line %u)", what, key->name,
                                        cfg->api_keys[j].line);
        r = one_source(c, item, what, sources, &sk, &sv);
        if (r < 0)
                return r;
        if (!sk)
                return cfg_errf(c, item, "%s: missing the key: give key_sha256, key_env or key_file", what);
        snprintf(fw, sizeof fw, "%s.%s", what, sval(sk));
        if (scalar_is(sk, "key_sha256")) {
                r = hex_digest(c, sv, fw, key->sha256);
        } else {
                char *buf = malloc(CFG_SECRET_MAX + 2);
                size_t len = 0;

                if (!buf)
                        return -ENOMEM;
                r = read_secret(c, sk, sv, fw, buf, &len);
                if (r == 0)
                        r = sha256(buf, len, key->sha256);
                explicit_bzero(buf, CFG_SECRET_MAX + 2);
                free(buf);
                if (r == -EIO)
                        r = cfg_errf(c, sv, "%s: SHA-256 (libcrypto) failed", fw);
        }
        if (r < 0)
                return r;
        for (j = 0; j < cfg->n_api_keys; j++)
                if (memcmp(cfg->api_keys[j].sha256, key->sha256, 32) == 0)
                        return cfg_errf(c, sv, "%s: the same key as '%s' (line %u); every key must be distinct", what,
                                        cfg->api_keys[j].name, cfg->api_keys[j].line);
        return 0;
}

int cfg_parse_auth(struct ctx *c) {
        static const char *const mt[3] = { "metrics_token", "metrics_token_env", "metrics_token_file" };
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *v = cfg_root_get(c, "auth"), *keys = NULL, *mk, *mv;
        yaml_node_item_t *items = NULL;
        yaml_node_pair_t *pairs;
        size_t n, i, n_items = 0;
        char b[72], what[48];
        int r;

        if (!v)
                return 0;
        r = cfg_map_pairs(c, v, "auth", &pairs, &n);
        if (r < 0)
                return r;
        for (i = 0; i < n; i++) {
                const yaml_node_t *k = node_at(c, pairs[i].key);

                if (scalar_is(k, "api_keys"))
                        keys = node_at(c, pairs[i].value);
                else if (!scalar_is(k, mt[0]) && !scalar_is(k, mt[1]) && !scalar_is(k, mt[2]))
                        return cfg_errf(c, k,
                                        "unknown key '%s' in auth (known: api_keys, metrics_token, "
                                        "metrics_token_env, metrics_token_file)",
                                        cfg_show(k, b));
        }
        if (keys) {
                r = CFG_SEQ_ARRAY(c, keys, "auth.api_keys", CFG_API_KEYS_MAX, "keys", false, &items, &n_items,
                                  cfg->api_keys);
                if (r < 0)
                        return r;
                for (i = 0; i < n_items; i++) {
                        struct sy_api_key_cfg key = { 0 };

                        snprintf(what, sizeof what, "auth.api_keys[%zu]", i);
                        r = parse_api_key(c, node_at(c, items[i]), what, &key);
                        if (r < 0) {
                                free(key.name);
                                cfg_free_strv(key.models, key.n_models);
                                return r;
                        }
                        cfg->api_keys[cfg->n_api_keys++] = key;
                }
        }
        r = v->type == YAML_MAPPING_NODE ? one_source(c, v, "auth", mt, &mk, &mv) : 0;
        if (r < 0 || v->type != YAML_MAPPING_NODE || !mk)
                return r;
        if (scalar_is(mk, "metrics_token")) {
                r = cfg_get_str(c, mv, "auth.metrics_token", CFG_SECRET_MAX, &cfg->metrics_token);
                if (r == 0)
                        r = check_secret(c, mv, "auth.metrics_token", "the token", cfg->metrics_token,
                                         strlen(cfg->metrics_token));
        } else {
                char *buf = malloc(CFG_SECRET_MAX + 2), fw[48];
                size_t len = 0;

                if (!buf)
                        return -ENOMEM;
                snprintf(fw, sizeof fw, "auth.%s", sval(mk));
                r = read_secret(c, mk, mv, fw, buf, &len);
                if (r == 0) {
                        cfg->metrics_token = strndup(buf, len);
                        r = cfg->metrics_token ? 0 : -ENOMEM;
                }
                explicit_bzero(buf, CFG_SECRET_MAX + 2);
                free(buf);
        }
        return r;
}

/* guard: and rate_limits: (field tables), and what no single key can say */
int cfg_parse_policy(struct ctx *c) {
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *g = cfg_root_get(c, "guard"), *rl = cfg_root_get(c, "rate_limits");
        const yaml_node_t *redis = cfg_map_get(c, rl, "redis"), *url = cfg_map_get(c, redis, "url"), *x;
        bool any_rpm, any_tpm;
        int r;

        r = cfg_parse_section(c, &guard_section);
        if (r >= 0)
                r = cfg_parse_section(c, &rate_limits_section);
        if (r < 0)
                return r;
        if ((x = cfg_map_get(c, g, "include_history")) && c->pg_history)
                return cfg_errf(c, x,
                                "guard.include_history: also given as prompt_guard.include_history "
                                "(line %zu); use one",
                                c->pg_history->start_mark.line + 1);
        if (url && ((x = cfg_map_get(c, redis, "host")) || (x = cfg_map_get(c, redis, "port"))))
                return cfg_errf(c, x, "rate_limits.redis: give url or host and port, not both");
        if (redis && !is_null(redis) && !cfg->rate_limits.redis.host)
                return cfg_errf(c, redis, "rate_limits.redis: missing host (or url: redis://host:port)");
#ifndef HAVE_HIREDIS
        if (redis && !is_null(redis))
                return cfg_errf(c, redis,
                                "rate_limits.redis: this switchyard was built without a Redis client "
                                "(hiredis); install libhiredis-dev and rebuild, or remove rate_limits.redis");
#endif
        if (cfg->rate_limits.redis.password_env && !getenv(cfg->rate_limits.redis.password_env))
                return cfg_errf(c, cfg_map_get(c, redis, "password_env"),
                                "rate_limits.redis.password_env: "
                                "environment variable %s is not set",
                                cfg->rate_limits.redis.password_env);
        any_rpm = cfg->rate_limits.requests_per_minute > 0;
        any_tpm = cfg->rate_limits.tokens_per_minute > 0;
        for (size_t i = 0; i < cfg->n_api_keys; i++) {
                any_rpm |= cfg->api_keys[i].requests_per_minute > 0;
                any_tpm |= cfg->api_keys[i].tokens_per_minute > 0;
        }
        if (cfg->rate_limits.burst_requests && !any_rpm)
                return cfg_errf(c, cfg_map_get(c, rl, "burst_requests"),
                                "rate_limits.burst_requests: no "
                                "requests_per_minute is set (here or on an API key), so it would mean nothing");
        if (cfg->rate_limits.burst_tokens && !any_tpm)
                return cfg_errf(c, cfg_map_get(c, rl, "burst_tokens"),
                                "rate_limits.burst_tokens: no "
                                "tokens_per_minute is set (here or on an API key), so it would mean nothing");
        if (redis && !is_null(redis) && !any_rpm && !any_tpm)
                return cfg_errf(c, redis,
                                "rate_limits.redis: no limit is set (requests_per_minute or "
                                "tokens_per_minute, here or on an API key), so Redis would not be used");
        return 0;
}

/* Guards that apply need the classifier to run with the heads they read:
 * a pii_policy that forbids a type needs PII detection, a category's
 * jailbreak_enabled: true the jailbreak head, even with prompt_guard off. */
int cfg_check_guards(struct ctx *c) {
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *jb = c->jb_needs ? c->jb_needs : cfg_root_get(c, "prompt_guard");
        bool classic;

        if (c->jb_needs)
                cfg->classifier.jailbreak_enabled = true; /* the head is loaded, prompt_guard on or off */
        if (!cfg->classifier.jailbreak_enabled && cfg->classifier.jailbreak.model_id) {
                /* a disabled prompt guard's checkpoint is not loaded */
                free(cfg->classifier.jailbreak.model_id);
                cfg->classifier.jailbreak.model_id = NULL;
                cfg->classifier.jailbreak.missing = false;
        }
        if (!c->pii_needs && !c->jb_needs && !cfg->classifier.jailbreak_block)
                return 0;
        if (c->clf_off && (c->pii_needs || c->jb_needs))
                return cfg_errf(c, c->pii_needs ? c->pii_needs : c->jb_needs,
                                "%s needs the classifier, but "
                                "classifier.enabled is false (line %zu)",
                                c->pii_needs ? "a pii_policy with allow_by_default: false" : "jailbreak_enabled: true",
                                c->clf_off->start_mark.line + 1);
        cfg->classifier.enabled = true;
        classic =
                cfg->classifier.category.model_id || cfg->classifier.pii.model_id || cfg->classifier.jailbreak.model_id;
        if (cfg->classifier.model || !classic)
                return 0; /* the multi-head model: every head */
        /* classic single-head checkpoints only (classifier/daemon.c loads the
         * multi-head model only without them): each guard needs its own */
        if (c->pii_needs && !cfg->classifier.pii.model_id)
                return cfg_errf(c, c->pii_needs,
                                "a pii_policy with allow_by_default: false needs PII detection: "
                                "the classifier has classic checkpoints but no classifier.pii_model.model_id (give "
                                "one, or classifier.model)");
        if ((c->jb_needs || cfg->classifier.jailbreak_block) && !cfg->classifier.jailbreak.model_id)
                return cfg_errf(c, jb,
                                "the jailbreak guard needs a jailbreak model: the classifier has classic "
                                "checkpoints but no prompt_guard.model_id (give one, or classifier.model)");
        return 0;
}
