/* See ratelimit_redis.h. The script keeps, under <prefix><id>, the fields
 * r and t (each bucket's `used`, ns, when written) and s (when, us of
 * Redis's clock); `used` now = stored - (now - s). All values stay below
 * 2^53 (RL_MAX_SPAN), exact in Lua's doubles. The costs are computed here,
 * by the local limiter's arithmetic, so both round alike. */
#include "common/ratelimit_redis.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/ratelimit-internal.h"
#include "common/secret.h"

#define BACKOFF_MIN_NS 100000000ULL
#define BACKOFF_MAX_NS 5000000000ULL

/* KEYS[1] the client's hash. ARGV: mode (0 check, 1 adjust), rq_on,
 * rq_cost, rq_tau, tk_on, tk_cost (adjust: signed), tk_tau, tk_limit.
 * Returns {admitted, by_tokens, used_r, used_t}. */
static const char script[] =
        "if redis.replicate_commands then redis.replicate_commands() end\n"
        "local tm = redis.call('TIME')\n"
        "local now = tonumber(tm[1]) * 1000000 + tonumber(tm[2])\n"
        "local v = redis.call('HMGET', KEYS[1], 'r', 't', 's')\n"
        "local ur, ut = 0, 0\n"
        "if v[3] then\n"
        "  local gone = (now - tonumber(v[3])) * 1000\n"
        "  ur = math.max(tonumber(v[1] or '0') - gone, 0)\n"
        "  ut = math.max(tonumber(v[2] or '0') - gone, 0)\n"
        "end\n"
        "local mode, ron, rc, rtau = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
        "local ton, tc, ttau, tlim = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])\n"
        "if mode == 1 then\n"
        "  ut = math.min(math.max(ut + tc, 0), tlim)\n"
        "else\n"
        "  if ron == 0 then ur = 0 end\n"
        "  if ton == 0 then ut = 0 end\n"
        "  local rok = ron == 0 or ur + rc <= rtau\n"
        "  local tok = ton == 0 or ut + tc <= ttau or ut == 0\n"
        "  if not (rok and tok) then return {0, rok and 1 or 0, ur, ut} end\n"
        "  if ron == 1 then ur = ur + rc end\n"
        "  if ton == 1 then ut = math.min(ut + tc, tlim) end\n"
        "end\n"
        "redis.call('HSET', KEYS[1], 'r', string.format('%.0f', ur), 't', string.format('%.0f', ut),\n"
        "  's', string.format('%.0f', now))\n"
        "redis.call('PEXPIRE', KEYS[1], math.floor(math.max(ur, ut) / 1000000) + 1000)\n"
        "return {1, 0, ur, ut}\n";

struct rlr {
        redisContext *ctx;
        char *host, *password, *prefix;
        size_t prefix_len;
        uint16_t port;
        unsigned timeout_ms;
        char sha[48];         /* the script's SHA-1 once loaded on ctx */
        uint64_t retry_at_ns; /* after a failure: no attempt before this */
        uint64_t backoff_ns;  /* the wait after the next failure */
};

bool rlr_supported(void) {
        return true;
}

static uint64_t mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int rlr_open(const char *host, uint16_t port, const char *password, const char *key_prefix, unsigned timeout_ms,
             struct rlr **ret) {
        struct rlr *r;

        if (!host || !*host || !ret)
                return -EINVAL;
        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->host = strdup(host);
        r->password = password ? strdup(password) : NULL;
        r->prefix = strdup(key_prefix ? key_prefix : "switchyard:rl:");
        r->port = port ? port : 6379;
        r->timeout_ms = timeout_ms ? timeout_ms : 5;
        r->backoff_ns = BACKOFF_MIN_NS;
        if (!r->host || !r->prefix || (password && !r->password)) {
                rlr_close(r);
                return -ENOMEM;
        }
        r->prefix_len = strlen(r->prefix);
        if (r->prefix_len > 256) {
                rlr_close(r);
                return -EINVAL;
        }
        *ret = r;
        return 0;
}

void rlr_close(struct rlr *r) {
        if (!r)
                return;
        if (r->ctx)
                redisFree(r->ctx);
        sy_secret_free(r->password);
        free(r->host);
        free(r->prefix);
        free(r);
}

bool rlr_is(const struct rlr *r, const char *host, uint16_t port) {
        return r && host && strcmp(r->host, host) == 0 && r->port == (port ? port : 6379);
}

static void drop(struct rlr *r, const char *why) {
        /* hiredis' errstr is about the transport (errno text), never data */
        log_debug("rate limits: Redis %s:%u %s (%s); no new attempt for %llu ms", r->host, r->port, why,
                  r->ctx && r->ctx->err ? r->ctx->errstr : "-", (unsigned long long)(r->backoff_ns / 1000000));
        if (r->ctx)
                redisFree(r->ctx);
        r->ctx = NULL;
        r->sha[0] = 0;
        r->retry_at_ns = mono_ns() + r->backoff_ns;
        r->backoff_ns = r->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : r->backoff_ns * 2;
}

static bool load_script(struct rlr *r) {
        redisReply *rep = redisCommand(r->ctx, "SCRIPT LOAD %s", script);
        bool ok = rep && rep->type == REDIS_REPLY_STRING && rep->len > 0 && (size_t)rep->len < sizeof r->sha;

        if (ok) {
                memcpy(r->sha, rep->str, (size_t)rep->len);
                r->sha[rep->len] = 0;
        }
        freeReplyObject(rep);
        return ok;
}

