// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Request stages from the frontend's USDT markers (common/usdt.h): each
 * marker closes the stage since the request's previous marker; the
 * request's stage times are kept in a hash map keyed by process and
 * connection (one request at a time on a connection) and, when the request
 * is done, added to one log2 histogram per stage (a per-CPU array).
 * Nothing goes to userspace per request unless the loader sets trace
 * (--trace), then each done request is one ring buffer event. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>
#include "hist.bpf.h"

const volatile bool trace = false;

struct req_key {
        __u32 tgid;
        __u32 pad;
        __u64 conn;
};

struct req_state {
        __u64 req;      /* the request id (0: the connection has had none yet) */
        __u64 t_accept; /* accepted, until its first request */
        __u64 t_start;  /* the request marker */
        __u64 t_last;   /* the last marker taken */
        __u32 seen;     /* bit per enum sy_stage */
        __u32 pad;
        __u64 ns[SY_NSTAGES];
};

struct {
        __uint(type, BPF_MAP_TYPE_LRU_HASH);
        __uint(max_entries, 65536);
        __type(key, struct req_key);
        __type(value, struct req_state);
} reqs SEC(".maps");

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

/* markers seen, by enum sy_mark (whether they fitted a request or not) */
struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, SY_NMARKS);
        __type(key, __u32);
        __type(value, __u64);
} marks SEC(".maps");

static const struct req_state zero;

static __always_inline void count_mark(__u32 m) {
        __u64 *n = bpf_map_lookup_elem(&marks, &m);
        if (n)
                (*n)++;
}

static __always_inline int on_accepted(struct pt_regs *ctx) {
        struct req_key k = { .tgid = bpf_get_current_pid_tgid() >> 32 };
        struct req_state s = { .t_accept = bpf_ktime_get_ns() };
        long conn;

        if (bpf_usdt_arg(ctx, 0, &conn))
                return 0;
        k.conn = (__u64)conn;
        count_mark(SY_M_ACCEPTED);
        bpf_map_update_elem(&reqs, &k, &s, BPF_ANY);
        return 0;
}

static __always_inline int on_request(struct pt_regs *ctx) {
        struct req_key k = { .tgid = bpf_get_current_pid_tgid() >> 32 };
        __u64 now = bpf_ktime_get_ns(), t_accept = 0;
        struct req_state *s;
        long conn, req;

        if (bpf_usdt_arg(ctx, 0, &conn) || bpf_usdt_arg(ctx, 1, &req))
                return 0;
        k.conn = (__u64)conn;
        count_mark(SY_M_REQUEST);
        s = bpf_map_lookup_elem(&reqs, &k);
        if (s && s->req == 0)
                t_accept = s->t_accept;
        if (!s) {
                bpf_map_update_elem(&reqs, &k, &zero, BPF_ANY);
                s = bpf_map_lookup_elem(&reqs, &k);
                if (!s)
                        return 0;
        }
        __builtin_memset(s->ns, 0, sizeof s->ns);
        s->req = (__u64)req;
        s->t_accept = 0;
        s->t_start = s->t_last = now;
        s->seen = 0;
        if (t_accept && now >= t_accept) {
                s->ns[SY_ST_ACCEPT] = now - t_accept;
                s->seen = 1u << SY_ST_ACCEPT;
        }
        return 0;
}

static __always_inline void flush(struct req_key *k, struct req_state *s) {
#pragma unroll
        for (__u32 i = 0; i < SY_NSTAGES; i++) {
                __u32 key = i;
                struct sy_hist *h;

                if (!(s->seen & (1u << i)))
                        continue;
                h = bpf_map_lookup_elem(&stages, &key);
                if (h)
                        sy_hist_add(h, s->ns[i]);
        }
        if (trace) {
                struct sy_trace_event *e = bpf_ringbuf_reserve(&events, sizeof *e, 0);
                if (e) {
                        e->tgid = k->tgid;
                        e->seen = s->seen;
                        e->conn = k->conn;
                        e->req = s->req;
                        __builtin_memcpy(e->ns, s->ns, sizeof e->ns);
                        bpf_ringbuf_submit(e, 0);
                }
        }
}

/* Any marker after "request": closes stage st (SY_NSTAGES: none). */
static __always_inline int on_mark(struct pt_regs *ctx, __u32 m, __u32 st) {
        struct req_key k = { .tgid = bpf_get_current_pid_tgid() >> 32 };
        __u64 now = bpf_ktime_get_ns(), d;
        struct req_state *s;
        long conn, req;

        if (bpf_usdt_arg(ctx, 0, &conn) || bpf_usdt_arg(ctx, 1, &req))
                return 0;
        k.conn = (__u64)conn;
        s = bpf_map_lookup_elem(&reqs, &k);
        count_mark(m);
        if (!s || s->req != (__u64)req || !s->t_start)
                return 0;
        if (m == SY_M_CLIENT_WRITE) {
                /* only the first write after the upstream's head */
                if (!(s->seen & (1u << SY_ST_UPSTREAM_FIRST)) || (s->seen & (1u << SY_ST_CLIENT_FIRST)))
                        return 0;
        }
        d = now > s->t_last ? now - s->t_last : 0;
        s->t_last = now;
        if (st < SY_NSTAGES) {
                s->ns[st] += d;
                s->seen |= 1u << st;
        }
        if (m == SY_M_DONE) {
                /* only requests that went upstream: local answers have no stages */
                if (s->seen & (1u << SY_ST_PICK)) {
                        s->ns[SY_ST_TOTAL] = now - s->t_start;
                        s->seen |= 1u << SY_ST_TOTAL;
                        flush(&k, s);
                }
                bpf_map_delete_elem(&reqs, &k);
        }
        return 0;
}

SEC("usdt")
int BPF_USDT(accepted) {
        return on_accepted(ctx);
}
SEC("usdt")
int BPF_USDT(request) {
        return on_request(ctx);
}
SEC("usdt")
int BPF_USDT(parsed) {
        return on_mark(ctx, SY_M_PARSED, SY_ST_PARSE);
}
SEC("usdt")
int BPF_USDT(enqueued) {
        return on_mark(ctx, SY_M_ENQUEUED, SY_ST_ENQUEUE);
}
SEC("usdt")
int BPF_USDT(classified) {
        return on_mark(ctx, SY_M_CLASSIFIED, SY_ST_CLASSIFY);
}
SEC("usdt")
int BPF_USDT(picked) {
        return on_mark(ctx, SY_M_PICKED, SY_ST_PICK);
}
SEC("usdt")
int BPF_USDT(upstream_connected) {
        return on_mark(ctx, SY_M_UPSTREAM_CONNECTED, SY_ST_UPSTREAM_CONNECT);
}
SEC("usdt")
int BPF_USDT(upstream_first_byte) {
        return on_mark(ctx, SY_M_UPSTREAM_FIRST_BYTE, SY_ST_UPSTREAM_FIRST);
}
SEC("usdt")
int BPF_USDT(client_write) {
        return on_mark(ctx, SY_M_CLIENT_WRITE, SY_ST_CLIENT_FIRST);
}
SEC("usdt")
int BPF_USDT(done) {
        return on_mark(ctx, SY_M_DONE, SY_ST_DONE);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
