/* The YAML side of the configuration loader: messages with
 * file:line:col, node walking (mappings, sequences), typed getters for
 * scalars (strings, names, integers, durations, sizes, booleans, numbers,
 * hosts, URLs, paths), name lists, and the field-table engine the fixed
 * sections use. Shared through common/config-internal.h. */
#include "common/config-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- messages ---------------------------------------------------------- */

static int vformat(char *buf, size_t cap, const char *name, const yaml_node_t *n, const char *fmt, va_list ap)
        __attribute__((format(printf, 5, 0)));
static int vformat(char *buf, size_t cap, const char *name, const yaml_node_t *n, const char *fmt, va_list ap) {
        int k;

        if (n)
                k = snprintf(buf, cap, "%s:%zu:%zu: ", name, n->start_mark.line + 1, n->start_mark.column + 1);
        else
                k = snprintf(buf, cap, "%s: ", name);
        if (k < 0 || (size_t)k >= cap)
                return k;
        return vsnprintf(buf + k, cap - k, fmt, ap);
}

int cfg_errf(struct ctx *c, const yaml_node_t *n, const char *fmt, ...) {
        va_list ap;

        if (c->err && c->errlen > 0) {
                va_start(ap, fmt);
                vformat(c->err, c->errlen, c->name, n, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

int cfg_warnf(struct ctx *c, const yaml_node_t *n, const char *fmt, ...) {
        struct sy_config *cfg = c->cfg;
        char buf[512];
        char *s, **v;
        va_list ap;

        if (cfg->n_warnings >= CFG_WARNINGS_MAX)
                return 0;
        if (cfg->n_warnings == CFG_WARNINGS_MAX - 1) {
                snprintf(buf, sizeof buf, "%s: further warnings omitted", c->name);
        } else {
                va_start(ap, fmt);
                vformat(buf, sizeof buf, c->name, n, fmt, ap);
                va_end(ap);
        }
        s = strdup(buf);
        if (!s)
                return -ENOMEM;
        v = realloc(cfg->warnings, (cfg->n_warnings + 1) * sizeof *v);
        if (!v) {
                free(s);
                return -ENOMEM;
        }
        v[cfg->n_warnings++] = s;
        cfg->warnings = v;
        return 0;
}

int cfg_unsupportedf(struct ctx *c, const yaml_node_t *n, const char *fmt, ...) {
        char msg[400];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (c->allow_unsupported)
                return cfg_warnf(c, n, "%s; ignored (--allow-unsupported)", msg);
        return cfg_errf(c, n,
                        "%s; refused: switchyard would not use it (remove it, or run with --allow-unsupported "
                        "to load the rest with a warning for each such key)",
                        msg);
}

/* A short printable rendering of a node for messages. */
const char *cfg_show(const yaml_node_t *n, char buf[static 72]) {
        size_t i, len;
        const unsigned char *s;

        if (n->type == YAML_MAPPING_NODE)
                return "a mapping";
        if (n->type == YAML_SEQUENCE_NODE)
                return "a sequence";
        s = n->data.scalar.value;
        len = n->data.scalar.length;
        for (i = 0; i < len && i < 64; i++)
                buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
        if (len > 64) {
                memcpy(buf + 61, "...", 3);
                i = 64;
        }
        buf[i] = 0;
        return buf;
}

/* ---- nodes ------------------------------------------------------------- */

const char *cfg_kind_of(const yaml_node_t *n) {
        if (n->type == YAML_MAPPING_NODE)
                return "a mapping";
        if (n->type == YAML_SEQUENCE_NODE)
                return "a sequence";
        if (is_null(n))
                return "nothing (null)";
        return is_plain(n) ? "a scalar" : "a quoted string";
}

bool cfg_in_list(const yaml_node_t *k, const char *const *list) {
        for (; *list; list++)
                if (scalar_is(k, *list))
                        return true;
        return false;
}

/* Keys that look like guard settings: never merely warned about, since a
 * misspelt one would leave a policy silently unenforced. */
bool cfg_policy_like(const yaml_node_t *k) {
        static const char *const words[] = { "pii", "jailbreak", "guard", "allow", "block", NULL };
        char low[72];
        size_t i, len = slen(k) < sizeof low - 1 ? slen(k) : sizeof low - 1;

        for (i = 0; i < len; i++)
                low[i] = (char)((sval(k)[i] >= 'A' && sval(k)[i] <= 'Z') ? sval(k)[i] + 32 : sval(k)[i]);
        low[len] = 0;
        for (i = 0; words[i]; i++)
                if (strstr(low, words[i]))
                        return true;
        return false;
}

/* A key switchyard does not use in a lenient (classic) mapping: a warning,
 * or an error when it looks like a guard setting. */
int cfg_unused_key(struct ctx *c, const yaml_node_t *k, const char *what) {
        char b[72];

        if (cfg_policy_like(k))
                return cfg_errf(c, k,
                                "%s: unknown key '%s' looks like a guard setting; switchyard would not "
                                "enforce it, so it is refused (see config/switchyard.example.yaml)",
                                what, cfg_show(k, b));
        return cfg_unsupportedf(c, k, "%s: key '%s' is not used by switchyard", what, cfg_show(k, b));
}

/* The pairs of a mapping that switchyard walks: null counts as empty,
 * keys must be scalars and unique. */
int cfg_map_pairs(struct ctx *c, const yaml_node_t *n, const char *what, yaml_node_pair_t **ret_pairs, size_t *ret_n) {
        yaml_node_pair_t *p, *q, *start, *top;
        char b[72];

        if (is_null(n)) {
                *ret_pairs = NULL;
                *ret_n = 0;
                return 0;
        }
        if (n->type != YAML_MAPPING_NODE)
                return cfg_errf(c, n, "%s: expected a mapping, got %s", what, cfg_kind_of(n));
        start = n->data.mapping.pairs.start;
        top = n->data.mapping.pairs.top;
        if ((size_t)(top - start) > CFG_MAP_MAX)
                return cfg_errf(c, n, "%s: more than %u keys", what, CFG_MAP_MAX);
        for (p = start; p < top; p++) {
                const yaml_node_t *k = node_at(c, p->key);

                if (k->type != YAML_SCALAR_NODE)
                        return cfg_errf(c, k, "%s: keys must be scalars, got %s", what, cfg_kind_of(k));
                for (q = start; q < p; q++) {
                        const yaml_node_t *k2 = node_at(c, q->key);

                        if (k2->type == YAML_SCALAR_NODE && slen(k2) == slen(k) &&
                            memcmp(sval(k2), sval(k), slen(k)) == 0)
                                return cfg_errf(c, k, "%s: duplicate key '%s' (first at line %zu)", what,
                                                cfg_show(k, b), k2->start_mark.line + 1);
                }
        }
        *ret_pairs = start;
        *ret_n = (size_t)(top - start);
        return 0;
}

int cfg_seq_array(struct ctx *c, const yaml_node_t *v, const char *what, size_t max, const char *many, bool at_extra,
                  size_t size, yaml_node_item_t **ret_items, size_t *ret_n, void **ret_arr) {
        int r = cfg_seq_items(c, v, what, ret_items, ret_n);

        if (r < 0)
                return r;
        if (*ret_n > max)
                return cfg_errf(c, at_extra ? node_at(c, (*ret_items)[max]) : v, "%s: more than %zu %s", what, max,
                                many);
        *ret_arr = calloc(*ret_n ? *ret_n : 1, size);
        return *ret_arr ? 0 : -ENOMEM;
}

int cfg_seq_items(struct ctx *c, const yaml_node_t *n, const char *what, yaml_node_item_t **ret_items, size_t *ret_n) {
        if (is_null(n)) {
                *ret_items = NULL;
                *ret_n = 0;
                return 0;
        }
        if (n->type != YAML_SEQUENCE_NODE)
                return cfg_errf(c, n, "%s: expected a list, got %s", what, cfg_kind_of(n));
        *ret_items = n->data.sequence.items.start;
        *ret_n = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        return 0;
}

void cfg_pair(struct ctx *c, const yaml_node_pair_t *p, const char *prefix, char *fw, size_t fwlen,
              const yaml_node_t **ret_key, const yaml_node_t **ret_val) {
        char b[72];

        *ret_key = node_at(c, p->key);
        *ret_val = node_at(c, p->value);
        snprintf(fw, fwlen, "%s.%s", prefix, cfg_show(*ret_key, b));
}

/* Value of key in a mapping node (NULL if absent or not a mapping). */
const yaml_node_t *cfg_map_get(struct ctx *c, const yaml_node_t *m, const char *key) {
        yaml_node_pair_t *p;

        if (!m || m->type != YAML_MAPPING_NODE)
                return NULL;
        for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++)
                if (scalar_is(node_at(c, p->key), key))
                        return node_at(c, p->value);
        return NULL;
}

const yaml_node_t *cfg_root_get(struct ctx *c, const char *key) {
        return cfg_map_get(c, c->root, key);
}

/* ---- scalars ----------------------------------------------------------- */

int cfg_get_str(struct ctx *c, const yaml_node_t *n, const char *what, size_t max, char **ret) {
        char *s;

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return cfg_errf(c, n, "%s: expected a string, got %s", what, cfg_kind_of(n));
        if (memchr(sval(n), 0, slen(n)))
                return cfg_errf(c, n, "%s: contains a NUL character", what);
        if (slen(n) > max)
                return cfg_errf(c, n, "%s: longer than %zu bytes", what, max);
        s = strndup(sval(n), slen(n));
        if (!s)
                return -ENOMEM;
        free(*ret);
        *ret = s;
        return 0;
}

bool cfg_name_ok(const char *s, size_t len, enum name_kind kind) {
        size_t i;

        if (kind == NAME_CATEGORY && (s[0] == ' ' || s[len - 1] == ' '))
                return false;
        for (i = 0; i < len; i++) {
                unsigned char ch = (unsigned char)s[i];

                switch (kind) {
                case NAME_ENGINE:
                        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
                                return false;
                        break;
                case NAME_CATEGORY:
                        if (ch == ' ')
                                break;
                        /* fall through */
                case NAME_MODEL:
                        if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
                                return false;
                        break;
                }
        }
        return true;
}

int cfg_get_name(struct ctx *c, const yaml_node_t *n, const char *what, enum name_kind kind, char **ret) {
        char b[72];

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return cfg_errf(c, n, "%s: expected a name, got %s", what, cfg_kind_of(n));
        if (slen(n) == 0)
                return cfg_errf(c, n, "%s: must not be empty", what);
        if (slen(n) > SY_CFG_NAME_MAX)
                return cfg_errf(c, n, "%s: '%s' is longer than %d characters", what, cfg_show(n, b), SY_CFG_NAME_MAX);
        if (memchr(sval(n), 0, slen(n)) || !cfg_name_ok(sval(n), slen(n), kind)) {
                switch (kind) {
                case NAME_ENGINE:
                        return cfg_errf(c, n,
                                        "%s: '%s' is not a valid engine name (lower-case "
                                        "letters, digits, '_' and '-' only)",
                                        what, cfg_show(n, b));
                case NAME_CATEGORY:
                        return cfg_errf(c, n,
                                        "%s: '%s' is not a valid category name (printable "
                                        "ASCII, no quotes or backslashes)",
                                        what, cfg_show(n, b));
                case NAME_MODEL:
                        break;
                }
                return cfg_errf(c, n,
                                "%s: '%s' is not a valid name (printable ASCII without "
                                "spaces, quotes or backslashes)",
                                what, cfg_show(n, b));
        }
        return cfg_get_str(c, n, what, SY_CFG_NAME_MAX, ret);
}

bool cfg_env_name_ok(const char *s, size_t len, size_t max) {
        if (len == 0 || len > max || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                      s[i] == '_'))
                        return false;
        return true;
}

bool cfg_all_digits(const char *s, size_t len) {
        size_t i;

        if (len == 0)
                return false;
        for (i = 0; i < len; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

/* Decimal digits into *ret; -ERANGE on overflow. */
int cfg_digits_u64(const char *s, size_t len, uint64_t *ret) {
        uint64_t v = 0;
        size_t i;

        for (i = 0; i < len; i++)
                if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
                        return -ERANGE;
        *ret = v;
        return 0;
}

/* Common checks for numeric scalars; returns 1 if the text is a bare
 * integer (which must then be a plain scalar), 0 otherwise. */
static int numeric_prologue(struct ctx *c, const yaml_node_t *n, const char *what, const char *expect) {
        char b[72];

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return cfg_errf(c, n, "%s: expected %s, got %s", what, expect, cfg_kind_of(n));
        if (slen(n) > 0 && sval(n)[0] == '-' && slen(n) > 1 && (cfg_all_digits(sval(n) + 1, 1) || sval(n)[1] == '.'))
                return cfg_errf(c, n, "%s: must not be negative, got %s", what, cfg_show(n, b));
        if (!cfg_all_digits(sval(n), slen(n)))
                return 0;
        if (!is_plain(n))
                return cfg_errf(c, n, "%s: expected %s, got a quoted string \"%s\"", what, expect, cfg_show(n, b));
        if (slen(n) > 1 && sval(n)[0] == '0')
                return cfg_errf(c, n, "%s: leading zeros are not allowed in \"%s\"", what, cfg_show(n, b));
        return 1;
}

int cfg_get_uint(struct ctx *c, const yaml_node_t *n, const char *what, uint64_t min, uint64_t max, uint64_t *ret) {
        char b[72];
        uint64_t v;
        int r;

        r = numeric_prologue(c, n, what, "an integer");
        if (r < 0)
                return r;
        if (r == 0)
                return cfg_errf(c, n, "%s: expected an integer, got \"%s\"", what, cfg_show(n, b));
        if (cfg_digits_u64(sval(n), slen(n), &v) < 0 || v < min || v > max)
                return cfg_errf(c, n, "%s: %s is out of range (%llu..%llu)", what, cfg_show(n, b),
                                (unsigned long long)min, (unsigned long long)max);
        *ret = v;
        return 0;
}

int cfg_get_duration(struct ctx *c, const yaml_node_t *n, const char *what, uint64_t unit_ns, uint64_t min,
                     uint64_t max, uint64_t *ret) {
        const char *unit = unit_ns == NS_PER_US ? "us" : "ms";
        const char *units = unit_ns == NS_PER_US ? "microseconds" : "milliseconds";
        int r = numeric_prologue(c, n, what, "a duration");
        char b[72];
        uint64_t v;

        if (r < 0)
                return r;
        r = sy_config_parse_duration(sval(n), slen(n), unit_ns, &v);
        if (r == -EDOM)
                return cfg_errf(c, n, "%s: \"%s\" is not a whole number of %s", what, cfg_show(n, b), units);
        if (r == -EINVAL)
                return cfg_errf(c, n,
                                "%s: expected a duration such as \"250ms\", \"2s\" or \"1m\", "
                                "or an integer number of %s, got \"%s\"",
                                what, units, cfg_show(n, b));
        if (r < 0 || v < min || v > max)
                return cfg_errf(c, n, "%s: %s is out of range (%llu%s..%llu%s)", what, cfg_show(n, b),
                                (unsigned long long)min, unit, (unsigned long long)max, unit);
        *ret = v;
        return 0;
}

/* Sizes in bytes: an integer, or an integer with KiB, MiB or GiB. */
int cfg_get_size(struct ctx *c, const yaml_node_t *n, const char *what, uint64_t min, uint64_t max, uint64_t *ret) {
        static const struct {
                const char *sfx;
                unsigned shift;
        } sfx[] = {
                { "KiB", 10 },
                { "MiB", 20 },
                { "GiB", 30 },
        };
        const char *s;
        char b[72];
        size_t len, i, nd;
        uint64_t v;
        int r;

        r = numeric_prologue(c, n, what, "a size in bytes");
        if (r < 0)
                return r;
        s = sval(n);
        len = slen(n);
        for (nd = 0; nd < len && s[nd] >= '0' && s[nd] <= '9'; nd++)
                ;
        if (nd == 0)
                goto bad;
        if (cfg_digits_u64(s, nd, &v) < 0)
                goto range;
        if (nd < len) {
                for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++)
                        if (text_is(s + nd, len - nd, sfx[i].sfx))
                                break;
                if (i == sizeof sfx / sizeof sfx[0])
                        goto bad;
                if (v > (UINT64_MAX >> sfx[i].shift))
                        goto range;
                v <<= sfx[i].shift;
        }
        if (v < min || v > max)
                goto range;
        *ret = v;
        return 0;
bad:
        return cfg_errf(c, n,
                        "%s: expected a size such as 65536 or \"64KiB\" (KiB, MiB, GiB), "
                        "got \"%s\"",
                        what, cfg_show(n, b));
range:
        return cfg_errf(c, n, "%s: %s is out of range (%llu..%llu bytes)", what, cfg_show(n, b),
                        (unsigned long long)min, (unsigned long long)max);
}

int cfg_get_bool(struct ctx *c, const yaml_node_t *n, const char *what, bool *ret) {
        static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL };
        static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL };
        char b[72];

        if (is_plain(n) && cfg_in_list(n, yes)) {
                *ret = true;
                return 0;
        }
        if (is_plain(n) && cfg_in_list(n, no)) {
                *ret = false;
                return 0;
        }
        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return cfg_errf(c, n, "%s: expected true or false, got %s", what, cfg_kind_of(n));
        return cfg_errf(c, n, "%s: expected true or false, got \"%s\"", what, cfg_show(n, b));
}

