/* The rate limiter's buckets in Redis, for a budget shared by several
 * switchyard instances (one per node of a DaemonSet): the same GCRA and the
 * same arithmetic as ratelimit.c (ratelimit-internal.h), run as one Lua
 * script (EVALSHA, loaded once per connection) on Redis's own clock (TIME),
 * so instances with skewed clocks agree. One key per client: key_prefix +
 * the id's bytes (a hash of both buckets' state, expiring when both are full
 * again), so a Redis Cluster needs no hash tags.
 *
 * One round trip per check, within timeout_ms (default 5; connecting too).
 * One struct rlr per calling thread (a worker's): it is not thread-safe.
 * A connection that fails (no answer in time, an error reply, refused AUTH)
 * is dropped; the next attempt waits 100 ms, then twice as long after each
 * further failure up to 5 s (back to 100 ms after a success); until then
 * calls fail at once with -EHOSTUNREACH, the distinct "backend unavailable"
 * code: the caller decides, fail-open (its local table) or fail-closed (503).
 * host: a name or address (resolved when connecting: prefer an address), or
 * a path starting with '/' for a Unix socket. Keys and passwords are never
 * logged. Built without hiredis, rlr_open() says -EOPNOTSUPP. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ratelimit.h"

#define RLR_MAX_ID 512 /* longer ids: -EINVAL */

struct rlr;

/* Was this build made with hiredis? */
bool rlr_supported(void);
/* password: AUTH with it (NULL: none); key_prefix NULL: "switchyard:rl:";
 * port 0: 6379; timeout_ms 0: 5. Connects lazily (the first call). */
int rlr_open(const char *host, uint16_t port, const char *password, const char *key_prefix, unsigned timeout_ms,
             struct rlr **ret);
void rlr_close(struct rlr *r);
/* Is r a connection to host:port? */
bool rlr_is(const struct rlr *r, const char *host, uint16_t port);
/* As rl_check, on the fleet's budget. -EHOSTUNREACH: Redis unavailable;
 * -EINVAL: bad arguments (id longer than RLR_MAX_ID). */
int rlr_check(struct rlr *r, const void *id, size_t len, const struct rl_limits *lim, uint32_t tokens,
              struct rl_result *ret);
/* As rl_adjust_tokens. 0, -EHOSTUNREACH (the correction is lost), -EINVAL. */
int rlr_adjust_tokens(struct rlr *r, const void *id, size_t len, const struct rl_limits *lim, int64_t delta);
