/* The router process.
 *
 * One thread, one epoll loop: the doorbell FIFO (frontend workers ring it
 * when the router sleeps), health-check sockets, and a timeout for the next
 * health tick / heartbeat. Each wake-up drains every worker's TO_PEER ring:
 * pick requests are answered on the worker's FROM_PEER ring, done events
 * update in-flight counts and passive health. */
#include "router/router.h"

#include <errno.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/notify.h"
#include "common/runtime.h"
#include "router/health.h"
#include "router/snapshot.h"
#include "shm/bell.h"
#include "shm/msg.h"
#include "shm/segment.h"

#define HEARTBEAT_NS (100ULL * 1000000ULL)
#define PUBLISH_NS (250ULL * 1000000ULL)
#define RESOLVE_NS (2000ULL * 1000000ULL)

struct router {
        struct sy_config *cfg;
        char *config_path;
        struct shm_seg *seg;
        struct health *health;
        int epfd, bell_fd, sig_fd;
        int worker_bell[1024];
        struct snapshot snap;
        uint32_t inflight[SNAP_MAX_UPSTREAMS];
        uint32_t fail_run[SNAP_MAX_UPSTREAMS];
        uint64_t ejected_until[SNAP_MAX_UPSTREAMS];
        unsigned rr;
        uint32_t n_attached;           /* worker slots to poll */
        bool dirty;
        uint64_t generation;
};

static int publish(struct router *r) {
        for (uint32_t i = 0; i < r->snap.n_upstreams; i++)
                r->snap.upstreams[i].inflight = r->inflight[i];
        r->dirty = false;
        return shm_snap_publish(r->seg, &r->snap, sizeof r->snap);
}

/* The snapshot's healthy flag is what the frontend sees: active health
 * and passive ejection together. */
static bool upstream_usable(struct router *r, unsigned u, uint64_t now) {
        return r->ejected_until[u] <= now;
}

static void wake_worker(struct router *r, uint32_t w, struct ring *out) {
        char path[512];

        if (!ring_sp_needs_wake(out))
                return;
        if (r->worker_bell[w] < 0) {
                if (sy_runtime_path(r->cfg, path, sizeof path, SY_WORKER_BELL, w) < 0 ||
                    bell_open_producer(path, &r->worker_bell[w]) < 0)
                        return;
        }
        if (bell_ring(r->worker_bell[w]) < 0) {
                close(r->worker_bell[w]);
                r->worker_bell[w] = -1;
        }
}

static void handle_pick(struct router *r, const struct sy_pick_req *q, uint32_t len, struct ring *out,
                        uint64_t now) {
        struct sy_pick_resp resp = { .req_id = q->req_id, .snap_version = shm_snap_version(r->seg) };
        const char *model = (const char *)(q + 1);
        const char *engine = model + q->model_len;
        const struct snap_model *m;
        uint16_t excl[SY_PICK_MAX_EXCLUDE + SNAP_MAX_MODEL_UPSTREAMS];
        unsigned nex;

        if (len < sizeof *q || (size_t)q->model_len + q->owned_by_len + q->session_len > len - sizeof *q ||
            q->n_exclude > SY_PICK_MAX_EXCLUDE) {
                resp.status = -EBADMSG;
                goto reply;
        }
        m = snapshot_find_model(&r->snap, model, q->model_len);
        if (!m) {
                resp.status = -ENOENT;
                goto reply;
        }
        nex = q->n_exclude;
        memcpy(excl, q->exclude, nex * sizeof excl[0]);
        for (unsigned i = 0; i < m->n_upstreams; i++)
                if (!upstream_usable(r, m->upstreams[i], now))
                        excl[nex++] = m->upstreams[i];
        while (resp.n < SY_PICK_MAX_RESULTS) {
                int u = snapshot_pick(&r->snap, m, engine, q->owned_by_len, excl, nex, r->inflight, &r->rr);
                if (u < 0) {
                        if (resp.n == 0)
                                resp.status = u;
                        break;
                }
                resp.upstream[resp.n++] = (uint16_t)u;
                excl[nex++] = (uint16_t)u;
        }
        if (resp.n > 0) {
                r->inflight[resp.upstream[0]]++;
                r->dirty = true;
        }
reply:
        if (ring_sp_push(out, SY_MSG_PICK_RESP, &resp, sizeof resp) < 0)
                log_warn("reply ring full; the worker will pick by itself");
}

