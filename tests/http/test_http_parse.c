/* Unit tests for http_parse_request / http_parse_response and helpers. */
#include <errno.h>
#include <stdint.h>

#include "http/http_parse.h"
#include "test_util.h"

#define MAXH 64
#define S(x) \
        { x, sizeof(x) - 1 }

static const struct http_limits lim_default = { .max_header_bytes = 8192, .max_headers = MAXH };

static int parse_req_str(const char *s, struct http_request *req, struct http_header *h) {
        req->headers = h;
        return http_parse_request(s, strlen(s), &lim_default, req);
}

static int parse_req_lim(const char *s, size_t len, size_t max_bytes, size_t max_headers) {
        struct http_header h[MAXH];
        struct http_request req = { .headers = h };
        struct http_limits lim = { .max_header_bytes = max_bytes, .max_headers = max_headers };
        return http_parse_request(s, len, &lim, &req);
}

static int parse_res_str(const char *s, struct http_response *res, struct http_header *h) {
        res->headers = h;
        return http_parse_response(s, strlen(s), &lim_default, res);
}

static void test_simple_get(void) {
        struct http_header h[MAXH];
        struct http_request req;
        const char *s = "GET /v1/models?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
        int r = parse_req_str(s, &req, h);

        CHECK_EQ(r, (int)strlen(s));
        CHECK_MEM(req.method, req.method_len, "GET");
        CHECK_MEM(req.target, req.target_len, "/v1/models?x=1");
        CHECK_EQ(req.minor_version, 1);
        CHECK_EQ(req.num_headers, 2);
        CHECK_MEM(h[0].name, h[0].name_len, "Host");
        CHECK_MEM(h[0].value, h[0].value_len, "example.com");
        CHECK_MEM(h[1].name, h[1].name_len, "Accept");
        CHECK_MEM(h[1].value, h[1].value_len, "*/*");
}

static void test_post_ows(void) {
        struct http_header h[MAXH];
        struct http_request req;
        const char *s = "POST /v1/chat/completions HTTP/1.0\r\n"
                        "Content-Type:application/json\r\n"
                        "X-Pad: \t  spaced value \t \r\n"
                        "X-Empty:\r\n"
                        "X-Empty-Ws:   \t\r\n"
                        "X-Inner: a\tb  c\r\n"
                        "X-Utf8: caf\xc3\xa9\r\n"
                        "Content-Length: 16\r\n"
                        "\r\n"
                        "{\"model\":\"auto\"}";
        int r = parse_req_str(s, &req, h);

        CHECK_EQ(r, (int)(strlen(s) - 16));
        CHECK_MEM(req.method, req.method_len, "POST");
        CHECK_EQ(req.minor_version, 0);
        CHECK_EQ(req.num_headers, 7);
        CHECK_MEM(h[0].value, h[0].value_len, "application/json");
        CHECK_MEM(h[1].value, h[1].value_len, "spaced value");
        CHECK_EQ(h[2].value_len, 0);
        CHECK_EQ(h[3].value_len, 0);
        CHECK_MEM(h[4].value, h[4].value_len, "a\tb  c");
        CHECK_MEM(h[5].value, h[5].value_len, "caf\xc3\xa9");
        CHECK_MEM(h[6].value, h[6].value_len, "16");
        /* empty values point inside the buffer */
        CHECK(h[2].value >= s && h[2].value <= s + r);
        CHECK(h[3].value >= s && h[3].value <= s + r);
}

static void test_bare_lf_and_leading_empty_lines(void) {
        struct http_header h[MAXH];
        struct http_request req;
        const char *s = "\r\n\nGET / HTTP/1.1\nHost: a\nX: y\r\n\n";
        int r = parse_req_str(s, &req, h);

        CHECK_EQ(r, (int)strlen(s));
        CHECK_MEM(req.method, req.method_len, "GET");
        CHECK_MEM(req.target, req.target_len, "/");
        CHECK_EQ(req.num_headers, 2);
        CHECK_MEM(h[1].value, h[1].value_len, "y");
}

