/* BPF side: which processes are probed (switchyard's). The loader (probes.c)
 * puts the pids of the lock file in targets; they are pids of its own pid
 * namespace (pidns_dev/pidns_ino, from /proc/self/ns/pid: in a pod with
 * shareProcessNamespace, the pod's), not the kernel's global ones, so a
 * thread of a target seen running (current) is translated once and its
 * global tgid kept in gtargets, where events about another task (a wakeup)
 * look. The loader empties both when the pids change. */
#pragma once

const volatile __u64 pidns_dev = 0;
const volatile __u64 pidns_ino = 0;

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 64);
        __type(key, __u32);
        __type(value, __u8);
} targets SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 64);
        __type(key, __u32);
        __type(value, __u8);
} gtargets SEC(".maps");

/* is the global tgid a target's (already seen running)? */
static __always_inline bool is_target_tgid(__u32 tgid) {
        return bpf_map_lookup_elem(&gtargets, &tgid) != NULL;
}

/* is the current task a target's thread? (learns its global tgid) */
static __always_inline bool current_is_target(void) {
        struct bpf_pidns_info ns = {};
        __u32 g = bpf_get_current_pid_tgid() >> 32;
        __u8 one = 1;

        if (is_target_tgid(g))
                return true;
        if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof ns))
                return false; /* another pid namespace */
        if (!bpf_map_lookup_elem(&targets, &ns.tgid))
                return false;
        bpf_map_update_elem(&gtargets, &g, &one, BPF_ANY);
        return true;
}
