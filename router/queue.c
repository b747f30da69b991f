/* The router's per-model pick queue (see queue.h). */
#include "router/queue.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void pick_queue_init(struct pick_queue *q) {
        memset(q, 0, sizeof *q);
}

void pick_queue_destroy(struct pick_queue *q) {
        struct pick_queue_ent *e;

        for (unsigned mi = 0; mi < SNAP_MAX_MODELS; mi++)
                while ((e = pick_queue_pop(q, mi)) != NULL)
                        pick_queue_put(q, e);
        while ((e = q->free_list) != NULL) {
                q->free_list = e->next;
                free(e);
        }
}

struct pick_queue_ent *pick_queue_get(struct pick_queue *q) {
        struct pick_queue_ent *e = q->free_list;

        if (e)
                q->free_list = e->next;
        else
                e = malloc(sizeof *e);
        if (e)
                memset(e, 0, offsetof(struct pick_queue_ent, prefix));
        return e;
}

void pick_queue_put(struct pick_queue *q, struct pick_queue_ent *e) {
        e->next = q->free_list;
        q->free_list = e;
}

int pick_queue_push(struct pick_queue *q, unsigned mi, struct pick_queue_ent *e, uint32_t max) {
        if (mi >= SNAP_MAX_MODELS || q->m[mi].n >= max)
                return -ENOSPC;
        e->next = NULL;
        if (q->m[mi].tail)
                q->m[mi].tail->next = e;
        else
                q->m[mi].head = e;
        q->m[mi].tail = e;
        q->m[mi].n++;
        q->total++;
        return 0;
}

struct pick_queue_ent *pick_queue_pop(struct pick_queue *q, unsigned mi) {
        struct pick_queue_ent *e;

        if (mi >= SNAP_MAX_MODELS || !(e = q->m[mi].head))
                return NULL;
        q->m[mi].head = e->next;
        if (!q->m[mi].head)
                q->m[mi].tail = NULL;
        q->m[mi].n--;
        q->total--;
        e->next = NULL;
        return e;
}

uint64_t pick_queue_next_deadline(const struct pick_queue *q) {
        uint64_t d = UINT64_MAX;

        if (!q->total)
                return d;
        /* FIFO per model with one timeout: each head has its model's earliest */
        for (unsigned mi = 0; mi < SNAP_MAX_MODELS; mi++)
                if (q->m[mi].head && q->m[mi].head->deadline_ns < d)
                        d = q->m[mi].head->deadline_ns;
        return d;
}