int cfg_get_double(struct ctx *c, const yaml_node_t *n, const char *what, double min, double max, double *ret) {
        char buf[64], b[72], *end;
        size_t i, len;
        double v;

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return cfg_errf(c, n, "%s: expected a number, got %s", what, cfg_kind_of(n));
        len = slen(n);
        if (!is_plain(n) || len == 0 || len >= sizeof buf)
                goto bad;
        for (i = 0; i < len; i++) {
                char ch = sval(n)[i];

                if (!((ch >= '0' && ch <= '9') || ch == '.' || ch == 'e' || ch == 'E' || ch == '+' || ch == '-'))
                        goto bad;
        }
        memcpy(buf, sval(n), len);
        buf[len] = 0;
        errno = 0;
        v = strtod(buf, &end);
        if (end != buf + len || errno != 0 || !isfinite(v))
                goto bad;
        if (v < min || v > max)
                return cfg_errf(c, n, "%s: %s is out of range (%g..%g)", what, cfg_show(n, b), min, max);
        *ret = v;
        return 0;
bad:
        return cfg_errf(c, n, "%s: expected a number, got \"%s\"", what, cfg_show(n, b));
}

/* ---- durations --------------------------------------------------------- */

int sy_config_parse_duration(const char *s, size_t len, uint64_t unit_ns, uint64_t *ret_value) {
        static const struct {
                const char *name;
                uint64_t ns;
        } units[] = {
                /* "ms" before "m", so "250ms" is not read as 250 minutes and an "s" */
                { "ns", 1 },       { "us", NS_PER_US },    { "\xc2\xb5s", NS_PER_US }, { "ms", NS_PER_MS },
                { "s", NS_PER_S }, { "m", 60 * NS_PER_S }, { "h", 3600 * NS_PER_S },
        };
        uint64_t total = 0, v;
        size_t i = 0;

        if (!s || len == 0 || unit_ns == 0)
                return -EINVAL;
        if (cfg_all_digits(s, len)) {
                if (cfg_digits_u64(s, len, &v) < 0)
                        return -ERANGE;
                *ret_value = v;
                return 0;
        }
        while (i < len) {
                uint64_t whole = 0, frac = 0, den = 1, unit = 0, part;
                size_t nd = 0, nf = 0, u;

                for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, nd++)
                        if (__builtin_mul_overflow(whole, 10, &whole) ||
                            __builtin_add_overflow(whole, (uint64_t)(s[i] - '0'), &whole))
                                return -ERANGE;
                if (i < len && s[i] == '.') {
                        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nf++) {
                                if (nf >= 9)
                                        return -EINVAL;
                                frac = frac * 10 + (uint64_t)(s[i] - '0');
                                den *= 10;
                        }
                        if (nf == 0)
                                return -EINVAL;
                }
                if (nd == 0 && nf == 0)
                        return -EINVAL;
                for (u = 0; u < sizeof units / sizeof units[0]; u++) {
                        size_t ul = strlen(units[u].name);

                        if (len - i >= ul && memcmp(s + i, units[u].name, ul) == 0) {
                                unit = units[u].ns;
                                i += ul;
                                break;
                        }
                }
                if (unit == 0)
                        return -EINVAL;
                if (__builtin_mul_overflow(whole, unit, &part))
                        return -ERANGE;
                if (frac) {
                        unsigned __int128 f = (unsigned __int128)frac * unit;

                        if (f % den != 0)
                                return -EDOM;
                        /* frac < den, so f / den < unit: fits in 64 bits */
                        if (__builtin_add_overflow(part, (uint64_t)(f / den), &part))
                                return -ERANGE;
                }
                if (__builtin_add_overflow(total, part, &total))
                        return -ERANGE;
        }
        if (total % unit_ns != 0)
                return -EDOM;
        *ret_value = total / unit_ns;
        return 0;
}

