/* prefix_hash_* and prefix_index against pinned vectors and a linear-scan
 * reference model. Groups (argv[1], all when none): hash, basic, eviction,
 * capacity1, collisions, long, args, random. "random" takes an optional
 * seed (argv[2]). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "router/prefix_index.h"
#include "router-test.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng(void) {
        /* xorshift64* */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * 0x2545F4914F6CDD1DULL;
}

static struct prefix_index *new_index(uint32_t capacity, uint32_t slots) {
        struct prefix_index *idx = NULL;
        int r = prefix_index_new(capacity, slots, &idx);

        if (r < 0) {
                fprintf(stderr, "prefix_index_new(%u, %u): %d\n", capacity, slots, r);
                exit(1);
        }
        return idx;
}

/* The index's contents, most recent first, equal want[0..n). */
static void check_dump(const struct prefix_index *idx, const uint64_t *want, size_t n, int line) {
        uint64_t got[64];
        size_t m = prefix_index_dump(idx, got, 64);
        bool ok = m == n && prefix_index_count(idx) == n;

        for (size_t i = 0; ok && i < n; i++)
                ok = got[i] == want[i];
        if (!ok) {
                fprintf(stderr, "%s:%d: dump mismatch: got", __FILE__, line);
                for (size_t i = 0; i < m; i++)
                        fprintf(stderr, " %llu", (unsigned long long)got[i]);
                fprintf(stderr, ", want");
                for (size_t i = 0; i < n; i++)
                        fprintf(stderr, " %llu", (unsigned long long)want[i]);
                fprintf(stderr, "\n");
                check_failures++;
        }
}

#define CHECK_DUMP(idx, ...)                                               \
        do {                                                               \
                const uint64_t _w[] = { __VA_ARGS__ };                     \
                check_dump(idx, _w, sizeof(_w) / sizeof(_w[0]), __LINE__); \
        } while (0)

/* ---- hashes ---- */

static void test_hash(void) {
        uint8_t buf[4096], seq[128];
        uint64_t a[64], b[64];
        int n;

        /* XXH64 reference vectors (xxHash's own and libxxhash 0.8.1's output) */
        CHECK_U64(prefix_hash_block(0, "", 0), 0xEF46DB3751D8E999ULL);
        CHECK_U64(prefix_hash_block(0, "abc", 3), 0x44BC2CF5AD770999ULL);
        CHECK_U64(prefix_hash_block(0, "The quick brown fox jumps over the lazy dog", 43), 0x0B242D361FDA71BCULL);
        for (int i = 0; i < 128; i++)
                seq[i] = (uint8_t)i;
        CHECK_U64(prefix_hash_block(0, seq, 100), 0x6AC1E58032166597ULL);
        CHECK_U64(prefix_hash_block(PREFIX_HASH_SEED, seq, 64), 0xEBAC7F2DFB8C9A6BULL);

        /* the chain: h0 = H(seed, b0), h1 = H(h0, b1); pinned */
        CHECK_EQ(prefix_hash_chain(seq, 128, 64, a, 64), 2);
        CHECK_U64(a[0], 0xEBAC7F2DFB8C9A6BULL);
        CHECK_U64(a[1], prefix_hash_block(a[0], seq + 64, 64));

        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t)(rng() >> 56);
        /* deterministic; unaligned input hashes like aligned */
        CHECK_EQ(prefix_hash_chain(buf, 4096, 64, a, 64), 64);
        CHECK_EQ(prefix_hash_chain(buf, 4096, 64, b, 64), 64);
        CHECK(memcmp(a, b, sizeof(a)) == 0);
        {
                static uint8_t shifted[4096 + 3];
                memcpy(shifted + 3, buf, 4096);
                CHECK_EQ(prefix_hash_chain(shifted + 3, 4096, 64, b, 64), 64);
                CHECK(memcmp(a, b, sizeof(a)) == 0);
        }
        /* all distinct */
        for (int i = 0; i < 64; i++)
                for (int j = 0; j < i; j++)
                        CHECK(a[i] != a[j]);

        /* partial last block not hashed; max_hashes caps */
        CHECK_EQ(prefix_hash_chain(buf, 63, 64, b, 64), 0);
        CHECK_EQ(prefix_hash_chain(buf, 64 * 3 + 63, 64, b, 64), 3);
        CHECK(memcmp(a, b, 3 * sizeof(uint64_t)) == 0);
        CHECK_EQ(prefix_hash_chain(buf, 4096, 64, b, 5), 5);
        CHECK_EQ(prefix_hash_chain(buf, 4096, 64, NULL, 0), 0);
        CHECK_EQ(prefix_hash_chain(buf, 0, 64, NULL, 8), 0);

        /* one changed byte in block k: hashes 0..k-1 equal, k.. all differ */
        for (int k = 0; k < 64; k += 7) {
                buf[k * 64 + 17] ^= 1;
                CHECK_EQ(prefix_hash_chain(buf, 4096, 64, b, 64), 64);
                for (int i = 0; i < 64; i++)
                        CHECK(i < k ? a[i] == b[i] : a[i] != b[i]);
                buf[k * 64 + 17] ^= 1;
        }
        /* the same block at another depth hashes differently (chained) */
        memset(buf, 'x', 256);
        CHECK_EQ(prefix_hash_chain(buf, 256, 64, b, 64), 4);
        CHECK(b[0] != b[1] && b[1] != b[2] && b[2] != b[3]);

        /* block size matters and is configurable */
        CHECK_EQ(prefix_hash_chain(seq, 128, 16, b, 64), 8);
        CHECK_U64(b[0], prefix_hash_block(PREFIX_HASH_SEED, seq, 16));
        CHECK(b[0] != a[0]);
        CHECK_EQ(prefix_hash_chain(seq, 128, 1, b, 64), 64);
        CHECK_EQ(prefix_hash_chain(seq, 128, 200, b, 64), 0);

        n = prefix_hash_chain(seq, 128, 0, b, 64);
        CHECK_EQ(n, -EINVAL);
        CHECK_EQ(prefix_hash_chain(NULL, 128, 64, b, 64), -EINVAL);
        CHECK_EQ(prefix_hash_chain(seq, 128, 64, NULL, 64), -EINVAL);
        CHECK_EQ(PREFIX_BLOCK_SIZE_DEFAULT, 64);
}

