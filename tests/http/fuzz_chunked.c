/* libFuzzer target: http_chunked_step. The input is decoded all at once,
 * one byte at a time and in uneven pieces; every way must give the same
 * body, the same end and the same consumed count. */
#include <errno.h>
#include <string.h>

#include "http/http_parse.h"
#include "fuzz_common.h"

struct outcome {
        int rc;
        size_t consumed;
        size_t out_len;
        uint64_t hash;
};

static void decode(const uint8_t *data, size_t size, size_t step, struct outcome *o) {
        struct http_chunked d;
        size_t avail = 0, off = 0;

        memset(&d, 0, sizeof(d));
        memset(o, 0, sizeof(*o));
        o->hash = 1469598103934665603ull;
        for (;;) {
                size_t c = 12345, dlen = 12345;
                const char *p = NULL;
                int r;

                if (off == avail) {
                        if (avail == size)
                                break;
                        avail = avail + step > size ? size : avail + step;
                        /* vary the piece size */
                        step = step * 7 % 13 + 1;
                }
                r = http_chunked_step(&d, (const char *)data + off, avail - off, &c, &p, &dlen);
                o->rc = r;
                FUZZ_CHECK(r == 0 || r == 1 || r == -EBADMSG || r == -E2BIG);
                if (r < 0) {
                        FUZZ_CHECK(c == 12345); /* untouched on failure */
                        /* errors are sticky */
                        FUZZ_CHECK(http_chunked_step(&d, "0\r\n\r\n", 5, &c, &p, &dlen) == r);
                        return;
                }
                FUZZ_CHECK(c <= avail - off);
                if (dlen) {
                        FUZZ_CHECK(r == 0);
                        FUZZ_CHECK((const uint8_t *)p >= data + off && (const uint8_t *)p + dlen <= data + off + c);
                        for (size_t i = 0; i < dlen; i++)
                                o->hash = (o->hash ^ (uint8_t)p[i]) * 1099511628211ull;
                        o->out_len += dlen;
                }
                off += c;
                o->consumed = off;
                if (r == 1) {
                        FUZZ_CHECK(http_chunked_step(&d, "x", 1, &c, &p, &dlen) == 1 && c == 0);
                        return;
                }
                FUZZ_CHECK(c > 0 || off == avail);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct outcome all, one, pieces;

        decode(data, size, size ? size : 1, &all);
        decode(data, size, 1, &one);
        decode(data, size, 3, &pieces);
        FUZZ_CHECK(all.rc == one.rc && all.rc == pieces.rc);
        FUZZ_CHECK(all.out_len <= size);
        if (all.rc >= 0) {
                FUZZ_CHECK(all.consumed == one.consumed && all.consumed == pieces.consumed);
                FUZZ_CHECK(all.out_len == one.out_len && all.out_len == pieces.out_len);
                FUZZ_CHECK(all.hash == one.hash && all.hash == pieces.hash);
                if (all.rc == 0)
                        FUZZ_CHECK(all.consumed == size);
        }
        return 0;
}
