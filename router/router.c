/* The router process.
 *
 * One thread, one epoll loop: the doorbell FIFO (frontend workers ring it
 * when the router sleeps), health-check sockets, and a timeout for the next
 * health tick / heartbeat. Each wake-up drains every worker's TO_PEER ring:
 * pick requests are answered on the worker's FROM_PEER ring, done events
 * update in-flight counts and passive health.
 *
 * Configuration changes (SIGHUP, discovery, admin API) are applied by
 * router_apply(): upstreams keep their snapshot slot while their name
 * exists (proto/snapshot.h), so indexes a worker holds for a request in
 * flight stay right across applies; events that name a slot which changed
 * hands since they were picked are ignored (proto/msg.h snap_gen). Known
 * upstreams keep their resolved address; new host names are resolved in
 * the background (router/resolver.h), so an apply never waits on DNS.
 *
 * Gateway upstreams (kind gateway: an llm-d / InferencePool gateway that
 * does its own picking and failover): any HTTP answer to the health check
 * means alive, and passive ejection counts only attempts that got no HTTP
 * answer at all; a 5xx relayed from behind the gateway is the gateway
 * answering. */
#include "router/router.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/config.h"
#include "common/file.h"
#include "common/log.h"
#include "common/notify.h"
#include "proto/msg.h"
#include "proto/peer.h"
#include "proto/runtime.h"
#include "proto/snapshot.h"
#include "router/admin.h"
#include "router/discovery.h"
#include "router/health.h"
#include "router/picker.h"
#include "router/queue.h"
#include "router/resolver.h"
#include "router/scrape.h"

#define PUBLISH_NS (250ULL * 1000000ULL)
#define RESOLVE_NS (2000ULL * 1000000ULL)

struct router {
        struct sy_config *cfg; /* in effect: file + discovered + admin changes */
        char *config_path;
        char *base_yaml; /* the file's text as last loaded (start, SIGHUP) */
        size_t base_len;
        struct discovery *disc; /* router/discovery.h; NULL without sources */
        struct admin *admin;    /* router/admin.h; NULL unless configured */
        struct peer peer;       /* the ring pairs with the workers (proto/peer.h) */
        struct health *health;
        struct scrape *scrape;     /* /metrics load signals (router/scrape.h) */
        struct picker *picker;     /* in-flight counts, scores, picks (router/picker.h) */
        struct resolver *resolver; /* background lookups of unresolved hosts (router/resolver.h) */
        struct pick_queue queue;   /* picks waiting while every endpoint is saturated */
        int epfd, sig_fd;
        struct snapshot snap;
        uint8_t was_healthy[SNAP_MAX_UPSTREAMS];
        bool usable[SNAP_MAX_UPSTREAMS]; /* not passively ejected */
        uint32_t fail_run[SNAP_MAX_UPSTREAMS];
        uint64_t ejected_until[SNAP_MAX_UPSTREAMS];
        unsigned rr;
        bool dirty;
        bool publish_now; /* an ejection: publish at this wake-up, not within PUBLISH_NS */
        uint64_t generation;
};

static uint32_t live_upstreams(const struct snapshot *s) {
        uint32_t n = 0;

        for (uint32_t u = 0; u < s->n_upstreams; u++)
                n += !s->upstreams[u].removed;
        return n;
}

static int publish(struct router *r) {
        picker_update_snapshot(r->picker, &r->snap, shm_now_ns());
        r->dirty = false;
        r->publish_now = false;
        return shm_snap_publish(r->peer.seg, &r->snap, sizeof r->snap);
}

/* The snapshot's healthy flag is what the frontend sees: active health
 * and passive ejection together. */
static bool upstream_usable(struct router *r, unsigned u, uint64_t now) {
        return r->ejected_until[u] <= now;
}

static void reply(struct router *r, uint32_t w, const struct sy_pick_resp *resp) {
        if (ring_sp_push(peer_out(&r->peer, w), SY_MSG_PICK_RESP, resp, sizeof *resp) < 0)
                log_warn("reply ring full; the worker will pick by itself");
}

static void picker_req_of(const struct pick_queue_ent *e, struct picker_req *pq) {
        *pq = (struct picker_req){
                .engine = e->engine,
                .engine_len = e->engine_len,
                .exclude = e->exclude,
                .n_exclude = e->n_exclude,
                .prefix = e->prefix,
                .n_prefix = e->n_prefix,
                .session = e->session,
                .has_session = e->has_session,
                .tokens = e->tokens,
        };
}

