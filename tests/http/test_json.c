/* Unit tests for the JSON scanner, iterator, lookup and string codecs. */
#include <errno.h>
#include <stdint.h>

#include "common/json.h"
#include "test_util.h"

#define S(x) \
        { x, sizeof(x) - 1 }
struct vec {
        const char *s;
        size_t len;
};

/* Valid JSON texts (any value). Names follow JSONTestSuite's y_ files. */
static const struct vec y_cases[] = {
        S("{}"),
        S("[]"),
        S(" \t\r\n{ \t\r\n} \t\r\n"),
        S("{\"a\":1}"),
        S("[1,2,3]"),
        S("\"str\""),
        S("123"),
        S("-0"),
        S("0"),
        S("0.5"),
        S("-0.0e-0"),
        S("1e10"),
        S("1E+2"),
        S("1e-2"),
        S("-1.5e+300"),
        S("123456789012345678901234567890"),
        S("1.0e+0"),
        S("true"),
        S("false"),
        S("null"),
        S("[true,false,null]"),
        S("{\"a\":{\"b\":[null,true,false,{\"c\":[]}]}}"),
        S("\"\\u0000\""),
        S("\"\\ud83d\\ude00\""),
        S("\"\\uD83D\\uDE00\""),
        S("\"\\uDBFF\\uDFFF\""),
        S("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""),
        S("\"\\u0041\\uD800\\uDC00\\u00e9\""),
        S("\"caf\xc3\xa9\""),
        S("\"\xf0\x9f\x98\x80\""),
        S("\"\xf4\x8f\xbf\xbf\""),
        S("\"\xef\xbf\xbf\""),
        S("\"\xee\x80\x80\""),
        S("\"\xed\x9f\xbf\""),
        S("\"\xe0\xa0\x80\""),
        S("\"\xf0\x90\x80\x80\""),
        S("\"\xc2\x80\""),
        S("\"\xdf\xbf\""),
        S("\"\x7f\""),
        S("\"\\ufffe\\uffff\""),
        S("[[[[[[]]]]]]"),
        S("{\"a\":[1,{\"b\":2}],\"c\":\"d\"}"),
        S("{\"\":\"\"}"),
        S("[\"\"]"),
        S("{\"a\":1,\"a\":2}"),
        S("[1e1,-1E-1,0E0,0e+00]"),
        S("[ 1 , 2 ]"),
        S("{ \"a\" : 1 , \"b\" : [ ] }"),
        S("\"0123456789abcdef0123456789abcdef\\n0123456789abcdef\""),
        S("\"a long string without any escapes, longer than sixteen bytes, several times over\""),
        S("[\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe6\x96\x87\xe7\xab\xa0\xe3\x81\xa7\xe3\x81\x99\"]"),
};

/* Invalid texts: n_ files. */
static const struct vec n_cases[] = {
        S(""),
        S(" "),
        S("{"),
        S("}"),
        S("["),
        S("]"),
        S("{\"a\"}"),
        S("{\"a\":}"),
        S("{\"a\":1,}"),
        S("[1,]"),
        S("[,1]"),
        S("{,}"),
        S("[,]"),
        S("{\"a\" 1}"),
        S("{'a':1}"),
        S("{a:1}"),
        S("{1:1}"),
        S("{null:1}"),
        S("[01]"),
        S("[-]"),
        S("[-01]"),
        S("[1.]"),
        S("[.1]"),
        S("[1.e1]"),
        S("[1e]"),
        S("[1e+]"),
        S("[+1]"),
        S("[0x10]"),
        S("[NaN]"),
        S("[Infinity]"),
        S("[-Infinity]"),
        S("[tru]"),
        S("[True]"),
        S("[nul]"),
        S("[nulll]"),
        S("[fals]"),
        S("[\"\\x\"]"),
        S("[\"\\u12\"]"),
        S("[\"\\uZZZZ\"]"),
        S("[\"\\ud800\"]"),
        S("[\"\\udc00\"]"),
        S("[\"\\ud800\\u0041\"]"),
        S("[\"\\ud800x\"]"),
        S("[\"\\ud800\\\"]"),
        S("[\"\\ud800\\ud800\"]"),
        S("[\"\\udfff\\udc00\"]"),
        S("[\"a\x01"
          "b\"]"),
        S("[\"a\nb\"]"),
        S("[\"a\tb\"]"),
        S("[\"\x1f\"]"),
        S("[\"\xff\"]"),
        S("[\"\xc0\x80\"]"),
        S("[\"\xc1\xbf\"]"),
        S("[\"\xe0\x80\x80\"]"),
        S("[\"\xe0\x9f\xbf\"]"),
        S("[\"\xed\xa0\x80\"]"),
        S("[\"\xed\xbf\xbf\"]"),
        S("[\"\xf0\x80\x80\x80\"]"),
        S("[\"\xf0\x8f\xbf\xbf\"]"),
        S("[\"\xf4\x90\x80\x80\"]"),
        S("[\"\xf5\x80\x80\x80\"]"),
        S("[\"\xf8\x88\x80\x80\x80\"]"),
        S("[\"\xc3\"]"),
        S("[\"\xe6\x97\"]"),
        S("[\"\x80\"]"),
        S("[\"\xc3\x28\"]"),
        S("[\"\xe2\x28\xa1\"]"),
        S("[\"\xf0\x28\x8c\xbc\"]"),
        S("\"abc"),
        S("\"abc\\"),
        S("\"\\"),
        S("\""),
        S("[1 2]"),
        S("{\"a\":1 \"b\":2}"),
        S("{} {}"),
        S("{}x"),
        S("[1]]"),
        S("\xef\xbb\xbf{}"),
        S("/* c */{}"),
        S("{\"a\":1}//"),
        S("[\x00]"),
        S("{\"a\":1}\x00"),
        S("[1,,2]"),
        S("[\"a\"\x0b]"),
        S("[\f]"),
        S("[-1e]"),
        S("[1e1.5]"),
        S("[\"\\U0041\"]"),
        S("[\"\\'\"]"),
        S("['a']"),
        S("[\"a\":1]"),
        S("{\"a\":1:2}"),
        S("{\"a\",\"b\"}"),
        S("[1}"),
        S("{\"a\":1]"),
        S("[[[]]"),
        S("[]]"),
        S("-"),
        S("--1"),
        S("1-"),
        S("1e5e5"),
        S("[1.2.3]"),
        S("\"\\u00"),
        S("tru"),
        S("nul"),
        S("{\"a"),
        S("{\"a\":"),
        S("{\"a\":1"),
        S("{\"a\":1,"),
        S("{\"a\":[1,2"),
        S("\x00"),
        S("1 2"),
        S("[1,\n]"),
        S("{\"a\":\"\xff\"}"),
        S("{\"\xc0\":1}"),
        S("{\"\\ud800\":1}"),
        S("{\"a\":1,\"a\"}"),
        S("\"a\x7f\xff\""),
        /* the end of input where a value is due (a fuzzer find) */
        S("[1,"),
        S("[\"a\","),
        S("{\"a\":[1,"),
        S("{\"a\":{\"b\":1,"),
        S("{\"a\":"),
        S("[[1],"),
        S("{\"a\":[{},"),
};

static int scan(const char *s, size_t len, struct json_member *m, size_t cap, size_t *n, size_t *err) {
        struct json_limits lim = { .max_depth = 0, .max_members = cap };
        return json_scan_object(s, len, &lim, m, n, err);
}

static void test_vectors(void) {
        struct json_member m[16];
        size_t n, err;
        char buf[512];

        for (size_t i = 0; i < sizeof(y_cases) / sizeof(y_cases[0]); i++) {
                const struct vec *v = &y_cases[i];
                int r = scan(v->s, v->len, m, 16, &n, &err);
                if (r != 0 && r != -EPROTOTYPE)
                        fprintf(stderr, "y[%zu] \"%s\": %d at %zu\n", i, v->s, r, err);
                CHECK(r == 0 || r == -EPROTOTYPE);
                /* the same value as a member value: reported verbatim */
                size_t len = (size_t)snprintf(buf, sizeof(buf), "{\"k\":%.*s}", (int)v->len, v->s);
                if (v->len && v->s[0] != ' ') {
                        r = scan(buf, len, m, 16, &n, &err);
                        CHECK_EQ(r, 0);
                        if (r == 0) {
                                CHECK_EQ(n, 1);
                                CHECK(m[0].val == buf + 5);
                                CHECK_EQ(m[0].val_len, v->len);
                                CHECK_EQ(m[0].end, 5 + v->len);
                        }
                }
        }
        for (size_t i = 0; i < sizeof(n_cases) / sizeof(n_cases[0]); i++) {
                const struct vec *v = &n_cases[i];
                n = 777;
                err = 999999;
                int r = scan(v->s, v->len, m, 16, &n, &err);
                if (r != -EBADMSG)
                        fprintf(stderr, "n[%zu] \"%s\": %d\n", i, v->s, r);
                CHECK_EQ(r, -EBADMSG);
                CHECK(err <= v->len);
                CHECK_EQ(n, 777); /* untouched on failure */
        }
}

static void test_types_and_spans(void) {
        const char *s = " {\"model\" : \"gpt-4o\", \"stream\":true,\"n\":-1.5e3,"
                        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                        "\"stop\":null,\"logprobs\":false,\"meta\":{\"a\":[]},\"k\\\"q\":\"\"} \n";
        struct json_member m[16];
        size_t n = 0, err;
        int r = scan(s, strlen(s), m, 16, &n, &err);

        CHECK_EQ(r, 0);
        CHECK_EQ(n, 8);
        CHECK_MEM(m[0].key, m[0].key_len, "model");
        CHECK_MEM(m[0].val, m[0].val_len, "\"gpt-4o\"");
        CHECK_EQ(m[0].type, JSON_STRING);
        CHECK_EQ(m[0].start, 2);
        CHECK_EQ(m[0].end, 20);
        CHECK_MEM(s + m[0].start, m[0].end - m[0].start, "\"model\" : \"gpt-4o\"");
        CHECK_MEM(m[1].val, m[1].val_len, "true");
        CHECK_EQ(m[1].type, JSON_TRUE);
        CHECK_MEM(m[2].val, m[2].val_len, "-1.5e3");
        CHECK_EQ(m[2].type, JSON_NUMBER);
        CHECK_MEM(m[3].key, m[3].key_len, "messages");
        CHECK_MEM(m[3].val, m[3].val_len, "[{\"role\":\"user\",\"content\":\"hi\"}]");
        CHECK_EQ(m[3].type, JSON_ARRAY);
        CHECK_EQ(m[4].type, JSON_NULL);
        CHECK_EQ(m[5].type, JSON_FALSE);
        CHECK_EQ(m[6].type, JSON_OBJECT);
        CHECK_MEM(m[6].val, m[6].val_len, "{\"a\":[]}");
        CHECK_MEM(m[7].key, m[7].key_len, "k\\\"q");
        CHECK_MEM(m[7].val, m[7].val_len, "\"\"");
        for (size_t i = 0; i < n; i++) {
                CHECK(s + m[i].start + 1 == m[i].key);
                CHECK(m[i].val + m[i].val_len == s + m[i].end);
                CHECK(i == 0 || m[i].start > m[i - 1].end);
        }
        /* splice: remove member 1 ("stream") by cutting [end of 0, end of 1) */
        {
                char out[512];
                size_t a = m[0].end, b = m[1].end, l = strlen(s);
                memcpy(out, s, a);
                memcpy(out + a, s + b, l - b);
                CHECK_EQ(scan(out, l - (b - a), m, 16, &n, &err), 0);
                CHECK_EQ(n, 7);
                CHECK(json_find(m, n, "stream") == NULL);
        }
}

static void test_errors_and_limits(void) {
        struct json_member m[4];
        size_t n, err;
        struct json_limits lim = { .max_depth = 3, .max_members = 4 };

        CHECK_EQ(scan("{\"a\":1,}", 8, m, 4, &n, &err), -EBADMSG);
        CHECK_EQ(err, 7);
        CHECK_EQ(scan("{\"a\":\"x\x01\"}", 10, m, 4, &n, &err), -EBADMSG);
        CHECK_EQ(err, 7);
        CHECK_EQ(scan("{\"a\":tru}", 9, m, 4, &n, &err), -EBADMSG);
        CHECK_EQ(err, 8);
        CHECK_EQ(scan("{\"a\":[1,2", 9, m, 4, &n, &err), -EBADMSG);
        CHECK_EQ(err, 9);
        CHECK_EQ(scan("[1,2]", 5, m, 4, &n, &err), -EPROTOTYPE);
        CHECK_EQ(scan(" \"x\" ", 5, m, 4, &n, &err), -EPROTOTYPE);
        CHECK_EQ(scan("[1,2]x", 6, m, 4, &n, &err), -EBADMSG);

        /* members */
        CHECK_EQ(scan("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", 25, m, 4, &n, &err), 0);
        CHECK_EQ(n, 4);
        CHECK_EQ(scan("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5}", 31, m, 4, &n, &err), -E2BIG);
        CHECK_EQ(scan("{}", 2, NULL, 0, &n, &err), 0);
        CHECK_EQ(n, 0);
        CHECK_EQ(scan("{\"a\":1}", 7, NULL, 0, &n, &err), -E2BIG);
        /* nested members do not count */
        CHECK_EQ(scan("{\"a\":{\"b\":1,\"c\":2,\"d\":3,\"e\":4,\"f\":5}}", 37, m, 1, &n, &err), 0);

        /* depth: the top-level object is level 1 */
        CHECK_EQ(json_scan_object("{\"a\":{\"b\":[]}}", 14, &lim, m, &n, &err), 0);
        CHECK_EQ(json_scan_object("{\"a\":{\"b\":[[]]}}", 16, &lim, m, &n, &err), -E2BIG);
        CHECK_EQ(json_scan_object("[[[]]]", 6, &lim, m, &n, &err), -EPROTOTYPE);
        CHECK_EQ(json_scan_object("[[[[]]]]", 8, &lim, m, &n, &err), -E2BIG);
        lim.max_depth = 1;
        CHECK_EQ(json_scan_object("{\"a\":1}", 7, &lim, m, &n, &err), 0);
        CHECK_EQ(json_scan_object("{\"a\":[]}", 8, &lim, m, &n, &err), -E2BIG);
        /* default 64 */
        {
                char deep[300];
                size_t k = 0;
                deep[k++] = '{';
                deep[k++] = '"';
                deep[k++] = 'a';
                deep[k++] = '"';
                deep[k++] = ':';
                for (int i = 0; i < 63; i++)
                        deep[k++] = '[';
                for (int i = 0; i < 63; i++)
                        deep[k++] = ']';
                deep[k++] = '}';
                CHECK_EQ(scan(deep, k, m, 4, &n, &err), 0);
                memmove(deep + 6, deep + 5, k - 5);
                memmove(deep + k + 1, deep + k, 1);
                deep[5] = '[';
                deep[k] = ']';
                k += 2;
                CHECK_EQ(scan(deep, k, m, 4, &n, &err), -E2BIG);
        }
        /* a depth far beyond any limit: no recursion, no crash */
        {
                static char deep[200000];
                memset(deep, '[', sizeof(deep));
                lim.max_depth = 100000;
                CHECK_EQ(json_scan_object(deep, sizeof(deep), &lim, m, &n, &err), -E2BIG);
                memset(deep, '{', 1);
                memset(deep + 1, ' ', sizeof(deep) - 1);
                CHECK_EQ(json_scan_object(deep, sizeof(deep), &lim, m, &n, &err), -EBADMSG);
                CHECK_EQ(err, sizeof(deep));
        }
}

/* Every strict prefix of a valid object is invalid, and reading stops at
 * len (the buffer ends right before an unmapped page). */
static void test_prefixes(void) {
        const char *s = "{\"model\":\"auto\",\"messages\":[{\"role\":\"system\",\"content\":"
                        "\"You are a helpful assistant. \\u00e9\\ud83d\\ude00 caf\xc3\xa9 \xf0\x9f\x98\x80\"},"
                        "{\"role\":\"user\",\"content\":\"0123456789abcdef0123456789abcdef\"}],"
                        "\"temperature\":0.7,\"max_tokens\":-12e+3,\"stream\":true,\"x\":[null,false]}";
        size_t len = strlen(s);
        struct json_member m[16];
        size_t n, err;
        struct guard_buf g;

        for (size_t i = 0; i <= len; i++) {
                char *p = guard_copy(&g, s, i);
                int r = scan(p, i, m, 16, &n, &err);
                CHECK_EQ(r, i == len ? 0 : -EBADMSG);
                if (r < 0)
                        CHECK(err <= i);
                guard_free(&g);
        }
}

static void test_iter(void) {
        const char *s = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}, {\"role\" : \"assistant\","
                        "\"content\":[{\"type\":\"text\",\"text\":\"yo\"}]}],\"e\":[],\"o\":{}}";
        struct json_member m[8], e, f;
        size_t n, err, it = 0, it2;
        int r, count = 0;
        const struct json_member *msgs;

        CHECK_EQ(scan(s, strlen(s), m, 8, &n, &err), 0);
        msgs = json_find(m, n, "messages");
        CHECK(msgs != NULL);
        if (!msgs)
                return;
        while ((r = json_iter(msgs->val, msgs->val_len, &it, &e)) == 1) {
                CHECK(e.key == NULL);
                CHECK_EQ(e.type, JSON_OBJECT);
                CHECK(e.val >= msgs->val && e.val + e.val_len <= msgs->val + msgs->val_len);
                CHECK_EQ(e.start, (size_t)(e.val - msgs->val));
                CHECK_EQ(e.end, e.start + e.val_len);
                it2 = 0;
                int fields = 0;
                while (json_iter(e.val, e.val_len, &it2, &f) == 1) {
                        CHECK(f.key != NULL);
                        if (fields == 0) {
                                CHECK_MEM(f.key, f.key_len, "role");
                                CHECK_MEM(f.val, f.val_len, count == 0 ? "\"user\"" : "\"assistant\"");
                                CHECK_EQ(f.type, JSON_STRING);
                                CHECK(e.val + f.start + 1 == f.key);
                        } else {
                                CHECK_MEM(f.key, f.key_len, "content");
                                CHECK_EQ(f.type, count == 0 ? JSON_STRING : JSON_ARRAY);
                        }
                        fields++;
                }
                CHECK_EQ(fields, 2);
                count++;
        }
        CHECK_EQ(r, 0);
        CHECK_EQ(count, 2);
        CHECK_EQ(json_iter(msgs->val, msgs->val_len, &it, &e), 0); /* stays at the end */

        it = 0;
        CHECK_EQ(json_iter("[]", 2, &it, &e), 0);
        it = 0;
        CHECK_EQ(json_iter(" { } ", 5, &it, &e), 0);
        it = 0;
        CHECK_EQ(json_iter("[1, \"a\" ,[2]]", 13, &it, &e), 1);
        CHECK_MEM(e.val, e.val_len, "1");
        CHECK_EQ(json_iter("[1, \"a\" ,[2]]", 13, &it, &e), 1);
        CHECK_MEM(e.val, e.val_len, "\"a\"");
        CHECK_EQ(json_iter("[1, \"a\" ,[2]]", 13, &it, &e), 1);
        CHECK_MEM(e.val, e.val_len, "[2]");
        CHECK_EQ(json_iter("[1, \"a\" ,[2]]", 13, &it, &e), 0);

        static const struct vec bad[] = {
                S("1"),        S("\"a\""), S(""),      S("[1,]"), S("[1"),   S("[1 2]"), S("{\"a\"}"),
                S("{\"a\":}"), S("[}"),    S("{1:2}"), S("[]x"),  S("[1]x"), S("[,1]"),  S("[\"\\ud800\"]"),
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int rr;
                it = 0;
                for (int k = 0; k < 10 && (rr = json_iter(bad[i].s, bad[i].len, &it, &e)) == 1; k++)
                        ;
                if (rr != -EBADMSG)
                        fprintf(stderr, "iter bad[%zu] \"%s\": %d\n", i, bad[i].s, rr);
                CHECK_EQ(rr, -EBADMSG);
        }
        it = 100;
        CHECK_EQ(json_iter("[1]", 3, &it, &e), -EBADMSG);
}

static void test_find(void) {
        const char *s = "{\"model\":\"a\",\"stream\":true,\"model\":\"b\",\"mod\\u0065l\":\"c\",\"x\\\"y\":1,"
                        "\"\\u00e9t\\u00e9\":2}";
        struct json_member m[8];
        size_t n, err;
        const struct json_member *f;

        CHECK_EQ(scan(s, strlen(s), m, 8, &n, &err), 0);
        /* the last duplicate wins, escapes are decoded: as upstreams see it */
        f = json_find(m, n, "model");
        CHECK(f == &m[3]);
        CHECK(json_find(m, n, "stream") == &m[1]);
        CHECK(json_find(m, n, "x\"y") == &m[4]);
        CHECK(json_find(m, n, "\xc3\xa9t\xc3\xa9") == &m[5]);
        CHECK(json_find(m, n, "\xc3\xa9t") == NULL);
        CHECK(json_find(m, n, "mode") == NULL);
        CHECK(json_find(m, n, "models") == NULL);
        CHECK(json_find(m, n, "") == NULL);
        CHECK(json_find(m, 1, "model") == &m[0]);
        CHECK(json_find(m, 0, "model") == NULL);
}

static void check_decode(const char *in, const char *want, size_t want_len) {
        char out[256];
        int r = json_string_decode(in, strlen(in), out, sizeof(out));
        CHECK_EQ(r, (int)want_len);
        if (r >= 0 && memcmp(out, want, want_len) != 0) {
                fprintf(stderr, "decode %s: mismatch\n", in);
                check_failures++;
        }
        /* exact capacity works, one less does not */
        if (r > 0) {
                CHECK_EQ(json_string_decode(in, strlen(in), out, want_len), r);
                CHECK_EQ(json_string_decode(in, strlen(in), out, want_len - 1), -ENOBUFS);
        }
}

static void test_decode(void) {
        char out[64];

        check_decode("\"\"", "", 0);
        check_decode("\"abc\"", "abc", 3);
        check_decode("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "a\"b\\c/d\b\f\n\r\t", 12);
        check_decode("\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac", 6);
        check_decode("\"\\ud83d\\ude00!\"", "\xf0\x9f\x98\x80!", 5);
        check_decode("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4);
        check_decode("\"\\u0000x\"", "\0x", 2);
        check_decode("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", "caf\xc3\xa9 \xf0\x9f\x98\x80", 10);
        check_decode("\"0123456789abcdef0123456789abcdef\\n\"", "0123456789abcdef0123456789abcdef\n", 33);

        static const char *bad[] = {
                "",
                "\"",
                "abc",
                "\"abc",
                "abc\"",
                "\"\\\"",
                "\"a\"b\"",
                "\"\\ud800\"",
                "\"\\udc00\"",
                "\"\\ud800\\u0041\"",
                "\"\\ud83d\"",
                "\"\\x\"",
                "\"\\u12\"",
                "\"\x01\"",
                "\"\n\"",
                "\"\xff\"",
                "\"\xed\xa0\x80\"",
                "\"\xc3\"",
                "'a'",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int r = json_string_decode(bad[i], strlen(bad[i]), out, sizeof(out));
                if (r != -EBADMSG)
                        fprintf(stderr, "decode bad[%zu] %s: %d\n", i, bad[i], r);
                CHECK_EQ(r, -EBADMSG);
                /* invalid wins over too small */
                CHECK_EQ(json_string_decode(bad[i], strlen(bad[i]), out, 0), -EBADMSG);
        }
        CHECK_EQ(json_string_decode("\"\\ud800\"", 8, out, 0), -EBADMSG);
        CHECK_EQ(json_string_decode("\"abc\"", 5, NULL, 0), -ENOBUFS);
}

static void test_encode(void) {
        char out[256], back[256];
        int r;

        r = json_string_encode("a\"b\\c\n\t\x01\x1f\x7f/", 11, out, sizeof(out));
        CHECK_MEM(out, (size_t)r, "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\x7f/\"");
        r = json_string_encode("", 0, out, sizeof(out));
        CHECK_MEM(out, (size_t)r, "\"\"");
        r = json_string_encode("caf\xc3\xa9 \xf0\x9f\x98\x80", 10, out, sizeof(out));
        CHECK_MEM(out, (size_t)r, "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
        r = json_string_encode("\0", 1, out, sizeof(out));
        CHECK_MEM(out, (size_t)r, "\"\\u0000\"");
        /* invalid UTF-8 becomes U+FFFD, so the output is always valid JSON */
        r = json_string_encode("a\xff"
                               "b\xc3",
                               4, out, sizeof(out));
        CHECK_MEM(out, (size_t)r,
                  "\"a\xef\xbf\xbd"
                  "b\xef\xbf\xbd\"");
        r = json_string_encode("\xed\xa0\x80", 3, out, sizeof(out));
        CHECK_MEM(out, (size_t)r, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
        /* capacity */
        CHECK_EQ(json_string_encode("abc", 3, out, 5), 5);
        CHECK_EQ(json_string_encode("abc", 3, out, 4), -ENOBUFS);
        CHECK_EQ(json_string_encode("\n", 1, out, 3), -ENOBUFS);
        CHECK_EQ(json_string_encode("\n", 1, out, 4), 4);
        CHECK_EQ(json_string_encode("", 0, out, 1), -ENOBUFS);

        /* random round trips: valid UTF-8 of random code points */
        uint64_t x = 0x9e3779b97f4a7c15ull;
        for (int iter = 0; iter < 20000; iter++) {
                char src[64];
                size_t sl = 0;
                int cps = iter % 12;
                for (int k = 0; k < cps; k++) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        uint32_t cp;
                        switch (x % 4) {
                        case 0:
                                cp = (uint32_t)(x >> 8) % 0x80;
                                break;
                        case 1:
                                cp = (uint32_t)(x >> 8) % 0x800;
                                break;
                        case 2:
                                cp = (uint32_t)(x >> 8) % 0x10000;
                                break;
                        default:
                                cp = (uint32_t)(x >> 8) % 0x110000;
                                break;
                        }
                        if (cp >= 0xd800 && cp < 0xe000)
                                cp = '?';
                        if (cp < 0x80) {
                                src[sl++] = (char)cp;
                        } else if (cp < 0x800) {
                                src[sl++] = (char)(0xc0 | cp >> 6);
                                src[sl++] = (char)(0x80 | (cp & 0x3f));
                        } else if (cp < 0x10000) {
                                src[sl++] = (char)(0xe0 | cp >> 12);
                                src[sl++] = (char)(0x80 | (cp >> 6 & 0x3f));
                                src[sl++] = (char)(0x80 | (cp & 0x3f));
                        } else {
                                src[sl++] = (char)(0xf0 | cp >> 18);
                                src[sl++] = (char)(0x80 | (cp >> 12 & 0x3f));
                                src[sl++] = (char)(0x80 | (cp >> 6 & 0x3f));
                                src[sl++] = (char)(0x80 | (cp & 0x3f));
                        }
                }
                r = json_string_encode(src, sl, out, sizeof(out));
                CHECK(r >= 2);
                if (r < 2)
                        continue;
                /* the literal is valid JSON */
                struct json_member m[1];
                size_t n, err;
                CHECK_EQ(scan(out, (size_t)r, m, 1, &n, &err), -EPROTOTYPE);
                int d = json_string_decode(out, (size_t)r, back, sizeof(back));
                CHECK_EQ(d, (int)sl);
                if (d == (int)sl && memcmp(back, src, sl) != 0) {
                        fprintf(stderr, "round trip mismatch at iteration %d\n", iter);
                        check_failures++;
                }
        }
}

/* A ~100 KB chat request body. */
static void test_big_body(void) {
        static char body[140000];
        size_t k = 0;
        struct json_member m[16];
        size_t n, err;

        k += (size_t)sprintf(body + k, "{\"model\":\"auto\",\"messages\":[");
        for (int i = 0; k < 100000; i++)
                k += (size_t)sprintf(body + k,
                                     "%s{\"role\":\"%s\",\"content\":\"Message %d: the quick brown fox jumps "
                                     "over the lazy dog. \\\"Quoted\\\" text,\\nnew lines, caf\xc3\xa9, "
                                     "\xe6\x97\xa5\xe6\x9c\xac, \\u00e9 and \xf0\x9f\x98\x80 emoji.\"}",
                                     i ? "," : "", i % 2 ? "assistant" : "user", i);
        k += (size_t)sprintf(body + k, "],\"stream\":true,\"max_tokens\":512}");
        CHECK_EQ(scan(body, k, m, 16, &n, &err), 0);
        CHECK_EQ(n, 4);
        const struct json_member *msgs = json_find(m, n, "messages");
        CHECK(msgs != NULL);
        if (msgs) {
                size_t it = 0, count = 0;
                struct json_member e;
                while (json_iter(msgs->val, msgs->val_len, &it, &e) == 1)
                        count++;
                CHECK(count > 500);
        }
        /* one bad byte anywhere makes it invalid */
        for (size_t pos = 30; pos < k - 40; pos += 997) {
                char saved = body[pos];
                body[pos] = '\x01';
                CHECK_EQ(scan(body, k, m, 16, &n, &err), -EBADMSG);
                /* reported at the byte, or at the start of the escape or
                 * UTF-8 sequence it broke */
                CHECK(err <= pos && err + 12 >= pos);
                body[pos] = saved;
        }
}

int main(void) {
        test_vectors();
        test_types_and_spans();
        test_errors_and_limits();
        test_prefixes();
        test_iter();
        test_find();
        test_decode();
        test_encode();
        test_big_body();
        return check_done("test_json");
}
