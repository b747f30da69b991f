/* libFuzzer target: the Kubernetes discovery client's answer parsing
 * (router/k8s.c, included here for its static functions): a list answer's
 * body, then a watch stream of JSON lines fed as it would arrive.
 *
 * Input: byte 0 picks the options (bit 0: pods, else EndpointSlices;
 * bit 1: port by name "http", else 8000; bit 2: model label "model";
 * bits 3-7: the size of the watch stream's pieces, 1..32 bytes); then the
 * list body up to the first NUL byte; the rest is the watch stream.
 *
 * Checks: every published set is sorted, unique by (ip, port), with a
 * valid IP literal, a port and NUL-terminated strings; the watch stream
 * gives the same outcome, set and resourceVersion whether fed whole or in
 * pieces. */
#include "../../router/k8s.c"

#include "fuzz_common.h"

struct seen {
        size_t calls, n;
};

static void on_change(void *arg, const struct k8s_endpoint *eps, size_t n) {
        struct seen *s = arg;

        s->calls++;
        s->n = n;
        for (size_t i = 0; i < n; i++) {
                FUZZ_CHECK(memchr(eps[i].name, 0, sizeof eps[i].name));
                FUZZ_CHECK(memchr(eps[i].ip, 0, sizeof eps[i].ip));
                FUZZ_CHECK(memchr(eps[i].model, 0, sizeof eps[i].model));
                FUZZ_CHECK(ip_ok(eps[i].ip) && eps[i].port != 0);
                if (i)
                        FUZZ_CHECK(ep_cmp(&eps[i - 1], &eps[i]) <= 0);
                for (size_t j = 0; j < i; j++)
                        FUZZ_CHECK(strcmp(eps[i].ip, eps[j].ip) != 0 || eps[i].port != eps[j].port);
        }
}

static struct k8s_client *client(uint8_t flags, struct seen *s) {
        struct k8s_opts o = {
                .api_server = "http://127.0.0.1:1",
                .token_file = "/nonexistent",
                .namespace_ = "ns",
                .resource = flags & 1 ? SY_K8S_PODS : SY_K8S_ENDPOINTSLICES,
                .port_name = flags & 2 ? "http" : NULL,
                .port = flags & 2 ? 0 : 8000,
                .model_label = flags & 4 ? "model" : NULL,
        };
        struct k8s_client *c = NULL;
        char err[256];

        FUZZ_CHECK(k8s_client_new(&o, on_change, s, &c, err, sizeof err) == 0);
        return c;
}

/* list, then the watch stream in pieces of step bytes; returns the watch's result */
static int run(const uint8_t *data, size_t size, size_t step, struct k8s_client **ret, struct seen *s) {
        const uint8_t *nul = memchr(data + 1, 0, size - 1);
        size_t llen = nul ? (size_t)(nul - data - 1) : size - 1;
        const char *w = (const char *)data + 1 + llen + (nul ? 1 : 0);
        size_t wlen = size - 1 - llen - (nul ? 1 : 0);
        struct k8s_client *c = client(data[0], s);
        struct wstate ws = { 0 };
        int r = 0;

        /* a copy of exactly the list's bytes, so that ASan sees overreads */
        char *list = malloc(llen ? llen : 1);
        memcpy(list, data + 1, llen);
        if (list_apply(c, list, llen) == 0)
                FUZZ_CHECK(c->have_last);
        free(list);
        for (size_t off = 0; off < wlen && r == 0; off += step) {
                size_t n = wlen - off < step ? wlen - off : step;
                char *piece = malloc(n);
                memcpy(piece, w + off, n);
                r = watch_data(c, &ws, piece, n);
                free(piece);
        }
        FUZZ_CHECK(r <= 0);
        FUZZ_CHECK(ws.line.len <= wlen);
        if (ws.outcome)
                FUZZ_CHECK(r < 0);
        buf_free(&ws.line);
        *ret = c;
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct k8s_client *a, *b;
        struct seen sa = { 0 }, sb = { 0 };
        int ra, rb;

        if (size < 1)
                return 0;
        sy_log_level = -1;
        ra = run(data, size, SIZE_MAX, &a, &sa);
        rb = run(data, size, 1 + (data[0] >> 3), &b, &sb);
        FUZZ_CHECK(ra == rb);
        FUZZ_CHECK(a->n_last == b->n_last && a->have_last == b->have_last);
        FUZZ_CHECK(a->n_last == 0 || memcmp(a->last, b->last, a->n_last * sizeof *a->last) == 0);
        FUZZ_CHECK(strcmp(a->rv, b->rv) == 0);
        FUZZ_CHECK(a->n_last == sa.n || !sa.calls);
        k8s_client_free(a);
        k8s_client_free(b);
        return 0;
}
