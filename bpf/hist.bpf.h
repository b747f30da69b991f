/* BPF side of struct sy_hist (probes.h): adding a value. */
#pragma once
#include "probes.h"

static __always_inline __u32 sy_log2(__u64 v) {
        __u32 r = 0;

        if (v >> 32) {
                v >>= 32;
                r += 32;
        }
        if (v >> 16) {
                v >>= 16;
                r += 16;
        }
        if (v >> 8) {
                v >>= 8;
                r += 8;
        }
        if (v >> 4) {
                v >>= 4;
                r += 4;
        }
        if (v >> 2) {
                v >>= 2;
                r += 2;
        }
        if (v >> 1)
                r += 1;
        return r;
}

/* the loader's interval number (one a second): max is per interval */
volatile __u64 sy_epoch;

/* h is a per-CPU map value: no atomics needed */
static __always_inline void sy_hist_add(struct sy_hist *h, __u64 ns) {
        __u32 s = sy_log2(ns);

        if (s >= SY_HIST_SLOTS)
                s = SY_HIST_SLOTS - 1;
        h->slots[s]++;
        h->sum += ns;
        h->count++;
        if (h->max_epoch != sy_epoch) {
                h->max_epoch = sy_epoch;
                h->max = 0;
        }
        if (ns > h->max)
                h->max = ns;
}
