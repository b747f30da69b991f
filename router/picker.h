/* The endpoint picker: which replica of a model should serve a request.
 *
 * State per upstream (indexed like the snapshot's upstreams):
 *   - the router's own counts: requests and (estimated) tokens in flight,
 *     and running totals of dispatches and done events;
 *   - the last good /metrics scrape (router/scrape.h feeds it): waiting and
 *     running requests, KV-cache use, cache geometry. Between scrapes the
 *     dispatches and done events since the scrape was sent are added to it
 *     (so a burst spreads instead of landing on the one endpoint that looked
 *     idle); a scrape older than stale_after counts as saturated; an
 *     endpoint that answers /metrics with 404 is judged by the router's
 *     counts alone and is never saturated;
 *   - a prefix index (router/prefix_index.h) of the prompt block hashes
 *     sent there, sized from the endpoint's KV cache, cleared when it
 *     restarts (came back healthy, or its scrape was refused then answered).
 * and a bounded session table (session key hash -> upstream, TTL).
 *
 * Policies: PICKER_SCORER (default) scores every candidate with
 *   queue            (qmax - q) / (qmax - qmin) over the candidates, q =
 *                    estimated requests at the endpoint (waiting + running)
 *                    per unit of weight; 1 when all are equal
 *   kv_cache         1 - estimated KV-cache use (1 without metrics)
 *   inflight_tokens  as queue, over the router's in-flight token estimate
 *   prefix           leading prompt blocks found in its index / blocks
 *   session          1 for the session's endpoint, else 0
 * and picks the largest weighted sum, ties broken at random. Saturated
 * candidates are considered only when every candidate is saturated, and
 * then the pick fails with -EBUSY (the router queues the request).
 * PICKER_LEAST_REQUEST: fewest in flight per unit of weight, random ties.
 * PICKER_ROUND_ROBIN: the next candidate in turn (per model).
 * Both ignore saturation. Gateway upstreams (kind gateway) are never
 * scraped, scored or saturated: a model with one is picked least-request.
 *
 * One owner (the router thread); no allocation per pick. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "router/metrics_parse.h"
#include "proto/snapshot.h"

enum picker_policy { PICKER_SCORER, PICKER_LEAST_REQUEST, PICKER_ROUND_ROBIN };

struct picker_params {
        enum picker_policy policy;
        double w_queue, w_kv, w_tokens, w_prefix, w_session;
        double sat_queue_depth;  /* estimated waiting >= this: saturated */
        double sat_kv;           /* estimated KV-cache use >= this: saturated */
        uint64_t stale_after_ns; /* 0: metrics never go stale */
        bool scraping;           /* false: router counts only, never saturated */
        uint64_t session_ttl_ns;
        uint32_t session_max;  /* table entries (rounded up to a power of two) */
        uint32_t prefix_block; /* bytes per prefix hash (SY_PICK_PREFIX_BLOCK) */
        uint64_t seed;         /* tie-break RNG */
};

/* Fills p from the configuration's router section. */
void picker_params_from_config(const struct sy_config *cfg, struct picker_params *ret);

enum picker_metrics_state {
        PICKER_METRICS_NONE = 0,        /* no answer yet (not saturated until stale_after) */
        PICKER_METRICS_OK = 1,          /* last scrape parsed */
        PICKER_METRICS_UNSUPPORTED = 2, /* /metrics answered 404 (or without known metrics) */
        PICKER_METRICS_OFF = 3,         /* not scraped (gateway, or scraping off) */
};

/* What an operator (admin API) sees of one upstream. */
struct picker_upstream_info {
        uint32_t inflight;         /* router's requests in flight */
        uint64_t inflight_tokens;  /* router's token estimate in flight */
        uint64_t dispatched, done; /* totals since the router started */
        uint8_t metrics_state;     /* enum picker_metrics_state */
        uint8_t saturated;
        uint8_t stale;
        uint64_t metrics_age_ms;   /* since the last good scrape was sent; UINT64_MAX: never */
        struct upstream_load load; /* last good scrape */
        double est_requests;       /* scraped waiting + running + sent since - done since */
        double est_waiting;
        double est_kv;
        uint32_t prefix_blocks, prefix_capacity;
        /* the scores it got at the last scored pick it took part in */
        float score_queue, score_kv, score_tokens, score_prefix, score_session, score_total;
};

struct picker;

/* n_upstreams / kinds from the snapshot. -ENOMEM. */
int picker_new(const struct picker_params *p, const struct snapshot *s, uint64_t now_ns, struct picker **ret);
void picker_free(struct picker *pk);
/* New parameters and a new snapshot (config reload): state of upstreams
 * that keep their name carries over; old is the previous snapshot. */
int picker_rebind(struct picker *pk, const struct picker_params *p, const struct snapshot *old,
                  const struct snapshot *s, uint64_t now_ns);

/* One pick request, decoded. */
struct picker_req {
        const char *engine; /* owned_by; may be empty */
        size_t engine_len;
        const uint16_t *exclude;
        unsigned n_exclude;
        const uint64_t *prefix; /* chained block hashes */
        unsigned n_prefix;
        uint64_t session; /* hash of the session key */
        bool has_session;
        uint32_t tokens; /* token estimate */
};

/* Picks up to max upstreams of model m, best first, into ret (not
 * counted in flight: call picker_dispatch for the one used). usable[u]
 * false: passively ejected (treated as unhealthy). Returns how many (> 0),
 * -ENOENT (no upstream for that engine), -EHOSTUNREACH (none healthy),
 * -EBUSY (scorer: every candidate saturated; ret still holds the best
 * saturated ones, so a caller may use them anyway). */
int picker_pick(struct picker *pk, const struct snapshot *s, const struct snap_model *m, const struct picker_req *q,
                const bool *usable, uint64_t now_ns, uint16_t *ret, unsigned max);
/* The request went to u: counts it in flight, indexes its prefix, binds
 * its session. */
void picker_dispatch(struct picker *pk, unsigned u, const struct picker_req *q, uint64_t now_ns);
/* A request counted by picker_dispatch (or a plain dispatch note: q NULL)
 * is over. */
void picker_done(struct picker *pk, unsigned u);
/* A dispatch the router did not pick (single-candidate model). */
void picker_dispatch_note(struct picker *pk, unsigned u);

/* Scrape results (router/scrape.c). begin: a scrape was sent now (the
 * router's counts since then are added to what it returns). */
void picker_scrape_begin(struct picker *pk, unsigned u);
void picker_scrape_ok(struct picker *pk, unsigned u, const struct upstream_load *l, uint64_t now_ns);
/* unsupported: answered, but 404 or no known metrics; else refused /
 * timed out / malformed (values kept, they go stale). */
void picker_scrape_failed(struct picker *pk, unsigned u, bool unsupported, bool refused);
/* The endpoint restarted (e.g. came back healthy): forget its prefixes. */
void picker_reset_prefix(struct picker *pk, unsigned u);

bool picker_saturated(const struct picker *pk, unsigned u, uint64_t now_ns);
/* Writes s->upstreams[u].saturated and .inflight for every upstream;
 * returns true if a saturated flag changed. */
bool picker_update_snapshot(const struct picker *pk, struct snapshot *s, uint64_t now_ns);
uint32_t picker_inflight(const struct picker *pk, unsigned u);

/* For the admin API: -ENOENT for an index out of range. */
int picker_upstream_info(const struct picker *pk, unsigned u, uint64_t now_ns, struct picker_upstream_info *ret);

/* Hash of a session key (x-session-id or user), for picker_req.session. */
uint64_t picker_session_hash(const char *key, size_t len);
