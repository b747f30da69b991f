/* Background host-name resolution for the router: getaddrinfo_a lookups
 * started and collected from the router's loop, so that neither an apply
 * nor the retry pass ever blocks the loop on DNS. Upstreams whose host is
 * unresolved (and that are not tombstones) get a lookup, one at a time per
 * slot; a failed one is tried again after retry_ns. A result is applied
 * only if the slot still holds the same host and port. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "proto/snapshot.h"

struct resolver;

int resolver_new(uint64_t retry_ns, struct resolver **ret);
/* Cancels what is in flight (waits up to a second for lookups that cannot
 * be cancelled). */
void resolver_free(struct resolver *rs);
/* Collects finished lookups (sets s->upstreams[u].addr, resolved and
 * healthy, and *ret_changed) and starts due ones. Returns ms until it
 * wants to be called again. */
int resolver_tick(struct resolver *rs, struct snapshot *s, uint64_t now_ns, bool *ret_changed);
/* Lookups in flight. */
unsigned resolver_pending(const struct resolver *rs);
