/* Token buckets as GCRA (the generic cell rate algorithm): a bucket is one
 * 64-bit word, its theoretical arrival time (TAT) in ns. With T = one
 * unit's share of a minute (60 s / rate) and a bucket of b units, a request
 * of n units at `now` is admitted when max(TAT, now) + n T - now <= b T, and
 * then TAT becomes max(TAT, now) + n T. The bucket is full when TAT <= now;
 * what is left is (b T - (TAT - now)) / T units; it is full again at TAT.
 * Updates are compare-and-swap loops on that word. See ratelimit.h. */
#include "common/ratelimit.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RL_MAGIC 0x53595254424b5431ULL /* "SYRTBKT1" */
#define RL_WINDOW 16                   /* slots a client's hash may use */
#define RL_MAX_CAPACITY (1u << 24)
#define BUSY 1ULL                      /* key bit 0: the slot is being (re)initialised */
#define MINUTE_NS 60000000000ULL

struct rl_entry {
        _Atomic uint64_t key;          /* first hash with bit 1 set and bit 0 (BUSY) clear; 0: free */
        _Atomic uint64_t check;        /* second hash */
        _Atomic uint64_t tat_req;      /* request bucket's TAT, ns */
        _Atomic uint64_t tat_tok;      /* token bucket's TAT, ns */
        _Atomic uint64_t seen_ns;      /* last admitted or refused request: eviction order */
        uint64_t pad[3];               /* one cache line per client */
};

struct rl_header {
        uint64_t magic;
        uint32_t capacity;
        uint32_t entry_size;
        uint64_t pad[6];
};

struct rl_table {
        struct rl_header *hdr;
        struct rl_entry *e;
        uint32_t mask;
        size_t map_len;
};

_Static_assert(sizeof(struct rl_entry) == 64, "one cache line per entry");
_Static_assert(sizeof(struct rl_header) == 64, "header is one cache line");

uint32_t rl_capacity(const struct rl_table *t) {
        return t->mask + 1;
}

int rl_open(const char *path, uint32_t max_clients, struct rl_table **ret) {
        struct rl_table *t;
        uint32_t cap = 16;
        size_t len;
        void *m;
        int fd = -1, r;

        if (max_clients > RL_MAX_CAPACITY)
                max_clients = RL_MAX_CAPACITY;
        while (cap < max_clients)
                cap <<= 1;
        len = sizeof(struct rl_header) + (size_t)cap * sizeof(struct rl_entry);
        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        if (path) {
                struct stat st;
                struct rl_header h;

                fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                if (fd < 0) {
                        r = -errno;
                        goto fail;
                }
                /* whoever opens it first (or finds another size) lays it out */
                if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0) {
                        r = -errno;
                        goto fail;
                }
                if ((size_t)st.st_size != len || pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
                    h.magic != RL_MAGIC || h.capacity != cap || h.entry_size != sizeof(struct rl_entry)) {
                        struct rl_header nh = { .magic = RL_MAGIC, .capacity = cap,
                                                .entry_size = sizeof(struct rl_entry) };
                        if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)len) < 0 ||
                            pwrite(fd, &nh, sizeof nh, 0) != (ssize_t)sizeof nh) {
                                r = -errno;
                                goto fail;
                        }
                }
                m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                flock(fd, LOCK_UN);
        } else {
                m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
                if (m != MAP_FAILED)
                        *(struct rl_header *)m = (struct rl_header){ .magic = RL_MAGIC, .capacity = cap,
                                                                      .entry_size = sizeof(struct rl_entry) };
        }
        if (m == MAP_FAILED) {
                r = -errno;
                goto fail;
        }
        if (fd >= 0)
                close(fd);
        t->hdr = m;
        t->e = (struct rl_entry *)((char *)m + sizeof(struct rl_header));
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

/* two independent 64-bit hashes of the id (FNV-1a, then a splitmix
 * finalizer of it with another seed mixed in per byte) */
