#include "frontend/metrics.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend-internal.h"

/* bucket upper bounds in seconds; the last bucket is +Inf */
static const double bounds[FE_HIST_BUCKETS - 1] = {
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5,
};

static uint32_t hash_str(uint32_t h, const char *s) {
        while (*s)
                h = (h ^ (unsigned char)*s++) * 16777619u;
        return h;
}

static void copy(char *dst, size_t cap, const char *s) {
        size_t n = strnlen(s, cap - 1);
        memcpy(dst, s, n);
        dst[n] = 0;
}

void metrics_count_request(struct fe_metrics *m, const char *model, const char *upstream, int status) {
        uint32_t h = hash_str(hash_str(2166136261u ^ (uint32_t)status, model), upstream);

        for (unsigned i = 0; i < FE_REQ_TABLE; i++) {
                struct fe_req_key *k = &m->req[(h + i) % FE_REQ_TABLE];
                if (!atomic_load_explicit(&k->used, memory_order_relaxed)) {
                        k->status = (uint16_t)status;
                        copy(k->model, sizeof k->model, model);
                        copy(k->upstream, sizeof k->upstream, upstream);
                        atomic_store_explicit(&k->n, 1, memory_order_relaxed);
                        /* pairs with the acquire load in metrics_render */
                        atomic_store_explicit(&k->used, 1, memory_order_release);
                        return;
                }
                if (k->status == status && strncmp(k->model, model, sizeof k->model - 1) == 0 &&
                    strncmp(k->upstream, upstream, sizeof k->upstream - 1) == 0) {
                        atomic_fetch_add_explicit(&k->n, 1, memory_order_relaxed);
                        return;
                }
        }
        /* table full: counted nowhere rather than wrongly */
}

static void count_pair(struct fe_uperr_key *t, unsigned size, const char *upstream, const char *kind) {
        uint32_t h = hash_str(hash_str(2166136261u, kind), upstream);

        for (unsigned i = 0; i < size; i++) {
                struct fe_uperr_key *k = &t[(h + i) % size];
                if (!atomic_load_explicit(&k->used, memory_order_relaxed)) {
                        copy(k->upstream, sizeof k->upstream, upstream);
                        copy(k->kind, sizeof k->kind, kind);
                        atomic_store_explicit(&k->n, 1, memory_order_relaxed);
                        atomic_store_explicit(&k->used, 1, memory_order_release);
                        return;
                }
                if (strncmp(k->upstream, upstream, sizeof k->upstream - 1) == 0 &&
                    strncmp(k->kind, kind, sizeof k->kind - 1) == 0) {
                        atomic_fetch_add_explicit(&k->n, 1, memory_order_relaxed);
                        return;
                }
        }
}

void metrics_count_upstream_error(struct fe_metrics *m, const char *upstream, const char *kind) {
        count_pair(m->uperr, FE_UPERR_TABLE, upstream, kind);
}

void metrics_count_guard(struct fe_metrics *m, const char *model, const char *reason) {
        count_pair(m->guard, FE_GUARD_TABLE, model, reason);
}

void metrics_observe(struct fe_hist *h, uint64_t ns) {
        double s = (double)ns / 1e9;
        unsigned b = 0;

        while (b < FE_HIST_BUCKETS - 1 && s > bounds[b])
                b++;
        atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
        atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

/* Label values: escape backslash, quote and newline. */
static void label(struct buf *o, const char *s) {
        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        buf_append(o, "\\", 1);
                if (*s == '\n')
                        buf_append(o, "\\n", 2);
                else
                        buf_append(o, s, 1);
        }
}

/* the histogram at offset off of struct fe_metrics, summed over the workers */
static void render_hist(struct buf *o, const char *name, const char *help, struct fe_metrics *const *all, unsigned n,
                        size_t off) {
        uint64_t cum = 0, sum = 0, count = 0;
        struct fe_hist *hs[FE_MAX_WORKERS];

        for (unsigned i = 0; i < n && i < FE_MAX_WORKERS; i++)
                hs[i] = (struct fe_hist *)((char *)all[i] + off);

        buf_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
        for (unsigned b = 0; b < FE_HIST_BUCKETS; b++) {
                for (unsigned i = 0; i < n; i++)
                        cum += atomic_load_explicit(&hs[i]->bucket[b], memory_order_relaxed);
                if (b < FE_HIST_BUCKETS - 1)
                        buf_printf(o, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[b], (unsigned long long)cum);
                else
                        buf_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
        }
        for (unsigned i = 0; i < n; i++) {
                sum += atomic_load_explicit(&hs[i]->sum_ns, memory_order_relaxed);
                count += atomic_load_explicit(&hs[i]->count, memory_order_relaxed);
        }
        buf_printf(o, "%s_sum %.9f\n%s_count %llu\n", name, (double)sum / 1e9, name, (unsigned long long)count);
}