/* Picks for e; fills resp. Returns picker_pick's result (-EBUSY: every
 * endpoint saturated, nothing counted). */
static int pick_for(struct router *r, const struct snap_model *m, const struct pick_queue_ent *e,
                    struct sy_pick_resp *resp, uint64_t now) {
        struct picker_req pq;
        int n;

        picker_req_of(e, &pq);
        for (unsigned u = 0; u < r->snap.n_upstreams; u++)
                r->usable[u] = upstream_usable(r, u, now);
        n = picker_pick(r->picker, &r->snap, m, &pq, r->usable, now, resp->upstream, SY_PICK_MAX_RESULTS);
        resp->status = 0;
        resp->n = 0;
        if (n == -EBUSY)
                return n;
        if (n <= 0) {
                resp->status = n < 0 ? n : -EHOSTUNREACH;
                return resp->status;
        }
        resp->n = (uint16_t)n;
        picker_dispatch(r->picker, resp->upstream[0], &pq, now);
        r->dirty = true;
        return n;
}

static void shed(struct router *r, struct sy_pick_resp *resp) {
        resp->status = -EBUSY;
        resp->n = 0;
        resp->retry_after_s = (uint16_t)r->cfg->router.retry_after_s;
}

static void handle_pick(struct router *r, uint32_t w, const struct sy_pick_req *q, uint32_t len, uint64_t now) {
        struct sy_pick_resp resp = { .req_id = q->req_id,
                                     .snap_version = shm_snap_version(r->peer.seg),
                                     .snap_gen = (uint32_t)r->snap.config_generation };
        const char *model, *engine, *session;
        const struct snap_model *m;
        struct pick_queue_ent *e;
        size_t hl;
        int n;

        if (len < sizeof *q || q->n_exclude > SY_PICK_MAX_EXCLUDE || q->n_prefix > SY_PICK_MAX_PREFIX ||
            (size_t)q->n_prefix * 8 + q->model_len + q->owned_by_len + q->session_len > len - sizeof *q) {
                resp.status = -EBADMSG;
                goto reply;
        }
        hl = (size_t)q->n_prefix * 8;
        model = (const char *)(q + 1) + hl;
        engine = model + q->model_len;
        session = engine + q->owned_by_len;
        m = snapshot_find_model(&r->snap, model, q->model_len);
        if (!m) {
                resp.status = -ENOENT;
                goto reply;
        }
        if (q->owned_by_len >= SNAP_SHORT) {
                resp.status = -ENOENT; /* no engine name is that long */
                goto reply;
        }
        e = pick_queue_get(&r->queue);
        if (!e) {
                resp.status = -ENOMEM;
                goto reply;
        }
        e->req_id = q->req_id;
        e->worker = w;
        e->tokens = q->token_estimate;
        e->flags = q->flags;
        e->n_exclude = q->n_exclude;
        memcpy(e->exclude, q->exclude, q->n_exclude * sizeof e->exclude[0]);
        e->n_prefix = q->n_prefix;
        memcpy(e->prefix, q + 1, hl);
        e->engine_len = q->owned_by_len;
        memcpy(e->engine, engine, q->owned_by_len);
        e->engine[q->owned_by_len] = 0;
        e->model_len = q->model_len;
        memcpy(e->model, model, q->model_len);
        e->model[q->model_len] = 0;
        e->has_session = q->session_len > 0;
        e->session = e->has_session ? picker_session_hash(session, q->session_len) : 0;
        n = pick_for(r, m, e, &resp, now);
        if (n == -EBUSY) {
                /* every endpoint saturated: wait in the router's queue */
                uint32_t ms = r->cfg->router.queue.timeout_ms;
                e->deadline_ns = now + (uint64_t)ms * 1000000ULL;
                if (pick_queue_push(&r->queue, (unsigned)(m - r->snap.models), e, r->cfg->router.queue.max) == 0) {
                        resp.status = -EINPROGRESS;
                        resp.wait_ms = ms;
                        goto reply;
                }
                shed(r, &resp);
        }
        pick_queue_put(&r->queue, e);
reply:
        reply(r, w, &resp);
}

/* Queued picks: answer those whose endpoint freed up, shed those past
 * their deadline. Returns true if any answer went out. */
