/* Invariants shared by the request and response fuzz targets. */
#pragma once
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "http/http_parse.h"
#include "fuzz_common.h"

#define FUZZ_MAX_HEADERS 32

static inline bool fuzz_is_tchar(uint8_t c) {
        return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

static inline bool fuzz_inside(const char *p, size_t n, const uint8_t *buf, size_t len) {
        return (const uint8_t *)p >= buf && (const uint8_t *)p + n <= buf + len;
}

static inline void fuzz_check_rc(int r, size_t len, const struct http_limits *lim) {
        FUZZ_CHECK(r > 0 || r == -EAGAIN || r == -EBADMSG || r == -E2BIG || r == -ENOTSUP);
        if (r > 0) {
                FUZZ_CHECK((size_t)r <= len);
                FUZZ_CHECK((size_t)r <= lim->max_header_bytes);
        }
        if (r == -EAGAIN)
                FUZZ_CHECK(len <= lim->max_header_bytes);
}

/* Names are tokens, values have no CR/LF/controls and no surrounding
 * whitespace, everything lies inside the consumed bytes. */
static inline void fuzz_check_headers(const struct http_header *h, size_t n, const uint8_t *buf, size_t consumed,
                                      const struct http_limits *lim) {
        FUZZ_CHECK(n <= lim->max_headers);
        for (size_t i = 0; i < n; i++) {
                FUZZ_CHECK(h[i].name_len > 0);
                FUZZ_CHECK(fuzz_inside(h[i].name, h[i].name_len, buf, consumed));
                FUZZ_CHECK(fuzz_inside(h[i].value, h[i].value_len, buf, consumed));
                FUZZ_CHECK(h[i].value > h[i].name + h[i].name_len);
                FUZZ_CHECK(h[i].name[h[i].name_len] == ':');
                for (size_t k = 0; k < h[i].name_len; k++)
                        FUZZ_CHECK(fuzz_is_tchar((uint8_t)h[i].name[k]));
                for (size_t k = 0; k < h[i].value_len; k++) {
                        uint8_t c = (uint8_t)h[i].value[k];
                        FUZZ_CHECK((c >= 0x20 && c != 0x7f) || c == '\t');
                }
                if (h[i].value_len) {
                        FUZZ_CHECK(h[i].value[0] != ' ' && h[i].value[0] != '\t');
                        FUZZ_CHECK(h[i].value[h[i].value_len - 1] != ' ' && h[i].value[h[i].value_len - 1] != '\t');
                }
                if (i > 0)
                        FUZZ_CHECK(h[i].name > h[i - 1].value);
        }
        /* the block ends with an empty line */
        FUZZ_CHECK(consumed >= 2 && buf[consumed - 1] == '\n');
        FUZZ_CHECK(buf[consumed - 2] == '\n' ||
                   (consumed >= 3 && buf[consumed - 2] == '\r' && buf[consumed - 3] == '\n'));
}

static inline bool fuzz_same_headers(const struct http_header *a, const struct http_header *b, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (a[i].name != b[i].name || a[i].name_len != b[i].name_len || a[i].value != b[i].value ||
                    a[i].value_len != b[i].value_len)
                        return false;
        return true;
}
