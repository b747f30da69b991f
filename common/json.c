/* A validating, non-allocating JSON scanner (RFC 8259).
 *
 * One pass over the buffer, no recursion: nesting is tracked in a bit
 * stack on the C stack (bounded by JSON_DEPTH_CAP). Strings are checked
 * for escapes (\u surrogates must pair), raw control characters and UTF-8
 * validity (no overlongs, no encoded surrogates, nothing above U+10FFFF);
 * numbers follow the RFC grammar exactly; no BOM, no trailing commas, no
 * comments, nothing but whitespace after the value. */
#include "common/json.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "common/ascii.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define JSON_DEFAULT_DEPTH 64u
#define JSON_DEPTH_CAP 4096u /* deepest nesting any call accepts */

/* JSON insignificant whitespace */
static const uint8_t ws_table[256] = {
        [' '] = 1,
        ['\t'] = 1,
        ['\n'] = 1,
        ['\r'] = 1,
};

/* Bytes that end a run of plain string content: '"', '\\', controls, and
 * non-ASCII (checked as UTF-8 sequences). */
static const uint8_t str_special[256] = {
        [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
        [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
        [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
        [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
        [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1,  ['\\'] = 1, [0x80 ... 0xff] = 1,
};

static inline size_t skip_ws(const uint8_t *b, size_t len, size_t i) {
        while (i < len && ws_table[b[i]])
                i++;
        return i;
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 if invalid. */
static inline size_t utf8_seq(const uint8_t *s, size_t avail) {
        uint8_t c = s[0], lo = 0x80, hi = 0xbf;
        size_t n;

        if (c < 0x80)
                return 1;
        if (c < 0xc2)
                return 0; /* continuation byte or overlong */
        if (c < 0xe0) {
                n = 2;
        } else if (c < 0xf0) {
                n = 3;
                if (c == 0xe0)
                        lo = 0xa0; /* overlong */
                else if (c == 0xed)
                        hi = 0x9f; /* UTF-16 surrogates */
        } else if (c < 0xf5) {
                n = 4;
                if (c == 0xf0)
                        lo = 0x90; /* overlong */
                else if (c == 0xf4)
                        hi = 0x8f; /* above U+10FFFF */
        } else {
                return 0;
        }
        if (avail < n || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t k = 2; k < n; k++)
                if ((s[k] & 0xc0) != 0x80)
                        return 0;
        return n;
}

static inline size_t utf8_put(uint32_t cp, uint8_t out[static 4]) {
        if (cp < 0x80) {
                out[0] = (uint8_t)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (uint8_t)(0xc0 | cp >> 6);
                out[1] = (uint8_t)(0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (uint8_t)(0xe0 | cp >> 12);
                out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
                out[2] = (uint8_t)(0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (uint8_t)(0xf0 | cp >> 18);
        out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        out[3] = (uint8_t)(0x80 | (cp & 0x3f));
        return 4;
}

static inline int hex4(const uint8_t *s, uint32_t *ret) {
        int a = ascii_hex_value(s[0]), b = ascii_hex_value(s[1]), c = ascii_hex_value(s[2]), d = ascii_hex_value(s[3]);

        if ((a | b | c | d) < 0)
                return -EBADMSG;
        *ret = (uint32_t)(a << 12 | b << 8 | c << 4 | d);
        return 0;
}

/* The two-character escapes: json_unescape['n'] == '\n' and
 * json_escape['\n'] == 'n'; 0 elsewhere. */
static const uint8_t json_unescape[256] = {
        ['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b', ['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
};
static const char json_escape[128] = {
        ['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
};

/* Escape sequence at b[*pos] == '\\', within b[0..len). Advances *pos past
 * it and yields the code point (a \u surrogate pair as one). */
static int parse_escape(const uint8_t *b, size_t len, size_t *pos, uint32_t *ret_cp) {
        size_t i = *pos;
        uint32_t cp, lo;

        if (len - i < 2)
                return -EBADMSG;
        if (b[i + 1] != 'u') {
                cp = json_unescape[b[i + 1]];
                if (!cp)
                        return -EBADMSG;
                *ret_cp = cp;
                *pos = i + 2;
                return 0;
        }
        if (len - i < 6 || hex4(b + i + 2, &cp) < 0)
                return -EBADMSG;
        if (cp - 0xd800u < 0x800u) {
                if (cp >= 0xdc00)
                        return -EBADMSG; /* lone low surrogate */
                if (len - i < 12 || b[i + 6] != '\\' || b[i + 7] != 'u' || hex4(b + i + 8, &lo) < 0 ||
                    lo - 0xdc00u >= 0x400u)
                        return -EBADMSG; /* high not followed by low */
                *ret_cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                *pos = i + 12;
                return 0;
        }
        *ret_cp = cp;
        *pos = i + 6;
        return 0;
}

/* First index >= i that is a str_special byte, or len. */
static inline size_t skip_plain(const uint8_t *b, size_t len, size_t i) {
#ifdef __SSE2__
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i bslash = _mm_set1_epi8('\\');
        const __m128i c1f = _mm_set1_epi8(0x1f);
        while (len - i >= 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
                __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash));
                m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v));
                /* the sign bit of v flags non-ASCII bytes */
                unsigned mask = (unsigned)(_mm_movemask_epi8(m) | _mm_movemask_epi8(v));
                if (mask)
                        return i + (size_t)__builtin_ctz(mask);
                i += 16;
        }
#else
        while (len - i >= 4 && !str_special[b[i]] && !str_special[b[i + 1]] && !str_special[b[i + 2]] &&
               !str_special[b[i + 3]])
                i += 4;
#endif
        while (i < len && !str_special[b[i]])
                i++;
        return i;
}

/* String at b[*pos] == '"'. On success *pos is just past the closing
 * quote; on failure it is the offset of the offending byte. */
static int scan_string(const uint8_t *b, size_t len, size_t *pos) {
        size_t i = *pos + 1;

        for (;;) {
                uint8_t c;

                i = skip_plain(b, len, i);
                if (unlikely(i >= len)) {
                        *pos = len;
                        return -EBADMSG;
                }
                c = b[i];
                if (likely(c == '"')) {
                        *pos = i + 1;
                        return 0;
                }
                if (c == '\\') {
                        uint32_t cp;
                        if (parse_escape(b, len, &i, &cp) < 0)
                                goto fail;
                } else if (c < 0x20) {
                        goto fail;
                } else {
                        /* non-ASCII: whole runs of it before going back
                         * to the vector loop */
                        do {
                                size_t n = utf8_seq(b + i, len - i);
                                if (n == 0)
                                        goto fail;
                                i += n;
                        } while (i < len && b[i] >= 0x80);
                }
        }
fail:
        *pos = i;
        return -EBADMSG;
}

static int scan_number(const uint8_t *b, size_t len, size_t *pos) {
        size_t i = *pos;

        if (b[i] == '-')
                i++;
        if (i >= len)
                goto fail;
        if (b[i] == '0') {
                i++;
        } else if (ascii_is_digit(b[i])) {
                do
                        i++;
                while (i < len && ascii_is_digit(b[i]));
        } else {
                goto fail;
        }
        if (i < len && b[i] == '.') {
                i++;
                if (i >= len || !ascii_is_digit(b[i]))
                        goto fail;
                do
                        i++;
                while (i < len && ascii_is_digit(b[i]));
        }
        if (i < len && (b[i] | 0x20) == 'e') {
                i++;
                if (i < len && (b[i] == '+' || b[i] == '-'))
                        i++;
                if (i >= len || !ascii_is_digit(b[i]))
                        goto fail;
                do
                        i++;
                while (i < len && ascii_is_digit(b[i]));
        }
        *pos = i;
        return 0;
fail:
        *pos = i;
        return -EBADMSG;
}

static int scan_literal(const uint8_t *b, size_t len, size_t *pos, const char *lit, size_t n) {
        size_t i = *pos;

        for (size_t k = 0; k < n; k++) {
                if (i + k >= len || b[i + k] != (uint8_t)lit[k]) {
                        *pos = i + k;
                        return -EBADMSG;
                }
        }
        *pos = i + n;
        return 0;
}

static inline enum json_type type_of(uint8_t c) {
        switch (c) {
        case '{':
                return JSON_OBJECT;
        case '[':
                return JSON_ARRAY;
        case '"':
                return JSON_STRING;
        case 't':
                return JSON_TRUE;
        case 'f':
                return JSON_FALSE;
        case 'n':
                return JSON_NULL;
        default:
                return JSON_NUMBER;
        }
}

/* One value at b[*pos] (no leading whitespace), nested at most max_depth
 * levels deep (0: scalars only). On success *pos is just past the value;
 * on failure it is the offset of the error. -EBADMSG or -E2BIG. */
static int scan_value(const uint8_t *b, size_t len, size_t *pos, unsigned max_depth) {
        uint8_t stack[JSON_DEPTH_CAP / 8]; /* bit set: object, clear: array */
        unsigned depth = 0;
        size_t i = *pos;
        int r = -EBADMSG;

        if (max_depth > JSON_DEPTH_CAP)
                max_depth = JSON_DEPTH_CAP;

value:
        if (unlikely(i >= len))
                goto bad;
        switch (b[i]) {
        case '"':
                r = scan_string(b, len, &i);
                break;
        case '{':
        case '[': {
                bool obj = b[i] == '{';
                if (unlikely(depth >= max_depth)) {
                        r = -E2BIG;
                        goto fail;
                }
                if (obj)
                        stack[depth >> 3] |= (uint8_t)(1u << (depth & 7));
                else
                        stack[depth >> 3] &= (uint8_t) ~(1u << (depth & 7));
                depth++;
                i = skip_ws(b, len, i + 1);
                if (i < len && b[i] == (obj ? '}' : ']')) {
                        i++;
                        depth--;
                        goto close;
                }
                if (obj)
                        goto key;
                goto value;
        }
        case 't':
                r = scan_literal(b, len, &i, "true", 4);
                break;
        case 'f':
                r = scan_literal(b, len, &i, "false", 5);
                break;
        case 'n':
                r = scan_literal(b, len, &i, "null", 4);
                break;
        case '-':
        case '0' ... '9':
                r = scan_number(b, len, &i);
                break;
        default:
                goto bad;
        }
        if (unlikely(r < 0))
                goto fail;

close:
        while (depth > 0) {
                bool obj = stack[(depth - 1) >> 3] >> ((depth - 1) & 7) & 1;

                i = skip_ws(b, len, i);
                if (unlikely(i >= len))
                        goto bad;
                if (b[i] == ',') {
                        i = skip_ws(b, len, i + 1);
                        if (obj)
                                goto key;
                        goto value;
                }
                if (b[i] != (obj ? '}' : ']'))
                        goto bad;
                i++;
                depth--;
        }
        *pos = i;
        return 0;

key:
        if (unlikely(i >= len || b[i] != '"'))
                goto bad;
        r = scan_string(b, len, &i);
        if (unlikely(r < 0))
                goto fail;
        i = skip_ws(b, len, i);
        if (unlikely(i >= len || b[i] != ':'))
                goto bad;
        i = skip_ws(b, len, i + 1);
        goto value;

bad:
        r = -EBADMSG;
fail:
        *pos = i;
        return r;
}

int json_scan_object(const char *buf, size_t len, const struct json_limits *lim, struct json_member *members,
                     size_t *ret_n, size_t *ret_err_off) {
        const uint8_t *b = (const uint8_t *)buf;
        unsigned max_depth = lim && lim->max_depth ? lim->max_depth : JSON_DEFAULT_DEPTH;
        size_t max_members = lim ? lim->max_members : 0;
        size_t i, n = 0;
        int r;

        i = skip_ws(b, len, 0);
        if (i >= len)
                goto bad;
        if (b[i] != '{') {
                r = scan_value(b, len, &i, max_depth);
                if (r < 0)
                        goto fail;
                i = skip_ws(b, len, i);
                if (i != len)
                        goto bad;
                return -EPROTOTYPE;
        }

        i = skip_ws(b, len, i + 1);
        if (i < len && b[i] == '}') {
                i++;
        } else {
                for (;;) {
                        size_t kstart = i, vstart;

                        if (i >= len || b[i] != '"')
                                goto bad;
                        if (n >= max_members) {
                                r = -E2BIG;
                                goto fail;
                        }
                        r = scan_string(b, len, &i);
                        if (r < 0)
                                goto fail;
                        members[n].key = buf + kstart + 1;
                        members[n].key_len = i - kstart - 2;
                        members[n].start = kstart;
                        i = skip_ws(b, len, i);
                        if (i >= len || b[i] != ':')
                                goto bad;
                        vstart = i = skip_ws(b, len, i + 1);
                        r = scan_value(b, len, &i, max_depth - 1);
                        if (r < 0)
                                goto fail;
                        members[n].val = buf + vstart;
                        members[n].val_len = i - vstart;
                        members[n].type = type_of(b[vstart]);
                        members[n].end = i;
                        n++;

                        i = skip_ws(b, len, i);
                        if (i >= len)
                                goto bad;
                        if (b[i] == '}') {
                                i++;
                                break;
                        }
                        if (b[i] != ',')
                                goto bad;
                        i = skip_ws(b, len, i + 1);
                }
        }
        i = skip_ws(b, len, i);
        if (i != len)
                goto bad;
        *ret_n = n;
        return 0;
bad:
        r = -EBADMSG;
fail:
        if (ret_err_off)
                *ret_err_off = i;
        return r;
}

int json_iter(const char *val, size_t len, size_t *iter, struct json_member *ret_member) {
        const uint8_t *b = (const uint8_t *)val;
        size_t i = *iter, open, kstart = 0, vstart;
        const char *key = NULL;
        size_t key_len = 0;
        bool obj;

        if (i == SIZE_MAX)
                return 0;
        if (i > len)
                return -EBADMSG;
        open = skip_ws(b, len, 0);
        if (open >= len || (b[open] != '{' && b[open] != '['))
                return -EBADMSG;
        obj = b[open] == '{';

        if (i == 0) {
                i = skip_ws(b, len, open + 1);
        } else {
                i = skip_ws(b, len, i);
                if (i >= len)
                        return -EBADMSG;
                if (b[i] == ',') {
                        i = skip_ws(b, len, i + 1);
                        if (i < len && b[i] == (obj ? '}' : ']'))
                                return -EBADMSG; /* trailing comma */
                } else if (b[i] != (obj ? '}' : ']')) {
                        return -EBADMSG;
                }
        }
        if (i >= len)
                return -EBADMSG;
        if (b[i] == (obj ? '}' : ']')) {
                if (skip_ws(b, len, i + 1) != len)
                        return -EBADMSG;
                *iter = SIZE_MAX;
                return 0;
        }

        if (obj) {
                kstart = i;
                if (b[i] != '"' || scan_string(b, len, &i) < 0)
                        return -EBADMSG;
                key = val + kstart + 1;
                key_len = i - kstart - 2;
                i = skip_ws(b, len, i);
                if (i >= len || b[i] != ':')
                        return -EBADMSG;
                i = skip_ws(b, len, i + 1);
        }
        vstart = i;
        if (scan_value(b, len, &i, JSON_DEPTH_CAP) < 0)
                return -EBADMSG;

        ret_member->key = key;
        ret_member->key_len = key_len;
        ret_member->val = val + vstart;
        ret_member->val_len = i - vstart;
        ret_member->type = type_of(b[vstart]);
        ret_member->start = obj ? kstart : vstart;
        ret_member->end = i;
        *iter = i;
        return 1;
}

/* Does the raw (escaped) key text decode to key[0..klen)? */
static bool key_equal(const char *raw, size_t rlen, const char *key, size_t klen) {
        const uint8_t *r = (const uint8_t *)raw;
        size_t i = 0, k = 0;

        if (!memchr(raw, '\\', rlen))
                return rlen == klen && memcmp(raw, key, klen) == 0;
        while (i < rlen) {
                uint8_t tmp[4];
                uint32_t cp;
                size_t n;

                if (r[i] != '\\') {
                        if (k >= klen || raw[i] != key[k])
                                return false;
                        i++;
                        k++;
                        continue;
                }
                if (parse_escape(r, rlen, &i, &cp) < 0)
                        return false;
                n = utf8_put(cp, tmp);
                if (klen - k < n || memcmp(tmp, key + k, n) != 0)
                        return false;
                k += n;
        }
        return k == klen;
}

const struct json_member *json_find(const struct json_member *m, size_t n, const char *key) {
        size_t klen = strlen(key);

        /* The last of duplicate keys wins, as in the JSON parsers of
         * Python, JavaScript and Go that upstream servers use; keys are
         * compared after escape decoding for the same reason. */
        while (n-- > 0)
                if (key_equal(m[n].key, m[n].key_len, key, klen))
                        return &m[n];
        return NULL;
}

/* Appends src[0..n) at out[*o], or only counts it once out is full. */
static inline void decode_put(char *out, size_t cap, size_t *o, bool *overflow, const void *src, size_t n) {
        if (!*overflow && n <= cap - *o)
                memcpy(out + *o, src, n);
        else
                *overflow = true;
        *o += n;
}

int json_string_decode(const char *val, size_t len, char *out, size_t cap) {
        const uint8_t *b = (const uint8_t *)val;
        size_t i = 1, end, o = 0;
        bool overflow = false;

        if (len < 2 || b[0] != '"' || b[len - 1] != '"')
                return -EBADMSG;
        end = len - 1;
        if (cap > INT_MAX)
                cap = INT_MAX;

        while (i < end) {
                size_t j = skip_plain(b, end, i), n;
                uint8_t tmp[4];
                uint32_t cp;

                if (j > i) {
                        n = j - i;
                        decode_put(out, cap, &o, &overflow, b + i, n);
                        i = j;
                        if (i >= end)
                                break;
                }
                if (b[i] == '\\') {
                        if (parse_escape(b, end, &i, &cp) < 0)
                                return -EBADMSG;
                        n = utf8_put(cp, tmp);
                        decode_put(out, cap, &o, &overflow, tmp, n);
                } else if (b[i] >= 0x80) {
                        n = utf8_seq(b + i, end - i);
                        if (n == 0)
                                return -EBADMSG;
                        decode_put(out, cap, &o, &overflow, b + i, n);
                        i += n;
                } else {
                        return -EBADMSG; /* unescaped '"' or control */
                }
        }
        if (overflow)
                return -ENOBUFS;
        return (int)o;
}

int json_string_encode(const char *s, size_t len, char *out, size_t cap) {
        static const char hex[] = "0123456789abcdef";
        const uint8_t *b = (const uint8_t *)s;
        size_t i = 0, o = 0;

        if (cap > INT_MAX)
                cap = INT_MAX;
#define PUT(src, n)                          \
        do {                                 \
                if ((n) > cap - o)           \
                        return -ENOBUFS;     \
                memcpy(out + o, (src), (n)); \
                o += (n);                    \
        } while (0)

        PUT("\"", 1);
        while (i < len) {
                size_t j = skip_plain(b, len, i), n;
                uint8_t c;

                if (j > i) {
                        PUT(b + i, j - i);
                        i = j;
                        if (i >= len)
                                break;
                }
                c = b[i];
                if (c >= 0x80) {
                        n = utf8_seq(b + i, len - i);
                        if (n == 0) {
                                /* invalid UTF-8: U+FFFD, so that the
                                 * output is always valid JSON */
                                PUT("\xef\xbf\xbd", 3);
                                i++;
                        } else {
                                PUT(b + i, n);
                                i += n;
                        }
                        continue;
                }
                if (json_escape[c]) {
                        const char e[2] = { '\\', json_escape[c] };
                        PUT(e, 2);
                } else {
                        const char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                        PUT(e, 6);
                }
                i++;
        }
        PUT("\"", 1);
#undef PUT
        return (int)o;
}