static void test_pipelined(void) {
        const char *s = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                        "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
                        "DELETE /c HTTP/1.0\r\n\r\n"
                        "GET /d HTT";
        const char *targets[] = { "/a", "/b", "/c" };
        size_t len = strlen(s), off = 0;
        struct http_header h[MAXH];
        struct http_request req = { .headers = h };

        for (int k = 0; k < 3; k++) {
                int r = http_parse_request(s + off, len - off, &lim_default, &req);
                CHECK(r > 0);
                if (r <= 0)
                        return;
                CHECK_MEM(req.target, req.target_len, targets[k]);
                off += (size_t)r;
                if (k == 1) {
                        const struct http_header *cl = http_find_header(h, req.num_headers, "content-length");
                        uint64_t v = 0;
                        CHECK(cl != NULL);
                        if (cl) {
                                CHECK_EQ(http_parse_content_length(cl->value, cl->value_len, &v), 0);
                                CHECK_EQ(v, 2);
                        }
                        off += v;
                }
        }
        CHECK_EQ(http_parse_request(s + off, len - off, &lim_default, &req), -EAGAIN);
}

/* Every strict prefix of a valid message is -EAGAIN; the full message
 * parses to the same result with any amount of trailing data. Buffers end
 * right before an unmapped page so that overreads fault. */
static void check_all_prefixes_req(const char *s) {
        size_t len = strlen(s);
        struct http_header h[MAXH];
        struct http_request req = { .headers = h };
        struct guard_buf g;
        int full;

        char *p = guard_copy(&g, s, len);
        full = http_parse_request(p, len, &lim_default, &req);
        CHECK(full > 0);
        for (size_t i = 0; i < (size_t)full; i++) {
                char *q = p + len - i;
                memmove(q, s, i);
                int r = http_parse_request(q, i, &lim_default, &req);
                if (r != -EAGAIN) {
                        fprintf(stderr, "prefix %zu of %s: %d\n", i, s, r);
                        CHECK_EQ(r, -EAGAIN);
                }
        }
        guard_free(&g);
}

static void check_all_prefixes_res(const char *s) {
        size_t len = strlen(s);
        struct http_header h[MAXH];
        struct http_response res = { .headers = h };
        struct guard_buf g;
        int full;

        char *p = guard_copy(&g, s, len);
        full = http_parse_response(p, len, &lim_default, &res);
        CHECK(full > 0);
        for (size_t i = 0; i < (size_t)full; i++) {
                char *q = p + len - i;
                memmove(q, s, i);
                int r = http_parse_response(q, i, &lim_default, &res);
                if (r != -EAGAIN) {
                        fprintf(stderr, "prefix %zu of %s: %d\n", i, s, r);
                        CHECK_EQ(r, -EAGAIN);
                }
        }
        guard_free(&g);
}

static void test_partial(void) {
        check_all_prefixes_req("GET / HTTP/1.1\r\n\r\n");
        check_all_prefixes_req("GET / HTTP/1.0\n\n");
        check_all_prefixes_req("\r\nGET / HTTP/1.0\r\n\r\n");
        check_all_prefixes_req("POST /v1/chat/completions?stream=true HTTP/1.1\r\n"
                               "Host: switchyard.local:8080\r\n"
                               "User-Agent: OpenAI/Python 1.40.0\r\n"
                               "Accept: application/json\r\n"
                               "Accept-Encoding: gzip, deflate\r\n"
                               "Authorization: Bearer sk-0123456789abcdefghijklmnopqrstuvwxyz\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: 1234\r\n"
                               "X-Empty:\r\n"
                               "X-Stainless-Lang: python\r\n"
                               "Connection: keep-alive\r\n"
                               "\r\n");
        check_all_prefixes_req("OPTIONS * HTTP/1.1\nHost: a  \n\n");
        check_all_prefixes_res("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n");
        check_all_prefixes_res("HTTP/1.0 404 Not Found\n\n");
        check_all_prefixes_res("HTTP/1.1 204\r\n\r\n");
        check_all_prefixes_res("HTTP/1.1 204 \r\nServer: uvicorn\r\n\r\n");
}

