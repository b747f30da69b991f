/* Prefix-cache affinity's hashes, made by the frontend (over the prompt it
 * sends in a pick request, proto/msg.h) and by the router (router/picker.c,
 * router/prefix_index.h keeps them per endpoint).
 *
 * prefix_hash_chain() splits the prompt bytes into blocks of block_size
 * bytes and hashes each full block together with the hash of the block
 * before it: h_0 = H(seed, block_0), h_i = H(h_{i-1}, block_i). Two prompts
 * share h_0..h_k exactly when they share their first k+1 blocks (up to hash
 * collisions), so the longest common run of leading hashes is the longest
 * shared cached prefix. H is XXH64 with the previous hash as its seed
 * (bit-exact with the reference xxHash library; tests pin its vectors). A
 * partial last block is not hashed: engines cache only full blocks. The
 * hash is deterministic across processes, runs and hosts (bytes are read
 * little-endian whatever the host order). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define PREFIX_BLOCK_SIZE_DEFAULT 64
#define PREFIX_HASH_SEED 0x73776974636879ULL /* "switchy" */

/* One block's hash chained on prev (use PREFIX_HASH_SEED for the first). */
uint64_t prefix_hash_block(uint64_t prev, const void *block, size_t len);

/* Writes the chained hashes of the first min(len / block_size, max_hashes)
 * full blocks of buf to ret_hashes. Returns how many (>= 0), or -EINVAL for
 * block_size 0 or NULL pointers with a non-zero count. */
int prefix_hash_chain(const void *buf, size_t len, size_t block_size, uint64_t *ret_hashes, size_t max_hashes);
