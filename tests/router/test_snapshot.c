/* Unit tests of proto/snapshot.c across configuration changes (stable
 * upstream slots, tombstones and their reuse, addresses carried over
 * without lookups, background resolution with router/resolver.c, and
 * the picker's state following the slots).
 * Usage: test_snapshot GROUP. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/config.h"
#include "router/picker.h"
#include "router/resolver.h"
#include "proto/snapshot.h"
#include "tests/check.h"

/* One upstream per entry: "name" (127.0.0.1, a port from the name, model
 * "m") or "name=host:port". */
static struct sy_config *cfg_of(const char *const *ups, size_t n) {
        struct buf y = { 0 };
        struct sy_config *cfg = NULL;
        char err[512];

        buf_printf(&y, "upstreams:\n");
        for (size_t i = 0; i < n; i++) {
                const char *eq = strchr(ups[i], '=');
                if (eq)
                        buf_printf(&y, "  - name: %.*s\n    url: http://%s\n", (int)(eq - ups[i]), ups[i], eq + 1);
                else
                        buf_printf(&y, "  - name: %s\n    url: http://127.0.0.1:%u\n", ups[i],
                                   9000u + (unsigned)(strlen(ups[i]) * 31 + (unsigned char)ups[i][0]) % 1000);
                buf_printf(&y, "    models: [m]\n");
        }
        if (sy_config_load_string("test.yaml", y.p, y.len, &cfg, err, sizeof err) < 0) {
                fprintf(stderr, "%s\n%s", err, y.p);
                exit(1);
        }
        buf_free(&y);
        return cfg;
}

static int build(const char *const *ups, size_t n, const struct snapshot *prev, uint64_t gen, unsigned flags,
                 struct snapshot *out, char *err, size_t errlen) {
        struct sy_config *cfg = cfg_of(ups, n);
        int r = snapshot_build_from(cfg, prev, gen, flags, out, err, errlen);

        sy_config_free(cfg);
        return r;
}

static bool in_model(const struct snapshot *s, unsigned slot) {
        const struct snap_model *m = snapshot_find_model(s, "m", 1);

        for (unsigned k = 0; m && k < m->n_upstreams; k++)
                if (m->upstreams[k] == slot)
                        return true;
        return false;
}

static int slot(const struct snapshot *s, const char *name) {
        return snapshot_find_upstream(s, name);
}

/* names keep their slots; removed ones leave tombstones; new ones append;
 * a removed name that comes back gets its slot (and since_gen) back */
static void test_stable(void) {
        static struct snapshot s0, s1, s2, s3;
        const char *a[] = { "a", "b", "c" };
        const char *b[] = { "d", "c", "a" };
        const char *c[] = { "b", "e", "a" };
        char err[256];

        check_eq(build(a, 3, NULL, 1, 0, &s0, err, sizeof err), 0);
        check_eq(s0.n_upstreams, 3);
        check_eq(slot(&s0, "a"), 0);
        check_eq(slot(&s0, "b"), 1);
        check_eq(slot(&s0, "c"), 2);
        for (unsigned u = 0; u < 3; u++) {
                check_eq(s0.upstreams[u].since_gen, 0); /* no previous snapshot: the frontend's boot order */
                check(s0.upstreams[u].healthy && s0.upstreams[u].resolved && !s0.upstreams[u].removed);
                check(in_model(&s0, u));
        }
        check_eq(s0.config_generation, 1);

        /* b goes, d comes (first in the file, but in a new slot) */
        check_eq(build(b, 3, &s0, 2, 0, &s1, err, sizeof err), 0);
        check_eq(s1.config_generation, 2);
        check_eq(s1.n_upstreams, 4);
        check_eq(slot(&s1, "a"), 0);
        check_eq(slot(&s1, "b"), 1);
        check_eq(slot(&s1, "c"), 2);
        check_eq(slot(&s1, "d"), 3);
        check(s1.upstreams[1].removed && !s1.upstreams[1].healthy && !s1.upstreams[1].resolved);
        check_eq(s1.upstreams[1].removed_gen, 2);
        check(!in_model(&s1, 1));
        check(in_model(&s1, 0) && in_model(&s1, 2) && in_model(&s1, 3));
        check_eq(snapshot_find_model(&s1, "m", 1)->n_upstreams, 3);
        /* the model lists its upstreams in the file's order */
        check_eq(snapshot_find_model(&s1, "m", 1)->upstreams[0], 3);
        check_eq(snapshot_find_model(&s1, "m", 1)->upstreams[2], 0);
        check_eq(s1.upstreams[0].since_gen, 0);
        check_eq(s1.upstreams[3].since_gen, 2);
        check(!s1.upstreams[3].removed && s1.upstreams[3].healthy);

        /* b comes back to slot 1 with its old since_gen; c and d go */
        check_eq(build(c, 3, &s1, 3, 0, &s2, err, sizeof err), 0);
        check_eq(s2.n_upstreams, 5);
        check_eq(slot(&s2, "b"), 1);
        check(!s2.upstreams[1].removed && s2.upstreams[1].healthy && s2.upstreams[1].resolved);
        check_eq(s2.upstreams[1].since_gen, 0);
        check(s2.upstreams[2].removed && s2.upstreams[3].removed);
        check_eq(s2.upstreams[2].removed_gen, 3);
        check_eq(slot(&s2, "e"), 4);
        check_eq(s2.upstreams[4].since_gen, 3);

        /* a tombstone stays one, with the generation it was removed in */
        check_eq(build(c, 3, &s2, 4, 0, &s3, err, sizeof err), 0);
        check(s3.upstreams[2].removed);
        check_eq(s3.upstreams[2].removed_gen, 3);
        check_eq(memcmp(&s3.upstreams[1], &s2.upstreams[1], sizeof s3.upstreams[1]), 0);
        /* what the frontend uses of a slot does not change for names that stay */
        check_eq(strcmp(s3.upstreams[4].name, "e"), 0);
}