/* ---- hosts and urls ---------------------------------------------------- */

bool cfg_host_ok(const char *s, size_t len) {
        char buf[64];
        unsigned char a6[16];
        size_t i, label = 0;

        if (len == 0 || len > CFG_HOST_MAX)
                return false;
        if (memchr(s, ':', len)) { /* IPv6 literal, optional %zone */
                const char *pct = memchr(s, '%', len);
                size_t alen = pct ? (size_t)(pct - s) : len;

                if (alen >= sizeof buf)
                        return false;
                if (pct && (size_t)(pct - s) + 1 == len)
                        return false;
                for (i = alen + 1; pct && i < len; i++)
                        if (!cfg_name_ok(s + i, 1, NAME_MODEL) || s[i] == '/' || s[i] == ']')
                                return false;
                memcpy(buf, s, alen);
                buf[alen] = 0;
                return inet_pton(AF_INET6, buf, a6) == 1;
        }
        for (i = 0; i < len; i++) {
                char ch = s[i];

                if (ch == '.') {
                        if (label == 0)
                                return false;
                        label = 0;
                        continue;
                }
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                      ch == '_'))
                        return false;
                if (++label > 63)
                        return false;
        }
        return true;
}

/* What follows the scheme of a URL (h to end): host[:port][/] and nothing
 * else, the host an IP literal in brackets or a name. The host without
 * its brackets; *ret_port only when a port is there. */
