/* The lexical model (see clf_lexical.h; the features are tools/train/
 * sylex.py's, which is their reference). */
#include "classifier/clf_lexical.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/clf_safetensors.h"

#define MAX_BYTES 16384u
#define MAX_LABELS 256
#define FNV_OFFSET 0x811C9DC5u
#define FNV_PRIME 0x01000193u
#define EMPTY UINT32_MAX

struct clf_lexical {
        size_t n, labels;
        uint32_t *keys;        /* [n] */
        float *idf;            /* [n] */
        int8_t *weight;        /* [n * labels] */
        float *scale, *bias;   /* [labels] */
        struct slot {          /* open addressing, the key beside its index: one cache miss a probe */
                uint32_t key, idx;   /* idx EMPTY: free */
        } *slot;
        uint32_t mask;
};

void clf_lexical_free(struct clf_lexical *l) {
        if (!l)
                return;
        free(l->keys);
        free(l->idf);
        free(l->weight);
        free(l->scale);
        free(l->bias);
        free(l->slot);
        free(l);
}

size_t clf_lexical_features(const struct clf_lexical *l) {
        return l->n;
}

static uint32_t mix(uint32_t k) {
        k ^= k >> 16;
        k *= 0x7feb352du;
        k ^= k >> 15;
        return k;
}

static int64_t lookup(const struct clf_lexical *l, uint32_t key) {
        for (uint32_t i = mix(key) & l->mask;; i = (i + 1) & l->mask) {
                const struct slot *s = &l->slot[i];

                if (s->idx == EMPTY)
                        return -1;
                if (s->key == key)
                        return s->idx;
        }
}

int clf_lexical_load(const char *path, size_t num_labels, struct clf_lexical **ret_l) {
        struct clf_safetensors *st = NULL;
        const struct clf_st_tensor *tk, *ti, *tw, *ts, *tb;
        struct clf_lexical *l;
        size_t n, cap;
        int r;

        if ((r = clf_safetensors_open(path, &st)) < 0)
                return r;
        r = -EBADMSG;
        tk = clf_safetensors_find(st, "keys");
        ti = clf_safetensors_find(st, "idf");
        tw = clf_safetensors_find(st, "weight");
        ts = clf_safetensors_find(st, "scale");
        tb = clf_safetensors_find(st, "bias");
        if (!tk || !ti || !tw || !ts || !tb || tk->dtype != CLF_DTYPE_I32 || tk->ndim != 1 ||
            tw->dtype != CLF_DTYPE_I8 || tw->ndim != 2 || num_labels == 0 || num_labels > MAX_LABELS) {
                clf_safetensors_close(st);
                return r;
        }
        n = tk->numel;
        if (n == 0 || n >= UINT32_MAX / 4 || ti->numel != n || (size_t)tw->shape[0] != n ||
            (size_t)tw->shape[1] != num_labels || ts->numel != num_labels || tb->numel != num_labels) {
                clf_safetensors_close(st);
                return r;
        }
        if (!(l = calloc(1, sizeof *l))) {
                clf_safetensors_close(st);
                return -ENOMEM;
        }
        l->n = n;
        l->labels = num_labels;
        for (cap = 1024; cap < 2 * n; cap *= 2)
                ;
        l->mask = (uint32_t)cap - 1;
        r = -ENOMEM;
        if (!(l->keys = malloc(n * sizeof *l->keys)) || !(l->idf = malloc(n * sizeof *l->idf)) ||
            !(l->weight = malloc(n * num_labels)) || !(l->scale = malloc(num_labels * sizeof *l->scale)) ||
            !(l->bias = malloc(num_labels * sizeof *l->bias)) || !(l->slot = malloc(cap * sizeof *l->slot)))
                goto fail;
        memcpy(l->keys, tk->data, n * sizeof *l->keys);
        memcpy(l->weight, tw->data, n * num_labels);
        if ((r = clf_safetensors_to_f32(ti, l->idf, n)) < 0 ||
            (r = clf_safetensors_to_f32(ts, l->scale, num_labels)) < 0 ||
            (r = clf_safetensors_to_f32(tb, l->bias, num_labels)) < 0) {
                r = -EBADMSG;
                goto fail;
        }
        memset(l->slot, 0xff, cap * sizeof *l->slot);
        for (size_t i = 0; i < n; i++) {
                uint32_t h = mix(l->keys[i]) & l->mask;

                if (!isfinite(l->idf[i])) {
                        r = -EBADMSG;
                        goto fail;
                }
                while (l->slot[h].idx != EMPTY) {
                        if (l->slot[h].key == l->keys[i]) {
                                r = -EBADMSG;   /* duplicate key */
                                goto fail;
                        }
                        h = (h + 1) & l->mask;
                }
                l->slot[h] = (struct slot){ .key = l->keys[i], .idx = (uint32_t)i };
        }
        clf_safetensors_close(st);
        *ret_l = l;
        return 0;
fail:
        clf_safetensors_close(st);
        clf_lexical_free(l);
        return r;
}

