/* Percent-decoding (see url.h). */
#include "http/url.h"

#include <errno.h>

#include "common/ascii.h"

/* The byte an escape at s[i] ('%') stands for, or -1 when s[i + 1..i + 2]
 * are not two hex digits. */
static int escape_at(const char *s, size_t len, size_t i) {
        int hi, lo;

        if (i + 2 >= len || (hi = ascii_hex_value((uint8_t)s[i + 1])) < 0 ||
            (lo = ascii_hex_value((uint8_t)s[i + 2])) < 0)
                return -1;
        return hi << 4 | lo;
}

size_t url_decode(const char *s, size_t len, bool plus_is_space, char *dst, size_t cap) {
        size_t n = 0;

        for (size_t i = 0; i < len && n + 1 < cap; i++) {
                int v = s[i] == '%' ? escape_at(s, len, i) : -1;

                if (v >= 0) {
                        dst[n++] = (char)v;
                        i += 2;
                } else {
                        dst[n++] = plus_is_space && s[i] == '+' ? ' ' : s[i];
                }
        }
        if (cap)
                dst[n] = 0;
        return n;
}

int url_decode_strict(const char *s, size_t len, char *dst, size_t cap) {
        size_t n = 0;

        for (size_t i = 0; i < len; i++) {
                char ch = s[i];

                if (ch == '%') {
                        int v = escape_at(s, len, i);

                        if (v <= 0)
                                return -EINVAL;
                        ch = (char)v;
                        i += 2;
                } else if (ch == '+') {
                        ch = ' ';
                }
                if (n + 1 >= cap)
                        return -ENOBUFS;
                dst[n++] = ch;
        }
        if (!cap)
                return -ENOBUFS;
        dst[n] = 0;
        return (int)n;
}
