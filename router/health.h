/* Active health checks: one non-blocking HTTP GET per upstream per
 * interval, driven by the router's epoll loop. An upstream turns unhealthy
 * after unhealthy_threshold failed checks in a row and healthy again after
 * healthy_threshold good ones (2xx). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "router/snapshot.h"

struct health;

int health_new(int epfd, const struct sy_config *cfg, struct health **ret);
void health_free(struct health *h);
/* Starts due checks and expires late ones. Returns ms until the next event. */
int health_tick(struct health *h, struct snapshot *s, uint64_t now_ns, bool *ret_changed);
/* An epoll event whose data.ptr was handed out by health (see health_owns). */
void health_event(struct health *h, void *ptr, uint32_t events, struct snapshot *s, uint64_t now_ns,
                  bool *ret_changed);
bool health_owns(const struct health *h, const void *ptr);
/* Carries state across a config reload for upstreams of the same name. */
void health_rebind(struct health *h, const struct sy_config *cfg, struct snapshot *s);