enum url_fault cfg_url_host_port(const char *h, const char *end, const char **ret_host, size_t *ret_len,
                                 uint16_t *ret_port) {
        const char *he, *p;
        uint64_t port = 0;

        if (h < end && *h == '[') {
                he = memchr(h, ']', (size_t)(end - h));
                if (!he)
                        return URL_FORM;
                p = he + 1;
                h++;
        } else {
                for (he = h; he < end && *he != ':' && *he != '/'; he++)
                        ;
                p = he;
        }
        if (!cfg_host_ok(h, (size_t)(he - h)))
                return URL_HOST;
        if (p < end && *p == ':') {
                const char *ps = ++p;

                while (p < end && *p >= '0' && *p <= '9')
                        p++;
                if (p == ps || cfg_digits_u64(ps, (size_t)(p - ps), &port) < 0 || port < 1 || port > 65535)
                        return URL_PORT;
        }
        if (p < end && *p == '/')
                p++;
        if (p != end)
                return URL_FORM;
        *ret_host = h;
        *ret_len = (size_t)(he - h);
        if (port)
                *ret_port = (uint16_t)port;
        return URL_OK;
}

int cfg_url_scheme(struct ctx *c, const yaml_node_t *n, const char *what, const char *scheme, const char **ret_rest) {
        size_t sl = strlen(scheme);
        char b[72];

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return cfg_errf(c, n, "%s: expected a URL, got %s", what, cfg_kind_of(n));
        if (slen(n) < sl || strncasecmp(sval(n), scheme, sl) != 0 || memchr(sval(n), 0, slen(n)))
                return cfg_errf(c, n, "%s: \"%s\" is not a URL of the form %shost[:port]", what, cfg_show(n, b),
                                scheme);
        *ret_rest = sval(n) + sl;
        return 0;
}

