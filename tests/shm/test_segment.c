/* Unit tests for shm/segment: creation, attach, layout changes, peer slots,
 * and the snapshot seqlock with a concurrent writer and reader. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/segment.h"
#include "shm-test.h"

static char dir[256], path[300];

static const struct shm_layout L1 = { .max_workers = 2, .ring_bytes = 8192, .snap_bytes = 4096 };
static const struct shm_layout L2 = { .max_workers = 3, .ring_bytes = 4096, .snap_bytes = 1000 };

/* A pid that surely is not running: a reaped child's. */
static uint32_t dead_pid(void) {
        pid_t pid = fork();

        check(pid >= 0);
        if (pid == 0)
                _exit(0);
        check(waitpid(pid, NULL, 0) == pid);
        return (uint32_t)pid;
}

static void mark_all_dead(struct shm_seg *seg) {
        const struct shm_layout *l = shm_seg_layout(seg);
        uint32_t pid = dead_pid();

        for (int k = 0; k < SHM_PEER_NKINDS; k++)
                if (atomic_load(&shm_seg_peer(seg, k)->pid))
                        atomic_store(&shm_seg_peer(seg, k)->pid, pid);
        for (uint32_t w = 0; w < l->max_workers; w++)
                if (atomic_load(&shm_seg_worker(seg, w)->pid))
                        atomic_store(&shm_seg_worker(seg, w)->pid, pid);
}

static void test_args(void) {
        struct shm_seg *seg = NULL;
        struct shm_layout bad;

        bad = L1;
        bad.ring_bytes = 5000;
        check_eq(shm_seg_open(path, &bad, &seg), -EINVAL);
        bad = L1;
        bad.ring_bytes = 2048;
        check_eq(shm_seg_open(path, &bad, &seg), -EINVAL);
        bad = L1;
        bad.max_workers = 0;
        check_eq(shm_seg_open(path, &bad, &seg), -EINVAL);
        check_eq(shm_seg_open(path, NULL, &seg), -EINVAL);
        check(seg == NULL);
        check_eq(shm_seg_open("/nonexistent-dir/x/seg", &L1, &seg), -ENOENT);
        shm_seg_close(NULL);
}

static void test_create_attach(void) {
        struct shm_seg *a = NULL, *b = NULL;
        struct ring *ra, *rb;
        char out[64];
        uint32_t len = 0;
        uint16_t type = 0;

        check_eq(shm_seg_open(path, &L1, &a), 0);
        check(a != NULL);
        check(memcmp(shm_seg_layout(a), &L1, sizeof(L1)) == 0);

        /* every ring distinct and empty, out-of-range ones NULL */
        for (uint32_t w = 0; w < L1.max_workers; w++)
                for (int k = 0; k < SHM_PEER_NKINDS; k++)
                        for (int d = 0; d < 2; d++) {
                                ra = shm_seg_ring(a, w, k, d);
                                check(ra != NULL);
                                check(ring_sc_empty(ra));
                                check_eq(ring_max_msg(ra), L1.ring_bytes / 4);
                                for (uint32_t w2 = 0; w2 < L1.max_workers; w2++)
                                        for (int k2 = 0; k2 < SHM_PEER_NKINDS; k2++)
                                                for (int d2 = 0; d2 < 2; d2++)
                                                        if (w2 != w || k2 != k || d2 != d)
                                                                check(shm_seg_ring(a, w2, k2, d2) != ra);
                        }
        check(shm_seg_ring(a, L1.max_workers, SHM_PEER_ROUTER, SHM_TO_PEER) == NULL);
        check(shm_seg_ring(a, 0, SHM_PEER_NKINDS, SHM_TO_PEER) == NULL);
        check(shm_seg_peer(a, SHM_PEER_NKINDS) == NULL);
        check(shm_seg_worker(a, L1.max_workers) == NULL);
        check(shm_seg_peer(a, SHM_PEER_ROUTER) != shm_seg_peer(a, SHM_PEER_CLASSIFIER));
        check(shm_seg_worker(a, 0) != shm_seg_worker(a, 1));
        check(shm_seg_worker(a, 0) != shm_seg_peer(a, SHM_PEER_CLASSIFIER));

        /* a second mapping sees the same memory */
        check_eq(shm_seg_open(path, &L1, &b), 0);
        ra = shm_seg_ring(a, 1, SHM_PEER_CLASSIFIER, SHM_FROM_PEER);
        rb = shm_seg_ring(b, 1, SHM_PEER_CLASSIFIER, SHM_FROM_PEER);
        check(ra != rb);
        check_eq(ring_sp_push(ra, 5, "across mappings", 15), 0);
        check_eq(ring_sc_pop(rb, &type, out, sizeof(out), &len), 0);
        check_eq(type, 5);
        check_eq(len, 15);
        check(memcmp(out, "across mappings", 15) == 0);
        check(ring_sc_empty(ra));

        /* messages survive close and reopen (same layout) */
        check_eq(ring_sp_push(ra, 6, "kept", 4), 0);
        shm_seg_close(a);
        shm_seg_close(b);
        check_eq(shm_seg_open(path, &L1, &a), 0);
        ra = shm_seg_ring(a, 1, SHM_PEER_CLASSIFIER, SHM_FROM_PEER);
        check_eq(ring_sc_pop(ra, &type, out, sizeof(out), &len), 0);
        check_eq(type, 6);
        check(len == 4 && memcmp(out, "kept", 4) == 0);
        shm_seg_close(a);
}