static bool serve_queue(struct router *r, uint64_t now) {
        bool sent = false;

        if (!r->queue.total)
                return false;
        for (unsigned mi = 0; mi < r->snap.n_models; mi++) {
                struct pick_queue_ent *e;

                while ((e = pick_queue_head(&r->queue, mi)) != NULL) {
                        struct sy_pick_resp resp = { .req_id = e->req_id,
                                                     .snap_version = shm_snap_version(r->peer.seg),
                                                     .snap_gen = (uint32_t)r->snap.config_generation };
                        int n = pick_for(r, &r->snap.models[mi], e, &resp, now);

                        if (n == -EBUSY) {
                                if (e->deadline_ns > now)
                                        break; /* FIFO: the rest wait behind it */
                                shed(r, &resp);
                        }
                        pick_queue_pop(&r->queue, mi);
                        reply(r, e->worker, &resp);
                        peer_wake(&r->peer, e->worker);
                        pick_queue_put(&r->queue, e);
                        sent = true;
                }
        }
        return sent;
}

/* After a reload the models may have moved: requeue by name; those whose
 * model is gone get -ENOENT. */
static void requeue(struct router *r) {
        struct pick_queue_ent *list = NULL, **tail = &list, *e;

        for (unsigned mi = 0; mi < SNAP_MAX_MODELS; mi++)
                while ((e = pick_queue_pop(&r->queue, mi)) != NULL) {
                        *tail = e;
                        tail = &e->next;
                }
        while ((e = list) != NULL) {
                const struct snap_model *m = snapshot_find_model(&r->snap, e->model, e->model_len);

                list = e->next;
                if (m && pick_queue_push(&r->queue, (unsigned)(m - r->snap.models), e, UINT32_MAX) == 0)
                        continue;
                struct sy_pick_resp resp = { .req_id = e->req_id,
                                             .snap_version = shm_snap_version(r->peer.seg),
                                             .snap_gen = (uint32_t)r->snap.config_generation,
                                             .status = -ENOENT };
                reply(r, e->worker, &resp);
                peer_wake(&r->peer, e->worker);
                pick_queue_put(&r->queue, e);
        }
}

/* Does an event picked from the snapshot of generation gen still refer to
 * what slot u holds? (Slots change hands only when a removed upstream's
 * tombstone is reused.) */
static bool slot_current(const struct router *r, unsigned u, uint32_t gen) {
        return u < r->snap.n_upstreams && gen >= r->snap.upstreams[u].since_gen;
}

static void handle_done(struct router *r, const struct sy_done *d, uint64_t now) {
        unsigned u = d->upstream;
        bool failed = d->flags & SY_DONE_FAILED;

        if (!slot_current(r, u, d->snap_gen))
                return; /* about a previous occupant of the slot, whose counts went with it */
        if (d->flags & SY_DONE_PICKED_BY_ROUTER)
                picker_done(r->picker, u);
        if (r->snap.upstreams[u].removed)
                return; /* tombstone: in-flight count only */
        if (failed && d->http_status && r->snap.upstreams[u].kind == SY_UPSTREAM_GATEWAY)
                failed = false; /* the gateway answered (a 5xx, or a stream cut behind it) */
        if (failed) {
                unsigned limit = r->cfg->router.passive_failures ? r->cfg->router.passive_failures : 3;
                if (++r->fail_run[u] >= limit && r->ejected_until[u] <= now) {
                        unsigned ms = r->cfg->router.ejection_ms ? r->cfg->router.ejection_ms : 5000;
                        r->ejected_until[u] = now + (uint64_t)ms * 1000000ULL;
                        r->snap.upstreams[u].healthy = 0;
                        r->publish_now = true;
                        log_warn("upstream %s ejected for %u ms after %u failures in a row", r->snap.upstreams[u].name,
                                 ms, r->fail_run[u]);
                }
        } else if (d->http_status) {
                r->fail_run[u] = 0;
        }
        r->dirty = true;
}

struct drain_arg {
        struct router *r;
        uint64_t now;
};

static int on_message(void *arg, uint32_t w, uint16_t type, const void *msg, uint32_t len) {
        struct drain_arg *a = arg;
        struct router *r = a->r;

        if (type == SY_MSG_PICK_REQ)
                handle_pick(r, w, msg, len, a->now);
        else if (type == SY_MSG_DONE && len >= sizeof(struct sy_done))
                handle_done(r, msg, a->now);
        else if (type == SY_MSG_DISPATCH && len >= sizeof(struct sy_dispatch) &&
                 slot_current(r, ((const struct sy_dispatch *)msg)->upstream,
                              ((const struct sy_dispatch *)msg)->snap_gen)) {
                picker_dispatch_note(r->picker, ((const struct sy_dispatch *)msg)->upstream);
                r->dirty = true;
        }
        return 0;
}

