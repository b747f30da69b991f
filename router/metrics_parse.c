/* Prometheus text exposition format, just enough to read load signals.
 * Grammar of a sample line (after an optional run of blanks):
 *   name [ "{" [ label "=" "\"" value "\"" { "," label ... } [","] "}" ]
 *   blanks value [ blanks timestamp ] [ blanks ]
 * where name is [a-zA-Z_:][a-zA-Z0-9_:]* and label [a-zA-Z_][a-zA-Z0-9_]*. */
#include "router/metrics_parse.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum kind { K_NONE, K_WAITING, K_RUNNING, K_USAGE, K_CACHE_INFO };

static const struct known {
        const char *name;
        enum kind kind;
        uint32_t engine;
} known_metrics[] = {
        { "vllm:num_requests_waiting", K_WAITING, UPSTREAM_ENGINE_VLLM },
        { "vllm:num_requests_running", K_RUNNING, UPSTREAM_ENGINE_VLLM },
        { "vllm:kv_cache_usage_perc", K_USAGE, UPSTREAM_ENGINE_VLLM },
        { "vllm:gpu_cache_usage_perc", K_USAGE, UPSTREAM_ENGINE_VLLM },
        { "vllm:cache_config_info", K_CACHE_INFO, UPSTREAM_ENGINE_VLLM },
        { "sglang:num_queue_reqs", K_WAITING, UPSTREAM_ENGINE_SGLANG },
        { "sglang:num_running_reqs", K_RUNNING, UPSTREAM_ENGINE_SGLANG },
        { "sglang:token_usage", K_USAGE, UPSTREAM_ENGINE_SGLANG },
};

struct span {
        const char *p;
        size_t n;
};

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