static void test_peers(void) {
        struct shm_seg *a = NULL, *b = NULL;
        struct shm_peer *p, *q;
        uint64_t now;

        check_eq(shm_seg_open(path, &L1, &a), 0);
        check_eq(shm_seg_open(path, &L1, &b), 0);
        p = shm_seg_peer(a, SHM_PEER_CLASSIFIER);
        q = shm_seg_peer(b, SHM_PEER_CLASSIFIER);
        check(!shm_peer_alive(p, 0)); /* never attached */
        check(!shm_peer_alive(NULL, 0));

        check_eq(shm_peer_attach(p), 1);
        check_eq(atomic_load(&q->pid), (uint32_t)getpid());
        check_eq(atomic_load(&q->generation), 1);
        check_eq(shm_peer_attach(q), 2);
        check_eq(atomic_load(&p->generation), 2);
        check(shm_peer_alive(q, 0));
        check(shm_peer_alive(q, 1000000000ull));

        /* stale heartbeat: alive by pid, not by age */
        now = shm_now_ns();
        check(now > 0 && shm_now_ns() >= now);
        atomic_store(&p->heartbeat_ns, now - 10000000000ull);
        check(shm_peer_alive(q, 0));
        check(!shm_peer_alive(q, 1000000000ull));
        shm_peer_heartbeat(p);
        check(shm_peer_alive(q, 1000000000ull));
        check(atomic_load(&q->heartbeat_ns) >= now);

        /* a dead pid */
        atomic_store(&p->pid, dead_pid());
        check(!shm_peer_alive(q, 0));

        /* a worker slot, in a child process: generation counts attaches */
        pid_t pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                struct shm_seg *c = NULL;

                if (shm_seg_open(path, &L1, &c) < 0)
                        _exit(1);
                _exit(shm_peer_attach(shm_seg_worker(c, 1)) == 1 ? 0 : 2);
        }
        int status;
        check(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
        check_eq(WEXITSTATUS(status), 0);
        check_eq(atomic_load(&shm_seg_worker(a, 1)->pid), (uint32_t)pid);
        check(!shm_peer_alive(shm_seg_worker(a, 1), 0)); /* exited */
        check(!shm_peer_alive(shm_seg_worker(a, 0), 0));
        shm_seg_close(a);
        shm_seg_close(b);
}