/* ---- index semantics ---- */

static void test_basic(void) {
        struct prefix_index *idx = new_index(16, 0);
        const uint64_t abc[] = { 0xa, 0xb, 0xc }, abx[] = { 0xa, 0xb, 0x99 }, xa[] = { 0x99, 0xa },
                       abcd[] = { 0xa, 0xb, 0xc, 0xd }, bc[] = { 0xb, 0xc };

        CHECK_EQ(prefix_index_capacity(idx), 16);
        CHECK_EQ(prefix_index_count(idx), 0);
        CHECK_EQ(prefix_index_match(idx, abc, 3), 0);
        CHECK_EQ(prefix_index_match(idx, abc, 0), 0);
        CHECK_EQ(prefix_index_insert(idx, abc, 0), 0);

        CHECK_EQ(prefix_index_insert(idx, abc, 3), 3);
        CHECK_EQ(prefix_index_count(idx), 3);
        CHECK_DUMP(idx, 0xa, 0xb, 0xc);
        CHECK_EQ(prefix_index_match(idx, abc, 3), 3);
        CHECK_EQ(prefix_index_match(idx, abc, 2), 2);
        CHECK_EQ(prefix_index_match(idx, abx, 3), 2);
        CHECK_EQ(prefix_index_match(idx, xa, 2), 0);
        CHECK_EQ(prefix_index_match(idx, abcd, 4), 3);
        CHECK_EQ(prefix_index_match(idx, bc, 2), 2); /* a set: any leading run */

        /* re-insert touches, adds nothing */
        CHECK_EQ(prefix_index_insert(idx, abc, 3), 0);
        CHECK_EQ(prefix_index_insert(idx, abcd, 4), 1);
        CHECK_DUMP(idx, 0xa, 0xb, 0xc, 0xd);
        CHECK_EQ(prefix_index_insert(idx, bc, 2), 0);
        CHECK_DUMP(idx, 0xb, 0xc, 0xa, 0xd);

        /* match does not touch */
        CHECK_EQ(prefix_index_match(idx, abcd, 4), 4);
        CHECK_DUMP(idx, 0xb, 0xc, 0xa, 0xd);

        /* duplicates in one insert */
        {
                const uint64_t dup[] = { 0xe, 0xe, 0xf, 0xe };
                CHECK_EQ(prefix_index_insert(idx, dup, 4), 2);
                CHECK_DUMP(idx, 0xe, 0xf, 0xb, 0xc, 0xa, 0xd);
        }
        /* 0 and UINT64_MAX are ordinary hashes */
        {
                const uint64_t odd[] = { 0, UINT64_MAX };
                CHECK_EQ(prefix_index_match(idx, odd, 2), 0);
                CHECK_EQ(prefix_index_insert(idx, odd, 2), 2);
                CHECK_EQ(prefix_index_match(idx, odd, 2), 2);
        }

        prefix_index_clear(idx);
        CHECK_EQ(prefix_index_count(idx), 0);
        CHECK_EQ(prefix_index_match(idx, abc, 3), 0);
        CHECK_EQ(prefix_index_insert(idx, abc, 3), 3);
        CHECK_DUMP(idx, 0xa, 0xb, 0xc);
        prefix_index_free(idx);
        prefix_index_free(NULL);
}

