#!/usr/bin/python3
"""What the eBPF probes cost: switchyard with and without `switchyard probes`
attached, in the same run.

Not a test: it never passes or fails on timing. One simulated upstream
(simllm, ttft/itl 0) and `switchyard run` (server.workers: 1) stay up for
the whole run; wrk (bench/wrk/chat.lua, kept-alive connections, the small
chat request of proxy_bench.py) measures, in turn, without the probes, with
them attached to every USDT marker (`--markers all`: a trap per marker hit,
the design before the frontend kept the stage times itself) and with them as
configured (default: the one marker done, which carries the stage times);
every probe (stages, runq, io_uring, TCP connect) unless --probes:

  c=N  requests/s at --connections N (32)
  c=1  p50 and p99 latency at concurrency 1

--runs R repeats the three R times (alternating, so drift on a shared
machine hits all alike) and reports medians, then the overhead of each
against without: requests/s lost (%) and p50/p99 added (us), next to the
issue's targets (<= 2 %, <= 5 us at p50) as information. Needs root (the
probes load BPF programs).

Then the cost of the markers themselves (bench/usdt_cost.c, compiled here):
ns per request of the frontend's ten markers fired in a loop, without and
with the stage probe attached (as configured), and after it is gone.

Usage: bench/probes_bench.py [BUILD_DIR] [--runs R] [--duration S] [--connections N] [--cpus LIST]
Pinning: switchyard on the first CPU of --cpus, upstream, wrk and the probes
on the rest (all on CPU 0 on a one-CPU machine). Reuses bench/proxy_bench.py's
process, wrk and verification helpers.
"""
import argparse
import atexit
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import proxy_bench as pb  # noqa: E402

TARGET_RPS_PCT = 2.0
TARGET_P50_US = 5.0


def start_probes(sy, rundir, cpus, workdir, which, markers=None):
    port = pb.free_port()
    p = pb.Proc("probes", [sy, "probes", "-r", rundir, "--listen", "127.0.0.1:%d" % port, "--probes", which]
                + (["--markers", markers] if markers else []), cpus, workdir)
    # it listens once attached
    pb.wait_http(port, "/metrics", p, timeout=90)
    return p