static void test_limits(void) {
        const char *s = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        size_t len = strlen(s);
        char big[20000];

        /* the block exactly at the limit is fine, one byte less is not */
        CHECK_EQ(parse_req_lim(s, len, len, 3), (int)len);
        CHECK_EQ(parse_req_lim(s, len, len - 1, 3), -E2BIG);
        CHECK_EQ(parse_req_lim(s, len, len + 1000, 3), (int)len);
        /* trailing body bytes beyond the limit do not matter */
        memcpy(big, s, len);
        memset(big + len, 'x', sizeof(big) - len);
        CHECK_EQ(parse_req_lim(big, sizeof(big), len, 3), (int)len);
        /* header count */
        CHECK_EQ(parse_req_lim(s, len, 8192, 2), -E2BIG);
        CHECK_EQ(parse_req_lim(s, len, 8192, 0), -E2BIG);
        CHECK_EQ(parse_req_lim("GET / HTTP/1.1\r\n\r\n", 18, 8192, 0), 18);
        /* too many headers even before the block is complete */
        CHECK_EQ(parse_req_lim(s, len - 4, 8192, 2), -E2BIG);
        /* incomplete and already over the limit */
        memset(big, 'A', sizeof(big));
        CHECK_EQ(parse_req_lim(big, sizeof(big), 8192, MAXH), -E2BIG);
        CHECK_EQ(parse_req_lim(big, 8192, 8192, MAXH), -EAGAIN);
        CHECK_EQ(parse_req_lim(big, 8193, 8192, MAXH), -E2BIG);
        memcpy(big, "GET / HTTP/1.1\r\nX-Long: ", 24);
        CHECK_EQ(parse_req_lim(big, sizeof(big), 8192, MAXH), -E2BIG);
        CHECK_EQ(parse_req_lim(big, 4000, 8192, MAXH), -EAGAIN);
        /* a long header that ends one byte past the limit */
        memcpy(big + 8190, "\r\n\r\n", 4);
        CHECK_EQ(parse_req_lim(big, 8194, 8194, MAXH), 8194);
        CHECK_EQ(parse_req_lim(big, 8194, 8193, MAXH), -E2BIG);
        CHECK_EQ(parse_req_lim(big, 8193, 8193, MAXH), -EAGAIN);
        /* limits first: over the limit without a complete block is -E2BIG
         * even when the bytes are also malformed */
        memset(big, 0, sizeof(big));
        CHECK_EQ(parse_req_lim(big, sizeof(big), 8192, MAXH), -E2BIG);
        CHECK_EQ(parse_req_lim(big, 100, 8192, MAXH), -EBADMSG);
        memset(big, 'x', sizeof(big));
        memcpy(big, "GET / HTTP/1.1\r\nBad Header: x\r\n", 31);
        CHECK_EQ(parse_req_lim(big, sizeof(big), 8192, MAXH), -E2BIG);
        CHECK_EQ(parse_req_lim(big, 8192, 8192, MAXH), -EBADMSG);
        memcpy(big + 31, "\r\n", 2);
        CHECK_EQ(parse_req_lim(big, sizeof(big), 8192, MAXH), -EBADMSG);
        memcpy(big, "GET / HTTP/2.0\r\nA: b\r\n", 22);
        memset(big + 22, 'x', 100);
        CHECK_EQ(parse_req_lim(big, sizeof(big), 8192, MAXH), -E2BIG);
        memcpy(big + 22, "\n", 1);
        CHECK_EQ(parse_req_lim(big, sizeof(big), 8192, MAXH), -ENOTSUP);
        /* zero limits */
        CHECK_EQ(parse_req_lim(s, len, 0, 0), -E2BIG);
        CHECK_EQ(parse_req_lim(s, 0, 0, 0), -EAGAIN);
        /* response limits */
        {
                struct http_header h[2];
                struct http_response res = { .headers = h };
                struct http_limits lim = { .max_header_bytes = 8192, .max_headers = 2 };
                const char *r3 = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
                CHECK_EQ(http_parse_response(r3, strlen(r3), &lim, &res), -E2BIG);
                lim.max_headers = 2;
                lim.max_header_bytes = 10;
                CHECK_EQ(http_parse_response(r3, strlen(r3), &lim, &res), -E2BIG);
        }
}

