/* What the eBPF programs (*.bpf.c) and their loader (probes.c) share: the
 * histogram layout in the maps, the request stages, the trace event. */
#pragma once
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* log2 histograms of nanoseconds: slot i counts values in [2^i, 2^(i+1))
 * ns (slot 0 also counts 0); the last slot everything from 2^39 ns (9 min). */
#define SY_HIST_SLOTS 40

struct sy_hist {
        __u64 slots[SY_HIST_SLOTS];
        __u64 sum; /* ns */
        __u64 count;
        __u64 max;       /* ns, the largest value added in epoch max_epoch */
        __u64 max_epoch; /* the loader's interval (sy_epoch) max is of */
};

/* The request stages, each the time from the previous marker of the request
 * to the one that ends it (docs/probes.md): */
enum sy_stage {
        SY_ST_ACCEPT,           /* accepted -> request (first request of a connection) */
        SY_ST_PARSE,            /* request (head in) -> parsed (body in, JSON parsed) */
        SY_ST_ENQUEUE,          /* -> enqueued on the classifier's or the router's ring */
        SY_ST_CLASSIFY,         /* enqueued -> classified (ring + classifier) */
        SY_ST_PICK,             /* -> picked (ring + router, or a local pick) */
        SY_ST_UPSTREAM_CONNECT, /* picked -> upstream connected (~0 on a pooled connection) */
        SY_ST_UPSTREAM_FIRST,   /* connected -> the upstream's response head (send + time to first token) */
        SY_ST_CLIENT_FIRST,     /* upstream head -> first write to the client done */
        SY_ST_DONE,             /* first client write -> the response written in full */
        SY_ST_TOTAL,            /* request -> done */
        SY_NSTAGES,
};

/* The markers (common/usdt.h names), in the order a request fires them. */
enum sy_mark {
        SY_M_ACCEPTED,
        SY_M_REQUEST,
        SY_M_PARSED,
        SY_M_ENQUEUED,
        SY_M_CLASSIFIED,
        SY_M_PICKED,
        SY_M_UPSTREAM_CONNECTED,
        SY_M_UPSTREAM_FIRST_BYTE,
        SY_M_CLIENT_WRITE,
        SY_M_DONE,
        SY_NMARKS,
};

/* --trace: one per request done, only when the loader asks for them. */
struct sy_trace_event {
        __u32 tgid;
        __u32 seen; /* bit per enum sy_stage */
        __u64 conn, req;
        __u64 ns[SY_NSTAGES];
};

/* io_uring opcodes kept apart (the rest share the last one) */
#define SY_IOU_OPS 64

/* tcpconn.bpf.c: a destination, IPv4 as ::ffff:a.b.c.d */
struct sy_tcp_key {
        __u8 addr[16];
        __u16 port; /* host order */
        __u16 pad[3];
};
