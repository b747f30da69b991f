/* The lexical models (see clf_lexical.h; the features are tools/train/
 * sylex.py's and sycrf.py's, which are their reference). */
#include "classifier/clf_lexical.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/clf_safetensors.h"
#include "classifier/clf_tokenizer.h"

#define MAX_BYTES 16384u
#define MAX_LABELS 256
#define FNV_OFFSET 0x811C9DC5u
#define FNV_PRIME 0x01000193u
#define EMPTY UINT32_MAX

struct clf_lexical {
        size_t n, labels;
        uint32_t *keys;            /* [n] */
        float *idf;                /* [n]; NULL: a word CRF */
        float *trans;              /* [(labels + 1) * labels]; NULL: a text model */
        int8_t *weight;            /* [n * labels] */
        float *scale, *bias;       /* [labels] */
        struct slot {              /* open addressing, the key beside its index: one cache miss a probe */
                uint32_t key, idx; /* idx EMPTY: free */
        } * slot;
        uint32_t mask;
};

void clf_lexical_free(struct clf_lexical *l) {
        if (!l)
                return;
        free(l->keys);
        free(l->idf);
        free(l->trans);
        free(l->weight);
        free(l->scale);
        free(l->bias);
        free(l->slot);
        free(l);
}

size_t clf_lexical_features(const struct clf_lexical *l) {
        return l->n;
}

