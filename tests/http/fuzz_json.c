/* libFuzzer target: json_scan_object, json_iter, json_find and the string
 * codecs. Validity is checked against a small, independent recursive
 * reference parser written for clarity, not speed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "common/json.h"
#include "fuzz_common.h"

#define MAX_DEPTH 16
#define MAX_MEMBERS 16

/* ---- reference: recursive descent, first error in document order ---- */

struct ref {
        const uint8_t *s;
        size_t len, i;
};

static int ref_peek(struct ref *r) {
        return r->i < r->len ? r->s[r->i] : -1;
}

static void ref_ws(struct ref *r) {
        while (r->i < r->len && (r->s[r->i] == ' ' || r->s[r->i] == '\t' || r->s[r->i] == '\n' || r->s[r->i] == '\r'))
                r->i++;
}

static int ref_hex(struct ref *r, unsigned *v) {
        *v = 0;
        for (int k = 0; k < 4; k++) {
                int c = ref_peek(r);
                unsigned d;
                if (c >= '0' && c <= '9')
                        d = (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        d = (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        d = (unsigned)(c - 'A' + 10);
                else
                        return -EBADMSG;
                *v = *v * 16 + d;
                r->i++;
        }
        return 0;
}

static int ref_string(struct ref *r) {
        r->i++; /* opening quote */
        for (;;) {
                int c = ref_peek(r);
                if (c < 0x20) /* also the end of input (-1) */
                        return -EBADMSG;
                r->i++;
                if (c == '"')
                        return 0;
                if (c == '\\') {
                        c = ref_peek(r);
                        r->i++;
                        if (c == 'u') {
                                unsigned v, w;
                                if (ref_hex(r, &v) < 0)
                                        return -EBADMSG;
                                if (v >= 0xdc00 && v <= 0xdfff)
                                        return -EBADMSG;
                                if (v >= 0xd800 && v <= 0xdbff) {
                                        if (ref_peek(r) != '\\')
                                                return -EBADMSG;
                                        r->i++;
                                        if (ref_peek(r) != 'u')
                                                return -EBADMSG;
                                        r->i++;
                                        if (ref_hex(r, &w) < 0 || w < 0xdc00 || w > 0xdfff)
                                                return -EBADMSG;
                                }
                        } else if (c <= 0 || !strchr("\"\\/bfnrt", c)) {
                                return -EBADMSG;
                        }
                        continue;
                }
                if (c < 0x80)
                        continue;
                /* UTF-8: decode and check the code point */
                unsigned cp, need;
                if ((c & 0xe0) == 0xc0) {
                        cp = (unsigned)c & 0x1f;
                        need = 1;
                } else if ((c & 0xf0) == 0xe0) {
                        cp = (unsigned)c & 0x0f;
                        need = 2;
                } else if ((c & 0xf8) == 0xf0) {
                        cp = (unsigned)c & 0x07;
                        need = 3;
                } else {
                        return -EBADMSG;
                }
                for (unsigned k = 0; k < need; k++) {
                        int d = ref_peek(r);
                        if (d < 0 || (d & 0xc0) != 0x80)
                                return -EBADMSG;
                        cp = cp << 6 | ((unsigned)d & 0x3f);
                        r->i++;
                }
                static const unsigned min[] = { 0, 0x80, 0x800, 0x10000 };
                if (cp < min[need] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return -EBADMSG;
        }
}

static int ref_digits(struct ref *r) {
        int c = ref_peek(r);
        if (c < '0' || c > '9')
                return -EBADMSG;
        while ((c = ref_peek(r)) >= '0' && c <= '9')
                r->i++;
        return 0;
}

static int ref_number(struct ref *r) {
        if (ref_peek(r) == '-')
                r->i++;
        if (ref_peek(r) == '0')
                r->i++;
        else if (ref_digits(r) < 0)
                return -EBADMSG;
        if (ref_peek(r) == '.') {
                r->i++;
                if (ref_digits(r) < 0)
                        return -EBADMSG;
        }
        if (ref_peek(r) == 'e' || ref_peek(r) == 'E') {
                r->i++;
                if (ref_peek(r) == '+' || ref_peek(r) == '-')
                        r->i++;
                if (ref_digits(r) < 0)
                        return -EBADMSG;
        }
        return 0;
}

/* depth: containers already open around this value; top: the value is
 * the document's object (its members are counted). */
static int ref_value(struct ref *r, unsigned depth, bool top) {
        int c = ref_peek(r);
        if (c == '{' || c == '[') {
                int close = c == '{' ? '}' : ']';
                size_t n = 0;
                if (depth + 1 > MAX_DEPTH)
                        return -E2BIG;
                r->i++;
                ref_ws(r);
                if (ref_peek(r) == close) {
                        r->i++;
                        return 0;
                }
                for (;;) {
                        int e;
                        if (c == '{') {
                                if (ref_peek(r) != '"')
                                        return -EBADMSG;
                                if (top && n++ >= MAX_MEMBERS)
                                        return -E2BIG;
                                if ((e = ref_string(r)) < 0)
                                        return e;
                                ref_ws(r);
                                if (ref_peek(r) != ':')
                                        return -EBADMSG;
                                r->i++;
                                ref_ws(r);
                        }
                        if ((e = ref_value(r, depth + 1, false)) < 0)
                                return e;
                        ref_ws(r);
                        if (ref_peek(r) == close) {
                                r->i++;
                                return 0;
                        }
                        if (ref_peek(r) != ',')
                                return -EBADMSG;
                        r->i++;
                        ref_ws(r);
                }
        }
        if (c == '"')
                return ref_string(r);
        if (c == '-' || (c >= '0' && c <= '9'))
                return ref_number(r);
        static const char *lits[] = { "true", "false", "null" };
        for (int k = 0; k < 3; k++) {
                size_t l = strlen(lits[k]);
                if (c == lits[k][0]) {
                        if (r->len - r->i < l || memcmp(r->s + r->i, lits[k], l) != 0)
                                return -EBADMSG;
                        r->i += l;
                        return 0;
                }
        }
        return -EBADMSG;
}

static int ref_scan(const uint8_t *s, size_t len) {
        struct ref r = { s, len, 0 };
        int e;

        ref_ws(&r);
        if (ref_peek(&r) < 0)
                return -EBADMSG;
        bool is_obj = ref_peek(&r) == '{';
        if ((e = ref_value(&r, 0, is_obj)) < 0)
                return e;
        ref_ws(&r);
        if (r.i != len)
                return -EBADMSG;
        return is_obj ? 0 : -EPROTOTYPE;
}

/* Is s[0..len) valid UTF-8? Each sequence goes through the reference
 * string scanner on its own, between quotes. */
static bool ref_utf8_valid(const uint8_t *s, size_t len) {
        for (size_t i = 0; i < len;) {
                uint8_t q[6] = { '"', 0, 0, 0, 0, 0 };
                size_t n;

                if (s[i] < 0x80) {
                        i++;
                        continue;
                }
                n = (s[i] & 0xe0) == 0xc0 ? 2 : (s[i] & 0xf0) == 0xe0 ? 3 : 4;
                if (n > len - i)
                        return false;
                memcpy(q + 1, s + i, n);
                q[n + 1] = '"';
                struct ref r = { q, n + 2, 0 };
                if (ref_string(&r) < 0 || r.i != n + 2)
                        return false;
                i += n;
        }
        return true;
}

/* ---- checks on the real implementation ---- */

static char scratch[1 << 16], scratch2[1 << 16], scratch3[1 << 17];

static void check_string_value(const char *val, size_t len) {
        FUZZ_CHECK(len >= 2 && val[0] == '"' && val[len - 1] == '"');
        int d = json_string_decode(val, len, scratch, sizeof(scratch));
        FUZZ_CHECK(d >= 0 || d == -ENOBUFS);
        if (d < 0)
                return;
        FUZZ_CHECK((size_t)d <= len - 2);
        /* encode(decode(x)) decodes to the same text */
        int e = json_string_encode(scratch, (size_t)d, scratch3, sizeof(scratch3));
        FUZZ_CHECK(e >= 2);
        FUZZ_CHECK(ref_scan((const uint8_t *)scratch3, (size_t)e) == -EPROTOTYPE);
        int d2 = json_string_decode(scratch3, (size_t)e, scratch2, sizeof(scratch2));
        FUZZ_CHECK(d2 == d && memcmp(scratch, scratch2, (size_t)d) == 0);
}

static void check_nested(const char *val, size_t len, int depth) {
        struct json_member m;
        size_t it = 0, prev_end = 0;
        int r;

        while ((r = json_iter(val, len, &it, &m)) == 1) {
                FUZZ_CHECK(m.val >= val && m.val + m.val_len <= val + len);
                FUZZ_CHECK(m.end == (size_t)(m.val - val) + m.val_len);
                FUZZ_CHECK(m.start >= prev_end && m.start <= (size_t)(m.val - val));
                FUZZ_CHECK(val[0] == '{' ? m.key != NULL : m.key == NULL);
                if (m.key)
                        FUZZ_CHECK(m.key == val + m.start + 1);
                prev_end = m.end;
                if (m.type == JSON_STRING)
                        check_string_value(m.val, m.val_len);
                if ((m.type == JSON_ARRAY || m.type == JSON_OBJECT) && depth < 4)
                        check_nested(m.val, m.val_len, depth + 1);
        }
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(json_iter(val, len, &it, &m) == 0);
}

static bool is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *s = (const char *)data;
        struct json_member m[MAX_MEMBERS];
        struct json_limits lim = { .max_depth = MAX_DEPTH, .max_members = MAX_MEMBERS };
        size_t n = 9999, err = 9999;

        int r = json_scan_object(s, size, &lim, m, &n, &err);
        int want = ref_scan(data, size);
        if (r != want)
                fprintf(stderr, "json_scan_object %d, reference %d\n", r, want);
        FUZZ_CHECK(r == want);
        if (r == -EBADMSG || r == -E2BIG)
                FUZZ_CHECK(err <= size);
        if (r != 0)
                FUZZ_CHECK(n == 9999);

        if (r == 0) {
                FUZZ_CHECK(n <= MAX_MEMBERS);
                for (size_t i = 0; i < n; i++) {
                        char kq[256];

                        FUZZ_CHECK(m[i].start < m[i].end && m[i].end <= size);
                        FUZZ_CHECK(i == 0 || m[i].start > m[i - 1].end);
                        FUZZ_CHECK(m[i].key == s + m[i].start + 1);
                        FUZZ_CHECK(m[i].key[m[i].key_len] == '"');
                        FUZZ_CHECK(m[i].val + m[i].val_len == s + m[i].end);
                        FUZZ_CHECK(m[i].val > m[i].key + m[i].key_len);
                        if (m[i].key_len + 2 <= sizeof(kq)) {
                                memcpy(kq, m[i].key - 1, m[i].key_len + 2);
                                check_string_value(kq, m[i].key_len + 2);
                                /* find by the decoded key: a member with that
                                 * key, the last one */
                                int d = json_string_decode(kq, m[i].key_len + 2, scratch, sizeof(scratch) - 1);
                                if (d >= 0 && !memchr(scratch, 0, (size_t)d)) {
                                        scratch[d] = '\0';
                                        const struct json_member *f = json_find(m, n, scratch);
                                        FUZZ_CHECK(f != NULL && f >= &m[i]);
                                }
                        }
                        switch (m[i].type) {
                        case JSON_STRING:
                                check_string_value(m[i].val, m[i].val_len);
                                break;
                        case JSON_ARRAY:
                        case JSON_OBJECT:
                                check_nested(m[i].val, m[i].val_len, 0);
                                break;
                        default:
                                FUZZ_CHECK(m[i].val[0] != '"' && m[i].val[0] != '[' && m[i].val[0] != '{');
                                break;
                        }
                }
        } else if (r == -EPROTOTYPE) {
                /* a valid non-object value */
                size_t i = 0, e = size;
                while (is_ws(s[i]))
                        i++;
                while (is_ws(s[e - 1]))
                        e--;
                if (s[i] == '"')
                        check_string_value(s + i, e - i);
                else if (s[i] == '[')
                        check_nested(s + i, size - i, 0);
        }

        /* the raw input as text: encoded, it is a valid JSON string that
         * decodes back to the input, or with U+FFFD for invalid UTF-8 */
        if (size <= sizeof(scratch) / 8) {
                int e = json_string_encode(s, size, scratch3, sizeof(scratch3));
                FUZZ_CHECK(e >= 2);
                FUZZ_CHECK(ref_scan((const uint8_t *)scratch3, (size_t)e) == -EPROTOTYPE);
                int d = json_string_decode(scratch3, (size_t)e, scratch2, sizeof(scratch2));
                FUZZ_CHECK(d >= 0);
                if (ref_utf8_valid(data, size))
                        FUZZ_CHECK(d == (int)size && memcmp(scratch2, s, size) == 0);
                else
                        FUZZ_CHECK(memmem(scratch2, (size_t)d, "\xef\xbf\xbd", 3) != NULL);
        }
        return 0;
}
