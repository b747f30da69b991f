/* Unit tests of the endpoint picker (router/picker.h): every scorer alone,
 * the weighted mix, saturation and staleness, the burst correction, session
 * affinity, least-request and round-robin, gateways, config reloads.
 * Usage: test_picker GROUP. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/picker.h"
#include "router/prefix_index.h"
#include "tests/check.h"

#define MS 1000000ULL

static struct snapshot snap;

/* n server upstreams u0..u(n-1), all serving model "m" on engine vllm. */
static const struct snap_model *make_snap(unsigned n) {
        memset(&snap, 0, sizeof snap);
        snap.n_upstreams = n;
        for (unsigned u = 0; u < n; u++) {
                struct snap_upstream *up = &snap.upstreams[u];
                snprintf(up->name, sizeof up->name, "u%u", u);
                snprintf(up->engine, sizeof up->engine, "vllm");
                up->healthy = up->resolved = 1;
                up->weight = 1;
                up->kind = SY_UPSTREAM_SERVER;
        }
        snap.n_models = 1;
        snprintf(snap.models[0].name, sizeof snap.models[0].name, "m");
        snprintf(snap.models[0].default_engine, sizeof snap.models[0].default_engine, "vllm");
        snap.models[0].n_upstreams = (uint16_t)n;
        for (unsigned u = 0; u < n; u++)
                snap.models[0].upstreams[u] = (uint16_t)u;
        return &snap.models[0];
}

/* Only one scorer weighted (the others 0) unless the group sets more. */
static struct picker_params params(enum picker_policy pol) {
        struct picker_params p = {
                .policy = pol,
                .sat_queue_depth = 5,
                .sat_kv = 0.9,
                .stale_after_ns = 1000 * MS,
                .scraping = true,
                .session_ttl_ns = 60000 * MS,
                .session_max = 1024,
                .prefix_block = 256,
                .seed = 42,
        };
        return p;
}

static struct picker *new_picker(const struct picker_params *p, uint64_t now) {
        struct picker *pk = NULL;
        check_eq(picker_new(p, &snap, now, &pk), 0);
        return pk;
}

static void scrape(struct picker *pk, unsigned u, double waiting, double running, double kv, uint64_t now) {
        struct upstream_load l = { .flags = UPSTREAM_LOAD_WAITING | UPSTREAM_LOAD_RUNNING | UPSTREAM_LOAD_KV_USAGE,
                                   .waiting = waiting,
                                   .running = running,
                                   .kv_usage = kv };
        picker_scrape_begin(pk, u);
        picker_scrape_ok(pk, u, &l, now);
}

static int pick1(struct picker *pk, const struct snap_model *m, const struct picker_req *q, uint64_t now) {
        uint16_t out[4];
        int n = picker_pick(pk, &snap, m, q, NULL, now, out, 4);
        return n > 0 ? out[0] : n;
}

/* How often each upstream wins over many picks (ties are random). */
static void tally(struct picker *pk, const struct snap_model *m, const struct picker_req *q, uint64_t now,
                  unsigned runs, unsigned *counts) {
        for (unsigned i = 0; i < runs; i++) {
                int u = pick1(pk, m, q, now);
                check(u >= 0);
                counts[u]++;
        }
}

static void test_queue(void) {
        const struct snap_model *m = make_snap(3);
        struct picker_params p = params(PICKER_SCORER);
        struct picker_req q = { 0 };
        struct picker *pk;

        p.w_queue = 1;
        pk = new_picker(&p, 0);
        scrape(pk, 0, 0, 4, 0, 1);
        scrape(pk, 1, 0, 1, 0, 1);
        scrape(pk, 2, 2, 3, 0, 1);
        check_eq(pick1(pk, m, &q, 2), 1);
        struct picker_upstream_info i;
        check_eq(picker_upstream_info(pk, 1, 2, &i), 0);
        check(i.score_queue == 1.0f);
        check_eq(picker_upstream_info(pk, 2, 2, &i), 0);
        check(i.score_queue == 0.0f); /* 5 requests: the most */
        check_eq(picker_upstream_info(pk, 0, 2, &i), 0);
        check(i.score_queue > 0.24f && i.score_queue < 0.26f); /* (5 - 4) / (5 - 1) */
        /* weights divide the load: u0 with weight 8 carries 4/8 */
        snap.upstreams[0].weight = 8;
        check_eq(pick1(pk, m, &q, 2), 0);
        picker_free(pk);
}

