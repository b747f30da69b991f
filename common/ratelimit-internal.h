/* The rate limiter's private parts, shared by ratelimit.c, ratelimit_redis.c
 * and the tests: the bucket arithmetic (GCRA in nanoseconds, the same for
 * the local table and the Redis script), and the table's layout.
 *
 * A bucket of `size` units refilled at `rate` units per minute is one
 * number, its theoretical arrival time TAT (ns); `used` = max(TAT - now, 0)
 * is how much of the bucket is spent, in time: the bucket is full when
 * used == 0 and empty when used == tau, the time it takes to refill
 * completely. Taking n units adds cost(n) to used; it is allowed when
 * used + cost(n) <= tau. The interval per unit is kept in 1/65536 ns
 * (tfp), so rates up to 2^32 per minute keep their precision; costs are
 * rounded up and tau rounded up, which admits exactly `size` units from a
 * full bucket and never more than `size` in total. Requests are always one
 * unit; their tau is size whole units (size requests fit exactly). All
 * spans are capped at RL_MAX_SPAN (about 52 days, exact in a double for the
 * Redis script); a debt beyond the bucket (after an adjustment, or a
 * request larger than the bucket) is capped at RL_MAX_DEBT_NS. */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/ratelimit.h"

#define RL_MINUTE_NS 60000000000ULL
#define RL_MAX_SPAN (1ULL << 52)
#define RL_MAX_DEBT_NS (86400ULL * 1000000000ULL)

struct rl_bucket {
        bool on;        /* rate > 0 */
        uint32_t rate;  /* units per minute */
        uint32_t size;  /* burst, or rate */
        uint64_t tfp;   /* ns per unit << 16 */
        uint64_t unit;  /* cost(1) */
        uint64_t tau;   /* span of a full bucket */
        uint64_t limit; /* most `used` may reach: tau + RL_MAX_DEBT_NS */
};

static inline uint64_t rl_span(uint64_t n, uint64_t tfp, bool round_up) {
        unsigned __int128 v = (unsigned __int128)n * tfp + (round_up ? 0xffff : 0);

        v >>= 16;
        return v > RL_MAX_SPAN ? RL_MAX_SPAN : (uint64_t)v;
}

static inline void rl_bucket_init(struct rl_bucket *b, uint32_t rate, uint32_t burst, bool whole_units) {
        b->on = rate > 0;
        b->rate = rate;
        b->size = burst ? burst : rate;
        if (!b->on) {
                b->tfp = b->unit = b->tau = b->limit = 0;
                return;
        }
        b->tfp = (RL_MINUTE_NS << 16) / rate;
        b->unit = rl_span(1, b->tfp, true);
        if (whole_units) {
                unsigned __int128 t = (unsigned __int128)b->size * b->unit;
                b->tau = t > RL_MAX_SPAN ? RL_MAX_SPAN : (uint64_t)t;
        } else {
                b->tau = rl_span(b->size, b->tfp, true);
        }
        b->limit = b->tau + RL_MAX_DEBT_NS;
}

/* cost of n units (n > 0) */
static inline uint64_t rl_cost(const struct rl_bucket *b, uint64_t n) {
        return n == 1 ? b->unit : rl_span(n, b->tfp, true);
}

/* Would a charge of `cost` on a bucket `used` be admitted? A charge larger
 * than the whole bucket is admitted only when the bucket is full. */
static inline bool rl_fits(const struct rl_bucket *b, uint64_t used, uint64_t cost, bool force_when_full) {
        return used + cost <= b->tau || (force_when_full && used == 0);
}

/* used after admitting cost */
static inline uint64_t rl_after(const struct rl_bucket *b, uint64_t used, uint64_t cost) {
        uint64_t u = used + cost;

        return u > b->limit ? b->limit : u;
}

/* ns until a charge of `cost` would be admitted */
static inline uint64_t rl_wait(const struct rl_bucket *b, uint64_t used, uint64_t cost, bool force_when_full) {
        if (rl_fits(b, used, cost, force_when_full))
                return 0;
        if (cost > b->tau)
                return used; /* until full */
        return used + cost - b->tau;
}

/* whole units left in the bucket: as many as one request could take */
static inline uint32_t rl_left(const struct rl_bucket *b, uint64_t used, bool whole_units) {
        uint64_t n;

        if (!b->on || used >= b->tau)
                return 0;
        if (whole_units) {
                n = (b->tau - used) / b->unit;
        } else {
                /* the most tokens one request could take now: cost(n) <= tau - used */
                n = (uint64_t)(((unsigned __int128)(b->tau - used) << 16) / b->tfp);
                while (n > 0 && rl_cost(b, n) > b->tau - used)
                        n--;
                if (rl_cost(b, n + 1) <= b->tau - used)
                        n++;
        }
        return n > b->size ? b->size : (uint32_t)n;
}

static inline uint32_t rl_ms(uint64_t ns) {
        uint64_t ms = (ns + 999999) / 1000000;

        return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* Fills ret from the buckets' state (`used` after the decision). */
static inline void rl_report(const struct rl_bucket *br, const struct rl_bucket *bt, uint64_t used_r, uint64_t used_t,
                             bool allowed, bool by_tokens, uint64_t wait_ns, struct rl_result *ret) {
        uint64_t s;

        ret->allowed = allowed;
        ret->by_tokens = by_tokens;
        ret->limit_requests = br->on ? br->rate : 0;
        ret->remaining_requests = rl_left(br, used_r, true);
        ret->reset_requests_ms = br->on ? rl_ms(used_r) : 0;
        ret->limit_tokens = bt->on ? bt->rate : 0;
        ret->remaining_tokens = rl_left(bt, used_t, false);
        ret->reset_tokens_ms = bt->on ? rl_ms(used_t) : 0;
        s = (wait_ns + 999999999ULL) / 1000000000ULL;
        ret->retry_after_s = allowed ? 0 : s == 0 ? 1 : s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

/* ---- the table (see ratelimit.c) ---------------------------------------- */

#define RL_WINDOW 16     /* slots a client's hash may use */
#define RL_KEY_BUSY 1ULL /* the slot is being (re)initialised */
#define RL_KEY_HASH 2ULL /* set in every client key */
#define RL_KEY_DEAD 4ULL /* abandoned slot: matches no client */

struct rl_entry {
        _Atomic uint64_t key;     /* 0 free; h1 (bit 1 set, bit 0 clear) ready; h1 | BUSY; DEAD */
        _Atomic uint64_t check;   /* second hash of the id */
        _Atomic uint64_t tat[2];  /* request and token buckets' TAT, ns */
        _Atomic uint64_t seen_ns; /* last check or adjustment: eviction order */
        uint64_t pad[3];          /* one cache line per client */
};

struct rl_header {
        uint64_t magic;
        uint32_t capacity;
        uint32_t entry_size;
        uint64_t key[4];     /* the hash's secret keys, random per table */
        uint8_t boot_id[16]; /* the boot the table's clock belongs to */
};

_Static_assert(sizeof(struct rl_entry) == 64, "one cache line per entry");
_Static_assert(sizeof(struct rl_header) == 64, "header is one cache line");

/* for the tests and the benchmark: the id's two hashes, and a slot */
void rl_hash(const struct rl_table *t, const void *id, size_t len, uint64_t *ret_h1, uint64_t *ret_h2);
struct rl_entry *rl_slot(struct rl_table *t, uint32_t i);
