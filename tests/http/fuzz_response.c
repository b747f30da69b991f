/* libFuzzer target: http_parse_response. */
#include "fuzz_http.h"

static int parse(const uint8_t *data, size_t size, size_t max_bytes, size_t max_headers, struct http_response *res,
                 struct http_header *h) {
        struct http_limits lim = { .max_header_bytes = max_bytes, .max_headers = max_headers };
        res->headers = h;
        int r = http_parse_response((const char *)data, size, &lim, res);
        fuzz_check_rc(r, size, &lim);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct http_header h[FUZZ_MAX_HEADERS], h2[FUZZ_MAX_HEADERS];
        struct http_response res, res2;
        const struct http_limits lim = { .max_header_bytes = 4096, .max_headers = FUZZ_MAX_HEADERS };
        int r = parse(data, size, lim.max_header_bytes, lim.max_headers, &res, h);

        if (r == -EAGAIN) {
                FUZZ_CHECK(parse(data, size / 2, 4096, FUZZ_MAX_HEADERS, &res2, h2) == -EAGAIN);
                return 0;
        }
        if (r <= 0)
                return 0;

        size_t n = (size_t)r;
        FUZZ_CHECK(res.minor_version == 0 || res.minor_version == 1);
        FUZZ_CHECK(res.status >= 100 && res.status <= 999);
        FUZZ_CHECK(fuzz_inside(res.reason, res.reason_len, data, n));
        for (size_t k = 0; k < res.reason_len; k++) {
                uint8_t c = (uint8_t)res.reason[k];
                FUZZ_CHECK((c >= 0x20 && c != 0x7f) || c == '\t');
        }
        fuzz_check_headers(h, res.num_headers, data, n, &lim);
        {
                uint64_t blen = 1;
                int f = http_response_framing(&res, &blen);
                FUZZ_CHECK(f == HTTP_BODY_LENGTH || f == HTTP_BODY_CHUNKED || f == HTTP_BODY_TO_CLOSE || f == -EBADMSG);
                if (f != HTTP_BODY_LENGTH)
                        FUZZ_CHECK(blen == 0 || f == -EBADMSG);
                if (f == HTTP_BODY_LENGTH && (res.status < 200 || res.status == 204 || res.status == 304))
                        FUZZ_CHECK(blen == 0);
        }

        FUZZ_CHECK(parse(data, n, 4096, FUZZ_MAX_HEADERS, &res2, h2) == r);
        FUZZ_CHECK(res2.status == res.status && res2.reason == res.reason && res2.reason_len == res.reason_len &&
                   res2.num_headers == res.num_headers && fuzz_same_headers(h, h2, res.num_headers));
        FUZZ_CHECK(parse(data, n - 1, 4096, FUZZ_MAX_HEADERS, &res2, h2) == -EAGAIN);
        FUZZ_CHECK(parse(data, n / 2, 4096, FUZZ_MAX_HEADERS, &res2, h2) == -EAGAIN);
        FUZZ_CHECK(parse(data, size, n, FUZZ_MAX_HEADERS, &res2, h2) == r);
        FUZZ_CHECK(parse(data, size, n - 1, FUZZ_MAX_HEADERS, &res2, h2) == -E2BIG);
        if (res.num_headers > 0)
                FUZZ_CHECK(parse(data, size, 4096, res.num_headers - 1, &res2, h2) == -E2BIG);
        return 0;
}
