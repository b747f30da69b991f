// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* io_uring submit -> complete latency per opcode for the probed processes'
 * rings (tracepoints io_uring_submit_req and io_uring_complete; a request
 * is known by its struct io_kiocb). A multishot request counts its first
 * completion. A recv's time includes waiting for the peer to send. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "hist.bpf.h"
#include "targets.bpf.h"

struct submitted {
        __u64 ts;
        __u32 op;
        __u32 pad;
};

struct {
        __uint(type, BPF_MAP_TYPE_LRU_HASH);
        __uint(max_entries, 65536);
        __type(key, __u64);
        __type(value, struct submitted);
} inflight SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, SY_IOU_OPS);
        __type(key, __u32);
        __type(value, struct sy_hist);
} ops SEC(".maps");

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(iou_submit, struct io_kiocb *req) {
        struct submitted s = { .ts = bpf_ktime_get_ns() };
        __u64 k = (__u64)req;

        if (!current_is_target())
                return 0;
        s.op = req->opcode;
        if (s.op >= SY_IOU_OPS)
                s.op = SY_IOU_OPS - 1;
        bpf_map_update_elem(&inflight, &k, &s, BPF_ANY);
        return 0;
}

SEC("tp_btf/io_uring_complete")
int BPF_PROG(iou_complete, void *ctx_, void *req) {
        __u64 k = (__u64)req, now;
        struct submitted *s = bpf_map_lookup_elem(&inflight, &k);
        struct sy_hist *h;
        __u32 op;

        if (!s)
                return 0;
        now = bpf_ktime_get_ns();
        op = s->op;
        h = bpf_map_lookup_elem(&ops, &op);
        if (h && now > s->ts)
                sy_hist_add(h, now - s->ts);
        bpf_map_delete_elem(&inflight, &k);
        return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
