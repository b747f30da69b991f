/* libFuzzer target: metrics_parse (router/metrics_parse.c), a scraped
 * /metrics body. Checks: return codes; *ret untouched on failure; the
 * documented value ranges; the result does not depend on a trailing
 * newline being there or on the buffer's end (exact-size copy). */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "fuzz_common.h"
#include "router/metrics_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct upstream_load l, l2;
        char *copy = malloc(size ? size : 1);
        int r;

        memset(&l, 0xa5, sizeof l);
        memcpy(&l2, &l, sizeof l);
        memcpy(copy, data, size);
        r = metrics_parse(copy, size, &l);
        FUZZ_CHECK(r == 0 || r == -ENODATA);
        if (r < 0) {
                FUZZ_CHECK(memcmp(&l, &l2, sizeof l) == 0);
        } else {
                FUZZ_CHECK(l.flags != 0 && (l.flags & ~0x1fu) == 0);
                FUZZ_CHECK(l.n_samples > 0);
                FUZZ_CHECK((l.engines & ~3u) == 0);
                if (l.flags & UPSTREAM_LOAD_WAITING)
                        FUZZ_CHECK(l.waiting >= 0 && !isnan(l.waiting));
                else
                        FUZZ_CHECK(l.waiting == 0);
                if (l.flags & UPSTREAM_LOAD_RUNNING)
                        FUZZ_CHECK(l.running >= 0 && !isnan(l.running));
                if (l.flags & UPSTREAM_LOAD_KV_USAGE)
                        FUZZ_CHECK(l.kv_usage >= 0 && l.kv_usage <= 1);
                else
                        FUZZ_CHECK(l.kv_usage == 0);
        }
        /* the same answer with a newline after the last line */
        if (size && data[size - 1] != '\n' && data[size - 1] != '\r') {
                char *nl = malloc(size + 1);
                memcpy(nl, data, size);
                nl[size] = '\n';
                memset(&l2, 0, sizeof l2);
                FUZZ_CHECK(metrics_parse(nl, size + 1, &l2) == r);
                if (r == 0)
                        FUZZ_CHECK(l2.flags == l.flags && l2.n_samples == l.n_samples &&
                                   l2.n_malformed == l.n_malformed);
                free(nl);
        }
        FUZZ_CHECK(metrics_parse(NULL, 0, &l2) == -ENODATA || metrics_parse(NULL, 0, &l2) == -EINVAL);
        free(copy);
        return 0;
}