static void handle_done(struct router *r, const struct sy_done *d, uint64_t now) {
        unsigned u = d->upstream;

        if (u >= r->snap.n_upstreams)
                return;
        if ((d->flags & SY_DONE_PICKED_BY_ROUTER) && r->inflight[u] > 0)
                r->inflight[u]--;
        if (d->flags & SY_DONE_FAILED) {
                unsigned limit = r->cfg->router.passive_failures ? r->cfg->router.passive_failures : 3;
                if (++r->fail_run[u] >= limit && r->ejected_until[u] <= now) {
                        unsigned ms = r->cfg->router.ejection_ms ? r->cfg->router.ejection_ms : 5000;
                        r->ejected_until[u] = now + (uint64_t)ms * 1000000ULL;
                        r->snap.upstreams[u].healthy = 0;
                        log_warn("upstream %s ejected for %u ms after %u failures in a row",
                                 r->snap.upstreams[u].name, ms, r->fail_run[u]);
                }
        } else if (d->http_status) {
                r->fail_run[u] = 0;
        }
        r->dirty = true;
}

/* Workers that ever attached: slots above the highest are not polled. */
static void update_attached(struct router *r) {
        const struct shm_layout *l = shm_seg_layout(r->seg);
        uint32_t n = 0;

        for (uint32_t w = 0; w < l->max_workers; w++)
                if (atomic_load_explicit(&shm_seg_worker(r->seg, w)->pid, memory_order_relaxed) != 0)
                        n = w + 1;
        r->n_attached = n;
}

static unsigned drain_rings(struct router *r, uint64_t now) {
        unsigned handled = 0;

        for (uint32_t w = 0; w < r->n_attached; w++) {
                struct ring *in = shm_seg_ring(r->seg, w, SHM_PEER_ROUTER, SHM_TO_PEER);
                struct ring *out = shm_seg_ring(r->seg, w, SHM_PEER_ROUTER, SHM_FROM_PEER);
                unsigned n = 0;
                uint16_t type;
                const void *msg;
                uint32_t len;

                while (n < 256 && ring_sc_peek(in, &type, &msg, &len) == 0) {
                        if (type == SY_MSG_PICK_REQ)
                                handle_pick(r, msg, len, out, now);
                        else if (type == SY_MSG_DONE && len >= sizeof(struct sy_done))
                                handle_done(r, msg, now);
                        else if (type == SY_MSG_DISPATCH && len >= sizeof(struct sy_dispatch) &&
                                 ((const struct sy_dispatch *)msg)->upstream < r->snap.n_upstreams) {
                                r->inflight[((const struct sy_dispatch *)msg)->upstream]++;
                                r->dirty = true;
                        }
                        ring_sc_release(in);
                        n++;
                }
                if (n)
                        wake_worker(r, w, out);
                handled += n;
        }
        return handled;
}

static bool prepare_sleep(struct router *r) {
        bool ok = true;

        for (uint32_t w = 0; w < r->n_attached; w++)
                if (!ring_sc_prepare_sleep(shm_seg_ring(r->seg, w, SHM_PEER_ROUTER, SHM_TO_PEER)))
                        ok = false;
        if (!ok)
                for (uint32_t w = 0; w < r->n_attached; w++)
                        ring_sc_cancel_sleep(shm_seg_ring(r->seg, w, SHM_PEER_ROUTER, SHM_TO_PEER));
        return ok;
}