/* once every slot has been used, new names take the tombstone removed
 * longest ago with nothing in flight */
static void test_reuse(void) {
        static struct snapshot s, t;
        static char names[SNAP_MAX_UPSTREAMS + 8][16];
        const char *v[SNAP_MAX_UPSTREAMS + 1];
        char err[256];
        uint64_t gen = 1;
        size_t n = 0;

        for (unsigned i = 0; i < SNAP_MAX_UPSTREAMS + 8; i++)
                snprintf(names[i], sizeof names[i], "u%u", i);
        /* every slot used by u0..u255 */
        for (unsigned i = 0; i < SNAP_MAX_UPSTREAMS; i++)
                v[i] = names[i];
        check_eq(build(v, SNAP_MAX_UPSTREAMS, NULL, gen, 0, &s, err, sizeof err), 0);
        check_eq(s.n_upstreams, SNAP_MAX_UPSTREAMS);
        /* every slot used, one name swapped for another: the only slot free
         * is the one just removed (events still in flight for it are told
         * apart by since_gen) */
        v[0] = names[SNAP_MAX_UPSTREAMS];
        check_eq(build(v, SNAP_MAX_UPSTREAMS, &s, gen + 1, 0, &t, err, sizeof err), 0);
        check_eq(slot(&t, names[SNAP_MAX_UPSTREAMS]), 0);
        check_eq(t.upstreams[0].since_gen, gen + 1);
        /* u0 goes (generation 2), then u3 (generation 3) */
        for (unsigned i = 1; i < SNAP_MAX_UPSTREAMS; i++)
                v[n++] = names[i];
        check_eq(build(v, n, &s, ++gen, 0, &t, err, sizeof err), 0);
        check(t.upstreams[0].removed);
        s = t;
        n = 0;
        for (unsigned i = 1; i < SNAP_MAX_UPSTREAMS; i++)
                if (i != 3)
                        v[n++] = names[i];
        check_eq(build(v, n, &s, ++gen, 0, &t, err, sizeof err), 0);
        check(t.upstreams[0].removed && t.upstreams[3].removed);
        check_eq(t.upstreams[0].removed_gen, 2);
        check_eq(t.upstreams[3].removed_gen, 3);
        s = t;
        /* u0's tombstone still has requests in flight: u3's slot goes first */
        s.upstreams[0].inflight = 1;
        v[n++] = names[SNAP_MAX_UPSTREAMS];
        check_eq(build(v, n, &s, ++gen, 0, &t, err, sizeof err), 0);
        check_eq(slot(&t, names[SNAP_MAX_UPSTREAMS]), 3);
        check_eq(t.upstreams[3].since_gen, gen);
        check(!t.upstreams[3].removed && t.upstreams[3].healthy);
        check(t.upstreams[0].removed);
        check_eq(slot(&t, "u3"), -ENOENT); /* its tombstone is gone */
        s = t;
        /* only a busy tombstone left: taken anyway */
        v[n++] = names[SNAP_MAX_UPSTREAMS + 1];
        check_eq(build(v, n, &s, ++gen, 0, &t, err, sizeof err), 0);
        check_eq(slot(&t, names[SNAP_MAX_UPSTREAMS + 1]), 0);
        check_eq(t.upstreams[0].since_gen, gen);
        check_eq(t.upstreams[0].inflight, 0);
        check_eq((long long)n, SNAP_MAX_UPSTREAMS); /* every slot holds a live upstream */
}

