/* Byte-level BPE as the `tokenizers` library does it for GPT-2, RoBERTa and
 * ModernBERT: the GPT-2 pre-tokenizer regex (implemented by hand, below),
 * every byte mapped to a printable character (bytes_to_unicode), then the
 * merges applied by rank: repeatedly the adjacent pair with the lowest rank,
 * the leftmost first among equal ranks (tokenizers' Word::merge_all with
 * its priority queue). */
#include "classifier/clf_tokenizer-internal.h"
#include "classifier/clf_unicode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct clf_bpe_merge {
        uint64_t key; /* (left id << 32) | right id; 0 = empty (ids never both 0 here: see key_of) */
        uint32_t rank;
        int32_t new_id;
};

struct clf_bpe {
        struct clf_vocab *vocab; /* borrowed */
        int32_t unk_id;
        bool fuse_unk, ignore_merges, byte_level;
        int32_t byte_id[256];    /* id of the mapped character of each byte, -1 none */
        uint16_t byte_char[256]; /* bytes_to_unicode */
        struct clf_bpe_merge *merges;
        size_t n_slots, n_merges;
};

static uint64_t key_of(int32_t a, int32_t b) {
        /* +1 so that the pair (0, 0) is not the empty key */
        return ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)(b + 1);
}

static size_t slot_of(uint64_t key, size_t n_slots) {
        key ^= key >> 33;
        key *= 0xff51afd7ed558ccdull;
        key ^= key >> 33;
        return key & (n_slots - 1);
}

static const struct clf_bpe_merge *find_merge(const struct clf_bpe *bpe, int32_t a, int32_t b) {
        uint64_t key = key_of(a, b);
        size_t i = slot_of(key, bpe->n_slots);

        if (a < 0 || b < 0)
                return NULL;
        for (;;) {
                const struct clf_bpe_merge *m = &bpe->merges[i];

                if (m->key == key)
                        return m;
                if (m->key == 0)
                        return NULL;
                i = (i + 1) & (bpe->n_slots - 1);
        }
}

int clf_bpe_new(struct clf_vocab *vocab, int32_t unk_id, bool fuse_unk, bool ignore_merges, bool byte_level,
                struct clf_bpe **ret_bpe) {
        struct clf_bpe *bpe = calloc(1, sizeof *bpe);
        int n = 0;

        if (!bpe)
                return -ENOMEM;
        bpe->vocab = vocab;
        bpe->unk_id = unk_id;
        bpe->fuse_unk = fuse_unk;
        bpe->ignore_merges = ignore_merges;
        bpe->byte_level = byte_level;
        bpe->n_slots = 1024;
        bpe->merges = calloc(bpe->n_slots, sizeof *bpe->merges);
        if (!bpe->merges) {
                free(bpe);
                return -ENOMEM;
        }
        /* GPT-2 bytes_to_unicode: printable Latin-1 bytes map to themselves,
         * the others to 256, 257, ... in byte order */
        for (int b = 0; b < 256; b++) {
                bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
                char u[4];
                size_t ul;

                bpe->byte_char[b] = keep ? (uint16_t)b : (uint16_t)(256 + n++);
                ul = clf_utf8_encode(bpe->byte_char[b], u);
                bpe->byte_id[b] = clf_vocab_find(vocab, u, ul);
        }
        *ret_bpe = bpe;
        return 0;
}

void clf_bpe_free(struct clf_bpe *bpe) {
        if (!bpe)
                return;
        free(bpe->merges);
        free(bpe);
}

static int grow_merges(struct clf_bpe *bpe) {
        size_t n = bpe->n_slots * 2;
        struct clf_bpe_merge *m = calloc(n, sizeof *m);

        if (!m)
                return -ENOMEM;
        for (size_t i = 0; i < bpe->n_slots; i++) {
                size_t j;

                if (!bpe->merges[i].key)
                        continue;
                j = slot_of(bpe->merges[i].key, n);
                while (m[j].key)
                        j = (j + 1) & (n - 1);
                m[j] = bpe->merges[i];
        }
        free(bpe->merges);
        bpe->merges = m;
        bpe->n_slots = n;
        return 0;
}

