/* Per-worker metrics, written only by their worker (relaxed atomics) and
 * summed over all workers when /metrics is scraped. Prometheus text format. */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define FE_HIST_BUCKETS 16
#define FE_REQ_TABLE 512
#define FE_UPERR_TABLE 128

struct fe_hist {
        _Atomic uint64_t bucket[FE_HIST_BUCKETS]; /* non-cumulative; last = +Inf */
        _Atomic uint64_t sum_ns;
        _Atomic uint64_t count;
};

struct fe_req_key {
        _Atomic uint32_t used; /* release-stored after the key is written */
        uint16_t status;
        char model[96];
        char upstream[48];
        _Atomic uint64_t n;
};

/* a counter by two labels: (upstream, kind) of upstream errors, (model,
 * reason) of blocked requests */
struct fe_uperr_key {
        _Atomic uint32_t used;
        char upstream[96];
        char kind[24]; /* connect, reset, timeout, status; pii, jailbreak, unchecked */
        _Atomic uint64_t n;
};
#define FE_GUARD_TABLE 128

struct fe_metrics {
        struct fe_req_key req[FE_REQ_TABLE];
        struct fe_uperr_key uperr[FE_UPERR_TABLE];
        struct fe_uperr_key guard[FE_GUARD_TABLE]; /* blocked by the guards, by model and reason */
        _Atomic uint64_t auth_rejected[3];         /* missing key, invalid key, model not allowed */
        _Atomic uint64_t ratelimited[3];           /* requests, tokens, backend unavailable (fail-closed) */
        struct fe_hist duration;                   /* client-seen, request parsed -> last byte queued */
        struct fe_hist overhead; /* time spent in the gateway: parse->upstream send + first byte->client */
        struct fe_hist ttfb;     /* upstream time to first byte */
        _Atomic int64_t open_connections;
        _Atomic uint64_t accepted;
        _Atomic uint64_t fallback_picks; /* picked from the snapshot: router late or gone */
        _Atomic uint64_t retries;
        _Atomic uint64_t rejected_connections;
        _Atomic uint64_t send_timeouts; /* connections closed: no write progress for server.send_timeout_ms */
        _Atomic uint64_t shed;          /* 429/503 because every endpoint was saturated */
        _Atomic uint64_t queued;        /* picks the router queued (saturated) */
        /* model "auto" */
        _Atomic uint64_t clf_requests;     /* verdicts asked for */
        _Atomic uint64_t clf_fallback[7];  /* by reason, FE_CLF_* */
        _Atomic uint64_t clf_category[65]; /* routed by category index (config order); [64] other */
        _Atomic uint64_t clf_jailbreak;    /* verdicts with jailbreak probability >= 0.5 */
        struct fe_hist clf_wait;           /* frontend-seen verdict latency */
        struct fe_hist clf_run;            /* classifier's batch run time */
        _Atomic uint64_t clf_batch_sum;    /* sum of batch sizes of verdicts, for the mean */
};

enum {
        FE_CLF_UNAVAILABLE,
        FE_CLF_TIMEOUT,
        FE_CLF_ERROR,
        FE_CLF_RING_FULL,
        FE_CLF_LOW_CONFIDENCE,
        FE_CLF_NO_TEXT,
        FE_CLF_NO_ROUTE
};

struct buf;
void metrics_count_request(struct fe_metrics *m, const char *model, const char *upstream, int status);
void metrics_count_upstream_error(struct fe_metrics *m, const char *upstream, const char *kind);
void metrics_count_guard(struct fe_metrics *m, const char *model, const char *reason);
void metrics_observe(struct fe_hist *h, uint64_t ns);
/* Writes the sum over n per-worker metric sets. */
struct sy_config;
int metrics_render(struct buf *out, struct fe_metrics *const *all, unsigned n, const struct sy_config *cfg);
