/* The router's pick queue: requests waiting for an endpoint of their model
 * while every endpoint is saturated. One FIFO per model (indexed like the
 * snapshot's models), each bounded; entries hold the decoded pick request
 * so it can be picked again later. Entries are recycled through a free
 * list (allocated only while requests are queued, i.e. under overload). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "proto/snapshot.h"
#include "proto/msg.h"

struct pick_queue_ent {
        struct pick_queue_ent *next;
        uint64_t req_id;
        uint64_t deadline_ns;
        uint32_t worker; /* whose ring the answer goes to */
        uint32_t tokens;
        uint16_t flags; /* SY_PICK_* */
        uint16_t n_exclude;
        uint16_t exclude[SY_PICK_MAX_EXCLUDE];
        uint16_t n_prefix;
        uint16_t engine_len;
        uint16_t model_len;
        bool has_session;
        uint64_t session;
        uint64_t prefix[SY_PICK_MAX_PREFIX];
        char engine[SNAP_SHORT];
        char model[SNAP_NAME];
};

struct pick_queue {
        struct {
                struct pick_queue_ent *head, *tail;
                uint32_t n;
        } m[SNAP_MAX_MODELS];
        struct pick_queue_ent *free_list;
        uint32_t total;
};

void pick_queue_init(struct pick_queue *q);
void pick_queue_destroy(struct pick_queue *q);
/* A blank entry (from the free list, else allocated); NULL on -ENOMEM. */
struct pick_queue_ent *pick_queue_get(struct pick_queue *q);
void pick_queue_put(struct pick_queue *q, struct pick_queue_ent *e);
/* Appends e to model mi's FIFO unless it holds max already (-ENOSPC: e is
 * still the caller's). */
int pick_queue_push(struct pick_queue *q, unsigned mi, struct pick_queue_ent *e, uint32_t max);
/* Takes the head of model mi's FIFO (NULL if empty). */
struct pick_queue_ent *pick_queue_pop(struct pick_queue *q, unsigned mi);
static inline struct pick_queue_ent *pick_queue_head(const struct pick_queue *q, unsigned mi) {
        return q->m[mi].head;
}
/* Earliest deadline of any queued entry; UINT64_MAX if none. */
uint64_t pick_queue_next_deadline(const struct pick_queue *q);
