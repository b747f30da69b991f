/* Stage limit: per-client rate limits (rate_limits:, and an API key's own
 * requests_per_minute / tokens_per_minute).
 *
 * The client is the API key's name, else the value of
 * rate_limits.client_header (default X-Client-ID), else the peer address;
 * the three are kept apart (a header cannot spend a key's budget). The
 * budgets are token buckets in one table shared by every worker of the host
 * (common/ratelimit.h: a shared mapping in the runtime directory, lock-free,
 * bounded: the oldest clients are evicted), so two workers never double a
 * limit and a restarted frontend keeps them. With rate_limits.redis the
 * budget is global (one Redis for the fleet), the local table deciding
 * when Redis is unreachable (fail_open) or the request being refused (503).
 *
 * Tokens: the prompt is charged before the request (body bytes / 4) and
 * the charge is corrected when the answer is complete by the `usage` the
 * upstream returned (its total_tokens; a streamed answer carries it when the
 * client asked for stream_options.include_usage).
 *
 * Every answer of a limited request carries the OpenAI headers
 * x-ratelimit-{limit,remaining,reset}-{requests,tokens}; over the limit is
 * 429 rate_limit_exceeded with Retry-After. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/ratelimit.h"
#include "common/ratelimit_redis.h"
#include "proto/runtime.h"
#include "frontend/frontend-internal.h"

#define USAGE_TAIL 4096
#define SY_RATELIMIT_FILE "ratelimit.shm"

int limit_init(struct frontend *fe) {
        const struct sy_config *cfg = fe->cfg;
        char path[512];
        int r;

        fe->rl = NULL;
        if (!cfg->rate_limits.requests_per_minute && !cfg->rate_limits.tokens_per_minute) {
                bool any = cfg->v03 && cfg->v03->n_limits > 0;
                for (size_t i = 0; i < cfg->n_api_keys; i++)
                        any |= cfg->api_keys[i].requests_per_minute > 0 || cfg->api_keys[i].tokens_per_minute > 0;
                if (!any)
                        return 0;
        }
        if (sy_runtime_path(cfg, path, sizeof path, SY_RATELIMIT_FILE, 0) < 0)
                return -ENAMETOOLONG;
        r = rl_open(path, cfg->rate_limits.max_clients ? cfg->rate_limits.max_clients : 65536, &fe->rl);
        if (r < 0)
                log_err("rate limits: cannot open the shared table %s: %s", path, strerror(-r));
        return r;
}

void limit_fini(struct frontend *fe) {
        if (fe->rl)
                rl_close(fe->rl);
        fe->rl = NULL;
}

/* The v0.3 local-limiter rule for this request (the first whose user and
 * model match; a rule for every user and model is rate_limits' own), or -1. */
static int rule_of(const struct conn *c) {
        const struct sy_v03 *v = c->cfg->v03;

        for (size_t i = 0; v && i < v->n_limits; i++) {
                const struct sy_limit_rule *l = &v->limits[i];
                bool any_user = !l->user || !strcmp(l->user, "*");

                if (any_user && !l->model)
                        continue;
                if (!any_user && strcmp(l->user, c->client_h) != 0)
                        continue;
                if (l->model && strcmp(l->model, c->model) != 0)
                        continue;
                return (int)i;
        }
        return -1;
}

/* The limits of this request's client: the key's own, else a v0.3 rule's,
 * else rate_limits'. */
static void limits_of(const struct conn *c, struct rl_limits *lim) {
        const struct sy_config *cfg = c->cfg;
        const struct sy_api_key_cfg *k =
                c->key_idx >= 0 && (size_t)c->key_idx < cfg->n_api_keys ? &cfg->api_keys[c->key_idx] : NULL;

        memset(lim, 0, sizeof *lim);
        lim->rpm = cfg->rate_limits.requests_per_minute;
        lim->tpm = cfg->rate_limits.tokens_per_minute;
        lim->burst_requests = cfg->rate_limits.burst_requests;
        lim->burst_tokens = cfg->rate_limits.burst_tokens;
        if (k && k->requests_per_minute >= 0) {
                lim->rpm = (uint32_t)k->requests_per_minute;
                lim->burst_requests = 0;
        }
        if (k && k->tokens_per_minute >= 0) {
                lim->tpm = (uint32_t)k->tokens_per_minute;
                lim->burst_tokens = 0;
        }
        if (!k) {
                int r = rule_of(c);
                if (r >= 0) {
                        const struct sy_limit_rule *l = &cfg->v03->limits[r];
                        *lim = (struct rl_limits){ l->rpm, l->tpm, l->burst_requests, l->burst_tokens };
                }
        }
}