static void test_kv(void) {
        const struct snap_model *m = make_snap(3);
        struct picker_params p = params(PICKER_SCORER);
        struct picker_req q = { 0 };
        struct picker *pk;

        p.w_kv = 1;
        pk = new_picker(&p, 0);
        scrape(pk, 0, 0, 1, 0.5, 1);
        scrape(pk, 1, 0, 9, 0.2, 1); /* more requests, but the queue scorer is off */
        scrape(pk, 2, 0, 1, 0.7, 1);
        check_eq(pick1(pk, m, &q, 2), 1);
        struct picker_upstream_info i;
        check_eq(picker_upstream_info(pk, 0, 2, &i), 0);
        check(i.score_kv > 0.49f && i.score_kv < 0.51f);
        picker_free(pk);
}

static void test_tokens(void) {
        const struct snap_model *m = make_snap(3);
        struct picker_params p = params(PICKER_SCORER);
        struct picker_req big = { .tokens = 8000 }, small = { .tokens = 100 }, q = { 0 };
        struct picker *pk;

        p.w_tokens = 1;
        p.scraping = false;
        pk = new_picker(&p, 0);
        picker_dispatch(pk, 0, &big, 0);
        picker_dispatch(pk, 1, &small, 0);
        picker_dispatch(pk, 1, &small, 0);
        picker_dispatch(pk, 2, &small, 0);
        picker_dispatch(pk, 2, &small, 0);
        picker_dispatch(pk, 2, &small, 0);
        /* u0 has the fewest requests but the most tokens */
        check_eq(pick1(pk, m, &q, 1), 1);
        struct picker_upstream_info i;
        check_eq(picker_upstream_info(pk, 2, 1, &i), 0);
        check_eq(i.inflight, 3);
        check_eq(i.inflight_tokens, 300);
        /* done events take the average share; the last one empties it */
        picker_done(pk, 2);
        check_eq(picker_upstream_info(pk, 2, 1, &i), 0);
        check_eq(i.inflight_tokens, 200);
        picker_done(pk, 0);
        check_eq(picker_upstream_info(pk, 0, 1, &i), 0);
        check_eq(i.inflight, 0);
        check_eq(i.inflight_tokens, 0);
        picker_done(pk, 0); /* an extra done never underflows */
        check_eq(picker_upstream_info(pk, 0, 1, &i), 0);
        check_eq(i.inflight, 0);
        check_eq(pick1(pk, m, &q, 1), 0);
        picker_free(pk);
}