static bool is_alpha_(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool span_eq(struct span s, const char *lit) {
        size_t n = strlen(lit);
        return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool span_ieq(struct span s, const char *lit) {
        size_t n = strlen(lit);
        return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

/* A Prometheus float: decimal or scientific, or NaN / [+-]Inf(inity) in any
 * case. No hex, no blanks, no trailing garbage. */
static bool parse_value(struct span s, double *ret) {
        char tmp[64];
        char *end;
        double v;

        if (s.n == 0 || s.n >= sizeof(tmp))
                return false;
        if (span_ieq(s, "nan")) {
                *ret = NAN;
                return true;
        }
        {
                struct span t = s;
                bool neg = false;

                if (t.p[0] == '+' || t.p[0] == '-') {
                        neg = t.p[0] == '-';
                        t.p++;
                        t.n--;
                }
                if (span_ieq(t, "inf") || span_ieq(t, "infinity")) {
                        *ret = neg ? -INFINITY : INFINITY;
                        return true;
                }
        }
        for (size_t i = 0; i < s.n; i++) {
                char c = s.p[i];
                if (!is_digit(c) && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-')
                        return false;
        }
        memcpy(tmp, s.p, s.n);
        tmp[s.n] = '\0';
        errno = 0;
        v = strtod(tmp, &end);
        if (end != tmp + s.n)
                return false;
        /* ERANGE: overflow gives +-HUGE_VAL, underflow a tiny value; both are
         * the nearest doubles, keep them. */
        *ret = v;
        return true;
}

/* A label value that is a plain unsigned decimal ("16", "2048"). */
static bool parse_u64(struct span s, uint64_t *ret) {
        uint64_t v = 0;

        if (s.n == 0 || s.n > 19)
                return false;
        for (size_t i = 0; i < s.n; i++) {
                if (!is_digit(s.p[i]))
                        return false;
                v = v * 10 + (uint64_t)(s.p[i] - '0');
        }
        *ret = v;
        return true;
}

static const struct known *lookup(struct span name) {
        for (size_t i = 0; i < sizeof(known_metrics) / sizeof(known_metrics[0]); i++)
                if (span_eq(name, known_metrics[i].name))
                        return &known_metrics[i];
        return NULL;
}

/* Parses one line (no newline, no CR). Returns false when malformed. */
/* The blank-separated field at *pp (empty at the end), *pp moved past it. */
static struct span next_field(const char **pp, const char *e) {
        const char *p = *pp;
        struct span f;

        while (p < e && is_blank(*p))
                p++;
        f.p = p;
        while (p < e && !is_blank(*p))
                p++;
        f.n = (size_t)(p - f.p);
        *pp = p;
        return f;
}

static bool parse_line(const char *p, const char *e, struct upstream_load *l) {
        struct span name, val, ts, block_size = { NULL, 0 }, num_blocks = { NULL, 0 };
        const struct known *k;
        double v;

        while (p < e && is_blank(*p))
                p++;
        if (p == e || *p == '#')
                return true;

        /* metric name */
        if (!(is_alpha_(*p) || *p == ':'))
                return false;
        name.p = p;
        while (p < e && (is_alpha_(*p) || is_digit(*p) || *p == ':'))
                p++;
        name.n = (size_t)(p - name.p);
        k = lookup(name);

        /* labels */
        if (p < e && *p == '{') {
                p++;
                for (;;) {
                        struct span lname, lval;
                        bool escaped = false;

                        while (p < e && is_blank(*p))
                                p++;
                        if (p == e)
                                return false;
                        if (*p == '}') {
                                p++;
                                break;
                        }
                        if (!is_alpha_(*p))
                                return false;
                        lname.p = p;
                        while (p < e && (is_alpha_(*p) || is_digit(*p)))
                                p++;
                        lname.n = (size_t)(p - lname.p);
                        while (p < e && is_blank(*p))
                                p++;
                        if (p == e || *p != '=')
                                return false;
                        p++;
                        while (p < e && is_blank(*p))
                                p++;
                        if (p == e || *p != '"')
                                return false;
                        p++;
                        lval.p = p;
                        for (;;) {
                                if (p == e)
                                        return false;
                                if (*p == '"')
                                        break;
                                if (*p == '\\') {
                                        if (p + 1 == e)
                                                return false;
                                        if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
                                                return false;
                                        escaped = true;
                                        p++;
                                }
                                p++;
                        }
                        lval.n = (size_t)(p - lval.p);
                        p++; /* closing quote */
                        if (k && k->kind == K_CACHE_INFO && !escaped) {
                                if (span_eq(lname, "block_size"))
                                        block_size = lval;
                                else if (span_eq(lname, "num_gpu_blocks"))
                                        num_blocks = lval;
                        }
                        while (p < e && is_blank(*p))
                                p++;
                        if (p < e && *p == ',') {
                                p++;
                                continue;
                        }
                        if (p < e && *p == '}') {
                                p++;
                                break;
                        }
                        return false;
                }
        } else if (p == e || !is_blank(*p)) {
                return false; /* name must be followed by blanks or labels */
        }

        /* value */
        val = next_field(&p, e);
        if (!parse_value(val, &v))
                return false;

        /* optional timestamp, then only blanks */
        ts = next_field(&p, e);
        if (ts.n > 0) {
                double t;
                if (!parse_value(ts, &t) || !isfinite(t))
                        return false;
        }
        while (p < e && is_blank(*p))
                p++;
        if (p != e)
                return false;

        if (!k)
                return true;
        switch (k->kind) {
        case K_WAITING:
        case K_RUNNING:
                if (isnan(v))
                        return true;
                if (v < 0)
                        v = 0;
                if (k->kind == K_WAITING) {
                        l->waiting += v;
                        l->flags |= UPSTREAM_LOAD_WAITING;
                } else {
                        l->running += v;
                        l->flags |= UPSTREAM_LOAD_RUNNING;
                }
                break;
        case K_USAGE:
                if (isnan(v))
                        return true;
                v = v < 0 ? 0 : v > 1 ? 1 : v;
                if (!(l->flags & UPSTREAM_LOAD_KV_USAGE) || v > l->kv_usage)
                        l->kv_usage = v;
                l->flags |= UPSTREAM_LOAD_KV_USAGE;
                break;
        case K_CACHE_INFO: {
                uint64_t u;
                bool used = false;

                if (parse_u64(block_size, &u) && u > 0) {
                        if (u > l->block_size)
                                l->block_size = u;
                        l->flags |= UPSTREAM_LOAD_BLOCK_SIZE;
                        used = true;
                }
                if (parse_u64(num_blocks, &u) && u > 0) {
                        if (u > l->num_gpu_blocks)
                                l->num_gpu_blocks = u;
                        l->flags |= UPSTREAM_LOAD_NUM_GPU_BLOCKS;
                        used = true;
                }
                if (!used)
                        return true;
                break;
        }
        case K_NONE:
                return true;
        }
        l->engines |= k->engine;
        if (l->n_samples < UINT32_MAX)
                l->n_samples++;
        return true;
}

int metrics_parse(const char *buf, size_t len, struct upstream_load *ret) {
        struct upstream_load l;
        const char *p, *end;

        if (!ret || (!buf && len > 0))
                return -EINVAL;
        if (len == 0)
                return -ENODATA;
        memset(&l, 0, sizeof(l));
        p = buf;
        end = buf + len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *le = nl ? nl : end;
                const char *e = le;

                if (e > p && e[-1] == '\r')
                        e--;
                if (!parse_line(p, e, &l) && l.n_malformed < UINT32_MAX)
                        l.n_malformed++;
                p = nl ? nl + 1 : end;
        }
        if (l.flags == 0)
                return -ENODATA;
        *ret = l;
        return 0;
}
