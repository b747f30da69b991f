// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Scheduler delay of switchyard's threads: from a thread becoming runnable
 * (sched_wakeup, sched_wakeup_new, or preempted while running) to it
 * running (sched_switch to it), as runqlat in libbpf-tools does. One log2
 * histogram for all of the probed processes' threads. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "hist.bpf.h"
#include "targets.bpf.h"

#define SY_TASK_RUNNING 0

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 16384);
        __type(key, __u32);
        __type(value, __u64);
} start SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct sy_hist);
} runq SEC(".maps");

/* kernels before 5.14 call it state */
struct task_struct___o {
        volatile long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t) {
        if (bpf_core_field_exists(t->__state))
                return BPF_CORE_READ(t, __state);
        return BPF_CORE_READ((struct task_struct___o *)t, state);
}

static __always_inline void enqueued(struct task_struct *p) {
        __u32 pid = p->pid;
        __u64 ts;

        if (!pid || !is_target_tgid(p->tgid))
                return;
        ts = bpf_ktime_get_ns();
        bpf_map_update_elem(&start, &pid, &ts, BPF_ANY);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup, struct task_struct *p) {
        enqueued(p);
        return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new, struct task_struct *p) {
        enqueued(p);
        return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next) {
        __u32 pid = next->pid, zero = 0;
        struct sy_hist *h;
        __u64 *tsp, now;

        /* prev is current here: a target's thread is learnt on its first switch */
        if (current_is_target() && task_state(prev) == SY_TASK_RUNNING)
                enqueued(prev);
        tsp = bpf_map_lookup_elem(&start, &pid);
        if (!tsp)
                return 0;
        now = bpf_ktime_get_ns();
        h = bpf_map_lookup_elem(&runq, &zero);
        if (h && now > *tsp)
                sy_hist_add(h, now - *tsp);
        bpf_map_delete_elem(&start, &pid);
        return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