int clf_bpe_add_merge(struct clf_bpe *bpe, const char *a, size_t alen, const char *b, size_t blen) {
        char stackbuf[256], *buf = stackbuf;
        int32_t ia = clf_vocab_find(bpe->vocab, a, alen), ib = clf_vocab_find(bpe->vocab, b, blen), inew;
        uint64_t key;
        size_t i;
        int r;

        if (ia < 0 || ib < 0)
                return -ENOENT;
        if (alen + blen > sizeof stackbuf && !(buf = malloc(alen + blen)))
                return -ENOMEM;
        memcpy(buf, a, alen);
        memcpy(buf + alen, b, blen);
        inew = clf_vocab_find(bpe->vocab, buf, alen + blen);
        if (buf != stackbuf)
                free(buf);
        if (inew < 0)
                return -ENOENT;
        if ((bpe->n_merges + 1) * 4 >= bpe->n_slots * 3 && (r = grow_merges(bpe)) < 0)
                return r;
        key = key_of(ia, ib);
        i = slot_of(key, bpe->n_slots);
        while (bpe->merges[i].key && bpe->merges[i].key != key)
                i = (i + 1) & (bpe->n_slots - 1);
        if (bpe->merges[i].key == key)
                return 0; /* a repeated merge keeps its first (lowest) rank */
        bpe->merges[i] = (struct clf_bpe_merge){ key, (uint32_t)bpe->n_merges, inew };
        bpe->n_merges++;
        return 0;
}

/* ---- GPT-2 pre-tokenizer regex, by hand ----
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * \s is White_Space. Alternatives are tried in order at each position. */

enum { CL_WS, CL_L, CL_N, CL_OTHER };

static int class_of(uint32_t cp) {
        if (clf_unicode_is_white_space(cp))
                return CL_WS;
        if (cp < 0x80) {
                if ((cp | 32) >= 'a' && (cp | 32) <= 'z')
                        return CL_L;
                if (cp >= '0' && cp <= '9')
                        return CL_N;
                return CL_OTHER;
        }
        if (clf_unicode_is_letter(cp))
                return CL_L;
        if (clf_unicode_is_number(cp))
                return CL_N;
        return CL_OTHER;
}

int clf_bytelevel_pretokenize(const struct clf_nstr *ns, size_t a, size_t b,
                              int (*word)(void *ctx, size_t wa, size_t wb), void *ctx) {
        /* code points: cp[i] at byte pos[i]; pos[n] = b */
        uint32_t *cp = NULL;
        uint8_t *cl = NULL;
        size_t *pos = NULL, n = 0, i = 0;
        int r = 0;

        cp = malloc((b - a + 1) * sizeof *cp);
        cl = malloc(b - a + 1);
        pos = malloc((b - a + 1) * sizeof *pos);
        if (!cp || !cl || !pos) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t p = a; p < b; n++) {
                pos[n] = p;
                p += clf_utf8_decode(ns->s + p, b - p, &cp[n]);
                cl[n] = (uint8_t)class_of(cp[n]);
        }
        pos[n] = b;

        while (i < n) {
                size_t j = i, k;

                if (cp[i] == '\'' && i + 1 < n) {
                        uint32_t c1 = cp[i + 1], c2 = i + 2 < n ? cp[i + 2] : 0;

                        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
                                j = i + 2;
                        else if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
                                j = i + 3;
                }
                if (j == i) {
                        k = (cp[i] == ' ' && i + 1 < n) ? i + 1 : i;
                        if (cl[k] != CL_WS) {
                                int c = cl[k];

                                j = k + 1;
                                while (j < n && cl[j] == c)
                                        j++;
                        } else {
                                while (j < n && cl[j] == CL_WS)
                                        j++;
                                /* \s+(?!\S): give back the last white space
                                 * before a non-space; \s+ when only one */
                                if (j < n && j - i >= 2)
                                        j--;
                        }
                }
                if ((r = word(ctx, pos[i], pos[j])) < 0)
                        goto out;
                i = j;
        }
out:
        free(cp);
        free(cl);
        free(pos);
        return r;
}

/* ---- BPE on one word ---- */

struct sym {
        int32_t id;
        int32_t prev, next;
        uint32_t start, len; /* bytes of the word, relative */
};

struct heap_ent {
        uint32_t rank;
        uint32_t pos;
        int32_t new_id;
};

