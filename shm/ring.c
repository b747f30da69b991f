/* SPSC ring of variable-length messages in shared memory (see ring.h).
 *
 * Indices: head (producer) and tail (consumer) are free-running 64-bit byte
 * positions; the offset in the data area is pos & mask. They never wrap in
 * practice (2^64 bytes), so head - tail is always the number of used bytes
 * and no "one slot empty" trick is needed. Only positions are kept in shared
 * memory, never pointers, so every process can map the ring anywhere.
 *
 * Records: an 8-byte struct ring_rec (len, type, flags) then len bytes,
 * rounded up to 8. A record never crosses the end of the data area: when the
 * next message does not fit before the end, the producer writes a pad record
 * (type RING_PAD_TYPE, len = bytes left before the end - 8) and the message
 * at offset 0; both become visible with the same store of head. Positions
 * are multiples of 8 and the data area is a power of two >= 4096, so there
 * is always room for a pad record's header before the end.
 *
 * Ownership: each side writes only its own cache line (producer: head,
 * tail_cache, pushed; consumer: tail, head_cache, popped). The caches are
 * kept in shared memory as well, so they survive a restart of their owner;
 * a stale cache is always conservative (an old tail means less free space,
 * an old head means fewer messages) and is only ever refreshed upwards.
 *
 * Memory ordering (each pair is named at both ends below):
 *   [H] producer: release store of head after writing the records;
 *       consumer: acquire load of head before reading them.
 *   [T] consumer: release store of tail after reading (or copying) a
 *       message; producer: acquire load of tail before overwriting space.
 *   [S] sleep flag, a Dekker pattern: consumer stores sleeping=1, seq_cst
 *       fence, loads head; producer stores head, seq_cst fence, loads
 *       sleeping. At least one of them sees the other's store, so either the
 *       consumer does not go to sleep or the producer rings the doorbell. */
#include "shm/ring.h"

#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#define RING_MAGIC 0x474e49524e595953ULL /* "SYNYRING" */
#define RING_LAYOUT_VERSION 1u
#define RING_MIN_DATA 4096u
#define RING_MAX_DATA (1u << 31)
#define RING_PAD_TYPE 0xffffu
#define RING_REC_BYTES 8u
#define RING_CACHELINE 64

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free to work across processes");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free to work across processes");

struct ring_rec {
        uint32_t len;
        uint16_t type;
        uint16_t flags;
};
_Static_assert(sizeof(struct ring_rec) == RING_REC_BYTES, "record header is 8 bytes");

struct ring {
        /* Line 0: written once by ring_init, read-only afterwards. */
        uint64_t magic;
        uint32_t version;
        uint32_t data_bytes;
        uint32_t mask;
        uint32_t max_msg;

        /* Line 1: written by the producer only. */
        alignas(RING_CACHELINE) _Atomic uint64_t head;
        _Atomic uint64_t tail_cache; /* last tail the producer loaded; <= tail */
        _Atomic uint64_t pushed;

        /* Line 2: written by the consumer only. */
        alignas(RING_CACHELINE) _Atomic uint64_t tail;
        _Atomic uint64_t head_cache; /* last head the consumer loaded; <= head */
        _Atomic uint64_t popped;

        /* Line 3: the sleep flag, written by both sides, rarely. */
        alignas(RING_CACHELINE) _Atomic uint32_t sleeping;

        alignas(RING_CACHELINE) unsigned char data[];
};
_Static_assert(sizeof(struct ring) == 4 * RING_CACHELINE, "ring header is four cache lines");

static inline uint32_t ring_align8(uint32_t n) {
        return (n + 7u) & ~7u;
}

static inline uint64_t ring_load_relaxed(_Atomic uint64_t *p) {
        return atomic_load_explicit(p, memory_order_relaxed);
}

static inline void ring_store_relaxed(_Atomic uint64_t *p, uint64_t v) {
        atomic_store_explicit(p, v, memory_order_relaxed);
}

static bool ring_data_bytes_valid(uint64_t data_bytes) {
        return data_bytes >= RING_MIN_DATA && data_bytes <= RING_MAX_DATA && (data_bytes & (data_bytes - 1)) == 0;
}

size_t ring_mem_size(uint32_t data_bytes) {
        return sizeof(struct ring) + (size_t)data_bytes;
}