static void test_prefix(void) {
        const struct snap_model *m = make_snap(4);
        struct picker_params p = params(PICKER_SCORER);
        uint64_t h[8], h2[8];
        char prompt[8 * 256], other[8 * 256];
        struct picker *pk;

        memset(prompt, 'a', sizeof prompt);
        memcpy(other, prompt, sizeof other);
        other[4 * 256 + 3] = 'b'; /* shares the first 4 blocks */
        check_eq(prefix_hash_chain(prompt, sizeof prompt, 256, h, 8), 8);
        check_eq(prefix_hash_chain(other, sizeof other, 256, h2, 8), 8);
        struct picker_req q = { .prefix = h, .n_prefix = 8, .tokens = 512 };
        struct picker_req q2 = { .prefix = h2, .n_prefix = 8, .tokens = 512 };
        p.w_prefix = 1;
        pk = new_picker(&p, 0);
        picker_dispatch(pk, 2, &q, 0);
        check_eq(pick1(pk, m, &q, 1), 2);
        check_eq(pick1(pk, m, &q2, 1), 2);
        struct picker_upstream_info i;
        check_eq(picker_upstream_info(pk, 2, 1, &i), 0);
        check(i.score_prefix > 0.49f && i.score_prefix < 0.51f); /* 4 of 8 blocks */
        check_eq(i.prefix_blocks, 8);
        check_eq(picker_upstream_info(pk, 1, 1, &i), 0);
        check(i.score_prefix == 0.0f);
        /* the prefix beats a small load difference with the default mix */
        p.w_queue = p.w_kv = p.w_tokens = 1;
        p.w_prefix = 3;
        picker_free(pk);
        pk = new_picker(&p, 0);
        for (unsigned u = 0; u < 4; u++)
                scrape(pk, u, 0, 1, 0.1, 1);
        picker_dispatch(pk, 2, &q, 1);
        picker_dispatch(pk, 2, &q, 1);
        check_eq(pick1(pk, m, &q, 2), 2);
        /* a restart forgets it */
        picker_reset_prefix(pk, 2);
        check_eq(picker_upstream_info(pk, 2, 2, &i), 0);
        check_eq(i.prefix_blocks, 0);
        check(pick1(pk, m, &q, 2) != 2);
        /* the index is sized from the cache geometry: 1000 blocks x 16 tokens x 4 bytes / 256 */
        struct upstream_load l = { .flags = UPSTREAM_LOAD_WAITING | UPSTREAM_LOAD_BLOCK_SIZE |
                                            UPSTREAM_LOAD_NUM_GPU_BLOCKS,
                                   .block_size = 16,
                                   .num_gpu_blocks = 1000 };
        picker_scrape_begin(pk, 3);
        picker_scrape_ok(pk, 3, &l, 3);
        check_eq(picker_upstream_info(pk, 3, 3, &i), 0);
        check_eq(i.prefix_capacity, 250);
        picker_free(pk);
}

static void test_session(void) {
        const struct snap_model *m = make_snap(4);
        struct picker_params p = params(PICKER_SCORER);
        struct picker *pk;
        uint64_t now = 1;
        struct picker_req a = { .has_session = true, .session = picker_session_hash("alice", 5) };
        struct picker_req b = { .has_session = true, .session = picker_session_hash("bob", 3) };

        p.w_queue = p.w_kv = p.w_tokens = 1;
        p.w_prefix = 3;
        p.w_session = 10;
        p.session_ttl_ns = 1000 * MS;
        pk = new_picker(&p, 0);
        check(a.session != b.session && a.session != 0);
        for (unsigned u = 0; u < 4; u++)
                scrape(pk, u, 0, 0, 0, now);
        int ua = pick1(pk, m, &a, now);
        check(ua >= 0);
        picker_dispatch(pk, (unsigned)ua, &a, now);
        /* sticks while other upstreams are less loaded */
        for (int i = 0; i < 20; i++) {
                check_eq(pick1(pk, m, &a, now), ua);
                picker_dispatch(pk, (unsigned)ua, &a, now);
        }
        /* bob goes elsewhere (less loaded) */
        int ub = pick1(pk, m, &b, now);
        check(ub != ua);
        /* a saturated endpoint does not hold its sessions */
        scrape(pk, (unsigned)ua, 6, 20, 0.5, now);
        check(picker_saturated(pk, (unsigned)ua, now));
        int ua2 = pick1(pk, m, &a, now);
        check(ua2 != ua && ua2 >= 0);
        picker_dispatch(pk, (unsigned)ua2, &a, now);
        scrape(pk, (unsigned)ua, 0, 0, 0, now);
        check_eq(pick1(pk, m, &a, now), ua2); /* rebound to the new one */
        /* nor an unhealthy one */
        snap.upstreams[ua2].healthy = 0;
        check(pick1(pk, m, &a, now) != ua2);
        snap.upstreams[ua2].healthy = 1;
        /* the binding expires */
        now += 2000 * MS;
        for (unsigned u = 0; u < 4; u++)
                scrape(pk, u, 0, u == (unsigned)ua2 ? 50 : 0, 0, now);
        check(pick1(pk, m, &a, now) != ua2);
        picker_free(pk);
}

