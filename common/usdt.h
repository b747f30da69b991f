/* USDT markers: static probe points that eBPF (bpf/stage.bpf.c, `switchyard
 * probes`) or any USDT consumer (bpftrace, perf, SystemTap) can attach to,
 * provider "switchyard". A marker is a single nop in the code and a note in
 * the ELF (.note.stapsdt) when nothing is attached; no semaphore, so the
 * arguments are computed always (keep them to plain loads).
 *
 * SY_MARK(name, conn_id, req_id): conn_id says which connection (the frontend
 * passes its struct conn's address), req_id which request on it (a per-worker
 * counter; 0 before the first request of a connection). The markers and their
 * order are listed in docs/probes.md.
 *
 * Each attached marker costs a trap (a uprobe) per hit, so the frontend also
 * keeps each request's stage times itself in a struct sy_req_times (below,
 * plain stores and a clock read per stage) and hands its address to the one
 * marker the probes attach by default: SY_MARK_DONE(conn_id, req_id, times),
 * marker "done" with a third argument, fired when the response is written.
 *
 * Without <sys/sdt.h> (HAVE_SDT undefined: Debian's systemtap-sdt-dev is
 * absent) the markers compile to nothing and their arguments are not
 * evaluated, and the frontend keeps no stage times.
 *
 * The BPF side (bpf/probes.h, compiled with clang -target bpf after
 * vmlinux.h) includes this header for enum sy_stage and struct sy_req_times
 * only. */
#pragma once
#ifndef __bpf__
#include <linux/types.h>
#include <stdint.h>
#include <stdbool.h>
#endif

/* The request stages, each the time from the previous stage mark of the
 * request to the one that ends it (docs/probes.md): */
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

/* A request's stage times, CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns's
 * clock). Fixed layout, read by the probes with bpf_probe_read_user: change
 * it only with SY_REQ_TIMES_VERSION. A stage gone through twice (enqueue
 * with a classifier pass, a retried upstream attempt) adds both times. */
#define SY_REQ_TIMES_VERSION 1
struct sy_req_times {
        __u16 version;        /* SY_REQ_TIMES_VERSION */
        __u16 size;           /* sizeof (struct sy_req_times) */
        __u32 seen;           /* bit per enum sy_stage the request went through */
        __u64 accepted;       /* the connection accepted (kept until its first request) */
        __u64 start;          /* the request's head in ("request"); 0 before the first */
        __u64 last;           /* the last stage mark */
        __u64 ns[SY_NSTAGES]; /* time per stage */
} __attribute__((packed));

#ifndef __bpf__
/* the stage a marker closes (SY_MARK_TIMES) */
#define SY_STAGE_OF_parsed SY_ST_PARSE
#define SY_STAGE_OF_enqueued SY_ST_ENQUEUE
#define SY_STAGE_OF_classified SY_ST_CLASSIFY
#define SY_STAGE_OF_picked SY_ST_PICK
#define SY_STAGE_OF_upstream_connected SY_ST_UPSTREAM_CONNECT
#define SY_STAGE_OF_upstream_first_byte SY_ST_UPSTREAM_FIRST
#define SY_STAGE_OF_client_write SY_ST_CLIENT_FIRST
#define SY_STAGE_OF_done SY_ST_DONE

/* a request begins at now (its head in) */
static inline void sy_times_request(struct sy_req_times *t, uint64_t now) {
        uint64_t acc = t->start ? 0 : t->accepted; /* the connection's first request only */

        *t = (struct sy_req_times){ .version = SY_REQ_TIMES_VERSION, .size = sizeof *t, .start = now, .last = now };
        if (acc && now >= acc) {
                t->ns[SY_ST_ACCEPT] = now - acc;
                t->seen = 1u << SY_ST_ACCEPT;
        }
}

/* Does a mark of stage st count? client_write closes its stage only the
 * first time after the upstream's head (asked before the clock is read:
 * a streamed answer's later writes read nothing) */
static inline bool sy_times_wants(const struct sy_req_times *t, unsigned st) {
        return t->start && (st != SY_ST_CLIENT_FIRST ||
                            ((t->seen & (1u << SY_ST_UPSTREAM_FIRST)) && !(t->seen & (1u << SY_ST_CLIENT_FIRST))));
}

/* stage st ends at now (sy_times_wants said it counts) */
static inline void sy_times_mark(struct sy_req_times *t, unsigned st, uint64_t now) {
        t->ns[st] += now > t->last ? now - t->last : 0;
        t->last = now;
        t->seen |= 1u << st;
        if (st == SY_ST_DONE) {
                t->ns[SY_ST_TOTAL] = now > t->start ? now - t->start : 0;
                t->seen |= 1u << SY_ST_TOTAL;
        }
}
#endif

#ifdef HAVE_SDT
#include <sys/sdt.h>
#define SY_MARK(name, conn_id, req_id) \
        DTRACE_PROBE2(switchyard, name, (uint64_t)(uintptr_t)(conn_id), (uint64_t)(req_id))
#define SY_MARK_DONE(conn_id, req_id, times)                                                \
        DTRACE_PROBE3(switchyard, done, (uint64_t)(uintptr_t)(conn_id), (uint64_t)(req_id), \
                      (uint64_t)(uintptr_t)(times))
/* the stage times are kept only where the markers exist */
#define SY_TIMES(x) x
#elif !defined(__bpf__)
#define SY_MARK(name, conn_id, req_id) ((void)0)
#define SY_MARK_DONE(conn_id, req_id, times) ((void)0)
#define SY_TIMES(x) ((void)0)
#endif