/* http://host[:port][/] -> host, port (80 if absent). */
int cfg_parse_url(struct ctx *c, const yaml_node_t *n, const char *what, char **ret_host, uint16_t *ret_port) {
        const char *rest, *h;
        char b[72];
        uint16_t port = 80;
        size_t hl = 0;
        int r;

        if (n->type == YAML_SCALAR_NODE && !is_null(n) && memchr(sval(n), 0, slen(n)))
                return cfg_errf(c, n, "%s: contains a NUL character", what);
        if (n->type == YAML_SCALAR_NODE && slen(n) >= 8 && strncasecmp(sval(n), "https://", 8) == 0)
                return cfg_errf(c, n,
                                "%s: https upstreams are not supported yet (no TLS to "
                                "upstreams); use http://host:port",
                                what);
        r = cfg_url_scheme(c, n, what, "http://", &rest);
        if (r < 0)
                return r;
        switch (cfg_url_host_port(rest, sval(n) + slen(n), &h, &hl, &port)) {
        case URL_OK:
                break;
        case URL_HOST:
                return cfg_errf(c, n, "%s: \"%s\" does not name a valid host", what, cfg_show(n, b));
        case URL_PORT:
                return cfg_errf(c, n, "%s: \"%s\" has an invalid port (1..65535)", what, cfg_show(n, b));
        case URL_FORM:
                return cfg_errf(c, n,
                                "%s: \"%s\" is not a URL of the form http://host[:port] (no path, "
                                "query or user info)",
                                what, cfg_show(n, b));
        }
        return cfg_set_host_port(h, hl, port, ret_host, ret_port);
}