static void test_eviction(void) {
        struct prefix_index *idx = new_index(4, 0);
        const uint64_t c1[] = { 1, 2, 3 }, c2[] = { 10, 11 }, c3[] = { 20, 21, 22, 23, 24, 25 };

        CHECK_EQ(prefix_index_insert(idx, c1, 3), 3);
        CHECK_DUMP(idx, 1, 2, 3);
        /* the deepest block of the older chain goes first */
        CHECK_EQ(prefix_index_insert(idx, c2, 2), 2);
        CHECK_DUMP(idx, 10, 11, 1, 2);
        CHECK_EQ(prefix_index_match(idx, c1, 3), 2);
        /* touching the old chain protects it */
        CHECK_EQ(prefix_index_insert(idx, c1, 1), 0);
        CHECK_DUMP(idx, 1, 10, 11, 2);
        {
                const uint64_t x[] = { 30 };
                CHECK_EQ(prefix_index_insert(idx, x, 1), 1);
                CHECK_DUMP(idx, 30, 1, 10, 11);
                CHECK_EQ(prefix_index_match(idx, c1, 3), 1);
        }
        /* a chain longer than the capacity keeps its first blocks */
        CHECK_EQ(prefix_index_insert(idx, c3, 6), 4);
        CHECK_DUMP(idx, 20, 21, 22, 23);
        CHECK_EQ(prefix_index_match(idx, c3, 6), 4);
        CHECK_EQ(prefix_index_count(idx), 4);
        prefix_index_free(idx);
}

static void test_capacity1(void) {
        struct prefix_index *idx = new_index(1, 0);
        const uint64_t c[] = { 1, 2, 3 }, d[] = { 2 };

        CHECK_EQ(prefix_index_insert(idx, c, 3), 1);
        CHECK_DUMP(idx, 1);
        CHECK_EQ(prefix_index_match(idx, c, 3), 1);
        CHECK_EQ(prefix_index_insert(idx, c, 3), 0);
        CHECK_EQ(prefix_index_insert(idx, d, 1), 1);
        CHECK_DUMP(idx, 2);
        CHECK_EQ(prefix_index_match(idx, c, 3), 0);
        CHECK_EQ(prefix_index_match(idx, d, 1), 1);
        prefix_index_free(idx);

        /* the tightest table: 2 slots */
        idx = new_index(1, 2);
        for (uint64_t h = 0; h < 100; h++) {
                CHECK_EQ(prefix_index_insert(idx, &h, 1), 1);
                CHECK_EQ(prefix_index_match(idx, &h, 1), 1);
                CHECK_EQ(prefix_index_count(idx), 1);
                if (h > 0) {
                        uint64_t prev = h - 1;
                        CHECK_EQ(prefix_index_match(idx, &prev, 1), 0);
                }
        }
        prefix_index_free(idx);
}

/* Hashes with the same low bits land in one probe run; deleting from the
 * middle of the run (eviction) must keep the rest findable, also across the
 * end of the table. */