static void test_layout_change(void) {
        struct shm_seg *a = NULL, *b = NULL;
        struct ring *r;

        check_eq(shm_seg_open(path, &L1, &a), 0);
        check_eq(ring_sp_push(shm_seg_ring(a, 0, SHM_PEER_ROUTER, SHM_TO_PEER), 1, "x", 1), 0);
        /* a live peer (us) in the router slot: the layout cannot change */
        shm_peer_attach(shm_seg_peer(a, SHM_PEER_ROUTER));
        check_eq(shm_seg_open(path, &L2, &b), -EBUSY);
        check(b == NULL);
        /* the same layout still opens, contents intact */
        check_eq(shm_seg_open(path, &L1, &b), 0);
        check(!ring_sc_empty(shm_seg_ring(b, 0, SHM_PEER_ROUTER, SHM_TO_PEER)));
        shm_seg_close(b);
        b = NULL;

        /* every peer recorded in it is dead, but it is still open (mapped)
         * here: still -EBUSY, it must not be truncated under a mapping */
        mark_all_dead(a);
        check_eq(shm_seg_open(path, &L2, &b), -EBUSY);
        pid_t pid = fork();
        check(pid >= 0);
        if (pid == 0) {
                struct shm_seg *c = NULL;

                _exit(shm_seg_open(path, &L2, &c) == -EBUSY ? 0 : 1);
        }
        int status;
        check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);

        /* closed by everyone: the new layout wins, fresh rings */
        shm_seg_close(a);
        check_eq(shm_seg_open(path, &L2, &b), 0);
        check(memcmp(shm_seg_layout(b), &L2, sizeof(L2)) == 0);
        r = shm_seg_ring(b, 2, SHM_PEER_CLASSIFIER, SHM_FROM_PEER);
        check(r != NULL && ring_sc_empty(r));
        check(ring_sc_empty(shm_seg_ring(b, 0, SHM_PEER_ROUTER, SHM_TO_PEER)));
        check_eq(ring_max_msg(r), 1024);
        check_eq(atomic_load(&shm_seg_peer(b, SHM_PEER_ROUTER)->pid), 0);
        check_eq(shm_snap_read(b, NULL, 0, NULL, NULL), -EAGAIN);
        {
                struct stat st;

                check(stat(path, &st) == 0 && st.st_size > 0 && (st.st_mode & 0777) == 0600);
        }
        shm_seg_close(b);

        /* garbage in the file: reinitialised */
        {
                int fd = open(path, O_WRONLY);
                char junk[8192];

                check(fd >= 0);
                memset(junk, 0x5a, sizeof(junk));
                check(pwrite(fd, junk, sizeof(junk), 0) == (ssize_t)sizeof(junk));
                close(fd);
        }
        check_eq(shm_seg_open(path, &L1, &a), 0);
        check(ring_sc_empty(shm_seg_ring(a, 0, SHM_PEER_ROUTER, SHM_TO_PEER)));
        shm_seg_close(a);

        /* a short file (a creator that died before sizing it) */
        check(truncate(path, 10) == 0);
        check_eq(shm_seg_open(path, &L1, &a), 0);
        shm_seg_close(a);

        /* a corrupt ring with nobody alive: reinitialised as well */
        check_eq(shm_seg_open(path, &L1, &a), 0);
        r = shm_seg_ring(a, 1, SHM_PEER_ROUTER, SHM_FROM_PEER);
        check_eq(ring_sp_push(r, 1, "y", 1), 0);
        memset(r, 0, 8); /* its magic */
        shm_seg_close(a);
        check_eq(shm_seg_open(path, &L1, &a), 0);
        r = shm_seg_ring(a, 1, SHM_PEER_ROUTER, SHM_FROM_PEER);
        check(ring_sc_empty(r));
        /* ... but not under a live peer */
        shm_peer_attach(shm_seg_worker(a, 0));
        memset(r, 0, 8);
        check_eq(shm_seg_open(path, &L1, &b), -EBUSY);
        mark_all_dead(a);
        shm_seg_close(a);
        check_eq(shm_seg_open(path, &L1, &a), 0);
        shm_seg_close(a);
}

static void test_snapshot_basic(void) {
        struct shm_seg *a = NULL, *b = NULL;
        char buf[4096];
        uint32_t len = 0;
        uint64_t ver = 0;
        static char big[5000];

        check_eq(shm_seg_open(path, &L1, &a), 0);
        check_eq(shm_seg_open(path, &L1, &b), 0);
        check_eq(shm_snap_version(b), 0);
        check_eq(shm_snap_read(b, buf, sizeof(buf), &len, &ver), -EAGAIN);
        check_eq(shm_snap_publish(a, big, L1.snap_bytes + 1), -EMSGSIZE);
        check_eq(shm_snap_publish(a, "one", 3), 0);
        check_eq(shm_snap_version(b), 1);
        check_eq(shm_snap_read(b, buf, sizeof(buf), &len, &ver), 0);
        check(len == 3 && ver == 1 && memcmp(buf, "one", 3) == 0);
        check_eq(shm_snap_publish(a, "second!", 7), 0);
        check_eq(shm_snap_version(b), 2);
        len = 99;
        check_eq(shm_snap_read(b, buf, 6, &len, &ver), -ENOBUFS);
        check_eq(len, 99);
        check_eq(shm_snap_read(b, buf, 7, &len, &ver), 0);
        check(len == 7 && ver == 2 && memcmp(buf, "second!", 7) == 0);
        check_eq(shm_snap_publish(a, NULL, 0), 0);
        check_eq(shm_snap_read(b, buf, sizeof(buf), &len, &ver), 0);
        check(len == 0 && ver == 3);
        memset(big, 'z', sizeof(big));
        check_eq(shm_snap_publish(a, big, L1.snap_bytes), 0);
        check_eq(shm_snap_read(b, buf, sizeof(buf), &len, &ver), 0);
        check(len == L1.snap_bytes && ver == 4 && memcmp(buf, big, len) == 0);
        shm_seg_close(a);
        /* survives reopening (same layout) */
        check_eq(shm_seg_open(path, &L1, &a), 0);
        check_eq(shm_snap_version(a), 4);
        shm_seg_close(a);
        shm_seg_close(b);
}

