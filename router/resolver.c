/* Background host-name resolution with getaddrinfo_a (see resolver.h). */
#include "router/resolver.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

#define POLL_MS 10 /* while lookups are in flight */

struct lookup {
        struct gaicb cb;
        struct addrinfo hints;
        char host[SNAP_SHORT];
        uint16_t port;
        bool busy;        /* submitted, result not collected */
        uint64_t next_ns; /* no new lookup before this */
};

struct resolver {
        uint64_t retry_ns;
        unsigned pending;
        uint64_t due_ns; /* nothing to start before this (same generation, nothing pending) */
        uint64_t gen;    /* of the snapshot due_ns was computed for */
        struct lookup l[SNAP_MAX_UPSTREAMS];
};

int resolver_new(uint64_t retry_ns, struct resolver **ret) {
        struct resolver *rs = calloc(1, sizeof *rs);

        if (!rs)
                return -ENOMEM;
        rs->retry_ns = retry_ns;
        *ret = rs;
        return 0;
}

void resolver_free(struct resolver *rs) {
        bool leak = false;

        if (!rs)
                return;
        for (unsigned u = 0; u < SNAP_MAX_UPSTREAMS; u++) {
                struct lookup *l = &rs->l[u];
                struct gaicb *list[1] = { &l->cb };

                if (!l->busy)
                        continue;
                if (gai_cancel(&l->cb) == EAI_NOTCANCELED) {
                        /* running in glibc's helper thread: it writes into l when done */
                        struct timespec ts = { .tv_sec = 1 };
                        gai_suspend((const struct gaicb *const *)list, 1, &ts);
                        if (gai_error(&l->cb) == EAI_INPROGRESS) {
                                leak = true;
                                continue;
                        }
                }
                if (gai_error(&l->cb) == 0 && l->cb.ar_result)
                        freeaddrinfo(l->cb.ar_result);
        }
        if (!leak)
                free(rs);
}

unsigned resolver_pending(const struct resolver *rs) {
        return rs->pending;
}

static void collect(struct resolver *rs, struct lookup *l, struct snap_upstream *up, uint64_t now, bool *changed) {
        int e = gai_error(&l->cb);
        struct sockaddr_in6 a;

        l->busy = false;
        rs->pending--;
        if (e != 0 || snapshot_addr_from(l->cb.ar_result, l->port, &a) < 0) {
                log_debug("upstream %s: host %s does not resolve yet: %s", up->name, l->host,
                          e ? gai_strerror(e) : "no address");
                l->next_ns = now + rs->retry_ns;
        } else if (!up->removed && !up->resolved && up->port == l->port && strcmp(up->host, l->host) == 0) {
                up->addr = a;
                up->resolved = 1;
                up->healthy = 1; /* as at startup: health checks decide from here */
                *changed = true;
                log_notice("upstream %s: host %s resolved", up->name, up->host);
        } else {
                l->next_ns = now; /* the slot changed meanwhile: look up what it holds now */
        }
        if (e == 0 && l->cb.ar_result)
                freeaddrinfo(l->cb.ar_result);
        l->cb.ar_result = NULL;
}

static void start(struct resolver *rs, struct lookup *l, const struct snap_upstream *up, uint64_t now) {
        struct gaicb *list[1] = { &l->cb };
        struct sigevent sev = { .sigev_notify = SIGEV_NONE };

        memcpy(l->host, up->host, sizeof l->host);
        l->port = up->port;
        l->hints = (struct addrinfo){ .ai_socktype = SOCK_STREAM };
        l->cb = (struct gaicb){ .ar_name = l->host, .ar_request = &l->hints };
        l->next_ns = now + rs->retry_ns;
        if (getaddrinfo_a(GAI_NOWAIT, list, 1, &sev) != 0) {
                log_debug("upstream %s: cannot start a lookup of %s", up->name, up->host);
                return;
        }
        l->busy = true;
        rs->pending++;
}

int resolver_tick(struct resolver *rs, struct snapshot *s, uint64_t now, bool *changed) {
        uint64_t next = UINT64_MAX;

        /* the common case, every host resolved: no pass over the slots */
        if (!rs->pending && s->config_generation == rs->gen && now < rs->due_ns)
                return rs->due_ns - now > 1000ULL * 1000000ULL ? 1000 : (int)((rs->due_ns - now + 999999) / 1000000);

        for (uint32_t u = 0; u < s->n_upstreams && u < SNAP_MAX_UPSTREAMS; u++) {
                struct lookup *l = &rs->l[u];
                struct snap_upstream *up = &s->upstreams[u];

                if (l->busy && gai_error(&l->cb) != EAI_INPROGRESS)
                        collect(rs, l, up, now, changed);
                if (l->busy || up->resolved || up->removed)
                        continue;
                if (now >= l->next_ns)
                        start(rs, l, up, now);
                if (!l->busy && l->next_ns < next)
                        next = l->next_ns;
        }
        rs->gen = s->config_generation;
        rs->due_ns = next;
        if (rs->pending)
                return POLL_MS;
        if (next - now > 1000ULL * 1000000ULL)
                return 1000;
        return next > now ? (int)((next - now + 999999) / 1000000) : 0;
}
