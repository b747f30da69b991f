/* Stage pick: the endpoint among the model's replicas. The router picks
 * (load, KV cache, prefix and session affinity) over the worker's ring;
 * when it is gone or late, or when there is a single candidate, the worker
 * picks from its snapshot and tells the router, which counts the request in
 * flight. Also the worker's side of the router ring: doorbell and done
 * events. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "proto/runtime.h"
#include "frontend/frontend-internal.h"
#include "proto/prefix_hash.h"
#include "shm/bell.h"
#include "proto/msg.h"

#define ROUTER_MAX_AGE_NS (1000ULL * 1000000ULL)
#define ROUTER_CHECK_NS (10ULL * 1000000ULL)

/* Cached for a few ms: the check is a kill(pid, 0) system call. */
static bool router_alive(struct worker *w) {
        uint64_t now = fe_now_ns();

        if (now - w->router_checked_ns > ROUTER_CHECK_NS) {
                w->router_alive = shm_peer_alive(shm_seg_peer(w->fe->seg, SHM_PEER_ROUTER), ROUTER_MAX_AGE_NS);
                w->router_checked_ns = now;
        }
        return w->router_alive;
}

void pick_ring_router(struct worker *w) {
        worker_ring_bell(w, w->to_router, &w->router_bell, SY_ROUTER_BELL);
}

void pick_send_done(struct conn *c, int upstream, int status, uint32_t flags, bool router_picked) {
        struct worker *w = c->w;
        struct sy_done d = {
                .req_id = c->req_id,
                .upstream = (uint16_t)upstream,
                .http_status = (uint16_t)status,
                .flags = flags | (router_picked ? SY_DONE_PICKED_BY_ROUTER : 0),
                .ttfb_us =
                        c->t_first_byte_ns && c->t_sent_ns ? (uint32_t)((c->t_first_byte_ns - c->t_sent_ns) / 1000) : 0,
                .duration_us = (uint32_t)((fe_now_ns() - c->t_parsed_ns) / 1000),
                .snap_gen = c->up_gen,
        };

        /* no doorbell: done events are bookkeeping, read at the router's
         * next wake-up (a pick, or its 100 ms tick) */
        (void)ring_sp_push(w->to_router, SY_MSG_DONE, &d, sizeof d);
}


/* ---- picking ---------------------------------------------------------------------- */


static void no_endpoint(struct conn *c, int err) {
        if (c->n_tried > 0 && err != -ENOENT) {
                /* a retry found no other endpoint (e.g. a model behind a single
                 * gateway, which does its own failover): the attempt's failure */
                respond_error(c, 502, "server_error", NULL, "upstream_error",
                              "the upstream for model `%s` failed before answering (%u attempts)", c->model,
                              c->n_tried);
                return;
        }
        if (err == -ENOENT)
                respond_error(c, 404, "invalid_request_error", "owned_by", "model_not_found",
                              "The model `%s` is not served by engine `%s`", c->model,
                              c->engine[0] ? c->engine : "(default)");
        else
                respond_error(c, 503, "server_error", NULL, "no_healthy_upstream",
                              "no healthy endpoint for model `%s` right now", c->model);
}

static enum stage_rc pick_local(struct conn *c) {
        struct worker *w = c->w;
        const struct snap_model *m;
        int u;

        worker_refresh_snapshot(w);
        m = snapshot_find_model(w->snap, c->model, strlen(c->model));
        if (!m) {
                respond_error(c, 404, "invalid_request_error", "model", "model_not_found",
                              "The model `%s` does not exist", c->model);
                return STAGE_DONE;
        }
        u = snapshot_pick(w->snap, m, c->engine, strlen(c->engine), c->tried, c->n_tried, w->inflight, &w->rr);
        if (u < 0) {
                no_endpoint(c, u);
                return STAGE_DONE;
        }
        c->router_picked = false;
        c->up_gen = (uint32_t)w->snap->config_generation;
        if (router_alive(w)) {
                struct sy_dispatch d = { .req_id = c->req_id, .upstream = (uint16_t)u, .snap_gen = c->up_gen };
                if (ring_sp_push(w->to_router, SY_MSG_DISPATCH, &d, sizeof d) == 0)
                        c->router_picked = true; /* the router counts it; the done event uncounts it */
        }
        c->picked_upstream = u;
        FE_MARK(picked, c);
        return STAGE_NEXT;
}

