/* Per-client token buckets shared by every thread and process that maps
 * the same table (the frontend's workers; a restarted frontend), with no
 * lock on the path of a known client.
 *
 * Each client (any bytes: the caller makes the id) has two buckets: one of
 * requests (capacity burst_requests, default rpm, refilled continuously at
 * rpm per minute) and one of tokens (capacity burst_tokens, default tpm,
 * refilled at tpm per minute). A request is admitted when both have room:
 * one request, and its estimated tokens (or the token bucket is full: a
 * request larger than the bucket is admitted only then, so it is not
 * refused forever); a refused request takes nothing. rl_adjust_tokens()
 * corrects the charge once the real count is known; the token bucket may go
 * into debt.
 *
 * The table holds a fixed number of clients (max_clients rounded up to a
 * power of two, 64 bytes each). A new client takes a free slot among the 16
 * its hash points to, else the one of those seen longest ago (its budget is
 * forgotten). Entries are keyed by two independent 64-bit hashes of the id.
 * Bucket states are single 64-bit words updated by compare-and-swap, so
 * concurrent requests of one client never spend the same unit twice. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rl_table;

struct rl_limits {
        uint32_t rpm, tpm;                     /* 0: no limit of that kind */
        uint32_t burst_requests, burst_tokens; /* bucket sizes; 0: rpm / tpm */
};

struct rl_result {
        bool allowed;
        bool by_tokens;                        /* refused by the token bucket (not the request one) */
        uint32_t limit_requests, remaining_requests, reset_requests_ms;
        uint32_t limit_tokens, remaining_tokens, reset_tokens_ms; /* ms until the bucket is full again */
        uint32_t retry_after_s;                /* refused: seconds until it would be admitted */
};

/* Maps the table at path (created or re-created when its size differs;
 * NULL: anonymous, for one process). -errno. */
int rl_open(const char *path, uint32_t max_clients, struct rl_table **ret);
void rl_close(struct rl_table *t);
uint32_t rl_capacity(const struct rl_table *t);

/* Admits one request of `tokens` estimated tokens for client id at now_ns
 * (CLOCK_MONOTONIC-style: every user of a table must use the same clock). */
int rl_check(struct rl_table *t, const void *id, size_t len, const struct rl_limits *lim, uint32_t tokens,
             uint64_t now_ns, struct rl_result *ret);
/* Adds delta tokens to what the client spent (negative: gives back). */
void rl_adjust_tokens(struct rl_table *t, const void *id, size_t len, const struct rl_limits *lim, int64_t delta,
                      uint64_t now_ns);
