/* The rate limiter's buckets in Redis, for a budget shared by several
 * switchyard instances (one per node of a DaemonSet): the same GCRA as
 * ratelimit.c, run as one Lua script per check on the Redis side with
 * Redis's own clock (TIME), so instances with skewed clocks agree. One
 * round trip per request, with a short timeout; one connection per calling
 * thread. A connection that fails is dropped and retried no sooner than a
 * second later; until then calls fail at once with -EHOSTUNREACH, and the
 * caller decides (rate_limits.redis.fail_open). Keys and passwords are
 * never logged. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ratelimit.h"

struct rlr;

/* password: AUTH with it (NULL: none). Connects lazily. */
int rlr_open(const char *host, uint16_t port, const char *password, const char *key_prefix, unsigned timeout_ms,
             struct rlr **ret);
void rlr_close(struct rlr *r);
/* Is r a connection to host:port? */
bool rlr_is(const struct rlr *r, const char *host, uint16_t port);
/* As rl_check; -EHOSTUNREACH: Redis did not answer (or answered an error). */
int rlr_check(struct rlr *r, const void *id, size_t len, const struct rl_limits *lim, uint32_t tokens,
              struct rl_result *ret);
int rlr_adjust_tokens(struct rlr *r, const void *id, size_t len, const struct rl_limits *lim, int64_t delta);
