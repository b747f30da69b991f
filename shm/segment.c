/* The shared-memory segment (see segment.h).
 *
 * File layout, every part page-aligned, all references are offsets:
 *
 *   struct shm_hdr                 one page
 *   peer slots                     (SHM_PEER_NKINDS + max_workers) x 64 bytes:
 *                                  router, classifier, worker 0..n-1
 *   rings                          max_workers x SHM_PEER_NKINDS x 2, each
 *                                  ring_mem_size(ring_bytes) rounded to a page;
 *                                  index ((worker * NKINDS) + peer) * 2 + dir
 *   snapshot                       struct shm_snap, then 2 data buffers of
 *                                  snap_bytes rounded to 64
 *
 * Opening: the file is opened (created if missing) and flock(LOCK_EX) held
 * while its header is checked and, if needed, (re)initialised, so only one
 * process ever initialises and nobody attaches to a half-built segment. A
 * header that matches our layout and is marked initialised is kept as is,
 * rings and all: that is how a restarted process finds the messages that
 * were in flight. Anything else (empty file, bad magic, other version or
 * layout, initialisation never finished, written before the last boot) is
 * reinitialised, unless a peer recorded in it is still alive: -EBUSY.
 * Besides the peer slots (which only count processes that attached a slot),
 * every open segment holds a shared OFD lock on byte 0 of the file for as
 * long as it is open; reinitialising needs that lock exclusively, so a file
 * still mapped by anyone (a process between open and attach, a tool) is
 * never truncated under it (-EBUSY, not SIGBUS). The kernel drops the lock
 * when the process dies, so it cannot go stale. flock(2) and OFD locks are
 * independent, so the init lock and the in-use lock do not interfere.
 *
 * Snapshot: one writer, many readers; double-buffered seqlock. Publishing
 * version v writes buffer v & 1 (the one readers are not directed to) under
 * that buffer's own sequence counter (odd while writing), then stores
 * version = v. A reader loads version, copies buffer version & 1 and retries
 * if that buffer's counter changed meanwhile, which only happens when the
 * writer published twice during one copy. Data is copied with relaxed
 * atomic word accesses so the racy copy is defined behaviour (and TSan
 * clean); on x86-64 and arm64 they are plain loads and stores. */
#include "shm/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SHM_PAGE 4096u
#define SHM_CACHELINE 64u
#define SHM_MAX_WORKERS 4096u
#define SHM_MAX_RING_BYTES (1u << 30)
#define SHM_MAX_SNAP_BYTES (1u << 30)
#define SHM_INIT_DONE 0x444f4e45u /* "DONE" */
#define SHM_BOOT_ID_LEN 36
#define SHM_SNAP_MAX_TRIES 100000

struct shm_hdr {
        uint64_t magic;
        uint32_t version;
        uint32_t hdr_bytes; /* sizeof(struct shm_hdr) of the writer */
        struct shm_layout layout;
        uint32_t npeers;
        uint64_t peers_off;
        uint64_t peer_stride;
        uint64_t rings_off;
        uint64_t ring_stride;
        uint64_t nrings;
        uint64_t snap_off;
        uint64_t snap_buf_stride;
        uint64_t total_bytes;
        char boot_id[SHM_BOOT_ID_LEN + 4]; /* NUL-terminated; "" if unknown */
        uint32_t creator_pid;
        /* Release-stored last by the initialiser, SHM_INIT_DONE when the
         * whole segment is valid; read under the flock. */
        _Atomic uint32_t init_done;
};
_Static_assert(sizeof(struct shm_hdr) <= SHM_PAGE, "header fits a page");

struct shm_snap_buf {
        alignas(SHM_CACHELINE) _Atomic uint64_t seq; /* seqlock counter: odd while being written */
        _Atomic uint64_t version;                    /* the version this buffer holds */
        _Atomic uint32_t len;
};
_Static_assert(sizeof(struct shm_snap_buf) == SHM_CACHELINE, "one line per snapshot buffer header");

