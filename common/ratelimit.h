/* Per-client token buckets shared by every thread and process that maps
 * the same table (the frontend's workers; a restarted frontend), with no
 * lock: each bucket is one 64-bit word updated by compare-and-swap, so
 * concurrent requests of one client never spend the same unit twice.
 *
 * Buckets. Each client (any bytes: the caller makes the id) has two: one of
 * requests (capacity burst_requests, default rpm, refilled continuously at
 * rpm per minute) and one of tokens (capacity burst_tokens, default tpm,
 * refilled at tpm per minute). A request is admitted when both have room:
 * one request, and its estimated tokens. A request estimated at more tokens
 * than the whole bucket is admitted only when the bucket is full (so it is
 * not refused forever) and leaves the bucket in debt. A refused request
 * takes nothing (two concurrent requests may see each other's unit for the
 * instant between a take and its refund: a refusal then, never an excess).
 * rl_adjust_tokens() corrects the charge once the real count is known; a
 * correction upwards may put the bucket into debt (refused until paid off),
 * one downwards never makes it more than full. A debt is capped at one day
 * beyond the bucket. Arithmetic: see ratelimit-internal.h (rates of up to
 * 2^32 per minute keep their precision; nothing overflows).
 *
 * Time is the caller's now_ns: every user of a table must use the same
 * clock, CLOCK_MONOTONIC (a file table remembers the boot it was made in and
 * is laid out anew after a reboot).
 *
 * The table. A fixed number of clients: max_clients rounded up to a power of
 * two (at least 16, at most 2^24), 64 bytes each, plus 64. Memory never
 * grows. A client's id is hashed (a keyed hash, its key random per table, so
 * ids cannot be chosen to collide) to two 64-bit hashes; the first picks a
 * window of 16 slots and is the slot's key, the second is stored beside it:
 * two ids share a bucket only if both hashes agree (2^-126). A new client
 * takes the first free slot of its window; when the window is full it takes,
 * in this order, an abandoned slot, the least recently seen slot whose
 * buckets are both full again (forgetting it loses nothing), else the least
 * recently seen slot (that client's budget is forgotten: it starts full).
 * So a flood of distinct ids evicts only clients older than the flood's own.
 * A lookup of a known client reads at most its window and waits for no one;
 * the only wait is for a slot that another thread is setting up for the same
 * client (a few stores); a slot left half set up by a process killed in
 * those few stores is taken over after 10 ms.
 *
 * Thread-safety: every function but rl_open/rl_close may be called by any
 * number of threads and processes at once on one table. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rl_table;

struct rl_limits {
        uint32_t rpm, tpm;                     /* per minute; 0: no limit of that kind */
        uint32_t burst_requests, burst_tokens; /* bucket sizes; 0: rpm / tpm */
};

/* What the OpenAI headers say (x-ratelimit-*): limit = rpm / tpm (0 when
 * that kind is not limited, then remaining and reset are 0 too). */
struct rl_result {
        bool allowed;
        bool by_tokens; /* refused by the token bucket, the request one had room */
        uint32_t limit_requests, remaining_requests, reset_requests_ms; /* ms until full again */
        uint32_t limit_tokens, remaining_tokens, reset_tokens_ms;       /* ms until full again */
        uint32_t retry_after_s; /* refused: whole seconds until it would be admitted, >= 1 */
};

/* Maps the table at path, shared with every other opener (MAP_SHARED; made
 * when missing, laid out anew when its size, version or boot differs: the
 * new file replaces the old one by rename, so a process still mapping the
 * old one keeps working on it). path NULL: an anonymous shared mapping
 * (threads of one process, or children forked after). -errno. */
int rl_open(const char *path, uint32_t max_clients, struct rl_table **ret);
void rl_close(struct rl_table *t);
/* slots in the table (max_clients rounded up) */
uint32_t rl_capacity(const struct rl_table *t);

/* Admits one request of `tokens` estimated tokens for client id (len bytes)
 * at now_ns, or refuses it and takes nothing. 0, with *ret filled either way;
 * -EINVAL; -EAGAIN when the client's window stayed contended for 64 tries
 * (the caller lets the request through). */
int rl_check(struct rl_table *t, const void *id, size_t len, const struct rl_limits *lim, uint32_t tokens,
             uint64_t now_ns, struct rl_result *ret);
/* Adds delta tokens to what the client spent (actual - estimated; negative:
 * gives back). No-op when lim->tpm is 0. */
void rl_adjust_tokens(struct rl_table *t, const void *id, size_t len, const struct rl_limits *lim, int64_t delta,
                      uint64_t now_ns);
