/* libFuzzer target: the admin API's request handling (router/admin.c,
 * included here for its static functions) past the socket: requests
 * parsed as conn_read parses them, handled by handle() against a
 * configuration with two upstreams, the changes applied through
 * admin_overlay as the router applies them; and the state file loader.
 *
 * Input: byte 0 bit 0: the rest is a state file (load_state); else the
 * rest is a sequence of HTTP requests (the admin token is "t"); bit 1:
 * every apply fails (the undo paths).
 *
 * Checks: every answer is one well-formed HTTP response whose
 * Content-Length is its body's length, with a JSON object body (or none);
 * the state (state_json) is always a valid JSON object that load_state
 * reads back to the same state. */
#include "../../router/admin.c"

#include "common/json.h"
#include "fuzz_file.h"

static const char base_yaml[] = "server:\n  port: 8080\n"
                                "upstreams:\n"
                                "  - name: a\n    url: http://127.0.0.1:8001\n    engine: vllm\n    models: [m1, m2]\n"
                                "  - name: b\n    url: http://127.0.0.1:8002\n    engine: sglang\n    models: [m2]\n";

struct env {
        struct admin *a;
        struct sy_config *cfg;
        struct snapshot snap;
        bool fail;
};

static struct sy_config *load_base(void) {
        struct sy_config *cfg = NULL;
        char err[512];

        if (sy_config_load_string("fuzz.yaml", base_yaml, sizeof base_yaml - 1, &cfg, err, sizeof err) < 0) {
                fprintf(stderr, "base config: %s\n", err);
                abort();
        }
        return cfg;
}

static int op_apply(void *arg, char *err, size_t errlen) {
        struct env *e = arg;
        struct sy_config *cfg;
        int r;

        if (e->fail) {
                snprintf(err, errlen, "refused");
                return -E2BIG;
        }
        cfg = load_base();
        r = admin_overlay(e->a, cfg);
        if (r < 0) {
                sy_config_free(cfg);
                snprintf(err, errlen, "overlay: %d", r);
                return r;
        }
        sy_config_free(e->cfg);
        e->cfg = cfg;
        return 0;
}

static const struct sy_config *op_config(void *arg) {
        return ((struct env *)arg)->cfg;
}

static const struct snapshot *op_snapshot(void *arg) {
        return &((struct env *)arg)->snap;
}

static void check_answer(const struct buf *out) {
        struct http_header h[16];
        struct http_response res = { .headers = h };
        struct http_limits lim = { .max_header_bytes = 4096, .max_headers = 16 };
        uint64_t clen = 0;
        int p = http_parse_response(out->p, out->len, &lim, &res);

        FUZZ_CHECK(p > 0);
        FUZZ_CHECK(http_response_framing(&res, &clen) == HTTP_BODY_LENGTH);
        FUZZ_CHECK((size_t)p + clen == out->len);
        if (clen) {
                struct json_member m[64];
                struct json_limits jl = { .max_depth = 64, .max_members = 64 };
                size_t n = 0, off = 0;
                int r = json_scan_object(out->p + p, (size_t)clen, &jl, m, &n, &off);
                FUZZ_CHECK(r >= 0 || r == -E2BIG);
        }
}

static void check_state(struct env *e) {
        struct buf s1 = { 0 }, s2 = { 0 };
        struct admin *b = calloc(1, sizeof *b);
        char path[64], err[256];
        int fd;

        FUZZ_CHECK(state_json(e->a, &s1) == 0);
        fd = fuzz_file((const uint8_t *)s1.p, s1.len, path, sizeof path);
        b->state_file = path;
        FUZZ_CHECK(load_state(b, err, sizeof err) == 0);
        FUZZ_CHECK(state_json(b, &s2) == 0);
        FUZZ_CHECK(s1.len == s2.len && memcmp(s1.p, s2.p, s1.len) == 0);
        close(fd);
        b->state_file = NULL;
        admin_free(b);
        buf_free(&s1);
        buf_free(&s2);
}

static void requests(struct env *e, const char *p, size_t len) {
        struct aconn c = { .fd = -1 };

        for (int k = 0; k < 16 && len > 0; k++) {
                struct http_header hdrs[32];
                struct http_request req = { .headers = hdrs };
                struct http_limits lim = { .max_header_bytes = 16384, .max_headers = 32 };
                const struct http_header *h;
                uint64_t clen = 0;
                int n = http_parse_request(p, len, &lim, &req);

                if (n <= 0)
                        break;
                h = http_find_header(hdrs, req.num_headers, "content-length");
                if (h && http_parse_content_length(h->value, h->value_len, &clen) < 0)
                        break;
                if (clen > len - (size_t)n)
                        clen = len - (size_t)n;
                c.out.len = 0;
                handle(e->a, &c, &req, hdrs, p + n, (size_t)clen);
                check_answer(&c.out);
                p += (size_t)n + clen;
                len -= (size_t)n + clen;
        }
        buf_free(&c.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct admin_ops ops = { .apply = op_apply, .config = op_config, .snapshot = op_snapshot };
        static struct env e;
        char err[512];

        if (size < 1)
                return 0;
        sy_log_level = -1;
        memset(&e, 0, sizeof e);
        e.fail = data[0] & 2;
        e.cfg = load_base();
        FUZZ_CHECK(snapshot_build(e.cfg, &e.snap, err, sizeof err) == 0);
        e.a = calloc(1, sizeof *e.a);
        e.a->lfd = -1;
        e.a->token = strdup("t");
        e.a->token_len = 1;
        ops.arg = &e;
        e.a->ops = ops;
        for (size_t i = 0; i < ADMIN_MAX_CONNS; i++)
                e.a->conns[i].fd = -1;

        if (data[0] & 1) {
                char path[64];
                int fd = fuzz_file(data + 1, size - 1, path, sizeof path);
                e.a->state_file = path;
                if (load_state(e.a, err, sizeof err) == 0)
                        check_state(&e);
                e.a->state_file = NULL;
                close(fd);
        } else {
                char *copy = malloc(size - 1 ? size - 1 : 1);
                memcpy(copy, data + 1, size - 1);
                requests(&e, copy, size - 1);
                free(copy);
                check_state(&e);
        }
        admin_free(e.a);
        sy_config_free(e.cfg);
        return 0;
}