struct shm_snap {
        /* Latest complete version, 0 = none yet; it lives in buffer
         * version & 1. Written by the single writer only. */
        _Atomic uint64_t version;
        alignas(SHM_CACHELINE) struct shm_snap_buf buf[2];
        alignas(SHM_CACHELINE) unsigned char data[];
};

struct shm_seg {
        int fd; /* kept open: it holds our "in use" lock */
        unsigned char *base;
        size_t map_bytes;
        struct shm_layout layout;
        struct shm_hdr *hdr;
        struct shm_snap *snap;
};

/* Offsets and sizes for a layout. */
struct shm_geom {
        uint32_t npeers;
        uint64_t peers_off, peer_stride;
        uint64_t rings_off, ring_stride, nrings;
        uint64_t snap_off, snap_buf_stride;
        uint64_t total_bytes;
};

static uint64_t shm_round_up(uint64_t n, uint64_t align) {
        return (n + align - 1) / align * align;
}

static int shm_layout_valid(const struct shm_layout *l) {
        if (!l)
                return -EINVAL;
        if (l->max_workers == 0 || l->max_workers > SHM_MAX_WORKERS)
                return -EINVAL;
        if (l->ring_bytes < 4096 || l->ring_bytes > SHM_MAX_RING_BYTES || (l->ring_bytes & (l->ring_bytes - 1)) != 0)
                return -EINVAL;
        if (l->snap_bytes > SHM_MAX_SNAP_BYTES)
                return -EINVAL;
        return 0;
}

static void shm_geom_compute(const struct shm_layout *l, struct shm_geom *ret_geom) {
        struct shm_geom g;

        g.npeers = SHM_PEER_NKINDS + l->max_workers;
        g.peers_off = SHM_PAGE;
        g.peer_stride = SHM_CACHELINE;
        g.rings_off = shm_round_up(g.peers_off + (uint64_t)g.npeers * g.peer_stride, SHM_PAGE);
        g.ring_stride = shm_round_up(ring_mem_size(l->ring_bytes), SHM_PAGE);
        g.nrings = (uint64_t)l->max_workers * SHM_PEER_NKINDS * 2;
        g.snap_off = g.rings_off + g.nrings * g.ring_stride;
        g.snap_buf_stride = shm_round_up(l->snap_bytes ? l->snap_bytes : 1, SHM_CACHELINE);
        g.total_bytes = shm_round_up(g.snap_off + sizeof(struct shm_snap) + 2 * g.snap_buf_stride, SHM_PAGE);
        *ret_geom = g;
}

/* /proc's boot id, so a file that outlived a reboot (a disk path, not
 * /dev/shm) is not kept alive by pids that now belong to others. */
static void shm_boot_id(char buf[static SHM_BOOT_ID_LEN + 4]) {
        ssize_t n = 0;
        int fd;

        memset(buf, 0, SHM_BOOT_ID_LEN + 4);
        fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        n = read(fd, buf, SHM_BOOT_ID_LEN);
        close(fd);
        if (n != SHM_BOOT_ID_LEN)
                memset(buf, 0, SHM_BOOT_ID_LEN + 4);
}

