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
 * Without <sys/sdt.h> (HAVE_SDT undefined: Debian's systemtap-sdt-dev is
 * absent) the markers compile to nothing and their arguments are not
 * evaluated. */
#pragma once
#include <stdint.h>

#ifdef HAVE_SDT
#include <sys/sdt.h>
#define SY_MARK(name, conn_id, req_id) \
        DTRACE_PROBE2(switchyard, name, (uint64_t)(uintptr_t)(conn_id), (uint64_t)(req_id))
#else
#define SY_MARK(name, conn_id, req_id) ((void)0)
#endif
