/* Unit tests for the incremental chunked decoder. */
#include <errno.h>
#include <stdint.h>

#include "http/http_parse.h"
#include "test_util.h"

struct result {
        int rc;          /* last return value: 1 done, 0 need more, <0 error */
        size_t consumed; /* total bytes consumed */
        size_t out_len;
        char out[4096];
};

/* Feeds s in pieces of at most `step` bytes (0: all at once), the way a
 * connection would: keeping unconsumed bytes and appending new ones. */
static void decode(const char *s, size_t len, size_t step, struct result *res) {
        struct http_chunked d = { 0 };
        size_t avail = 0, off = 0;

        memset(res, 0, sizeof(*res));
        if (step == 0)
                step = len ? len : 1;
        for (;;) {
                size_t c, dlen;
                const char *data;
                int r;

                if (off == avail) {
                        if (avail == len)
                                break;
                        avail = avail + step > len ? len : avail + step;
                }
                r = http_chunked_step(&d, s + off, avail - off, &c, &data, &dlen);
                res->rc = r;
                if (r < 0)
                        return;
                CHECK(c <= avail - off);
                if (dlen) {
                        CHECK(data >= s + off && data + dlen <= s + off + c);
                        CHECK(res->out_len + dlen <= sizeof(res->out));
                        if (res->out_len + dlen <= sizeof(res->out))
                                memcpy(res->out + res->out_len, data, dlen);
                        res->out_len += dlen;
                }
                off += c;
                res->consumed = off;
                if (r == 1)
                        return;
                if (c == 0) {
                        /* no progress: must be because everything available
                         * has been consumed */
                        CHECK(off == avail);
                        if (avail == len)
                                break;
                        avail = avail + step > len ? len : avail + step;
                }
        }
}

static void check_ok(const char *s, const char *want, size_t trailing) {
        size_t len = strlen(s);
        static const size_t steps[] = { 0, 1, 2, 3, 5, 7, 16 };

        for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
                struct result r;
                decode(s, len, steps[k], &r);
                if (r.rc != 1)
                        fprintf(stderr, "\"%s\" step %zu: rc %d\n", s, steps[k], r.rc);
                CHECK_EQ(r.rc, 1);
                CHECK_EQ(r.consumed, len - trailing);
                CHECK_MEM(r.out, r.out_len, want);
        }
}

static void check_err(const char *s, size_t len, int err) {
        static const size_t steps[] = { 0, 1, 3 };

        for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
                struct result r;
                decode(s, len, steps[k], &r);
                if (r.rc != err)
                        fprintf(stderr, "\"%.40s\" step %zu: rc %d, want %d\n", s, steps[k], r.rc, err);
                CHECK_EQ(r.rc, err);
        }
}

static void check_incomplete(const char *s) {
        struct result r;
        decode(s, strlen(s), 1, &r);
        CHECK_EQ(r.rc, 0);
        decode(s, strlen(s), 0, &r);
        CHECK_EQ(r.rc, 0);
        CHECK_EQ(r.consumed, strlen(s));
}

