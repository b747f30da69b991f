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

/* enum sy_stage (the request stages) and struct sy_req_times: the frontend's side */
#include "common/usdt.h"

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