int cfg_set_host_port(const char *host, size_t len, uint16_t port, char **ret_host, uint16_t *ret_port) {
        char *s = strndup(host, len);

        if (!s)
                return -ENOMEM;
        free(*ret_host);
        *ret_host = s;
        *ret_port = port;
        return 0;
}

int sy_config_parse_http_url(const char *url, char **ret_host, uint16_t *ret_port) {
        const char *h;
        uint16_t port = 80;
        size_t hl = 0;
        char *host;

        if (!url || strncasecmp(url, "http://", 7) != 0 ||
            cfg_url_host_port(url + 7, url + strlen(url), &h, &hl, &port) != URL_OK)
                return -EINVAL;
        host = strndup(h, hl);
        if (!host)
                return -ENOMEM;
        *ret_host = host;
        *ret_port = port;
        return 0;
}

bool sy_config_host_ok(const char *s) {
        return s && cfg_host_ok(s, strlen(s));
}

bool sy_config_name_ok(const char *s) {
        size_t n = s ? strlen(s) : 0;

        return n > 0 && n <= SY_CFG_NAME_MAX && cfg_name_ok(s, n, NAME_MODEL);
}

bool sy_config_engine_ok(const char *s) {
        size_t n = s ? strlen(s) : 0;

        return n > 0 && n <= SY_CFG_NAME_MAX && cfg_name_ok(s, n, NAME_ENGINE);
}

int cfg_get_host(struct ctx *c, const yaml_node_t *n, const char *what, char **ret) {
        char b[72];

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return cfg_errf(c, n, "%s: expected a host name or IP address, got %s", what, cfg_kind_of(n));
        if (memmem(sval(n), slen(n), "://", 3))
                return cfg_errf(c, n, "%s: expected a host name or IP address, not a URL (\"%s\")", what,
                                cfg_show(n, b));
        if (memchr(sval(n), 0, slen(n)) || !cfg_host_ok(sval(n), slen(n)))
                return cfg_errf(c, n, "%s: \"%s\" is not a valid host name or IP address", what, cfg_show(n, b));
        return cfg_get_str(c, n, what, CFG_HOST_MAX, ret);
}

/* ---- string lists ------------------------------------------------------ */