static uint32_t fnv(uint8_t kind, const uint8_t *a, size_t na, const uint8_t *b, size_t nb) {
        uint32_t h = (FNV_OFFSET ^ kind) * FNV_PRIME;

        for (size_t i = 0; i < na; i++)
                h = (h ^ a[i]) * FNV_PRIME;
        for (size_t i = 0; i < nb; i++)
                h = (h ^ b[i]) * FNV_PRIME;
        return h;
}

static bool is_word(uint8_t x) {
        return (x >= '0' && x <= '9') || (x >= 'a' && x <= 'z') || x >= 0x80;
}

static bool is_token(uint8_t x) {
        return !(x == ' ' || x == '\t' || x == '\n' || x == '\r' || x == '\f' || x == '\v');
}

/* the raw keys of one group of features */
struct feats {
        uint32_t *v;
        size_t n, cap;
};

static int push(struct feats *f, uint32_t key) {
        if (f->n == f->cap) {
                size_t cap = f->cap ? f->cap * 2 : 1024;
                uint32_t *p = realloc(f->v, cap * sizeof *p);

                if (!p)
                        return -ENOMEM;
                f->v = p;
                f->cap = cap;
        }
        f->v[f->n++] = key;
        return 0;
}

/* adds a group's unit-normalized (1 + ln count) * idf values times W:
 * the known keys are counted in a small table of their own (model
 * indices), looked up with the model's table a few keys ahead prefetched */
static int accumulate(const struct clf_lexical *l, const struct feats *f, double *acc) {
        struct cnt {
                uint32_t idx, n;
        } *c;
        size_t cap = 16, L = l->labels;
        double norm = 0;

        if (f->n == 0)
                return 0;
        while (cap < 2 * f->n)
                cap *= 2;
        if (!(c = malloc(cap * sizeof *c)))
                return -ENOMEM;
        memset(c, 0xff, cap * sizeof *c);
        for (size_t i = 0; i < f->n; i++) {
                int64_t k;

                if (i + 8 < f->n)
                        __builtin_prefetch(&l->slot[mix(f->v[i + 8]) & l->mask]);
                if ((k = lookup(l, f->v[i])) < 0)
                        continue;
                for (size_t j = mix((uint32_t)k) & (cap - 1);; j = (j + 1) & (cap - 1)) {
                        if (c[j].idx == (uint32_t)k) {
                                c[j].n++;
                                break;
                        }
                        if (c[j].idx == EMPTY) {
                                c[j] = (struct cnt){ .idx = (uint32_t)k, .n = 1 };
                                break;
                        }
                }
        }
        for (size_t j = 0; j < cap; j++)
                if (c[j].idx != EMPTY) {
                        double v = (1.0 + log((double)c[j].n)) * l->idf[c[j].idx];

                        norm += v * v;
                }
        if (norm > 0) {
                norm = sqrt(norm);
                for (size_t j = 0; j < cap; j++)
                        if (c[j].idx != EMPTY) {
                                const int8_t *w = l->weight + (size_t)c[j].idx * L;
                                double v = (1.0 + log((double)c[j].n)) * l->idf[c[j].idx] / norm;

                                for (size_t k = 0; k < L; k++)
                                        acc[k] += v * w[k];
                        }
        }
        free(c);
        return 0;
}