uint64_t shm_now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool shm_pid_exists(uint32_t pid) {
        if (pid == 0 || pid > INT32_MAX)
                return false;
        return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

bool shm_peer_alive(const struct shm_peer *p, uint64_t max_age_ns) {
        struct shm_peer *q = (struct shm_peer *)p; /* atomics want non-const */
        uint64_t hb, now;

        if (!p)
                return false;
        if (!shm_pid_exists(atomic_load_explicit(&q->pid, memory_order_acquire)))
                return false;
        if (max_age_ns == 0)
                return true;
        hb = atomic_load_explicit(&q->heartbeat_ns, memory_order_relaxed);
        now = shm_now_ns();
        return hb >= now || now - hb <= max_age_ns;
}

uint32_t shm_peer_attach(struct shm_peer *p) {
        atomic_store_explicit(&p->heartbeat_ns, shm_now_ns(), memory_order_relaxed);
        atomic_store_explicit(&p->pid, (uint32_t)getpid(), memory_order_relaxed);
        /* Release: pairs with acquire loads of generation by observers; a
         * peer seeing the new generation sees our pid and heartbeat. */
        return atomic_fetch_add_explicit(&p->generation, 1, memory_order_release) + 1;
}

void shm_peer_heartbeat(struct shm_peer *p) {
        atomic_store_explicit(&p->heartbeat_ns, shm_now_ns(), memory_order_relaxed);
}

static int shm_seg_attach_rings(unsigned char *base, const struct shm_geom *g) {
        struct ring *r;
        int rc;

        for (uint64_t i = 0; i < g->nrings; i++) {
                rc = ring_attach(base + g->rings_off + i * g->ring_stride, g->ring_stride, &r);
                if (rc < 0)
                        return rc;
        }
        return 0;
}

static bool shm_seg_rings_valid(unsigned char *base, const struct shm_geom *g) {
        return shm_seg_attach_rings(base, g) == 0;
}

/* Checks an existing file's header (mapped read-only, file_bytes long).
 * Returns 1 if it matches geom and is initialised (keep it), 0 if it must
 * be (re)initialised, -EBUSY if it must but a peer in it is alive. */
static int shm_seg_check(const unsigned char *base, uint64_t file_bytes, const struct shm_layout *l,
                         const struct shm_geom *g) {
        const struct shm_hdr *h = (const struct shm_hdr *)base;
        char boot_id[SHM_BOOT_ID_LEN + 4];
        bool same_boot;

        if (file_bytes < sizeof(struct shm_hdr))
                return 0;
        if (h->magic != SHM_MAGIC || h->version != SHM_VERSION || h->hdr_bytes != sizeof(struct shm_hdr))
                return 0; /* not ours (or another version): nothing to trust */
        if (atomic_load_explicit(&((struct shm_hdr *)h)->init_done, memory_order_acquire) != SHM_INIT_DONE)
                return 0; /* its initialiser died (we hold the lock now) */
        shm_boot_id(boot_id);
        same_boot = !boot_id[0] || !h->boot_id[0] || memcmp(boot_id, h->boot_id, SHM_BOOT_ID_LEN) == 0;
        if (!same_boot)
                return 0; /* every process recorded in it is gone */

        if (memcmp(&h->layout, l, sizeof(*l)) == 0 && h->npeers == g->npeers && h->peers_off == g->peers_off &&
            h->peer_stride == g->peer_stride && h->rings_off == g->rings_off && h->ring_stride == g->ring_stride &&
            h->nrings == g->nrings && h->snap_off == g->snap_off && h->snap_buf_stride == g->snap_buf_stride &&
            h->total_bytes == g->total_bytes && file_bytes == g->total_bytes) {
                if (shm_seg_rings_valid((unsigned char *)base, g))
                        return 1;
                /* A corrupt ring: start over, unless someone still uses it. */
        }

        /* Different layout (or corrupt): reinitialise only if nobody uses it. */
        if (h->peer_stride < sizeof(struct shm_peer) || h->npeers > SHM_PEER_NKINDS + SHM_MAX_WORKERS ||
            h->peers_off > file_bytes || (file_bytes - h->peers_off) / h->peer_stride < h->npeers)
                return 0; /* peer table unreadable: treat as garbage */
        for (uint32_t i = 0; i < h->npeers; i++) {
                const struct shm_peer *p = (const struct shm_peer *)(base + h->peers_off + i * h->peer_stride);

                if (shm_peer_alive(p, 0))
                        return -EBUSY;
        }
        return 0;
}

static int shm_seg_init(unsigned char *base, const struct shm_layout *l, const struct shm_geom *g) {
        struct shm_hdr *h = (struct shm_hdr *)base;
        int rc;

        for (uint64_t i = 0; i < g->nrings; i++) {
                rc = ring_init(base + g->rings_off + i * g->ring_stride, l->ring_bytes);
                if (rc < 0)
                        return rc;
        }
        /* Peer slots and the snapshot are all-zero from ftruncate. */
        h->magic = SHM_MAGIC;
        h->version = SHM_VERSION;
        h->hdr_bytes = sizeof(struct shm_hdr);
        h->layout = *l;
        h->npeers = g->npeers;
        h->peers_off = g->peers_off;
        h->peer_stride = g->peer_stride;
        h->rings_off = g->rings_off;
        h->ring_stride = g->ring_stride;
        h->nrings = g->nrings;
        h->snap_off = g->snap_off;
        h->snap_buf_stride = g->snap_buf_stride;
        h->total_bytes = g->total_bytes;
        shm_boot_id(h->boot_id);
        h->creator_pid = (uint32_t)getpid();
        /* Release: everything above is written before the flag; pairs with
         * the acquire load in shm_seg_check() of the next opener. */
        atomic_store_explicit(&h->init_done, SHM_INIT_DONE, memory_order_release);
        return 0;
}

/* The "in use" lock: type F_RDLCK (held while open) or F_WRLCK (taken,
 * without waiting, to reinitialise). Returns 0, -EBUSY if someone else
 * holds a conflicting lock, 1 if the kernel has no OFD locks (< 3.15). */
static int shm_use_lock(int fd, short type) {
        struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };

        if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
                return 0;
        if (errno == EAGAIN || errno == EACCES)
                return -EBUSY;
        if (errno == EINVAL)
                return 1;
        return -errno;
}