/* pick_local() from a completion: the pipeline goes on from here */
static void pick_local_resume(struct conn *c) {
        if (pick_local(c) == STAGE_NEXT)
                pipeline_resume(c);
}

/* Every endpoint saturated: 429 for a sheddable request, else 503, with
 * Retry-After (the router's answer, or ours when it is late) */
static void shed(struct conn *c, unsigned retry_after_s) {
        unsigned ra = retry_after_s ? retry_after_s : 1;

        atomic_fetch_add_explicit(&c->w->metrics.shed, 1, memory_order_relaxed);
        c->retry_after_s = ra;
        if (c->sheddable)
                respond_error(c, 429, "rate_limit_exceeded", NULL, "model_overloaded",
                              "every endpoint of model `%s` is saturated; retry after %u s", c->model, ra);
        else
                respond_error(c, 503, "server_error", NULL, "model_overloaded",
                              "every endpoint of model `%s` is saturated; retry after %u s", c->model, ra);
}

/* Is every upstream of the model for the requested engine saturated in our snapshot? */
static bool all_saturated(struct conn *c) {
        struct worker *w = c->w;
        const struct snap_model *m = snapshot_find_model(w->snap, c->model, strlen(c->model));
        unsigned n = 0;

        if (!m)
                return false;
        for (uint16_t k = 0; k < m->n_upstreams; k++)
                if (snapshot_engine_matches(w->snap, m, m->upstreams[k], c->engine, strlen(c->engine))) {
                        if (!w->snap->upstreams[m->upstreams[k]].saturated)
                                return false;
                        n++;
                }
        return n > 0;
}

/* Does the model have exactly one upstream for the requested engine? */
static bool single_candidate(struct conn *c) {
        struct worker *w = c->w;
        const struct snap_model *m = snapshot_find_model(w->snap, c->model, strlen(c->model));
        unsigned n = 0;

        if (!m)
                return false;
        for (uint16_t k = 0; k < m->n_upstreams && n < 2; k++)
                if (snapshot_engine_matches(w->snap, m, m->upstreams[k], c->engine, strlen(c->engine))) {
                        /* a saturated one: the router queues or sheds */
                        if (w->snap->upstreams[m->upstreams[k]].saturated)
                                return false;
                        n++;
                }
        return n == 1 && c->n_tried == 0;
}

static enum stage_rc run(struct conn *c) {
        struct worker *w = c->w;
        struct sy_pick_req q = { 0 };
        size_t ml = strlen(c->model), el = strlen(c->engine), sl = strlen(c->session), blen;
        uint64_t prefix[16];
        int np = 0;
        struct iovec iov[5];

        c->state = CS_PICKING;
        if (!router_alive(w)) {
                atomic_fetch_add_explicit(&w->metrics.fallback_picks, 1, memory_order_relaxed);
                return pick_local(c);
        }
        c->req_id = ++w->next_req_id;
        if (single_candidate(c)) {
                /* nothing to choose: pick here and tell the router, which
                 * counts the request in flight, without waiting for it */
                return pick_local(c);
        }
        /* prefix-cache affinity: chained hashes over the raw bytes of the
         * prompt's JSON value, as the router's index keeps them (two requests
         * sharing a system prompt share their first hashes); only the
         * router uses them, so they are made only when it is asked */
        if (c->prompt_len)
                np = prefix_hash_chain(proxy_body(c, &blen) + c->prompt_off, c->prompt_len, SY_PICK_PREFIX_BLOCK,
                                       prefix, sizeof prefix / sizeof prefix[0]);
        if (np < 0)
                np = 0;
        q.req_id = c->req_id;
        q.model_len = (uint16_t)ml;
        q.owned_by_len = (uint16_t)el;
        q.session_len = (uint16_t)sl;
        q.n_exclude = (uint16_t)(c->n_tried < SY_PICK_MAX_EXCLUDE ? c->n_tried : SY_PICK_MAX_EXCLUDE);
        memcpy(q.exclude, c->tried, q.n_exclude * sizeof q.exclude[0]);
        q.token_estimate = c->token_estimate;
        q.flags = c->sheddable ? SY_PICK_SHEDDABLE : 0;
        q.n_prefix = (uint16_t)np;
        iov[0] = (struct iovec){ &q, sizeof q };
        iov[1] = (struct iovec){ prefix, (size_t)np * sizeof prefix[0] };
        iov[2] = (struct iovec){ c->model, ml };
        iov[3] = (struct iovec){ c->engine, el };
        iov[4] = (struct iovec){ c->session, sl };
        if (ring_sp_pushv(w->to_router, SY_MSG_PICK_REQ, iov, 5) < 0) {
                atomic_fetch_add_explicit(&w->metrics.fallback_picks, 1, memory_order_relaxed);
                return pick_local(c);
        }
        pick_ring_router(w);
        c->pick_deadline_ns = fe_now_ns() + (uint64_t)c->cfg->router.pick_timeout_us * 1000ULL;
        FE_MARK(enqueued, c);
        worker_pending_add(c);
        return STAGE_SUSPEND;
}

