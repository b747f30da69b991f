#!/usr/bin/python3
"""PyTorch baseline of switchyard-classify-bench: the same model directory run
by the reference forward pass (tools/classifier/ref.py, written from the
Hugging Face modeling code) in float32 on the CPU, one thread
(torch.set_num_threads), eval mode, torch.inference_mode. Tokenization is
not timed (the C bench times its whole path: tokenize + forward + scores,
so this flatters PyTorch slightly). Figures only.

    torch_bench.py MODEL_DIR [--threads N] [--tokens 16,128,512] [--batch 8,32] [--iters N]

Prints per token count: p50 / p99 latency of batch 1, then for each batch
size the throughput (requests/s) at 128 tokens.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref  # noqa: E402


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tokens", default="16,128,512")
    ap.add_argument("--batch", default="8,32")
    ap.add_argument("--iters", type=int, default=0)
    a = ap.parse_args()
    import torch
    torch.set_num_threads(a.threads)
    m = ref.Model(a.model, dtype=torch.float32)
    name = os.path.basename(os.path.normpath(a.model))

    def run(ids, mask):
        with torch.inference_mode():
            return ref.forward(m.cfg, m.W, ids, mask)

    for n in [int(x) for x in a.tokens.split(",") if x]:
        if n > m.max_len:
            print("pytorch %s %4d tokens: above max_position_embeddings, skipped" % (name, n))
            continue
        ids = torch.randint(5, 200, (1, n))
        mask = torch.ones(1, n, dtype=torch.long)
        iters = a.iters or (200 if n <= 16 else 50 if n <= 128 else 12)
        ts = []
        for i in range(iters + 2):
            t0 = time.perf_counter()
            run(ids, mask)
            if i >= 2:
                ts.append((time.perf_counter() - t0) * 1e3)
        print("pytorch %s threads %d: %4d tokens: p50 %.3f ms  p99 %.3f ms  (%d runs)" %
              (name, a.threads, n, pct(ts, 0.5), pct(ts, 0.99), len(ts)))
    n = min(128, m.max_len)
    for b in [int(x) for x in a.batch.split(",") if x]:
        ids = torch.randint(5, 200, (b, n))
        mask = torch.ones(b, n, dtype=torch.long)
        run(ids, mask)
        rounds = max(3, 200 // b)
        t0 = time.perf_counter()
        for _ in range(rounds):
            run(ids, mask)
        dt = time.perf_counter() - t0
        print("pytorch %s threads %d: batch %d x %d tokens: %.1f requests/s (%.3f ms per batch)" %
              (name, a.threads, b, n, rounds * b / dt, dt / rounds * 1e3))


if __name__ == "__main__":
    main()
