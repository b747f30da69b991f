#!/usr/bin/python3
"""switchyard endpoint-picker benchmark: round_robin vs least_request vs the
default scorer mix, on simulated replicas with realistic costs.

Not a test: it never passes or fails on timing. For each workload and
policy it starts REPLICAS fresh simllm replicas (empty prefix caches) and
`switchyard run` with `router.policy` set, then drives a closed-loop load:
CONCURRENCY clients, each on a kept-alive connection, sending streaming
chat requests ("stream": true) one after another. Per request it measures
TTFT (first SSE data event) and end-to-end latency (the last chunk), and
per run the throughput.

Workloads:
  shared-prefix  GROUPS groups, each with its own long system prompt
                 (~PREFIX_TOKENS tokens); every request picks a group at
                 random and adds a short question. A replica's prefix cache
                 (--kv-blocks) holds about a third of the groups: sending a
                 group to the replica that has it cached skips its prefill.
  uniform        unique random prompts of 500-1500 tokens (no sharing).

Replica model (simllm): --max-running 32, prefill 60 us per uncached prompt
token computed one prefill at a time (--prefill-lanes 1: compute-bound),
decode 8 ms per output token (x (1 + running/max_running)), 16-32 output
tokens, --kv-blocks 1500 (16 tokens each: ~8 groups' prompts).

Targets (the picker's, printed next to the figures): on shared-prefix, scorer
TTFT p90 >= 2x better than round_robin; on uniform, scorer no worse than
least_request by more than 5% (TTFT p90, end-to-end p90, throughput).

Usage: bench/picker_bench.py [BUILD_DIR] [--requests N] [--concurrency C]
       [--replicas R] [--workloads shared-prefix,uniform]
       [--policies round_robin,least_request,scorer] [--json FILE] [--seed S]
Python standard library only.
"""
import argparse
import asyncio
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import Sim, Switchyard  # noqa: E402

MODEL = "bench-model"
POLICIES = ("round_robin", "least_request", "scorer")
WORKLOADS = ("shared-prefix", "uniform")
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()

PROCS = []       # simllm processes
RUNNING = []     # BenchSwitchyard instances


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def stop_all():
    for sy in RUNNING:
        sy.stop()
    RUNNING.clear()
    for p in PROCS:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in PROCS:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    PROCS.clear()


def on_signal(sig, frame):
    stop_all()
    sys.exit(130)


def text(rng, tokens):
    """About `tokens` tokens of words (~4 bytes a token as simllm counts)."""
    out, n = [], 0
    while n < tokens * 4:
        w = rng.choice(WORDS)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)


def make_requests(workload, n, seed, groups, prefix_tokens):
    rng = random.Random(seed)
    reqs = []
    if workload == "shared-prefix":
        systems = ["You are assistant number %d. %s" % (g, text(rng, prefix_tokens)) for g in range(groups)]
        for i in range(n):
            g = rng.randrange(groups)
            reqs.append({"model": MODEL, "stream": True, "max_tokens": rng.randint(16, 32),
                         "messages": [{"role": "system", "content": systems[g]},
                                      {"role": "user", "content": "question %d: %s" % (i, text(rng, 20))}]})
    else:
        for i in range(n):
            reqs.append({"model": MODEL, "stream": True, "max_tokens": rng.randint(16, 32),
                         "messages": [{"role": "user",
                                       "content": "request %d: %s" % (i, text(rng, rng.randint(500, 1500)))}]})
    return [json.dumps(r).encode() for r in reqs]


def start_sims(simllm, n, workdir, args):
    sims = []
    for i in range(n):
        sim = Sim(simllm, "r%d" % i, [MODEL], extra=[
            "--max-running", str(args.max_running), "--prefill-lanes", "1",
            "--prefill-us-per-token", str(args.prefill_us), "--decode-us-per-token", str(args.decode_us),
            "--kv-blocks", str(args.kv_blocks)], log=os.path.join(workdir, "sim-%d.log" % i))
        try:
            sim.start(15.0)
        finally:
            if sim.proc:
                PROCS.append(sim.proc)
        sims.append(sim)
    return sims


