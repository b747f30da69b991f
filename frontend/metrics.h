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
        _Atomic uint32_t used;      /* release-stored after the key is written */
        uint16_t status;
        char model[96];
        char upstream[48];
        _Atomic uint64_t n;
};

struct fe_uperr_key {
        _Atomic uint32_t used;
        char upstream[48];
        char kind[16];              /* connect, reset, timeout, status */
        _Atomic uint64_t n;
};

struct fe_metrics {
        struct fe_req_key req[FE_REQ_TABLE];
        struct fe_uperr_key uperr[FE_UPERR_TABLE];
        struct fe_hist duration;    /* client-seen, request parsed -> last byte queued */
        struct fe_hist overhead;    /* time spent in the gateway: parse->upstream send + first byte->client */
        struct fe_hist ttfb;        /* upstream time to first byte */
        _Atomic int64_t open_connections;
        _Atomic uint64_t accepted;
        _Atomic uint64_t fallback_picks;   /* picked from the snapshot: router late or gone */
        _Atomic uint64_t retries;
        _Atomic uint64_t rejected_connections;
};

struct buf;
void metrics_count_request(struct fe_metrics *m, const char *model, const char *upstream, int status);
void metrics_count_upstream_error(struct fe_metrics *m, const char *upstream, const char *kind);
void metrics_observe(struct fe_hist *h, uint64_t ns);
/* Writes the sum over n per-worker metric sets. */
int metrics_render(struct buf *out, struct fe_metrics *const *all, unsigned n);