static void test_bad_requests(void) {
        static const struct {
                const char *s;
                size_t len;
        } bad[] = {
                S("GET  / HTTP/1.1\r\n\r\n"), /* two spaces */
                S("GET /  HTTP/1.1\r\n\r\n"),
                S("GET\t/ HTTP/1.1\r\n\r\n"), /* tab separator */
                S(" GET / HTTP/1.1\r\n\r\n"),
                S("GE(T / HTTP/1.1\r\n\r\n"), /* non-token method */
                S("GE\x01T / HTTP/1.1\r\n\r\n"),
                S("G\xc3\xa9T / HTTP/1.1\r\n\r\n"),
                S("GET\r\n\r\n"),
                S("GET /\r\n\r\n"),               /* HTTP/0.9 */
                S("GET  HTTP/1.1\r\n\r\n"),       /* empty target */
                S("GET /a\x01 HTTP/1.1\r\n\r\n"), /* control in target */
                S("GET /a\x7f HTTP/1.1\r\n\r\n"),
                S("GET /a\tb HTTP/1.1\r\n\r\n"),
                S("GET /a\0b HTTP/1.1\r\n\r\n"),
                S("GET / HTTP/x\r\n\r\n"),
                S("GET / HTTP/1.x\r\n\r\n"),
                S("GET / HTTP/1\r\n\r\n"),
                S("GET / HTTP/1.\r\n\r\n"),
                S("GET / HTTP/11.1\r\n\r\n"),
                S("GET / HTTP/1.10\r\n\r\n"),
                S("GET / http/1.1\r\n\r\n"),
                S("GET / HTTP/1.1 \r\n\r\n"),
                S("GET / HTTP/1.1\rX\r\n\r\n"), /* bare CR */
                S("GET / HTTP/1.1\r\r\n\r\n"),
                S("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), /* whitespace before colon */
                S("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"),
                S("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"), /* obs-fold */
                S("GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n"),
                S("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), /* ws before first field */
                S("GET / HTTP/1.1\r\n: a\r\n\r\n"),      /* empty name */
                S("GET / HTTP/1.1\r\nX@Y: a\r\n\r\n"),
                S("GET / HTTP/1.1\r\nX\"Y: a\r\n\r\n"),
                S("GET / HTTP/1.1\r\nNoColon\r\n\r\n"),
                S("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"), /* NUL in value */
                S("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n"),
                S("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n"),
                S("GET / HTTP/1.1\r\nX: a\x1b[0m\r\n\r\n"),
                S("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"), /* CR in value */
                S("GET / HTTP/1.1\r\nX: a\r\n\r\r\n"),
                S("GET / HTTP/1.1\r\nX: a\r\n\rX"),
                S("\rGET / HTTP/1.1\r\n\r\n"),
                S("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), /* TLS hello */
        };
        struct http_header h[MAXH];
        struct http_request req = { .headers = h };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                size_t len = bad[i].len;
                req.method = NULL;
                req.num_headers = 12345;
                int r = http_parse_request(bad[i].s, len, &lim_default, &req);
                if (r != -EBADMSG)
                        fprintf(stderr, "bad[%zu] \"%s\": %d\n", i, bad[i].s, r);
                CHECK_EQ(r, -EBADMSG);
                /* outputs untouched on failure */
                CHECK(req.method == NULL);
                CHECK_EQ(req.num_headers, 12345);
        }
}

static void test_versions(void) {
        static const char *unsup[] = {
                "GET / HTTP/2.0\r\n\r\n", "GET / HTTP/1.2\r\n\r\n",           "GET / HTTP/0.9\r\n\r\n",
                "GET / HTTP/3.0\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        };
        struct http_header h[MAXH];
        struct http_request req;
        struct http_response res;

        for (size_t i = 0; i < sizeof(unsup) / sizeof(unsup[0]); i++)
                CHECK_EQ(parse_req_str(unsup[i], &req, h), -ENOTSUP);
        CHECK_EQ(parse_res_str("HTTP/2.0 200 OK\r\n\r\n", &res, h), -ENOTSUP);
        CHECK_EQ(parse_res_str("HTTP/1.2 200 OK\r\n\r\n", &res, h), -ENOTSUP);
        CHECK_EQ(parse_res_str("HTTP/x 200 OK\r\n\r\n", &res, h), -EBADMSG);
        /* lower-case and odd methods are valid tokens */
        CHECK(parse_req_str("get / HTTP/1.1\r\n\r\n", &req, h) > 0);
        CHECK(parse_req_str("M-SEARCH * HTTP/1.1\r\n\r\n", &req, h) > 0);
        CHECK(parse_req_str("CONNECT host:443 HTTP/1.1\r\n\r\n", &req, h) > 0);
        CHECK_MEM(req.target, req.target_len, "host:443");
        CHECK(parse_req_str("GET http://a/b?c#d HTTP/1.1\r\n\r\n", &req, h) > 0);
        /* obs-text in the target is passed through */
        CHECK(parse_req_str("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", &req, h) > 0);
        /* all tchar in a field name */
        CHECK(parse_req_str("GET / HTTP/1.1\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n", &req, h) > 0);
        CHECK_EQ(req.num_headers, 1);
}

static void test_responses(void) {
        struct http_header h[MAXH];
        struct http_response res;
        const char *s = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                        "Transfer-Encoding: chunked\r\n\r\ndata";
        int r = parse_res_str(s, &res, h);

        CHECK_EQ(r, (int)strlen(s) - 4);
        CHECK_EQ(res.status, 200);
        CHECK_EQ(res.minor_version, 1);
        CHECK_MEM(res.reason, res.reason_len, "OK");
        CHECK_EQ(res.num_headers, 2);
        CHECK_MEM(h[1].value, h[1].value_len, "chunked");

        CHECK(parse_res_str("HTTP/1.0 503 Service  Unavailable\tnow\r\n\r\n", &res, h) > 0);
        CHECK_EQ(res.status, 503);
        CHECK_EQ(res.minor_version, 0);
        CHECK_MEM(res.reason, res.reason_len, "Service  Unavailable\tnow");
        CHECK(parse_res_str("HTTP/1.1 204\r\n\r\n", &res, h) > 0);
        CHECK_EQ(res.reason_len, 0);
        CHECK(parse_res_str("HTTP/1.1 204 \r\n\r\n", &res, h) > 0);
        CHECK_EQ(res.reason_len, 0);
        CHECK(parse_res_str("HTTP/1.1 999 Whatever\n\n", &res, h) > 0);
        CHECK_EQ(res.status, 999);
        CHECK(parse_res_str("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", &res, h) > 0);
        CHECK_EQ(res.status, 100);

        static const char *bad[] = {
                "HTTP/1.1 20 OK\r\n\r\n",
                "HTTP/1.1 2000 OK\r\n\r\n",
                "HTTP/1.1 099 OK\r\n\r\n",
                "HTTP/1.1 2x0 OK\r\n\r\n",
                "HTTP/1.1  200 OK\r\n\r\n",
                "HTTP/1.1200 OK\r\n\r\n",
                "HTTP/1.1 200 O\x01K\r\n\r\n",
                "HTTP/1.1 200 OK\r\nX : y\r\n\r\n",
                "HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n",
                "HTTP/1.1 200 OK\rX\r\n",
                "ICY 200 OK\r\n\r\n",
                "http/1.1 200 OK\r\n\r\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                res.status = -1;
                r = parse_res_str(bad[i], &res, h);
                if (r != -EBADMSG)
                        fprintf(stderr, "bad response[%zu]: %d\n", i, r);
                CHECK_EQ(r, -EBADMSG);
                CHECK_EQ(res.status, -1);
        }
        CHECK_EQ(parse_res_str("HTTP/1.1 20", &res, h), -EAGAIN);
        CHECK_EQ(parse_res_str("HTTP/1.1 200", &res, h), -EAGAIN);
        CHECK_EQ(parse_res_str("HTTP/1.1 200 OK", &res, h), -EAGAIN);
}

static void test_helpers(void) {
        struct http_header h[4] = {
                { "Host", 4, "a", 1 },
                { "Connection", 10, "keep-alive, Upgrade", 19 },
                { "content-length", 14, "42", 2 },
                { "Connection", 10, "close", 5 },
        };
        uint64_t v = 7;

        CHECK(http_find_header(h, 4, "host") == &h[0]);
        CHECK(http_find_header(h, 4, "CONNECTION") == &h[1]);
        CHECK(http_find_header(h, 4, "Content-Length") == &h[2]);
        CHECK(http_find_header(h, 4, "Content-Lengt") == NULL);
        CHECK(http_find_header(h, 4, "Transfer-Encoding") == NULL);
        CHECK(http_find_header(h, 0, "Host") == NULL);

        CHECK(http_header_has_token("keep-alive, Upgrade", 19, "upgrade"));
        CHECK(http_header_has_token("keep-alive, Upgrade", 19, "Keep-Alive"));
        CHECK(!http_header_has_token("keep-alive, Upgrade", 19, "keep"));
        CHECK(!http_header_has_token("keep-alive, Upgrade", 19, "alive"));
        CHECK(http_header_has_token("gzip ,\t chunked\t", 16, "chunked"));
        CHECK(http_header_has_token(",,close,,", 9, "close"));
        CHECK(!http_header_has_token("", 0, "close"));
        CHECK(!http_header_has_token("closed", 6, "close"));
        CHECK(!http_header_has_token("close", 4, "close")); /* len respected */
        CHECK(http_header_has_token("close", 5, "close"));
        CHECK(!http_header_has_token("x-close", 7, "close"));

        CHECK_EQ(http_parse_content_length("0", 1, &v), 0);
        CHECK_EQ(v, 0);
        CHECK_EQ(http_parse_content_length("0042", 4, &v), 0);
        CHECK_EQ(v, 42);
        CHECK_EQ(http_parse_content_length("18446744073709551615", 20, &v), 0);
        CHECK(v == UINT64_MAX);
        v = 7;
        CHECK_EQ(http_parse_content_length("18446744073709551616", 20, &v), -EBADMSG);
        CHECK_EQ(http_parse_content_length("99999999999999999999", 20, &v), -EBADMSG);
        CHECK_EQ(http_parse_content_length("", 0, &v), -EBADMSG);
        CHECK_EQ(http_parse_content_length("+1", 2, &v), -EBADMSG);
        CHECK_EQ(http_parse_content_length("-1", 2, &v), -EBADMSG);
        CHECK_EQ(http_parse_content_length("1 2", 3, &v), -EBADMSG);
        CHECK_EQ(http_parse_content_length(" 12", 3, &v), -EBADMSG);
        CHECK_EQ(http_parse_content_length("12,12", 5, &v), -EBADMSG);
        CHECK_EQ(http_parse_content_length("0x10", 4, &v), -EBADMSG);
        CHECK_EQ(http_parse_content_length("1\0", 2, &v), -EBADMSG);
        CHECK_EQ(v, 7); /* untouched on failure */
}

/* A header value long enough to use the vector paths, with the bad byte
 * at every position. */
static void test_long_values(void) {
        char buf[512];
        struct http_header h[MAXH];
        struct http_request req = { .headers = h };
        const char *pre = "GET / HTTP/1.1\r\nX-Long: ";
        size_t plen = strlen(pre);

        for (size_t pos = 0; pos < 100; pos++) {
                size_t len = plen;
                memcpy(buf, pre, plen);
                memset(buf + len, 'v', 100);
                len += 100;
                memcpy(buf + len, "\r\n\r\n", 4);
                len += 4;
                CHECK_EQ(http_parse_request(buf, len, &lim_default, &req), (int)len);
                CHECK_EQ(h[0].value_len, 100);
                buf[plen + pos] = '\t';
                CHECK_EQ(http_parse_request(buf, len, &lim_default, &req), (int)len);
                CHECK_EQ(h[0].value_len, pos == 99 ? 99 : pos == 0 ? 99 : 100);
                buf[plen + pos] = '\x01';
                CHECK_EQ(http_parse_request(buf, len, &lim_default, &req), -EBADMSG);
                buf[plen + pos] = '\x7f';
                CHECK_EQ(http_parse_request(buf, len, &lim_default, &req), -EBADMSG);
                buf[plen + pos] = '\xff';
                CHECK_EQ(http_parse_request(buf, len, &lim_default, &req), (int)len);
                buf[plen + pos] = '\n';
                if (pos < 99)
                        CHECK_EQ(http_parse_request(buf, len, &lim_default, &req), -EBADMSG);
        }
        for (size_t pos = 1; pos < 100; pos++) {
                size_t len = 4;
                memcpy(buf, "GET ", 4);
                memset(buf + len, 'p', 100);
                len += 100;
                memcpy(buf + len, " HTTP/1.1\r\n\r\n", 13);
                len += 13;
                CHECK_EQ(http_parse_request(buf, len, &lim_default, &req), (int)len);
                CHECK_EQ(req.target_len, 100);
                buf[4 + pos] = '\x7f';
                CHECK_EQ(http_parse_request(buf, len, &lim_default, &req), -EBADMSG);
                buf[4 + pos] = '\x80';
                CHECK_EQ(http_parse_request(buf, len, &lim_default, &req), (int)len);
                buf[4 + pos] = ' ';
                CHECK_EQ(http_parse_request(buf, len, &lim_default, &req), -EBADMSG);
        }
}

static int framing_of(const char *head, uint64_t *len) {
        struct http_header hdrs[8];
        struct http_response res = { .headers = hdrs };
        struct http_limits lim = { .max_header_bytes = 4096, .max_headers = 8 };

        *len = 12345;
        CHECK(http_parse_response(head, strlen(head), &lim, &res) > 0);
        return http_response_framing(&res, len);
}

static void test_framing(void) {
        uint64_t len;

        CHECK_EQ(framing_of("HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n", &len), HTTP_BODY_LENGTH);
        CHECK_EQ(len, 42);
        /* chunked wins over Content-Length */
        CHECK_EQ(framing_of("HTTP/1.1 200 OK\r\nContent-Length: 42\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &len),
                 HTTP_BODY_CHUNKED);
        CHECK_EQ(framing_of("HTTP/1.0 200 OK\r\n\r\n", &len), HTTP_BODY_TO_CLOSE);
        CHECK_EQ(framing_of("HTTP/1.1 200 OK\r\nContent-Length: 4x\r\n\r\n", &len), -EBADMSG);
        /* no body whatever the headers say */
        CHECK_EQ(framing_of("HTTP/1.1 204 No Content\r\nContent-Length: 42\r\n\r\n", &len), HTTP_BODY_LENGTH);
        CHECK_EQ(len, 0);
        CHECK_EQ(framing_of("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", &len), HTTP_BODY_LENGTH);
        CHECK_EQ(framing_of("HTTP/1.1 101 Switching\r\n\r\n", &len), HTTP_BODY_LENGTH);
}

int main(void) {
        test_simple_get();
        test_post_ows();
        test_bare_lf_and_leading_empty_lines();
        test_pipelined();
        test_partial();
        test_limits();
        test_bad_requests();
        test_versions();
        test_responses();
        test_helpers();
        test_long_values();
        test_framing();
        return check_done("test_http_parse");
}
