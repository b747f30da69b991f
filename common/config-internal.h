/* Private to the configuration loader (common/config*.c): the load
 * context, the YAML node helpers and getters every section uses
 * (config_yaml.c), the field-table engine, and each section's entry point.
 *
 * Files, by section:
 *   config.c             load, the top level and its dispatch, defaults, free
 *   config_yaml.c        messages (file:line:col), nodes, scalars, durations,
 *                        hosts and URLs, name lists, the field-table engine
 *   config_server.c      server, proxy, health, router, shm (field tables)
 *   config_upstreams.c   upstreams, vllm_endpoints, models, model_config
 *   config_classifier.c  classifier, prompt_guard, auto_aliases, categories,
 *                        reasoning_families, default_model
 *   config_policy.c      guard, auth, rate_limits, the guards' cross checks
 *   config_discovery.c   discovery, admin
 *   config_tls.c         an upstream's https url, TLS and provider keys
 *   config_v03.c         the vSR `version: v0.3` format, mapped onto the above
 *                        (its decisions compiled by decisions.c)
 *
 * Functions shared between these files are named cfg_*; everything else
 * in them is static. Every error is cfg_errf() at the offending node:
 * "name:line:col: message". */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <yaml.h>

#include "common/config.h"

#define CFG_FILE_MAX (8u << 20) /* bytes of YAML */
#define CFG_MAP_MAX 1024        /* pairs in one mapping that is walked */
#define CFG_ALIASES_MAX 16
#define CFG_PROMPT_MAX (64u << 10) /* bytes of one system prompt */
#define CFG_WARNINGS_MAX 64
#define CFG_HOST_MAX 253
#define CFG_PATH_MAX 256 /* health check path */
#define CFG_DIR_MAX 90   /* room for socket names under it in sun_path */
#define CFG_WEIGHT_MAX 1000000u
#define CFG_RATE_MAX 1000000000ull /* requests or tokens per minute, bucket sizes */

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
#define MS_HOUR 3600000ull
#define MS_DAY 86400000ull

struct model_set { /* one entry of models: / model_config: */
        struct sy_model_cfg m;
        const yaml_node_t *key;
        bool native;
};

struct ctx {
        const char *name;
        const char *buf; /* the YAML text, for reader error offsets */
        size_t len;
        yaml_document_t *doc;
        const yaml_node_t *root; /* NULL: empty document */
        struct sy_config *cfg;
        char *err;
        size_t errlen;
        const yaml_node_t *up_nodes[SY_CFG_MAX_UPSTREAMS];
        struct model_set *sets;
        size_t n_sets;
        /* for the guards' cross checks (cfg_check_guards) */
        const yaml_node_t *clf_off;    /* classifier.enabled: false */
        const yaml_node_t *pg_history; /* prompt_guard.include_history */
        const yaml_node_t *pii_needs;  /* first pii_policy that forbids a type */
        const yaml_node_t *jb_needs;   /* first category jailbreak_enabled: true */
        bool allow_unsupported;        /* SY_ALLOW_UNSUPPORTED_ENV=1: unused keys warn, not refuse */
        /* the upstream being read: its TLS keys (config_tls.c) */
        const yaml_node_t *up_tls_nodes[9];
        const yaml_node_t *up_via_nodes[SY_CFG_MAX_UPSTREAMS];
        const yaml_node_t *up_url_node;
        bool up_url_https, up_tls_value;
};

/* ---- nodes ------------------------------------------------------------- */

static inline const yaml_node_t *node_at(struct ctx *c, int id) {
        return yaml_document_get_node(c->doc, id);
}

static inline const char *sval(const yaml_node_t *n) {
        return (const char *)n->data.scalar.value;
}

static inline size_t slen(const yaml_node_t *n) {
        return n->data.scalar.length;
}

