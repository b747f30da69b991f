/* The local rate limiter: GCRA buckets (ratelimit-internal.h) in a table of
 * 64-byte entries in a shared mapping. See ratelimit.h for the contract.
 *
 * Slot protocol (key word of an entry):
 *   0 ──claim: CAS──▶ h1|BUSY ──fields written, CAS──▶ h1 ──evict: CAS──▶ h2|BUSY ...
 *   h1|BUSY ──stuck 10 ms: CAS──▶ DEAD (evictable, matches no one)
 * A slot never becomes free (0) again, so a lookup may stop at the first
 * free slot of its window: a client is always placed before it. The claim
 * CAS is acq_rel; the release CAS (BUSY cleared) is seq_cst and pairs with
 * the acquire loads of lookups, which then see check and the reset buckets.
 * Buckets and seen_ns are relaxed: each bucket word is self-contained.
 * Races tolerated (never a crash nor a wrong slot layout): a lookup that
 * found an entry just before it was evicted charges the new owner once;
 * two threads creating the same new client in a full window may evict two
 * slots: after releasing, a claimer that sees another ready copy gives its
 * own up (DEAD) and uses that one (a seq_cst store-then-load pair, so of two
 * racing claimers at least the later one sees the earlier). */
#include "common/ratelimit.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/ratelimit-internal.h"

#define RL_MAGIC 0x53595254424b5432ULL /* "SYRTBKT2" */
#define RL_MAX_CAPACITY (1u << 24)
#define RL_TRIES 64
#define BUSY_TIMEOUT_NS 10000000ULL

struct rl_table {
        struct rl_header *hdr;
        struct rl_entry *e;
        uint64_t key[4];
        uint32_t mask;
        size_t map_len;
};

uint32_t rl_capacity(const struct rl_table *t) {
        return t->mask + 1;
}

struct rl_entry *rl_slot(struct rl_table *t, uint32_t i) {
        return &t->e[i & t->mask];
}

/* ---- hash: 16 bytes a round, two lanes, 64x64->128 multiply-fold; keyed
 * per table so that nobody outside can pick colliding ids ---------------- */

static inline uint64_t fold(uint64_t a, uint64_t b) {
        unsigned __int128 m = (unsigned __int128)a * b;

        return (uint64_t)m ^ (uint64_t)(m >> 64);
}

static inline uint64_t load64(const unsigned char *p) {
        uint64_t v;

        memcpy(&v, p, 8);
        return v;
}

static void hash2(const uint64_t k[4], const void *id, size_t len, uint64_t *h1, uint64_t *h2) {
        const unsigned char *p = id;
        uint64_t a = k[0] ^ (len * 0x9e3779b97f4a7c15ULL), b = k[1] ^ len, w0, w1;
        size_t n = len;

        while (n >= 16) {
                w0 = load64(p), w1 = load64(p + 8);
                a = fold(w0 ^ a, w1 ^ k[2]);
                b = fold(w1 ^ b, w0 ^ k[3]);
                p += 16, n -= 16;
        }
        w0 = w1 = 0;
        if (n >= 8) {
                w0 = load64(p);
                memcpy(&w1, p + 8, n - 8);
        } else if (n) {
                memcpy(&w0, p, n);
        }
        a = fold(w0 ^ a, w1 ^ k[2]);
        b = fold(w1 ^ b, w0 ^ k[3]);
        *h1 = ((fold(a ^ k[3], b ^ 0xa0761d6478bd642fULL) | RL_KEY_HASH) & ~RL_KEY_BUSY);
        *h2 = fold(b ^ k[2], a ^ 0xe7037ed1a0b428dbULL);
}

void rl_hash(const struct rl_table *t, const void *id, size_t len, uint64_t *ret_h1, uint64_t *ret_h2) {
        hash2(t->key, id, len, ret_h1, ret_h2);
}

/* ---- the mapping --------------------------------------------------------- */