const struct stage stage_pick = { "pick", run };

void pick_reply(struct worker *w, const void *msg, uint32_t len) {
        const struct sy_pick_resp *r = msg;
        struct conn *c;

        if (len < sizeof *r)
                return;
        c = worker_pending_take(w, r->req_id, CS_PICKING);
        if (!c) {
                /* we gave up waiting and picked by ourselves: undo the router's count */
                if (r->status == 0 && r->n > 0) {
                        struct sy_done d = { .req_id = r->req_id,
                                             .upstream = r->upstream[0],
                                             .flags = SY_DONE_PICKED_BY_ROUTER,
                                             .snap_gen = r->snap_gen };
                        if (ring_sp_push(w->to_router, SY_MSG_DONE, &d, sizeof d) == 0)
                                pick_ring_router(w);
                }
                return;
        }
        if (r->snap_version > w->snap_version)
                worker_refresh_snapshot(w);
        if (r->status == -EINPROGRESS) {
                /* queued in the router (every endpoint saturated): its answer
                 * comes within wait_ms; our own timeout covers a router that dies */
                c->queued = true;
                atomic_fetch_add_explicit(&w->metrics.queued, 1, memory_order_relaxed);
                c->pick_deadline_ns = fe_now_ns() + (uint64_t)r->wait_ms * 1000000ULL +
                                      (uint64_t)c->cfg->router.pick_timeout_us * 1000ULL;
                worker_waiting_add(c);
                return;
        }
        if (r->status == -EBUSY) {
                shed(c, r->retry_after_s);
                return;
        }
        if (r->status < 0 || r->n == 0) {
                if (r->status == -ENOENT && !snapshot_find_model(w->snap, c->model, strlen(c->model)))
                        respond_error(c, 404, "invalid_request_error", "model", "model_not_found",
                                      "The model `%s` does not exist", c->model);
                else
                        no_endpoint(c, r->status);
                return;
        }
        if (r->upstream[0] >= w->snap->n_upstreams || w->snap->upstreams[r->upstream[0]].removed ||
            w->snap->upstreams[r->upstream[0]].since_gen > r->snap_gen) {
                /* the slot changed hands after the router picked it (our snapshot is
                 * newer): undo the router's count, pick here */
                struct sy_done d = { .req_id = r->req_id,
                                     .upstream = r->upstream[0],
                                     .flags = SY_DONE_PICKED_BY_ROUTER,
                                     .snap_gen = r->snap_gen };
                (void)ring_sp_push(w->to_router, SY_MSG_DONE, &d, sizeof d);
                pick_local_resume(c);
                return;
        }
        c->router_picked = true;
        c->up_gen = r->snap_gen;
        c->picked_upstream = r->upstream[0];
        FE_MARK(picked, c);
        pipeline_resume(c);
}

void pick_timeout(struct conn *c) {
        /* queued in the router and its answer is late (a loaded host, or the
         * router died): while our snapshot still has every endpoint saturated,
         * answer as the router's queue timeout would, instead of sending the
         * request to a saturated replica */
        if (c->queued && all_saturated(c)) {
                shed(c, c->cfg->router.retry_after_s);
                return;
        }
        atomic_fetch_add_explicit(&c->w->metrics.fallback_picks, 1, memory_order_relaxed);
        pick_local_resume(c);
}