/* every worker's requests and events; a worker that sent any is woken
 * for the answers */
static unsigned drain_rings(struct router *r, uint64_t now) {
        struct drain_arg a = { r, now };

        return peer_drain(&r->peer, 256, PEER_DRAIN_WAKE, on_message, &a);
}

/* Applies a new configuration (takes nc): a new snapshot in which every
 * upstream that keeps its name keeps its slot and resolved address, with
 * health, passive-ejection, load and picker state carried over for it
 * (proto/snapshot.h). Never waits on DNS: new host names are resolved in
 * the background. On failure nc is freed and the running configuration
 * stays. */
static int router_apply(struct router *r, struct sy_config *nc) {
        char err[512];
        struct snapshot *ns;
        uint64_t gen = r->generation + 1;
        int ret;

        ns = malloc(sizeof *ns);
        if (!ns) {
                sy_config_free(nc);
                return -ENOMEM;
        }
        ret = snapshot_build_from(nc, &r->snap, gen, 0, ns, err, sizeof err);
        if (ret < 0) {
                log_err("reload refused, keeping the old configuration: %s",
                        ret == -E2BIG ? "too many upstreams" : err);
                free(ns);
                sy_config_free(nc);
                return ret;
        }
        if (err[0])
                log_notice("%s", err);
        struct picker_params pp;
        picker_params_from_config(nc, &pp);
        ret = picker_rebind(r->picker, &pp, &r->snap, ns, shm_now_ns());
        if (ret < 0) {
                log_err("reload refused, keeping the old configuration: %s", strerror(-ret));
                free(ns);
                sy_config_free(nc);
                return ret;
        }
        /* carry health and passive ejection over for slots that hold the
         * same live upstream at the same address */
        for (uint32_t i = 0; i < ns->n_upstreams; i++) {
                struct snap_upstream *nu = &ns->upstreams[i];
                const struct snap_upstream *ou = i < r->snap.n_upstreams ? &r->snap.upstreams[i] : NULL;

                if (ou && snapshot_same_upstream(ou, nu)) {
                        nu->healthy = ou->healthy;
                } else {
                        r->fail_run[i] = 0;
                        r->ejected_until[i] = 0;
                }
                r->was_healthy[i] = nu->healthy;
        }
        for (uint32_t i = ns->n_upstreams; i < SNAP_MAX_UPSTREAMS; i++) {
                r->fail_run[i] = 0;
                r->ejected_until[i] = 0;
        }
        r->generation = gen;
        health_rebind(r->health, nc, ns);
        scrape_rebind(r->scrape, nc, &r->snap, ns);
        r->snap = *ns;
        free(ns);
        sy_config_free(r->cfg);
        r->cfg = nc;
        requeue(r);
        publish(r);
        log_notice("configuration applied: %u upstreams, %u models (generation %llu)", live_upstreams(&r->snap),
                   r->snap.n_models, (unsigned long long)gen);
        return 0;
}

/* The configuration in effect: the file's (as last loaded), then the
 * discovered upstreams, then the admin API's changes. */
static int rebuild(struct router *r, char *err, size_t errlen) {
        struct sy_config *nc;
        int ret = sy_config_load_string(r->config_path, r->base_yaml, r->base_len, &nc, err, errlen);

        if (ret < 0)
                return ret;
        if (r->disc)
                discovery_merge(r->disc, nc);
        if (r->admin)
                admin_overlay(r->admin, nc);
        if (nc->n_upstreams > SNAP_MAX_UPSTREAMS || nc->n_models > SNAP_MAX_MODELS) {
                snprintf(err, errlen, "%zu upstreams and %zu models: more than %d / %d", nc->n_upstreams, nc->n_models,
                         SNAP_MAX_UPSTREAMS, SNAP_MAX_MODELS);
                sy_config_free(nc);
                return -E2BIG;
        }
        ret = router_apply(r, nc);
        if (ret < 0)
                snprintf(err, errlen, "the new configuration was refused (%s); see the router's log", strerror(-ret));
        return ret;
}