/* A counter by two labels, summed over the workers' tables (at table
 * offset off in struct fe_metrics). */
static void render_pairs(struct buf *o, const char *name, const char *help, const char *l1, const char *l2,
                         struct fe_metrics *const *all, unsigned n, size_t off, unsigned size) {
        buf_printf(o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
        for (unsigned i = 0; i < n; i++)
                for (unsigned k = 0; k < size; k++) {
                        const struct fe_uperr_key *e = (const struct fe_uperr_key *)((const char *)all[i] + off) + k;
                        uint64_t total = 0;
                        bool dup = false;
                        if (!atomic_load_explicit(&e->used, memory_order_acquire))
                                continue;
                        for (unsigned j = 0; j < n; j++)
                                for (unsigned q = 0; q < size; q++) {
                                        const struct fe_uperr_key *f =
                                                (const struct fe_uperr_key *)((const char *)all[j] + off) + q;
                                        if (!atomic_load_explicit(&f->used, memory_order_acquire) ||
                                            strcmp(f->upstream, e->upstream) || strcmp(f->kind, e->kind))
                                                continue;
                                        if (j < i || (j == i && q < k))
                                                dup = true;
                                        total += atomic_load_explicit(&f->n, memory_order_relaxed);
                                }
                        if (dup)
                                continue;
                        buf_printf(o, "%s{%s=\"", name, l1);
                        label(o, e->upstream);
                        buf_printf(o, "\",%s=\"%s\"} %llu\n", l2, e->kind, (unsigned long long)total);
                }
}

static uint64_t sum_u64(struct fe_metrics *const *all, unsigned n, size_t off) {
        uint64_t s = 0;
        for (unsigned i = 0; i < n; i++)
                s += atomic_load_explicit((_Atomic uint64_t *)((char *)all[i] + off), memory_order_relaxed);
        return s;
}

/* A counter by one label: the k-th of an array of counters at off, summed
 * over the workers, for each of the k names. */
static void render_counts(struct buf *o, const char *name, const char *help, const char *label_name,
                          const char *const *names, unsigned k, struct fe_metrics *const *all, unsigned n, size_t off) {
        buf_printf(o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
        for (unsigned i = 0; i < k; i++)
                buf_printf(o, "%s{%s=\"%s\"} %llu\n", name, label_name, names[i],
                           (unsigned long long)sum_u64(all, n, off + i * sizeof(_Atomic uint64_t)));
}

int metrics_render(struct buf *o, struct fe_metrics *const *all, unsigned n, const struct sy_config *cfg) {
        int64_t open = 0;

        if (n > FE_MAX_WORKERS)
                n = FE_MAX_WORKERS;
        buf_printf(o, "# HELP switchyard_requests_total Requests answered, by model, status and upstream.\n"
                      "# TYPE switchyard_requests_total counter\n");
        /* the same key may sit in several workers' tables: merge them */
        size_t cap = 2 * (size_t)n * FE_REQ_TABLE;
        struct merged {
                const struct fe_req_key *k;
                uint64_t n;
        } *mt = calloc(cap, sizeof *mt);
        if (!mt)
                return -ENOMEM;
        for (unsigned i = 0; i < n; i++)
                for (unsigned k = 0; k < FE_REQ_TABLE; k++) {
                        const struct fe_req_key *e = &all[i]->req[k];
                        if (!atomic_load_explicit(&e->used, memory_order_acquire))
                                continue;
                        size_t h = hash_str(hash_str(2166136261u ^ e->status, e->model), e->upstream) % cap;
                        while (mt[h].k && !(mt[h].k->status == e->status && !strcmp(mt[h].k->model, e->model) &&
                                            !strcmp(mt[h].k->upstream, e->upstream)))
                                h = (h + 1) % cap;
                        mt[h].k = e;
                        mt[h].n += atomic_load_explicit(&e->n, memory_order_relaxed);
                }
        for (size_t h = 0; h < cap; h++) {
                if (!mt[h].k)
                        continue;
                buf_printf(o, "switchyard_requests_total{model=\"");
                label(o, mt[h].k->model);
                buf_printf(o, "\",status=\"%u\",upstream=\"", mt[h].k->status);
                label(o, mt[h].k->upstream);
                buf_printf(o, "\"} %llu\n", (unsigned long long)mt[h].n);
        }
        free(mt);

        render_pairs(o, "switchyard_upstream_errors_total", "Upstream failures seen by the frontend, by kind.",
                     "upstream", "kind", all, n, offsetof(struct fe_metrics, uperr), FE_UPERR_TABLE);
        render_pairs(o, "switchyard_guard_blocked_total",
                     "Requests blocked by the guards (never sent upstream), by model and reason.", "model", "reason",
                     all, n, offsetof(struct fe_metrics, guard), FE_GUARD_TABLE);

        render_hist(o, "switchyard_request_duration_seconds", "Time from a complete request to its last response byte.",
                    all, n, offsetof(struct fe_metrics, duration));
        render_hist(o, "switchyard_gateway_overhead_seconds",
                    "Latency added by switchyard itself (before the upstream send and after its first byte).", all, n,
                    offsetof(struct fe_metrics, overhead));
        render_hist(o, "switchyard_upstream_ttfb_seconds", "Upstream time to first response byte.", all, n,
                    offsetof(struct fe_metrics, ttfb));

        for (unsigned i = 0; i < n; i++)
                open += atomic_load_explicit(&all[i]->open_connections, memory_order_relaxed);
        buf_printf(o,
                   "# HELP switchyard_open_connections Client connections open now.\n"
                   "# TYPE switchyard_open_connections gauge\nswitchyard_open_connections %lld\n",
                   (long long)open);
#define COUNTER(name, field, help)                                                          \
        buf_printf(o, "# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n", \
                   (unsigned long long)sum_u64(all, n, offsetof(struct fe_metrics, field)))
        COUNTER("switchyard_connections_accepted_total", accepted, "Client connections accepted.");
        COUNTER("switchyard_connections_rejected_total", rejected_connections,
                "Client connections refused at the connection limit.");
        COUNTER("switchyard_client_send_timeouts_total", send_timeouts,
                "Client connections closed because a write made no progress for server.send_timeout_ms.");
        COUNTER("switchyard_fallback_picks_total", fallback_picks,
                "Endpoint picks made from the snapshot because the router was late or down.");
        COUNTER("switchyard_retries_total", retries,
                "Requests retried on another endpoint before the first response byte.");
        COUNTER("switchyard_shed_total", shed,
                "Requests answered 429/503 because every endpoint of their model was saturated.");
        COUNTER("switchyard_queued_total", queued,
                "Requests the router queued because every endpoint of their model was saturated.");
        COUNTER("switchyard_classifier_requests_total", clf_requests,
                "Verdicts asked of the classifier (model auto and the classification API).");
        COUNTER("switchyard_classifier_jailbreak_total", clf_jailbreak,
                "Verdicts whose jailbreak probability was 0.5 or more.");
        COUNTER("switchyard_classifier_batch_size_sum", clf_batch_sum,
                "Sum of the classifier batch sizes the verdicts ran in (divide by verdicts for the mean).");
#undef COUNTER
        {
                static const char *const auth[] = { "missing_key", "invalid_key", "model_not_allowed" };
                static const char *const rl[] = { "requests", "tokens", "backend_unavailable" };
                static const char *const reasons[] = { "unavailable",    "timeout", "error",   "ring_full",
                                                       "low_confidence", "no_text", "no_route" };
                render_counts(o, "switchyard_auth_rejected_total", "Requests refused by API key checks, by reason.",
                              "reason", auth, 3, all, n, offsetof(struct fe_metrics, auth_rejected));
                render_counts(o, "switchyard_rate_limited_total",
                              "Requests answered 429 (or 503) by the rate limiter, by limit.", "limit", rl, 3, all, n,
                              offsetof(struct fe_metrics, ratelimited));
                render_counts(o, "switchyard_classifier_fallbacks_total",
                              "Auto requests sent to default_model, by reason.", "reason", reasons, 7, all, n,
                              offsetof(struct fe_metrics, clf_fallback));
                buf_printf(o, "# HELP switchyard_classifier_category_total Auto requests routed by category.\n"
                              "# TYPE switchyard_classifier_category_total counter\n");
                for (size_t k = 0; cfg && k < cfg->n_categories && k < 64; k++) {
                        buf_printf(o, "switchyard_classifier_category_total{category=\"");
                        label(o, cfg->categories[k].name);
                        buf_printf(o, "\"} %llu\n",
                                   (unsigned long long)sum_u64(all, n,
                                                               offsetof(struct fe_metrics, clf_category) +
                                                                       k * sizeof(_Atomic uint64_t)));
                }
                buf_printf(o, "switchyard_classifier_category_total{category=\"(unconfigured)\"} %llu\n",
                           (unsigned long long)sum_u64(
                                   all, n, offsetof(struct fe_metrics, clf_category) + 64 * sizeof(_Atomic uint64_t)));
        }
        render_hist(o, "switchyard_classifier_wait_seconds",
                    "Time from sending text to the classifier to its verdict, as the frontend sees it.", all, n,
                    offsetof(struct fe_metrics, clf_wait));
        render_hist(o, "switchyard_classifier_run_seconds",
                    "Classifier batch run time (tokenize + encoder) of each verdict.", all, n,
                    offsetof(struct fe_metrics, clf_run));
        return 0;
}
