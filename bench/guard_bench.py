#!/usr/bin/python3
"""What each guardrail stage costs: switchyard with and without it, same run.

Not a test: it never passes or fails on timing. With wrk over loopback (the
proxy_bench.py request: a small non-streaming chat request to an explicit
model, simllm upstream with ttft/itl 0), one `switchyard run` per setup,
one frontend worker, measured back to back:

  none       no key, no limit, no guard (the baseline)
  keys       auth.api_keys (X-API-Key checked: SHA-256 + constant-time
             compare) and rate_limits (requests and tokens per minute, far
             above what the run sends, so every request is counted and none
             refused)
  guard      prompt_guard enabled and a pii_policy on the model: every
             request takes one classifier pass (jailbreak + PII heads,
             CPU backend, the shipped default model)

For each: requests/s at 32 connections (-c 32) and p50/p99 at concurrency
1, the latency each adds to `none`, and the frontend's CPU time per
request. For `guard` it also prints the classifier's own run time per
verdict (switchyard_classifier_run_seconds), the cost of the pass itself.

Usage: bench/guard_bench.py [BUILD_DIR] [--duration S] [--connections N] [--setups none,keys,guard]
"""
import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import proxy_bench as pb  # noqa: E402

KEY = "sk-bench-0123456789abcdef"
SETUPS = {
    "none": "",
    "keys": ("auth:\n  api_keys:\n    - name: bench\n      key_sha256: \"%s\"\n"
             "rate_limits:\n  requests_per_minute: 1000000000\n  tokens_per_minute: 1000000000\n"
             % hashlib.sha256(KEY.encode()).hexdigest()),
    "guard": ("prompt_guard:\n  enabled: true\n  threshold: 0.7\nclassifier:\n  timeout_ms: 1000\n"
              "model_config:\n  %s:\n    pii_policy: {allow_by_default: false}\n" % pb.MODEL),
}


def start(sy, up_port, cpus, workdir, name, extra):
    rundir = os.path.join(workdir, name + "-run")
    os.makedirs(rundir, exist_ok=True)
    port = pb.free_port()
    conf = os.path.join(workdir, name + ".yaml")
    with open(conf, "w") as f:
        f.write("server:\n  host: 127.0.0.1\n  port: %d\n  workers: 1\nshm:\n  runtime_dir: %s\n"
                "upstreams:\n  - name: bench-upstream\n    url: http://127.0.0.1:%d\n    engine: vllm\n"
                "    models: [\"%s\"]\n%s" % (port, rundir, up_port, pb.MODEL, extra))
    p = pb.Proc("switchyard-" + name, [sy, "run", "-c", conf], cpus, workdir,
                env=dict(os.environ, SWITCHYARD_LOG_LEVEL="warning"))
    pb.wait_http(port, "/ready", p)
    return p, port


def scrape(port, name):
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()
    except OSError:
        return None
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", nargs="?", default=os.path.join(".", "build"))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--setups", default="none,keys,guard")
    ap.add_argument("--proxy-cpus", default="0")
    ap.add_argument("--other-cpus", default="1" if (os.cpu_count() or 1) > 1 else "0")
    args = ap.parse_args()
    pb.ensure_tools()
    workdir = tempfile.mkdtemp(prefix="syguard-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    rows = []
    try:
        sy, sim = pb.find_binaries(os.path.abspath(args.build), workdir)
        upstream, up_port = pb.start_upstream(sim, args.other_cpus, workdir, 1)
        for name in [s.strip() for s in args.setups.split(",") if s.strip()]:
            proc, port = start(sy, up_port, args.proxy_cpus, workdir, name, SETUPS[name])
            url = "http://127.0.0.1:%d%s" % (port, pb.PATH)
            if name == "keys":
                os.environ["SYBENCH_HEADER"] = "X-API-Key: " + KEY
            else:
                os.environ.pop("SYBENCH_HEADER", None)
            # warm-up (the classifier loads its model after the frontend is up)
            for _ in range(30):
                w = pb.run_wrk(url, 1, 1, args.other_cpus, {})
                if w["errors"] == 0:
                    break
            watch = {"upstream": upstream, "proxy": proc}
            load = pb.run_wrk(url, args.connections, args.duration, args.other_cpus, watch)
            c1 = pb.run_wrk(url, 1, args.duration, args.other_cpus, watch)
            runs = scrape(port, "switchyard_classifier_run_seconds_count")
            run_s = scrape(port, "switchyard_classifier_run_seconds_sum")
            fe = load.get("proxy_cpu_us_per_req_by_process", {}).get("frontend")
            rows.append((name, load, c1, fe, (run_s / runs * 1e6) if runs else None))
            pb.log("guard_bench: %-6s %8.0f req/s  c1 p50 %5d us p99 %6d us  errors %d" %
                   (name, load["rps"], c1["p50_us"], c1["p99_us"], load["errors"] + c1["errors"]))
            proc.stop()
        base = rows[0]
        print("\nguard_bench: the cost of each stage, one run, %s; frontend on CPU %s, upstream and wrk on %s"
              % (pb.cpu_model(), args.proxy_cpus, args.other_cpus))
        print("%-8s %10s %10s %10s %12s %12s %14s %16s %8s" % (
            "setup", "req/s c32", "p50 c1", "p99 c1", "added p50", "added p99", "frontend CPU", "classifier run",
            "errors"))
        for name, load, c1, fe, run_us in rows:
            print("%-8s %10.0f %8d us %8d us %9d us %9d us %11s us %13s us %8d" % (
                name, load["rps"], c1["p50_us"], c1["p99_us"], c1["p50_us"] - base[2]["p50_us"],
                c1["p99_us"] - base[2]["p99_us"], "%.1f" % fe if fe is not None else "-",
                "%.0f" % run_us if run_us is not None else "-", load["errors"] + c1["errors"]))
        if base[3] is not None:
            for name, _, _, fe, _ in rows[1:]:
                if fe is not None:
                    print("  %s: %+.2f us of frontend CPU per request against none" % (name, fe - base[3]))
        return 1 if any(r[1]["errors"] + r[2]["errors"] for r in rows) else 0
    finally:
        pb.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