static void test_valid(void) {
        check_ok("0\r\n\r\n", "", 0);
        check_ok("5\r\nhello\r\n0\r\n\r\n", "hello", 0);
        check_ok("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 0);
        check_ok("a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij", 0);
        check_ok("000005\r\nhello\r\n000\r\n\r\n", "hello", 0);
        check_ok("1a\r\ndata: {\"x\":1}\r\n\r\ndata:\r\n\r\n\r\n0\r\n\r\n", "data: {\"x\":1}\r\n\r\ndata:\r\n\r\n", 0);
        /* extensions */
        check_ok("5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello", 0);
        check_ok("5 ; a=1 ; b=\"x y\"\r\nhello\r\n0\r\n\r\n", "hello", 0);
        check_ok("5\t;a\r\nhello\r\n0\r\n\r\n", "hello", 0);
        /* trailers */
        check_ok("5\r\nhello\r\n0\r\nX-Checksum: abc\r\nY:\r\n\r\n", "hello", 0);
        /* bytes after the end belong to the next message */
        check_ok("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", "abc", 18);
        check_ok("0\r\n\r\n0\r\n\r\n", "", 5);
        /* data with CR/LF and NUL bytes inside */
        check_ok("4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n", 0);
}

static void test_big_sizes(void) {
        struct http_chunked d = { 0 };
        size_t c, dlen;
        const char *data;
        const char *s = "ffffffffffffffff\r\nxyz";

        CHECK_EQ(http_chunked_step(&d, s, strlen(s), &c, &data, &dlen), 0);
        CHECK_EQ(c, strlen(s));
        CHECK_EQ(dlen, 3);
        CHECK(d.remaining == UINT64_MAX - 3);
        check_err("10000000000000000\r\n", 19, -EBADMSG);
        check_err("fffffffffffffffff\r\n", 19, -EBADMSG);
}

static void test_errors(void) {
        char big[10000];

        check_err("\r\n", 2, -EBADMSG); /* no digits */
        check_err(";ext\r\n", 6, -EBADMSG);
        check_err("g\r\n", 3, -EBADMSG);
        check_err("-1\r\n", 4, -EBADMSG);
        check_err("0x5\r\nhello\r\n", 12, -EBADMSG);
        check_err("5\nhello\r\n0\r\n\r\n", 15, -EBADMSG); /* bare LF */
        check_err("5\r\nhello\n0\r\n\r\n", 15, -EBADMSG);
        check_err("5\r\nhelloX\r\n", 11, -EBADMSG); /* no CRLF after data */
        check_err("5\r\nhello\rX", 10, -EBADMSG);
        check_err("5\rX", 3, -EBADMSG);
        check_err("5 5\r\n", 5, -EBADMSG);
        check_err("5;a\nb\r\n", 7, -EBADMSG); /* LF inside extension */
        check_err("5;a\0b\r\n", 7, -EBADMSG);
        check_err("0\r\n\n", 4, -EBADMSG);
        check_err("0\r\n\rX", 5, -EBADMSG);
        check_err("0\r\n X: y\r\n\r\n", 12, -EBADMSG); /* trailer starting with ws */
        check_err("0\r\nX: a\x01\r\n\r\n", 12, -EBADMSG);
        check_err("0\r\nX: a\nb\r\n\r\n", 12, -EBADMSG);
        check_err("0\r\nX: a\r\r\n", 10, -EBADMSG);

        /* size line limit */
        memset(big, 'a', sizeof(big));
        memcpy(big, "1;", 2);
        check_err(big, 2000, -E2BIG);
        memcpy(big + 1000, "\r\nx\r\n0\r\n\r\n", 10);
        {
                struct result r;
                decode(big, 1010, 1, &r);
                CHECK_EQ(r.rc, 1);
                CHECK_MEM(r.out, r.out_len, "x");
        }
        /* long run of leading zeros hits the line limit, not an overflow */
        memset(big, '0', 2000);
        check_err(big, 2000, -E2BIG);

        /* trailer limit: 8 KiB over all trailer lines */
        {
                size_t n = 0;
                n += (size_t)sprintf(big + n, "0\r\n");
                while (n < 9000)
                        n += (size_t)sprintf(big + n, "X-T: %s\r\n", "0123456789012345678901234567890123456789");
                memcpy(big + n, "\r\n", 2);
                check_err(big, n + 2, -E2BIG);
        }
        {
                size_t n = 0;
                struct result r;
                n += (size_t)sprintf(big + n, "0\r\n");
                while (n < 7000)
                        n += (size_t)sprintf(big + n, "X-T: %s\r\n", "0123456789012345678901234567890123456789");
                memcpy(big + n, "\r\n", 2);
                decode(big, n + 2, 1, &r);
                CHECK_EQ(r.rc, 1);
                CHECK_EQ(r.consumed, n + 2);
        }
}

static void test_sticky_error(void) {
        struct http_chunked d = { 0 };
        size_t c = 99, dlen;
        const char *data;

        CHECK_EQ(http_chunked_step(&d, "z", 1, &c, &data, &dlen), -EBADMSG);
        CHECK_EQ(c, 99); /* untouched on failure */
        CHECK_EQ(http_chunked_step(&d, "0\r\n\r\n", 5, &c, &data, &dlen), -EBADMSG);
}

static void test_incomplete(void) {
        check_incomplete("");
        check_incomplete("5");
        check_incomplete("5\r");
        check_incomplete("5\r\nhel");
        check_incomplete("5\r\nhello");
        check_incomplete("5\r\nhello\r");
        check_incomplete("5\r\nhello\r\n0");
        check_incomplete("5\r\nhello\r\n0\r\n");
        check_incomplete("5\r\nhello\r\n0\r\nX: y\r\n");
        check_incomplete("5\r\nhello\r\n0\r\n\r");
        check_incomplete("5;ext=1");
}

/* Done state: further calls return 1 and consume nothing. */
static void test_done_state(void) {
        struct http_chunked d = { 0 };
        size_t c, dlen;
        const char *data;

        CHECK_EQ(http_chunked_step(&d, "0\r\n\r\nrest", 9, &c, &data, &dlen), 1);
        CHECK_EQ(c, 5);
        CHECK_EQ(dlen, 0);
        CHECK_EQ(http_chunked_step(&d, "rest", 4, &c, &data, &dlen), 1);
        CHECK_EQ(c, 0);
        CHECK_EQ(dlen, 0);
}

/* All prefixes of a valid body, fed at once: never an error, and when the
 * decoder stops early, it has consumed everything it was given. */
static void test_prefixes(void) {
        const char *s = "1a;x=y\r\nabcdefghijklmnopqrstuvwxyz\r\n3\r\n123\r\n0\r\nA: b\r\n\r\n";
        size_t len = strlen(s);
        struct guard_buf g;

        for (size_t i = 0; i < len; i++) {
                char *p = guard_copy(&g, s, i);
                struct result r;
                decode(p, i, 0, &r);
                CHECK_EQ(r.rc, 0);
                CHECK_EQ(r.consumed, i);
                decode(p, i, 1, &r);
                CHECK_EQ(r.rc, 0);
                guard_free(&g);
        }
}

int main(void) {
        test_valid();
        test_big_sizes();
        test_errors();
        test_sticky_error();
        test_incomplete();
        test_done_state();
        test_prefixes();
        return check_done("test_chunked");
}