static void test_mix(void) {
        /* the weighted sum: a full prefix match (3) loses to a large load gap
         * only when queue + tokens + kv together outweigh it */
        const struct snap_model *m = make_snap(2);
        struct picker_params p = params(PICKER_SCORER);
        uint64_t h[4] = { 1, 2, 3, 4 };
        struct picker_req q = { .prefix = h, .n_prefix = 4, .tokens = 100 };
        struct picker *pk;

        p.w_queue = 1;
        p.w_kv = 1;
        p.w_tokens = 1;
        p.w_prefix = 3;
        pk = new_picker(&p, 0);
        picker_dispatch(pk, 0, &q, 0);
        scrape(pk, 0, 0, 3, 0.1, 1);
        scrape(pk, 1, 0, 0, 0.1, 1);
        check_eq(pick1(pk, m, &q, 2), 0); /* 0+0.9+0+3 = 3.9 vs 1+0.9+1 = 2.9 */
        scrape(pk, 0, 0, 3, 0.6, 1);
        check_eq(pick1(pk, m, &q, 2), 0); /* 3.4 vs 2.9 */
        /* half the prompt matches: 0.9 + 1.5 = 2.4 vs 2.9 */
        uint64_t half[4] = { 1, 2, 9, 9 };
        struct picker_req q2 = { .prefix = half, .n_prefix = 4, .tokens = 100 };
        scrape(pk, 0, 0, 3, 0.1, 1);
        check_eq(pick1(pk, m, &q2, 2), 1);
        struct picker_upstream_info i;
        check_eq(picker_upstream_info(pk, 0, 2, &i), 0);
        check(i.score_total > 2.39f && i.score_total < 2.41f);
        picker_free(pk);
}

static void test_ties(void) {
        const struct snap_model *m = make_snap(4);
        struct picker_params p = params(PICKER_SCORER);
        struct picker_req q = { 0 };
        unsigned counts[4] = { 0 };
        struct picker *pk;

        p.w_queue = p.w_kv = p.w_tokens = 1;
        pk = new_picker(&p, 0);
        tally(pk, m, &q, 1, 4000, counts);
        for (unsigned u = 0; u < 4; u++)
                check(counts[u] > 800 && counts[u] < 1200);
        picker_free(pk);
}

static void test_burst(void) {
        /* every endpoint looked idle at the last scrape: picks spread as
         * the router's own dispatches since then are counted */
        const struct snap_model *m = make_snap(4);
        struct picker_params p = params(PICKER_SCORER);
        struct picker_req q = { .tokens = 100 };
        unsigned counts[4] = { 0 };
        struct picker *pk;

        p.w_queue = 1;
        pk = new_picker(&p, 0);
        for (unsigned u = 0; u < 4; u++)
                scrape(pk, u, 0, 0, 0, 1);
        for (unsigned i = 0; i < 40; i++) {
                int u = pick1(pk, m, &q, 2);
                check(u >= 0);
                picker_dispatch(pk, (unsigned)u, &q, 2);
                counts[u]++;
        }
        for (unsigned u = 0; u < 4; u++)
                check_eq(counts[u], 10);
        /* requests done since the scrape count too: u3 finished its ten */
        for (unsigned i = 0; i < 10; i++)
                picker_done(pk, 3);
        struct picker_upstream_info in;
        check_eq(picker_upstream_info(pk, 3, 2, &in), 0);
        check(in.est_requests == 0);
        check_eq(pick1(pk, m, &q, 2), 3);
        /* a scrape sent after the dispatches takes over from the router's counts */
        scrape(pk, 0, 0, 0, 0, 3);
        check_eq(picker_upstream_info(pk, 0, 3, &in), 0);
        check(in.est_requests == 10); /* the router still has 10 in flight there */
        /* a queueing endpoint queues what was sent since its scrape */
        scrape(pk, 1, 2, 8, 0, 3);
        picker_dispatch(pk, 1, &q, 3);
        picker_dispatch(pk, 1, &q, 3);
        check_eq(picker_upstream_info(pk, 1, 3, &in), 0);
        check(in.est_waiting == 4);
        check(!in.saturated);
        picker_dispatch(pk, 1, &q, 3);
        check(picker_saturated(pk, 1, 3));
        /* each one done since lets a waiting one in */
        picker_done(pk, 1);
        picker_done(pk, 1);
        check_eq(picker_upstream_info(pk, 1, 3, &in), 0);
        check(in.est_waiting == 3);
        check(!picker_saturated(pk, 1, 3));
        picker_free(pk);
}

