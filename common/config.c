/* switchyard configuration loader (libyaml document API).
 *
 * The file is loaded into a libyaml node tree, then walked section by
 * section in a fixed order (so cross references resolve without a second
 * pass over the text):
 *
 *   server proxy health router shm       strict: unknown keys are errors
 *   upstreams (native) vllm_endpoints (classic)
 *   models (native, strict) model_config (classic, lenient)
 *   -> every upstream serves >= 1 model; the model table is built
 *   auto_aliases confidence_threshold classifier categories default_model
 *
 * Every error is "name:line:col: message" (1-based, from the libyaml marks
 * of the offending node); only the first one is reported. Keys switchyard
 * does not use are recorded as warnings in cfg->warnings, never logged
 * here (library code). Everything allocated hangs off the struct
 * sy_config or the load context, so there is one cleanup path. */
#include "common/config.h"
#include "common/file.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include <openssl/evp.h>

#define CFG_FILE_MAX (8u << 20)        /* bytes of YAML */
#define CFG_MAP_MAX 1024               /* pairs in one mapping that is walked */
#define CFG_ALIASES_MAX 16
#define CFG_PROMPT_MAX (64u << 10)     /* bytes of one system prompt */
#define CFG_WARNINGS_MAX 64
#define CFG_HOST_MAX 253
#define CFG_PATH_MAX 256               /* health check path */
#define CFG_DIR_MAX 90                 /* room for socket names under it in sun_path */
#define CFG_WEIGHT_MAX 1000000u

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

struct model_set {                      /* one entry of models: / model_config: */
        struct sy_model_cfg m;
        const yaml_node_t *key;
        bool native;
};

struct ctx {
        const char *name;
        const char *buf;                /* the YAML text, for reader error offsets */
        size_t len;
        yaml_document_t *doc;
        const yaml_node_t *root;        /* NULL: empty document */
        struct sy_config *cfg;
        char *err;
        size_t errlen;
        const yaml_node_t *up_nodes[SY_CFG_MAX_UPSTREAMS];
        struct model_set *sets;
        size_t n_sets;
        /* for the guards' cross checks (check_guards) */
        const yaml_node_t *clf_off;      /* classifier.enabled: false */
        const yaml_node_t *pg_history;   /* prompt_guard.include_history */
        const yaml_node_t *pii_needs;    /* first pii_policy that forbids a type */
        const yaml_node_t *jb_needs;     /* first category jailbreak_enabled: true */
};

static void free_strv(char **v, size_t n);

/* ---- messages ---------------------------------------------------------- */