static int shm_flock(int fd, int op) {
        while (flock(fd, op) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

int shm_seg_open(const char *path, const struct shm_layout *layout, struct shm_seg **ret_seg) {
        struct shm_seg *seg = NULL;
        unsigned char *base = MAP_FAILED;
        struct shm_geom g;
        struct stat st;
        int fd = -1, rc, keep;

        if (!path || !ret_seg)
                return -EINVAL;
        rc = shm_layout_valid(layout);
        if (rc < 0)
                return rc;
        shm_geom_compute(layout, &g);
        if (g.total_bytes > (uint64_t)SIZE_MAX / 2)
                return -EFBIG;

        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        rc = shm_flock(fd, LOCK_EX);
        if (rc < 0)
                goto out;
        if (fstat(fd, &st) < 0) {
                rc = -errno;
                goto out;
        }
        if (!S_ISREG(st.st_mode)) {
                rc = -ENOTSUP;
                goto out;
        }

        keep = 0;
        if (st.st_size > 0) {
                unsigned char *old = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);

                if (old == MAP_FAILED) {
                        rc = -errno;
                        goto out;
                }
                keep = shm_seg_check(old, (uint64_t)st.st_size, layout, &g);
                munmap(old, (size_t)st.st_size);
                if (keep < 0) {
                        rc = keep;
                        goto out;
                }
        }

        if (!keep) {
                /* Nobody may have it open (or mapped) while we rebuild it. */
                rc = shm_use_lock(fd, F_WRLCK);
                if (rc < 0)
                        goto out;
                /* Truncating to 0 first zeroes everything (peer slots,
                 * snapshot); fallocate reserves the pages so a full tmpfs
                 * fails here and not with SIGBUS on first touch. */
                if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)g.total_bytes) < 0) {
                        rc = -errno;
                        goto out;
                }
                rc = posix_fallocate(fd, 0, (off_t)g.total_bytes);
                if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
                        rc = -rc;
                        goto out;
                }
        }

        base = mmap(NULL, (size_t)g.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (base == MAP_FAILED) {
                rc = -errno;
                goto out;
        }
        if (keep) {
                rc = shm_seg_attach_rings(base, &g);
                if (rc < 0)
                        goto out; /* corrupted between our check and now: -EBADMSG */
        } else {
                rc = shm_seg_init(base, layout, &g);
                if (rc < 0)
                        goto out;
        }

        /* Shared from now until shm_seg_close() (downgrades our F_WRLCK). */
        rc = shm_use_lock(fd, F_RDLCK);
        if (rc < 0)
                goto out;

        seg = calloc(1, sizeof(*seg));
        if (!seg) {
                rc = -ENOMEM;
                goto out;
        }
        shm_flock(fd, LOCK_UN);
        seg->fd = fd;
        fd = -1;
        seg->base = base;
        seg->map_bytes = (size_t)g.total_bytes;
        seg->layout = *layout;
        seg->hdr = (struct shm_hdr *)base;
        seg->snap = (struct shm_snap *)(base + g.snap_off);
        base = MAP_FAILED;
        *ret_seg = seg;
        rc = 0;
out:
        if (base != MAP_FAILED)
                munmap(base, (size_t)g.total_bytes);
        if (fd >= 0) {
                /* unlock explicitly: the mapping keeps the open file
                 * description, and with it the flock, alive after close */
                flock(fd, LOCK_UN);
                close(fd);
        }
        return rc;
}

