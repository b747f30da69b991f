/* The router's admin API: HTTP/1.1 on its own listener (admin.listen,
 * 127.0.0.1:9090 by default; off unless the admin: section is there),
 * every request with "Authorization: Bearer <token>", JSON in and out.
 *
 *   GET    /admin/upstreams            upstreams with health, in flight, load, scores
 *   POST   /admin/upstreams            {name, url, engine?, models, kind?, weight?}
 *   DELETE /admin/upstreams/{name}     (URL-encoded name)
 *   GET    /admin/routes               model -> engine -> upstreams
 *   POST   /admin/routes               {model, owned_by?, upstream}
 *   DELETE /admin/routes?model=&owned_by=&upstream=   (or the same as a JSON body)
 *   POST   /admin/discovery/refresh    relist / re-resolve now
 *   GET    /admin/discovery            the sources and their state
 *   GET    /admin/config               the merged configuration in effect
 *   GET    /admin/state                the admin changes (what state_file holds)
 *
 * Changes are kept as an overlay (upstreams added / removed, routes added /
 * removed) that the router applies on top of the file's configuration and
 * the discovered upstreams (admin_overlay), through router_apply: the next
 * request sees them. They survive a router restart only with
 * admin.state_file (written atomically after every change, read at start).
 *
 * Runs on the router's epoll loop: non-blocking sockets, at most
 * ADMIN_MAX_CONNS connections, requests of at most 64 KiB. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"
#include "router/picker.h"
#include "proto/snapshot.h"

#define ADMIN_MAX_CONNS 16

struct admin;

struct admin_ops {
        void *arg;
        /* Rebuild the configuration (file + discovery + admin overlay) and
         * apply it. < 0 with a message: the change is taken back. */
        int (*apply)(void *arg, char *err, size_t errlen);
        const struct sy_config *(*config)(void *arg); /* merged, in effect */
        const struct snapshot *(*snapshot)(void *arg);
        /* picker state of upstream u (may be NULL: in-flight from the snapshot) */
        int (*info)(void *arg, unsigned u, struct picker_upstream_info *ret);
        void (*refresh)(void *arg);                        /* discovery */
        int (*discovery_json)(void *arg, struct buf *out); /* may be NULL */
        /* why upstream u's last health check failed, NULL if it passed (may be NULL) */
        const char *(*health_reason)(void *arg, unsigned u);
};

/* Reads the token (token_file) and the state file, listens. -errno with a
 * message in err. */
int admin_new(int epfd, const struct sy_config *cfg, const struct admin_ops *ops, struct admin **ret, char *err,
              size_t errlen);
void admin_free(struct admin *a);
bool admin_owns(const struct admin *a, const void *ptr);
void admin_event(struct admin *a, void *ptr, uint32_t events);
/* Applies the admin changes to cfg (file + discovered upstreams). Changes
 * that no longer fit (a removed upstream that is gone anyway, a route to
 * an upstream that disappeared) are skipped with a log line. */
int admin_overlay(struct admin *a, struct sy_config *cfg);