static int reload(struct router *r) {
        char err[512];
        struct sy_config *nc;
        struct snapshot *ns;
        int ret = sy_config_load(r->config_path, &nc, err, sizeof err);

        if (ret < 0) {
                log_err("reload refused, keeping the old configuration: %s", err);
                return ret;
        }
        ns = malloc(sizeof *ns);
        if (!ns) {
                sy_config_free(nc);
                return -ENOMEM;
        }
        ret = snapshot_build(nc, ns, err, sizeof err);
        if (ret < 0) {
                log_err("reload refused, keeping the old configuration: %s", err);
                free(ns);
                sy_config_free(nc);
                return ret;
        }
        if (err[0])
                log_warn("%s", err);
        /* carry health and load over for upstreams that keep their name */
        uint32_t inflight[SNAP_MAX_UPSTREAMS] = { 0 };
        for (uint32_t i = 0; i < ns->n_upstreams; i++)
                for (uint32_t j = 0; j < r->snap.n_upstreams; j++)
                        if (strcmp(ns->upstreams[i].name, r->snap.upstreams[j].name) == 0) {
                                ns->upstreams[i].healthy = r->snap.upstreams[j].healthy && ns->upstreams[i].resolved;
                                inflight[i] = r->inflight[j];
                        }
        memcpy(r->inflight, inflight, sizeof inflight);
        memset(r->fail_run, 0, sizeof r->fail_run);
        memset(r->ejected_until, 0, sizeof r->ejected_until);
        ns->config_generation = ++r->generation;
        health_rebind(r->health, nc, ns);
        r->snap = *ns;
        free(ns);
        sy_config_free(r->cfg);
        r->cfg = nc;
        publish(r);
        log_notice("configuration reloaded: %u upstreams, %u models", r->snap.n_upstreams, r->snap.n_models);
        return 0;
}

