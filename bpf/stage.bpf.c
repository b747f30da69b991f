// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Request stages from the frontend's USDT marker "done" (common/usdt.h): the
 * frontend keeps each request's stage times itself (struct sy_req_times,
 * plain stores) and passes their address as done's third argument; this
 * program reads them (bpf_probe_read_user) and adds each stage the request
 * went through to its log2 histogram (a per-CPU array). One trap per
 * request. Nothing goes to userspace per request unless the loader sets
 * trace (--trace), then each done request is one ring buffer event.
 *
 * The other markers (--markers, for debugging) are only counted. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>
#include "hist.bpf.h"

const volatile bool trace = false;

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, SY_NSTAGES);
        __type(key, __u32);
        __type(value, struct sy_hist);
} stages SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* markers seen, by enum sy_mark */
struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, SY_NMARKS);
        __type(key, __u32);
        __type(value, __u64);
} marks SEC(".maps");

/* done markers whose times could not be read or were of another version:
 * marks' last slot after SY_M_DONE is not there, so a map of its own */
struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, __u64);
} bad_times SEC(".maps");

static __always_inline void count(void *map, __u32 k) {
        __u64 *n = bpf_map_lookup_elem(map, &k);
        if (n)
                (*n)++;
}

static __always_inline int on_done(struct pt_regs *ctx) {
        struct sy_req_times t;
        long conn, req, ptr;

        count(&marks, SY_M_DONE);
        if (bpf_usdt_arg(ctx, 0, &conn) || bpf_usdt_arg(ctx, 1, &req) || bpf_usdt_arg(ctx, 2, &ptr) ||
            bpf_probe_read_user(&t, sizeof t, (const void *)ptr) || t.version != SY_REQ_TIMES_VERSION ||
            t.size != sizeof t) {
                count(&bad_times, 0);
                return 0;
        }
        /* only requests that went upstream: local answers have no stages */
        if (!(t.seen & (1u << SY_ST_PICK)))
                return 0;
#pragma unroll
        for (__u32 i = 0; i < SY_NSTAGES; i++) {
                __u32 key = i;
                struct sy_hist *h;

                if (!(t.seen & (1u << i)))
                        continue;
                h = bpf_map_lookup_elem(&stages, &key);
                if (h)
                        sy_hist_add(h, t.ns[i]);
        }
        if (trace) {
                struct sy_trace_event *e = bpf_ringbuf_reserve(&events, sizeof *e, 0);
                if (e) {
                        e->tgid = bpf_get_current_pid_tgid() >> 32;
                        e->seen = t.seen;
                        e->conn = (__u64)conn;
                        e->req = (__u64)req;
                        __builtin_memcpy(e->ns, t.ns, sizeof e->ns);
                        bpf_ringbuf_submit(e, 0);
                }
        }
        return 0;
}

#define COUNTER(name, m)          \
        SEC("usdt")               \
        int BPF_USDT(name) {      \
                count(&marks, m); \
                return 0;         \
        }

COUNTER(accepted, SY_M_ACCEPTED)
COUNTER(request, SY_M_REQUEST)
COUNTER(parsed, SY_M_PARSED)
COUNTER(enqueued, SY_M_ENQUEUED)
COUNTER(classified, SY_M_CLASSIFIED)
COUNTER(picked, SY_M_PICKED)
COUNTER(upstream_connected, SY_M_UPSTREAM_CONNECTED)
COUNTER(upstream_first_byte, SY_M_UPSTREAM_FIRST_BYTE)
COUNTER(client_write, SY_M_CLIENT_WRITE)

SEC("usdt")
int BPF_USDT(done) {
        return on_done(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