def marker_cost(sy, workdir, cpus, which, markers):
    """bench/usdt_cost.c: ns per request of ten markers, without/with/after the probes."""
    exe = os.path.join(workdir, "usdt_cost")
    r = subprocess.run(["cc", "-O2", "-DHAVE_SDT", "-I", pb.ROOT, "-o", exe, os.path.join(HERE, "usdt_cost.c")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pb.log("probes_bench: cannot compile usdt_cost.c (systemtap-sdt-dev?): " + r.stderr)
        return None
    rundir = os.path.join(workdir, "usdt-run")
    os.makedirs(rundir, exist_ok=True)
    p = subprocess.Popen(["taskset", "-c", cpus.split(",")[0], exe, rundir, "2"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    def line():
        m, sc = p.stdout.readline().split()
        out.setdefault("syscall", []).append(float(sc))
        return float(m)

    out = {}
    out["without"] = line()
    probes = start_probes(sy, rundir, cpus, workdir, which, markers)
    p.stdin.write("\n")
    p.stdin.flush()
    out["with"] = line()
    probes.stop()
    p.stdin.write("\n")
    p.stdin.flush()
    out["after"] = line()
    p.stdin.close()
    p.wait()
    return out


def measure(url, args, cpus, watch):
    load = pb.run_wrk(url, args.connections, args.duration, cpus, watch)
    c1 = pb.run_wrk(url, 1, args.duration, cpus, watch)
    return {"rps": load["rps"], "load_p99_us": load["p99_us"], "p50_us": c1["p50_us"], "p99_us": c1["p99_us"],
            "errors": load["errors"] + c1["errors"], "requests": load["requests"] + c1["requests"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", nargs="?", default=os.path.join(".", "build"), help="meson build dir (./build)")
    ap.add_argument("--runs", type=int, default=3, help="without/with pairs, medians reported (3)")
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk measurement (5)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections of the throughput run (32)")
    ap.add_argument("--cpus", default=None, help="CPUs to use (all)")
    ap.add_argument("--probes", default="stage,runq,io_uring,tcp", help="the probes attached (all)")
    ap.add_argument("--markers", default=None, help="switchyard probes --markers (its default: done only)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()

    if os.geteuid() != 0:
        pb.die("the probes need CAP_BPF and CAP_PERFMON: run as root")
    pb.ensure_tools()
    cpus = pb.parse_cpus(args.cpus) if args.cpus else sorted(os.sched_getaffinity(0))
    sy_cpu = str(cpus[0])
    rest = ",".join(str(c) for c in (cpus[1:] or cpus[:1]))
    workdir = tempfile.mkdtemp(prefix="sybench-probes-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    atexit.register(lambda: None if args.keep else shutil.rmtree(workdir, ignore_errors=True))
    atexit.register(pb.cleanup)
    signal.signal(signal.SIGINT, pb.on_signal)
    signal.signal(signal.SIGTERM, pb.on_signal)

    sy, sim = pb.find_binaries(args.build, workdir)
    up, up_port = pb.start_upstream(sim, rest, workdir, 1)
    proxy, port = pb.start_switchyard(sy, up_port, sy_cpu, workdir, 1)
    pb.verify("switchyard", port)
    rundir = os.path.join(workdir, "switchyard-run")
    url = "http://127.0.0.1:%d%s" % (port, pb.PATH)
    watch = {"proxy": proxy}
    pb.run_wrk(url, args.connections, 1, rest, watch)  # warm-up

    configs = (("without", None), ("all markers", "all"), ("with", args.markers))
    results = {k: [] for k, _ in configs}
    probes_cpu = {k: [] for k, _ in configs[1:]}
    for r in range(args.runs):
        for k, markers in configs:
            pb.log("probes_bench: run %d/%d %s" % (r + 1, args.runs, k))
            if markers is None and k == "without":
                results[k].append(measure(url, args, rest, watch))
                continue
            probes = start_probes(sy, rundir, rest, workdir, args.probes, markers)
            t0 = probes.cpu_ticks()
            w = measure(url, args, rest, dict(watch, probes=probes))
            probes_cpu[k].append((probes.cpu_ticks() - t0) / pb.CLK_TCK)
            results[k].append(w)
            probes.stop()

    cost = marker_cost(sy, workdir, rest, args.probes, args.markers)
    attached = 1 if not args.markers else (10 if "all" in args.markers.split(",")
                                           else len(set(args.markers.split(",")) | {"done"}))
    med = {k: {m: statistics.median(x[m] for x in v) for m in ("rps", "p50_us", "p99_us", "load_p99_us")}
           for k, v in results.items()}
    errors = sum(x["errors"] for v in results.values() for x in v)
    wo = med["without"]
    print()
    print("switchyard eBPF probes benchmark (bench/probes_bench.py)")
    print("  machine   %s; switchyard on CPU %s, upstream/wrk/probes on CPU %s" % (os.uname().release, sy_cpu, rest))
    print("  probes    %s; 'all markers': --markers all; 'with': markers %s" % (args.probes,
                                                                          args.markers or "done only (default)"))
    print("  runs      %d rounds (without, all markers, with) of %d s per measurement, medians" % (args.runs,
                                                                                                args.duration))
    print("  %-22s %10s %18s %18s" % ("", "without", "all markers", "with"))

    def row(label, m):
        cells = []
        for k in ("all markers", "with"):
            v = med[k][m]
            d = (100.0 * (v - wo[m]) / wo[m] if wo[m] else 0.0) if m == "rps" else v - wo[m]
            cells.append(("%.0f (%+.1f%%)" if m == "rps" else "%.0f (%+.0f)") % (v, d))
        print("  %-22s %10.0f %18s %18s" % (label, wo[m], cells[0], cells[1]))

    row("req/s at c=%d" % args.connections, "rps")
    row("p99 us at c=%d" % args.connections, "load_p99_us")
    row("p50 us at c=1", "p50_us")
    row("p99 us at c=1", "p99_us")
    for k, v in probes_cpu.items():
        print("  probes' own CPU (%s): %.2f s per %d s measured (median)" % (k, statistics.median(v),
                                                                           2 * args.duration))
    for k in ("all markers", "with"):
        lost = 100.0 * (wo["rps"] - med[k]["rps"]) / wo["rps"] if wo["rps"] else 0.0
        added = med[k]["p50_us"] - wo["p50_us"]
        print("  targets (information), %s: throughput lost <= %.0f %% (%.1f %%: %s), p50 added <= %.0f us at c=1 "
              "(%+.0f us: %s)" % (k, TARGET_RPS_PCT, lost, "met" if lost <= TARGET_RPS_PCT else "not met",
                                  TARGET_P50_US, added, "met" if added <= TARGET_P50_US else "not met"))
    if cost:
        print("  markers: ten in a loop (bench/usdt_cost.c), %d attached: %.1f ns without the probes, %.0f ns with "
              "(%.2f us an attached marker), %.1f ns after they exit; a getppid() system call here: %.2f us" % (
                  attached, cost["without"], cost["with"], (cost["with"] - cost["without"]) / attached / 1000,
                  cost["after"], statistics.median(cost["syscall"]) / 1000))
    print("  every run: " + "; ".join("%s %.0f req/s p50 %.0f us" % (k, x["rps"], x["p50_us"])
                                      for i in range(args.runs) for k, _ in configs
                                      for x in [results[k][i]]))
    if errors:
        print("  %d requests failed" % errors)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