void shm_seg_close(struct shm_seg *seg) {
        if (!seg)
                return;
        munmap(seg->base, seg->map_bytes);
        close(seg->fd); /* drops the in-use lock */
        free(seg);
}

const struct shm_layout *shm_seg_layout(const struct shm_seg *seg) {
        return &seg->layout;
}

struct ring *shm_seg_ring(struct shm_seg *seg, uint32_t worker, enum shm_peer_kind peer, enum shm_dir dir) {
        uint64_t idx;

        if (!seg || worker >= seg->layout.max_workers || (unsigned)peer >= SHM_PEER_NKINDS ||
            (dir != SHM_TO_PEER && dir != SHM_FROM_PEER))
                return NULL;
        idx = ((uint64_t)worker * SHM_PEER_NKINDS + (uint64_t)peer) * 2 + (uint64_t)dir;
        return (struct ring *)(seg->base + seg->hdr->rings_off + idx * seg->hdr->ring_stride);
}

struct shm_peer *shm_seg_peer(struct shm_seg *seg, enum shm_peer_kind peer) {
        if (!seg || (unsigned)peer >= SHM_PEER_NKINDS)
                return NULL;
        return (struct shm_peer *)(seg->base + seg->hdr->peers_off + (uint64_t)peer * seg->hdr->peer_stride);
}

struct shm_peer *shm_seg_worker(struct shm_seg *seg, uint32_t worker) {
        if (!seg || worker >= seg->layout.max_workers)
                return NULL;
        return (struct shm_peer *)(seg->base + seg->hdr->peers_off +
                                   (uint64_t)(SHM_PEER_NKINDS + worker) * seg->hdr->peer_stride);
}

static unsigned char *shm_snap_data(struct shm_seg *seg, unsigned b) {
        return seg->snap->data + (uint64_t)b * seg->hdr->snap_buf_stride;
}

/* Word-wise relaxed atomic copies; dst/src in the segment are 8-aligned and
 * padded to 64 bytes, so the last partial word may be copied whole there. */
static void shm_snap_copy_in(unsigned char *dst, const unsigned char *src, uint32_t len) {
        uint64_t w;
        uint32_t i;

        for (i = 0; i + 8 <= len; i += 8) {
                memcpy(&w, src + i, 8);
                __atomic_store_n((uint64_t *)(void *)(dst + i), w, __ATOMIC_RELAXED);
        }
        if (i < len) {
                w = 0;
                memcpy(&w, src + i, len - i);
                __atomic_store_n((uint64_t *)(void *)(dst + i), w, __ATOMIC_RELAXED);
        }
}

static void shm_snap_copy_out(unsigned char *dst, const unsigned char *src, uint32_t len) {
        uint64_t w;
        uint32_t i;

        for (i = 0; i + 8 <= len; i += 8) {
                w = __atomic_load_n((const uint64_t *)(const void *)(src + i), __ATOMIC_RELAXED);
                memcpy(dst + i, &w, 8);
        }
        if (i < len) {
                w = __atomic_load_n((const uint64_t *)(const void *)(src + i), __ATOMIC_RELAXED);
                memcpy(dst + i, &w, len - i);
        }
}

