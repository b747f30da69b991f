/* libFuzzer target: what discovery reads from the network (router/
 * discovery.c, included here for its static functions, and router/dns.c).
 *
 * Input: byte 0 even: the rest is a /v1/models answer body (probe_parse);
 * odd: the rest is a resolver's answer, one address per line (the A/AAAA
 * answer as getaddrinfo() gives it, up to 47 bytes each, cut there),
 * through dns_refresh twice, then once with a shuffled order.
 *
 * Checks: probe results are valid names, at most PROBE_MODELS, engine an
 * engine name; DNS sets sorted, unique, at most DNS_MAX_ADDRS, stable (an
 * unchanged answer, in any order, is no change). */
#include "../../router/discovery.c"

#include "fuzz_common.h"

struct answer {
        char ips[DNS_MAX_ADDRS * 2][48];
        size_t n;
        int rc;
        bool reverse;
};

static int fake_resolve(void *arg, const char *name, char (*ips)[48], size_t cap, size_t *ret_n) {
        struct answer *a = arg;
        size_t n = 0;

        FUZZ_CHECK(strcmp(name, "svc.ns") == 0);
        if (a->rc)
                return a->rc;
        for (size_t i = 0; i < a->n && n < cap; i++)
                memcpy(ips[n++], a->ips[a->reverse ? a->n - 1 - i : i], 48);
        *ret_n = n;
        return n ? 0 : -ENOENT;
}

static void check_set(const struct dns_set *s) {
        FUZZ_CHECK(s->valid && s->n <= DNS_MAX_ADDRS);
        for (size_t i = 0; i < s->n; i++) {
                FUZZ_CHECK(memchr(s->ips[i], 0, 48));
                if (i)
                        FUZZ_CHECK(strcmp(s->ips[i - 1], s->ips[i]) < 0);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        if (!(data[0] & 1)) {
                struct probe p;
                char *body = malloc(size - 1 ? size - 1 : 1);
                int r;

                memset(&p, 0, sizeof p);
                memcpy(body, data + 1, size - 1);
                r = probe_parse(body, size - 1, &p);
                FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EPROTO);
                if (r == 0)
                        FUZZ_CHECK(p.n_models > 0);
                FUZZ_CHECK(p.n_models <= PROBE_MODELS);
                for (size_t i = 0; i < p.n_models; i++)
                        FUZZ_CHECK(memchr(p.models[i], 0, sizeof p.models[i]) && sy_config_name_ok(p.models[i]));
                FUZZ_CHECK(memchr(p.engine, 0, sizeof p.engine));
                FUZZ_CHECK(!p.engine[0] || sy_config_engine_ok(p.engine));
                free(body);
                return 0;
        }

        struct answer a = { .rc = (data[0] & 6) == 6 ? -EAGAIN : 0 };
        struct dns_set set = { 0 }, before;
        const uint8_t *p = data + 1, *end = data + size;

        while (p < end && a.n < DNS_MAX_ADDRS * 2) {
                const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = (size_t)((nl ? nl : end) - p);
                const uint8_t *z = memchr(p, 0, len); /* C strings, as inet_ntop writes them */
                if (z)
                        len = (size_t)(z - p);
                memset(a.ips[a.n], 0, 48);
                memcpy(a.ips[a.n], p, len < 47 ? len : 47);
                a.n++;
                p = nl ? nl + 1 : end;
        }
        int r = dns_refresh(&set, "svc.ns", fake_resolve, &a);
        if (a.rc) {
                FUZZ_CHECK(r == a.rc && !set.valid);
                return 0;
        }
        FUZZ_CHECK(r == 1);
        check_set(&set);
        memcpy(&before, &set, sizeof set);
        FUZZ_CHECK(dns_refresh(&set, "svc.ns", fake_resolve, &a) == 0);
        /* the resolver's order does not matter, when it gave all it had */
        if (a.n <= DNS_MAX_ADDRS) {
                a.reverse = true;
                FUZZ_CHECK(dns_refresh(&set, "svc.ns", fake_resolve, &a) == 0);
                FUZZ_CHECK(set.n == before.n && memcmp(set.ips, before.ips, set.n * 48) == 0);
        }
        check_set(&set);
        return 0;
}