/* One writer thread, one reader thread, each with its own mapping. Every
 * snapshot is {version, len, checksum} + a pattern derived from version; a
 * torn read shows up as a bad checksum, a wrong length or a step back. */
struct snap_thr {
        struct shm_seg *seg;
        uint64_t n;
        _Atomic bool done;
        uint64_t reads, distinct;
        const char *fail;
};

struct snap_hdr {
        uint64_t version;
        uint32_t len;
        uint32_t sum;
};

static void *snap_writer(void *arg) {
        struct snap_thr *t = arg;
        uint32_t cap = shm_seg_layout(t->seg)->snap_bytes;
        unsigned char *buf = malloc(cap);

        for (uint64_t v = 1; v <= t->n; v++) {
                struct snap_hdr h = { .version = v };

                h.len = sizeof(h) + (uint32_t)(test_mix(v) % (cap - sizeof(h) + 1));
                test_fill(buf + sizeof(h), h.len - sizeof(h), v);
                h.sum = test_fnv1a(buf + sizeof(h), h.len - sizeof(h));
                memcpy(buf, &h, sizeof(h));
                if (shm_snap_publish(t->seg, buf, h.len) != 0) {
                        t->fail = "publish failed";
                        break;
                }
        }
        atomic_store(&t->done, true);
        free(buf);
        return NULL;
}

static void *snap_reader(void *arg) {
        struct snap_thr *t = arg;
        uint32_t cap = shm_seg_layout(t->seg)->snap_bytes;
        unsigned char *buf = malloc(cap);
        uint64_t last = 0;

        for (;;) {
                bool done = atomic_load(&t->done);
                struct snap_hdr h;
                uint32_t len;
                uint64_t ver;
                int rc = shm_snap_read(t->seg, buf, cap, &len, &ver);

                if (rc == -EAGAIN && !done)
                        continue;
                if (rc != 0) {
                        t->fail = "read failed";
                        break;
                }
                t->reads++;
                memcpy(&h, buf, sizeof(h));
                if (len < sizeof(h) || h.len != len || h.version != ver ||
                    h.sum != test_fnv1a(buf + sizeof(h), len - sizeof(h))) {
                        t->fail = "torn snapshot (length, version or checksum)";
                        break;
                }
                if (ver < last) {
                        t->fail = "snapshot version went back";
                        break;
                }
                if (ver != last)
                        t->distinct++;
                last = ver;
                if (done && ver == t->n)
                        break;
        }
        free(buf);
        return NULL;
}

static void test_snapshot_concurrent(void) {
        struct snap_thr w = { .n = 200000 }, r = { .n = 200000 };
        struct shm_seg *a = NULL, *b = NULL;
        pthread_t wt, rt;

        /* fresh segment, so versions start at 1 */
        unlink(path);
        check_eq(shm_seg_open(path, &L1, &a), 0);
        check_eq(shm_seg_open(path, &L1, &b), 0);
        w.seg = a;
        r.seg = b;
        check(pthread_create(&rt, NULL, snap_reader, &r) == 0);
        check(pthread_create(&wt, NULL, snap_writer, &w) == 0);
        pthread_join(wt, NULL);
        atomic_store(&r.done, true);
        pthread_join(rt, NULL);
        if (w.fail || r.fail) {
                fprintf(stderr, "snapshot: %s\n", w.fail ? w.fail : r.fail);
                exit(1);
        }
        check(r.reads > 0);
        printf("snapshot: %llu publishes, %llu reads, %llu distinct versions seen\n", (unsigned long long)w.n,
               (unsigned long long)r.reads, (unsigned long long)r.distinct);
        shm_seg_close(a);
        shm_seg_close(b);
}

int main(void) {
        test_tmpdir(dir, sizeof(dir));
        snprintf(path, sizeof(path), "%s/seg", dir);
        test_args();
        test_create_attach();
        test_peers();
        test_layout_change();
        test_snapshot_basic();
        test_snapshot_concurrent();
        printf("segment: ok\n");
        return 0;
}