int cfg_push_str(char ***arr, size_t *n, char *s) {
        char **v = realloc(*arr, (*n + 1) * sizeof *v);

        if (!v)
                return -ENOMEM;
        v[(*n)++] = s;
        *arr = v;
        return 0;
}

int cfg_push_dup(char ***arr, size_t *n, const char *s) {
        char *d = strdup(s);
        int r = d ? cfg_push_str(arr, n, d) : -ENOMEM;

        if (r < 0)
                free(d);
        return r;
}

ssize_t cfg_str_index(char *const *arr, size_t n, const char *s) {
        size_t i;

        for (i = 0; i < n; i++)
                if (strcmp(arr[i], s) == 0)
                        return (ssize_t)i;
        return -1;
}

/* A list of unique names appended to *arr. */
int cfg_get_name_list(struct ctx *c, const yaml_node_t *n, const char *what, enum name_kind kind, size_t max,
                      char ***arr, size_t *n_arr) {
        yaml_node_item_t *items = NULL;
        size_t n_items = 0, i;
        char b[72];
        int r;

        r = cfg_seq_items(c, n, what, &items, &n_items);
        if (r < 0)
                return r;
        for (i = 0; i < n_items; i++) {
                const yaml_node_t *it = node_at(c, items[i]);
                char *s = NULL;

                if (*n_arr >= max)
                        return cfg_errf(c, it, "%s: more than %zu entries", what, max);
                r = cfg_get_name(c, it, what, kind, &s);
                if (r < 0)
                        return r;
                if (cfg_str_index(*arr, *n_arr, s) >= 0) {
                        free(s);
                        return cfg_errf(c, it, "%s: '%s' is listed twice", what, cfg_show(it, b));
                }
                r = cfg_push_str(arr, n_arr, s);
                if (r < 0) {
                        free(s);
                        return r;
                }
        }
        return 0;
}

/* ---- paths -------------------------------------------------------------- */

/* A classic model_id: a directory, relative ones against the config file's
 * directory. switchyard never downloads: an id that is not a directory
 * here (a hub id such as "org/name", or a path not there yet) is kept,
 * marked missing, and warned about; the classifier process refuses to
 * start with it (frontend and router do not need it). */
int cfg_get_path(struct ctx *c, const yaml_node_t *v, const char *what, char **ret) {
        const char *slash = strrchr(c->name, '/');
        char *s = NULL, *full;
        int r;

        r = cfg_get_str(c, v, what, 4000, &s);
        if (r < 0)
                return r;
        if (!s[0]) {
                free(s);
                return cfg_errf(c, v, "%s: must not be empty", what);
        }
        if (s[0] != '/' && slash) {
                if (asprintf(&full, "%.*s/%s", (int)(slash - c->name), c->name, s) < 0) {
                        free(s);
                        return -ENOMEM;
                }
                free(s);
                s = full;
        }
        free(*ret);
        *ret = s;
        return 0;
}


void cfg_free_strv(char **v, size_t n) {
        size_t i;

        for (i = 0; i < n; i++)
                free(v[i]);
        free(v);
}


/* ---- field tables ------------------------------------------------------ */