int shm_snap_publish(struct shm_seg *seg, const void *data, uint32_t len) {
        struct shm_snap *s;
        struct shm_snap_buf *b;
        uint64_t v, seq;

        if (!seg || (len && !data))
                return -EINVAL;
        if (len > seg->layout.snap_bytes)
                return -EMSGSIZE;
        s = seg->snap;
        v = atomic_load_explicit(&s->version, memory_order_relaxed) + 1; /* single writer */
        b = &s->buf[v & 1];

        /* Begin: make the counter odd. A writer that died mid-copy left it
         * odd already; (seq + 1) | 1 is odd and newer either way. */
        seq = (atomic_load_explicit(&b->seq, memory_order_relaxed) + 1) | 1;
        atomic_store_explicit(&b->seq, seq, memory_order_relaxed);
        /* Release fence: the odd counter is ordered before the data stores;
         * pairs with the reader's acquire fence before its second load of
         * seq, so a reader that saw any of our data sees the counter moved. */
        atomic_thread_fence(memory_order_release);
        shm_snap_copy_in(shm_snap_data(seg, v & 1), data, len);
        atomic_store_explicit(&b->len, len, memory_order_relaxed);
        atomic_store_explicit(&b->version, v, memory_order_relaxed);
        /* End: release store of the even counter; pairs with the reader's
         * first, acquire load of seq (data and len are complete). */
        atomic_store_explicit(&b->seq, seq + 1, memory_order_release);
        /* Release: pairs with the acquire load of version in
         * shm_snap_read()/shm_snap_version(); the buffer is complete. */
        atomic_store_explicit(&s->version, v, memory_order_release);
        return 0;
}

int shm_snap_read(struct shm_seg *seg, void *buf, uint32_t cap, uint32_t *ret_len, uint64_t *ret_version) {
        struct shm_snap *s;
        struct shm_snap_buf *b;
        uint64_t v, s1, s2, bv;
        uint32_t len;

        if (!seg)
                return -EINVAL;
        s = seg->snap;
        for (int tries = 0; tries < SHM_SNAP_MAX_TRIES; tries++) {
                /* Acquire: pairs with the release store of version in
                 * shm_snap_publish(). */
                v = atomic_load_explicit(&s->version, memory_order_acquire);
                if (v == 0)
                        return -EAGAIN;
                b = &s->buf[v & 1];
                /* Acquire: pairs with the writer's release store of the even
                 * counter at the end of shm_snap_publish(). */
                s1 = atomic_load_explicit(&b->seq, memory_order_acquire);
                if (s1 & 1) {
                        if (tries > 16)
                                sched_yield();
                        continue; /* the writer lapped us and is rewriting it */
                }
                len = atomic_load_explicit(&b->len, memory_order_relaxed);
                bv = atomic_load_explicit(&b->version, memory_order_relaxed);
                if (len <= seg->layout.snap_bytes && len <= cap && (len == 0 || buf))
                        shm_snap_copy_out(buf, shm_snap_data(seg, v & 1), len);
                /* Acquire fence: pairs with the writer's release fence after
                 * making the counter odd; if we read any newer data, s2 sees
                 * the newer counter. */
                atomic_thread_fence(memory_order_acquire);
                s2 = atomic_load_explicit(&b->seq, memory_order_relaxed);
                if (s1 != s2)
                        continue;
                if (len > seg->layout.snap_bytes)
                        return -EBADMSG;
                if (len > cap)
                        return -ENOBUFS;
                if (len && !buf)
                        return -EINVAL;
                if (ret_len)
                        *ret_len = len;
                if (ret_version)
                        *ret_version = bv;
                return 0;
        }
        return -EBUSY;
}

uint64_t shm_snap_version(struct shm_seg *seg) {
        /* Acquire: pairs with the release store in shm_snap_publish(). */
        return atomic_load_explicit(&seg->snap->version, memory_order_acquire);
}
