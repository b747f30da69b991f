/* BPF side: the processes probed (switchyard's), by tgid, filled in by the
 * loader (probes.c) before and while the programs run. */
#pragma once

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 64);
        __type(key, __u32);
        __type(value, __u8);
} targets SEC(".maps");

static __always_inline bool is_target(__u32 tgid) {
        return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}