/* "key:<name>", "hdr:<value>" or "ip:<address>" */
static size_t client_id(struct conn *c, char *out, size_t cap) {
        const char *name = auth_client_name(c);
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        char a[INET6_ADDRSTRLEN] = "?";
        int n;

        int rule = name ? -1 : rule_of(c);

        if (name)
                n = snprintf(out, cap, "key:%s", name);
        else if (rule >= 0) /* a rule's budget is its own */
                n = snprintf(out, cap, "rule%d:%s", rule, c->client_h);
        else if (c->client_h[0])
                n = snprintf(out, cap, "hdr:%s", c->client_h);
        else {
                if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == 0) {
                        if (ss.ss_family == AF_INET)
                                inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, a, sizeof a);
                        else if (ss.ss_family == AF_INET6)
                                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a, sizeof a);
                }
                n = snprintf(out, cap, "ip:%s", a);
        }
        return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Go-style durations, as OpenAI writes them: "250ms", "1s", "1m30s" */
static void duration(char *out, size_t cap, uint32_t ms) {
        if (ms < 1000)
                snprintf(out, cap, "%ums", ms);
        else if (ms < 60000)
                snprintf(out, cap, "%u.%03us", ms / 1000, ms % 1000);
        else
                snprintf(out, cap, "%um%us", ms / 60000, (ms % 60000) / 1000);
}

void respond_common_headers(struct conn *c, struct buf *out) {
        char r1[32], r2[32];

        if (!c->limited)
                return;
        duration(r1, sizeof r1, c->rl_reset_req_ms);
        duration(r2, sizeof r2, c->rl_reset_tok_ms);
        if (c->rl_limit_req)
                buf_printf(out,
                           "x-ratelimit-limit-requests: %u\r\nx-ratelimit-remaining-requests: %u\r\n"
                           "x-ratelimit-reset-requests: %s\r\n",
                           c->rl_limit_req, c->rl_remaining_req, r1);
        if (c->rl_limit_tok)
                buf_printf(out,
                           "x-ratelimit-limit-tokens: %u\r\nx-ratelimit-remaining-tokens: %u\r\n"
                           "x-ratelimit-reset-tokens: %s\r\n",
                           c->rl_limit_tok, c->rl_remaining_tok, r2);
}

/* The worker's Redis connection for the request's configuration, or NULL. */
static struct rlr *redis_of(struct conn *c) {
        struct worker *w = c->w;
        const struct sy_config *cfg = c->cfg;
        const char *pw_env = cfg->rate_limits.redis.password_env;

        if (!cfg->rate_limits.redis.host)
                return NULL;
        if (w->rlr && !rlr_is(w->rlr, cfg->rate_limits.redis.host, cfg->rate_limits.redis.port)) {
                rlr_close(w->rlr);
                w->rlr = NULL;
        }
        if (!w->rlr &&
            rlr_open(cfg->rate_limits.redis.host, cfg->rate_limits.redis.port, pw_env ? getenv(pw_env) : NULL,
                     cfg->rate_limits.redis.key_prefix, cfg->rate_limits.redis.timeout_ms, &w->rlr) < 0)
                w->rlr = NULL;
        return w->rlr;
}

void limit_worker_fini(struct worker *w) {
        rlr_close(w->rlr);
        w->rlr = NULL;
}

static enum stage_rc run(struct conn *c) {
        struct worker *w = c->w;
        struct rl_limits lim;
        struct rl_result res;
        struct rlr *redis;
        char id[160];
        size_t idl, blen;
        int r = -EHOSTUNREACH;

