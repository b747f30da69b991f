/* Active health checks: one non-blocking HTTP GET per upstream per
 * interval, driven by the router's epoll loop. An upstream turns unhealthy
 * after unhealthy_threshold failed checks in a row and healthy again after
 * healthy_threshold good ones (2xx; for a gateway upstream any HTTP answer,
 * 404 included: it need not serve the health path). Checks are per
 * snapshot slot; tombstones and unresolved upstreams are not checked. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "proto/snapshot.h"

struct health;

int health_new(int epfd, const struct sy_config *cfg, const struct snapshot *s, struct health **ret);
void health_free(struct health *h);
/* Starts due checks and expires late ones. Returns ms until the next event. */
int health_tick(struct health *h, struct snapshot *s, uint64_t now_ns, bool *ret_changed);
/* An epoll event whose data.ptr was handed out by health (see health_owns). */
void health_event(struct health *h, void *ptr, uint32_t events, struct snapshot *s, uint64_t now_ns, bool *ret_changed);
bool health_owns(const struct health *h, const void *ptr);
/* A new snapshot (config applied): the check of a slot that holds the same
 * upstream at the same address goes on undisturbed; other slots start over. */
void health_rebind(struct health *h, const struct sy_config *cfg, struct snapshot *s);
/* Addresses changed in place (background resolution): checks of those
 * slots start over at the new address. */
void health_resolved(struct health *h, const struct snapshot *s);
/* The active checks' verdict for slot u (what the snapshot's healthy flag
 * goes back to when a passive ejection ends). */
bool health_up(const struct health *h, unsigned u);
/* Why the last check of slot u failed (a TLS verification error says
 * which); NULL after a good one. */
const char *health_reason(const struct health *h, unsigned u);
