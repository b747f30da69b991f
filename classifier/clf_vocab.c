#include "classifier/clf_vocab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct clf_vocab_str {
        char *s;
        uint32_t len;
};

struct clf_vocab {
        /* hash slots: index into strs + 1 (0 = empty) */
        uint32_t *slots;
        size_t n_slots; /* power of two */
        struct clf_vocab_str *strs;
        int32_t *str_id; /* id currently mapped by strs[i] */
        size_t n_strs, cap_strs;
        int32_t *id_str; /* id -> strs index, -1 none */
        size_t n_ids, cap_ids;
};

static uint64_t hash_bytes(const char *s, size_t len) {
        uint64_t h = 0xcbf29ce484222325ull;

        for (size_t i = 0; i < len; i++) {
                h ^= (unsigned char)s[i];
                h *= 0x100000001b3ull;
        }
        return h ^ (h >> 29);
}

int clf_vocab_new(struct clf_vocab **ret_vocab) {
        struct clf_vocab *v = calloc(1, sizeof *v);

        if (!v)
                return -ENOMEM;
        v->n_slots = 1024;
        v->slots = calloc(v->n_slots, sizeof *v->slots);
        if (!v->slots) {
                free(v);
                return -ENOMEM;
        }
        *ret_vocab = v;
        return 0;
}

void clf_vocab_free(struct clf_vocab *v) {
        if (!v)
                return;
        for (size_t i = 0; i < v->n_strs; i++)
                free(v->strs[i].s);
        free(v->strs);
        free(v->str_id);
        free(v->id_str);
        free(v->slots);
        free(v);
}

/* slot holding s, or the empty slot where it would go */
static size_t find_slot(const struct clf_vocab *v, const char *s, size_t len) {
        size_t mask = v->n_slots - 1, i = hash_bytes(s, len) & mask;

        for (;;) {
                uint32_t k = v->slots[i];

                if (k == 0)
                        return i;
                const struct clf_vocab_str *e = &v->strs[k - 1];
                if (e->len == len && memcmp(e->s, s, len) == 0)
                        return i;
                i = (i + 1) & mask;
        }
}

static int grow_slots(struct clf_vocab *v) {
        size_t n = v->n_slots * 2, mask = n - 1;
        uint32_t *slots = calloc(n, sizeof *slots);

        if (!slots)
                return -ENOMEM;
        for (size_t k = 0; k < v->n_strs; k++) {
                size_t i = hash_bytes(v->strs[k].s, v->strs[k].len) & mask;

                while (slots[i])
                        i = (i + 1) & mask;
                slots[i] = (uint32_t)(k + 1);
        }
        free(v->slots);
        v->slots = slots;
        v->n_slots = n;
        return 0;
}

int clf_vocab_add(struct clf_vocab *v, const char *s, size_t len, int32_t id) {
        size_t slot;
        int r;

        if (id < 0 || id > CLF_VOCAB_MAX_ID || len > UINT32_MAX)
                return -EINVAL;
        if ((v->n_strs + 1) * 4 >= v->n_slots * 3 && (r = grow_slots(v)) < 0)
                return r;
        if ((size_t)id >= v->cap_ids) {
                size_t cap = v->cap_ids ? v->cap_ids : 256;
                int32_t *p;

                while (cap <= (size_t)id)
                        cap *= 2;
                p = realloc(v->id_str, cap * sizeof *p);
                if (!p)
                        return -ENOMEM;
                for (size_t i = v->cap_ids; i < cap; i++)
                        p[i] = -1;
                v->id_str = p;
                v->cap_ids = cap;
        }
        slot = find_slot(v, s, len);
        if (v->slots[slot]) {
                uint32_t k = v->slots[slot] - 1;

                if (v->id_str[v->str_id[k]] == (int32_t)k)
                        v->id_str[v->str_id[k]] = -1;
                v->str_id[k] = id;
                v->id_str[id] = (int32_t)k;
        } else {
                char *copy;

                if (v->n_strs == v->cap_strs) {
                        size_t cap = v->cap_strs ? v->cap_strs * 2 : 256;
                        struct clf_vocab_str *ns = realloc(v->strs, cap * sizeof *ns);

                        if (!ns)
                                return -ENOMEM;
                        v->strs = ns;
                        int32_t *ni = realloc(v->str_id, cap * sizeof *ni);
                        if (!ni)
                                return -ENOMEM;
                        v->str_id = ni;
                        v->cap_strs = cap;
                }
                copy = malloc(len + 1);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, s, len);
                copy[len] = 0;
                v->strs[v->n_strs] = (struct clf_vocab_str){ copy, (uint32_t)len };
                v->str_id[v->n_strs] = id;
                v->id_str[id] = (int32_t)v->n_strs;
                v->slots[slot] = (uint32_t)(v->n_strs + 1);
                v->n_strs++;
        }
        if ((size_t)id >= v->n_ids)
                v->n_ids = (size_t)id + 1;
        return 0;
}

int32_t clf_vocab_find(const struct clf_vocab *v, const char *s, size_t len) {
        size_t slot = find_slot(v, s, len);

        return v->slots[slot] ? v->str_id[v->slots[slot] - 1] : -1;
}

const char *clf_vocab_token(const struct clf_vocab *v, int32_t id, size_t *ret_len) {
        if (id < 0 || (size_t)id >= v->n_ids || v->id_str[id] < 0)
                return NULL;
        if (ret_len)
                *ret_len = v->strs[v->id_str[id]].len;
        return v->strs[v->id_str[id]].s;
}

size_t clf_vocab_size(const struct clf_vocab *v) {
        return v->n_ids;
}