        if (!w->fe->rl)
                return STAGE_NEXT;
        limits_of(c, &lim);
        if (!lim.rpm && !lim.tpm)
                return STAGE_NEXT;
        idl = client_id(c, id, sizeof id);
        proxy_body(c, &blen);
        c->rl_charged = lim.tpm ? (uint32_t)(blen / 4) : 0;
        /* the fleet's budget in Redis when there is one; the host's table
         * when there is none, or it does not answer and fail_open says so */
        if ((redis = redis_of(c)) != NULL)
                r = rlr_check(redis, id, idl, &lim, c->rl_charged, &res);
        if (redis && r < 0 && !c->cfg->rate_limits.redis.fail_open) {
                atomic_fetch_add_explicit(&w->metrics.ratelimited[2], 1, memory_order_relaxed);
                c->retry_after_s = 1;
                respond_error(c, 503, "server_error", NULL, "rate_limit_unavailable",
                              "the rate limiter's store is unreachable; retry later");
                return STAGE_DONE;
        }
        if (r < 0)
                r = rl_check(w->fe->rl, id, idl, &lim, c->rl_charged, fe_now_ns(), &res);
        if (r < 0) {
                log_debug("rate limit check: %s", strerror(-r));
                return STAGE_NEXT;
        }
        c->limited = true;
        c->rl_limit_req = res.limit_requests;
        c->rl_remaining_req = res.remaining_requests;
        c->rl_reset_req_ms = res.reset_requests_ms;
        c->rl_limit_tok = res.limit_tokens;
        c->rl_remaining_tok = res.remaining_tokens;
        c->rl_reset_tok_ms = res.reset_tokens_ms;
        if (!res.allowed) {
                bool tokens = res.by_tokens;
                atomic_fetch_add_explicit(&w->metrics.ratelimited[tokens ? 1 : 0], 1, memory_order_relaxed);
                c->retry_after_s = res.retry_after_s ? res.retry_after_s : 1;
                c->rl_charged = 0;
                respond_error(c, 429, tokens ? "tokens" : "requests", NULL, "rate_limit_exceeded",
                              "Rate limit reached for %s on %s per minute: limit %u. Retry after %u s.",
                              auth_client_name(c) ? auth_client_name(c) : "this client", tokens ? "tokens" : "requests",
                              tokens ? res.limit_tokens : res.limit_requests, c->retry_after_s);
                return STAGE_DONE;
        }
        c->rl_tokens = lim.tpm > 0;
        return STAGE_NEXT;
}

const struct stage stage_limit = { "limit", run };

void limit_observe_answer(struct conn *c, const char *p, size_t n) {
        struct buf *t = &c->usage_tail;

        if (n >= USAGE_TAIL) {
                t->len = 0;
                buf_append(t, p + n - USAGE_TAIL, USAGE_TAIL);
                return;
        }
        if (t->len + n > USAGE_TAIL) {
                size_t drop = t->len + n - USAGE_TAIL;
                memmove(t->p, t->p + drop, t->len - drop);
                t->len -= drop;
        }
        buf_append(t, p, n);
}

/* total_tokens of the last "usage" object in the answer's tail, -1 if none */
static long usage_total(const struct buf *t) {
        static const char key[] = "\"total_tokens\"";
        const char *p = NULL;

        for (size_t i = t->len; i >= sizeof key - 1; i--)
                if (memcmp(t->p + i - (sizeof key - 1), key, sizeof key - 1) == 0) {
                        p = t->p + i;
                        break;
                }
        if (!p)
                return -1;
        while (p < t->p + t->len && (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n' || *p == '\r'))
                p++;
        if (p >= t->p + t->len || *p < '0' || *p > '9')
                return -1;
        /* the tail is not NUL-terminated: digits read up to its end only */
        long v = 0;
        for (; p < t->p + t->len && *p >= '0' && *p <= '9'; p++)
                if (v < 1000000000000L)
                        v = v * 10 + (*p - '0');
        return v;
}

void limit_request_done(struct conn *c) {
        struct rl_limits lim;
        char id[160];
        size_t idl;
        long total;

        if (!c->rl_tokens || !c->w->fe->rl)
                return;
        c->rl_tokens = false;
        total = c->usage_tail.len ? usage_total(&c->usage_tail) : -1;
        c->usage_tail.len = 0;
        if (total < 0)
                return; /* no usage: the estimate stands */
        limits_of(c, &lim);
        idl = client_id(c, id, sizeof id);
        if (redis_of(c) && rlr_adjust_tokens(c->w->rlr, id, idl, &lim, (int64_t)total - (int64_t)c->rl_charged) == 0)
                return;
        rl_adjust_tokens(c->w->fe->rl, id, idl, &lim, (int64_t)total - (int64_t)c->rl_charged, fe_now_ns());
}