static int parse_field(struct ctx *c, const struct cfg_field *f, const char *sect, const yaml_node_t *v) {
        void *p = (char *)c->cfg + f->off;
        char what[64], b[72];
        uint64_t u = 0;
        int r;

        snprintf(what, sizeof what, "%s.%s", sect, f->key);
        switch (f->type) {
        case FT_HOST:
                return cfg_get_host(c, v, what, (char **)p);
        case FT_DOUBLE:
                return cfg_get_double(c, v, what, (double)f->min, (double)f->max, (double *)p);
        case FT_BOOL:
                return cfg_get_bool(c, v, what, (bool *)p);
        case FT_MAP:
                return cfg_parse_fields(c, f->sub, v);
        case FT_FUNC:
                return f->fn(c, v, what, p);
        case FT_U16:
        case FT_UINT:
                r = cfg_get_uint(c, v, what, f->min, f->max, &u);
                break;
        case FT_SIZE:
        case FT_POW2:
                r = cfg_get_size(c, v, what, f->min, f->max, &u);
                if (r == 0 && f->type == FT_POW2 && (u & (u - 1)) != 0)
                        return cfg_errf(c, v, "%s: %s is not a power of two", what, cfg_show(v, b));
                break;
        case FT_MS:
                r = cfg_get_duration(c, v, what, NS_PER_MS, f->min, f->max, &u);
                break;
        case FT_US:
                r = cfg_get_duration(c, v, what, NS_PER_US, f->min, f->max, &u);
                break;
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;
        if (f->type == FT_U16)
                *(uint16_t *)p = (uint16_t)u;
        else if (f->type == FT_SIZE)
                *(size_t *)p = (size_t)u;
        else
                *(unsigned *)p = (unsigned)u;
        return 0;
}

int cfg_section_defaults(struct sy_config *cfg, const struct cfg_section *s) {
        for (size_t i = 0; i < s->n; i++) {
                const struct cfg_field *f = &s->fields[i];
                void *p = (char *)cfg + f->off;
                int r;

                if (f->def_str) {
                        *(char **)p = strdup(f->def_str);
                        if (!*(char **)p)
                                return -ENOMEM;
                } else if (f->type == FT_MAP) {
                        r = cfg_section_defaults(cfg, f->sub);
                        if (r < 0)
                                return r;
                } else if (f->def == 0) {
                        continue;
                } else if (f->type == FT_U16) {
                        *(uint16_t *)p = (uint16_t)f->def;
                } else if (f->type == FT_SIZE) {
                        *(size_t *)p = (size_t)f->def;
                } else if (f->type == FT_DOUBLE) {
                        *(double *)p = f->def;
                } else if (f->type == FT_BOOL) {
                        *(bool *)p = true;
                } else {
                        *(unsigned *)p = (unsigned)f->def;
                }
        }
        return 0;
}

int cfg_parse_section(struct ctx *c, const struct cfg_section *s) {
        const yaml_node_t *v = cfg_root_get(c, s->name);

        if (!v)
                return 0;
        return cfg_parse_fields(c, s, v);
}

int cfg_parse_fields(struct ctx *c, const struct cfg_section *s, const yaml_node_t *v) {
        yaml_node_pair_t *pairs;
        size_t n, i, j;
        bool foreign_warned = false;
        int r;

        if (!v)
                return 0;
        r = cfg_map_pairs(c, v, s->name, &pairs, &n);
        if (r < 0)
                return r;
        for (i = 0; i < n; i++) {
                const yaml_node_t *k = node_at(c, pairs[i].key);
                char known[256] = "", b[72];

                for (j = 0; j < s->n; j++)
                        if (scalar_is(k, s->fields[j].key))
                                break;
                if (j < s->n) {
                        r = parse_field(c, &s->fields[j], s->name, node_at(c, pairs[i].value));
                        if (r < 0)
                                return r;
                        continue;
                }
                if (s->foreign && cfg_in_list(k, s->foreign)) {
                        if (!foreign_warned) {
                                r = cfg_unsupportedf(c, k,
                                                     "%s: vLLM Semantic Router %s (%s, ...) are not used by switchyard",
                                                     s->name, s->foreign_what, cfg_show(k, b));
                                if (r < 0)
                                        return r;
                        }
                        foreign_warned = true;
                        continue;
                }
                for (j = 0; j < s->n; j++) {
                        strncat(known, s->fields[j].key, sizeof known - strlen(known) - 1);
                        if (j + 1 < s->n)
                                strncat(known, ", ", sizeof known - strlen(known) - 1);
                }
                return cfg_errf(c, k, "unknown key '%s' in %s (known: %s)", cfg_show(k, b), s->name, known);
        }
        return 0;
}

int cfg_get_upstream_kind(struct ctx *c, const yaml_node_t *v, const char *what, enum sy_upstream_kind *ret) {
        char b[72];

        if (scalar_is(v, "server"))
                *ret = SY_UPSTREAM_SERVER;
        else if (scalar_is(v, "gateway"))
                *ret = SY_UPSTREAM_GATEWAY;
        else
                return cfg_errf(c, v, "%s: unknown kind %s%s%s (server or gateway)", what, Q(v), SHOW(v, b), Q(v));
        return 0;
}

/* An HTTP field name (RFC 9110 token): rate_limits.client_header,
 * proxy.selected_model_header, router.session.header. */
static bool header_token_ok(const char *s, size_t len) {
        static const char tchar[] = "!#$%&'*+-.^_`|~";

        if (len == 0 || len > 64)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                      (s[i] && strchr(tchar, s[i]))))
                        return false;
        return true;
}

int cfg_get_header_name(struct ctx *c, const yaml_node_t *v, const char *what, const char *const *refused,
                        const char *why, void *p) {
        char b[72];

        if (v->type != YAML_SCALAR_NODE || is_null(v) || !header_token_ok(sval(v), slen(v)))
                return cfg_errf(c, v, "%s: expected an HTTP header name (a token such as X-Client-ID), got %s%s%s",
                                what, Q(v), SHOW(v, b), Q(v));
        for (size_t i = 0; refused[i]; i++)
                if (slen(v) == strlen(refused[i]) && strncasecmp(sval(v), refused[i], slen(v)) == 0)
                        return cfg_errf(c, v, "%s: \"%s\" %s", what, cfg_show(v, b), why);
        return cfg_get_str(c, v, what, 64, p);
}