int ring_init(void *mem, uint32_t data_bytes) {
        struct ring *r = mem;

        if (!mem || ((uintptr_t)mem & (RING_CACHELINE - 1)) != 0)
                return -EINVAL;
        if (!ring_data_bytes_valid(data_bytes))
                return -EINVAL;

        /* Not concurrent with anything: the segment holds its init lock. The
         * magic is written last so a half-initialised ring never attaches. */
        memset(r, 0, sizeof(*r));
        r->version = RING_LAYOUT_VERSION;
        r->data_bytes = data_bytes;
        r->mask = data_bytes - 1;
        r->max_msg = data_bytes / 4;
        atomic_init(&r->head, 0);
        atomic_init(&r->tail_cache, 0);
        atomic_init(&r->pushed, 0);
        atomic_init(&r->tail, 0);
        atomic_init(&r->head_cache, 0);
        atomic_init(&r->popped, 0);
        atomic_init(&r->sleeping, 0);
        atomic_thread_fence(memory_order_release);
        r->magic = RING_MAGIC;
        return 0;
}

int ring_attach(void *mem, size_t mem_bytes, struct ring **ret_ring) {
        struct ring *r = mem;
        uint64_t t1, t2, h, hc, tc, size;

        if (!mem || !ret_ring || ((uintptr_t)mem & (RING_CACHELINE - 1)) != 0)
                return -EINVAL;
        if (mem_bytes < sizeof(struct ring))
                return -EBADMSG;
        if (r->magic != RING_MAGIC || r->version != RING_LAYOUT_VERSION)
                return -EBADMSG;
        size = r->data_bytes;
        if (!ring_data_bytes_valid(size) || r->mask != size - 1 || r->max_msg != size / 4)
                return -EBADMSG;
        if (ring_mem_size(r->data_bytes) > mem_bytes)
                return -EBADMSG;

        /* The other side may be running while we look, so every bound is
         * checked in an order that holds under concurrent, monotonic updates
         * of head and tail: a value read earlier is <= the same index read
         * later. The acquire loads pair with the release stores [H] and [T];
         * here they only keep the reads in this order. */
        t1 = atomic_load_explicit(&r->tail, memory_order_acquire);
        hc = ring_load_relaxed(&r->head_cache);
        h = atomic_load_explicit(&r->head, memory_order_acquire);
        tc = ring_load_relaxed(&r->tail_cache);
        t2 = atomic_load_explicit(&r->tail, memory_order_acquire);

        if ((t1 | h | t2) & 7)
                return -EBADMSG;
        /* t1 <= h: tail never passes head. h <= t2 + size: head never runs
         * more than the data area ahead of tail (t2 may exceed h if both
         * sides moved on while we looked). */
        if (t1 > h || (t2 < h && h - t2 > size))
                return -EBADMSG;
        /* Caches may lag, but must never run ahead of what they cache. */
        if (hc > h || tc > t2)
                return -EBADMSG;

        *ret_ring = r;
        return 0;
}

uint32_t ring_max_msg(const struct ring *r) {
        return r->max_msg;
}

/* Producer: finds room for a len-byte payload, writing a pad record first
 * when the message would cross the end. Returns a pointer to the payload
 * and the head to publish; nothing is visible until ring_sp_commit(). */
static int ring_sp_reserve(struct ring *r, uint16_t type, uint32_t len, void **ret_payload, uint64_t *ret_next) {
        const uint64_t size = r->data_bytes;
        uint64_t h, tc, off, to_end, need, total;
        struct ring_rec rec;

        if (type > RING_MSG_MAX_TYPE)
                return -EINVAL;
        if (len > r->max_msg)
                return -EMSGSIZE;

        need = RING_REC_BYTES + ring_align8(len);
        h = ring_load_relaxed(&r->head); /* our own index */
        off = h & r->mask;
        to_end = size - off;
        total = need <= to_end ? need : to_end + need;

        tc = ring_load_relaxed(&r->tail_cache);
        if (h - tc > size || size - (h - tc) < total) {
                /* [T] acquire: pairs with the consumer's release store of
                 * tail in ring_sc_release()/ring_sc_pop(); the consumer's
                 * reads of the space we are about to reuse happened before. */
                tc = atomic_load_explicit(&r->tail, memory_order_acquire);
                if (tc > h || h - tc > size)
                        return -EBADMSG;
                ring_store_relaxed(&r->tail_cache, tc);
                if (size - (h - tc) < total)
                        return -EAGAIN;
        }

        if (need > to_end) {
                rec = (struct ring_rec){ .len = (uint32_t)(to_end - RING_REC_BYTES), .type = RING_PAD_TYPE };
                memcpy(r->data + off, &rec, sizeof(rec));
                h += to_end;
                off = 0;
        }
        rec = (struct ring_rec){ .len = len, .type = type };
        memcpy(r->data + off, &rec, sizeof(rec));

        *ret_payload = r->data + off + RING_REC_BYTES;
        *ret_next = h + need;
        return 0;
}