static void boot_id(uint8_t out[16]) {
        char s[64];
        ssize_t n;
        int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC), j = 0;

        memset(out, 0, 16);
        if (fd < 0)
                return;
        n = read(fd, s, sizeof s - 1);
        close(fd);
        for (ssize_t i = 0; i < n && j < 32; i++) {
                int c = s[i], v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
                if (v < 0)
                        continue;
                out[j / 2] |= (uint8_t)(v << (j % 2 ? 0 : 4));
                j++;
        }
}

static int new_header(uint32_t cap, struct rl_header *h) {
        memset(h, 0, sizeof *h);
        h->magic = RL_MAGIC;
        h->capacity = cap;
        h->entry_size = sizeof(struct rl_entry);
        boot_id(h->boot_id);
        if (getrandom(h->key, sizeof h->key, 0) != (ssize_t)sizeof h->key)
                return errno ? -errno : -EIO;
        return 0;
}

static bool header_ok(const struct rl_header *h, uint32_t cap) {
        uint8_t b[16];

        boot_id(b);
        return h->magic == RL_MAGIC && h->capacity == cap && h->entry_size == sizeof(struct rl_entry) &&
               memcmp(h->boot_id, b, 16) == 0;
}

/* lays a table out in fd (size 0 or a new file) */
static int lay_out(int fd, uint32_t cap, size_t len) {
        struct rl_header h;
        int r = new_header(cap, &h);

        if (r < 0)
                return r;
        if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)len) < 0 || pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
                return -errno;
        return 0;
}

/* The file at path, valid for cap, locked while it is checked: a fd to map.
 * A file of another size (or version, or boot) is replaced by a new one
 * through rename, never truncated under the feet of a process mapping it. */
static int open_file(const char *path, uint32_t cap, size_t len, int *ret_fd) {
        for (int tries = 0; tries < 8; tries++) {
                struct stat st, sp;
                struct rl_header h;
                char tmp[4096];
                int fd, nfd, r;

                fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0)
                        return -errno;
                if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0 || stat(path, &sp) < 0) {
                        r = -errno;
                        close(fd);
                        if (r == -ENOENT)
                                continue; /* renamed away meanwhile */
                        return r;
                }
                if (st.st_ino != sp.st_ino || st.st_dev != sp.st_dev) {
                        close(fd); /* replaced while we waited for the lock */
                        continue;
                }
                if (!S_ISREG(st.st_mode)) {
                        close(fd);
                        return -EINVAL;
                }
                if ((size_t)st.st_size == len && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h &&
                    header_ok(&h, cap)) {
                        *ret_fd = fd; /* locked: rl_open unlocks it once mapped */
                        return 0;
                }
                if (st.st_size == 0) { /* new: nobody maps a file that has no header yet */
                        r = lay_out(fd, cap, len);
                        if (r < 0) {
                                close(fd);
                                return r;
                        }
                        *ret_fd = fd;
                        return 0;
                }
                if (snprintf(tmp, sizeof tmp, "%s.%ld.new", path, (long)getpid()) >= (int)sizeof tmp) {
                        close(fd);
                        return -ENAMETOOLONG;
                }
                nfd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (nfd < 0) {
                        r = -errno;
                        close(fd);
                        return r;
                }
                r = lay_out(nfd, cap, len);
                if (r == 0 && rename(tmp, path) < 0)
                        r = -errno;
                flock(fd, LOCK_UN); /* the old file's waiters find it replaced */
                close(fd);
                if (r < 0) {
                        unlink(tmp);
                        close(nfd);
                        return r;
                }
                *ret_fd = nfd;
                return 0;
        }
        return -EBUSY;
}