static int vformat(char *buf, size_t cap, const char *name, const yaml_node_t *n,
                   const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static int vformat(char *buf, size_t cap, const char *name, const yaml_node_t *n,
                   const char *fmt, va_list ap) {
        int k;

        if (n)
                k = snprintf(buf, cap, "%s:%zu:%zu: ", name, n->start_mark.line + 1,
                             n->start_mark.column + 1);
        else
                k = snprintf(buf, cap, "%s: ", name);
        if (k < 0 || (size_t)k >= cap)
                return k;
        return vsnprintf(buf + k, cap - k, fmt, ap);
}

static int errf(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int errf(struct ctx *c, const yaml_node_t *n, const char *fmt, ...) {
        va_list ap;

        if (c->err && c->errlen > 0) {
                va_start(ap, fmt);
                vformat(c->err, c->errlen, c->name, n, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static int warnf(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int warnf(struct ctx *c, const yaml_node_t *n, const char *fmt, ...) {
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

/* A short printable rendering of a node for messages. */
static const char *show(const yaml_node_t *n, char buf[static 72]) {
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

static const yaml_node_t *node_at(struct ctx *c, int id) {
        return yaml_document_get_node(c->doc, id);
}

static const char *sval(const yaml_node_t *n) {
        return (const char *)n->data.scalar.value;
}

static size_t slen(const yaml_node_t *n) {
        return n->data.scalar.length;
}

static bool is_plain(const yaml_node_t *n) {
        return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool text_is(const char *s, size_t len, const char *lit) {
        return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

static bool text_ieq(const char *s, size_t len, const char *lit) {
        return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

static bool scalar_is(const yaml_node_t *n, const char *lit) {
        return n->type == YAML_SCALAR_NODE && text_is(sval(n), slen(n), lit);
}

static bool is_null(const yaml_node_t *n) {
        return is_plain(n) && (slen(n) == 0 || scalar_is(n, "~") || scalar_is(n, "null") ||
                               scalar_is(n, "Null") || scalar_is(n, "NULL"));
}

/* "\"text\"" for scalars, "a mapping" etc. otherwise: "%s%s%s", Q(n), SHOW(n, b), Q(n) */
#define Q(n) ((n)->type == YAML_SCALAR_NODE && !is_null(n) ? "\"" : "")
#define SHOW(n, b) ((n)->type == YAML_SCALAR_NODE && !is_null(n) ? show((n), (b)) : kind_of(n))

static const char *kind_of(const yaml_node_t *n) {
        if (n->type == YAML_MAPPING_NODE)
                return "a mapping";
        if (n->type == YAML_SEQUENCE_NODE)
                return "a sequence";
        if (is_null(n))
                return "nothing (null)";
        return is_plain(n) ? "a scalar" : "a quoted string";
}

static bool in_list(const yaml_node_t *k, const char *const *list) {
        for (; *list; list++)
                if (scalar_is(k, *list))
                        return true;
        return false;
}

/* Keys that look like guard settings: never merely warned about, since a
 * misspelt one would leave a policy silently unenforced. */
static bool policy_like(const yaml_node_t *k) {
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
static int unused_key(struct ctx *c, const yaml_node_t *k, const char *what) {
        char b[72];

        if (policy_like(k))
                return errf(c, k, "%s: unknown key '%s' looks like a guard setting; switchyard would not "
                            "enforce it, so it is refused (see config/switchyard.example.yaml)", what, show(k, b));
        return warnf(c, k, "%s: key '%s' is not used by switchyard; ignored", what, show(k, b));
}

/* The pairs of a mapping that switchyard walks: null counts as empty,
 * keys must be scalars and unique. */
static int map_pairs(struct ctx *c, const yaml_node_t *n, const char *what,
                     yaml_node_pair_t **ret_pairs, size_t *ret_n) {
        yaml_node_pair_t *p, *q, *start, *top;
        char b[72];

        if (is_null(n)) {
                *ret_pairs = NULL;
                *ret_n = 0;
                return 0;
        }
        if (n->type != YAML_MAPPING_NODE)
                return errf(c, n, "%s: expected a mapping, got %s", what, kind_of(n));
        start = n->data.mapping.pairs.start;
        top = n->data.mapping.pairs.top;
        if ((size_t)(top - start) > CFG_MAP_MAX)
                return errf(c, n, "%s: more than %u keys", what, CFG_MAP_MAX);
        for (p = start; p < top; p++) {
                const yaml_node_t *k = node_at(c, p->key);

                if (k->type != YAML_SCALAR_NODE)
                        return errf(c, k, "%s: keys must be scalars, got %s", what, kind_of(k));
                for (q = start; q < p; q++) {
                        const yaml_node_t *k2 = node_at(c, q->key);

                        if (k2->type == YAML_SCALAR_NODE && slen(k2) == slen(k) &&
                            memcmp(sval(k2), sval(k), slen(k)) == 0)
                                return errf(c, k, "%s: duplicate key '%s' (first at line %zu)",
                                            what, show(k, b), k2->start_mark.line + 1);
                }
        }
        *ret_pairs = start;
        *ret_n = (size_t)(top - start);
        return 0;
}

static int seq_items(struct ctx *c, const yaml_node_t *n, const char *what,
                     yaml_node_item_t **ret_items, size_t *ret_n) {
        if (is_null(n)) {
                *ret_items = NULL;
                *ret_n = 0;
                return 0;
        }
        if (n->type != YAML_SEQUENCE_NODE)
                return errf(c, n, "%s: expected a list, got %s", what, kind_of(n));
        *ret_items = n->data.sequence.items.start;
        *ret_n = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        return 0;
}

/* Value of key in a mapping node (NULL if absent or not a mapping). */
static const yaml_node_t *map_get(struct ctx *c, const yaml_node_t *m, const char *key) {
        yaml_node_pair_t *p;

        if (!m || m->type != YAML_MAPPING_NODE)
                return NULL;
        for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++)
                if (scalar_is(node_at(c, p->key), key))
                        return node_at(c, p->value);
        return NULL;
}

static const yaml_node_t *root_get(struct ctx *c, const char *key) {
        return map_get(c, c->root, key);
}

/* ---- scalars ----------------------------------------------------------- */

static int get_str(struct ctx *c, const yaml_node_t *n, const char *what, size_t max,
                   char **ret) {
        char *s;

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return errf(c, n, "%s: expected a string, got %s", what, kind_of(n));
        if (memchr(sval(n), 0, slen(n)))
                return errf(c, n, "%s: contains a NUL character", what);
        if (slen(n) > max)
                return errf(c, n, "%s: longer than %zu bytes", what, max);
        s = strndup(sval(n), slen(n));
        if (!s)
                return -ENOMEM;
        free(*ret);
        *ret = s;
        return 0;
}

enum name_kind {
        NAME_MODEL,     /* models, upstreams, aliases, reasoning families: visible ASCII */
        NAME_ENGINE,    /* [a-z0-9_-]+ */
        NAME_CATEGORY,  /* visible ASCII and inner spaces ("computer science") */
};

static bool name_ok(const char *s, size_t len, enum name_kind kind) {
        size_t i;

        if (kind == NAME_CATEGORY && (s[0] == ' ' || s[len - 1] == ' '))
                return false;
        for (i = 0; i < len; i++) {
                unsigned char ch = (unsigned char)s[i];

                switch (kind) {
                case NAME_ENGINE:
                        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                              ch == '_' || ch == '-'))
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

static int get_name(struct ctx *c, const yaml_node_t *n, const char *what, enum name_kind kind,
                    char **ret) {
        char b[72];

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return errf(c, n, "%s: expected a name, got %s", what, kind_of(n));
        if (slen(n) == 0)
                return errf(c, n, "%s: must not be empty", what);
        if (slen(n) > SY_CFG_NAME_MAX)
                return errf(c, n, "%s: '%s' is longer than %d characters", what, show(n, b),
                            SY_CFG_NAME_MAX);
        if (memchr(sval(n), 0, slen(n)) || !name_ok(sval(n), slen(n), kind)) {
                switch (kind) {
                case NAME_ENGINE:
                        return errf(c, n, "%s: '%s' is not a valid engine name (lower-case "
                                    "letters, digits, '_' and '-' only)", what, show(n, b));
                case NAME_CATEGORY:
                        return errf(c, n, "%s: '%s' is not a valid category name (printable "
                                    "ASCII, no quotes or backslashes)", what, show(n, b));
                case NAME_MODEL:
                        break;
                }
                return errf(c, n, "%s: '%s' is not a valid name (printable ASCII without "
                            "spaces, quotes or backslashes)", what, show(n, b));
        }
        return get_str(c, n, what, SY_CFG_NAME_MAX, ret);
}

static bool all_digits(const char *s, size_t len) {
        size_t i;

        if (len == 0)
                return false;
        for (i = 0; i < len; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

/* Decimal digits into *ret; -ERANGE on overflow. */
static int digits_u64(const char *s, size_t len, uint64_t *ret) {
        uint64_t v = 0;
        size_t i;

        for (i = 0; i < len; i++)
                if (__builtin_mul_overflow(v, 10, &v) ||
                    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
                        return -ERANGE;
        *ret = v;
        return 0;
}

/* Common checks for numeric scalars; returns 1 if the text is a bare
 * integer (which must then be a plain scalar), 0 otherwise. */
static int numeric_prologue(struct ctx *c, const yaml_node_t *n, const char *what,
                            const char *expect) {
        char b[72];

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return errf(c, n, "%s: expected %s, got %s", what, expect, kind_of(n));
        if (slen(n) > 0 && sval(n)[0] == '-' && slen(n) > 1 &&
            (all_digits(sval(n) + 1, 1) || sval(n)[1] == '.'))
                return errf(c, n, "%s: must not be negative, got %s", what, show(n, b));
        if (!all_digits(sval(n), slen(n)))
                return 0;
        if (!is_plain(n))
                return errf(c, n, "%s: expected %s, got a quoted string \"%s\"", what, expect,
                            show(n, b));
        if (slen(n) > 1 && sval(n)[0] == '0')
                return errf(c, n, "%s: leading zeros are not allowed in \"%s\"", what, show(n, b));
        return 1;
}

static int get_uint(struct ctx *c, const yaml_node_t *n, const char *what, uint64_t min,
                    uint64_t max, uint64_t *ret) {
        char b[72];
        uint64_t v;
        int r;

        r = numeric_prologue(c, n, what, "an integer");
        if (r < 0)
                return r;
        if (r == 0)
                return errf(c, n, "%s: expected an integer, got \"%s\"", what, show(n, b));
        if (digits_u64(sval(n), slen(n), &v) < 0 || v < min || v > max)
                return errf(c, n, "%s: %s is out of range (%llu..%llu)", what, show(n, b),
                            (unsigned long long)min, (unsigned long long)max);
        *ret = v;
        return 0;
}

static int get_duration(struct ctx *c, const yaml_node_t *n, const char *what, uint64_t unit_ns,
                        uint64_t min, uint64_t max, uint64_t *ret) {
        const char *unit = unit_ns == NS_PER_US ? "us" : "ms";
        const char *units = unit_ns == NS_PER_US ? "microseconds" : "milliseconds";
        char b[72];
        uint64_t v;
        int r;

        r = numeric_prologue(c, n, what, "a duration");
        if (r < 0)
                return r;
        r = sy_config_parse_duration(sval(n), slen(n), unit_ns, &v);
        if (r == -EDOM)
                return errf(c, n, "%s: \"%s\" is not a whole number of %s", what, show(n, b),
                            units);
        if (r == -EINVAL)
                return errf(c, n, "%s: expected a duration such as \"250ms\", \"2s\" or \"1m\", "
                            "or an integer number of %s, got \"%s\"", what, units, show(n, b));
        if (r < 0 || v < min || v > max)
                return errf(c, n, "%s: %s is out of range (%llu%s..%llu%s)", what, show(n, b),
                            (unsigned long long)min, unit, (unsigned long long)max, unit);
        *ret = v;
        return 0;
}

/* Sizes in bytes: an integer, or an integer with KiB, MiB or GiB. */
static int get_size(struct ctx *c, const yaml_node_t *n, const char *what, uint64_t min,
                    uint64_t max, uint64_t *ret) {
        static const struct { const char *sfx; unsigned shift; } sfx[] = {
                { "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 },
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
        if (digits_u64(s, nd, &v) < 0)
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
        return errf(c, n, "%s: expected a size such as 65536 or \"64KiB\" (KiB, MiB, GiB), "
                    "got \"%s\"", what, show(n, b));
range:
        return errf(c, n, "%s: %s is out of range (%llu..%llu bytes)", what, show(n, b),
                    (unsigned long long)min, (unsigned long long)max);
}

static int get_bool(struct ctx *c, const yaml_node_t *n, const char *what, bool *ret) {
        static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES",
                                           "on", "On", "ON", NULL };
        static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO",
                                          "off", "Off", "OFF", NULL };
        char b[72];

        if (is_plain(n) && in_list(n, yes)) {
                *ret = true;
                return 0;
        }
        if (is_plain(n) && in_list(n, no)) {
                *ret = false;
                return 0;
        }
        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return errf(c, n, "%s: expected true or false, got %s", what, kind_of(n));
        return errf(c, n, "%s: expected true or false, got \"%s\"", what, show(n, b));
}

static int get_double(struct ctx *c, const yaml_node_t *n, const char *what, double min,
                      double max, double *ret) {
        char buf[64], b[72], *end;
        size_t i, len;
        double v;

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return errf(c, n, "%s: expected a number, got %s", what, kind_of(n));
        len = slen(n);
        if (!is_plain(n) || len == 0 || len >= sizeof buf)
                goto bad;
        for (i = 0; i < len; i++) {
                char ch = sval(n)[i];

                if (!((ch >= '0' && ch <= '9') || ch == '.' || ch == 'e' || ch == 'E' ||
                      ch == '+' || ch == '-'))
                        goto bad;
        }
        memcpy(buf, sval(n), len);
        buf[len] = 0;
        errno = 0;
        v = strtod(buf, &end);
        if (end != buf + len || errno != 0 || !isfinite(v))
                goto bad;
        if (v < min || v > max)
                return errf(c, n, "%s: %s is out of range (%g..%g)", what, show(n, b), min, max);
        *ret = v;
        return 0;
bad:
        return errf(c, n, "%s: expected a number, got \"%s\"", what, show(n, b));
}

/* ---- durations --------------------------------------------------------- */

int sy_config_parse_duration(const char *s, size_t len, uint64_t unit_ns, uint64_t *ret_value) {
        static const struct { const char *name; uint64_t ns; } units[] = {
                /* "ms" before "m", so "250ms" is not read as 250 minutes and an "s" */
                { "ns", 1 }, { "us", NS_PER_US }, { "\xc2\xb5s", NS_PER_US },
                { "ms", NS_PER_MS }, { "s", NS_PER_S }, { "m", 60 * NS_PER_S },
                { "h", 3600 * NS_PER_S },
        };
        uint64_t total = 0, v;
        size_t i = 0;

        if (!s || len == 0 || unit_ns == 0)
                return -EINVAL;
        if (all_digits(s, len)) {
                if (digits_u64(s, len, &v) < 0)
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

static bool host_ok(const char *s, size_t len) {
        char buf[64];
        unsigned char a6[16];
        size_t i, label = 0;

        if (len == 0 || len > CFG_HOST_MAX)
                return false;
        if (memchr(s, ':', len)) {             /* IPv6 literal, optional %zone */
                const char *pct = memchr(s, '%', len);
                size_t alen = pct ? (size_t)(pct - s) : len;

                if (alen >= sizeof buf)
                        return false;
                if (pct && (size_t)(pct - s) + 1 == len)
                        return false;
                for (i = alen + 1; pct && i < len; i++)
                        if (!name_ok(s + i, 1, NAME_MODEL) || s[i] == '/' || s[i] == ']')
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
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
                        return false;
                if (++label > 63)
                        return false;
        }
        return true;
}

enum url_fault { URL_OK, URL_FORM, URL_HOST, URL_PORT };

/* What follows the scheme of a URL (h to end): host[:port][/] and nothing
 * else, the host an IP literal in brackets or a name. The host without
 * its brackets; *ret_port only when a port is there. */
static enum url_fault url_host_port(const char *h, const char *end, const char **ret_host, size_t *ret_len,
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
        if (!host_ok(h, (size_t)(he - h)))
                return URL_HOST;
        if (p < end && *p == ':') {
                const char *ps = ++p;

                while (p < end && *p >= '0' && *p <= '9')
                        p++;
                if (p == ps || digits_u64(ps, (size_t)(p - ps), &port) < 0 || port < 1 || port > 65535)
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

/* http://host[:port][/] -> host, port (80 if absent). */
static int parse_url(struct ctx *c, const yaml_node_t *n, const char *what, char **ret_host,
                     uint16_t *ret_port) {
        const char *s, *h;
        char b[72], *host;
        uint16_t port = 80;
        size_t hl = 0;

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return errf(c, n, "%s: expected a URL, got %s", what, kind_of(n));
        s = sval(n);
        if (memchr(s, 0, slen(n)))
                return errf(c, n, "%s: contains a NUL character", what);
        if (slen(n) >= 8 && strncasecmp(s, "https://", 8) == 0)
                return errf(c, n, "%s: https upstreams are not supported yet (no TLS to "
                            "upstreams); use http://host:port", what);
        if (slen(n) < 7 || strncasecmp(s, "http://", 7) != 0)
                return errf(c, n, "%s: \"%s\" is not a URL of the form http://host[:port]",
                            what, show(n, b));
        switch (url_host_port(s + 7, s + slen(n), &h, &hl, &port)) {
        case URL_OK:
                break;
        case URL_HOST:
                return errf(c, n, "%s: \"%s\" does not name a valid host", what, show(n, b));
        case URL_PORT:
                return errf(c, n, "%s: \"%s\" has an invalid port (1..65535)", what, show(n, b));
        case URL_FORM:
                return errf(c, n, "%s: \"%s\" is not a URL of the form http://host[:port] (no path, "
                            "query or user info)", what, show(n, b));
        }
        host = strndup(h, hl);
        if (!host)
                return -ENOMEM;
        free(*ret_host);
        *ret_host = host;
        *ret_port = port;
        return 0;
}

int sy_config_parse_http_url(const char *url, char **ret_host, uint16_t *ret_port) {
        const char *h;
        uint16_t port = 80;
        size_t hl = 0;
        char *host;

        if (!url || strncasecmp(url, "http://", 7) != 0 ||
            url_host_port(url + 7, url + strlen(url), &h, &hl, &port) != URL_OK)
                return -EINVAL;
        host = strndup(h, hl);
        if (!host)
                return -ENOMEM;
        *ret_host = host;
        *ret_port = port;
        return 0;
}

bool sy_config_host_ok(const char *s) {
        return s && host_ok(s, strlen(s));
}

bool sy_config_name_ok(const char *s) {
        size_t n = s ? strlen(s) : 0;

        return n > 0 && n <= SY_CFG_NAME_MAX && name_ok(s, n, NAME_MODEL);
}

bool sy_config_engine_ok(const char *s) {
        size_t n = s ? strlen(s) : 0;

        return n > 0 && n <= SY_CFG_NAME_MAX && name_ok(s, n, NAME_ENGINE);
}

static int get_host(struct ctx *c, const yaml_node_t *n, const char *what, char **ret) {
        char b[72];

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return errf(c, n, "%s: expected a host name or IP address, got %s", what,
                            kind_of(n));
        if (memmem(sval(n), slen(n), "://", 3))
                return errf(c, n, "%s: expected a host name or IP address, not a URL (\"%s\")",
                            what, show(n, b));
        if (memchr(sval(n), 0, slen(n)) || !host_ok(sval(n), slen(n)))
                return errf(c, n, "%s: \"%s\" is not a valid host name or IP address", what,
                            show(n, b));
        return get_str(c, n, what, CFG_HOST_MAX, ret);
}

/* ---- string lists ------------------------------------------------------ */

static int push_str(char ***arr, size_t *n, char *s) {
        char **v = realloc(*arr, (*n + 1) * sizeof *v);

        if (!v)
                return -ENOMEM;
        v[(*n)++] = s;
        *arr = v;
        return 0;
}

static ssize_t str_index(char *const *arr, size_t n, const char *s) {
        size_t i;

        for (i = 0; i < n; i++)
                if (strcmp(arr[i], s) == 0)
                        return (ssize_t)i;
        return -1;
}

/* A list of unique names appended to *arr. */
static int get_name_list(struct ctx *c, const yaml_node_t *n, const char *what,
                         enum name_kind kind, size_t max, char ***arr, size_t *n_arr) {
        yaml_node_item_t *items = NULL;
        size_t n_items = 0, i;
        char b[72];
        int r;

        r = seq_items(c, n, what, &items, &n_items);
        if (r < 0)
                return r;
        for (i = 0; i < n_items; i++) {
                const yaml_node_t *it = node_at(c, items[i]);
                char *s = NULL;

                if (*n_arr >= max)
                        return errf(c, it, "%s: more than %zu entries", what, max);
                r = get_name(c, it, what, kind, &s);
                if (r < 0)
                        return r;
                if (str_index(*arr, *n_arr, s) >= 0) {
                        free(s);
                        return errf(c, it, "%s: '%s' is listed twice", what, show(it, b));
                }
                r = push_str(arr, n_arr, s);
                if (r < 0) {
                        free(s);
                        return r;
                }
        }
        return 0;
}

/* ---- fixed sections ---------------------------------------------------- */

enum ftype { FT_HOST, FT_HTTP_PATH, FT_DIR, FT_POLICY, FT_U16, FT_UINT, FT_SIZE, FT_MS, FT_US,
             FT_POW2, FT_DOUBLE, FT_MAP, FT_BOOL, FT_STATUS, FT_MESSAGE, FT_ONERR, FT_HEADER,
             FT_PREFIX, FT_ENV, FT_REDIS_URL };

struct field {
        const char *key;
        enum ftype type;
        size_t off;
        uint64_t min, max;
};

#define F(k, t, member, lo, hi) { k, t, offsetof(struct sy_config, member), lo, hi }
#define MS_HOUR 3600000ull
#define MS_DAY 86400000ull

static const struct field server_fields[] = {
        F("host", FT_HOST, server.host, 0, 0),
        F("port", FT_U16, server.port, 0, 65535),
        F("workers", FT_UINT, server.workers, 0, 1024),
        F("max_connections", FT_UINT, server.max_connections, 1, 10000000),
        F("max_header_bytes", FT_SIZE, server.max_header_bytes, 256, 1u << 20),
        F("max_headers", FT_UINT, server.max_headers, 1, 1024),
        F("max_body_bytes", FT_SIZE, server.max_body_bytes, 1, 1u << 30),
        F("header_timeout_ms", FT_MS, server.header_timeout_ms, 1, MS_HOUR),
        F("idle_timeout_ms", FT_MS, server.idle_timeout_ms, 1, MS_DAY),
        F("drain_timeout_ms", FT_MS, server.drain_timeout_ms, 0, MS_HOUR),
};

static const struct field proxy_fields[] = {
        F("connect_timeout_ms", FT_MS, proxy.connect_timeout_ms, 1, 600000),
        F("first_byte_timeout_ms", FT_MS, proxy.first_byte_timeout_ms, 1, MS_DAY),
        F("idle_timeout_ms", FT_MS, proxy.idle_timeout_ms, 1, MS_DAY),
        F("max_retries", FT_UINT, proxy.max_retries, 0, 16),
        F("pool_size", FT_UINT, proxy.pool_size, 0, 65536),
};

static const struct field health_fields[] = {
        F("path", FT_HTTP_PATH, health.path, 0, 0),
        F("interval_ms", FT_MS, health.interval_ms, 10, MS_HOUR),
        F("timeout_ms", FT_MS, health.timeout_ms, 1, 600000),
        F("unhealthy_threshold", FT_UINT, health.unhealthy_threshold, 1, 1000),
        F("healthy_threshold", FT_UINT, health.healthy_threshold, 1, 1000),
};

static const struct field router_fields[] = {
        F("policy", FT_POLICY, router.policy, 0, 0),
        F("pick_timeout_us", FT_US, router.pick_timeout_us, 1, 10000000),
        F("passive_failures", FT_UINT, router.passive_failures, 0, 1000),
        F("ejection_ms", FT_MS, router.ejection_ms, 1, MS_HOUR),
        F("scrape_interval_ms", FT_MS, router.scrape_interval_ms, 0, MS_HOUR),
        F("scrape_timeout_ms", FT_MS, router.scrape_timeout_ms, 1, 600000),
        F("stale_after_ms", FT_MS, router.stale_after_ms, 1, MS_DAY),
        F("retry_after_s", FT_UINT, router.retry_after_s, 0, 3600),
        F("weights", FT_MAP, router.weights, 0, 0),
        F("saturation", FT_MAP, router.saturation, 0, 0),
        F("queue", FT_MAP, router.queue, 0, 0),
        F("session", FT_MAP, router.session, 0, 0),
};

/* router's sub-mappings (FT_MAP): weights are >= 0, any scale */
static const struct field router_weights_fields[] = {
        F("queue", FT_DOUBLE, router.weights.queue, 0, 1000000),
        F("kv_cache", FT_DOUBLE, router.weights.kv_cache, 0, 1000000),
        F("inflight_tokens", FT_DOUBLE, router.weights.inflight_tokens, 0, 1000000),
        F("prefix", FT_DOUBLE, router.weights.prefix, 0, 1000000),
        F("session", FT_DOUBLE, router.weights.session, 0, 1000000),
};

static const struct field router_saturation_fields[] = {
        F("queue_depth", FT_UINT, router.saturation.queue_depth, 1, 1000000),
        F("kv_cache", FT_DOUBLE, router.saturation.kv_cache, 0, 1),
};

static const struct field router_queue_fields[] = {
        F("max", FT_UINT, router.queue.max, 0, 1000000),
        F("timeout_ms", FT_MS, router.queue.timeout_ms, 1, MS_HOUR),
};

static const struct field router_session_fields[] = {
        F("ttl_ms", FT_MS, router.session.ttl_ms, 1, MS_DAY),
        F("max", FT_UINT, router.session.max, 1, 1u << 24),
};

/* guard: what a blocked request is answered (frontend/stage_guard.c) */
static const struct field guard_fields[] = {
        F("block_status", FT_STATUS, guard.block_status, 0, 599),
        F("pii_message", FT_MESSAGE, guard.pii_message, 0, 0),
        F("jailbreak_message", FT_MESSAGE, guard.jailbreak_message, 0, 0),
        F("include_history", FT_BOOL, guard.include_history, 0, 0),
        F("on_classifier_error", FT_ONERR, guard.on_classifier_error_allow, 0, 0),
};

#define CFG_RATE_MAX 1000000000ull     /* requests or tokens per minute, bucket sizes */

static const struct field rate_limits_fields[] = {
        F("client_header", FT_HEADER, rate_limits.client_header, 0, 0),
        F("requests_per_minute", FT_UINT, rate_limits.requests_per_minute, 0, CFG_RATE_MAX),
        F("tokens_per_minute", FT_UINT, rate_limits.tokens_per_minute, 0, CFG_RATE_MAX),
        F("burst_requests", FT_UINT, rate_limits.burst_requests, 0, CFG_RATE_MAX),
        F("burst_tokens", FT_UINT, rate_limits.burst_tokens, 0, CFG_RATE_MAX),
        F("max_clients", FT_UINT, rate_limits.max_clients, 16, 1u << 24),
        F("redis", FT_MAP, rate_limits.redis, 0, 0),
};

static const struct field redis_fields[] = {
        F("url", FT_REDIS_URL, rate_limits.redis.host, 0, 0),
        F("host", FT_HOST, rate_limits.redis.host, 0, 0),
        F("port", FT_U16, rate_limits.redis.port, 1, 65535),
        F("key_prefix", FT_PREFIX, rate_limits.redis.key_prefix, 0, 0),
        F("timeout_ms", FT_MS, rate_limits.redis.timeout_ms, 1, 60000),
        F("fail_open", FT_BOOL, rate_limits.redis.fail_open, 0, 0),
        F("password_env", FT_ENV, rate_limits.redis.password_env, 0, 0),
};

static const struct {
        const char *name;             /* section.key */
        const struct field *fields;
        size_t n;
} sub_maps[] = {
#define SUB(name, t) { name, t, sizeof t / sizeof t[0] }
        SUB("router.weights", router_weights_fields),
        SUB("router.saturation", router_saturation_fields),
        SUB("router.queue", router_queue_fields),
        SUB("router.session", router_session_fields),
        SUB("rate_limits.redis", redis_fields),
#undef SUB
};

static const struct field shm_fields[] = {
        F("runtime_dir", FT_DIR, shm.runtime_dir, 0, 0),
        F("ring_bytes", FT_POW2, shm.ring_bytes, 4096, 1u << 30),
        F("max_workers", FT_UINT, shm.max_workers, 1, 1024),
};

#undef F

/* vLLM Semantic Router's own top-level `router:` block (dual-path LoRA
 * selection); its keys share switchyard's section name and are ignored. */
static const char *const vsr_router_keys[] = {
        "high_confidence_threshold", "low_latency_threshold_ms", "lora_baseline_score",
        "traditional_baseline_score", "embedding_baseline_score",
        "success_confidence_threshold", "large_batch_threshold",
        "lora_default_execution_time_ms", "traditional_default_execution_time_ms",
        "default_confidence_threshold", "default_max_latency_ms", "default_batch_size",
        "default_avg_execution_time_ms", "lora_default_confidence",
        "traditional_default_confidence", "lora_default_success_rate",
        "traditional_default_success_rate", "multi_task_lora_weight",
        "single_task_traditional_weight", "large_batch_lora_weight",
        "small_batch_traditional_weight", "medium_batch_weight", "high_confidence_lora_weight",
        "low_confidence_traditional_weight", "low_latency_lora_weight",
        "high_latency_traditional_weight", "performance_history_weight",
        "traditional_bert_confidence_threshold", "traditional_modernbert_confidence_threshold",
        "traditional_pii_detection_threshold", "traditional_token_classification_threshold",
        "traditional_dropout_prob", "traditional_attention_dropout_prob",
        "tie_break_confidence", NULL,
};

static bool path_ok(const char *s, size_t len) {
        size_t i;

        if (len == 0 || s[0] != '/')
                return false;
        for (i = 0; i < len; i++)
                if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
                        return false;
        return true;
}

/* An HTTP field name (RFC 9110 token), for rate_limits.client_header. */
static bool header_token_ok(const char *s, size_t len) {
        static const char tchar[] = "!#$%&'*+-.^_`|~";

        if (len == 0 || len > 64)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9') || (s[i] && strchr(tchar, s[i]))))
                        return false;
        return true;
}

/* [A-Za-z_][A-Za-z0-9_]*, at most 255 bytes */
static bool env_name_ok(const char *s, size_t len) {
        if (len == 0 || len > 255 || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
                        return false;
        return true;
}

static int get_env_name(struct ctx *c, const yaml_node_t *n, const char *what, char **ret) {
        char b[72];

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return errf(c, n, "%s: expected an environment variable name, got %s", what, kind_of(n));
        if (!env_name_ok(sval(n), slen(n)))
                return errf(c, n, "%s: \"%s\" is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
                            what, show(n, b));
        return get_str(c, n, what, 255, ret);
}

#define CFG_MESSAGE_MAX 512

/* guard messages: one line of text (UTF-8 allowed), no control characters */
static int get_message(struct ctx *c, const yaml_node_t *n, const char *what, char **ret) {
        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return errf(c, n, "%s: expected a string, got %s", what, kind_of(n));
        if (slen(n) == 0)
                return errf(c, n, "%s: must not be empty", what);
        for (size_t i = 0; i < slen(n); i++)
                if ((unsigned char)sval(n)[i] < 0x20 || sval(n)[i] == 0x7f)
                        return errf(c, n, "%s: contains a control character (one line of text)", what);
        return get_str(c, n, what, CFG_MESSAGE_MAX, ret);
}

/* redis://host[:port][/] (port 6379 if absent); the password comes from
 * password_env, never from the URL */
static int parse_redis_url(struct ctx *c, const yaml_node_t *n, const char *what, char **ret_host,
                           uint16_t *ret_port) {
        const char *s, *h;
        char b[72], *host;
        uint16_t port = 6379;
        size_t hl = 0;

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return errf(c, n, "%s: expected a URL, got %s", what, kind_of(n));
        s = sval(n);
        if (slen(n) < 8 || strncasecmp(s, "redis://", 8) != 0 || memchr(s, 0, slen(n)))
                return errf(c, n, "%s: \"%s\" is not a URL of the form redis://host[:port]", what, show(n, b));
        if (memchr(s, '@', slen(n)))
                return errf(c, n, "%s: no user or password in the URL: give the password's environment "
                            "variable in rate_limits.redis.password_env", what);
        if (url_host_port(s + 8, s + slen(n), &h, &hl, &port) != URL_OK)
                return errf(c, n, "%s: \"%s\" is not a URL of the form redis://host[:port] (valid host, port "
                            "1..65535, no path)", what, show(n, b));
        host = strndup(h, hl);
        if (!host)
                return -ENOMEM;
        free(*ret_host);
        *ret_host = host;
        *ret_port = port;
        return 0;
}

static int parse_fields(struct ctx *c, const char *sect, const yaml_node_t *v,
                        const struct field *fields, size_t n_fields);

static int parse_field(struct ctx *c, const struct field *f, const char *sect,
                       const yaml_node_t *v) {
        void *p = (char *)c->cfg + f->off;
        char what[64], b[72];
        uint64_t u = 0;
        int r;

        snprintf(what, sizeof what, "%s.%s", sect, f->key);
        switch (f->type) {
        case FT_HOST:
                return get_host(c, v, what, (char **)p);
        case FT_HTTP_PATH:
                if (v->type != YAML_SCALAR_NODE || is_null(v) || !path_ok(sval(v), slen(v)))
                        return errf(c, v, "%s: expected an absolute URL path such as "
                                    "/health, got %s%s%s", what, Q(v), SHOW(v, b), Q(v));
                return get_str(c, v, what, CFG_PATH_MAX, (char **)p);
        case FT_DIR:
                if (v->type != YAML_SCALAR_NODE || is_null(v) || !path_ok(sval(v), slen(v)))
                        return errf(c, v, "%s: expected an absolute directory path, got %s%s%s",
                                    what, Q(v), SHOW(v, b), Q(v));
                return get_str(c, v, what, CFG_DIR_MAX, (char **)p);
        case FT_POLICY:
                if (!scalar_is(v, "scorer") && !scalar_is(v, "least_request") &&
                    !scalar_is(v, "round_robin"))
                        return errf(c, v, "%s: unknown policy %s%s%s (scorer, least_request or "
                                    "round_robin)", what, Q(v), SHOW(v, b), Q(v));
                return get_str(c, v, what, 32, (char **)p);
        case FT_DOUBLE:
                return get_double(c, v, what, (double)f->min, (double)f->max, (double *)p);
        case FT_BOOL:
                return get_bool(c, v, what, (bool *)p);
        case FT_MESSAGE:
                return get_message(c, v, what, (char **)p);
        case FT_ENV:
                return get_env_name(c, v, what, (char **)p);
        case FT_REDIS_URL:
                return parse_redis_url(c, v, what, (char **)p, &c->cfg->rate_limits.redis.port);
        case FT_ONERR:
                if (!scalar_is(v, "block") && !scalar_is(v, "allow"))
                        return errf(c, v, "%s: expected block or allow, got %s%s%s", what, Q(v),
                                    SHOW(v, b), Q(v));
                *(bool *)p = scalar_is(v, "allow");
                return 0;
        case FT_HEADER:
                if (v->type != YAML_SCALAR_NODE || is_null(v) || !header_token_ok(sval(v), slen(v)))
                        return errf(c, v, "%s: expected an HTTP header name such as X-Client-ID, got %s%s%s",
                                    what, Q(v), SHOW(v, b), Q(v));
                if (text_ieq(sval(v), slen(v), "authorization") ||
                    text_ieq(sval(v), slen(v), "proxy-authorization") ||
                    text_ieq(sval(v), slen(v), "x-api-key") || text_ieq(sval(v), slen(v), "cookie"))
                        return errf(c, v, "%s: \"%s\" carries credentials; they must not become client ids "
                                    "(in logs, metrics and the limiter's table)", what, show(v, b));
                return get_str(c, v, what, 64, (char **)p);
        case FT_PREFIX:
                if (v->type != YAML_SCALAR_NODE || is_null(v) || slen(v) == 0 || slen(v) > 64 ||
                    memchr(sval(v), 0, slen(v)) || !name_ok(sval(v), slen(v), NAME_MODEL))
                        return errf(c, v, "%s: expected 1..64 printable ASCII characters without spaces, "
                                    "quotes or backslashes, got %s%s%s", what, Q(v), SHOW(v, b), Q(v));
                return get_str(c, v, what, 64, (char **)p);
        case FT_MAP:
                for (size_t i = 0; i < sizeof sub_maps / sizeof sub_maps[0]; i++)
                        if (strcmp(sub_maps[i].name, what) == 0)
                                return parse_fields(c, what, v, sub_maps[i].fields, sub_maps[i].n);
                return -EINVAL;
        case FT_U16:
        case FT_UINT:
                r = get_uint(c, v, what, f->min, f->max, &u);
                break;
        case FT_SIZE:
        case FT_POW2:
                r = get_size(c, v, what, f->min, f->max, &u);
                if (r == 0 && f->type == FT_POW2 && (u & (u - 1)) != 0)
                        return errf(c, v, "%s: %s is not a power of two", what, show(v, b));
                break;
        case FT_MS:
                r = get_duration(c, v, what, NS_PER_MS, f->min, f->max, &u);
                break;
        case FT_US:
                r = get_duration(c, v, what, NS_PER_US, f->min, f->max, &u);
                break;
        case FT_STATUS:
                r = get_uint(c, v, what, f->min, f->max, &u);
                if (r == 0 && u != 0 && u < 400)
                        return errf(c, v, "%s: %s is not an error status: 0 (a 200 answer saying why, as "
                                    "vSR does) or 400..599", what, show(v, b));
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


static int parse_section(struct ctx *c, const char *sect, const struct field *fields,
                         size_t n_fields) {
        const yaml_node_t *v = root_get(c, sect);

        if (!v)
                return 0;
        return parse_fields(c, sect, v, fields, n_fields);
}

/* The keys of mapping v (section sect, or a sub-mapping "sect.key"). */
static int parse_fields(struct ctx *c, const char *sect, const yaml_node_t *v,
                        const struct field *fields, size_t n_fields) {
        yaml_node_pair_t *pairs;
        size_t n, i, j;
        bool vsr_warned = false;
        int r;

        if (!v)
                return 0;
        r = map_pairs(c, v, sect, &pairs, &n);
        if (r < 0)
                return r;
        for (i = 0; i < n; i++) {
                const yaml_node_t *k = node_at(c, pairs[i].key);
                char known[256] = "", b[72];

                for (j = 0; j < n_fields; j++)
                        if (scalar_is(k, fields[j].key))
                                break;
                if (j < n_fields) {
                        r = parse_field(c, &fields[j], sect, node_at(c, pairs[i].value));
                        if (r < 0)
                                return r;
                        continue;
                }
                if (strcmp(sect, "router") == 0 && in_list(k, vsr_router_keys)) {
                        if (!vsr_warned) {
                                r = warnf(c, k, "router: vLLM Semantic Router dual-path keys "
                                          "(%s, ...) are not used by switchyard; ignored",
                                          show(k, b));
                                if (r < 0)
                                        return r;
                        }
                        vsr_warned = true;
                        continue;
                }
                for (j = 0; j < n_fields; j++) {
                        strncat(known, fields[j].key, sizeof known - strlen(known) - 1);
                        if (j + 1 < n_fields)
                                strncat(known, ", ", sizeof known - strlen(known) - 1);
                }
                return errf(c, k, "unknown key '%s' in %s (known: %s)", show(k, b), sect, known);
        }
        return 0;
}

/* ---- upstreams --------------------------------------------------------- */

static int new_upstream(struct ctx *c, const yaml_node_t *item,
                        struct sy_upstream_cfg **ret_up) {
        struct sy_config *cfg = c->cfg;
        struct sy_upstream_cfg *v;

        if (cfg->n_upstreams >= SY_CFG_MAX_UPSTREAMS)
                return errf(c, item, "more than %d upstreams", SY_CFG_MAX_UPSTREAMS);
        v = realloc(cfg->upstreams, (cfg->n_upstreams + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        cfg->upstreams = v;
        v += cfg->n_upstreams;
        memset(v, 0, sizeof *v);
        v->weight = 1;
        v->kind = SY_UPSTREAM_SERVER;
        v->line = (unsigned)item->start_mark.line + 1;
        c->up_nodes[cfg->n_upstreams++] = item;
        *ret_up = v;
        return 0;
}

static int check_upstream_name(struct ctx *c, const yaml_node_t *n,
                               const struct sy_upstream_cfg *up) {
        const struct sy_config *cfg = c->cfg;
        size_t i;

        for (i = 0; i < cfg->n_upstreams; i++)
                if (&cfg->upstreams[i] != up && cfg->upstreams[i].name &&
                    strcmp(cfg->upstreams[i].name, up->name) == 0)
                        return errf(c, n, "duplicate upstream name '%s' (first at line %u)",
                                    up->name, cfg->upstreams[i].line);
        return 0;
}

static int finish_upstream(struct ctx *c, const yaml_node_t *item, const char *what,
                           struct sy_upstream_cfg *up, const yaml_node_t *name_node,
                           bool have_addr, const char *addr_key, bool have_port) {
        if (!name_node)
                return errf(c, item, "%s: missing 'name'", what);
        if (!have_addr)
                return errf(c, item, "%s: missing '%s'", what, addr_key);
        if (!have_port)
                return errf(c, item, "%s: missing 'port'", what);
        if (!up->engine) {
                up->engine = strdup("vllm");
                if (!up->engine)
                        return -ENOMEM;
        }
        return check_upstream_name(c, name_node, up);
}

static int parse_upstreams(struct ctx *c) {
        const yaml_node_t *v = root_get(c, "upstreams");
        yaml_node_item_t *items = NULL;
        size_t n_items = 0, i, j, n;
        int r;

        if (!v)
                return 0;
        r = seq_items(c, v, "upstreams", &items, &n_items);
        if (r < 0)
                return r;
        for (i = 0; i < n_items; i++) {
                const yaml_node_t *item = node_at(c, items[i]), *name_node = NULL;
                struct sy_upstream_cfg *up;
                yaml_node_pair_t *pairs;
                bool have_url = false;
                char what[48], fw[48 + 72 + 2], b[72];

                snprintf(what, sizeof what, "upstreams[%zu]", i);
                r = new_upstream(c, item, &up);
                if (r < 0)
                        return r;
                r = map_pairs(c, item, what, &pairs, &n);
                if (r < 0)
                        return r;
                for (j = 0; j < n; j++) {
                        const yaml_node_t *k = node_at(c, pairs[j].key);
                        const yaml_node_t *val = node_at(c, pairs[j].value);
                        uint64_t u;

                        r = 0;
                        snprintf(fw, sizeof fw, "%s.%s", what, show(k, b));
                        if (scalar_is(k, "name")) {
                                name_node = val;
                                r = get_name(c, val, fw, NAME_MODEL, &up->name);
                        } else if (scalar_is(k, "url")) {
                                have_url = true;
                                r = parse_url(c, val, fw, &up->host, &up->port);
                        } else if (scalar_is(k, "engine")) {
                                r = get_name(c, val, fw, NAME_ENGINE, &up->engine);
                        } else if (scalar_is(k, "models")) {
                                r = get_name_list(c, val, fw, NAME_MODEL, SY_CFG_MAX_MODELS,
                                                  &up->models, &up->n_models);
                        } else if (scalar_is(k, "weight")) {
                                r = get_uint(c, val, fw, 1, CFG_WEIGHT_MAX, &u);
                                up->weight = (uint32_t)u;
                        } else if (scalar_is(k, "kind")) {
                                if (scalar_is(val, "server"))
                                        up->kind = SY_UPSTREAM_SERVER;
                                else if (scalar_is(val, "gateway"))
                                        up->kind = SY_UPSTREAM_GATEWAY;
                                else
                                        r = errf(c, val, "%s: unknown kind %s%s%s (server or "
                                                 "gateway)", fw, Q(val), SHOW(val, b), Q(val));
                        } else {
                                r = errf(c, k, "unknown key '%s' in upstream (known: name, "
                                         "url, engine, models, weight, kind)", show(k, b));
                        }
                        if (r < 0)
                                return r;
                }
                r = finish_upstream(c, item, what, up, name_node, have_url, "url", true);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Classic vLLM Semantic Router endpoints: {name, address, port, weight,
 * models}; they become upstreams with engine "vllm". */
static int parse_vllm_endpoints(struct ctx *c) {
        static const char *const ignored[] = { "health_check_path", NULL };
        const yaml_node_t *v = root_get(c, "vllm_endpoints");
        yaml_node_item_t *items = NULL;
        size_t n_items = 0, i, j, n;
        int r;

        if (!v)
                return 0;
        r = seq_items(c, v, "vllm_endpoints", &items, &n_items);
        if (r < 0)
                return r;
        for (i = 0; i < n_items; i++) {
                const yaml_node_t *item = node_at(c, items[i]), *name_node = NULL;
                struct sy_upstream_cfg *up;
                yaml_node_pair_t *pairs;
                bool have_addr = false, have_port = false;
                char what[48], fw[48 + 72 + 2], b[72];

                snprintf(what, sizeof what, "vllm_endpoints[%zu]", i);
                r = new_upstream(c, item, &up);
                if (r < 0)
                        return r;
                r = map_pairs(c, item, what, &pairs, &n);
                if (r < 0)
                        return r;
                for (j = 0; j < n; j++) {
                        const yaml_node_t *k = node_at(c, pairs[j].key);
                        const yaml_node_t *val = node_at(c, pairs[j].value);
                        uint64_t u;

                        r = 0;
                        snprintf(fw, sizeof fw, "%s.%s", what, show(k, b));
                        if (scalar_is(k, "name")) {
                                name_node = val;
                                r = get_name(c, val, fw, NAME_MODEL, &up->name);
                        } else if (scalar_is(k, "address")) {
                                have_addr = true;
                                r = get_host(c, val, fw, &up->host);
                        } else if (scalar_is(k, "port")) {
                                have_port = true;
                                r = get_uint(c, val, fw, 1, 65535, &u);
                                up->port = (uint16_t)u;
                        } else if (scalar_is(k, "weight")) {
                                r = get_uint(c, val, fw, 1, CFG_WEIGHT_MAX, &u);
                                up->weight = (uint32_t)u;
                        } else if (scalar_is(k, "models")) {
                                r = get_name_list(c, val, fw, NAME_MODEL, SY_CFG_MAX_MODELS,
                                                  &up->models, &up->n_models);
                        } else if (!in_list(k, ignored)) {
                                r = unused_key(c, k, what);
                        }
                        if (r < 0)
                                return r;
                }
                r = finish_upstream(c, item, what, up, name_node, have_addr, "address",
                                    have_port);
                if (r < 0)
                        return r;
        }
        return 0;
}

static struct sy_upstream_cfg *upstream_by_name(struct sy_config *cfg, const char *name) {
        size_t i;

        for (i = 0; i < cfg->n_upstreams; i++)
                if (strcmp(cfg->upstreams[i].name, name) == 0)
                        return &cfg->upstreams[i];
        return NULL;
}

/* ---- per-model settings ------------------------------------------------ */

static int new_set(struct ctx *c, struct model_set **ret_set) {
        struct model_set *v = realloc(c->sets, (c->n_sets + 1) * sizeof *v);

        if (!v)
                return -ENOMEM;
        c->sets = v;
        v += c->n_sets++;
        memset(v, 0, sizeof *v);
        *ret_set = v;
        return 0;
}

/* preferred_endpoints: [upstream names]; each of them serves the model. */
static int parse_preferred(struct ctx *c, const yaml_node_t *v, const char *what,
                           struct model_set *set) {
        yaml_node_item_t *items = NULL;
        size_t n_items = 0, i;
        int r;

        r = get_name_list(c, v, what, NAME_MODEL, SY_CFG_MAX_UPSTREAMS,
                          &set->m.preferred_endpoints, &set->m.n_preferred_endpoints);
        if (r < 0)
                return r;
        r = seq_items(c, v, what, &items, &n_items);
        if (r < 0)
                return r;
        for (i = 0; i < n_items; i++) {
                const yaml_node_t *it = node_at(c, items[i]);
                struct sy_upstream_cfg *up = upstream_by_name(c->cfg,
                                                              set->m.preferred_endpoints[i]);
                char *s;

                if (!up)
                        return errf(c, it, "%s: no upstream named '%s'", what,
                                    set->m.preferred_endpoints[i]);
                if (str_index(up->models, up->n_models, set->m.name) >= 0)
                        continue;
                if (up->n_models >= SY_CFG_MAX_MODELS)
                        return errf(c, it, "%s: upstream '%s' would serve more than %d models",
                                    what, up->name, SY_CFG_MAX_MODELS);
                s = strdup(set->m.name);
                if (!s)
                        return -ENOMEM;
                r = push_str(&up->models, &up->n_models, s);
                if (r < 0) {
                        free(s);
                        return r;
                }
        }
        return 0;
}

/* model_config.<m>.pii_policy: {allow_by_default, pii_types_allowed} */
static const char *const pii_type_names[] = {
        "PERSON", "EMAIL_ADDRESS", "US_SSN", "CREDIT_CARD", "PHONE_NUMBER", "STREET_ADDRESS",
        "IP_ADDRESS", "IBAN_CODE", "DATE_TIME", "ORGANIZATION", "GPE", "AGE", "DOMAIN_NAME", "NRP",
        "TITLE", "US_DRIVER_LICENSE", "ZIP_CODE", NULL,
};

static int parse_pii_policy(struct ctx *c, const yaml_node_t *v, const char *what, struct sy_pii_policy *p) {
        const yaml_node_t *list = NULL;
        yaml_node_item_t *items = NULL;
        yaml_node_pair_t *pairs;
        size_t n, i, n_items = 0;
        char fw[SY_CFG_NAME_MAX + 160], b[72], known[400] = "";
        int r;

        r = map_pairs(c, v, what, &pairs, &n);
        if (r < 0)
                return r;
        p->set = true;
        p->allow_by_default = true;
        p->line = (unsigned)v->start_mark.line + 1;
        for (i = 0; i < n; i++) {
                const yaml_node_t *k = node_at(c, pairs[i].key), *val = node_at(c, pairs[i].value);

                snprintf(fw, sizeof fw, "%s.%s", what, show(k, b));
                if (scalar_is(k, "allow_by_default"))
                        r = get_bool(c, val, fw, &p->allow_by_default);
                else if (scalar_is(k, "pii_types_allowed"))
                        r = seq_items(c, list = val, fw, &items, &n_items);
                else
                        r = errf(c, k, "unknown key '%s' in %s (known: allow_by_default, pii_types_allowed)",
                                 show(k, b), what);
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
                char *s;

                if (it->type != YAML_SCALAR_NODE || is_null(it))
                        return errf(c, it, "%s: expected a PII type name, got %s", fw, kind_of(it));
                if (!in_list(it, pii_type_names))
                        return errf(c, it, "%s: unknown PII type '%s' (known: %s)", fw, show(it, b), known);
                if (str_index(p->types_allowed, p->n_types_allowed, sval(it)) >= 0)
                        return errf(c, it, "%s: '%s' is listed twice", fw, show(it, b));
                s = strdup(sval(it));
                if (!s)
                        return -ENOMEM;
                r = push_str(&p->types_allowed, &p->n_types_allowed, s);
                if (r < 0) {
                        free(s);
                        return r;
                }
        }
        if (p->allow_by_default && list && n_items > 0)
                return errf(c, list, "%s: with allow_by_default: true every type is allowed, so this list "
                            "would mean nothing; set allow_by_default: false to allow only these types", fw);
        if (!p->allow_by_default && !c->pii_needs)
                c->pii_needs = v;
        return 0;
}

static int parse_model_settings(struct ctx *c, const char *sect, bool native) {
        static const char *const ignored[] = {
                "param_count", "batch_size", "context_size", "pricing", "loras", "description", NULL,
        };
        const yaml_node_t *v = root_get(c, sect);
        yaml_node_pair_t *pairs, *spairs;
        size_t n, i, j, k, ns;
        int r;

        if (!v)
                return 0;
        r = map_pairs(c, v, sect, &pairs, &n);
        if (r < 0)
                return r;
        if (n > SY_CFG_MAX_MODELS)
                return errf(c, v, "%s: more than %d models", sect, SY_CFG_MAX_MODELS);
        for (i = 0; i < n; i++) {
                const yaml_node_t *key = node_at(c, pairs[i].key);
                const yaml_node_t *val = node_at(c, pairs[i].value);
                struct model_set *set;
                char what[SY_CFG_NAME_MAX + 48], fw[SY_CFG_NAME_MAX + 48 + 72 + 2], b[72];

                r = new_set(c, &set);
                if (r < 0)
                        return r;
                set->key = key;
                set->native = native;
                snprintf(what, sizeof what, "%s key", sect);
                r = get_name(c, key, what, NAME_MODEL, &set->m.name);
                if (r < 0)
                        return r;
                for (k = 0; k + 1 < c->n_sets; k++)
                        if (strcmp(c->sets[k].m.name, set->m.name) == 0)
                                return errf(c, key, "settings for model '%s' given twice "
                                            "(first at line %zu)", set->m.name,
                                            c->sets[k].key->start_mark.line + 1);
                snprintf(what, sizeof what, "%s.%s", sect, set->m.name);
                r = map_pairs(c, val, what, &spairs, &ns);
                if (r < 0)
                        return r;
                for (j = 0; j < ns; j++) {
                        const yaml_node_t *sk = node_at(c, spairs[j].key);
                        const yaml_node_t *sv = node_at(c, spairs[j].value);

                        r = 0;
                        snprintf(fw, sizeof fw, "%s.%s", what, show(sk, b));
                        if (scalar_is(sk, "preferred_endpoints"))
                                r = parse_preferred(c, sv, fw, set);
                        else if (scalar_is(sk, "reasoning_family"))
                                r = get_name(c, sv, fw, NAME_MODEL, &set->m.reasoning_family);
                        else if (scalar_is(sk, "default_engine"))
                                r = get_name(c, sv, fw, NAME_ENGINE, &set->m.default_engine);
                        else if (scalar_is(sk, "pii_policy"))
                                r = parse_pii_policy(c, sv, fw, &set->m.pii_policy);
                        else if (scalar_is(sk, "allow_by_default") || scalar_is(sk, "pii_types_allowed"))
                                r = errf(c, sk, "%s: '%s' belongs inside pii_policy: (%s.pii_policy.%s); "
                                         "here it would not be enforced", what, show(sk, b), what, show(sk, b));
                        else if (native)
                                r = errf(c, sk, "unknown key '%s' in %s (known: "
                                         "default_engine, reasoning_family, "
                                         "preferred_endpoints, pii_policy)", show(sk, b), what);
                        else if (!in_list(sk, ignored))
                                r = unused_key(c, sk, what);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static struct sy_model_cfg *model_by_name(struct sy_config *cfg, const char *name) {
        size_t i;

        for (i = 0; i < cfg->n_models; i++)
                if (strcmp(cfg->models[i].name, name) == 0)
                        return &cfg->models[i];
        return NULL;
}

int sy_config_ensure_model(struct sy_config *cfg, const char *name, struct sy_model_cfg **ret) {
        struct sy_model_cfg *v = model_by_name(cfg, name);

        if (!v) {
                if (cfg->n_models >= SY_CFG_MAX_MODELS)
                        return -E2BIG;
                v = realloc(cfg->models, (cfg->n_models + 1) * sizeof *v);
                if (!v)
                        return -ENOMEM;
                cfg->models = v;
                v += cfg->n_models;
                memset(v, 0, sizeof *v);
                v->name = strdup(name);
                if (!v->name)
                        return -ENOMEM;
                cfg->n_models++;
        }
        if (ret)
                *ret = v;
        return 0;
}

/* Every upstream serves something; the model table is every served model
 * in first-seen order (upstreams in file order, then their lists), with
 * the per-model settings moved in. */
static int build_models(struct ctx *c) {
        struct sy_config *cfg = c->cfg;
        size_t i, j;
        int r;

        for (i = 0; i < cfg->n_upstreams; i++) {
                const struct sy_upstream_cfg *up = &cfg->upstreams[i];

                if (up->n_models == 0)
                        return errf(c, c->up_nodes[i], "upstream '%s' serves no models: list "
                                    "them in its models, or name it in a model's "
                                    "preferred_endpoints", up->name);
                for (j = 0; j < up->n_models; j++) {
                        r = sy_config_ensure_model(cfg, up->models[j], NULL);
                        if (r == -E2BIG)
                                return errf(c, c->up_nodes[i], "more than %d distinct models "
                                            "(upstream '%s')", SY_CFG_MAX_MODELS, up->name);
                        if (r < 0)
                                return r;
                }
        }
        for (i = 0; i < c->n_sets; i++) {
                struct model_set *set = &c->sets[i];
                struct sy_model_cfg *m = model_by_name(cfg, set->m.name);
                bool kept;

                if (!m && set->native && cfg->n_discovery == 0)
                        return errf(c, set->key, "models: '%s' is not served by any upstream",
                                    set->m.name);
                /* a policy is not dropped while upstreams added later (discovery, the
                 * admin API) may serve the model: it must hold then */
                kept = !set->native && set->m.pii_policy.set && (cfg->n_discovery || cfg->admin.enabled);
                if (!m && kept) {
                        r = warnf(c, set->key, "model_config: '%s' is not served by any endpoint "
                                  "(yet); kept for its pii_policy", set->m.name);
                        if (r < 0)
                                return r;
                }
                if (!m && (set->native || kept)) {
                        /* discovered upstreams may serve it: kept, with no upstream yet */
                        r = sy_config_ensure_model(cfg, set->m.name, &m);
                        if (r == -E2BIG)
                                return errf(c, set->key, "more than %d distinct models",
                                            SY_CFG_MAX_MODELS);
                        if (r < 0)
                                return r;
                }
                if (!m) {
                        r = warnf(c, set->key, "model_config: '%s' is not served by any "
                                  "endpoint; ignored", set->m.name);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (set->m.default_engine) {
                        for (j = 0; j < cfg->n_upstreams; j++)
                                if (strcmp(cfg->upstreams[j].engine, set->m.default_engine) == 0 &&
                                    str_index(cfg->upstreams[j].models, cfg->upstreams[j].n_models,
                                              m->name) >= 0)
                                        break;
                        if (j == cfg->n_upstreams && cfg->n_discovery == 0)
                                return errf(c, set->key, "%s.%s: default_engine '%s': no "
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

/* ---- model "auto" ------------------------------------------------------ */

static int parse_aliases(struct ctx *c) {
        static const char *const defaults[] = { "auto", "MoM" };
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *v = root_get(c, "auto_aliases");
        yaml_node_item_t *items = NULL;
        size_t n_items = 0, i;
        int r;

        if (!v) {
                for (i = 0; i < 2; i++) {
                        char *s;

                        if (model_by_name(cfg, defaults[i])) {
                                r = warnf(c, NULL, "a served model is named '%s'; it is not "
                                          "an auto alias", defaults[i]);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        s = strdup(defaults[i]);
                        if (!s)
                                return -ENOMEM;
                        r = push_str(&cfg->auto_aliases, &cfg->n_auto_aliases, s);
                        if (r < 0) {
                                free(s);
                                return r;
                        }
                }
                return 0;
        }
        r = get_name_list(c, v, "auto_aliases", NAME_MODEL, CFG_ALIASES_MAX, &cfg->auto_aliases,
                          &cfg->n_auto_aliases);
        if (r < 0)
                return r;
        r = seq_items(c, v, "auto_aliases", &items, &n_items);
        if (r < 0)
                return r;
        for (i = 0; i < n_items; i++)
                if (model_by_name(cfg, cfg->auto_aliases[i]))
                        return errf(c, node_at(c, items[i]), "auto_aliases: '%s' is also a "
                                    "served model", cfg->auto_aliases[i]);
        return 0;
}

/* ---- the classifier: classifier: and prompt_guard: ---------------------- */

/* A classic model_id: a directory, relative ones against the config file's
 * directory. switchyard never downloads: an id that is not a directory
 * here (a hub id such as "org/name", or a path not there yet) is kept,
 * marked missing, and warned about; the classifier process refuses to
 * start with it (frontend and router do not need it). */
static int get_path(struct ctx *c, const yaml_node_t *v, const char *what, char **ret) {
        const char *slash = strrchr(c->name, '/');
        char *s = NULL, *full;
        int r;

        r = get_str(c, v, what, 4000, &s);
        if (r < 0)
                return r;
        if (!s[0]) {
                free(s);
                return errf(c, v, "%s: must not be empty", what);
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

static int get_model_dir(struct ctx *c, const yaml_node_t *v, const char *what, char **ret, bool *ret_missing) {
        struct stat st;
        int r = get_path(c, v, what, ret);

        if (r < 0)
                return r;
        *ret_missing = stat(*ret, &st) < 0 || !S_ISDIR(st.st_mode);
        if (*ret_missing)
                return warnf(c, v, "%s: '%s' is not a model directory here; switchyard does not download "
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

        r = map_pairs(c, v, what, &pairs, &n);
        if (r < 0)
                return r;
        rc->line = (unsigned)v->start_mark.line + 1;
        for (i = 0; i < n; i++) {
                const yaml_node_t *k = node_at(c, pairs[i].key), *val = node_at(c, pairs[i].value);

                snprintf(fw, sizeof fw, "%s.%s", what, show(k, b));
                if (scalar_is(k, "model_id"))
                        r = get_model_dir(c, val, fw, &rc->model_id, &rc->missing);
                else if (scalar_is(k, "threshold"))
                        r = get_double(c, val, fw, 0.0, 1.0, threshold);
                else if (scalar_is(k, "use_cpu"))
                        r = get_bool(c, val, fw, &rc->use_cpu);
                else if (role == ROLE_JAILBREAK && scalar_is(k, "enabled"))
                        r = get_bool(c, val, fw, enabled);
                else if (role == ROLE_JAILBREAK && scalar_is(k, "include_history")) {
                        c->pg_history = val;
                        r = get_bool(c, val, fw, &c->cfg->guard.include_history);
                } else if (scalar_is(k, "category_mapping_path") || scalar_is(k, "pii_mapping_path") ||
                           scalar_is(k, "jailbreak_mapping_path"))
                        r = is_null(val) ? 0 : get_path(c, val, fw, &rc->mapping_path);
                else if (scalar_is(k, "use_modernbert"))
                        r = 0;   /* the architecture is read from the checkpoint's config.json */
                else if (role != ROLE_CATEGORY)
                        r = errf(c, k, "unknown key '%s' in %s (known: %s)", show(k, b), what, known[role]);
                else
                        r = unused_key(c, k, what);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_classifier(struct ctx *c) {
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *v = root_get(c, "confidence_threshold");
        const yaml_node_t *clf = root_get(c, "classifier"), *pg = root_get(c, "prompt_guard");
        const yaml_node_t *cats = root_get(c, "categories");
        const yaml_node_t *t = map_get(c, map_get(c, clf, "category_model"), "threshold");
        yaml_node_pair_t *pairs;
        bool enabled = true, pg_enabled = false;
        size_t n, i;
        int r;

        cfg->classifier.backend = strdup("auto");
        if (!cfg->classifier.backend)
                return -ENOMEM;
        cfg->classifier.threads = 1;
        cfg->classifier.max_batch = 32;
        cfg->classifier.max_batch_wait_us = 500;
        cfg->classifier.timeout_ms = 50;
        cfg->classifier.pii.threshold = 0.5;
        cfg->classifier.jailbreak.threshold = 0.7;
        cfg->classifier.jailbreak_enabled = true;
        n = 0;
        r = clf ? map_pairs(c, clf, "classifier", &pairs, &n) : 0;
        if (r < 0)
                return r;
        for (i = 0; i < n; i++) {
                const yaml_node_t *k = node_at(c, pairs[i].key), *val = node_at(c, pairs[i].value);
                char fw[96], b[72];
                uint64_t u = 0;

                snprintf(fw, sizeof fw, "classifier.%s", show(k, b));
                if (scalar_is(k, "enabled")) {
                        r = get_bool(c, val, fw, &enabled);
                        c->clf_off = r == 0 && !enabled ? val : NULL;
                } else if (scalar_is(k, "model")) {
                        bool missing = false;

                        r = get_model_dir(c, val, fw, &cfg->classifier.model, &missing);
                } else if (scalar_is(k, "backend")) {
                        if (!scalar_is(val, "auto") && !scalar_is(val, "cpu") && !scalar_is(val, "cuda"))
                                return errf(c, val, "%s: expected auto, cpu or cuda, got %s%s%s", fw, Q(val),
                                            SHOW(val, b), Q(val));
                        r = get_str(c, val, fw, 8, &cfg->classifier.backend);
                } else if (scalar_is(k, "threads")) {
                        r = get_uint(c, val, fw, 1, 256, &u);
                        cfg->classifier.threads = (unsigned)u;
                } else if (scalar_is(k, "max_batch")) {
                        r = get_uint(c, val, fw, 1, 1024, &u);
                        cfg->classifier.max_batch = (unsigned)u;
                } else if (scalar_is(k, "max_batch_wait_us")) {
                        r = get_duration(c, val, fw, NS_PER_US, 0, 1000000, &u);
                        cfg->classifier.max_batch_wait_us = (unsigned)u;
                } else if (scalar_is(k, "max_len")) {
                        r = get_uint(c, val, fw, 0, 8192, &u);
                        if (r >= 0 && u > 0 && u < 8)
                                return errf(c, val, "%s: %llu is too small (0 or 8..8192)", fw, (unsigned long long)u);
                        cfg->classifier.max_len = (unsigned)u;
                } else if (scalar_is(k, "timeout_ms")) {
                        r = get_duration(c, val, fw, NS_PER_MS, 1, 60000, &u);
                        cfg->classifier.timeout_ms = (unsigned)u;
                } else if (scalar_is(k, "pii_threshold")) {
                        r = get_double(c, val, fw, 0.0, 1.0, &cfg->classifier.pii.threshold);
                } else if (scalar_is(k, "jailbreak_threshold")) {
                        r = get_double(c, val, fw, 0.0, 1.0, &cfg->classifier.jailbreak.threshold);
                } else if (scalar_is(k, "category_model")) {
                        double th = cfg->confidence_threshold;

                        r = parse_role(c, val, fw, ROLE_CATEGORY, &cfg->classifier.category, &th, NULL);
                } else if (scalar_is(k, "pii_model")) {
                        r = parse_role(c, val, fw, ROLE_PII, &cfg->classifier.pii, &cfg->classifier.pii.threshold,
                                       NULL);
                } else {
                        r = unused_key(c, k, "classifier");
                }
                if (r < 0)
                        return r;
        }
        if (pg) {
                pg_enabled = true;   /* vSR's default when the section is there */
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
                return get_double(c, v, "confidence_threshold", 0.0, 1.0,
                                  &c->cfg->confidence_threshold);
        if (t)
                return get_double(c, t, "classifier.category_model.threshold", 0.0, 1.0,
                                  &c->cfg->confidence_threshold);
        return 0;
}

static int parse_model_scores(struct ctx *c, const yaml_node_t *v, const char *what,
                              bool use_reasoning, struct sy_category_cfg *cat) {
        static const char *const ignored[] = { "reasoning_effort", "reasoning_description",
                                               NULL };
        yaml_node_item_t *items = NULL;
        yaml_node_pair_t *pairs;
        size_t n_items = 0, i, j, n;
        int r;

        r = seq_items(c, v, what, &items, &n_items);
        if (r < 0)
                return r;
        if (n_items > SY_CFG_MAX_MODELS)
                return errf(c, v, "%s: more than %d entries", what, SY_CFG_MAX_MODELS);
        cat->model_scores = calloc(n_items ? n_items : 1, sizeof *cat->model_scores);
        if (!cat->model_scores)
                return -ENOMEM;
        for (i = 0; i < n_items; i++) {
                const yaml_node_t *item = node_at(c, items[i]), *model_node = NULL;
                struct sy_model_score *ms = &cat->model_scores[cat->n_model_scores++];
                bool have_score = false;
                char iw[160], fw[240], b[72];
                size_t k;

                ms->use_reasoning = use_reasoning;
                snprintf(iw, sizeof iw, "%s[%zu]", what, i);
                r = map_pairs(c, item, iw, &pairs, &n);
                if (r < 0)
                        return r;
                for (j = 0; j < n; j++) {
                        const yaml_node_t *k2 = node_at(c, pairs[j].key);
                        const yaml_node_t *val = node_at(c, pairs[j].value);

                        r = 0;
                        snprintf(fw, sizeof fw, "%s.%s", iw, show(k2, b));
                        if (scalar_is(k2, "model")) {
                                model_node = val;
                                r = get_name(c, val, fw, NAME_MODEL, &ms->model);
                        } else if (scalar_is(k2, "score")) {
                                have_score = true;
                                r = get_double(c, val, fw, 0.0, 1.0, &ms->score);
                        } else if (scalar_is(k2, "use_reasoning")) {
                                r = get_bool(c, val, fw, &ms->use_reasoning);
                        } else if (!in_list(k2, ignored)) {
                                r = unused_key(c, k2, iw);
                        }
                        if (r < 0)
                                return r;
                }
                if (!model_node)
                        return errf(c, item, "%s: missing 'model'", iw);
                if (!have_score)
                        return errf(c, item, "%s: missing 'score'", iw);
                if (!model_by_name(c->cfg, ms->model))
                        return errf(c, model_node, "%s: model '%s' is not served by any "
                                    "upstream", iw, ms->model);
                for (k = 0; k + 1 < cat->n_model_scores; k++)
                        if (strcmp(cat->model_scores[k].model, ms->model) == 0)
                                return errf(c, model_node, "%s: model '%s' is listed twice",
                                            iw, ms->model);
        }
        return 0;
}

static int parse_categories(struct ctx *c) {
        static const char *const ignored[] = {
                "description", "mmlu_categories", "reasoning_description", "reasoning_effort",
                "semantic_cache_enabled", "semantic_cache_similarity_threshold", NULL,
        };
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *v = root_get(c, "categories");
        yaml_node_item_t *items = NULL;
        yaml_node_pair_t *pairs;
        size_t n_items = 0, i, j, n;
        int r;

        if (!v)
                return 0;
        r = seq_items(c, v, "categories", &items, &n_items);
        if (r < 0)
                return r;
        if (n_items > SY_CFG_MAX_CATEGORIES)
                return errf(c, node_at(c, items[SY_CFG_MAX_CATEGORIES]),
                            "categories: more than %d categories", SY_CFG_MAX_CATEGORIES);
        cfg->categories = calloc(n_items ? n_items : 1, sizeof *cfg->categories);
        if (!cfg->categories)
                return -ENOMEM;
        for (i = 0; i < n_items; i++) {
                const yaml_node_t *item = node_at(c, items[i]), *name_node = NULL;
                const yaml_node_t *scores = NULL, *ur;
                struct sy_category_cfg *cat = &cfg->categories[cfg->n_categories++];
                bool use_reasoning = false, prompt_enabled = true;
                char what[48], fw[128], b[72];
                size_t k;

                snprintf(what, sizeof what, "categories[%zu]", i);
                cat->pii_enabled = -1;
                cat->jailbreak_enabled = -1;
                cat->pii_threshold = -1;
                cat->jailbreak_threshold = -1;
                r = map_pairs(c, item, what, &pairs, &n);
                if (r < 0)
                        return r;
                /* category-level use_reasoning (older vSR) is the default of its scores */
                ur = map_get(c, item, "use_reasoning");
                if (ur) {
                        snprintf(fw, sizeof fw, "%s.use_reasoning", what);
                        r = get_bool(c, ur, fw, &use_reasoning);
                        if (r < 0)
                                return r;
                }
                for (j = 0; j < n; j++) {
                        const yaml_node_t *k2 = node_at(c, pairs[j].key);
                        const yaml_node_t *val = node_at(c, pairs[j].value);

                        r = 0;
                        snprintf(fw, sizeof fw, "%s.%s", what, show(k2, b));
                        if (scalar_is(k2, "name")) {
                                name_node = val;
                                r = get_name(c, val, fw, NAME_CATEGORY, &cat->name);
                        } else if (scalar_is(k2, "system_prompt")) {
                                if (!is_null(val))
                                        r = get_str(c, val, fw, CFG_PROMPT_MAX,
                                                    &cat->system_prompt);
                        } else if (scalar_is(k2, "system_prompt_enabled")) {
                                r = get_bool(c, val, fw, &prompt_enabled);
                        } else if (scalar_is(k2, "system_prompt_mode")) {
                                if (scalar_is(val, "insert"))
                                        cat->system_prompt_insert = true;
                                else if (!scalar_is(val, "replace"))
                                        r = errf(c, val, "%s: expected 'replace' or 'insert'", fw);
                        } else if (scalar_is(k2, "model_scores")) {
                                scores = val;
                        } else if (scalar_is(k2, "use_reasoning")) {
                                /* read above */
                        } else if (scalar_is(k2, "pii_enabled") || scalar_is(k2, "jailbreak_enabled")) {
                                bool on = false;

                                r = get_bool(c, val, fw, &on);
                                if (scalar_is(k2, "pii_enabled"))
                                        cat->pii_enabled = on;
                                else
                                        cat->jailbreak_enabled = on;
                                if (on && scalar_is(k2, "jailbreak_enabled") && !c->jb_needs)
                                        c->jb_needs = val;
                        } else if (scalar_is(k2, "pii_threshold")) {
                                r = get_double(c, val, fw, 0.0, 1.0, &cat->pii_threshold);
                        } else if (scalar_is(k2, "jailbreak_threshold")) {
                                r = get_double(c, val, fw, 0.0, 1.0, &cat->jailbreak_threshold);
                        } else if (!in_list(k2, ignored)) {
                                r = unused_key(c, k2, what);
                        }
                        if (r < 0)
                                return r;
                }
                if (!name_node)
                        return errf(c, item, "%s: missing 'name'", what);
                for (k = 0; k + 1 < cfg->n_categories; k++)
                        if (strcmp(cfg->categories[k].name, cat->name) == 0)
                                return errf(c, name_node, "%s: duplicate category '%s'",
                                            what, cat->name);
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

static int parse_reasoning(struct ctx *c) {
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *v = root_get(c, "reasoning_families"), *e;
        yaml_node_pair_t *pairs;
        size_t n, i;
        int r;

        if ((r = add_family(cfg, "qwen3", SY_REASONING_TEMPLATE_KWARGS, "enable_thinking")) < 0 ||
            (r = add_family(cfg, "deepseek", SY_REASONING_TEMPLATE_KWARGS, "thinking")) < 0 ||
            (r = add_family(cfg, "gpt-oss", SY_REASONING_EFFORT, "reasoning_effort")) < 0 ||
            (r = add_family(cfg, "gpt", SY_REASONING_EFFORT, "reasoning_effort")) < 0)
                return r;
        if (v && !is_null(v)) {
                r = map_pairs(c, v, "reasoning_families", &pairs, &n);
                if (r < 0)
                        return r;
                for (i = 0; i < n; i++) {
                        const yaml_node_t *k = node_at(c, pairs[i].key), *f = node_at(c, pairs[i].value);
                        const yaml_node_t *t, *p;
                        char *name = NULL, *param = NULL, fw[160], b[72];

                        snprintf(fw, sizeof fw, "reasoning_families.%s", show(k, b));
                        r = get_name(c, k, "reasoning_families", NAME_MODEL, &name);
                        if (r < 0)
                                return r;
                        t = map_get(c, f, "type");
                        p = map_get(c, f, "parameter");
                        if (f->type != YAML_MAPPING_NODE || !t || !p) {
                                free(name);
                                return errf(c, f, "%s: expected a mapping with 'type' and 'parameter'", fw);
                        }
                        if (!scalar_is(t, "chat_template_kwargs") && !scalar_is(t, "reasoning_effort")) {
                                free(name);
                                return errf(c, t, "%s.type: expected 'chat_template_kwargs' or "
                                            "'reasoning_effort'", fw);
                        }
                        r = get_name(c, p, fw, NAME_MODEL, &param);
                        if (r >= 0)
                                r = add_family(cfg, name, scalar_is(t, "reasoning_effort") ?
                                               SY_REASONING_EFFORT : SY_REASONING_TEMPLATE_KWARGS, param);
                        free(name);
                        free(param);
                        if (r < 0)
                                return r;
                }
        }
        e = root_get(c, "default_reasoning_effort");
        if (e && !is_null(e)) {
                if (!scalar_is(e, "low") && !scalar_is(e, "medium") && !scalar_is(e, "high"))
                        return errf(c, e, "default_reasoning_effort: expected low, medium or high");
                r = get_str(c, e, "default_reasoning_effort", 16, &cfg->default_reasoning_effort);
        } else {
                cfg->default_reasoning_effort = strdup("high");
                r = cfg->default_reasoning_effort ? 0 : -ENOMEM;
        }
        if (r < 0)
                return r;
        for (i = 0; i < cfg->n_models; i++)
                if (cfg->models[i].reasoning_family &&
                    !sy_config_find_reasoning(cfg, cfg->models[i].reasoning_family))
                        return errf(c, NULL, "model '%s': reasoning_family '%s' is not defined "
                                    "(built in: qwen3, deepseek, gpt-oss, gpt; or add it under "
                                    "reasoning_families)", cfg->models[i].name,
                                    cfg->models[i].reasoning_family);
        v = root_get(c, "classify_turns");
        if (v) {
                uint64_t t;
                r = get_uint(c, v, "classify_turns", 1, 16, &t);
                if (r < 0)
                        return r;
                cfg->classify_turns = (unsigned)t;
        }
        return 0;
}

static int parse_default_model(struct ctx *c) {
        const yaml_node_t *v = root_get(c, "default_model");
        int r;

        if (!v || is_null(v))
                return 0;
        r = get_name(c, v, "default_model", NAME_MODEL, &c->cfg->default_model);
        if (r < 0)
                return r;
        if (!model_by_name(c->cfg, c->cfg->default_model))
                return errf(c, v, "default_model: '%s' is not served by any upstream",
                            c->cfg->default_model);
        return 0;
}

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
                return errf(c, n, "%s: expected a file path, got %s", what, kind_of(n));
        for (size_t i = 0; i < slen(n); i++)
                if ((unsigned char)sval(n)[i] < 0x20 || sval(n)[i] == 0x7f)
                        return errf(c, n, "%s: \"%s\" is not a valid file path", what, show(n, b));
        return get_str(c, n, what, CFG_FILE_PATH_MAX, ret);
}

/* http(s)://host[:port] with nothing after it (a trailing / is allowed). */
static int get_api_server(struct ctx *c, const yaml_node_t *n, const char *what, char **ret) {
        const char *s, *h;
        char b[72];
        size_t hl;
        uint16_t port;
        bool tls;

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return errf(c, n, "%s: expected a URL, got %s", what, kind_of(n));
        s = sval(n);
        tls = slen(n) > 8 && strncasecmp(s, "https://", 8) == 0;
        if (!tls && !(slen(n) > 7 && strncasecmp(s, "http://", 7) == 0))
                return errf(c, n, "%s: \"%s\" is not a URL of the form https://host[:port]", what,
                            show(n, b));
        if (tls && !CFG_HAVE_TLS)
                return errf(c, n, "%s: this build of switchyard has no TLS (built without "
                            "OpenSSL); kubernetes discovery over https needs it", what);
        if (url_host_port(s + (tls ? 8 : 7), s + slen(n), &h, &hl, &port) != URL_OK)
                return errf(c, n, "%s: \"%s\" is not a URL of the form https://host[:port] (no path)", what,
                            show(n, b));
        return get_str(c, n, what, CFG_HOST_MAX + 16, ret);
}

static int parse_discovery(struct ctx *c) {
        static const char *const k8s_keys[] = {
                "kind", "namespace", "label_selector", "resource", "port", "engine", "models",
                "model_label", "models_from", "weight", "upstream_kind", "api_server", "token_file",
                "ca_file", NULL,
        };
        static const char *const dns_keys[] = {
                "kind", "name", "port", "engine", "models", "models_from", "weight", "upstream_kind",
                "interval_ms", NULL,
        };
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *v = root_get(c, "discovery");
        yaml_node_item_t *items = NULL;
        size_t n_items = 0, i, j, n;
        int r;

        if (!v)
                return 0;
        r = seq_items(c, v, "discovery", &items, &n_items);
        if (r < 0)
                return r;
        if (n_items > CFG_DISCOVERY_MAX)
                return errf(c, v, "discovery: more than %d sources", CFG_DISCOVERY_MAX);
        cfg->discovery = calloc(n_items ? n_items : 1, sizeof *cfg->discovery);
        if (!cfg->discovery)
                return -ENOMEM;
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
                r = map_pairs(c, item, what, &pairs, &n);
                if (r < 0)
                        return r;
                kind = map_get(c, item, "kind");
                if (!kind)
                        return errf(c, item, "%s: missing 'kind' (kubernetes or dns)", what);
                if (scalar_is(kind, "kubernetes")) {
                        d->kind = SY_DISC_KUBERNETES;
                        keys = k8s_keys;
                        if (!CFG_HAVE_TLS && !map_get(c, item, "api_server"))
                                return errf(c, kind, "%s: kind kubernetes: this build of switchyard "
                                            "has no TLS (built without OpenSSL), which the API server "
                                            "needs", what);
                } else if (scalar_is(kind, "dns")) {
                        d->kind = SY_DISC_DNS;
                        keys = dns_keys;
                } else {
                        return errf(c, kind, "%s.kind: unknown kind %s%s%s (kubernetes or dns)", what,
                                    Q(kind), SHOW(kind, b), Q(kind));
                }
                for (j = 0; keys[j]; j++) {
                        strncat(known, keys[j], sizeof known - strlen(known) - 1);
                        if (keys[j + 1])
                                strncat(known, ", ", sizeof known - strlen(known) - 1);
                }
                for (j = 0; j < n; j++) {
                        const yaml_node_t *k = node_at(c, pairs[j].key);
                        const yaml_node_t *val = node_at(c, pairs[j].value);
                        uint64_t u;

                        r = 0;
                        snprintf(fw, sizeof fw, "%s.%s", what, show(k, b));
                        if (!in_list(k, keys))
                                return errf(c, k, "unknown key '%s' in %s (kind %s; known: %s)",
                                            show(k, b), what, sval(kind), known);
                        if (scalar_is(k, "kind")) {
                                continue;
                        } else if (scalar_is(k, "engine")) {
                                r = get_name(c, val, fw, NAME_ENGINE, &d->engine);
                        } else if (scalar_is(k, "models")) {
                                r = get_name_list(c, val, fw, NAME_MODEL, SY_CFG_MAX_MODELS,
                                                  &d->models, &d->n_models);
                        } else if (scalar_is(k, "model_label")) {
                                r = get_name(c, val, fw, NAME_MODEL, &d->model_label);
                        } else if (scalar_is(k, "models_from")) {
                                if (!scalar_is(val, "v1_models"))
                                        return errf(c, val, "%s: expected v1_models, got %s%s%s", fw,
                                                    Q(val), SHOW(val, b), Q(val));
                                d->models_from_v1 = true;
                        } else if (scalar_is(k, "weight")) {
                                r = get_uint(c, val, fw, 1, CFG_WEIGHT_MAX, &u);
                                d->weight = (uint32_t)u;
                        } else if (scalar_is(k, "upstream_kind")) {
                                if (scalar_is(val, "server"))
                                        d->upstream_kind = SY_UPSTREAM_SERVER;
                                else if (scalar_is(val, "gateway"))
                                        d->upstream_kind = SY_UPSTREAM_GATEWAY;
                                else
                                        r = errf(c, val, "%s: unknown kind %s%s%s (server or gateway)",
                                                 fw, Q(val), SHOW(val, b), Q(val));
                        } else if (scalar_is(k, "port")) {
                                have_port = true;
                                if (d->kind == SY_DISC_KUBERNETES && val->type == YAML_SCALAR_NODE &&
                                    !is_null(val) && !all_digits(sval(val), slen(val))) {
                                        r = get_name(c, val, fw, NAME_ENGINE, &d->port_name);
                                } else {
                                        r = get_uint(c, val, fw, 1, 65535, &u);
                                        d->port = (uint16_t)u;
                                }
                        } else if (scalar_is(k, "namespace")) {
                                r = get_name(c, val, fw, NAME_ENGINE, &d->namespace_);
                        } else if (scalar_is(k, "label_selector")) {
                                r = get_str(c, val, fw, CFG_SELECTOR_MAX, &d->label_selector);
                                for (size_t x = 0; r == 0 && d->label_selector[x]; x++)
                                        if ((unsigned char)d->label_selector[x] < 0x20 ||
                                            (unsigned char)d->label_selector[x] >= 0x7f)
                                                r = errf(c, val, "%s: not printable ASCII", fw);
                        } else if (scalar_is(k, "resource")) {
                                if (scalar_is(val, "endpointslices"))
                                        d->resource = SY_K8S_ENDPOINTSLICES;
                                else if (scalar_is(val, "pods"))
                                        d->resource = SY_K8S_PODS;
                                else
                                        r = errf(c, val, "%s: expected endpointslices or pods, got "
                                                 "%s%s%s", fw, Q(val), SHOW(val, b), Q(val));
                        } else if (scalar_is(k, "api_server")) {
                                r = get_api_server(c, val, fw, &d->api_server);
                        } else if (scalar_is(k, "token_file")) {
                                r = get_file_path(c, val, fw, &d->token_file);
                        } else if (scalar_is(k, "ca_file")) {
                                r = get_file_path(c, val, fw, &d->ca_file);
                        } else if (scalar_is(k, "name")) {
                                r = get_host(c, val, fw, &d->dns_name);
                        } else if (scalar_is(k, "interval_ms")) {
                                r = get_duration(c, val, fw, NS_PER_MS, 100, MS_HOUR, &u);
                                d->interval_ms = (unsigned)u;
                        }
                        if (r < 0)
                                return r;
                }
                if (!have_port)
                        return errf(c, item, "%s: missing 'port'%s", what,
                                    d->kind == SY_DISC_KUBERNETES ? " (a number or a port name)" : "");
                if (d->kind == SY_DISC_DNS && !d->dns_name)
                        return errf(c, item, "%s: missing 'name' (the DNS name to resolve)", what);
                if (d->n_models == 0 && !d->model_label && !d->models_from_v1)
                        return errf(c, item, "%s: no models: give models, %smodels_from: v1_models",
                                    what, d->kind == SY_DISC_KUBERNETES ? "model_label or " : "");
        }
        return 0;
}

/* host:port or [v6]:port */
static int get_listen(struct ctx *c, const yaml_node_t *n, const char *what, char **ret_host,
                      uint16_t *ret_port) {
        const char *s, *colon, *h;
        size_t hl, pl;
        uint64_t port = 0;
        char b[72], *host;

        if (n->type != YAML_SCALAR_NODE || is_null(n))
                return errf(c, n, "%s: expected host:port, got %s", what, kind_of(n));
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
        if (!host_ok(h, hl) || !all_digits(colon + 1, pl) || digits_u64(colon + 1, pl, &port) < 0 ||
            port < 1 || port > 65535)
                goto bad;
        host = strndup(h, hl);
        if (!host)
                return -ENOMEM;
        free(*ret_host);
        *ret_host = host;
        *ret_port = (uint16_t)port;
        return 0;
bad:
        return errf(c, n, "%s: expected host:port such as \"127.0.0.1:9090\", got \"%s\"", what,
                    show(n, b));
}

static int parse_admin(struct ctx *c) {
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *v = root_get(c, "admin");
        yaml_node_pair_t *pairs;
        size_t n, i;
        int r;

        if (!v)
                return 0;
        r = map_pairs(c, v, "admin", &pairs, &n);
        if (r < 0)
                return r;
        cfg->admin.enabled = true;
        for (i = 0; i < n; i++) {
                const yaml_node_t *k = node_at(c, pairs[i].key);
                const yaml_node_t *val = node_at(c, pairs[i].value);
                char fw[96], b[72];

                snprintf(fw, sizeof fw, "admin.%s", show(k, b));
                if (scalar_is(k, "listen"))
                        r = get_listen(c, val, fw, &cfg->admin.host, &cfg->admin.port);
                else if (scalar_is(k, "token"))
                        r = get_str(c, val, fw, 4096, &cfg->admin.token);
                else if (scalar_is(k, "token_file"))
                        r = get_file_path(c, val, fw, &cfg->admin.token_file);
                else if (scalar_is(k, "state_file"))
                        r = get_file_path(c, val, fw, &cfg->admin.state_file);
                else
                        r = errf(c, k, "unknown key '%s' in admin (known: listen, token, token_file, "
                                 "state_file)", show(k, b));
                if (r < 0)
                        return r;
        }
        if ((!cfg->admin.token || !cfg->admin.token[0]) && !cfg->admin.token_file)
                return errf(c, v, "admin: give token or token_file (the admin API always needs a "
                            "bearer token)");
        if (cfg->admin.token && cfg->admin.token_file)
                return errf(c, v, "admin: token and token_file are both given; use one");
        if (!cfg->admin.host) {
                cfg->admin.host = strdup("127.0.0.1");
                if (!cfg->admin.host)
                        return -ENOMEM;
                cfg->admin.port = 9090;
        }
        return 0;
}

/* ---- guardrails: guard, auth, rate_limits ------------------------------ */

#define CFG_SECRET_MIN 8
#define CFG_SECRET_MAX 4096
#define CFG_API_KEYS_MAX 4096

/* What an API key or token must be: 8..4096 visible ASCII characters (it
 * travels in an HTTP header). Never quotes the secret. */
static int check_secret(struct ctx *c, const yaml_node_t *n, const char *what, const char *src,
                        const char *s, size_t len) {
        if (len == 0)
                return errf(c, n, "%s: %s is empty", what, src);
        if (memchr(s, 0, len))
                return errf(c, n, "%s: %s contains a NUL byte", what, src);
        if (len < CFG_SECRET_MIN)
                return errf(c, n, "%s: %s is shorter than %d bytes", what, src, CFG_SECRET_MIN);
        if (len > CFG_SECRET_MAX)
                return errf(c, n, "%s: %s is longer than %d bytes", what, src, CFG_SECRET_MAX);
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
                        return errf(c, n, "%s: %s contains a space, control or non-ASCII character (a key "
                                    "is sent in an HTTP header: visible ASCII only)", what, src);
        return 0;
}

/* The secret of a *_env or *_file key into buf (CFG_SECRET_MAX + 2 bytes,
 * wiped by the caller): the variable's value, or the file's first line
 * without trailing whitespace. */
static int read_secret(struct ctx *c, const yaml_node_t *k, const yaml_node_t *v, const char *what,
                       char *buf, size_t *ret_len) {
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
                        return errf(c, v, "%s: %s is not set", what, src);
                len = strlen(val);
                r = check_secret(c, v, what, src, val, len);
                if (r < 0)
                        return r;
                memcpy(buf, val, len);
                *ret_len = len;
                return 0;
        }
        r = get_path(c, v, what, &path);
        if (r < 0)
                return r;
        snprintf(src, sizeof src, "file '%s'", path);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        free(path);
        if (fd < 0)
                return errf(c, v, "%s: cannot read %s: %s", what, src, strerror(errno));
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return errf(c, v, "%s: %s is not a regular file", what, src);
        }
        while (len < cap && (got = read(fd, buf + len, cap - len)) != 0) {
                if (got < 0 && errno == EINTR)
                        continue;
                if (got < 0) {
                        r = errno;
                        close(fd);
                        return errf(c, v, "%s: cannot read %s: %s", what, src, strerror(r));
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
                return errf(c, v, "%s: expected 64 hexadecimal digits (the SHA-256 of the key, e.g. "
                            "printf %%s KEY | sha256sum)", what);
        for (size_t i = 0; i < 64; i++) {
                char ch = sval(v)[i];
                int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
                        ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;

                if (d < 0)
                        return errf(c, v, "%s: expected 64 hexadecimal digits, found '%c'", what,
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
                        return errf(c, k, "%s: give one of %s, %s or %s, not both %s and %s", what, keys[0],
                                    keys[1], keys[2], sval(*ret_key), sval(k));
                *ret_key = k;
                *ret_val = node_at(c, p->value);
        }
        return 0;
}

static int parse_api_key(struct ctx *c, const yaml_node_t *item, const char *what, struct sy_api_key_cfg *key) {
        static const char *const sources[3] = { "key_sha256", "key_env", "key_file" };
        static const char *const known[] = { "name", "key_sha256", "key_env", "key_file", "models",
                                             "requests_per_minute", "tokens_per_minute", NULL };
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *name = NULL, *sk, *sv;
        yaml_node_pair_t *pairs;
        char fw[160], b[72];
        size_t n, j;
        uint64_t u;
        int r;

        key->requests_per_minute = key->tokens_per_minute = -1;
        key->line = (unsigned)item->start_mark.line + 1;
        r = map_pairs(c, item, what, &pairs, &n);
        if (r < 0)
                return r;
        if (item->type != YAML_MAPPING_NODE)
                return errf(c, item, "%s: expected a mapping with name and key_sha256, key_env or key_file", what);
        for (j = 0; j < n; j++) {
                const yaml_node_t *k = node_at(c, pairs[j].key), *val = node_at(c, pairs[j].value);

                snprintf(fw, sizeof fw, "%s.%s", what, show(k, b));
                r = 0;
                if (!in_list(k, known)) {
                        r = errf(c, k, "unknown key '%s' in %s (known: name, key_sha256, key_env, key_file, "
                                 "models, requests_per_minute, tokens_per_minute)", show(k, b), what);
                } else if (scalar_is(k, "name")) {
                        name = val;
                        r = get_name(c, val, fw, NAME_MODEL, &key->name);
                } else if (scalar_is(k, "models")) {
                        r = get_name_list(c, val, fw, NAME_MODEL, SY_CFG_MAX_MODELS, &key->models, &key->n_models);
                        for (size_t m = 0; r == 0 && m < key->n_models; m++) {
                                if (model_by_name(cfg, key->models[m]))
                                        continue;
                                if (cfg->n_discovery == 0)
                                        r = errf(c, node_at(c, val->data.sequence.items.start[m]),
                                                 "%s: model '%s' is not served by any upstream", fw, key->models[m]);
                                else
                                        r = warnf(c, node_at(c, val->data.sequence.items.start[m]),
                                                  "%s: model '%s' is not served by any upstream in the file "
                                                  "(discovery may find it)", fw, key->models[m]);
                        }
                } else if (scalar_is(k, "requests_per_minute") || scalar_is(k, "tokens_per_minute")) {
                        r = get_uint(c, val, fw, 0, CFG_RATE_MAX, &u);
                        if (scalar_is(k, "requests_per_minute"))
                                key->requests_per_minute = (int64_t)u;
                        else
                                key->tokens_per_minute = (int64_t)u;
                }
                if (r < 0)
                        return r;
        }
        if (!name)
                return errf(c, item, "%s: missing 'name' (the client's id in logs and metrics)", what);
        for (j = 0; j < cfg->n_api_keys; j++)
                if (strcmp(cfg->api_keys[j].name, key->name) == 0)
                        return errf(c, name, "%s: duplicate API key name '%s' (first at line %u)", what,
                                    key->name, cfg->api_keys[j].line);
        r = one_source(c, item, what, sources, &sk, &sv);
        if (r < 0)
                return r;
        if (!sk)
                return errf(c, item, "%s: missing the key: give key_sha256, key_env or key_file", what);
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
                        r = errf(c, sv, "%s: SHA-256 (libcrypto) failed", fw);
        }
        if (r < 0)
                return r;
        for (j = 0; j < cfg->n_api_keys; j++)
                if (memcmp(cfg->api_keys[j].sha256, key->sha256, 32) == 0)
                        return errf(c, sv, "%s: the same key as '%s' (line %u); every key must be distinct",
                                    what, cfg->api_keys[j].name, cfg->api_keys[j].line);
        return 0;
}

static int parse_auth(struct ctx *c) {
        static const char *const mt[3] = { "metrics_token", "metrics_token_env", "metrics_token_file" };
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *v = root_get(c, "auth"), *keys = NULL, *mk, *mv;
        yaml_node_item_t *items = NULL;
        yaml_node_pair_t *pairs;
        size_t n, i, n_items = 0;
        char b[72], what[48];
        int r;

        if (!v)
                return 0;
        r = map_pairs(c, v, "auth", &pairs, &n);
        if (r < 0)
                return r;
        for (i = 0; i < n; i++) {
                const yaml_node_t *k = node_at(c, pairs[i].key);

                if (scalar_is(k, "api_keys"))
                        keys = node_at(c, pairs[i].value);
                else if (!scalar_is(k, mt[0]) && !scalar_is(k, mt[1]) && !scalar_is(k, mt[2]))
                        return errf(c, k, "unknown key '%s' in auth (known: api_keys, metrics_token, "
                                    "metrics_token_env, metrics_token_file)", show(k, b));
        }
        if (keys) {
                r = seq_items(c, keys, "auth.api_keys", &items, &n_items);
                if (r < 0)
                        return r;
                if (n_items > CFG_API_KEYS_MAX)
                        return errf(c, keys, "auth.api_keys: more than %d keys", CFG_API_KEYS_MAX);
                cfg->api_keys = calloc(n_items ? n_items : 1, sizeof *cfg->api_keys);
                if (!cfg->api_keys)
                        return -ENOMEM;
                for (i = 0; i < n_items; i++) {
                        struct sy_api_key_cfg key = { 0 };

                        snprintf(what, sizeof what, "auth.api_keys[%zu]", i);
                        r = parse_api_key(c, node_at(c, items[i]), what, &key);
                        if (r < 0) {
                                free(key.name);
                                free_strv(key.models, key.n_models);
                                return r;
                        }
                        cfg->api_keys[cfg->n_api_keys++] = key;
                }
        }
        r = v->type == YAML_MAPPING_NODE ? one_source(c, v, "auth", mt, &mk, &mv) : 0;
        if (r < 0 || v->type != YAML_MAPPING_NODE || !mk)
                return r;
        if (scalar_is(mk, "metrics_token")) {
                r = get_str(c, mv, "auth.metrics_token", CFG_SECRET_MAX, &cfg->metrics_token);
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
static int parse_policy(struct ctx *c) {
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *g = root_get(c, "guard"), *rl = root_get(c, "rate_limits");
        const yaml_node_t *redis = map_get(c, rl, "redis"), *url = map_get(c, redis, "url"), *x;
        bool any_rpm, any_tpm;
        int r;

        r = parse_section(c, "guard", guard_fields, sizeof guard_fields / sizeof guard_fields[0]);
        if (r >= 0)
                r = parse_section(c, "rate_limits", rate_limits_fields,
                                  sizeof rate_limits_fields / sizeof rate_limits_fields[0]);
        if (r < 0)
                return r;
        if ((x = map_get(c, g, "include_history")) && c->pg_history)
                return errf(c, x, "guard.include_history: also given as prompt_guard.include_history "
                            "(line %zu); use one", c->pg_history->start_mark.line + 1);
        if (url && ((x = map_get(c, redis, "host")) || (x = map_get(c, redis, "port"))))
                return errf(c, x, "rate_limits.redis: give url or host and port, not both");
        if (redis && !is_null(redis) && !cfg->rate_limits.redis.host)
                return errf(c, redis, "rate_limits.redis: missing host (or url: redis://host:port)");
        if (cfg->rate_limits.redis.password_env && !getenv(cfg->rate_limits.redis.password_env))
                return errf(c, map_get(c, redis, "password_env"), "rate_limits.redis.password_env: "
                            "environment variable %s is not set", cfg->rate_limits.redis.password_env);
        any_rpm = cfg->rate_limits.requests_per_minute > 0;
        any_tpm = cfg->rate_limits.tokens_per_minute > 0;
        for (size_t i = 0; i < cfg->n_api_keys; i++) {
                any_rpm |= cfg->api_keys[i].requests_per_minute > 0;
                any_tpm |= cfg->api_keys[i].tokens_per_minute > 0;
        }
        if (cfg->rate_limits.burst_requests && !any_rpm)
                return errf(c, map_get(c, rl, "burst_requests"), "rate_limits.burst_requests: no "
                            "requests_per_minute is set (here or on an API key), so it would mean nothing");
        if (cfg->rate_limits.burst_tokens && !any_tpm)
                return errf(c, map_get(c, rl, "burst_tokens"), "rate_limits.burst_tokens: no "
                            "tokens_per_minute is set (here or on an API key), so it would mean nothing");
        if (redis && !is_null(redis) && !any_rpm && !any_tpm)
                return errf(c, redis, "rate_limits.redis: no limit is set (requests_per_minute or "
                            "tokens_per_minute, here or on an API key), so Redis would not be used");
        return 0;
}

/* Guards that apply need the classifier to run with the heads they read:
 * a pii_policy that forbids a type needs PII detection, a category's
 * jailbreak_enabled: true the jailbreak head, even with prompt_guard off. */
static int check_guards(struct ctx *c) {
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *jb = c->jb_needs ? c->jb_needs : root_get(c, "prompt_guard");
        bool classic;

        if (c->jb_needs)
                cfg->classifier.jailbreak_enabled = true;   /* the head is loaded, prompt_guard on or off */
        if (!cfg->classifier.jailbreak_enabled && cfg->classifier.jailbreak.model_id) {
                /* a disabled prompt guard's checkpoint is not loaded */
                free(cfg->classifier.jailbreak.model_id);
                cfg->classifier.jailbreak.model_id = NULL;
                cfg->classifier.jailbreak.missing = false;
        }
        if (!c->pii_needs && !c->jb_needs && !cfg->classifier.jailbreak_block)
                return 0;
        if (c->clf_off && (c->pii_needs || c->jb_needs))
                return errf(c, c->pii_needs ? c->pii_needs : c->jb_needs, "%s needs the classifier, but "
                            "classifier.enabled is false (line %zu)", c->pii_needs ?
                            "a pii_policy with allow_by_default: false" : "jailbreak_enabled: true",
                            c->clf_off->start_mark.line + 1);
        cfg->classifier.enabled = true;
        classic = cfg->classifier.category.model_id || cfg->classifier.pii.model_id ||
                  cfg->classifier.jailbreak.model_id;
        if (cfg->classifier.model || !classic)
                return 0;   /* the multi-head model: every head */
        /* classic single-head checkpoints only (classifier/daemon.c loads the
         * multi-head model only without them): each guard needs its own */
        if (c->pii_needs && !cfg->classifier.pii.model_id)
                return errf(c, c->pii_needs, "a pii_policy with allow_by_default: false needs PII detection: "
                            "the classifier has classic checkpoints but no classifier.pii_model.model_id (give "
                            "one, or classifier.model)");
        if ((c->jb_needs || cfg->classifier.jailbreak_block) && !cfg->classifier.jailbreak.model_id)
                return errf(c, jb, "the jailbreak guard needs a jailbreak model: the classifier has classic "
                            "checkpoints but no prompt_guard.model_id (give one, or classifier.model)");
        return 0;
}

/* ---- top level --------------------------------------------------------- */

static const char *const top_keys[] = {
        "server", "proxy", "health", "router", "shm", "upstreams", "vllm_endpoints", "models",
        "model_config", "auto_aliases", "confidence_threshold", "classifier", "categories",
        "default_model", "reasoning_families", "default_reasoning_effort", "classify_turns",
        "discovery", "admin", "prompt_guard", "guard", "auth", "rate_limits", NULL,
};

/* Policy keys in the wrong place, and where they belong */
static const char *const misplaced[][2] = {
        { "api_keys", "auth.api_keys" }, { "metrics_token", "auth.metrics_token" },
        { "pii_policy", "model_config.<model>.pii_policy" }, { "redis", "rate_limits.redis" },
        { "block_status", "guard.block_status" }, { "requests_per_minute", "rate_limits.requests_per_minute" },
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
                        return errf(c, k, "'%s' is not a top-level key: it belongs in %s; here it would "
                                    "not be enforced", show(k, b), misplaced[i][1]);
        for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
                if (edit_distance(sval(k), slen(k), sections[i]) <= (strlen(sections[i]) > 5 ? 2u : 1u))
                        return errf(c, k, "unknown top-level key '%s': did you mean '%s'? (a policy section "
                                    "misspelt would not be enforced)", show(k, b), sections[i]);
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

                        if (k->type == YAML_SCALAR_NODE && (policy_like(k) ||
                            (scalar_is(k, "type") && v->type == YAML_SCALAR_NODE && policy_like(v))))
                                return errf(c, scalar_is(k, "type") ? v : k, "decisions: '%s' is a guard "
                                            "setting in vSR decisions, which switchyard does not support; it "
                                            "would not be enforced: use prompt_guard, model_config.<model>."
                                            "pii_policy and categories' pii_enabled / jailbreak_enabled",
                                            show(scalar_is(k, "type") ? v : k, b));
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
        "bert_model", "semantic_cache", "tools", "api", "observability", "clear_route_cache",
        "keyword_rules", "embedding_rules", "embedding_models", "response_api",
        "vector_store", "hallucination_mitigation", "looper", "interceptors", "strategy",
        "providers", "listeners", "version", "routing", "global", "recipes", "entrypoints",
        "decisions", NULL,
};

static int check_top_keys(struct ctx *c) {
        yaml_node_pair_t *pairs;
        size_t n, i;
        int r;

        r = map_pairs(c, c->root, "top level", &pairs, &n);
        if (r < 0)
                return r;
        for (i = 0; i < n; i++) {
                const yaml_node_t *k = node_at(c, pairs[i].key);
                char b[72];

                if (in_list(k, top_keys))
                        continue;
                r = in_list(k, vsr_keys) ? 0 : check_policy_near_miss(c, k);
                if (r >= 0 && scalar_is(k, "decisions"))
                        r = check_decisions(c, node_at(c, pairs[i].value), 0);
                if (r < 0)
                        return r;
                if (scalar_is(k, "decisions"))
                        r = warnf(c, k, "decisions (newer vLLM Semantic Router routing) are not "
                                  "supported; use categories with model_scores; ignored");
                else if (in_list(k, vsr_keys))
                        r = warnf(c, k, "'%s' (vLLM Semantic Router) is not used by "
                                  "switchyard; ignored", show(k, b));
                else
                        r = warnf(c, k, "unknown top-level key '%s' ignored", show(k, b));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_root(struct ctx *c) {
        struct sy_config *cfg = c->cfg;
        const yaml_node_t *w;
        int r;

        if (c->root) {
                r = check_top_keys(c);
                if (r < 0)
                        return r;
        }
        r = parse_section(c, "server", server_fields, sizeof server_fields / sizeof server_fields[0]);
        if (r >= 0)
                r = parse_section(c, "proxy", proxy_fields,
                                  sizeof proxy_fields / sizeof proxy_fields[0]);
        if (r >= 0)
                r = parse_section(c, "health", health_fields,
                                  sizeof health_fields / sizeof health_fields[0]);
        if (r >= 0)
                r = parse_section(c, "router", router_fields,
                                  sizeof router_fields / sizeof router_fields[0]);
        if (r >= 0)
                r = parse_section(c, "shm", shm_fields, sizeof shm_fields / sizeof shm_fields[0]);
        if (r >= 0)
                r = parse_upstreams(c);
        if (r >= 0)
                r = parse_vllm_endpoints(c);
        if (r >= 0)
                r = parse_discovery(c);
        if (r >= 0)
                r = parse_admin(c);
        if (r >= 0)
                r = parse_model_settings(c, "models", true);
        if (r >= 0)
                r = parse_model_settings(c, "model_config", false);
        if (r >= 0)
                r = build_models(c);
        if (r >= 0)
                r = parse_aliases(c);
        if (r >= 0)
                r = parse_classifier(c);
        if (r >= 0)
                r = parse_categories(c);
        if (r >= 0)
                r = parse_default_model(c);
        if (r >= 0)
                r = parse_reasoning(c);
        if (r >= 0)
                r = parse_auth(c);
        if (r >= 0)
                r = parse_policy(c);
        if (r >= 0)
                r = check_guards(c);
        if (r < 0)
                return r;

        w = map_get(c, root_get(c, "server"), "workers");
        if (cfg->server.workers > cfg->shm.max_workers)
                return errf(c, w, "server.workers: %u is more than shm.max_workers (%u)",
                            cfg->server.workers, cfg->shm.max_workers);
        if (cfg->n_upstreams == 0)
                return warnf(c, NULL, "no upstreams configured (upstreams: or vllm_endpoints:)");
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
                        snprintf(c->err, c->errlen, "%s:%zu:%zu: YAML syntax error: %s (%s at "
                                 "line %zu)", c->name, line + 1, col + 1, problem, p->context,
                                 p->context_mark.line + 1);
                else
                        snprintf(c->err, c->errlen, "%s:%zu:%zu: YAML syntax error: %s",
                                 c->name, line + 1, col + 1, problem);
        }
        return -EINVAL;
}

static int config_new(const char *name, struct sy_config **ret_cfg) {
        const char *rd = getenv("SWITCHYARD_RUNTIME_DIR");
        struct sy_config *cfg = calloc(1, sizeof *cfg);

        if (!cfg)
                return -ENOMEM;
        cfg->server.port = 8080;
        cfg->server.workers = 0;
        cfg->server.max_connections = 10000;
        cfg->server.max_header_bytes = 16384;
        cfg->server.max_headers = 64;
        cfg->server.max_body_bytes = 4u << 20;
        cfg->server.header_timeout_ms = 10000;
        cfg->server.idle_timeout_ms = 60000;
        cfg->server.drain_timeout_ms = 30000;
        cfg->proxy.connect_timeout_ms = 2000;
        cfg->proxy.first_byte_timeout_ms = 60000;
        cfg->proxy.idle_timeout_ms = 60000;
        cfg->proxy.max_retries = 2;
        cfg->proxy.pool_size = 64;
        cfg->health.interval_ms = 1000;
        cfg->health.timeout_ms = 1000;
        cfg->health.unhealthy_threshold = 2;
        cfg->health.healthy_threshold = 1;
        cfg->router.pick_timeout_us = 2000;
        cfg->router.passive_failures = 3;
        cfg->router.ejection_ms = 5000;
        cfg->router.scrape_interval_ms = 100;
        cfg->router.scrape_timeout_ms = 500;
        cfg->router.stale_after_ms = 1000;
        cfg->router.weights.queue = 1;
        cfg->router.weights.kv_cache = 1;
        cfg->router.weights.inflight_tokens = 1;
        cfg->router.weights.prefix = 3;
        cfg->router.weights.session = 10;
        cfg->router.saturation.queue_depth = 5;
        cfg->router.saturation.kv_cache = 0.9;
        cfg->router.queue.max = 256;
        cfg->router.queue.timeout_ms = 2000;
        cfg->router.retry_after_s = 1;
        cfg->router.session.ttl_ms = 600000;
        cfg->router.session.max = 65536;
        cfg->shm.ring_bytes = 262144;
        cfg->shm.max_workers = 64;
        cfg->confidence_threshold = 0.5;
        cfg->classify_turns = 1;
        cfg->path = strdup(name);
        cfg->server.host = strdup("0.0.0.0");
        cfg->health.path = strdup("/health");
        cfg->router.policy = strdup("scorer");
        cfg->shm.runtime_dir = strdup(rd && *rd ? rd : "/run/switchyard");
        cfg->rate_limits.max_clients = 65536;
        cfg->rate_limits.redis.port = 6379;
        cfg->rate_limits.redis.timeout_ms = 5;
        cfg->rate_limits.redis.fail_open = true;
        cfg->rate_limits.client_header = strdup("X-Client-ID");
        cfg->rate_limits.redis.key_prefix = strdup("switchyard:rl:");
        cfg->guard.pii_message = strdup(SY_CFG_PII_MESSAGE);
        cfg->guard.jailbreak_message = strdup(SY_CFG_JAILBREAK_MESSAGE);
        if (!cfg->path || !cfg->server.host || !cfg->health.path || !cfg->router.policy ||
            !cfg->shm.runtime_dir || !cfg->rate_limits.client_header || !cfg->rate_limits.redis.key_prefix ||
            !cfg->guard.pii_message || !cfg->guard.jailbreak_message) {
                sy_config_free(cfg);
                return -ENOMEM;
        }
        *ret_cfg = cfg;
        return 0;
}

int sy_config_load_string(const char *name, const char *yaml, size_t len,
                          struct sy_config **ret_cfg, char *err, size_t errlen) {
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
                        r = errf(&c, root2, "more than one YAML document in the file");
                yaml_document_delete(&doc2);
                if (r < 0)
                        goto out;
                if (c.root->type != YAML_MAPPING_NODE && !is_null(c.root)) {
                        r = errf(&c, c.root, "expected a mapping of sections at the top "
                                 "level, got %s", kind_of(c.root));
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
                        snprintf(err, errlen, "%s: %s", path, r == -EFBIG ? "file too large" :
                                 r == -ENOMEM ? "out of memory" : strerror(-r));
                return r;
        }
        r = sy_config_load_string(path, buf, len, ret_cfg, err, errlen);
        free(buf);
        return r;
}

static void free_strv(char **v, size_t n) {
        size_t i;

        for (i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

void sy_config_upstream_free(struct sy_upstream_cfg *u) {
        free(u->name);
        free(u->host);
        free(u->engine);
        free_strv(u->models, u->n_models);
}

void sy_config_model_free(struct sy_model_cfg *m) {
        free(m->name);
        free(m->default_engine);
        free(m->reasoning_family);
        free_strv(m->preferred_endpoints, m->n_preferred_endpoints);
        free_strv(m->pii_policy.types_allowed, m->pii_policy.n_types_allowed);
}

void sy_config_free(struct sy_config *cfg) {
        size_t i, j;

        if (!cfg)
                return;
        free(cfg->path);
        free(cfg->server.host);
        free(cfg->health.path);
        free(cfg->router.policy);
        free(cfg->shm.runtime_dir);
        for (i = 0; i < cfg->n_upstreams; i++)
                sy_config_upstream_free(&cfg->upstreams[i]);
        free(cfg->upstreams);
        for (i = 0; i < cfg->n_models; i++)
                sy_config_model_free(&cfg->models[i]);
        free(cfg->models);
        free(cfg->default_model);
        free_strv(cfg->auto_aliases, cfg->n_auto_aliases);
        for (i = 0; i < cfg->n_categories; i++) {
                free(cfg->categories[i].name);
                free(cfg->categories[i].system_prompt);
                for (j = 0; j < cfg->categories[i].n_model_scores; j++)
                        free(cfg->categories[i].model_scores[j].model);
                free(cfg->categories[i].model_scores);
        }
        free(cfg->categories);
        free(cfg->classifier.model);
        free(cfg->classifier.backend);
        free(cfg->classifier.category.model_id);
        free(cfg->classifier.category.mapping_path);
        free(cfg->classifier.pii.model_id);
        free(cfg->classifier.pii.mapping_path);
        free(cfg->classifier.jailbreak.model_id);
        free(cfg->classifier.jailbreak.mapping_path);
        for (i = 0; i < cfg->n_discovery; i++) {
                struct sy_discovery_cfg *d = &cfg->discovery[i];

                free(d->engine);
                free_strv(d->models, d->n_models);
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
        free(cfg->admin.host);
        free(cfg->admin.token);
        free(cfg->admin.token_file);
        free(cfg->admin.state_file);
        for (i = 0; i < cfg->n_reasoning_families; i++) {
                free(cfg->reasoning_families[i].name);
                free(cfg->reasoning_families[i].parameter);
        }
        free(cfg->reasoning_families);
        free(cfg->default_reasoning_effort);
        free(cfg->guard.pii_message);
        free(cfg->guard.jailbreak_message);
        for (i = 0; i < cfg->n_api_keys; i++) {
                free(cfg->api_keys[i].name);
                free_strv(cfg->api_keys[i].models, cfg->api_keys[i].n_models);
        }
        free(cfg->api_keys);
        if (cfg->metrics_token)
                explicit_bzero(cfg->metrics_token, strlen(cfg->metrics_token));
        free(cfg->metrics_token);
        free(cfg->rate_limits.client_header);
        free(cfg->rate_limits.redis.host);
        free(cfg->rate_limits.redis.key_prefix);
        free(cfg->rate_limits.redis.password_env);
        free_strv(cfg->warnings, cfg->n_warnings);
        free(cfg);
}

const struct sy_reasoning_family *sy_config_find_reasoning(const struct sy_config *cfg, const char *name) {
        if (!cfg || !name)
                return NULL;
        for (size_t i = 0; i < cfg->n_reasoning_families; i++)
                if (strcmp(cfg->reasoning_families[i].name, name) == 0)
                        return &cfg->reasoning_families[i];
        return NULL;
}

const struct sy_model_cfg *sy_config_find_model(const struct sy_config *cfg, const char *name) {
        size_t i;

        if (!cfg || !name)
                return NULL;
        for (i = 0; i < cfg->n_models; i++)
                if (strcmp(cfg->models[i].name, name) == 0)
                        return &cfg->models[i];
        return NULL;
}

const struct sy_upstream_cfg *sy_config_find_upstream(const struct sy_config *cfg,
                                                      const char *name) {
        size_t i;

        if (!cfg || !name)
                return NULL;
        for (i = 0; i < cfg->n_upstreams; i++)
                if (cfg->upstreams[i].name && strcmp(cfg->upstreams[i].name, name) == 0)
                        return &cfg->upstreams[i];
        return NULL;
}