static inline bool is_plain(const yaml_node_t *n) {
        return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static inline bool text_is(const char *s, size_t len, const char *lit) {
        return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

static inline bool text_ieq(const char *s, size_t len, const char *lit) {
        return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

static inline bool scalar_is(const yaml_node_t *n, const char *lit) {
        return n->type == YAML_SCALAR_NODE && text_is(sval(n), slen(n), lit);
}

static inline bool is_null(const yaml_node_t *n) {
        return is_plain(n) && (slen(n) == 0 || scalar_is(n, "~") || scalar_is(n, "null") || scalar_is(n, "Null") ||
                               scalar_is(n, "NULL"));
}

/* "\"text\"" for scalars, "a mapping" etc. otherwise: "%s%s%s", Q(n), SHOW(n, b), Q(n) */
#define Q(n) ((n)->type == YAML_SCALAR_NODE && !is_null(n) ? "\"" : "")
#define SHOW(n, b) ((n)->type == YAML_SCALAR_NODE && !is_null(n) ? cfg_show((n), (b)) : cfg_kind_of(n))

/* ---- messages (config_yaml.c) ------------------------------------------ */

int cfg_errf(struct ctx *c, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cfg_warnf(struct ctx *c, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A key switchyard reads but would not use: refused at the node ("…; refused:
 * switchyard would not use it ..."), or with --allow-unsupported one warning
 * ("…; ignored (--allow-unsupported)"). fmt names the key, no trailing verb. */
/* An HTTP field name (RFC 9110 token, at most 64 bytes) that is none of
 * refused (case-insensitive; "NAME" why otherwise), copied to *(char **)p. */
int cfg_get_header_name(struct ctx *c, const yaml_node_t *v, const char *what, const char *const *refused,
                        const char *why, void *p);
int cfg_unsupportedf(struct ctx *c, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A short printable rendering of a scalar for messages. */
const char *cfg_show(const yaml_node_t *n, char buf[static 72]);
const char *cfg_kind_of(const yaml_node_t *n);
/* A key switchyard does not use in a lenient (classic) mapping: a warning,
 * or an error when it looks like a guard setting (cfg_policy_like). */
int cfg_unused_key(struct ctx *c, const yaml_node_t *k, const char *what);
bool cfg_policy_like(const yaml_node_t *k);

/* ---- nodes, scalars, lists (config_yaml.c) ----------------------------- */

bool cfg_in_list(const yaml_node_t *k, const char *const *list);
/* The pairs of a mapping / items of a sequence: null counts as empty;
 * mapping keys must be unique scalars. */
int cfg_map_pairs(struct ctx *c, const yaml_node_t *n, const char *what, yaml_node_pair_t **ret_pairs, size_t *ret_n);
int cfg_seq_items(struct ctx *c, const yaml_node_t *n, const char *what, yaml_node_item_t **ret_items, size_t *ret_n);
/* The items of sequence v, at most max ("what: more than max many", at v or
 * with at_extra at the first item too many), and a zeroed array for them
 * (elements of size, one at least) into *ret_arr: CFG_SEQ_ARRAY fills in
 * size and ret_arr from the array's member. */
int cfg_seq_array(struct ctx *c, const yaml_node_t *v, const char *what, size_t max, const char *many, bool at_extra,
                  size_t size, yaml_node_item_t **ret_items, size_t *ret_n, void **ret_arr);
#define CFG_SEQ_ARRAY(c, v, what, max, many, at_extra, items, n_items, arr) \
        cfg_seq_array((c), (v), (what), (max), (many), (at_extra), sizeof *(arr), (items), (n_items), (void **)&(arr))
/* The key and value of a pair; "prefix.key" into fw, for messages. */
void cfg_pair(struct ctx *c, const yaml_node_pair_t *p, const char *prefix, char *fw, size_t fwlen,
              const yaml_node_t **ret_key, const yaml_node_t **ret_val);
/* A walk of the pairs of mapping m (null: none). cfg_pairs_begin() is
 * cfg_map_pairs(): 0 or an error; each cfg_pairs_next() yields the next
 * pair's key and value with "what.key" in fw, false after the last:
 *     r = cfg_pairs_begin(c, m, what, &it);
 *     while (r >= 0 && cfg_pairs_next(c, &it, what, fw, sizeof fw, &k, &v))
 *             r = ...;
 */
struct cfg_pairs {
        yaml_node_pair_t *pairs;
        size_t n, i;
};

static inline int cfg_pairs_begin(struct ctx *c, const yaml_node_t *m, const char *what, struct cfg_pairs *it) {
        it->n = it->i = 0;
        return cfg_map_pairs(c, m, what, &it->pairs, &it->n);
}

static inline bool cfg_pairs_next(struct ctx *c, struct cfg_pairs *it, const char *what, char *fw, size_t fwlen,
                                  const yaml_node_t **ret_key, const yaml_node_t **ret_val) {
        if (it->i >= it->n)
                return false;
        cfg_pair(c, &it->pairs[it->i++], what, fw, fwlen, ret_key, ret_val);
        return true;
}

/* Value of key in a mapping node (NULL if absent or not a mapping). */
const yaml_node_t *cfg_map_get(struct ctx *c, const yaml_node_t *m, const char *key);
const yaml_node_t *cfg_root_get(struct ctx *c, const char *key);

enum name_kind {
        NAME_MODEL,    /* models, upstreams, aliases, reasoning families: visible ASCII */
        NAME_ENGINE,   /* [a-z0-9_-]+ */
        NAME_CATEGORY, /* visible ASCII and inner spaces ("computer science") */
};

bool cfg_name_ok(const char *s, size_t len, enum name_kind kind);
/* [A-Za-z_][A-Za-z0-9_]*, at most max bytes: an environment variable name */
bool cfg_env_name_ok(const char *s, size_t len, size_t max);
bool cfg_all_digits(const char *s, size_t len);
int cfg_digits_u64(const char *s, size_t len, uint64_t *ret);
int cfg_get_str(struct ctx *c, const yaml_node_t *n, const char *what, size_t max, char **ret);
int cfg_get_name(struct ctx *c, const yaml_node_t *n, const char *what, enum name_kind kind, char **ret);
int cfg_get_uint(struct ctx *c, const yaml_node_t *n, const char *what, uint64_t min, uint64_t max, uint64_t *ret);
int cfg_get_duration(struct ctx *c, const yaml_node_t *n, const char *what, uint64_t unit_ns, uint64_t min,
                     uint64_t max, uint64_t *ret);
int cfg_get_size(struct ctx *c, const yaml_node_t *n, const char *what, uint64_t min, uint64_t max, uint64_t *ret);
int cfg_get_bool(struct ctx *c, const yaml_node_t *n, const char *what, bool *ret);
int cfg_get_double(struct ctx *c, const yaml_node_t *n, const char *what, double min, double max, double *ret);
/* A path; relative ones against the config file's directory. */
int cfg_get_path(struct ctx *c, const yaml_node_t *v, const char *what, char **ret);
/* server | gateway (upstreams[].kind, discovery[].upstream_kind) */
int cfg_get_upstream_kind(struct ctx *c, const yaml_node_t *v, const char *what, enum sy_upstream_kind *ret);

bool cfg_host_ok(const char *s, size_t len);
enum url_fault { URL_OK, URL_FORM, URL_HOST, URL_PORT };
/* What follows the scheme of a URL (h to end): host[:port][/] and nothing
 * else. The host without its brackets; *ret_port only when a port is there. */
enum url_fault cfg_url_host_port(const char *h, const char *end, const char **ret_host, size_t *ret_len,
                                 uint16_t *ret_port);
/* config_tls.c: an upstream's url (http:// or https://) and its TLS and
 * provider keys; cfg_upstream_tls_key: 1 taken, 0 not one of them, < 0 */
void cfg_upstream_tls_begin(struct ctx *c);
const char *cfg_upstream_tls_known(void);
int cfg_upstream_url(struct ctx *c, const yaml_node_t *v, const char *what, struct sy_upstream_cfg *up);
int cfg_upstream_tls_key(struct ctx *c, const yaml_node_t *k, const yaml_node_t *v, const char *what,
                         struct sy_upstream_cfg *up);
int cfg_upstream_tls_finish(struct ctx *c, const char *what, struct sy_upstream_cfg *up);
int cfg_check_vias(struct ctx *c); /* after all upstreams: via names a gateway */
/* The text of URL n after scheme ("http://", any case): an error unless n
 * is a non-null scalar without NUL bytes that starts with it. */
int cfg_url_scheme(struct ctx *c, const yaml_node_t *n, const char *what, const char *scheme, const char **ret_rest);
/* http://host[:port][/] -> host, port (80 if absent). */
int cfg_parse_url(struct ctx *c, const yaml_node_t *n, const char *what, char **ret_host, uint16_t *ret_port);
int cfg_get_host(struct ctx *c, const yaml_node_t *n, const char *what, char **ret);
/* A copy of host[0..len) into *ret_host (the old one freed), port into
 * *ret_port: 0 or -ENOMEM. */
int cfg_set_host_port(const char *host, size_t len, uint16_t port, char **ret_host, uint16_t *ret_port);

int cfg_push_str(char ***arr, size_t *n, char *s);
/* A copy of s appended: 0 or -ENOMEM. */
int cfg_push_dup(char ***arr, size_t *n, const char *s);
/* Appends a zeroed element to the array arr of n elements (n counts it):
 * the element, or NULL (arr untouched) without memory. */
#define CFG_APPEND(arr, n)                                                      \
        __extension__({                                                         \
                __typeof__(arr) v_ = realloc((arr), ((n) + 1) * sizeof *(arr)); \
                if (v_) {                                                       \
                        (arr) = v_;                                             \
                        v_ += (n)++;                                            \
                        memset(v_, 0, sizeof *v_);                              \
                }                                                               \
                v_;                                                             \
        })
ssize_t cfg_str_index(char *const *arr, size_t n, const char *s);
/* The first element of arr[0..n) whose member name is key, or NULL. */
#define CFG_FIND_NAMED(arr, n, key)                                                         \
        __extension__({                                                                     \
                size_t i_ = 0;                                                              \
                while (i_ < (n) && !((arr)[i_].name && strcmp((arr)[i_].name, (key)) == 0)) \
                        i_++;                                                               \
                i_ < (n) ? &(arr)[i_] : NULL;                                               \
        })

/* A list of unique names appended to *arr. */
int cfg_get_name_list(struct ctx *c, const yaml_node_t *n, const char *what, enum name_kind kind, size_t max,
                      char ***arr, size_t *n_arr);
void cfg_free_strv(char **v, size_t n);

/* ---- field tables (config_yaml.c) -------------------------------------- */

enum cfg_ftype {
        FT_HOST,
        FT_U16,
        FT_UINT,
        FT_SIZE,
        FT_POW2,
        FT_MS,
        FT_US,
        FT_DOUBLE,
        FT_BOOL,
        FT_MAP,  /* a sub-mapping: field.sub */
        FT_FUNC, /* field.fn parses it */
};

struct cfg_section;
/* parses v into p (the field's member); what is "section.key" */
typedef int cfg_field_fn(struct ctx *c, const yaml_node_t *v, const char *what, void *p);

struct cfg_field {
        const char *key;
        enum cfg_ftype type;
        size_t off; /* in struct sy_config */
        uint64_t min, max;
        const struct cfg_section *sub; /* FT_MAP */
        cfg_field_fn *fn;              /* FT_FUNC */
        double def;                    /* the default of a number or bool (0: none set) */
        const char *def_str;           /* the default of a string member (NULL: none) */
};

struct cfg_section {
        const char *name; /* "router", "router.weights" */
        const struct cfg_field *fields;
        size_t n;
        /* keys of vLLM Semantic Router's own section of the same name:
         * ignored, with one warning naming them (NULL: none) */
        const char *const *foreign;
        const char *foreign_what;
};

/* a key; with a default (FD, F_STR); parsed by a function (F_FN, with a
 * string default F_FN_STR); a sub-mapping (F_SUB) */
#define F(k, t, member, lo, hi) \
        { k, t, offsetof(struct sy_config, member), lo, hi, NULL, NULL, 0, NULL }
#define FD(k, t, member, lo, hi, d) \
        { k, t, offsetof(struct sy_config, member), lo, hi, NULL, NULL, d, NULL }
#define F_STR(k, t, member, s) \
        { k, t, offsetof(struct sy_config, member), 0, 0, NULL, NULL, 0, s }
#define F_FN(k, fn, member) \
        { k, FT_FUNC, offsetof(struct sy_config, member), 0, 0, NULL, fn, 0, NULL }
#define F_FN_STR(k, fn, member, s) \
        { k, FT_FUNC, offsetof(struct sy_config, member), 0, 0, NULL, fn, 0, s }
#define F_SUB(k, member, sect) \
        { k, FT_MAP, offsetof(struct sy_config, member), 0, 0, &sect, NULL, 0, NULL }
#define SECTION(name, t) \
        { name, t, sizeof t / sizeof t[0], NULL, NULL }

/* Sets the defaults of the table (and its sub-mappings) in cfg: 0 or -ENOMEM. */
int cfg_section_defaults(struct sy_config *cfg, const struct cfg_section *s);
/* The keys of mapping v by the table; unknown keys are errors. */
int cfg_parse_fields(struct ctx *c, const struct cfg_section *s, const yaml_node_t *v);
/* The same for the top-level section s->name, if present. */
int cfg_parse_section(struct ctx *c, const struct cfg_section *s);

/* ---- the sections, in the order config.c walks them -------------------- */

int cfg_server_defaults(struct sy_config *cfg); /* their tables' defaults */
int cfg_policy_defaults(struct sy_config *cfg);
int cfg_parse_server(struct ctx *c);    /* server proxy health router shm */
int cfg_parse_upstreams(struct ctx *c); /* upstreams, vllm_endpoints */
int cfg_parse_discovery(struct ctx *c);
int cfg_parse_admin(struct ctx *c);
int cfg_parse_model_settings(struct ctx *c, const char *sect, bool native);
/* Sets up set (the last of c->sets) from key: its model name, refused when an
 * earlier set has it ("<lead> model '..' given twice (first at line ..)"). */
int cfg_set_name(struct ctx *c, struct model_set *set, const yaml_node_t *key, bool native, const char *what,
                 const char *lead);
int cfg_build_models(struct ctx *c);
struct sy_model_cfg *cfg_model_by_name(struct sy_config *cfg, const char *name);
int cfg_parse_aliases(struct ctx *c);
int cfg_parse_classifier(struct ctx *c);
int cfg_parse_categories(struct ctx *c);
int cfg_parse_default_model(struct ctx *c);
int cfg_parse_reasoning(struct ctx *c);
int cfg_parse_auth(struct ctx *c);
int cfg_parse_policy(struct ctx *c); /* guard, rate_limits */
int cfg_check_guards(struct ctx *c);
/* config_v03.c: a `version: v0.3` file, instead of the steps above */
bool cfg_is_v03(struct ctx *c);
int cfg_load_v03(struct ctx *c);