int rl_open(const char *path, uint32_t max_clients, struct rl_table **ret) {
        struct rl_table *t;
        uint32_t cap = RL_WINDOW;
        size_t len;
        void *m;
        int fd = -1, r;

        if (!ret)
                return -EINVAL;
        if (max_clients > RL_MAX_CAPACITY)
                max_clients = RL_MAX_CAPACITY;
        while (cap < max_clients)
                cap <<= 1;
        len = sizeof(struct rl_header) + (size_t)cap * sizeof(struct rl_entry);
        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        if (path) {
                r = open_file(path, cap, len, &fd);
                if (r < 0)
                        goto fail;
                m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        } else {
                m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
                if (m != MAP_FAILED) {
                        r = new_header(cap, m);
                        if (r < 0) {
                                munmap(m, len);
                                goto fail;
                        }
                }
        }
        if (m == MAP_FAILED) {
                r = -errno;
                goto fail;
        }
        if (fd >= 0) {
                /* explicitly: the mapping keeps the file open, and its lock */
                flock(fd, LOCK_UN);
                close(fd);
        }
        t->hdr = m;
        t->e = (struct rl_entry *)((char *)m + sizeof(struct rl_header));
        memcpy(t->key, t->hdr->key, sizeof t->key);
        t->mask = cap - 1;
        t->map_len = len;
        *ret = t;
        return 0;
fail:
        if (fd >= 0)
                close(fd);
        free(t);
        return r;
}

void rl_close(struct rl_table *t) {
        if (!t)
                return;
        munmap(t->hdr, t->map_len);
        free(t);
}

/* ---- slots --------------------------------------------------------------- */

static uint64_t clock_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#endif
}

/* k is h1|BUSY: waits until the slot's set-up ends; after BUSY_TIMEOUT_NS
 * declares it abandoned (its owner died between its two CAS). The key
 * after. */
static uint64_t wait_ready(struct rl_entry *e, uint64_t k) {
        uint64_t busy = k, since = 0;

        for (unsigned spin = 0; k == busy; spin++) {
                if (spin < 64) {
                        cpu_relax();
                } else {
                        sched_yield();
                        if (spin % 16 == 0) {
                                uint64_t now = clock_ns();
                                if (!since)
                                        since = now;
                                else if (now - since > BUSY_TIMEOUT_NS &&
                                         atomic_compare_exchange_strong_explicit(&e->key, &k, RL_KEY_DEAD,
                                                                                 memory_order_acq_rel,
                                                                                 memory_order_acquire)) {
                                        atomic_store_explicit(&e->seen_ns, 0, memory_order_relaxed);
                                        return RL_KEY_DEAD;
                                }
                        }
                }
                /* pairs with the release CAS that ends the set-up */
                k = atomic_load_explicit(&e->key, memory_order_acquire);
        }
        return k;
}

/* Takes slot e (key was old) for (h1, h2) with both buckets full. false:
 * lost the slot to another thread (or the set-up was taken over). */
static bool claim(struct rl_entry *e, uint64_t old, uint64_t h1, uint64_t h2, uint64_t now) {
        uint64_t busy = h1 | RL_KEY_BUSY;

        if (!atomic_compare_exchange_strong_explicit(&e->key, &old, busy, memory_order_acq_rel, memory_order_relaxed))
                return false;
        atomic_store_explicit(&e->check, h2, memory_order_relaxed);
        atomic_store_explicit(&e->tat[0], 0, memory_order_relaxed);
        atomic_store_explicit(&e->tat[1], 0, memory_order_relaxed);
        atomic_store_explicit(&e->seen_ns, now, memory_order_relaxed);
        /* seq_cst: pairs with lookups' acquire loads, and with the other
         * claimer's dedup loads (see the top of the file) */
        return atomic_compare_exchange_strong_explicit(&e->key, &busy, h1, memory_order_seq_cst, memory_order_relaxed);
}

/* Another ready slot of (h1, h2) in the window than mine, or NULL. */
static struct rl_entry *other_copy(struct rl_table *t, uint64_t h1, uint64_t h2, const struct rl_entry *mine) {
        for (uint32_t i = 0; i < RL_WINDOW; i++) {
                struct rl_entry *e = &t->e[(h1 + i) & t->mask];
                uint64_t k;

                if (e == mine)
                        continue;
                k = atomic_load_explicit(&e->key, memory_order_seq_cst);
                if (k == 0)
                        break;
                if (k == (h1 | RL_KEY_BUSY))
                        k = wait_ready(e, k);
                if (k == h1 && atomic_load_explicit(&e->check, memory_order_relaxed) == h2)
                        return e;
        }
        return NULL;
}