static void test_collisions(void) {
        struct prefix_index *idx = new_index(7, 8);
        uint64_t h[7], more[7];

        for (int i = 0; i < 7; i++)
                h[i] = (uint64_t)i << 32 | 7; /* all home to slot 7, wrap to 0.. */
        CHECK_EQ(prefix_index_insert(idx, h, 7), 7);
        CHECK_EQ(prefix_index_match(idx, h, 7), 7);
        CHECK_DUMP(idx, h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
        /* evict h[6], h[5], ... one at a time with new colliding hashes */
        for (int i = 0; i < 7; i++) {
                more[i] = (uint64_t)(100 + i) << 32 | (uint64_t)(i % 2 ? 7 : 0);
                CHECK_EQ(prefix_index_insert(idx, &more[i], 1), 1);
                CHECK_EQ(prefix_index_match(idx, h, 7), 6 - i);
                for (int j = 0; j <= i; j++)
                        CHECK_EQ(prefix_index_match(idx, &more[j], 1), 1);
        }
        CHECK_DUMP(idx, more[6], more[5], more[4], more[3], more[2], more[1], more[0]);
        /* touch in a new order and evict from the middle of the run */
        {
                const uint64_t t[] = { more[0], more[2], more[4], more[6] };
                uint64_t x = 0x5555ULL << 32 | 3;

                CHECK_EQ(prefix_index_insert(idx, t, 4), 0);
                CHECK_DUMP(idx, more[0], more[2], more[4], more[6], more[5], more[3], more[1]);
                CHECK_EQ(prefix_index_insert(idx, &x, 1), 1);
                CHECK_EQ(prefix_index_match(idx, &more[1], 1), 0);
                for (int j = 0; j < 7; j++)
                        if (j != 1)
                                CHECK_EQ(prefix_index_match(idx, &more[j], 1), 1);
                CHECK_EQ(prefix_index_match(idx, &x, 1), 1);
        }
        /* absent hashes in a full table: lookups terminate */
        for (uint64_t a = 0; a < 64; a++) {
                uint64_t q = a << 40;
                CHECK_EQ(prefix_index_match(idx, &q, 1), 0);
        }
        prefix_index_free(idx);
}

/* A 1 MiB prompt: 16384 blocks. */
static void test_long(void) {
        enum { LEN = 1 << 20, B = PREFIX_BLOCK_SIZE_DEFAULT, N = LEN / B };
        uint8_t *p = malloc(LEN);
        uint64_t *a = malloc(N * sizeof(uint64_t)), *b = malloc(N * sizeof(uint64_t));
        /* room for the prompt and a quarter more: the edited copy below
         * overflows it by EVICT blocks */
        enum { CAP = N + N / 4, EDIT = 10000, EVICT = N + (N - EDIT) - CAP };
        struct prefix_index *idx = new_index(CAP, 0);

        if (!p || !a || !b) {
                perror("malloc");
                exit(1);
        }
        for (size_t i = 0; i < LEN; i++)
                p[i] = (uint8_t)(rng() >> 60) + 'a';
        CHECK_EQ(prefix_hash_chain(p, LEN, B, a, N), N);
        CHECK_EQ(prefix_index_insert(idx, a, N), N);
        CHECK_EQ(prefix_index_match(idx, a, N), N);
        /* the same prompt with one byte changed in block EDIT */
        p[EDIT * B + 5] ^= 0x20;
        CHECK_EQ(prefix_hash_chain(p, LEN, B, b, N), N);
        CHECK_EQ(prefix_index_match(idx, b, N), EDIT);
        /* inserting it adds only the new tail, evicting the old tail's deepest blocks */
        CHECK_EQ(prefix_index_insert(idx, b, N), N - EDIT);
        CHECK_EQ(prefix_index_count(idx), CAP);
        CHECK_EQ(prefix_index_match(idx, b, N), N);
        CHECK_EQ(prefix_index_match(idx, a, N), N - EVICT);
        CHECK_EQ(prefix_index_match(idx, a + EDIT, N - EDIT), N - EDIT - EVICT);
        CHECK_EQ(prefix_index_match(idx, a + N - EVICT, EVICT), 0);
        prefix_index_free(idx);
        free(p);
        free(a);
        free(b);
}

static void test_args(void) {
        struct prefix_index *idx = (struct prefix_index *)&idx;

        CHECK_EQ(prefix_index_new(0, 0, &idx), -EINVAL);
        CHECK_EQ(prefix_index_new(PREFIX_INDEX_CAPACITY_MAX + 1, 0, &idx), -EINVAL);
        CHECK_EQ(prefix_index_new(4, 4, &idx), -EINVAL); /* not more slots than capacity */
        CHECK_EQ(prefix_index_new(4, 6, &idx), -EINVAL); /* not a power of two */
        CHECK_EQ(prefix_index_new(4, 3, &idx), -EINVAL);
        CHECK_EQ(prefix_index_new(4, 0, NULL), -EINVAL);
        CHECK(idx == (struct prefix_index *)&idx); /* untouched */
        CHECK_EQ(prefix_index_new(4, 8, &idx), 0);
        prefix_index_free(idx);
        CHECK_EQ(prefix_index_new(5, 0, &idx), 0);
        prefix_index_free(idx);
}

/* ---- randomized against a reference: an array in recency order ---- */

struct ref {
        uint64_t v[256]; /* most recent first */
        size_t n, cap;
};

static size_t ref_find(const struct ref *r, uint64_t h) {
        for (size_t i = 0; i < r->n; i++)
                if (r->v[i] == h)
                        return i;
        return SIZE_MAX;
}

static size_t ref_match(const struct ref *r, const uint64_t *h, size_t n) {
        size_t i;

        for (i = 0; i < n && ref_find(r, h[i]) != SIZE_MAX; i++)
                ;
        return i;
}

static int ref_insert(struct ref *r, const uint64_t *h, size_t n) {
        int added = 0;

        if (n > r->cap)
                n = r->cap;
        for (size_t i = n; i-- > 0;) {
                size_t at = ref_find(r, h[i]);

                if (at == SIZE_MAX) {
                        if (r->n == r->cap)
                                r->n--;
                        at = r->n++;
                        added++;
                }
                memmove(&r->v[1], &r->v[0], at * sizeof(uint64_t));
                r->v[0] = h[i];
        }
        return added;
}

static void random_run(uint32_t cap, uint32_t slots, uint64_t universe, int ops) {
        struct prefix_index *idx = new_index(cap, slots);
        struct ref ref = { .n = 0, .cap = cap };
        uint64_t h[40], dump[256];
        int bad = 0;

        for (int op = 0; op < ops && bad < 5; op++) {
                size_t n = (size_t)(rng() % 40);
                uint64_t r = rng();

                /* chains from a small universe, clustered low bits */
                for (size_t i = 0; i < n; i++) {
                        uint64_t v = rng() % universe;
                        h[i] = (v & 1 ? v << 32 : 0) | (v % 13) * (slots ? 1 : 0x9E37) | v << 8;
                }
                if (r % 4 == 0) {
                        /* extend a prefix that is present */
                        size_t k = ref.n ? (size_t)(rng() % ref.n) : 0;
                        for (size_t i = 0; i < n && i < 3 && k + i < ref.n; i++)
                                h[i] = ref.v[k + i];
                }
                if (r % 3 == 0) {
                        size_t want = ref_match(&ref, h, n), got = prefix_index_match(idx, h, n);
                        if (want != got) {
                                fprintf(stderr, "op %d: match %zu, want %zu\n", op, got, want);
                                bad++;
                        }
                } else if (r % 1000 == 1) {
                        prefix_index_clear(idx);
                        ref.n = 0;
                } else {
                        int want = ref_insert(&ref, h, n), got = prefix_index_insert(idx, h, n);
                        if (want != got) {
                                fprintf(stderr, "op %d: insert %d, want %d\n", op, got, want);
                                bad++;
                        }
                }
                if (prefix_index_count(idx) != ref.n) {
                        fprintf(stderr, "op %d: count %u, want %zu\n", op, prefix_index_count(idx), ref.n);
                        bad++;
                }
                if (cap <= 16 || op % 64 == 0) {
                        size_t m = prefix_index_dump(idx, dump, 256);
                        if (m != ref.n || memcmp(dump, ref.v, m * sizeof(uint64_t)) != 0) {
                                fprintf(stderr, "op %d: contents differ\n", op);
                                bad++;
                        }
                        /* every member findable */
                        for (size_t i = 0; i < ref.n; i++)
                                if (prefix_index_match(idx, &ref.v[i], 1) != 1) {
                                        fprintf(stderr, "op %d: member lost\n", op);
                                        bad++;
                                        break;
                                }
                }
        }
        if (bad) {
                fprintf(stderr, "random_run(cap %u, slots %u, universe %llu) failed\n", cap, slots,
                        (unsigned long long)universe);
                check_failures += bad;
        }
        prefix_index_free(idx);
}

static void test_random(void) {
        random_run(1, 2, 4, 100000);
        random_run(3, 4, 10, 100000);
        random_run(7, 8, 30, 100000);
        random_run(16, 32, 40, 100000);
        random_run(64, 0, 200, 100000);
        random_run(100, 128, 300, 100000);
        random_run(200, 256, 250, 100000);
}

int main(int argc, char **argv) {
        static const struct {
                const char *name;
                void (*fn)(void);
        } groups[] = {
                { "hash", test_hash },           { "basic", test_basic },           { "eviction", test_eviction },
                { "capacity1", test_capacity1 }, { "collisions", test_collisions }, { "long", test_long },
                { "args", test_args },           { "random", test_random },
        };
        bool ran = false;

        if (argc > 2)
                rng_state = strtoull(argv[2], NULL, 0) | 1;
        for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
                if (argc > 1 && strcmp(argv[1], groups[i].name) != 0)
                        continue;
                groups[i].fn();
                ran = true;
        }
        if (!ran) {
                fprintf(stderr, "unknown group: %s\n", argv[1]);
                return 2;
        }
        return check_done(argc > 1 ? argv[1] : "prefix_index");
}