static void test_saturation(void) {
        const struct snap_model *m = make_snap(3);
        struct picker_params p = params(PICKER_SCORER);
        struct picker_req q = { 0 };
        uint16_t out[4];
        struct picker *pk;
        int n;

        p.w_queue = 1;
        pk = new_picker(&p, 0);
        scrape(pk, 0, 5, 10, 0.5, 1); /* queue_depth 5 */
        scrape(pk, 1, 0, 1, 0.95, 1); /* KV 0.9 */
        scrape(pk, 2, 1, 50, 0.5, 1); /* the most loaded, but not saturated */
        check(picker_saturated(pk, 0, 2));
        check(picker_saturated(pk, 1, 2));
        check(!picker_saturated(pk, 2, 2));
        n = picker_pick(pk, &snap, m, &q, NULL, 2, out, 4);
        check_eq(n, 3);
        check_eq(out[0], 2); /* saturated ones follow as fallbacks */
        check(out[1] != 2 && out[2] != 2);
        /* all saturated: -EBUSY, the best saturated ones still listed */
        scrape(pk, 2, 9, 50, 0.5, 1);
        n = picker_pick(pk, &snap, m, &q, NULL, 2, out, 4);
        check_eq(n, -EBUSY);
        check_eq(out[0], 1); /* fewest requests */
        /* the snapshot shows it */
        check(picker_update_snapshot(pk, &snap, 2));
        check(snap.upstreams[0].saturated && snap.upstreams[1].saturated && snap.upstreams[2].saturated);
        check(!picker_update_snapshot(pk, &snap, 2));
        /* least_request / round_robin ignore saturation */
        p.policy = PICKER_LEAST_REQUEST;
        check_eq(picker_rebind(pk, &p, &snap, &snap, 2), 0);
        check(pick1(pk, m, &q, 2) >= 0);
        picker_free(pk);
}

static void test_stale(void) {
        const struct snap_model *m = make_snap(2);
        struct picker_params p = params(PICKER_SCORER);
        struct picker_req q = { 0 };
        struct picker *pk;

        p.w_queue = 1;
        pk = new_picker(&p, 0);
        /* no scrape yet: grace until stale_after */
        check(!picker_saturated(pk, 0, 500 * MS));
        check(picker_saturated(pk, 0, 1001 * MS));
        scrape(pk, 0, 0, 0, 0, 1000 * MS);
        scrape(pk, 1, 0, 9, 0, 1000 * MS);
        check_eq(pick1(pk, m, &q, 1100 * MS), 0);
        /* u0's scrapes fail from now: its values go stale, then it is saturated */
        picker_scrape_begin(pk, 0);
        picker_scrape_failed(pk, 0, false, false);
        scrape(pk, 1, 0, 9, 0, 1900 * MS);
        check_eq(pick1(pk, m, &q, 1900 * MS), 0);
        check(picker_saturated(pk, 0, 2100 * MS));
        check_eq(pick1(pk, m, &q, 2100 * MS), 1);
        struct picker_upstream_info i;
        check_eq(picker_upstream_info(pk, 0, 2100 * MS, &i), 0);
        check(i.stale && i.saturated);
        check_eq(i.metrics_age_ms, 1100);
        /* 404 on /metrics: router counts only, never saturated, never stale */
        picker_scrape_failed(pk, 0, true, false);
        check(!picker_saturated(pk, 0, 9000 * MS));
        check_eq(picker_upstream_info(pk, 0, 9000 * MS, &i), 0);
        check_eq(i.metrics_state, PICKER_METRICS_UNSUPPORTED);
        /* scraping off: never saturated */
        picker_free(pk);
        p.scraping = false;
        pk = new_picker(&p, 0);
        check(!picker_saturated(pk, 0, 9000 * MS));
        picker_free(pk);
}