/* eviction preference: abandoned, then idle (both buckets full), then any;
 * least recently seen first within a class. Smaller is better. */
static unsigned __int128 victim_rank(struct rl_entry *e, uint64_t k, uint64_t now) {
        uint64_t seen = atomic_load_explicit(&e->seen_ns, memory_order_relaxed);
        unsigned cls;

        if (k == RL_KEY_DEAD)
                cls = 0;
        else if (atomic_load_explicit(&e->tat[0], memory_order_relaxed) <= now &&
                 atomic_load_explicit(&e->tat[1], memory_order_relaxed) <= now)
                cls = 1;
        else
                cls = 2;
        return ((unsigned __int128)cls << 64) | seen;
}

/* The client's entry, made when it has none. */
static int entry(struct rl_table *t, uint64_t h1, uint64_t h2, uint64_t now, struct rl_entry **ret) {
        for (int tries = 0; tries < RL_TRIES; tries++) {
                struct rl_entry *free_e = NULL, *old_e = NULL;
                uint64_t old_k = 0;
                unsigned __int128 best = ~(unsigned __int128)0;

                for (uint32_t i = 0; i < RL_WINDOW; i++) {
                        struct rl_entry *e = &t->e[(h1 + i) & t->mask];
                        /* pairs with the release CAS of claim() */
                        uint64_t k = atomic_load_explicit(&e->key, memory_order_acquire);

                        if (k == 0) {
                                free_e = e;
                                break; /* nobody of this window lies beyond a free slot */
                        }
                        if (k == (h1 | RL_KEY_BUSY))
                                k = wait_ready(e, k);
                        if (k == h1) {
                                if (atomic_load_explicit(&e->check, memory_order_relaxed) == h2) {
                                        *ret = e;
                                        return 0;
                                }
                                continue; /* another id with the same first hash: 2^-62 */
                        }
                        if (!(k & RL_KEY_BUSY)) {
                                unsigned __int128 rank = victim_rank(e, k, now);
                                if (rank < best)
                                        best = rank, old_e = e, old_k = k;
                        }
                }
                if (free_e) {
                        if (claim(free_e, 0, h1, h2, now)) {
                                *ret = free_e;
                                return 0;
                        }
                } else if (old_e) {
                        if (claim(old_e, old_k, h1, h2, now)) {
                                struct rl_entry *o = other_copy(t, h1, h2, old_e);
                                uint64_t mine = h1;

                                if (!o) {
                                        *ret = old_e;
                                        return 0;
                                }
                                /* another thread made this client too: keep one */
                                atomic_store_explicit(&old_e->seen_ns, 0, memory_order_relaxed);
                                atomic_compare_exchange_strong_explicit(&old_e->key, &mine, RL_KEY_DEAD,
                                                                        memory_order_acq_rel, memory_order_relaxed);
                                *ret = o;
                                return 0;
                        }
                } else {
                        sched_yield(); /* the whole window is being set up: rare */
                }
                /* lost a race for the slot: look again (the winner may be this very client) */
        }
        return -EAGAIN;
}

/* ---- buckets -------------------------------------------------------------- */

static uint64_t used_of(uint64_t tat, const struct rl_bucket *b, uint64_t now) {
        uint64_t u = tat > now ? tat - now : 0;

        /* beyond any legitimate value: another clock's (a table kept across
         * a reboot is laid out anew, so this is a caller's clock mismatch) */
        return u > b->limit ? 0 : u;
}

/* Takes cost from the bucket if it fits. *ret_used: the bucket's used after
 * (taken) or as found (refused). */
static bool take(_Atomic uint64_t *w, const struct rl_bucket *b, uint64_t cost, bool force, uint64_t now,
                 uint64_t *ret_used) {
        uint64_t tat = atomic_load_explicit(w, memory_order_relaxed);

        for (;;) {
                uint64_t used = used_of(tat, b, now), after;

                if (!rl_fits(b, used, cost, force)) {
                        *ret_used = used;
                        return false;
                }
                after = rl_after(b, used, cost);
                if (atomic_compare_exchange_weak_explicit(w, &tat, now + after, memory_order_relaxed,
                                                          memory_order_relaxed)) {
                        *ret_used = after;
                        return true;
                }
        }
}