static void hash2(const void *id, size_t len, uint64_t *h1, uint64_t *h2) {
        const unsigned char *p = id;
        uint64_t a = 0xcbf29ce484222325ULL, b = 0x9e3779b97f4a7c15ULL ^ len;

        for (size_t i = 0; i < len; i++) {
                a = (a ^ p[i]) * 0x100000001b3ULL;
                b = (b + p[i]) * 0xff51afd7ed558ccdULL;
                b ^= b >> 29;
        }
        a ^= a >> 33;
        a *= 0xc4ceb9fe1a85ec53ULL;
        a ^= a >> 29;
        *h1 = (a | 2) & ~BUSY;
        *h2 = b;
}

static void wait_ready(struct rl_entry *e, uint64_t want, uint64_t *k) {
        for (int spin = 0; (*k & ~BUSY) == want && (*k & BUSY); spin++) {
                if (spin > 64)
                        sched_yield();
                /* pairs with the release store that ends the initialisation */
                *k = atomic_load_explicit(&e->key, memory_order_acquire);
        }
}

static struct rl_entry *claim(struct rl_entry *e, uint64_t old, uint64_t want, uint64_t h2, uint64_t now) {
        if (!atomic_compare_exchange_strong_explicit(&e->key, &old, want | BUSY, memory_order_acq_rel,
                                                     memory_order_relaxed))
                return NULL;
        atomic_store_explicit(&e->check, h2, memory_order_relaxed);
        atomic_store_explicit(&e->tat_req, 0, memory_order_relaxed);
        atomic_store_explicit(&e->tat_tok, 0, memory_order_relaxed);
        atomic_store_explicit(&e->seen_ns, now, memory_order_relaxed);
        /* pairs with the acquire loads of lookups: the fields above are seen first */
        atomic_store_explicit(&e->key, want, memory_order_release);
        return e;
}

/* The client's entry, made when it has none (evicting the window's
 * least recently seen one when the window is full). */
static struct rl_entry *entry(struct rl_table *t, const void *id, size_t len, uint64_t now) {
        uint64_t h1, h2;

        hash2(id, len, &h1, &h2);
        for (;;) {
                struct rl_entry *free_e = NULL, *old_e = NULL;
                uint64_t old_k = 0, old_seen = UINT64_MAX;

                for (uint32_t i = 0; i < RL_WINDOW; i++) {
                        struct rl_entry *e = &t->e[(h1 + i) & t->mask];
                        uint64_t k = atomic_load_explicit(&e->key, memory_order_acquire);

                        if ((k & ~BUSY) == h1) {
                                wait_ready(e, h1, &k);
                                if (k == h1 && atomic_load_explicit(&e->check, memory_order_relaxed) == h2)
                                        return e;
                                if ((k & ~BUSY) == h1)
                                        continue; /* another id with the same first hash */
                        }
                        if (k == 0) {
                                if (!free_e)
                                        free_e = e;
                        } else if (!(k & BUSY)) {
                                uint64_t s = atomic_load_explicit(&e->seen_ns, memory_order_relaxed);
                                if (s < old_seen)
                                        old_seen = s, old_e = e, old_k = k;
                        }
                }
                if (free_e && claim(free_e, 0, h1, h2, now))
                        return free_e;
                if (!free_e && old_e && claim(old_e, old_k, h1, h2, now))
                        return old_e;
                if (!free_e && !old_e)
                        sched_yield(); /* every slot of the window is being initialised: rare */
                /* lost a race for the slot: look again (the winner may be this very client) */
        }
}

static uint64_t interval_ns(uint32_t rate) {
        return rate ? MINUTE_NS / rate : 0;
}

static uint64_t bucket_of(uint32_t rate, uint32_t burst) {
        return burst ? burst : rate;
}

/* Takes n units from a bucket (interval T, b units); force: admit when full
 * whatever n. Returns whether it did; *ret_tat the TAT after (or now). */
static bool take(_Atomic uint64_t *w, uint64_t T, uint64_t b, uint64_t n, bool force, uint64_t now,
                 uint64_t *ret_tat) {
        uint64_t tat = atomic_load_explicit(w, memory_order_relaxed);

        for (;;) {
                uint64_t base = tat > now ? tat : now, next = base + n * T;

                if (next - now > b * T && !(force && base == now)) {
                        *ret_tat = base;
                        return false;
                }
                if (atomic_compare_exchange_weak_explicit(w, &tat, next, memory_order_relaxed,
                                                          memory_order_relaxed)) {
                        *ret_tat = next;
                        return true;
                }
        }
}