int clf_lexical_logprobs(const struct clf_lexical *l, const char *text, size_t len, float *out) {
        struct feats wf = { 0 }, cf = { 0 };
        size_t L = l->labels, nb = len > MAX_BYTES ? MAX_BYTES + 1 : len;
        uint8_t b[MAX_BYTES + 1];   /* the text as read: head + ' ' + tail, lower-cased */
        double acc[MAX_LABELS], mx, sum;
        const uint8_t *prev = NULL;
        size_t prev_n = 0;
        int r = -ENOMEM;

        if (len > MAX_BYTES) {
                memcpy(b, text, MAX_BYTES / 2);
                b[MAX_BYTES / 2] = ' ';
                memcpy(b + MAX_BYTES / 2 + 1, text + len - MAX_BYTES / 2, MAX_BYTES / 2);
        } else {
                memcpy(b, text, len);
        }
        for (size_t i = 0; i < nb; i++)
                if (b[i] >= 'A' && b[i] <= 'Z')
                        b[i] += 32;
        /* words, bigrams */
        for (size_t i = 0; i < nb;) {
                size_t j = i;

                while (j < nb && is_word(b[j]))
                        j++;
                if (j == i) {
                        i++;
                        continue;
                }
                if (j - i >= 2) {
                        uint8_t sp = ' ';

                        if (push(&wf, fnv('w', b + i, j - i, NULL, 0)) < 0)
                                goto out;
                        if (prev) {
                                uint32_t h = fnv('b', prev, prev_n, &sp, 1);

                                for (size_t k = i; k < j; k++)
                                        h = (h ^ b[k]) * FNV_PRIME;
                                if (push(&wf, h) < 0)
                                        goto out;
                        }
                        prev = b + i;
                        prev_n = j - i;
                }
                i = j;
        }
        /* character n-grams of space-padded tokens */
        for (size_t i = 0; i < nb;) {
                size_t j = i;

                while (j < nb && is_token(b[j]))
                        j++;
                if (j == i) {
                        i++;
                        continue;
                }
                /* padded token p = ' ' b[i..j) ' ', length m = j - i + 2 */
                for (size_t n = 2; n <= 5; n++) {
                        size_t m = j - i + 2;

                        for (size_t s = 0; s + n <= m; s++) {
                                uint32_t h = (FNV_OFFSET ^ 'c') * FNV_PRIME;

                                for (size_t k = s; k < s + n; k++) {
                                        uint8_t x = (k == 0 || k == m - 1) ? ' ' : b[i + k - 1];

                                        h = (h ^ x) * FNV_PRIME;
                                }
                                if (push(&cf, h) < 0)
                                        goto out;
                        }
                }
                i = j;
        }
        memset(acc, 0, L * sizeof *acc);
        if (accumulate(l, &wf, acc) < 0 || accumulate(l, &cf, acc) < 0)
                goto out;
        mx = -INFINITY;
        for (size_t k = 0; k < L; k++) {
                acc[k] = acc[k] * l->scale[k] + l->bias[k];
                if (acc[k] > mx)
                        mx = acc[k];
        }
        sum = 0;
        for (size_t k = 0; k < L; k++)
                sum += exp(acc[k] - mx);
        for (size_t k = 0; k < L; k++)
                out[k] = (float)(acc[k] - mx - log(sum));
        r = 0;
out:
        free(wf.v);
        free(cf.v);
        return r;
}