static bool heap_less(const struct heap_ent *x, const struct heap_ent *y) {
        return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static void heap_push(struct heap_ent *h, size_t *n, struct heap_ent e) {
        size_t i = (*n)++;

        while (i > 0) {
                size_t p = (i - 1) / 2;

                if (!heap_less(&e, &h[p]))
                        break;
                h[i] = h[p];
                i = p;
        }
        h[i] = e;
}

static struct heap_ent heap_pop(struct heap_ent *h, size_t *n) {
        struct heap_ent top = h[0], last = h[--(*n)];
        size_t i = 0;

        for (;;) {
                size_t c = 2 * i + 1;

                if (c >= *n)
                        break;
                if (c + 1 < *n && heap_less(&h[c + 1], &h[c]))
                        c++;
                if (!heap_less(&h[c], &last))
                        break;
                h[i] = h[c];
                i = c;
        }
        if (*n)
                h[i] = last;
        return top;
}

static int push_pair(const struct clf_bpe *bpe, const struct sym *s, uint32_t pos, struct heap_ent *h, size_t *nh) {
        const struct clf_bpe_merge *m;

        if (s[pos].next < 0)
                return 0;
        m = find_merge(bpe, s[pos].id, s[s[pos].next].id);
        if (m)
                heap_push(h, nh, (struct heap_ent){ m->rank, pos, m->new_id });
        return 0;
}

int clf_bpe_word(const struct clf_bpe *bpe, const struct clf_nstr *ns, size_t a, size_t b, struct clf_encoding *e) {
        size_t len = b - a, nsym = 0, nh = 0;
        struct sym *s = NULL;
        struct heap_ent *h = NULL;
        char *mapped = NULL;
        int r = 0;

        if (len == 0)
                return 0;
        if (bpe->ignore_merges) {
                int32_t id;

                if (bpe->byte_level) {
                        size_t ml = 0;

                        mapped = malloc(len * 2);
                        if (!mapped)
                                return -ENOMEM;
                        for (size_t i = a; i < b; i++)
                                ml += clf_utf8_encode(bpe->byte_char[(unsigned char)ns->s[i]], mapped + ml);
                        id = clf_vocab_find(bpe->vocab, mapped, ml);
                        free(mapped);
                } else {
                        id = clf_vocab_find(bpe->vocab, ns->s + a, len);
                }
                if (id >= 0)
                        return clf_encoding_push(e, id, ns->o0[a], ns->o1[b - 1]);
        }
        s = malloc(len * sizeof *s);
        h = malloc((len * 3 + 1) * sizeof *h); /* pushes <= 3 per symbol */
        if (!s || !h) {
                r = -ENOMEM;
                goto out;
        }
        /* initial symbols: bytes (byte level) or characters; unknown ones
         * become unk (fused if fuse_unk) or are dropped without an unk */
        {
                int32_t unk_open = -1; /* index of the pending unk symbol */

                for (size_t p = a; p < b;) {
                        size_t cl = 1;
                        int32_t id;

                        if (bpe->byte_level) {
                                id = bpe->byte_id[(unsigned char)ns->s[p]];
                        } else {
                                uint32_t cp;

                                cl = clf_utf8_decode(ns->s + p, b - p, &cp);
                                id = clf_vocab_find(bpe->vocab, ns->s + p, cl);
                        }
                        if (id < 0) {
                                if (bpe->unk_id < 0) {
                                        p += cl;
                                        continue;
                                }
                                if (bpe->fuse_unk && unk_open >= 0) {
                                        s[unk_open].len += (uint32_t)cl;
                                        p += cl;
                                        continue;
                                }
                                id = bpe->unk_id;
                                unk_open = (int32_t)nsym;
                        } else {
                                unk_open = -1;
                        }
                        s[nsym] = (struct sym){ id, (int32_t)nsym - 1, (int32_t)nsym + 1, (uint32_t)(p - a),
                                                (uint32_t)cl };
                        nsym++;
                        p += cl;
                }
                if (nsym == 0)
                        goto out;
                s[nsym - 1].next = -1;
        }
        for (size_t i = 0; i + 1 < nsym; i++)
                push_pair(bpe, s, (uint32_t)i, h, &nh);
        while (nh > 0) {
                struct heap_ent top = heap_pop(h, &nh);
                struct sym *cur = &s[top.pos];
                const struct clf_bpe_merge *m;
                int32_t nx;

                if (cur->len == 0 || cur->next < 0)
                        continue;
                nx = cur->next;
                m = find_merge(bpe, cur->id, s[nx].id);
                if (!m || m->new_id != top.new_id)
                        continue; /* stale entry */
                cur->id = top.new_id;
                cur->len += s[nx].len;
                cur->next = s[nx].next;
                s[nx].len = 0;
                if (cur->next >= 0)
                        s[cur->next].prev = (int32_t)top.pos;
                if (cur->prev >= 0)
                        push_pair(bpe, s, (uint32_t)cur->prev, h, &nh);
                push_pair(bpe, s, top.pos, h, &nh);
        }
        for (int32_t i = 0; i >= 0; i = s[i].next) {
                size_t p0 = a + s[i].start, p1 = p0 + s[i].len - 1;

                if ((r = clf_encoding_push(e, s[i].id, ns->o0[p0], ns->o1[p1])) < 0)
                        goto out;
        }
out:
        free(s);
        free(h);
        return r;
}