static void ring_sp_commit(struct ring *r, uint64_t next) {
        /* [H] release: pairs with the consumer's acquire loads of head in
         * ring_sc_refresh_head() and ring_sc_prepare_sleep(); the pad record,
         * the record header and the payload are visible before the index. */
        atomic_store_explicit(&r->head, next, memory_order_release);
        /* Counter after head: a producer killed in between leaves it one
         * short, never one ahead of what was published. */
        ring_store_relaxed(&r->pushed, ring_load_relaxed(&r->pushed) + 1);
}

int ring_sp_push(struct ring *r, uint16_t type, const void *msg, uint32_t len) {
        void *payload;
        uint64_t next;
        int rc;

        if (len && !msg)
                return -EINVAL;
        rc = ring_sp_reserve(r, type, len, &payload, &next);
        if (rc < 0)
                return rc;
        if (len)
                memcpy(payload, msg, len);
        ring_sp_commit(r, next);
        return 0;
}

int ring_sp_pushv(struct ring *r, uint16_t type, const struct iovec *iov, int iovcnt) {
        unsigned char *payload;
        uint64_t total = 0, next;
        void *p;
        int rc;

        if (iovcnt < 0 || (iovcnt > 0 && !iov))
                return -EINVAL;
        for (int i = 0; i < iovcnt; i++) {
                if (iov[i].iov_len && !iov[i].iov_base)
                        return -EINVAL;
                total += iov[i].iov_len;
                if (total > r->max_msg)
                        return -EMSGSIZE;
        }
        rc = ring_sp_reserve(r, type, (uint32_t)total, &p, &next);
        if (rc < 0)
                return rc;
        payload = p;
        for (int i = 0; i < iovcnt; i++) {
                if (iov[i].iov_len)
                        memcpy(payload, iov[i].iov_base, iov[i].iov_len);
                payload += iov[i].iov_len;
        }
        ring_sp_commit(r, next);
        return 0;
}

bool ring_sp_needs_wake(struct ring *r) {
        /* [S] seq_cst fence: pairs with the fence in ring_sc_prepare_sleep().
         * Our earlier release store of head is ordered before the load of
         * sleeping below; if the consumer's store sleeping=1 is not seen here,
         * its load of head after its fence sees our head. */
        atomic_thread_fence(memory_order_seq_cst);
        /* Plain load first: under load the flag is 0 and the line stays
         * shared, no read-modify-write per push. */
        if (atomic_load_explicit(&r->sleeping, memory_order_relaxed) == 0)
                return false;
        /* The exchange makes exactly one caller see true per sleep. */
        return atomic_exchange_explicit(&r->sleeping, 0, memory_order_relaxed) != 0;
}

/* Consumer: acquires a fresh head. */
static uint64_t ring_sc_refresh_head(struct ring *r) {
        /* [H] acquire: pairs with the release store of head in
         * ring_sp_commit(); records before head are fully written. */
        uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);

        ring_store_relaxed(&r->head_cache, h);
        return h;
}

/* Consumer: finds the message at tail, skipping a pad record. Returns 0 and
 * the record's position and the tail after it, -EAGAIN if empty, -EBADMSG if
 * the ring is corrupt. */
