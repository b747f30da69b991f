/* Prefix-cache affinity: chained block hashes over a prompt, and a
 * per-endpoint LRU set of the block hashes dispatched to it.
 *
 * prefix_hash_chain() splits the prompt bytes into blocks of block_size
 * bytes and hashes each full block together with the hash of the block
 * before it: h_0 = H(seed, block_0), h_i = H(h_{i-1}, block_i). Two prompts
 * share h_0..h_k exactly when they share their first k+1 blocks (up to hash
 * collisions), so the longest common run of leading hashes is the longest
 * shared cached prefix. H is XXH64 with the previous hash as its seed
 * (bit-exact with the reference xxHash library; tests pin its vectors). A partial last block is not hashed: engines cache
 * only full blocks. The hash is deterministic across processes, runs and
 * hosts (bytes are read little-endian whatever the host order).
 *
 * struct prefix_index is a set of at most `capacity` 64-bit hashes with
 * least-recently-used eviction: one allocation at prefix_index_new(), none
 * per operation (open addressing with linear probing and backward-shift
 * deletion, an intrusive LRU list over a preallocated node array). Not
 * thread-safe: one owner (the router thread) per index. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define PREFIX_BLOCK_SIZE_DEFAULT 64
#define PREFIX_HASH_SEED 0x73776974636879ULL /* "switchy" */
#define PREFIX_INDEX_CAPACITY_MAX (1u << 30)

/* One block's hash chained on prev (use PREFIX_HASH_SEED for the first). */
uint64_t prefix_hash_block(uint64_t prev, const void *block, size_t len);

/* Writes the chained hashes of the first min(len / block_size, max_hashes)
 * full blocks of buf to ret_hashes. Returns how many (>= 0), or -EINVAL for
 * block_size 0 or NULL pointers with a non-zero count. */
int prefix_hash_chain(const void *buf, size_t len, size_t block_size, uint64_t *ret_hashes,
                      size_t max_hashes);

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
