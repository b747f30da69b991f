/* See ratelimit_redis.h. The script keeps each bucket's TAT in
 * microseconds of Redis's clock under <prefix><id>:r and <prefix><id>:t,
 * expiring when the bucket would be full again. */
#include "common/ratelimit_redis.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

#define RETRY_NS 1000000000ULL
#define MINUTE_US 60000000ULL

/* KEYS[1] request bucket, KEYS[2] token bucket;
 * ARGV: T_req_us (0: none), burst_req, T_tok_us (0: none), burst_tok, n tokens, mode (0 check, 1 adjust by n)
 * returns {admitted, by_tokens, TAT_req - now, TAT_tok - now} (us) */
static const char script[] =
        "local tm = redis.call('TIME')\n"
        "local now = tonumber(tm[1]) * 1000000 + tonumber(tm[2])\n"
        "local Tr, br, Tt, bt = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
        "local n, mode = tonumber(ARGV[5]), tonumber(ARGV[6])\n"
        "local tr = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
        "local tt = tonumber(redis.call('GET', KEYS[2]) or '0')\n"
        "if tr < now then tr = now end\n"
        "if tt < now then tt = now end\n"
        "local function put(k, v) redis.call('SET', k, string.format('%.0f', v), 'PX',\n"
        "  math.floor((v - now) / 1000) + 1000) end\n"
        "if mode == 1 then\n"
        "  if Tt > 0 then tt = tt + n * Tt; if tt < now then tt = now end; put(KEYS[2], tt) end\n"
        "  return {1, 0, tr - now, tt - now}\n"
        "end\n"
        "if Tr > 0 and tr + Tr - now > br * Tr then return {0, 0, tr - now, tt - now} end\n"
        "if Tt > 0 and tt > now and tt + n * Tt - now > bt * Tt then return {0, 1, tr - now, tt - now} end\n"
        "if Tr > 0 then tr = tr + Tr; put(KEYS[1], tr) end\n"
        "if Tt > 0 then tt = tt + n * Tt; put(KEYS[2], tt) end\n"
        "return {1, 0, tr - now, tt - now}\n";

struct rlr {
        redisContext *ctx;
        char *host, *password, *prefix;
        uint16_t port;
        unsigned timeout_ms;
        char sha[48];                   /* the script's SHA-1 once loaded */
        uint64_t retry_at_ns;           /* after a failure: no attempt before this */
};