const float *clf_lexical_transitions(const struct clf_lexical *l) {
        return l->trans;
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
        const struct clf_st_tensor *tk, *ti, *tw, *ts, *tb, *tt;
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
        tt = clf_safetensors_find(st, "transitions");
        if (!tk || !tw || !ts || !tb || !ti == !tt || tk->dtype != CLF_DTYPE_I32 || tk->ndim != 1 ||
            tw->dtype != CLF_DTYPE_I8 || tw->ndim != 2 || num_labels == 0 || num_labels > MAX_LABELS) {
                clf_safetensors_close(st);
                return r;
        }
        n = tk->numel;
        if (n == 0 || n >= UINT32_MAX / 4 || (ti && ti->numel != n) || (size_t)tw->shape[0] != n ||
            (size_t)tw->shape[1] != num_labels || ts->numel != num_labels || tb->numel != num_labels ||
            (tt && (tt->ndim != 2 || (size_t)tt->shape[0] != num_labels + 1 || (size_t)tt->shape[1] != num_labels))) {
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
        if (!(l->keys = malloc(n * sizeof *l->keys)) || (ti && !(l->idf = malloc(n * sizeof *l->idf))) ||
            (tt && !(l->trans = malloc((num_labels + 1) * num_labels * sizeof *l->trans))) ||
            !(l->weight = malloc(n * num_labels)) || !(l->scale = malloc(num_labels * sizeof *l->scale)) ||
            !(l->bias = malloc(num_labels * sizeof *l->bias)) || !(l->slot = malloc(cap * sizeof *l->slot)))
                goto fail;
        memcpy(l->keys, tk->data, n * sizeof *l->keys);
        memcpy(l->weight, tw->data, n * num_labels);
        if ((ti && (r = clf_safetensors_to_f32(ti, l->idf, n)) < 0) ||
            (tt && (r = clf_safetensors_to_f32(tt, l->trans, (num_labels + 1) * num_labels)) < 0) ||
            (r = clf_safetensors_to_f32(ts, l->scale, num_labels)) < 0 ||
            (r = clf_safetensors_to_f32(tb, l->bias, num_labels)) < 0) {
                r = -EBADMSG;
                goto fail;
        }
        for (size_t i = 0; tt && i < (num_labels + 1) * num_labels; i++)
                if (isnan(l->trans[i])) {
                        r = -EBADMSG;
                        goto fail;
                }
        memset(l->slot, 0xff, cap * sizeof *l->slot);
        for (size_t i = 0; i < n; i++) {
                uint32_t h = mix(l->keys[i]) & l->mask;

                if (l->idf && !isfinite(l->idf[i])) {
                        r = -EBADMSG;
                        goto fail;
                }
                while (l->slot[h].idx != EMPTY) {
                        if (l->slot[h].key == l->keys[i]) {
                                r = -EBADMSG; /* duplicate key */
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
        } * c;
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
        uint8_t b[MAX_BYTES + 1]; /* the text as read: head + ' ' + tail, lower-cased */
        double acc[MAX_LABELS], mx, sum;
        const uint8_t *prev = NULL;
        size_t prev_n = 0;
        int r = -ENOMEM;

        if (!l->idf)
                return -EINVAL;

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

/* ---- the word CRF's features (tools/train/sycrf.py defines them) ---- */

#define SHAPE_MAX 8
#define GAP_MAX 6

struct wordx {
        uint8_t sh[SHAPE_MAX], lsh[SHAPE_MAX], gap[GAP_MAX]; /* the word's shape, long shape; the gap before it */
        uint8_t shn, lshn, gapn;
};

static uint32_t h_str(uint32_t h, const char *s) {
        while (*s)
                h = (h ^ (uint8_t)*s++) * FNV_PRIME;
        return h;
}

static uint32_t h_bytes(uint32_t h, const uint8_t *b, size_t n) {
        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * FNV_PRIME;
        return h;
}

/* bytes ASCII-lower-cased */
static uint32_t h_low(uint32_t h, const uint8_t *b, size_t n) {
        for (size_t i = 0; i < n; i++)
                h = (h ^ (uint8_t)(b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i])) * FNV_PRIME;
        return h;
}

/* classes of the characters, runs collapsed unless long: at most SHAPE_MAX */
static uint8_t shape(const uint8_t *w, size_t n, bool collapse, uint8_t *out) {
        uint8_t k = 0;

        for (size_t i = 0; i < n && k < SHAPE_MAX;) {
                uint8_t c = w[i], x;
                uint32_t cp = c;
                size_t step = 1;
                int lc;

                if (c >= 0xC0 && c < 0xE0 && i + 1 < n) {
                        cp = ((uint32_t)(c & 0x1f) << 6) | (w[i + 1] & 0x3f);
                        step = 2;
                } else if (c >= 0x80) {
                        cp = 0xFFFD;
                        step = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 1;
                }
                lc = clf_letter_case(cp);
                x = lc > 0 ? 'X' : lc < 0 ? 'x' : (cp >= '0' && cp <= '9') ? 'd' : cp < 0x80 ? (uint8_t)cp : 'o';
                if (!collapse || k == 0 || out[k - 1] != x)
                        out[k++] = x;
                i += step;
        }
        return k;
}

static bool ascii_space(uint8_t x) {
        return x == ' ' || x == '\t' || x == '\r' || x == '\f' || x == '\v';
}

static uint8_t gap(const uint8_t *b, size_t a, size_t e, uint8_t *out) {
        uint8_t k = 0;

        for (size_t i = a; i < e && k < GAP_MAX; i++) {
                if (b[i] == '\n')
                        out[k++] = 'N';
                else if (ascii_space(b[i])) {
                        if (k == 0 || out[k - 1] != '_')
                                out[k++] = '_';
                } else {
                        out[k++] = b[i];
                }
        }
        return k;
}

static size_t count_nl(const uint8_t *b, size_t a, size_t e) {
        size_t n = 0;

        for (size_t i = a; i < e; i++)
                n += b[i] == '\n';
        return n;
}

#define T_BASE ((FNV_OFFSET ^ 't') * FNV_PRIME)

/* the keys of the words' features: 37 a word (WORD_KEYS leaves room;
 * put() never writes past cap) */
#define WORD_KEYS 40
struct keys {
        uint32_t *v;
        size_t n, cap;
};

static void put(struct keys *kb, uint32_t h) {
        if (kb->n < kb->cap)
                kb->v[kb->n++] = h;
}

/* "<name><sign><digit>=" (a distance of at most 9) */
static uint32_t h_rel(const char *name, int d) {
        uint8_t p[3] = { d < 0 ? '-' : '+', (uint8_t)('0' + (d < 0 ? -d : d)), '=' };

        return h_bytes(h_str(T_BASE, name), p, 3);
}

/* "<name><digit>" (0 <= v <= 9) */
static uint32_t h_digit(const char *name, size_t v) {
        uint8_t c = (uint8_t)('0' + v);

        return h_bytes(h_str(T_BASE, name), &c, 1);
}

/* "w<sign><d>=" then the lower-cased word k + d of the words, or "<>" */
static uint32_t h_ctx(int d, const uint8_t *b, const uint32_t *start, const uint32_t *end, size_t nw, size_t k) {
        int64_t j = (int64_t)k + d;

        if (j < 0 || (size_t)j >= nw)
                return h_str(h_rel("w", d), "<>");
        return h_low(h_rel("w", d), b + start[j], end[j] - start[j]);
}

int clf_lexical_word_scores(const struct clf_lexical *l, const char *text, size_t len, const uint32_t *start,
                            const uint32_t *end, size_t nw, float *out) {
        const uint8_t *b = (const uint8_t *)text;
        size_t L = l->labels, nl = 0, lfirst = 0, idx = 0, line = 0, pieces = 0, p0 = 0, p0n = 0;
        struct wordx *x;
        struct keys kb = { 0 };
        size_t *off;
        uint8_t t0[SHAPE_MAX], t0n, t1[4], t1n = 0, sh0[SHAPE_MAX];
        int32_t acc[MAX_LABELS];
        int blank = 0;
        int64_t prevfirst = -1;

        if (!l->trans)
                return -EINVAL;
        if (nw == 0)
                return 0;
        /* one block: off [nw + 1], the keys [nw WORD_KEYS], x [nw + 1] */
        kb.cap = nw * WORD_KEYS;
        if (!(off = malloc((nw + 1) * sizeof *off + kb.cap * sizeof *kb.v + (nw + 1) * sizeof *x)))
                return -ENOMEM;
        kb.v = (uint32_t *)(off + nw + 1);
        x = (struct wordx *)(kb.v + kb.cap);
        for (size_t k = 0; k <= nw; k++) {
                if (k < nw) {
                        x[k].shn = shape(b + start[k], end[k] - start[k], true, x[k].sh);
                        x[k].lshn = shape(b + start[k], end[k] - start[k], false, x[k].lsh);
                }
                x[k].gapn = gap(b, k ? end[k - 1] : 0, k < nw ? start[k] : len, x[k].gap);
        }
        /* the first line: its first piece's shape (3 at most), its pieces (4 at most), "m" with 2+ newlines */
        for (size_t i = 0; i < len && b[i] != '\n';) {
                size_t j = i;

                while (j < len && b[j] != '\n' && !ascii_space(b[j]))
                        j++;
                if (j > i) {
                        if (pieces++ == 0) {
                                p0 = i;
                                p0n = j - i;
                        }
                        i = j;
                } else {
                        i++;
                }
        }
        if (pieces) {
                t0n = shape(b + p0, p0n, true, sh0);
                if (t0n > 3)
                        t0n = 3;
                memcpy(t0, sh0, t0n);
        } else {
                memcpy(t0, "<>", 2);
                t0n = 2;
        }
        t1[t1n++] = (uint8_t)('0' + (pieces < 4 ? pieces : 4));
        nl = count_nl(b, 0, len);
        if (nl >= 2)
                t1[t1n++] = 'm';
        for (size_t k = 0; k < nw; k++) {
                const uint8_t *w = b + start[k];
                size_t wn = end[k] - start[k], a = k ? end[k - 1] : 0, nlk = count_nl(b, a, start[k]);

                if (k == 0 || nlk > 0) {
                        if (k) {
                                prevfirst = (int64_t)lfirst;
                                line++;
                        }
                        blank = nlk >= 2;
                        lfirst = k;
                        idx = 0;
                }
                off[k] = kb.n;
                put(&kb, h_str(T_BASE, "b"));
                put(&kb, h_low(h_str(T_BASE, "w="), w, wn));
                put(&kb, h_bytes(h_str(T_BASE, "s="), x[k].sh, x[k].shn));
                put(&kb, h_low(h_str(T_BASE, "p2="), w, wn < 2 ? wn : 2));
                put(&kb, h_low(h_str(T_BASE, "p3="), w, wn < 3 ? wn : 3));
                put(&kb, h_low(h_str(T_BASE, "x2="), w + (wn > 2 ? wn - 2 : 0), wn < 2 ? wn : 2));
                put(&kb, h_low(h_str(T_BASE, "x3="), w + (wn > 3 ? wn - 3 : 0), wn < 3 ? wn : 3));
                put(&kb, h_low(h_str(T_BASE, "x4="), w + (wn > 4 ? wn - 4 : 0), wn < 4 ? wn : 4));
                put(&kb, h_digit("c=", (size_t)clf_case_type(text + start[k], wn)));
                put(&kb, h_bytes(h_str(T_BASE, "g-="), x[k].gap, x[k].gapn));
                put(&kb, h_bytes(h_str(T_BASE, "g+="), x[k + 1].gap, x[k + 1].gapn));
                for (int d = -2; d <= 2; d++) {
                        int64_t j = (int64_t)k + d;

                        if (d == 0)
                                continue;
                        put(&kb, h_ctx(d, b, start, end, nw, k));
                        if (j >= 0 && (size_t)j < nw)
                                put(&kb, h_bytes(h_rel("s", d), x[j].sh, x[j].shn));
                }
                {
                        uint32_t h = h_str(T_BASE, "s-1s=");

                        h = k ? h_bytes(h, x[k - 1].sh, x[k - 1].shn) : h_str(h, "<>");
                        put(&kb, h_bytes(h_str(h, "|"), x[k].sh, x[k].shn));
                        h = h_str(T_BASE, "w-1w=");
                        h = k ? h_low(h, b + start[k - 1], end[k - 1] - start[k - 1]) : h_str(h, "<>");
                        put(&kb, h_low(h_str(h, "|"), w, wn));
                }
                put(&kb, h_digit("Lk=", idx < 3 ? idx : 3));
                put(&kb, h_digit("Ln=", line < 3 ? line : 3));
                put(&kb, h_bytes(h_str(T_BASE, "L0="), x[lfirst].sh, x[lfirst].shn));
                put(&kb, prevfirst < 0 ? h_str(h_str(T_BASE, "Lp="), "<>")
                                       : h_low(h_str(T_BASE, "Lp="), b + start[prevfirst],
                                               end[prevfirst] - start[prevfirst]));
                put(&kb, h_digit("Lb=", blank));
                put(&kb, h_bytes(h_str(T_BASE, "T0="), t0, t0n));
                put(&kb, h_bytes(h_str(T_BASE, "T1="), t1, t1n));
                put(&kb, h_bytes(h_str(h_bytes(h_str(T_BASE, "T0s="), t0, t0n), "|"), x[k].sh, x[k].shn));
                put(&kb, h_bytes(h_str(h_bytes(h_str(T_BASE, "T1s="), t1, t1n), "|"), x[k].sh, x[k].shn));
                put(&kb, h_ctx(-3, b, start, end, nw, k));
                put(&kb, h_ctx(3, b, start, end, nw, k));
                put(&kb, k > 1 ? h_bytes(h_str(T_BASE, "g-2="), x[k - 1].gap, x[k - 1].gapn)
                               : h_str(h_str(T_BASE, "g-2="), "<>"));
                put(&kb, k + 2 < nw ? h_bytes(h_str(T_BASE, "g+2="), x[k + 2].gap, x[k + 2].gapn)
                                    : h_str(h_str(T_BASE, "g+2="), "<>"));
                put(&kb, h_bytes(h_str(T_BASE, "S="), x[k].lsh, x[k].lshn));
                put(&kb, k ? h_bytes(h_rel("S", -1), x[k - 1].lsh, x[k - 1].lshn) : h_str(h_rel("S", -1), "<>"));
                put(&kb, k + 1 < nw ? h_bytes(h_rel("S", 1), x[k + 1].lsh, x[k + 1].lshn) : h_str(h_rel("S", 1), "<>"));
                idx++;
        }
        off[nw] = kb.n;
        /* the keys' model indices, the table's slots and the weight rows
         * prefetched a few keys ahead; then each word's sum */
        for (size_t i = 0; i < kb.n; i++) {
                int64_t m;

                if (i + 12 < kb.n)
                        __builtin_prefetch(&l->slot[mix(kb.v[i + 12]) & l->mask]);
                m = lookup(l, kb.v[i]);
                kb.v[i] = m < 0 ? EMPTY : (uint32_t)m;
                if (m >= 0)
                        __builtin_prefetch(l->weight + (size_t)m * L);
        }
        for (size_t k = 0; k < nw; k++) {
                memset(acc, 0, L * sizeof *acc);
                for (size_t i = off[k]; i < off[k + 1]; i++)
                        if (kb.v[i] != EMPTY) {
                                const int8_t *w = l->weight + (size_t)kb.v[i] * L;

                                for (size_t j = 0; j < L; j++)
                                        acc[j] += w[j];
                        }
                for (size_t j = 0; j < L; j++)
                        out[k * L + j] = (float)((double)acc[j] * l->scale[j] + l->bias[j]);
        }
        free(off);
        return 0;
}