static struct sockaddr_in6 v4mapped(const char *ip, uint16_t port) {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
        a.sin6_addr.s6_addr[10] = a.sin6_addr.s6_addr[11] = 0xff;
        inet_pton(AF_INET, ip, &a.sin6_addr.s6_addr[12]);
        return a;
}

/* addresses: carried over for known upstreams (no lookup), numeric hosts
 * converted, new host names left to the background resolver */
static void test_addr(void) {
        static struct snapshot s0, s1, s2;
        const char *a[] = { "num=10.1.2.3:8000", "v6=[fd00::7]:81", "named=gw.example.invalid:80" };
        const char *b[] = { "num=10.1.2.3:8000", "v6=[fd00::7]:82", "named=gw.example.invalid:80",
                            "new=other.example.invalid:80" };
        struct sockaddr_in6 want;
        char err[256];

        check_eq(build(a, 3, NULL, 1, 0, &s0, err, sizeof err), 0);
        want = v4mapped("10.1.2.3", 8000);
        check(s0.upstreams[0].resolved && s0.upstreams[0].healthy);
        check_eq(memcmp(&s0.upstreams[0].addr, &want, sizeof want), 0);
        check(s0.upstreams[1].resolved);
        check_eq(ntohs(s0.upstreams[1].addr.sin6_port), 81);
        /* not numeric, no SNAP_BUILD_RESOLVE: left for the resolver, said in err */
        check(!s0.upstreams[2].resolved && !s0.upstreams[2].healthy);
        check(strstr(err, "gw.example.invalid") != NULL);

        /* pretend the resolver found it: the next build keeps that address
         * without a lookup (a lookup of .invalid would fail) */
        s0.upstreams[2].addr = v4mapped("10.9.9.9", 80);
        s0.upstreams[2].resolved = s0.upstreams[2].healthy = 1;
        check_eq(build(b, 4, &s0, 2, 0, &s1, err, sizeof err), 0);
        check(s1.upstreams[2].resolved && s1.upstreams[2].healthy);
        want = v4mapped("10.9.9.9", 80);
        check_eq(memcmp(&s1.upstreams[2].addr, &want, sizeof want), 0);
        /* the port changed: converted again */
        check(s1.upstreams[1].resolved);
        check_eq(ntohs(s1.upstreams[1].addr.sin6_port), 82);
        check(!s1.upstreams[3].resolved && !s1.upstreams[3].healthy);

        /* a tombstone keeps its address; its name coming back with the same
         * host gets it without a lookup */
        check_eq(build(a, 2, &s1, 3, 0, &s2, err, sizeof err), 0);
        check(s2.upstreams[2].removed && !s2.upstreams[2].resolved);
        check_eq(build(b, 3, &s2, 4, 0, &s1, err, sizeof err), 0);
        check(!s1.upstreams[2].removed && s1.upstreams[2].resolved);
        check_eq(memcmp(&s1.upstreams[2].addr, &want, sizeof want), 0);

        check_eq(snapshot_numeric_addr("localhost", 80, &want), -EINVAL);
        check_eq(snapshot_numeric_addr("::1", 80, &want), 0);
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* the background resolver: localhost resolves; a tombstone and a slot
 * whose host changed meanwhile are not given the result */
static void test_resolver(void) {
        static struct snapshot s;
        const char *a[] = { "local=localhost:8123", "gone=localhost:8124", "moved=localhost:8125" };
        struct resolver *rs = NULL;
        bool changed = false;
        char err[256];
        int t;

        check_eq(build(a, 3, NULL, 1, 0, &s, err, sizeof err), 0);
        for (unsigned u = 0; u < 3; u++)
                check(!s.upstreams[u].resolved);
        s.upstreams[1].removed = 1;
        check_eq(resolver_new(50ULL * 1000000ULL, &rs), 0);
        t = resolver_tick(rs, &s, now_ns(), &changed);
        check_eq(resolver_pending(rs), 2); /* not the tombstone */
        check(t >= 0 && t <= 10);
        /* the slot gets another host while its lookup runs */
        snprintf(s.upstreams[2].host, sizeof s.upstreams[2].host, "127.0.0.1");
        /* lookups of localhost end quickly; the bound is for a broken resolver */
        for (int i = 0; i < 1000 && !s.upstreams[0].resolved; i++) {
                struct timespec ts = { .tv_nsec = 10000000 };
                nanosleep(&ts, NULL);
                resolver_tick(rs, &s, now_ns(), &changed);
        }
        check(s.upstreams[0].resolved && s.upstreams[0].healthy && changed);
        check_eq(ntohs(s.upstreams[0].addr.sin6_port), 8123);
        check(!s.upstreams[1].resolved);
        /* "moved": the localhost answer was not applied; 127.0.0.1 is looked up next */
        for (int i = 0; i < 1000 && !s.upstreams[2].resolved; i++) {
                struct timespec ts = { .tv_nsec = 10000000 };
                nanosleep(&ts, NULL);
                resolver_tick(rs, &s, now_ns(), &changed);
        }
        struct sockaddr_in6 want = v4mapped("127.0.0.1", 8125);
        check(s.upstreams[2].resolved);
        check_eq(memcmp(&s.upstreams[2].addr, &want, sizeof want), 0);
        /* nothing left to do: no pass over the slots, a long wait */
        check_eq(resolver_pending(rs), 0);
        t = resolver_tick(rs, &s, now_ns(), &changed);
        check(t >= 100);
        resolver_free(rs);
}

static int pick_session(struct picker *pk, const struct snapshot *s, const char *key) {
        struct picker_req q = { .has_session = true, .session = picker_session_hash(key, strlen(key)) };
        uint16_t out[4];
        int n = picker_pick(pk, s, snapshot_find_model(s, "m", 1), &q, NULL, 1, out, 4);

        return n > 0 ? out[0] : n;
}

/* the picker across applies: session bindings and in-flight counts stay
 * with slots that keep their upstream, go with slots that change hands */
static void test_sessions(void) {
        static struct snapshot s0, s1, s2;
        const char *a[] = { "a", "b", "c", "d" };
        const char *b[] = { "a", "c", "d", "e" }; /* b goes, e comes */
        const char *c[] = { "a", "d", "e" };      /* c goes */
        /* queue weighs too: without its session, alice would go anywhere but
         * c, which has a request in flight */
        struct picker_params p = { .policy = PICKER_SCORER,
                                   .w_queue = 1,
                                   .w_session = 10,
                                   .session_ttl_ns = 60000000000ULL,
                                   .session_max = 64,
                                   .prefix_block = 256,
                                   .seed = 7 };
        struct picker_req q = { .has_session = true, .session = picker_session_hash("alice", 5) };
        struct picker_upstream_info info;
        struct picker *pk = NULL;
        char err[256];

        check_eq(build(a, 4, NULL, 1, 0, &s0, err, sizeof err), 0);
        check_eq(picker_new(&p, &s0, 0, &pk), 0);
        /* alice on c (slot 2), with a request in flight there */
        picker_dispatch(pk, 2, &q, 1);
        check_eq(pick_session(pk, &s0, "alice"), 2);
        /* b removed, e added: c keeps slot 2, and alice keeps c */
        check_eq(build(b, 4, &s0, 2, 0, &s1, err, sizeof err), 0);
        check_eq(picker_rebind(pk, &p, &s0, &s1, 2), 0);
        check_eq(pick_session(pk, &s1, "alice"), 2);
        check_eq(picker_upstream_info(pk, 2, 2, &info), 0);
        check_eq(info.inflight, 1);
        /* the done event of that request still finds it */
        picker_done(pk, 2);
        check_eq(picker_upstream_info(pk, 2, 2, &info), 0);
        check_eq(info.inflight, 0);
        /* c removed: its binding goes; alice is picked elsewhere, never the tombstone */
        picker_dispatch(pk, 2, &q, 3);
        check_eq(build(c, 3, &s1, 3, 0, &s2, err, sizeof err), 0);
        check(s2.upstreams[2].removed);
        check_eq(picker_rebind(pk, &p, &s1, &s2, 3), 0);
        int u = pick_session(pk, &s2, "alice");
        check(u >= 0 && u != 2 && !s2.upstreams[u].removed);
        /* the tombstone keeps the count of the request still in flight there */
        check_eq(picker_upstream_info(pk, 2, 3, &info), 0);
        check_eq(info.inflight, 1);
        picker_free(pk);
}

int main(int argc, char **argv) {
        static const struct check_group groups[] = {
                { "stable", test_stable },     { "reuse", test_reuse },       { "addr", test_addr },
                { "resolver", test_resolver }, { "sessions", test_sessions },
        };

        return check_run_group(argc, argv, groups, sizeof groups / sizeof groups[0], "");
}