int router_main(const char *config_path) {
        struct router *r = calloc(1, sizeof *r);
        char err[512], path[512];
        struct shm_layout layout;
        struct shm_peer *self;
        sigset_t mask;
        uint64_t last_hb = 0, last_pub = 0, last_resolve = 0;
        int ret, code = 1;

        sy_log_init("router");
        signal(SIGPIPE, SIG_IGN); /* bell_ring: EPIPE instead of a signal, one write per ring */
        if (!r)
                return 1;
        r->epfd = r->bell_fd = r->sig_fd = -1;
        for (unsigned i = 0; i < sizeof r->worker_bell / sizeof r->worker_bell[0]; i++)
                r->worker_bell[i] = -1;
        r->config_path = strdup(config_path);
        ret = sy_config_load(config_path, &r->cfg, err, sizeof err);
        if (ret < 0) {
                log_err("%s", err);
                goto out;
        }
        ret = snapshot_build(r->cfg, &r->snap, err, sizeof err);
        if (ret < 0) {
                log_err("%s", err);
                goto out;
        }
        if (err[0])
                log_warn("%s", err);
        r->snap.config_generation = ++r->generation;
        layout = sy_runtime_layout(r->cfg);
        if (sy_runtime_path(r->cfg, path, sizeof path, SY_SEGMENT_FILE, 0) < 0)
                goto out;
        ret = shm_seg_open(path, &layout, &r->seg);
        if (ret < 0) {
                log_err("cannot open shared segment %s: %s", path, strerror(-ret));
                goto out;
        }
        sy_runtime_path(r->cfg, path, sizeof path, SY_ROUTER_BELL, 0);
        ret = bell_open_consumer(path, &r->bell_fd);
        if (ret < 0) {
                log_err("cannot open doorbell %s: %s", path, strerror(-ret));
                goto out;
        }
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        r->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        r->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (r->sig_fd < 0 || r->epfd < 0)
                goto out;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &r->bell_fd };
        epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->bell_fd, &ev);
        ev.data.ptr = &r->sig_fd;
        epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->sig_fd, &ev);
        ret = health_new(r->epfd, r->cfg, &r->health);
        if (ret < 0)
                goto out;

        self = shm_seg_peer(r->seg, SHM_PEER_ROUTER);
        shm_peer_attach(self);
        update_attached(r);
        publish(r);
        /* a producer rings every consumer once at start: a predecessor killed
         * between clearing a sleeping flag and ringing left it asleep */
        for (uint32_t w = 0; w < shm_seg_layout(r->seg)->max_workers; w++) {
                struct ring *out = shm_seg_ring(r->seg, w, SHM_PEER_ROUTER, SHM_FROM_PEER);
                ring_sp_needs_wake(out);
                if (sy_runtime_path(r->cfg, path, sizeof path, SY_WORKER_BELL, w) == 0 &&
                    bell_open_producer(path, &r->worker_bell[w]) == 0)
                        bell_ring(r->worker_bell[w]);
        }
        log_notice("router up: %u upstreams, %u models", r->snap.n_upstreams, r->snap.n_models);
        sy_notify_ready("routing");

        for (;;) {
                struct epoll_event evs[64];
                uint64_t now = shm_now_ns();
                bool changed = false;
                int timeout, n;

                drain_rings(r, now);
                timeout = health_tick(r->health, &r->snap, now, &changed);
                for (uint32_t u = 0; u < r->snap.n_upstreams; u++)
                        if (r->ejected_until[u] && r->ejected_until[u] <= now) {
                                r->ejected_until[u] = 0;
                                r->fail_run[u] = 0;
                                changed = true; /* re-admitted; active checks decide from here */
                                log_notice("upstream %s re-admitted", r->snap.upstreams[u].name);
                        }
                if (changed || (r->dirty && now - last_pub >= PUBLISH_NS)) {
                        /* ejected upstreams stay out of the published set */
                        for (uint32_t u = 0; u < r->snap.n_upstreams; u++)
                                if (r->ejected_until[u] > now)
                                        r->snap.upstreams[u].healthy = 0;
                        publish(r);
                        last_pub = now;
                }
                if (now - last_resolve >= RESOLVE_NS) {
                        /* upstreams whose host did not resolve: try again (blocking
                         * getaddrinfo, fine in the router, never in the frontend) */
                        for (uint32_t u = 0; u < r->snap.n_upstreams; u++)
                                if (!r->snap.upstreams[u].resolved &&
                                    snapshot_resolve(&r->snap.upstreams[u]) == 1) {
                                        log_notice("upstream %s: host %s resolved", r->snap.upstreams[u].name,
                                                   r->snap.upstreams[u].host);
                                        changed = true;
                                }
                        last_resolve = now;
                }
                if (now - last_hb >= HEARTBEAT_NS) {
                        update_attached(r);
                        shm_peer_heartbeat(self);
                        sy_notify_watchdog(now);
                        last_hb = now;
                }
                if (timeout > 100)
                        timeout = 100;
                if (r->dirty && timeout > 250)
                        timeout = 250;
                if (!prepare_sleep(r))
                        timeout = 0;
                n = epoll_wait(r->epfd, evs, 64, timeout);
                for (int i = 0; i < n; i++) {
                        void *p = evs[i].data.ptr;
                        if (p == &r->bell_fd) {
                                bell_drain(r->bell_fd);
                                update_attached(r); /* a worker that attached since the last tick */
                        } else if (p == &r->sig_fd) {
                                struct signalfd_siginfo si;
                                while (read(r->sig_fd, &si, sizeof si) == sizeof si) {
                                        if (si.ssi_signo == SIGHUP) {
                                                reload(r);
                                        } else {
                                                log_notice("router stopping");
                                                sy_notify_stopping();
                                                code = 0;
                                                goto out;
                                        }
                                }
                        } else if (health_owns(r->health, p)) {
                                health_event(r->health, p, evs[i].events, &r->snap, shm_now_ns(), &changed);
                        }
                }
                for (uint32_t w = 0; w < r->n_attached; w++)
                        ring_sc_cancel_sleep(shm_seg_ring(r->seg, w, SHM_PEER_ROUTER, SHM_TO_PEER));
                if (changed) {
                        publish(r);
                        last_pub = shm_now_ns();
                }
        }
out:
        if (r->seg) {
                struct shm_peer *p = shm_seg_peer(r->seg, SHM_PEER_ROUTER);
                atomic_store_explicit(&p->pid, 0, memory_order_release);
        }
        health_free(r->health);
        if (r->epfd >= 0)
                close(r->epfd);
        if (r->bell_fd >= 0)
                close(r->bell_fd);
        if (r->sig_fd >= 0)
                close(r->sig_fd);
        for (unsigned i = 0; i < sizeof r->worker_bell / sizeof r->worker_bell[0]; i++)
                if (r->worker_bell[i] >= 0)
                        close(r->worker_bell[i]);
        shm_seg_close(r->seg);
        sy_config_free(r->cfg);
        free(r->config_path);
        free(r);
        return code;
}