/* Adds (up) or gives back (!up) d ns of spending, within [0, limit]. The used after. */
static uint64_t add(_Atomic uint64_t *w, const struct rl_bucket *b, uint64_t d, bool up, uint64_t now) {
        uint64_t tat = atomic_load_explicit(w, memory_order_relaxed);

        for (;;) {
                uint64_t used = used_of(tat, b, now), after;

                after = up ? rl_after(b, used, d) : used > d ? used - d : 0;
                if (after == used && (used > 0 || tat <= now))
                        return used;
                if (atomic_compare_exchange_weak_explicit(w, &tat, now + after, memory_order_relaxed,
                                                          memory_order_relaxed))
                        return after;
        }
}

int rl_check(struct rl_table *t, const void *id, size_t len, const struct rl_limits *lim, uint32_t tokens, uint64_t now,
             struct rl_result *ret) {
        struct rl_bucket br, bt;
        struct rl_entry *e;
        uint64_t h1, h2, ur, ut, ct, wait = 0;
        bool allowed = true, by_tokens = false;
        int r;

        if (!t || !lim || !ret || (!id && len))
                return -EINVAL;
        rl_bucket_init(&br, lim->rpm, lim->burst_requests, true);
        rl_bucket_init(&bt, lim->tpm, lim->burst_tokens, false);
        hash2(t->key, id, len, &h1, &h2);
        r = entry(t, h1, h2, now, &e);
        if (r < 0)
                return r;
        atomic_store_explicit(&e->seen_ns, now, memory_order_relaxed);
        ct = bt.on && tokens ? rl_cost(&bt, tokens) : 0;
        ur = br.on ? used_of(atomic_load_explicit(&e->tat[0], memory_order_relaxed), &br, now) : 0;
        ut = bt.on ? used_of(atomic_load_explicit(&e->tat[1], memory_order_relaxed), &bt, now) : 0;

        /* tokens first, read-only: a refusal by tokens touches no bucket */
        if (bt.on && !rl_fits(&bt, ut, ct, true)) {
                allowed = false;
                by_tokens = !br.on || rl_fits(&br, ur, br.unit, false);
        } else if (br.on && !take(&e->tat[0], &br, br.unit, false, now, &ur)) {
                allowed = false;
        } else if (bt.on && !take(&e->tat[1], &bt, ct, true, now, &ut)) {
                /* lost the tokens to a concurrent request: give the request back */
                allowed = false;
                by_tokens = true;
                if (br.on)
                        ur = add(&e->tat[0], &br, br.unit, false, now);
        }
        if (!allowed) {
                uint64_t wr = br.on ? rl_wait(&br, ur, br.unit, false) : 0;
                uint64_t wt = bt.on ? rl_wait(&bt, ut, ct, true) : 0;
                wait = wr > wt ? wr : wt;
        }
        rl_report(&br, &bt, ur, ut, allowed, by_tokens, wait, ret);
        return 0;
}

void rl_adjust_tokens(struct rl_table *t, const void *id, size_t len, const struct rl_limits *lim, int64_t delta,
                      uint64_t now) {
        struct rl_bucket bt;
        struct rl_entry *e;
        uint64_t h1, h2, n;

        if (!t || !lim || !lim->tpm || !delta || (!id && len))
                return;
        rl_bucket_init(&bt, lim->tpm, lim->burst_tokens, false);
        hash2(t->key, id, len, &h1, &h2);
        if (entry(t, h1, h2, now, &e) < 0)
                return;
        atomic_store_explicit(&e->seen_ns, now, memory_order_relaxed);
        n = delta > 0 ? (uint64_t)delta : (uint64_t)(-(delta + 1)) + 1;
        /* upwards rounded up, back rounded down: corrections never give
         * more than was charged */
        add(&e->tat[1], &bt, rl_span(n, bt.tfp, delta > 0), delta > 0, now);
}