static void test_restart(void) {
        /* a refused scrape followed by a good one is a restart: prefixes go */
        const struct snap_model *m = make_snap(2);
        struct picker_params p = params(PICKER_SCORER);
        uint64_t h[2] = { 7, 8 };
        struct picker_req q = { .prefix = h, .n_prefix = 2 };
        struct picker_upstream_info i;
        struct picker *pk;

        (void)m;
        p.w_prefix = 1;
        pk = new_picker(&p, 0);
        picker_dispatch(pk, 0, &q, 0);
        scrape(pk, 0, 0, 0, 0, 1);
        check_eq(picker_upstream_info(pk, 0, 1, &i), 0);
        check_eq(i.prefix_blocks, 2);
        picker_scrape_begin(pk, 0);
        picker_scrape_failed(pk, 0, false, false); /* a timeout is not a restart */
        scrape(pk, 0, 0, 0, 0, 2);
        check_eq(picker_upstream_info(pk, 0, 2, &i), 0);
        check_eq(i.prefix_blocks, 2);
        picker_scrape_begin(pk, 0);
        picker_scrape_failed(pk, 0, false, true);
        scrape(pk, 0, 0, 0, 0, 3);
        check_eq(picker_upstream_info(pk, 0, 3, &i), 0);
        check_eq(i.prefix_blocks, 0);
        picker_free(pk);
}

static void test_least_request(void) {
        const struct snap_model *m = make_snap(3);
        struct picker_params p = params(PICKER_LEAST_REQUEST);
        struct picker_req q = { 0 };
        unsigned counts[3] = { 0 };
        struct picker *pk = new_picker(&p, 0);

        picker_dispatch(pk, 0, &q, 0);
        picker_dispatch(pk, 0, &q, 0);
        picker_dispatch(pk, 2, &q, 0);
        scrape(pk, 1, 30, 30, 0.99, 1); /* scraped load is not looked at */
        check_eq(pick1(pk, m, &q, 1), 1);
        picker_dispatch(pk, 1, &q, 1);
        /* u1 and u2 tie at 1: random between them, never u0 */
        tally(pk, m, &q, 1, 1000, counts);
        check_eq(counts[0], 0);
        check(counts[1] > 400 && counts[2] > 400);
        /* the single-candidate dispatch notes count too */
        picker_dispatch_note(pk, 1);
        check_eq(pick1(pk, m, &q, 1), 2);
        picker_free(pk);
}

static void test_round_robin(void) {
        const struct snap_model *m = make_snap(3);
        struct picker_params p = params(PICKER_ROUND_ROBIN);
        struct picker_req q = { 0 };
        uint16_t out[4];
        struct picker *pk = new_picker(&p, 0);

        picker_dispatch(pk, 1, &q, 0);
        picker_dispatch(pk, 1, &q, 0);
        for (unsigned i = 0; i < 9; i++)
                check_eq(pick1(pk, m, &q, 1), i % 3);
        /* the rest of the list is the failover order */
        check_eq(picker_pick(pk, &snap, m, &q, NULL, 1, out, 4), 3);
        check_eq(out[0], 0);
        check_eq(out[1], 1);
        check_eq(out[2], 2);
        /* unhealthy ones are skipped */
        snap.upstreams[1].healthy = 0;
        check(pick1(pk, m, &q, 1) != 1);
        check(pick1(pk, m, &q, 1) != 1);
        picker_free(pk);
}

