/* libFuzzer target: the consumer side of the shared-memory rings
 * (shm/ring.c, included here for its layout) that carry the proto/msg.h
 * messages between the frontend workers, the router and the classifier. A
 * ring is memory another process writes: a crashed or hostile peer may
 * leave anything in it.
 *
 * Input: bytes 0-7 tail, 8-9 head - tail, 10-11 head - head_cache,
 * 12-13 tail - tail_cache (little-endian), 14: which consumer call
 * (peek/release or pop, per message); the rest is the data area (4096
 * bytes, zero-filled).
 *
 * Checks: attach or the consumer calls refuse a corrupt ring (-EBADMSG)
 * or hand out messages that lie inside the data area, at most max_msg
 * bytes; peek does not consume; pop copies exactly what peek showed; a consumer never moves tail past head;
 * after draining, a message pushed comes back the same (positions not
 * within two data areas of 2^64). */
#include "../../shm/ring.c"

#include "fuzz_common.h"

#define DATA 4096u

static uint64_t rd(const uint8_t *p, unsigned n) {
        uint64_t v = 0;
        for (unsigned i = 0; i < n; i++)
                v |= (uint64_t)p[i] << (8 * i);
        return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static unsigned char *mem;
        static unsigned char buf[DATA];
        struct ring *r;
        uint64_t tail, head;

        if (size < 15)
                return 0;
        if (!mem)
                mem = aligned_alloc(64, ring_mem_size(DATA));
        FUZZ_CHECK(ring_init(mem, DATA) == 0);
        r = (struct ring *)mem;
        tail = rd(data, 8);
        head = tail + rd(data + 8, 2);
        atomic_store(&r->tail, tail);
        atomic_store(&r->head, head);
        atomic_store(&r->head_cache, head - rd(data + 10, 2));
        atomic_store(&r->tail_cache, tail - rd(data + 12, 2));
        memset(r->data, 0, DATA);
        memcpy(r->data, data + 15, size - 15 < DATA ? size - 15 : DATA);

        struct ring *rr;
        if (ring_attach(mem, ring_mem_size(DATA), &rr) < 0)
                return 0;
        FUZZ_CHECK(rr == r);
        for (int k = 0; k < 600; k++) {
                uint16_t type;
                const void *msg;
                uint32_t len;
                uint64_t t0 = atomic_load(&r->tail);
                int rc;

                rc = ring_sc_peek(r, &type, &msg, &len);
                if (rc == 0) {
                        const unsigned char *m = msg;
                        FUZZ_CHECK(len <= ring_max_msg(r));
                        FUZZ_CHECK(m >= r->data && m + len <= r->data + DATA);
                        FUZZ_CHECK(atomic_load(&r->tail) == t0); /* peek does not consume */
                }
                if (rc == 0 && ((data[14] >> (k & 7)) & 1)) {
                        uint16_t type2;
                        uint32_t len2;
                        FUZZ_CHECK(ring_sc_pop(r, &type2, buf, sizeof buf, &len2) == 0);
                        FUZZ_CHECK(type2 == type && len2 == len && memcmp(buf, msg, len) == 0);
                } else if (rc == 0) {
                        ring_sc_release(r);
                }
                FUZZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EBADMSG);
                FUZZ_CHECK(atomic_load(&r->tail) <= atomic_load(&r->head));
                if (rc == 0)
                        FUZZ_CHECK(atomic_load(&r->tail) > t0);
                else
                        FUZZ_CHECK(atomic_load(&r->tail) == t0);
                if (rc == -EAGAIN) {
                        /* drained: the ring works from here */
                        uint32_t n = (uint32_t)(size % 700);
                        FUZZ_CHECK(ring_sc_empty(r));
                        /* positions are free-running and never reach 2^64 in
                         * practice: near it, a push wraps head (then refused) */
                        if (atomic_load(&r->head) < UINT64_MAX - 2 * DATA && ring_sp_push(r, 7, data, n) == 0) {
                                FUZZ_CHECK(ring_sc_pop(r, &type, buf, sizeof buf, &len) == 0);
                                FUZZ_CHECK(type == 7 && len == n && memcmp(buf, data, n) == 0);
                        }
                        break;
                }
                if (rc < 0)
                        break;
        }
        return 0;
}
