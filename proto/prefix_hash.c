/* Chained block hashes: XXH64 of each block, seeded with the previous
 * block's hash (see prefix_hash.h). */
#include "proto/prefix_hash.h"

#include <errno.h>
#include <string.h>

/* ---- hashing: XXH64 (Yann Collet's algorithm, written from its spec) ---- */

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl64(uint64_t x, int r) {
        return (x << r) | (x >> (64 - r));
}

/* little-endian loads whatever the host order */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LE64(v) __builtin_bswap64(v)
#define LE32(v) __builtin_bswap32(v)
#else
#define LE64(v) (v)
#define LE32(v) (v)
#endif

static inline uint64_t rd64(const uint8_t *p) {
        uint64_t v;
        memcpy(&v, p, 8);
        return LE64(v);
}

static inline uint32_t rd32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, 4);
        return LE32(v);
}

static inline uint64_t xxh_round(uint64_t acc, uint64_t in) {
        acc += in * P2;
        acc = rotl64(acc, 31);
        return acc * P1;
}

static inline uint64_t xxh_merge(uint64_t acc, uint64_t v) {
        acc ^= xxh_round(0, v);
        return acc * P1 + P4;
}

uint64_t prefix_hash_block(uint64_t seed, const void *block, size_t len) {
        const uint8_t *p = block, *end = p + len;
        uint64_t h;

        if (len >= 32) {
                const uint8_t *limit = end - 32;
                uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;

                do {
                        v1 = xxh_round(v1, rd64(p));
                        v2 = xxh_round(v2, rd64(p + 8));
                        v3 = xxh_round(v3, rd64(p + 16));
                        v4 = xxh_round(v4, rd64(p + 24));
                        p += 32;
                } while (p <= limit);
                h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
                h = xxh_merge(h, v1);
                h = xxh_merge(h, v2);
                h = xxh_merge(h, v3);
                h = xxh_merge(h, v4);
        } else {
                h = seed + P5;
        }
        h += (uint64_t)len;
        while (end - p >= 8) {
                h ^= xxh_round(0, rd64(p));
                h = rotl64(h, 27) * P1 + P4;
                p += 8;
        }
        if (end - p >= 4) {
                h ^= (uint64_t)rd32(p) * P1;
                h = rotl64(h, 23) * P2 + P3;
                p += 4;
        }
        while (p < end) {
                h ^= (uint64_t)*p * P5;
                h = rotl64(h, 11) * P1;
                p++;
        }
        h ^= h >> 33;
        h *= P2;
        h ^= h >> 29;
        h *= P3;
        h ^= h >> 32;
        return h;
}

int prefix_hash_chain(const void *buf, size_t len, size_t block_size, uint64_t *ret_hashes, size_t max_hashes) {
        const uint8_t *p = buf;
        uint64_t h = PREFIX_HASH_SEED;
        size_t n;

        if (block_size == 0)
                return -EINVAL;
        n = len / block_size;
        if (n > max_hashes)
                n = max_hashes;
        if (n > (size_t)INT32_MAX)
                n = INT32_MAX;
        if (n > 0 && (!buf || !ret_hashes))
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                h = prefix_hash_block(h, p + i * block_size, block_size);
                ret_hashes[i] = h;
        }
        return (int)n;
}
