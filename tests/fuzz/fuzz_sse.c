/* libFuzzer target: the SSE event splitter of the relay (sse_whole in
 * frontend/relay.c, included here for its static functions; relay.c is not
 * changed): how much of an upstream's decoded stream ends with a whole
 * event, the rest being held back until its end comes.
 *
 * Checks: the answer equals a plain reference (the end of the last blank
 * line, LF LF or LF CR LF, in the bytes), never past them; the bytes are
 * read only inside [p, p + n) (ASan: an exact-size copy). */
#include "../../frontend/relay.c"

#include "fuzz_common.h"

static size_t reference(const char *p, size_t n) {
        for (size_t i = n; i >= 2; i--)
                if (p[i - 1] == '\n' && (p[i - 2] == '\n' || (i >= 3 && p[i - 2] == '\r' && p[i - 3] == '\n')))
                        return i;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *p = malloc(size ? size : 1);
        size_t w;

        memcpy(p, data, size);
        w = sse_whole(p, size);
        FUZZ_CHECK(w <= size);
        FUZZ_CHECK(w == reference(p, size));
        /* what is held back holds no whole event, what is sent ends with one */
        if (w)
                FUZZ_CHECK(sse_whole(p, w) == w);
        free(p);
        return 0;
}