static void test_exclude(void) {
        const struct snap_model *m = make_snap(3);
        struct picker_params p = params(PICKER_SCORER);
        uint16_t ex[2] = { 0, 2 }, out[4];
        struct picker_req q = { .exclude = ex, .n_exclude = 2 };
        bool usable[3] = { true, false, true };
        struct picker *pk;

        p.w_queue = 1;
        pk = new_picker(&p, 0);
        for (int i = 0; i < 20; i++)
                check_eq(pick1(pk, m, &q, 1), 1);
        check_eq(picker_pick(pk, &snap, m, &q, usable, 1, out, 4), -EHOSTUNREACH);
        q.n_exclude = 1;
        check_eq(picker_pick(pk, &snap, m, &q, usable, 1, out, 4), 1);
        check_eq(out[0], 2);
        /* engines: none of the model's upstreams runs sglang */
        q.engine = "sglang";
        q.engine_len = 6;
        check_eq(picker_pick(pk, &snap, m, &q, NULL, 1, out, 4), -ENOENT);
        /* no upstream healthy */
        q.engine = NULL;
        q.engine_len = 0;
        q.n_exclude = 0;
        for (unsigned u = 0; u < 3; u++)
                snap.upstreams[u].healthy = 0;
        check_eq(picker_pick(pk, &snap, m, &q, NULL, 1, out, 4), -EHOSTUNREACH);
        picker_free(pk);
}

static void test_gateway(void) {
        const struct snap_model *m = make_snap(2);
        struct picker_params p = params(PICKER_SCORER);
        struct picker_req q = { 0 };
        struct picker_upstream_info i;
        uint16_t out[4];
        struct picker *pk;

        snap.upstreams[1].kind = SY_UPSTREAM_GATEWAY;
        p.w_queue = 1;
        pk = new_picker(&p, 0);
        scrape(pk, 0, 9, 9, 0.99, 1);
        scrape(pk, 1, 9, 9, 0.99, 1); /* ignored: gateways are not scraped */
        check_eq(picker_upstream_info(pk, 1, 2, &i), 0);
        check_eq(i.metrics_state, PICKER_METRICS_OFF);
        check(!i.saturated);
        check(!picker_saturated(pk, 1, 5000 * MS));
        /* a model with a gateway is picked least-request, never shed */
        check_eq(picker_pick(pk, &snap, m, &q, NULL, 2, out, 4), 2);
        picker_dispatch(pk, 0, &q, 2);
        check_eq(pick1(pk, m, &q, 2), 1);
        picker_free(pk);
}

static void test_rebind(void) {
        make_snap(3);
        struct picker_params p = params(PICKER_SCORER);
        struct picker_req q = { .tokens = 10 };
        struct picker_upstream_info i;
        static struct snapshot old;
        struct picker *pk;

        pk = new_picker(&p, 0);
        picker_dispatch(pk, 2, &q, 0);
        picker_dispatch(pk, 2, &q, 0);
        old = snap;
        /* u2 moves to index 0; u0 goes; a new one comes */
        snprintf(snap.upstreams[0].name, SNAP_SHORT, "u2");
        snprintf(snap.upstreams[2].name, SNAP_SHORT, "new");
        check_eq(picker_rebind(pk, &p, &old, &snap, 1), 0);
        check_eq(picker_upstream_info(pk, 0, 1, &i), 0);
        check_eq(i.inflight, 2);
        check_eq(i.inflight_tokens, 20);
        check_eq(picker_upstream_info(pk, 2, 1, &i), 0);
        check_eq(i.inflight, 0);
        check_eq(picker_upstream_info(pk, 5, 1, &i), -ENOENT);
        picker_free(pk);
}

int main(int argc, char **argv) {
        static const struct check_group groups[] = {
                { "queue", test_queue },
                { "kv", test_kv },
                { "tokens", test_tokens },
                { "prefix", test_prefix },
                { "session", test_session },
                { "mix", test_mix },
                { "ties", test_ties },
                { "burst", test_burst },
                { "saturation", test_saturation },
                { "stale", test_stale },
                { "restart", test_restart },
                { "least-request", test_least_request },
                { "round-robin", test_round_robin },
                { "exclude", test_exclude },
                { "gateway", test_gateway },
                { "rebind", test_rebind },
        };

        return check_run_group(argc, argv, groups, sizeof groups / sizeof groups[0], "picker ");
}
