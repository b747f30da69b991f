/* An LRU set of chained block hashes (proto/prefix_hash.h makes them). */
#include "router/prefix_index.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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

int prefix_index_new(uint32_t capacity, uint32_t table_slots, struct prefix_index **ret) {
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
        if ((uint64_t)sizeof(*idx) + (uint64_t)capacity * sizeof(struct pi_node) +
                    (uint64_t)table_slots * sizeof(uint32_t) >
            SIZE_MAX)
                return -ENOMEM;
#endif
        size = sizeof(*idx) + (size_t)capacity * sizeof(struct pi_node) + (size_t)table_slots * sizeof(uint32_t);
        idx = malloc(size);
        if (!idx)
                return -ENOMEM;
        idx->capacity = capacity;
        idx->mask = table_slots - 1;
        idx->nodes = (struct pi_node *)(idx + 1);
        idx->table = (uint32_t *)(idx->nodes + capacity);
        prefix_index_clear(idx);
        *ret = idx;
        return 0;
}

void prefix_index_free(struct prefix_index *idx) {
        free(idx);
}

void prefix_index_clear(struct prefix_index *idx) {
        idx->count = 0;
        idx->head = idx->tail = NIL;
        memset(idx->table, 0xff, ((size_t)idx->mask + 1) * sizeof(uint32_t));
}

uint32_t prefix_index_count(const struct prefix_index *idx) {
        return idx->count;
}

uint32_t prefix_index_capacity(const struct prefix_index *idx) {
        return idx->capacity;
}

/* The slot holding hash h, or the empty slot where it would go. Terminates:
 * there are more slots than nodes. */
static uint32_t find_slot(const struct prefix_index *idx, uint64_t h) {
        uint32_t i = (uint32_t)h & idx->mask;

        while (idx->table[i] != NIL && idx->nodes[idx->table[i]].hash != h)
                i = (i + 1) & idx->mask;
        return i;
}

/* Backward-shift deletion: no tombstones, probe runs stay short. */
static void table_delete(struct prefix_index *idx, uint32_t i) {
        uint32_t j = i;

        for (;;) {
                uint32_t k;

                idx->table[i] = NIL;
                for (;;) {
                        j = (j + 1) & idx->mask;
                        if (idx->table[j] == NIL)
                                return;
                        k = (uint32_t)idx->nodes[idx->table[j]].hash & idx->mask;
                        /* entry at j may stay if its home k lies cyclically in (i, j] */
                        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                                continue;
                        break;
                }
                idx->table[i] = idx->table[j];
                i = j;
        }
}

static void lru_unlink(struct prefix_index *idx, uint32_t n) {
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

static void lru_push_head(struct prefix_index *idx, uint32_t n) {
        struct pi_node *node = &idx->nodes[n];

        node->prev = NIL;
        node->next = idx->head;
        if (idx->head != NIL)
                idx->nodes[idx->head].prev = n;
        else
                idx->tail = n;
        idx->head = n;
}

size_t prefix_index_match(const struct prefix_index *idx, const uint64_t *hashes, size_t n) {
        size_t i;

        for (i = 0; i < n; i++)
                if (idx->table[find_slot(idx, hashes[i])] == NIL)
                        break;
        return i;
}

int prefix_index_insert(struct prefix_index *idx, const uint64_t *hashes, size_t n) {
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

size_t prefix_index_dump(const struct prefix_index *idx, uint64_t *ret_hashes, size_t max) {
        size_t i = 0;

        for (uint32_t n = idx->head; n != NIL && i < max; n = idx->nodes[n].next)
                ret_hashes[i++] = idx->nodes[n].hash;
        return i;
}
