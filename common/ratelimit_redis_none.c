/* ratelimit_redis.h without hiredis (the build did not find it): no Redis
 * backend; rlr_open() says so and the caller keeps its local table. */
#include <errno.h>

#include "common/ratelimit_redis.h"

bool rlr_supported(void) {
        return false;
}

int rlr_open(const char *host, uint16_t port, const char *password, const char *key_prefix, unsigned timeout_ms,
             struct rlr **ret) {
        return -EOPNOTSUPP;
}

void rlr_close(struct rlr *r) {
}

bool rlr_is(const struct rlr *r, const char *host, uint16_t port) {
        return false;
}

int rlr_check(struct rlr *r, const void *id, size_t len, const struct rl_limits *lim, uint32_t tokens,
              struct rl_result *ret) {
        return -EHOSTUNREACH;
}

int rlr_adjust_tokens(struct rlr *r, const void *id, size_t len, const struct rl_limits *lim, int64_t delta) {
        return -EHOSTUNREACH;
}