static uint64_t mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int rlr_open(const char *host, uint16_t port, const char *password, const char *key_prefix, unsigned timeout_ms,
             struct rlr **ret) {
        struct rlr *r = calloc(1, sizeof *r);

        if (!r)
                return -ENOMEM;
        r->host = strdup(host);
        r->password = password ? strdup(password) : NULL;
        r->prefix = strdup(key_prefix ? key_prefix : "switchyard:rl:");
        r->port = port ? port : 6379;
        r->timeout_ms = timeout_ms ? timeout_ms : 5;
        if (!r->host || !r->prefix || (password && !r->password)) {
                rlr_close(r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

void rlr_close(struct rlr *r) {
        if (!r)
                return;
        if (r->ctx)
                redisFree(r->ctx);
        if (r->password)
                explicit_bzero(r->password, strlen(r->password));
        free(r->host);
        free(r->password);
        free(r->prefix);
        free(r);
}

bool rlr_is(const struct rlr *r, const char *host, uint16_t port) {
        return strcmp(r->host, host) == 0 && r->port == (port ? port : 6379);
}

static void drop(struct rlr *r, const char *why) {
        log_warn("rate limits: Redis %s:%u %s; the local limiter decides for 1 s", r->host, r->port, why);
        if (r->ctx)
                redisFree(r->ctx);
        r->ctx = NULL;
        r->sha[0] = 0;
        r->retry_at_ns = mono_ns() + RETRY_NS;
}

static bool connected(struct rlr *r) {
        struct timeval tv = { .tv_sec = r->timeout_ms / 1000, .tv_usec = (r->timeout_ms % 1000) * 1000 };
        redisReply *rep;

        if (r->ctx)
                return true;
        if (mono_ns() < r->retry_at_ns)
                return false;
        r->ctx = redisConnectWithTimeout(r->host, r->port, tv);
        if (!r->ctx || r->ctx->err) {
                drop(r, "is unreachable");
                return false;
        }
        redisSetTimeout(r->ctx, tv);
        if (r->password) {
                rep = redisCommand(r->ctx, "AUTH %s", r->password);
                bool ok = rep && rep->type == REDIS_REPLY_STATUS;
                freeReplyObject(rep);
                if (!ok) {
                        drop(r, "refused AUTH");
                        return false;
                }
        }
        rep = redisCommand(r->ctx, "SCRIPT LOAD %s", script);
        if (!rep || rep->type != REDIS_REPLY_STRING || rep->len >= (long)sizeof r->sha) {
                freeReplyObject(rep);
                drop(r, "did not load the limiter script");
                return false;
        }
        memcpy(r->sha, rep->str, (size_t)rep->len);
        r->sha[rep->len] = 0;
        freeReplyObject(rep);
        return true;
}

static int run(struct rlr *r, const void *id, size_t len, const struct rl_limits *lim, int64_t n, int mode,
               long long out[4]) {
        char kr[512], kt[512], a[6][32];
        const char *argv[11];
        size_t argl[11];
        redisReply *rep;
        int nk;
        uint64_t Tr = lim->rpm ? MINUTE_US / lim->rpm : 0, Tt = lim->tpm ? MINUTE_US / lim->tpm : 0;

        if (!connected(r))
                return -EHOSTUNREACH;
        nk = snprintf(kr, sizeof kr, "%s%.*s:r", r->prefix, (int)(len < 400 ? len : 400), (const char *)id);
        snprintf(kt, sizeof kt, "%s%.*s:t", r->prefix, (int)(len < 400 ? len : 400), (const char *)id);
        snprintf(a[0], sizeof a[0], "%llu", (unsigned long long)Tr);
        snprintf(a[1], sizeof a[1], "%u", lim->burst_requests ? lim->burst_requests : lim->rpm);
        snprintf(a[2], sizeof a[2], "%llu", (unsigned long long)Tt);
        snprintf(a[3], sizeof a[3], "%u", lim->burst_tokens ? lim->burst_tokens : lim->tpm);
        snprintf(a[4], sizeof a[4], "%lld", (long long)n);
        snprintf(a[5], sizeof a[5], "%d", mode);
        argv[0] = "EVALSHA", argl[0] = 7;
        argv[1] = r->sha, argl[1] = strlen(r->sha);
        argv[2] = "2", argl[2] = 1;
        argv[3] = kr, argl[3] = (size_t)nk;
        argv[4] = kt, argl[4] = strlen(kt);
        for (int i = 0; i < 6; i++)
                argv[5 + i] = a[i], argl[5 + i] = strlen(a[i]);
        rep = redisCommandArgv(r->ctx, 11, argv, argl);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 4) {
                freeReplyObject(rep);
                drop(r, rep ? "answered an error" : "did not answer in time");
                return -EHOSTUNREACH;
        }
        for (int i = 0; i < 4; i++)
                out[i] = rep->element[i]->type == REDIS_REPLY_INTEGER ? rep->element[i]->integer : 0;
        freeReplyObject(rep);
        return 0;
}

static uint32_t left(long long used_us, uint64_t T, uint32_t b) {
        long long cap = (long long)T * b;

        return used_us >= cap || !T ? 0 : (uint32_t)((cap - (used_us > 0 ? used_us : 0)) / (long long)T);
}

int rlr_check(struct rlr *r, const void *id, size_t len, const struct rl_limits *lim, uint32_t tokens,
              struct rl_result *ret) {
        long long o[4];
        uint64_t Tr = lim->rpm ? MINUTE_US / lim->rpm : 0, Tt = lim->tpm ? MINUTE_US / lim->tpm : 0;
        uint32_t br = lim->burst_requests ? lim->burst_requests : lim->rpm;
        uint32_t bt = lim->burst_tokens ? lim->burst_tokens : lim->tpm;
        int rc = run(r, id, len, lim, tokens, 0, o);

        if (rc < 0)
                return rc;
        memset(ret, 0, sizeof *ret);
        ret->allowed = o[0] == 1;
        ret->by_tokens = o[1] == 1;
        ret->limit_requests = lim->rpm;
        ret->limit_tokens = lim->tpm;
        ret->remaining_requests = left(o[2], Tr, br);
        ret->remaining_tokens = left(o[3], Tt, bt);
        ret->reset_requests_ms = Tr && o[2] > 0 ? (uint32_t)((o[2] + 999) / 1000) : 0;
        ret->reset_tokens_ms = Tt && o[3] > 0 ? (uint32_t)((o[3] + 999) / 1000) : 0;
        if (!ret->allowed) {
                long long wait = ret->by_tokens ? o[3] + (long long)(tokens < bt ? tokens : bt) * (long long)Tt -
                                                          (long long)bt * (long long)Tt
                                                : o[2] + (long long)Tr - (long long)br * (long long)Tr;
                ret->retry_after_s = wait > 0 ? (uint32_t)((wait + 999999) / 1000000) : 1;
        }
        return 0;
}

int rlr_adjust_tokens(struct rlr *r, const void *id, size_t len, const struct rl_limits *lim, int64_t delta) {
        long long o[4];

        if (!lim->tpm || !delta)
                return 0;
        return run(r, id, len, lim, delta, 1, o);
}