class BenchSwitchyard(Switchyard):
    """switchyard run with the router policy under test and otherwise the
    defaults (the test harness's settings are for tests)."""

    def __init__(self, exe, sims, policy):
        self.policy = policy
        super().__init__(exe, sims)

    def write_config(self, upstreams, extra_yaml="", workers=2):
        lines = ["server: {host: 127.0.0.1, port: %d, workers: %d}" % (self.port, workers),
                 "health: {interval_ms: 500ms}",
                 "router: {policy: %s}" % self.policy,
                 "shm: {runtime_dir: %s, max_workers: 8}" % self.dir,
                 "upstreams:"]
        for sim in upstreams:
            lines.append("  - {name: %s, url: \"http://127.0.0.1:%d\", engine: vllm, models: [%s]}" % (
                sim.name, sim.port, MODEL))
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")


async def read_response(reader):
    """Reads one streamed response. Returns (status, ttft_mark, replica) with
    ttft_mark the time the first data event arrived."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(b":")
        hdrs[k.strip().lower()] = v.strip()
    first = None
    if hdrs.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            data = await reader.readexactly(size + 2)
            if first is None and b"data: {" in data:
                first = time.monotonic()
    else:
        n = int(hdrs.get(b"content-length", b"0"))
        await reader.readexactly(n)
        first = time.monotonic()
    return status, first, hdrs.get(b"x-switchyard-upstream", b"?").decode()


async def client(port, queue, results, errors):
    reader = writer = None
    while True:
        try:
            body = queue.pop()
        except IndexError:
            break
        t0 = time.monotonic()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
            writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body)
            status, first, up = await read_response(reader)
            t1 = time.monotonic()
            if status != 200 or first is None:
                errors.append(status)
            else:
                results.append((first - t0, t1 - t0, up))
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            errors.append(repr(e))
            if writer:
                writer.close()
            reader = writer = None
    if writer:
        writer.close()


async def drive(port, bodies, concurrency):
    queue = list(reversed(bodies))
    results, errors = [], []
    t0 = time.monotonic()
    await asyncio.gather(*(client(port, queue, results, errors) for _ in range(concurrency)))
    return results, errors, time.monotonic() - t0


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def sim_prefix_stats(sim):
    try:
        st = sim.stats()
        return st.get("prefix_cache_hit_tokens", 0), st.get("prefix_cache_query_tokens", 0)
    except (OSError, ValueError, http.client.HTTPException):
        return 0, 0


def run_one(args, exe, simllm, workload, policy, bodies, workdir):
    sims = start_sims(simllm, args.replicas, workdir, args)
    sy = None
    try:
        sy = BenchSwitchyard(exe, sims, policy)
        shutil.copy(sy.config, os.path.join(workdir, "switchyard-%s.yaml" % policy))
        RUNNING.append(sy)
        sy.start()
        time.sleep(1.0)  # router attached, first scrapes in
        results, errors, wall = asyncio.run(drive(sy.port, bodies, args.concurrency))
        hits = qs = 0
        for sim in sims:
            h, q = sim_prefix_stats(sim)
            hits += h
            qs += q
    finally:
        stop_all()
        if sy is not None:
            with open(os.path.join(workdir, "switchyard-%s.log" % policy), "a") as f:
                f.write(sy.read_log())
    ttft = [r[0] * 1000 for r in results]
    e2e = [r[1] * 1000 for r in results]
    spread = {}
    for r in results:
        spread[r[2]] = spread.get(r[2], 0) + 1
    return {
        "workload": workload, "policy": policy, "requests": len(results), "errors": len(errors),
        "error_samples": [str(e) for e in errors[:5]],
        "ttft_p50_ms": pct(ttft, 50), "ttft_p90_ms": pct(ttft, 90), "ttft_p99_ms": pct(ttft, 99),
        "e2e_p50_ms": pct(e2e, 50), "e2e_p90_ms": pct(e2e, 90), "e2e_p99_ms": pct(e2e, 99),
        "throughput_rps": len(results) / wall if wall > 0 else 0.0, "wall_s": wall,
        "prefix_hit_rate": hits / qs if qs else 0.0,
        "per_upstream": dict(sorted(spread.items())),
    }


def report(rows):
    hdr = "%-14s %-14s %6s %5s %9s %9s %9s %9s %9s %9s %8s %6s  %s" % (
        "workload", "policy", "reqs", "err", "ttft_p50", "ttft_p90", "ttft_p99", "e2e_p50", "e2e_p90",
        "e2e_p99", "req/s", "hit%", "requests per upstream")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print("%-14s %-14s %6d %5d %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %8.2f %5.1f%%  %s" % (
            r["workload"], r["policy"], r["requests"], r["errors"], r["ttft_p50_ms"], r["ttft_p90_ms"],
            r["ttft_p99_ms"], r["e2e_p50_ms"], r["e2e_p90_ms"], r["e2e_p99_ms"], r["throughput_rps"],
            100 * r["prefix_hit_rate"], " ".join("%s:%d" % kv for kv in r["per_upstream"].items())))
    print("(latencies in ms; hit% = prompt tokens served from the replicas' prefix caches)")
    by = {(r["workload"], r["policy"]): r for r in rows}
    print()
    a_rr, a_sc = by.get(("shared-prefix", "round_robin")), by.get(("shared-prefix", "scorer"))
    if a_rr and a_sc:
        ratio = a_rr["ttft_p90_ms"] / a_sc["ttft_p90_ms"] if a_sc["ttft_p90_ms"] > 0 else float("inf")
        print("target (a) shared-prefix: TTFT p90 round_robin / scorer = %.2fx (target >= 2x): %s" % (
            ratio, "met" if ratio >= 2 else "NOT met"))
    b_lr, b_sc = by.get(("uniform", "least_request")), by.get(("uniform", "scorer"))
    if b_lr and b_sc:
        parts = []
        worst = 0.0
        for key, lower_better in (("ttft_p90_ms", True), ("e2e_p90_ms", True), ("throughput_rps", False)):
            if lower_better:
                d = b_sc[key] / b_lr[key] - 1 if b_lr[key] > 0 else 0
            else:
                d = 1 - b_sc[key] / b_lr[key] if b_lr[key] > 0 else 0
            worst = max(worst, d)
            parts.append("%s %+.1f%%" % (key, 100 * d))
        print("target (b) uniform: scorer worse than least_request by: %s (target <= 5%%): %s" % (
            ", ".join(parts), "met" if worst <= 0.05 else "NOT met"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--replicas", type=int, default=4)
    ap.add_argument("--groups", type=int, default=24)
    ap.add_argument("--prefix-tokens", type=int, default=3000)
    ap.add_argument("--prefill-us", type=float, default=60)
    ap.add_argument("--decode-us", type=float, default=8000)
    ap.add_argument("--max-running", type=int, default=32)
    ap.add_argument("--kv-blocks", type=int, default=1500)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs)")
    args = ap.parse_args()

    exe = os.path.join(args.build, "supervisor", "switchyard")
    simllm = os.path.join(args.build, "tests", "simllm", "simllm")
    for f in (exe, simllm):
        if not os.access(f, os.X_OK):
            log("picker_bench: %s not found: build first (meson setup %s && ninja -C %s)" % (f, args.build,
                                                                                             args.build))
            return 2
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    workdir = tempfile.mkdtemp(prefix="sypicker-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    rows = []
    try:
        for wl in args.workloads.split(","):
            bodies = make_requests(wl, args.requests, args.seed, args.groups, args.prefix_tokens)
            for pol in args.policies.split(","):
                log("picker_bench: %s / %s: %d requests, %d clients, %d replicas" % (
                    wl, pol, args.requests, args.concurrency, args.replicas))
                r = run_one(args, exe, simllm, wl, pol, bodies, workdir)
                log("  ttft p90 %.1f ms, e2e p90 %.1f ms, %.2f req/s, %d errors" % (
                    r["ttft_p90_ms"], r["e2e_p90_ms"], r["throughput_rps"], r["errors"]))
                rows.append(r)
    finally:
        stop_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log("picker_bench: kept %s" % workdir)
    print("picker_bench: %d replicas (simllm --max-running %d --prefill-lanes 1 --prefill-us-per-token %g "
          "--decode-us-per-token %g --kv-blocks %d), %d closed-loop streaming clients, %d requests per run; "
          "shared-prefix: %d groups x ~%d-token system prompts" % (
              args.replicas, args.max_running, args.prefill_us, args.decode_us, args.kv_blocks,
              args.concurrency, args.requests, args.groups, args.prefix_tokens))
    report(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": rows}, f, indent=1)
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