/* SIGHUP: the file again. Discovery restarts only if its sources changed. */
static int reload(struct router *r) {
        char err[512], *text = NULL;
        size_t len = 0;
        struct sy_config *nc;
        int ret = sy_read_file(r->config_path, 8u << 20, &text, &len);

        if (ret < 0) {
                log_err("reload refused, keeping the old configuration: %s: %s", r->config_path, strerror(-ret));
                return ret;
        }
        ret = sy_config_load_string(r->config_path, text, len, &nc, err, sizeof err);
        if (ret < 0) {
                log_err("reload refused, keeping the old configuration: %s", err);
                free(text);
                return ret;
        }
        if (!discovery_same_sources(r->cfg, nc)) {
                struct discovery *d = NULL;
                ret = nc->n_discovery ? discovery_new(nc, &d, err, sizeof err) : 0;
                if (ret < 0) {
                        log_err("reload refused, keeping the old configuration: %s", err);
                        sy_config_free(nc);
                        free(text);
                        return ret;
                }
                if (r->disc) {
                        epoll_ctl(r->epfd, EPOLL_CTL_DEL, discovery_fd(r->disc), NULL);
                        discovery_free(r->disc);
                }
                r->disc = d;
                if (d) {
                        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &r->disc };
                        epoll_ctl(r->epfd, EPOLL_CTL_ADD, discovery_fd(d), &ev);
                }
        }
        sy_config_free(nc);
        free(r->base_yaml);
        r->base_yaml = text;
        r->base_len = len;
        ret = rebuild(r, err, sizeof err);
        if (ret < 0)
                log_err("reload: %s", err);
        return ret;
}

static void on_hup(void *arg) { /* SIGHUP */
        reload(arg);
}

/* ---- admin API glue ---- */

static int admin_apply_cb(void *arg, char *err, size_t errlen) {
        return rebuild(arg, err, errlen);
}

static const struct sy_config *admin_config_cb(void *arg) {
        return ((struct router *)arg)->cfg;
}

static const struct snapshot *admin_snapshot_cb(void *arg) {
        return &((struct router *)arg)->snap;
}

static int admin_info_cb(void *arg, unsigned u, struct picker_upstream_info *ret) {
        return picker_upstream_info(((struct router *)arg)->picker, u, shm_now_ns(), ret);
}

static const char *admin_health_cb(void *arg, unsigned u) {
        return health_reason(((struct router *)arg)->health, u);
}

static void admin_refresh_cb(void *arg) {
        struct router *r = arg;
        if (r->disc)
                discovery_refresh(r->disc);
}

static int admin_discovery_cb(void *arg, struct buf *out) {
        struct router *r = arg;
        if (!r->disc)
                return buf_printf(out, "[]") < 0 ? -ENOMEM : 0;
        return discovery_status_json(r->disc, out);
}

/* The first snapshot. Where the shared segment holds one published by a
 * router that ran before (a restart), it follows that one: workers may
 * have requests in flight that name its slots, and its known upstreams
 * need no lookup; generations go on from its. Else slots in configuration
 * order, since_gen 0, as in the frontend's boot snapshot. */
static int build_first_snapshot(struct router *r, char *err, size_t errlen) {
        struct snapshot *prev = malloc(sizeof *prev);
        uint64_t version = 0;
        uint32_t len = 0;
        int ret;

        if (prev && (shm_snap_read(r->peer.seg, prev, sizeof *prev, &len, &version) < 0 || len != sizeof *prev)) {
                free(prev);
                prev = NULL;
        }
        r->generation = prev ? prev->config_generation + 1 : 1;
        ret = snapshot_build_from(r->cfg, prev, r->generation, SNAP_BUILD_RESOLVE, &r->snap, err, errlen);
        if (ret == -E2BIG && prev) /* the old slots do not leave room: start over in config order */
                ret = snapshot_build_from(r->cfg, NULL, r->generation, SNAP_BUILD_RESOLVE, &r->snap, err, errlen);
        if (ret == -E2BIG)
                snprintf(err, errlen, "too many upstreams or models");
        if (prev)
                log_info("following the published snapshot (generation %llu, %u slots)",
                         (unsigned long long)prev->config_generation, prev->n_upstreams);
        free(prev);
        return ret;
}

