/* Chained block hashes (XXH64 of each block, seeded with the previous
 * block's hash) and an LRU set of them. */
#include "router/prefix_index.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- hashing: XXH64 (Yann Collet's algorithm, written from its spec) ---- */

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl64(uint64_t x, int r)
{
        return (x << r) | (x >> (64 - r));
}

static inline uint64_t rd64(const uint8_t *p)
{
        uint64_t v;
        memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        return v;
}

static inline uint32_t rd32(const uint8_t *p)
{
        uint32_t v;
        memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap32(v);
#endif
        return v;
}

static inline uint64_t xxh_round(uint64_t acc, uint64_t in)
{
        acc += in * P2;
        acc = rotl64(acc, 31);
        return acc * P1;
}

static inline uint64_t xxh_merge(uint64_t acc, uint64_t v)
{
        acc ^= xxh_round(0, v);
        return acc * P1 + P4;
}

uint64_t prefix_hash_block(uint64_t seed, const void *block, size_t len)
{
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
        h += (uint64_t) len;
        while (end - p >= 8) {
                h ^= xxh_round(0, rd64(p));
                h = rotl64(h, 27) * P1 + P4;
                p += 8;
        }
        if (end - p >= 4) {
                h ^= (uint64_t) rd32(p) * P1;
                h = rotl64(h, 23) * P2 + P3;
                p += 4;
        }
        while (p < end) {
                h ^= (uint64_t) *p * P5;
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

int prefix_hash_chain(const void *buf, size_t len, size_t block_size, uint64_t *ret_hashes,
                      size_t max_hashes)
{
        const uint8_t *p = buf;
        uint64_t h = PREFIX_HASH_SEED;
        size_t n;

        if (block_size == 0)
                return -EINVAL;
        n = len / block_size;
        if (n > max_hashes)
                n = max_hashes;
        if (n > (size_t) INT32_MAX)
                n = INT32_MAX;
        if (n > 0 && (!buf || !ret_hashes))
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                h = prefix_hash_block(h, p + i * block_size, block_size);
                ret_hashes[i] = h;
        }
        return (int) n;
}

/* ---- the LRU set ---- */

#define NIL UINT32_MAX

struct pi_node {
        uint64_t hash;
        uint32_t prev, next; /* LRU list: prev towards head (most recent) */
};

struct prefix_index {
        uint32_t capacity;
        uint32_t mask;  /* table slots - 1 */
        uint32_t count; /* nodes[0..count) are in use */
        uint32_t head, tail;
        struct pi_node *nodes;
        uint32_t *table; /* node number or NIL */
};

int prefix_index_new(uint32_t capacity, uint32_t table_slots, struct prefix_index **ret)
{
        struct prefix_index *idx;
        size_t size;

        if (!ret || capacity == 0 || capacity > PREFIX_INDEX_CAPACITY_MAX)
                return -EINVAL;
        if (table_slots == 0) {
                table_slots = 1;
                while (table_slots < 2 * capacity)
                        table_slots <<= 1;
        } else if ((table_slots & (table_slots - 1)) != 0 || table_slots <= capacity) {
                return -EINVAL;
        }
#if SIZE_MAX < UINT64_MAX
        if ((uint64_t) sizeof(*idx) + (uint64_t) capacity * sizeof(struct pi_node) +
                    (uint64_t) table_slots * sizeof(uint32_t) >
            SIZE_MAX)
                return -ENOMEM;
#endif
        size = sizeof(*idx) + (size_t) capacity * sizeof(struct pi_node) +
               (size_t) table_slots * sizeof(uint32_t);
        idx = malloc(size);
        if (!idx)
                return -ENOMEM;
        idx->capacity = capacity;
        idx->mask = table_slots - 1;
        idx->nodes = (struct pi_node *) (idx + 1);
        idx->table = (uint32_t *) (idx->nodes + capacity);
        prefix_index_clear(idx);
        *ret = idx;
        return 0;
}

void prefix_index_free(struct prefix_index *idx)
{
        free(idx);
}

void prefix_index_clear(struct prefix_index *idx)
{
        idx->count = 0;
        idx->head = idx->tail = NIL;
        memset(idx->table, 0xff, ((size_t) idx->mask + 1) * sizeof(uint32_t));
}

uint32_t prefix_index_count(const struct prefix_index *idx)
{
        return idx->count;
}

uint32_t prefix_index_capacity(const struct prefix_index *idx)
{
        return idx->capacity;
}

/* The slot holding hash h, or the empty slot where it would go. Terminates:
 * there are more slots than nodes. */
static uint32_t find_slot(const struct prefix_index *idx, uint64_t h)
{
        uint32_t i = (uint32_t) h & idx->mask;

        while (idx->table[i] != NIL && idx->nodes[idx->table[i]].hash != h)
                i = (i + 1) & idx->mask;
        return i;
}

/* Backward-shift deletion: no tombstones, probe runs stay short. */
static void table_delete(struct prefix_index *idx, uint32_t i)
{
        uint32_t j = i;

        for (;;) {
                uint32_t k;

                idx->table[i] = NIL;
                for (;;) {
                        j = (j + 1) & idx->mask;
                        if (idx->table[j] == NIL)
                                return;
                        k = (uint32_t) idx->nodes[idx->table[j]].hash & idx->mask;
                        /* entry at j may stay if its home k lies cyclically in (i, j] */
                        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                                continue;
                        break;
                }
                idx->table[i] = idx->table[j];
                i = j;
        }
}

static void lru_unlink(struct prefix_index *idx, uint32_t n)
{
        struct pi_node *node = &idx->nodes[n];

        if (node->prev != NIL)
                idx->nodes[node->prev].next = node->next;
        else
                idx->head = node->next;
        if (node->next != NIL)
                idx->nodes[node->next].prev = node->prev;
        else
                idx->tail = node->prev;
}

static void lru_push_head(struct prefix_index *idx, uint32_t n)
{
        struct pi_node *node = &idx->nodes[n];

        node->prev = NIL;
        node->next = idx->head;
        if (idx->head != NIL)
                idx->nodes[idx->head].prev = n;
        else
                idx->tail = n;
        idx->head = n;
}

size_t prefix_index_match(const struct prefix_index *idx, const uint64_t *hashes, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++)
                if (idx->table[find_slot(idx, hashes[i])] == NIL)
                        break;
        return i;
}

int prefix_index_insert(struct prefix_index *idx, const uint64_t *hashes, size_t n)
{
        int added = 0;

        if (n > idx->capacity)
                n = idx->capacity;
        for (size_t i = n; i-- > 0;) {
                uint64_t h = hashes[i];
                uint32_t slot = find_slot(idx, h), node;

                if (idx->table[slot] != NIL) {
                        node = idx->table[slot];
                        if (idx->head != node) {
                                lru_unlink(idx, node);
                                lru_push_head(idx, node);
                        }
                        continue;
                }
                if (idx->count < idx->capacity) {
                        node = idx->count++;
                } else {
                        node = idx->tail;
                        lru_unlink(idx, node);
                        table_delete(idx, find_slot(idx, idx->nodes[node].hash));
                        slot = find_slot(idx, h); /* the shift may have moved it */
                }
                idx->nodes[node].hash = h;
                idx->table[slot] = node;
                lru_push_head(idx, node);
                added++;
        }
        return added;
}

size_t prefix_index_dump(const struct prefix_index *idx, uint64_t *ret_hashes, size_t max)
{
        size_t i = 0;

        for (uint32_t n = idx->head; n != NIL && i < max; n = idx->nodes[n].next)
                ret_hashes[i++] = idx->nodes[n].hash;
        return i;
}
