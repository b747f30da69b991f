// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* TCP connect latency of the probed processes' sockets, per destination
 * (the upstreams): SYN sent (inet_sock_set_state to SYN_SENT, in the
 * connecting thread) -> ESTABLISHED (in softirq, found by the socket). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "hist.bpf.h"
#include "targets.bpf.h"

#define SY_AF_INET 2
#define SY_TCP_ESTABLISHED 1
#define SY_TCP_SYN_SENT 2
#define SY_TCP_CLOSE 7

struct {
        __uint(type, BPF_MAP_TYPE_LRU_HASH);
        __uint(max_entries, 16384);
        __type(key, __u64);
        __type(value, __u64);
} connecting SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
        __uint(max_entries, 256); /* destinations; preallocated, per CPU */
        __type(key, struct sy_tcp_key);
        __type(value, struct sy_hist);
} connects SEC(".maps");

static const struct sy_hist empty;

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_state, const struct sock *sk, int oldstate, int newstate) {
        __u64 k = (__u64)sk, *tsp, now;
        struct sy_tcp_key dst = {};
        struct sy_hist *h;

        if (sk->sk_protocol != IPPROTO_TCP)
                return 0;
        if (newstate == SY_TCP_SYN_SENT) {
                if (!current_is_target())
                        return 0;
                now = bpf_ktime_get_ns();
                bpf_map_update_elem(&connecting, &k, &now, BPF_ANY);
                return 0;
        }
        if (oldstate != SY_TCP_SYN_SENT)
                return 0;
        tsp = bpf_map_lookup_elem(&connecting, &k);
        if (!tsp)
                return 0;
        now = bpf_ktime_get_ns();
        if (newstate == SY_TCP_ESTABLISHED && now > *tsp) {
                if (sk->__sk_common.skc_family == SY_AF_INET) {
                        dst.addr[10] = dst.addr[11] = 0xff; /* ::ffff:a.b.c.d */
                        __builtin_memcpy(&dst.addr[12], &sk->__sk_common.skc_daddr, 4);
                } else {
                        __builtin_memcpy(dst.addr, &sk->__sk_common.skc_v6_daddr, 16);
                }
                dst.port = __builtin_bswap16(sk->__sk_common.skc_dport);
                h = bpf_map_lookup_elem(&connects, &dst);
                if (!h) {
                        bpf_map_update_elem(&connects, &dst, &empty, BPF_NOEXIST);
                        h = bpf_map_lookup_elem(&connects, &dst);
                }
                if (h)
                        sy_hist_add(h, now - *tsp);
        }
        bpf_map_delete_elem(&connecting, &k);
        return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