int router_main(const char *config_path) {
        struct router *r = calloc(1, sizeof *r);
        char err[512];
        uint64_t last_pub = 0;
        int ret, code = 1;

        sy_log_init("router");
        signal(SIGPIPE, SIG_IGN); /* bell_ring: EPIPE instead of a signal, one write per ring */
        if (!r)
                return 1;
        r->epfd = r->sig_fd = -1;
        pick_queue_init(&r->queue);
        r->config_path = strdup(config_path);
        ret = sy_read_file(config_path, 8u << 20, &r->base_yaml, &r->base_len);
        if (ret < 0) {
                log_err("%s: %s", config_path, strerror(-ret));
                goto out;
        }
        ret = sy_config_load_string(config_path, r->base_yaml, r->base_len, &r->cfg, err, sizeof err);
        if (ret < 0) {
                log_err("%s", err);
                goto out;
        }
        ret = peer_open(&r->peer, r->cfg, SHM_PEER_ROUTER, err, sizeof err);
        if (ret < 0) {
                log_err("%s", err);
                goto out;
        }
        ret = build_first_snapshot(r, err, sizeof err);
        if (ret < 0) {
                log_err("%s", err);
                goto out;
        }
        if (err[0])
                log_warn("%s", err);
        ret = peer_listen(&r->peer, SY_ROUTER_BELL, err, sizeof err);
        if (ret < 0) {
                log_err("%s", err);
                goto out;
        }
        r->sig_fd = sy_signalfd_open(SFD_CLOEXEC | SFD_NONBLOCK);
        r->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (r->sig_fd < 0 || r->epfd < 0)
                goto out;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &r->peer.bell_fd };
        epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->peer.bell_fd, &ev);
        ev.data.ptr = &r->sig_fd;
        epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->sig_fd, &ev);
        ret = health_new(r->epfd, r->cfg, &r->snap, &r->health);
        if (ret < 0)
                goto out;
        ret = resolver_new(RESOLVE_NS, &r->resolver);
        if (ret < 0)
                goto out;
        ret = scrape_new(r->epfd, r->cfg, &r->scrape);
        if (ret < 0)
                goto out;
        struct picker_params pp;
        picker_params_from_config(r->cfg, &pp);
        pp.seed ^= (uint64_t)getpid() << 32 ^ shm_now_ns();
        ret = picker_new(&pp, &r->snap, shm_now_ns(), &r->picker);
        if (ret < 0)
                goto out;
        for (uint32_t u = 0; u < r->snap.n_upstreams; u++)
                r->was_healthy[u] = r->snap.upstreams[u].healthy;
        if (r->cfg->n_discovery) {
                ret = discovery_new(r->cfg, &r->disc, err, sizeof err);
                if (ret < 0) {
                        log_err("%s", err);
                        goto out;
                }
                ev.data.ptr = &r->disc;
                epoll_ctl(r->epfd, EPOLL_CTL_ADD, discovery_fd(r->disc), &ev);
        }
        if (r->cfg->admin.enabled) {
                struct admin_ops ops = {
                        .arg = r,
                        .apply = admin_apply_cb,
                        .config = admin_config_cb,
                        .snapshot = admin_snapshot_cb,
                        .info = admin_info_cb,
                        .refresh = admin_refresh_cb,
                        .discovery_json = admin_discovery_cb,
                        .health_reason = admin_health_cb,
                };
                ret = admin_new(r->epfd, r->cfg, &ops, &r->admin, err, sizeof err);
                if (ret < 0) {
                        log_err("%s", err);
                        goto out;
                }
                log_notice("admin API on %s:%u%s%s", r->cfg->admin.host, r->cfg->admin.port,
                           r->cfg->admin.state_file ? ", changes kept in " : " (changes not kept across restarts)",
                           r->cfg->admin.state_file ? r->cfg->admin.state_file : "");
                /* changes kept in the state file apply from the start */
                if (rebuild(r, err, sizeof err) < 0)
                        log_err("admin state not applied: %s", err);
        }

        peer_attach(&r->peer);
        publish(r);
        peer_wake_all(&r->peer);
        log_notice("router up: %u upstreams, %u models", r->snap.n_upstreams, r->snap.n_models);
        sy_notify_ready("routing");

        for (;;) {
                struct epoll_event evs[64];
                uint64_t now = shm_now_ns();
                bool changed = false;
                int timeout, n;

                drain_rings(r, now);
                timeout = health_tick(r->health, &r->snap, now, &changed);
                n = scrape_tick(r->scrape, &r->snap, r->picker, now, &changed);
                if (n < timeout)
                        timeout = n;
                for (uint32_t u = 0; u < r->snap.n_upstreams; u++)
                        if (r->ejected_until[u] && r->ejected_until[u] <= now) {
                                r->ejected_until[u] = 0;
                                r->fail_run[u] = 0;
                                /* re-admitted: what the active checks say */
                                r->snap.upstreams[u].healthy = health_up(r->health, u);
                                changed = true;
                                log_notice("upstream %s re-admitted", r->snap.upstreams[u].name);
                        }
                if (changed || r->publish_now || (r->dirty && now - last_pub >= PUBLISH_NS)) {
                        /* ejected upstreams stay out of the published set */
                        for (uint32_t u = 0; u < r->snap.n_upstreams; u++)
                                if (r->ejected_until[u] > now)
                                        r->snap.upstreams[u].healthy = 0;
                        publish(r);
                        last_pub = now;
                }
                {
                        /* upstreams whose host did not resolve (yet): background
                         * lookups, collected here; the loop never waits on DNS */
                        bool resolved = false;
                        n = resolver_tick(r->resolver, &r->snap, now, &resolved);
                        if (n < timeout)
                                timeout = n;
                        if (resolved) {
                                health_resolved(r->health, &r->snap);
                                changed = true;
                        }
                }
                peer_heartbeat(&r->peer, now);
                if (timeout > 100)
                        timeout = 100;
                if (r->dirty && timeout > 250)
                        timeout = 250;
                if (r->queue.total) {
                        uint64_t d = pick_queue_next_deadline(&r->queue);
                        int qt = d > now ? (int)((d - now + 999999) / 1000000) : 0;
                        if (qt < timeout)
                                timeout = qt;
                }
                if (!peer_prepare_sleep(&r->peer))
                        timeout = 0;
                n = epoll_wait(r->epfd, evs, 64, timeout);
                uint64_t gen0 = r->generation;
                for (int i = 0; i < n; i++) {
                        void *p = evs[i].data.ptr;
                        /* a configuration applied (reload, discovery, admin) rebound the
                         * health and scrape sockets: the rest of these events are stale
                         * (level-triggered: live ones come back) */
                        if (r->generation != gen0)
                                break;
                        if (p == &r->disc && r->disc) {
                                char e2[512];
                                if (rebuild(r, e2, sizeof e2) < 0)
                                        log_err("discovered upstreams not applied: %s", e2);
                        } else if (admin_owns(r->admin, p)) {
                                admin_event(r->admin, p, evs[i].events);
                        } else if (p == &r->peer.bell_fd) {
                                peer_doorbell(&r->peer); /* and a worker that attached since the last tick */
                        } else if (p == &r->sig_fd) {
                                if (sy_signals_drain(r->sig_fd, "router", on_hup, r)) {
                                        code = 0;
                                        goto out;
                                }
                        } else if (health_owns(r->health, p)) {
                                health_event(r->health, p, evs[i].events, &r->snap, shm_now_ns(), &changed);
                        } else if (scrape_owns(r->scrape, p)) {
                                scrape_event(r->scrape, p, evs[i].events, &r->snap, r->picker, shm_now_ns(), &changed);
                        }
                }
                peer_cancel_sleep(&r->peer);
                now = shm_now_ns();
                for (uint32_t u = 0; u < r->snap.n_upstreams; u++) {
                        /* back from unhealthy: it may have restarted with an empty cache */
                        if (r->snap.upstreams[u].healthy && !r->was_healthy[u])
                                picker_reset_prefix(r->picker, u);
                        r->was_healthy[u] = r->snap.upstreams[u].healthy;
                }
                serve_queue(r, now);
                if (picker_update_snapshot(r->picker, &r->snap, now))
                        changed = true; /* the frontend sends single-candidate picks of a saturated upstream here */
                if (changed) {
                        publish(r);
                        last_pub = shm_now_ns();
                }
        }
out:
        peer_close(&r->peer);
        admin_free(r->admin);
        discovery_free(r->disc);
        free(r->base_yaml);
        health_free(r->health);
        resolver_free(r->resolver);
        scrape_free(r->scrape);
        picker_free(r->picker);
        pick_queue_destroy(&r->queue);
        if (r->epfd >= 0)
                close(r->epfd);
        if (r->sig_fd >= 0)
                close(r->sig_fd);
        sy_config_free(r->cfg);
        free(r->config_path);
        free(r);
        return code;
}