static int ring_sc_locate(struct ring *r, const struct ring_rec **ret_rec, uint64_t *ret_next) {
        const uint64_t size = r->data_bytes;
        uint64_t t, h, off, need;
        struct ring_rec rec;

        t = ring_load_relaxed(&r->tail); /* our own index */
        h = ring_load_relaxed(&r->head_cache);
        if (h <= t || h - t > size) {
                h = ring_sc_refresh_head(r);
                if (h == t)
                        return -EAGAIN;
                if (h < t || h - t > size)
                        return -EBADMSG;
        }

        off = t & r->mask;
        memcpy(&rec, r->data + off, sizeof(rec));
        if (rec.type == RING_PAD_TYPE) {
                if (rec.len != size - off - RING_REC_BYTES)
                        return -EBADMSG;
                t += size - off;
                off = 0;
                /* The producer publishes a pad record together with the
                 * message after it, never alone. */
                if (t >= h)
                        return -EBADMSG;
                memcpy(&rec, r->data, sizeof(rec));
                if (rec.type == RING_PAD_TYPE)
                        return -EBADMSG;
        }
        need = RING_REC_BYTES + ring_align8(rec.len);
        /* a record never crosses the end of the data area (the producer
         * pads instead): one that would is corrupt, not read past the end */
        if (rec.len > r->max_msg || need > h - t || need > size - off)
                return -EBADMSG;

        *ret_rec = (const struct ring_rec *)(r->data + off);
        *ret_next = t + need;
        return 0;
}

static void ring_sc_advance(struct ring *r, uint64_t next) {
        /* [T] release: pairs with the producer's acquire load of tail in
         * ring_sp_reserve(); our reads of the message are done before the
         * producer may reuse its space. */
        atomic_store_explicit(&r->tail, next, memory_order_release);
        ring_store_relaxed(&r->popped, ring_load_relaxed(&r->popped) + 1);
}

int ring_sc_peek(struct ring *r, uint16_t *ret_type, const void **ret_msg, uint32_t *ret_len) {
        const struct ring_rec *rec;
        uint64_t next;
        int rc;

        rc = ring_sc_locate(r, &rec, &next);
        if (rc < 0)
                return rc;
        if (ret_type)
                *ret_type = rec->type;
        if (ret_msg)
                *ret_msg = (const unsigned char *)rec + RING_REC_BYTES;
        if (ret_len)
                *ret_len = rec->len;
        return 0;
}

void ring_sc_release(struct ring *r) {
        const struct ring_rec *rec;
        uint64_t next;

        /* Stateless: the message at tail is the one peek returned, so a
         * consumer that died between peek and release leaves no stale state
         * behind and its successor simply sees the message again. */
        if (ring_sc_locate(r, &rec, &next) == 0)
                ring_sc_advance(r, next);
}

int ring_sc_pop(struct ring *r, uint16_t *ret_type, void *buf, uint32_t cap, uint32_t *ret_len) {
        const struct ring_rec *rec;
        uint64_t next;
        uint32_t len;
        uint16_t type;
        int rc;

        rc = ring_sc_locate(r, &rec, &next);
        if (rc < 0)
                return rc;
        len = rec->len;
        type = rec->type;
        if (len > cap)
                return -ENOBUFS;
        if (len) {
                if (!buf)
                        return -EINVAL;
                memcpy(buf, (const unsigned char *)rec + RING_REC_BYTES, len);
        }
        ring_sc_advance(r, next);
        if (ret_type)
                *ret_type = type;
        if (ret_len)
                *ret_len = len;
        return 0;
}

bool ring_sc_empty(struct ring *r) {
        uint64_t t = ring_load_relaxed(&r->tail);

        if (ring_load_relaxed(&r->head_cache) > t)
                return false;
        return ring_sc_refresh_head(r) == t;
}

bool ring_sc_prepare_sleep(struct ring *r) {
        uint64_t t, h;

        atomic_store_explicit(&r->sleeping, 1, memory_order_relaxed);
        /* [S] seq_cst fence: pairs with the fence in ring_sp_needs_wake().
         * Either the producer's load of sleeping sees 1 (and it rings the
         * doorbell) or our load of head below sees its new head. */
        atomic_thread_fence(memory_order_seq_cst);
        t = ring_load_relaxed(&r->tail);
        h = ring_sc_refresh_head(r);
        if (h != t) {
                /* Data arrived. The producer may have cleared the flag (and
                 * rung the bell) already; a spurious wake-up is harmless. */
                atomic_store_explicit(&r->sleeping, 0, memory_order_relaxed);
                return false;
        }
        return true;
}

void ring_sc_cancel_sleep(struct ring *r) {
        atomic_store_explicit(&r->sleeping, 0, memory_order_relaxed);
}

uint64_t ring_pushed(const struct ring *r) {
        return atomic_load_explicit(&((struct ring *)r)->pushed, memory_order_relaxed);
}

uint64_t ring_popped(const struct ring *r) {
        return atomic_load_explicit(&((struct ring *)r)->popped, memory_order_relaxed);
}