static bool connected(struct rlr *r) {
        struct timeval tv = { .tv_sec = r->timeout_ms / 1000, .tv_usec = (r->timeout_ms % 1000) * 1000 };

        if (r->ctx)
                return true;
        if (mono_ns() < r->retry_at_ns)
                return false;
        r->ctx = r->host[0] == '/' ? redisConnectUnixWithTimeout(r->host, tv)
                                   : redisConnectWithTimeout(r->host, r->port, tv);
        if (!r->ctx || r->ctx->err) {
                drop(r, "is unreachable");
                return false;
        }
        if (redisSetTimeout(r->ctx, tv) != REDIS_OK) {
                drop(r, "refused a timeout");
                return false;
        }
        if (r->password) {
                redisReply *rep = redisCommand(r->ctx, "AUTH %s", r->password);
                bool ok = rep && rep->type == REDIS_REPLY_STATUS;

                freeReplyObject(rep);
                if (!ok) {
                        drop(r, "refused AUTH");
                        return false;
                }
        }
        if (!load_script(r)) {
                drop(r, "did not load the limiter script");
                return false;
        }
        return true;
}

/* One EVALSHA; out: the script's four integers. */
static int run(struct rlr *r, const void *id, size_t len, const struct rl_bucket *br, const struct rl_bucket *bt,
               int mode, uint64_t rc, int64_t tc, long long out[4]) {
        char key[256 + RLR_MAX_ID], a[8][24];
        const char *argv[12];
        size_t argl[12];
        redisReply *rep = NULL;

        if (len > RLR_MAX_ID || (!id && len))
                return -EINVAL;
        if (!connected(r))
                return -EHOSTUNREACH;
        memcpy(key, r->prefix, r->prefix_len);
        if (len)
                memcpy(key + r->prefix_len, id, len);
        snprintf(a[0], sizeof a[0], "%d", mode);
        snprintf(a[1], sizeof a[1], "%d", br->on ? 1 : 0);
        snprintf(a[2], sizeof a[2], "%llu", (unsigned long long)rc);
        snprintf(a[3], sizeof a[3], "%llu", (unsigned long long)br->tau);
        snprintf(a[4], sizeof a[4], "%d", bt->on ? 1 : 0);
        snprintf(a[5], sizeof a[5], "%lld", (long long)tc);
        snprintf(a[6], sizeof a[6], "%llu", (unsigned long long)bt->tau);
        snprintf(a[7], sizeof a[7], "%llu", (unsigned long long)bt->limit);
        argv[0] = "EVALSHA", argl[0] = 7;
        argv[2] = "1", argl[2] = 1;
        argv[3] = key, argl[3] = r->prefix_len + len;
        for (int i = 0; i < 8; i++)
                argv[4 + i] = a[i], argl[4 + i] = strlen(a[i]);
        for (int attempt = 0; attempt < 2; attempt++) {
                argv[1] = r->sha, argl[1] = strlen(r->sha);
                rep = redisCommandArgv(r->ctx, 12, argv, argl);
                /* the script cache was flushed (SCRIPT FLUSH, a failover): load it again */
                if (attempt == 0 && rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
                        freeReplyObject(rep);
                        rep = NULL;
                        if (!load_script(r))
                                break;
                        continue;
                }
                break;
        }
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 4) {
                drop(r, !rep                             ? "did not answer in time"
                        : rep->type == REDIS_REPLY_ERROR ? "answered an error"
                                                         : "answered nonsense");
                freeReplyObject(rep);
                return -EHOSTUNREACH;
        }
        for (int i = 0; i < 4; i++)
                out[i] = rep->element[i]->type == REDIS_REPLY_INTEGER ? rep->element[i]->integer : 0;
        freeReplyObject(rep);
        r->backoff_ns = BACKOFF_MIN_NS;
        return 0;
}

static uint64_t nonneg(long long v) {
        return v > 0 ? (uint64_t)v : 0;
}

int rlr_check(struct rlr *r, const void *id, size_t len, const struct rl_limits *lim, uint32_t tokens,
              struct rl_result *ret) {
        struct rl_bucket br, bt;
        long long o[4];
        uint64_t ct, ur, ut, wait = 0;
        int rc;

        if (!r || !lim || !ret)
                return -EINVAL;
        rl_bucket_init(&br, lim->rpm, lim->burst_requests, true);
        rl_bucket_init(&bt, lim->tpm, lim->burst_tokens, false);
        ct = bt.on && tokens ? rl_cost(&bt, tokens) : 0;
        rc = run(r, id, len, &br, &bt, 0, br.on ? br.unit : 0, (int64_t)ct, o);
        if (rc < 0)
                return rc;
        ur = nonneg(o[2]), ut = nonneg(o[3]);
        if (o[0] != 1) {
                uint64_t wr = br.on ? rl_wait(&br, ur, br.unit, false) : 0;
                uint64_t wt = bt.on ? rl_wait(&bt, ut, ct, true) : 0;
                wait = wr > wt ? wr : wt;
        }
        rl_report(&br, &bt, ur, ut, o[0] == 1, o[0] != 1 && o[1] == 1 && bt.on, wait, ret);
        return 0;
}

int rlr_adjust_tokens(struct rlr *r, const void *id, size_t len, const struct rl_limits *lim, int64_t delta) {
        struct rl_bucket br, bt;
        long long o[4];
        uint64_t n, d;

        if (!r || !lim)
                return -EINVAL;
        if (!lim->tpm || !delta)
                return 0;
        rl_bucket_init(&br, 0, 0, true);
        rl_bucket_init(&bt, lim->tpm, lim->burst_tokens, false);
        n = delta > 0 ? (uint64_t)delta : (uint64_t)(-(delta + 1)) + 1;
        d = rl_span(n, bt.tfp, delta > 0); /* <= RL_MAX_SPAN: fits */
        return run(r, id, len, &br, &bt, 1, 0, delta > 0 ? (int64_t)d : -(int64_t)d, o);
}
