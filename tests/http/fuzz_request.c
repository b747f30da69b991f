/* libFuzzer target: http_parse_request. */
#include "fuzz_http.h"

static int parse(const uint8_t *data, size_t size, size_t max_bytes, size_t max_headers, struct http_request *req,
                 struct http_header *h) {
        struct http_limits lim = { .max_header_bytes = max_bytes, .max_headers = max_headers };
        req->headers = h;
        int r = http_parse_request((const char *)data, size, &lim, req);
        fuzz_check_rc(r, size, &lim);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct http_header h[FUZZ_MAX_HEADERS], h2[FUZZ_MAX_HEADERS];
        struct http_request req, req2;
        const struct http_limits lim = { .max_header_bytes = 4096, .max_headers = FUZZ_MAX_HEADERS };
        int r = parse(data, size, lim.max_header_bytes, lim.max_headers, &req, h);

        if (r == -EAGAIN) {
                /* a prefix of an incomplete request is incomplete */
                FUZZ_CHECK(parse(data, size / 2, 4096, FUZZ_MAX_HEADERS, &req2, h2) == -EAGAIN);
                return 0;
        }
        if (r <= 0)
                return 0;

        size_t n = (size_t)r;
        FUZZ_CHECK(req.method_len > 0 && fuzz_inside(req.method, req.method_len, data, n));
        for (size_t k = 0; k < req.method_len; k++)
                FUZZ_CHECK(fuzz_is_tchar((uint8_t)req.method[k]));
        FUZZ_CHECK(req.method[req.method_len] == ' ');
        FUZZ_CHECK(req.target == req.method + req.method_len + 1);
        FUZZ_CHECK(req.target_len > 0 && fuzz_inside(req.target, req.target_len, data, n));
        for (size_t k = 0; k < req.target_len; k++) {
                uint8_t c = (uint8_t)req.target[k];
                FUZZ_CHECK(c > 0x20 && c != 0x7f);
        }
        FUZZ_CHECK(memcmp(req.target + req.target_len, " HTTP/1.", 8) == 0);
        FUZZ_CHECK(req.minor_version == 0 || req.minor_version == 1);
        fuzz_check_headers(h, req.num_headers, data, n, &lim);

        /* the same result from exactly the consumed bytes */
        FUZZ_CHECK(parse(data, n, 4096, FUZZ_MAX_HEADERS, &req2, h2) == r);
        FUZZ_CHECK(req2.method == req.method && req2.target_len == req.target_len &&
                   req2.num_headers == req.num_headers && fuzz_same_headers(h, h2, req.num_headers));
        /* every shorter prefix is incomplete */
        FUZZ_CHECK(parse(data, n - 1, 4096, FUZZ_MAX_HEADERS, &req2, h2) == -EAGAIN);
        FUZZ_CHECK(parse(data, n / 2, 4096, FUZZ_MAX_HEADERS, &req2, h2) == -EAGAIN);
        /* limits are exact */
        FUZZ_CHECK(parse(data, size, n, FUZZ_MAX_HEADERS, &req2, h2) == r);
        FUZZ_CHECK(parse(data, size, n - 1, FUZZ_MAX_HEADERS, &req2, h2) == -E2BIG);
        FUZZ_CHECK(parse(data, size, 4096, req.num_headers, &req2, h2) == r);
        if (req.num_headers > 0)
                FUZZ_CHECK(parse(data, size, 4096, req.num_headers - 1, &req2, h2) == -E2BIG);

        /* helpers over what was parsed */
        for (size_t i = 0; i < req.num_headers; i++) {
                char name[64];
                uint64_t v;
                if (h[i].name_len < sizeof(name)) {
                        memcpy(name, h[i].name, h[i].name_len);
                        name[h[i].name_len] = '\0';
                        const struct http_header *f = http_find_header(h, req.num_headers, name);
                        FUZZ_CHECK(f != NULL && f <= &h[i]);
                }
                if (http_parse_content_length(h[i].value, h[i].value_len, &v) == 0)
                        FUZZ_CHECK(h[i].value_len > 0);
                (void)http_header_has_token(h[i].value, h[i].value_len, "chunked");
        }
        return 0;
}
