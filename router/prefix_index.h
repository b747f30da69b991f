/* Prefix-cache affinity: a per-endpoint LRU set of the block hashes
 * dispatched to it (the hashes: proto/prefix_hash.h, which the frontend
 * computes too).
 *
 * struct prefix_index is a set of at most `capacity` 64-bit hashes with
 * least-recently-used eviction: one allocation at prefix_index_new(), none
 * per operation (open addressing with linear probing and backward-shift
 * deletion, an intrusive LRU list over a preallocated node array). Not
 * thread-safe: one owner (the router thread) per index. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "proto/prefix_hash.h"

#define PREFIX_INDEX_CAPACITY_MAX (1u << 30)

struct prefix_index;

/* capacity: hashes kept, 1..PREFIX_INDEX_CAPACITY_MAX. table_slots: size of
 * the open-addressing table, a power of two greater than capacity, or 0 for
 * the default (the smallest power of two >= 2 * capacity). Slots are taken
 * from the low bits of the hash. -EINVAL on bad sizes, -ENOMEM. */
int prefix_index_new(uint32_t capacity, uint32_t table_slots, struct prefix_index **ret);
void prefix_index_free(struct prefix_index *idx);
/* Forgets every hash (e.g. the endpoint restarted). */
void prefix_index_clear(struct prefix_index *idx);
uint32_t prefix_index_count(const struct prefix_index *idx);
uint32_t prefix_index_capacity(const struct prefix_index *idx);

/* Number of leading hashes[0..n) present: the longest cached prefix, in
 * blocks. A pure lookup: recency is not changed. */
size_t prefix_index_match(const struct prefix_index *idx, const uint64_t *hashes, size_t n);

/* Inserts or touches hashes[0..min(n, capacity)), evicting the least
 * recently used when full. They are touched from the last to the first, so
 * hashes[0] ends most recently used and, of one chain, the deepest blocks
 * are evicted first (a block is of no use once its prefix is gone). Hashes
 * past the capacity are not inserted (they would evict their own prefix).
 * Returns how many were new. */
int prefix_index_insert(struct prefix_index *idx, const uint64_t *hashes, size_t n);

/* Writes up to max hashes, most recently used first; returns how many.
 * For tests and the admin API. */
size_t prefix_index_dump(const struct prefix_index *idx, uint64_t *ret_hashes, size_t max);