/* Adds d units (negative: gives back) without a limit check. */
static uint64_t add(_Atomic uint64_t *w, uint64_t T, int64_t d, uint64_t now) {
        uint64_t tat = atomic_load_explicit(w, memory_order_relaxed);

        for (;;) {
                uint64_t base = tat > now ? tat : now, next;
                int64_t delta = d * (int64_t)T;

                if (delta < 0 && (uint64_t)-delta > base - now)
                        next = now; /* back to full, not beyond */
                else
                        next = base + (uint64_t)delta;
                if (atomic_compare_exchange_weak_explicit(w, &tat, next, memory_order_relaxed,
                                                          memory_order_relaxed))
                        return next;
        }
}

static uint32_t remaining(uint64_t tat, uint64_t T, uint64_t b, uint64_t now) {
        uint64_t used = tat > now ? tat - now : 0;

        return used >= b * T ? 0 : (uint32_t)((b * T - used) / T);
}

static uint32_t ms_until(uint64_t tat, uint64_t now) {
        uint64_t d = tat > now ? (tat - now + 999999) / 1000000 : 0;

        return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

int rl_check(struct rl_table *t, const void *id, size_t len, const struct rl_limits *lim, uint32_t tokens,
             uint64_t now, struct rl_result *ret) {
        struct rl_entry *e;
        uint64_t Tr = interval_ns(lim->rpm), Tt = interval_ns(lim->tpm);
        uint64_t br = bucket_of(lim->rpm, lim->burst_requests), bt = bucket_of(lim->tpm, lim->burst_tokens);
        uint64_t tat_r = now, tat_t = now, wait = 0;
        struct rl_result r = { .allowed = true, .limit_requests = lim->rpm, .limit_tokens = lim->tpm };

        if (!t || !ret)
                return -EINVAL;
        e = entry(t, id, len, now);
        atomic_store_explicit(&e->seen_ns, now, memory_order_relaxed);
        if (Tr && !take(&e->tat_req, Tr, br, 1, false, now, &tat_r)) {
                r.allowed = false;
                wait = tat_r + Tr - br * Tr - now; /* until one unit fits */
        }
        if (r.allowed && Tt && !take(&e->tat_tok, Tt, bt, tokens, true, now, &tat_t)) {
                uint64_t need = (uint64_t)tokens * Tt > bt * Tt ? bt * Tt : (uint64_t)tokens * Tt;
                r.allowed = false;
                r.by_tokens = true;
                wait = tat_t + need - bt * Tt > now ? tat_t + need - bt * Tt - now : 1;
                if (Tr)
                        tat_r = add(&e->tat_req, Tr, -1, now); /* the request is not taken after all */
        } else if (Tt) {
                tat_t = r.allowed ? tat_t : atomic_load_explicit(&e->tat_tok, memory_order_relaxed);
        }
        if (Tr) {
                r.remaining_requests = remaining(tat_r, Tr, br, now);
                r.reset_requests_ms = ms_until(tat_r, now);
        }
        if (Tt) {
                r.remaining_tokens = remaining(tat_t, Tt, bt, now);
                r.reset_tokens_ms = ms_until(tat_t, now);
        }
        if (!r.allowed)
                r.retry_after_s = (uint32_t)((wait + 999999999ULL) / 1000000000ULL);
        if (!r.allowed && r.retry_after_s == 0)
                r.retry_after_s = 1;
        *ret = r;
        return 0;
}

void rl_adjust_tokens(struct rl_table *t, const void *id, size_t len, const struct rl_limits *lim, int64_t delta,
                      uint64_t now) {
        uint64_t Tt = interval_ns(lim->tpm);

        if (!t || !Tt || !delta)
                return;
        add(&entry(t, id, len, now)->tat_tok, Tt, delta, now);
}
