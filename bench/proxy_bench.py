#!/usr/bin/python3
"""switchyard proxy benchmark: direct upstream vs nginx vs switchyard.

Not a test: it never passes or fails on timing. It measures, in one run on
this machine, with wrk over loopback (kept-alive connections, a small JSON
chat request with the model in the body):

  direct      the simulated upstream (simllm, ttft/itl 0) by itself
  nginx       Debian's nginx, one worker, as a plain reverse proxy to it
  switchyard  `switchyard run` with one frontend worker (server.workers: 1)

For each target: requests/s and p50/p99 latency at a moderate concurrency
(-c 32 by default) and p50/p99 latency at concurrency 1, then the ratios
(switchyard / nginx requests/s; latency added at c=1 versus direct).

Usage: bench/proxy_bench.py [BUILD_DIR] [--quick] [--duration S] [--connections N]
See bench/README.md. Python standard library only; needs wrk, nginx, curl,
taskset (installs wrk and nginx-light with apt-get when missing).
"""
import argparse
import http.client
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LUA = os.path.join(HERE, "wrk", "chat.lua")
NGINX_TEMPLATE = os.path.join(HERE, "nginx.conf.in")

MODEL = "bench-model"
PATH = "/v1/chat/completions"
BODY = '{"model":"bench-model","messages":[{"role":"user","content":"hello"}],"max_tokens":4}'
TARGETS = ("direct", "nginx", "switchyard", "switchyard-fe")
DEFAULT_TARGETS = ("direct", "nginx", "switchyard")
CLK_TCK = os.sysconf("SC_CLK_TCK")
NO_HOOK = False  # --no-status-hook

# Targets from issue 2 (printed as information next to the figures).
TARGET_RPS_RATIO = 1.0      # switchyard requests/s >= nginx requests/s
TARGET_ADDED_P50_US = 50    # switchyard p50 at c=1 <= direct p50 + 50 us


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def die(msg):
    log("proxy_bench: error: " + msg)
    sys.exit(2)


# ---- processes -----------------------------------------------------------------

def proc_stat(pid):
    """(pgrp, utime+stime ticks) of one process, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s.rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): pgrp is field 5, utime 14, stime 15
    return int(fields[2]), int(fields[11]) + int(fields[12])


class Proc:
    """A server started in its own process group, pinned with taskset."""

    live = []

    def __init__(self, name, argv, cpus, logdir, env=None):
        self.name = name
        self.log_path = os.path.join(logdir, name + ".log")
        self.logf = open(self.log_path, "ab")
        self.p = subprocess.Popen(["taskset", "-c", cpus] + argv, stdin=subprocess.DEVNULL, stdout=self.logf,
                                  stderr=subprocess.STDOUT, start_new_session=True, env=env)
        Proc.live.append(self)

    def pids(self):
        """The process and everything in its process group (children, threads are per process)."""
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            st = proc_stat(int(d))
            if st and st[0] == self.p.pid:
                out.append(int(d))
        return out

    def cpu_ticks(self):
        return sum(self.cpu_ticks_by_role().values())

    def cpu_ticks_by_role(self):
        """CPU ticks per process of the group, keyed by a short role name
        (switchyard: run/frontend/router; nginx: master/worker)."""
        out = {}
        for pid in self.pids():
            st = proc_stat(pid)
            if not st:
                continue
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    argv = f.read().decode("utf-8", "replace").split("\0")
            except OSError:
                argv = []
            if argv and argv[0].startswith("nginx: "):
                role = argv[0].split()[1]  # master / worker
            elif len(argv) > 1 and argv[1] in ("run", "frontend", "router", "classifier"):
                role = "supervisor" if argv[1] == "run" else argv[1]
            else:
                role = os.path.basename(argv[0]) if argv and argv[0] else str(pid)
            out[role] = out.get(role, 0) + st[1]
        return out

    def alive(self):
        return self.p.poll() is None

    def tail(self, n=20):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, grace=8.0):
        if self.p.poll() is None:
            try:
                self.p.send_signal(sig)
                self.p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
            except OSError:
                pass
        # whatever is left of the group we started (our own pgid)
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.logf.close()
        if self in Proc.live:
            Proc.live.remove(self)


def cleanup():
    for p in list(reversed(Proc.live)):
        p.stop()


def on_signal(sig, frame):
    log("proxy_bench: interrupted, cleaning up")
    cleanup()
    sys.exit(130)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(port, path, proc, timeout=15.0, want=200):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if not proc.alive():
            die("%s exited (status %s) while starting:\n%s" % (proc.name, proc.p.returncode, proc.tail()))
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == want:
                return
            last = r.status
        except (OSError, http.client.HTTPException) as e:
            last = e
        time.sleep(0.05)
    die("%s did not answer %d on %s within %.0fs (last: %s):\n%s" % (proc.name, want, path, timeout, last,
                                                                    proc.tail()))


# ---- setup ---------------------------------------------------------------------

def ensure_tools():
    missing = [t for t in ("wrk", "nginx", "curl", "taskset") if not shutil.which(t)
               and not os.path.exists("/usr/sbin/" + t)]
    if not missing:
        return
    pkgs = {"wrk": "wrk", "nginx": "nginx-light", "curl": "curl", "taskset": "util-linux"}
    want = sorted({pkgs[t] for t in missing})
    log("proxy_bench: installing %s" % " ".join(want))
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(sudo + ["apt-get", "install", "-y", "--no-install-recommends"] + want, env=env)
    if r.returncode != 0:
        subprocess.run(sudo + ["apt-get", "update"], env=env)
        r = subprocess.run(sudo + ["apt-get", "install", "-y", "--no-install-recommends"] + want, env=env)
    if r.returncode != 0:
        die("could not install %s" % " ".join(want))
    # Debian starts the packaged nginx service on install; it listens on :80 and
    # is not what we measure, but leave it alone (not ours to stop).


def nginx_exe():
    return shutil.which("nginx") or "/usr/sbin/nginx"


def find_binaries(build, workdir):
    sy = os.path.join(build, "supervisor", "switchyard")
    sim = os.path.join(build, "tests", "simllm", "simllm")
    if not (os.access(sy, os.X_OK) and os.access(sim, os.X_OK)) and os.path.exists(os.path.join(build,
                                                                                              "build.ninja")):
        log("proxy_bench: building (ninja -C %s)" % build)
        subprocess.run(["ninja", "-C", build], stdout=subprocess.DEVNULL)
    if not os.access(sy, os.X_OK):
        die("%s not found: build first (meson setup %s && ninja -C %s)" % (sy, build, build))
    if not os.access(sim, os.X_OK):
        sim = os.path.join(workdir, "simllm")
        log("proxy_bench: compiling simllm into %s" % sim)
        srcs = sorted(os.path.join(ROOT, "tests", "simllm", f) for f in os.listdir(os.path.join(ROOT, "tests",
                                                                                                 "simllm"))
                      if f.endswith(".c"))
        r = subprocess.run(["gcc", "-O2", "-I", ROOT, "-o", sim] + srcs +
                           [os.path.join(ROOT, "http", "http_parse.c"), os.path.join(ROOT, "http", "http_listen.c"),
                            os.path.join(ROOT, "common", "json.c"),
                            os.path.join(ROOT, "common", "log.c"), "-lpthread", "-lm"])
        if r.returncode != 0:
            die("could not compile simllm")
    return sy, sim


def start_upstream(sim, cpus, workdir, threads):
    port = free_port()
    p = Proc("simllm", [sim, "--port", str(port), "--name", "bench-upstream", "--model", MODEL, "--engine", "vllm",
                        "--threads", str(threads), "--ttft-ms", "0", "--itl-ms", "0", "--max-tokens", "4"],
             cpus, workdir)
    wait_http(port, "/health", p)
    return p, port


def start_nginx(up_port, cpus, workdir, replicas=1):
    prefix = os.path.join(workdir, "nginx")
    os.makedirs(prefix, exist_ok=True)
    port = free_port()
    with open(NGINX_TEMPLATE) as f:
        conf = f.read()
    conf = conf.replace("@PREFIX@", prefix).replace("@LISTEN_PORT@", str(port)).replace("@UPSTREAM_PORT@",
                                                                                      str(up_port))
    if replicas > 1:
        # the same upstream listed N times: round robin over N "servers"
        line = "        server 127.0.0.1:%d;\n" % up_port
        conf = conf.replace(line, line * replicas)
    path = os.path.join(prefix, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    p = Proc("nginx", [nginx_exe(), "-p", prefix, "-c", path], cpus, workdir)
    wait_http(port, "/health", p)  # proxied to the upstream's /health
    return p, port


def start_switchyard(sy, up_port, cpus, workdir, workers, role="run", replicas=1):
    """role "run": supervisor + frontend + router (the real thing); "frontend": the
    frontend alone, which picks from the configured upstreams itself (a diagnostic:
    what the router round trip costs)."""
    name = "switchyard" if role == "run" else "switchyard-fe"
    rundir = os.path.join(workdir, name + "-run")
    os.makedirs(rundir, exist_ok=True)
    port = free_port()
    conf = os.path.join(workdir, name + ".yaml")
    with open(conf, "w") as f:
        f.write("\n".join([
            "# written by bench/proxy_bench.py",
            "server:",
            "  host: 127.0.0.1",
            "  port: %d" % port,
            "  workers: %d" % workers,
            "shm:",
            "  runtime_dir: %s" % rundir,
            "upstreams:",
        ] + sum((["  - name: bench-upstream" + ("-%d" % i if replicas > 1 else ""),
                  "    url: http://127.0.0.1:%d" % up_port,
                  "    engine: vllm",
                  "    models: [\"%s\"]" % MODEL] for i in range(replicas)), []) + [""]))
    env = dict(os.environ, SWITCHYARD_LOG_LEVEL="warning")
    p = Proc(name, [sy, role, "-c", conf], cpus, workdir, env=env)
    wait_http(port, "/ready", p)
    return p, port


def verify(name, port):
    """curl: the target must answer 200 with a chat.completion."""
    r = subprocess.run(["curl", "-sS", "-D", "-", "-o", "-", "-w", "\n%{http_code}", "--max-time", "5",
                        "-H", "Content-Type: application/json", "--data-binary", BODY,
                        "http://127.0.0.1:%d%s" % (port, PATH)], capture_output=True, text=True)
    out = r.stdout
    code = out.rsplit("\n", 1)[-1].strip() if out else ""
    ok = r.returncode == 0 and code == "200" and '"object":"chat.completion"' in out
    if not ok:
        die("%s did not answer 200 with a chat.completion (curl rc %d, status %r):\n%s%s" % (
            name, r.returncode, code, out, r.stderr))
    headers = {}
    for line in out.split("\n\n", 1)[0].splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if name.startswith("switchyard") and "x-switchyard-upstream" not in headers:
        die(name + " answered without an x-switchyard-upstream header:\n" + out)
    via = headers.get("x-switchyard-upstream") or headers.get("x-simllm-replica") or "?"
    log("proxy_bench: %-10s ok: 200 chat.completion (served by %s)" % (name, via))


def upstream_completed(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/sim/stats")
    r = c.getresponse()
    d = json.loads(r.read())
    c.close()
    return int(d.get("requests", {}).get(PATH, 0))


# ---- measuring -----------------------------------------------------------------

def cpu_times():
    """Per CPU: (busy, total, steal) in ticks, from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            parts = line.split()
            v = [int(x) for x in parts[1:]]
            idle = v[3] + (v[4] if len(v) > 4 else 0)
            steal = v[7] if len(v) > 7 else 0
            out[int(parts[0][3:])] = (sum(v[:8]) - idle, sum(v[:8]), steal)
    return out


def parse_cpus(s):
    out = set()
    for part in s.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.update(range(int(a), int(b) + 1))
        else:
            out.add(int(part))
    return sorted(out)


def run_wrk(url, conns, duration, cpus, watch):
    """One wrk run; returns the SYBENCH dict plus CPU use of the watched processes."""
    env = dict(os.environ, SYBENCH_BODY=BODY, SYBENCH_HOOK="0" if NO_HOOK else "1")
    argv = ["taskset", "-c", cpus, "wrk", "-t1", "-c%d" % conns, "-d%ds" % duration, "--timeout", "5s",
            "-s", LUA, url]
    c0 = cpu_times()
    t0 = {k: p.cpu_ticks() for k, p in watch.items()}
    r0 = watch["proxy"].cpu_ticks_by_role() if "proxy" in watch else {}
    o0 = sum(p.cpu_ticks() for p in Proc.live)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall = time.monotonic() - w0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t1 = {k: p.cpu_ticks() for k, p in watch.items()}
    r1 = watch["proxy"].cpu_ticks_by_role() if "proxy" in watch else {}
    o1 = sum(p.cpu_ticks() for p in Proc.live)
    c1 = cpu_times()
    res = None
    for line in r.stdout.splitlines():
        if line.startswith("SYBENCH "):
            res = json.loads(line[8:])
    if r.returncode != 0 or res is None:
        die("wrk failed (rc %d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
    secs = res["duration_us"] / 1e6
    res["rps"] = res["requests"] / secs if secs > 0 else 0.0
    res["socket_errors"] = res["err_connect"] + res["err_read"] + res["err_write"] + res["err_timeout"]
    res["errors"] = res["non2xx"] + res["socket_errors"]
    for k in watch:
        res["cpu_%s_pct" % k] = 100.0 * (t1[k] - t0[k]) / CLK_TCK / wall
    res["cpu_wrk_pct"] = 100.0 * ((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)) / wall
    for cpu in c1:
        busy = c1[cpu][0] - c0[cpu][0]
        tot = c1[cpu][1] - c0[cpu][1]
        res["core%d_busy_pct" % cpu] = 100.0 * busy / tot if tot else 0.0
        res["core%d_steal_pct" % cpu] = 100.0 * (c1[cpu][2] - c0[cpu][2]) / tot if tot else 0.0
    # CPU used by processes that are not part of the benchmark (a shared machine):
    # all busy CPU time minus ours (servers, wrk)
    busy_s = sum(c1[c][0] - c0[c][0] for c in c1) / CLK_TCK
    ours_s = (o1 - o0) / CLK_TCK
    res["cpu_other_pct"] = max(0.0, 100.0 * (busy_s - ours_s) / wall - res["cpu_wrk_pct"])
    if r1 and res["requests"]:
        res["proxy_cpu_us_per_req_by_process"] = {
            k: (r1[k] - r0.get(k, 0)) / CLK_TCK * 1e6 / res["requests"] for k in sorted(r1)}
    if "cpu_proxy_pct" in res and res["requests"]:
        res["proxy_cpu_us_per_req"] = res["cpu_proxy_pct"] / 100.0 * wall * 1e6 / res["requests"]
    res["wrk_output"] = r.stdout
    return res


def other_load(seconds=0.5):
    """Busy CPU (% of one CPU, all CPUs together) of everything but our servers, which are idle now."""
    c0 = cpu_times()
    o0 = sum(p.cpu_ticks() for p in Proc.live)
    t0 = time.monotonic()
    time.sleep(seconds)
    c1 = cpu_times()
    o1 = sum(p.cpu_ticks() for p in Proc.live)
    wall = time.monotonic() - t0
    busy = sum(c1[c][0] - c0[c][0] for c in c1) - (o1 - o0)
    return max(0.0, 100.0 * busy / CLK_TCK / wall)


def wait_quiet(limit_s, threshold=15.0):
    """On a shared machine: wait (at most limit_s) until other processes use < threshold % CPU."""
    if limit_s <= 0:
        return other_load(0.3)
    deadline = time.monotonic() + limit_s
    said = False
    while True:
        load = other_load(0.5)
        if load < threshold or time.monotonic() >= deadline:
            if said:
                log("proxy_bench:   other load now %.0f%%%s" % (load, "" if load < threshold else
                                                                  " (gave up waiting)"))
            return load
        if not said:
            log("proxy_bench:   other processes use %.0f%% CPU; waiting up to %ds for a quiet machine" %
                (load, limit_s))
            said = True
        time.sleep(1.0)


def median_of(runs, key):
    vals = [r[key] for r in runs if key in r]
    return statistics.median(vals) if vals else None


# ---- report --------------------------------------------------------------------

def fmt(v, spec="%.0f"):
    return "-" if v is None else spec % v


def tool_version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=5)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


MODES = ("load", "c1", "c1one")


def mode_label(m, args):
    return {"load": "c=%d" % args.connections, "c1": "c=1", "c1one": "c=1 one CPU"}[m]


def report(results, args, info):
    tgts = [t for t in TARGETS if t in results]
    modes = [m for m in MODES if any(results[t][m] for t in tgts)]
    agg = {t: {m: {} for m in modes} for t in tgts}
    keys = ("rps", "p50_us", "p90_us", "p99_us", "p999_us", "mean_us", "max_us", "errors", "non2xx", "socket_errors",
            "cpu_proxy_pct", "proxy_cpu_us_per_req", "cpu_upstream_pct", "cpu_wrk_pct", "cpu_other_pct")
    for t in tgts:
        for m in modes:
            runs = results[t][m]
            if not runs:
                continue
            for k in keys:
                agg[t][m][k] = median_of(runs, k)
            agg[t][m]["errors_total"] = sum(r["errors"] for r in runs)
            agg[t][m]["redone"] = sum(r.get("redone", 0) for r in runs)
            for k in runs[0]:
                if k.startswith("core") and k.endswith("_pct"):
                    agg[t][m][k] = median_of(runs, k)

    def cells_of(fn):
        return "".join("%15s" % fn(t) for t in tgts)

    def row(label, mode, key, spec="%.0f", proxy_only=False):
        if mode not in modes:
            return
        print("  %-34s" % label + cells_of(lambda t: "-" if (proxy_only and t == "direct") or not agg[t][mode]
                                           else fmt(agg[t][mode].get(key), spec)))

    def added(mode, key, t):
        """Latency added versus direct; the one-CPU layout compares with direct c=1 (same placement)."""
        if "direct" not in agg or t not in agg or mode not in modes or not agg[t][mode]:
            return None
        a, d = agg[t][mode].get(key), agg["direct"]["c1" if mode == "c1one" else mode].get(key)
        return None if a is None or d is None else a - d

    def added_row(label, mode, key):
        if mode in modes:
            print("  %-34s" % label + cells_of(lambda t: "-" if t == "direct" else fmt(added(mode, key, t), "%+.0f")))

    print()
    print("switchyard proxy benchmark (bench/proxy_bench.py)")
    print("  machine   %s" % info["machine"])
    print("  tools     %s; %s; switchyard %s" % (info["wrk"], info["nginx"], info["sy"]))
    print("  pinning   proxy under test (all its processes) on CPU %s; upstream simllm (%d thread) on CPU %s; "
          "wrk (1 thread) on CPU %s" % (args.proxy_cpus, args.upstream_threads, args.upstream_cpus, args.wrk_cpus))
    if args.replicas > 1:
        print("  replicas  the upstream is listed %d times (%d endpoints of the model to pick from)" % (
            args.replicas, args.replicas))
    print("  request   POST %s, %d-byte JSON body (model in the body), keep-alive; %d-byte chat.completion back"
          % (PATH, len(BODY), info.get("resp_bytes", 0)))
    print("  runs      %d x %ds per measurement, each target after a %ds warm-up; medians over runs"
          % (args.runs, args.duration, args.warmup))
    print()
    print("  %-34s" % "" + "".join("%15s" % t for t in tgts))
    print("  throughput, wrk -t1 -c%d" % args.connections)
    row("requests/s", "load", "rps")
    row("p50 latency (us)", "load", "p50_us")
    row("p99 latency (us)", "load", "p99_us")
    row("proxy CPU (%% of CPU %s)" % args.proxy_cpus, "load", "cpu_proxy_pct", proxy_only=True)
    row("proxy CPU per request (us)", "load", "proxy_cpu_us_per_req", "%.1f", proxy_only=True)
    row("upstream CPU (%)", "load", "cpu_upstream_pct")
    row("wrk CPU (%)", "load", "cpu_wrk_pct")
    row("other processes' CPU (%)", "load", "cpu_other_pct")
    for cpu in parse_cpus(args.proxy_cpus + "," + args.upstream_cpus + "," + args.wrk_cpus):
        row("CPU %d busy (%%)" % cpu, "load", "core%d_busy_pct" % cpu)
    print("  latency, wrk -t1 -c1 (same pinning)")
    row("requests/s", "c1", "rps")
    row("p50 latency (us)", "c1", "p50_us")
    row("p90 latency (us)", "c1", "p90_us")
    row("p99 latency (us)", "c1", "p99_us")
    row("proxy CPU per request (us)", "c1", "proxy_cpu_us_per_req", "%.1f", proxy_only=True)
    row("other processes' CPU (%)", "c1", "cpu_other_pct")
    added_row("added p50 vs direct (us)", "c1", "p50_us")
    added_row("added p99 vs direct (us)", "c1", "p99_us")
    if "c1one" in modes:
        print("  latency, wrk -t1 -c1, everything on CPU %s (direct: as above)" % args.upstream_cpus)
        row("requests/s", "c1one", "rps")
        row("p50 latency (us)", "c1one", "p50_us")
        row("p99 latency (us)", "c1one", "p99_us")
        row("other processes' CPU (%)", "c1one", "cpu_other_pct")
        added_row("added p50 vs direct (us)", "c1one", "p50_us")
        added_row("added p99 vs direct (us)", "c1one", "p99_us")
    by = []
    for t in tgts:
        runs = results[t]["load"]
        if runs and runs[0].get("proxy_cpu_us_per_req_by_process"):
            roles = sorted({k for r in runs for k in r.get("proxy_cpu_us_per_req_by_process", {})})
            parts = ["%s %.1f" % (k, statistics.median(r["proxy_cpu_us_per_req_by_process"].get(k, 0.0)
                                                          for r in runs)) for k in roles]
            by.append("%s: %s" % (t, ", ".join(parts)))
    if by:
        print("  proxy CPU per request by process, c=%d (us)" % args.connections)
        for line in by:
            print("    " + line)
    print("  errors (non-2xx + socket), all runs")
    print("  %-34s" % "" + cells_of(lambda t: "%d" % sum(agg[t][m].get("errors_total", 0) for m in modes)))

    steal = max((v for t in tgts for m in modes for k, v in agg[t][m].items()
                 if k.startswith("core") and k.endswith("steal_pct") and v is not None), default=0.0)
    print()
    print("ratios and targets (issue 2; information, not a pass/fail)")
    for sy in ("switchyard", "switchyard-fe"):
        if sy in agg and "nginx" in agg:
            s, n = agg[sy]["load"]["rps"], agg["nginx"]["load"]["rps"]
            ratio = s / n if n else 0.0
            print("  %-13s / nginx requests/s at c=%d:     %.2f   (target >= %.2f: %s)" % (
                sy, args.connections, ratio, TARGET_RPS_RATIO, "met" if ratio >= TARGET_RPS_RATIO else "NOT met"))
            sc, nc = agg[sy]["load"]["proxy_cpu_us_per_req"], agg["nginx"]["load"]["proxy_cpu_us_per_req"]
            if sc and nc:
                print("  %-13s / nginx proxy CPU per request:  %.2f   (lower is better)" % (sy, sc / nc))
    for m in ("c1", "c1one"):
        where = "split CPUs" if m == "c1" else "one CPU"
        for t in ("switchyard", "switchyard-fe", "nginx"):
            if t not in agg or "direct" not in agg or m not in modes:
                continue
            a = added(m, "p50_us", t)
            if a is None:
                continue
            verdict = ("reference" if t == "nginx" else "target <= %d us: %s" % (
                TARGET_ADDED_P50_US, "met" if a <= TARGET_ADDED_P50_US else "NOT met"))
            print("  %-13s added p50 at c=1 (%s): %s%+5.0f us   (%s)" % (t, where, " " * (10 - len(where)), a,
                                                                         verdict))
    up_cpus = parse_cpus(args.upstream_cpus) + parse_cpus(args.wrk_cpus)
    for t in ("nginx", "switchyard", "switchyard-fe"):
        a = agg[t]["load"] if t in agg else {}
        if a.get("cpu_proxy_pct") is None or a["cpu_proxy_pct"] >= 85 or a["cpu_other_pct"] >= args.quiet_threshold:
            continue
        busy = [a.get("core%d_busy_pct" % c) for c in up_cpus if a.get("core%d_busy_pct" % c) is not None]
        if busy and min(busy) >= 90:
            print("  note: %s used %.0f%% of its CPU at c=%d: its requests/s is bounded by wrk + upstream on "
                  "CPU %s, compare proxy CPU per request" % (t, a["cpu_proxy_pct"], args.connections,
                                                             args.upstream_cpus))
        else:
            print("  note: %s used %.0f%% of its CPU at c=%d and CPU %s was not saturated either: requests "
                  "waited (wake-ups, a round trip), not for CPU" % (t, a["cpu_proxy_pct"], args.connections,
                                                                      args.upstream_cpus))
    other = max((r.get("cpu_other_pct", 0) for t in tgts for m in modes for r in results[t][m]), default=0)
    if other >= args.quiet_threshold:
        print("  WARNING: other processes used up to %.0f%% CPU during a kept measurement: the machine was not "
              "quiet, the figures are disturbed (run again when it is idle)" % other)
    redone = sum(agg[t][m].get("redone", 0) for t in tgts for m in modes)
    if redone:
        print("  note: %d measurement(s) were repeated because other processes disturbed them" % redone)
    if steal >= 2:
        print("  note: up to %.0f%% CPU steal during a measurement (virtual machine): expect noise" % steal)

    total_err = sum(agg[t][m].get("errors_total", 0) for t in tgts for m in modes)
    if total_err:
        print()
        print("!" * 78)
        print("!!! ERRORS: some requests failed; the figures above are NOT valid")
        for t in tgts:
            for m in modes:
                for i, r in enumerate(results[t][m]):
                    if r["errors"]:
                        print("!!!   %s %s run %d: %d non-2xx (first status %d), socket errors connect %d "
                              "read %d write %d timeout %d" % (t, mode_label(m, args), i + 1, r["non2xx"],
                                                                r["first_bad_status"], r["err_connect"],
                                                                r["err_read"], r["err_write"], r["err_timeout"]))
        print("!" * 78)
    return total_err, agg


def pin(proc, cpus):
    """Moves every thread of every process of a server to cpus."""
    for pid in proc.pids():
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), cpus)
            except OSError:
                pass


def measure(t, mode, url, conns, args, watch):
    """One measurement; repeated (at most --max-redo times) when other processes disturbed it."""
    redone = 0
    sent = 0
    while True:
        r = run_wrk(url, conns, args.duration, args.wrk_cpus, watch)
        sent += r["requests"]
        if r["cpu_other_pct"] < args.quiet_threshold or redone >= args.max_redo or r["errors"]:
            break
        redone += 1
        log("proxy_bench:   disturbed (other processes used %.0f%% CPU): measuring again (%d/%d)" % (
            r["cpu_other_pct"], redone, args.max_redo))
        wait_quiet(args.wait_quiet, args.quiet_threshold)
    r["redone"] = redone
    r["requests_all_tries"] = sent
    r.pop("wrk_output", None)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", nargs="?", default=os.path.join(".", "build"), help="meson build dir (./build)")
    ap.add_argument("--duration", type=int, default=None, help="seconds per measurement (10; --quick: 2)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections for the throughput run (32)")
    ap.add_argument("--warmup", type=int, default=None, help="warm-up seconds before each target (2; --quick: 1)")
    ap.add_argument("--runs", type=int, default=1, help="repeat the whole matrix, report medians (1)")
    ap.add_argument("--quick", action="store_true", help="smoke check: 2 s per measurement, no waiting")
    ap.add_argument("--targets", default=",".join(DEFAULT_TARGETS),
                    help="comma-separated, from direct,nginx,switchyard,switchyard-fe (the first three); "
                         "switchyard-fe is the frontend alone, without the router (diagnostic)")
    ap.add_argument("--proxy-cpus", default="0", help="taskset CPU list of the proxy under test (0)")
    ap.add_argument("--upstream-cpus", default=None, help="CPU list of the upstream (1)")
    ap.add_argument("--wrk-cpus", default=None, help="CPU list of wrk (1)")
    ap.add_argument("--no-one-cpu", action="store_true",
                    help="skip the extra c=1 measurement with the proxy moved onto the upstream's CPU")
    ap.add_argument("--upstream-threads", type=int, default=1, help="simllm threads (1)")
    ap.add_argument("--workers", type=int, default=1, help="switchyard server.workers (1)")
    ap.add_argument("--replicas", type=int, default=1,
                    help="list the upstream N times (as N replicas of the model) in switchyard's and nginx's "
                         "config, so that every request needs a pick among N endpoints (1)")
    ap.add_argument("--wait-quiet", type=int, default=None, metavar="S",
                    help="before each target, wait up to S seconds for other processes to go quiet (60; --quick: 0)")
    ap.add_argument("--quiet-threshold", type=float, default=15.0, metavar="PCT",
                    help="'quiet': other processes use less than PCT %% of one CPU (15)")
    ap.add_argument("--max-redo", type=int, default=None,
                    help="repeat a measurement disturbed by other processes at most N times (2; --quick: 0)")
    ap.add_argument("--no-status-hook", action="store_true",
                    help="count errors with wrk's own counter (status >= 400) instead of the Lua response() hook "
                         "(which checks for 2xx but costs wrk CPU)")
    ap.add_argument("--json", metavar="FILE", help="also write all results as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs)")
    args = ap.parse_args()
    global NO_HOOK
    NO_HOOK = args.no_status_hook
    if args.duration is None:
        args.duration = 2 if args.quick else 10
    if args.warmup is None:
        args.warmup = 1 if args.quick else 2
    if args.wait_quiet is None:
        args.wait_quiet = 0 if args.quick else 60
    if args.max_redo is None:
        args.max_redo = 0 if args.quick else 2
    ncpu = os.cpu_count() or 1
    other = "1" if ncpu > 1 else "0"
    args.upstream_cpus = args.upstream_cpus or other
    args.wrk_cpus = args.wrk_cpus or other
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    for t in targets:
        if t not in TARGETS:
            die("unknown target %r" % t)
    if ncpu == 1:
        log("proxy_bench: warning: one CPU, everything shares it")
    one_cpu = (not args.no_one_cpu and parse_cpus(args.proxy_cpus) != parse_cpus(args.upstream_cpus))

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    ensure_tools()
    workdir = tempfile.mkdtemp(prefix="sybench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    build = os.path.abspath(args.build)
    try:
        sy, sim = find_binaries(build, workdir)
        info = {
            "machine": "%d CPUs (%s), Linux %s" % (ncpu, cpu_model(), platform.release()),
            "wrk": tool_version(["wrk", "-v"]).split(" Copyright")[0],
            "nginx": tool_version([nginx_exe(), "-v"]).replace("nginx version: ", ""),
            "sy": git_describe(),
        }
        upstream, up_port = start_upstream(sim, args.upstream_cpus, workdir, args.upstream_threads)
        ports = {"direct": up_port}
        proxies = {}
        if "nginx" in targets:
            proxies["nginx"], ports["nginx"] = start_nginx(up_port, args.proxy_cpus, workdir, args.replicas)
        if "switchyard" in targets:
            proxies["switchyard"], ports["switchyard"] = start_switchyard(sy, up_port, args.proxy_cpus, workdir,
                                                                          args.workers, "run", args.replicas)
        if "switchyard-fe" in targets:
            proxies["switchyard-fe"], ports["switchyard-fe"] = start_switchyard(sy, up_port, args.proxy_cpus,
                                                                                workdir, args.workers, "frontend",
                                                                                args.replicas)
        for t in targets:
            verify(t, ports[t])
        info["resp_bytes"] = response_bytes(up_port)

        results = {t: {m: [] for m in MODES} for t in targets}
        n_before = upstream_completed(up_port)
        n_sent = 0
        for run in range(args.runs):
            order = targets[run % len(targets):] + targets[:run % len(targets)]
            for t in order:
                url = "http://127.0.0.1:%d%s" % (ports[t], PATH)
                watch = {"upstream": upstream}
                if t in proxies:
                    watch["proxy"] = proxies[t]
                    if not proxies[t].alive():
                        die("%s died:\n%s" % (t, proxies[t].tail()))
                wait_quiet(args.wait_quiet, args.quiet_threshold)
                if args.warmup > 0:
                    w = run_wrk(url, args.connections, args.warmup, args.wrk_cpus, {})
                    n_sent += w["requests"]
                plan = [("load", args.connections), ("c1", 1)]
                if one_cpu and t in proxies:
                    plan.append(("c1one", 1))
                for mode, conns in plan:
                    log("proxy_bench: run %d/%d  %-10s %s  %ds" % (run + 1, args.runs, t, mode_label(mode, args),
                                                                  args.duration))
                    if mode == "c1one":
                        pin(proxies[t], parse_cpus(args.upstream_cpus))
                    try:
                        r = measure(t, mode, url, conns, args, watch)
                    finally:
                        if mode == "c1one":
                            pin(proxies[t], parse_cpus(args.proxy_cpus))
                    n_sent += r["requests_all_tries"]
                    results[t][mode].append(r)
                    log("proxy_bench:   %8.0f req/s  p50 %5d us  p99 %6d us  errors %d  other load %.0f%%" % (
                        r["rps"], r["p50_us"], r["p99_us"], r["errors"], r["cpu_other_pct"]))
        n_up = upstream_completed(up_port) - n_before
        total_err, agg = report(results, args, info)
        # every request wrk counted reached the upstream (nothing was answered by a proxy itself)
        print("  upstream saw %d chat requests, wrk completed %d (requests in flight when a run stops differ)"
              % (n_up, n_sent))
        for t, p in proxies.items():
            if not p.alive():
                print("!!! %s is no longer running (exit status %s)" % (t, p.p.returncode))
                total_err += 1
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"info": info, "args": vars(args), "median": agg, "runs": results}, f, indent=1)
        if args.keep:
            print("  work directory kept: %s" % workdir)
        return 1 if total_err else 0
    finally:
        cleanup()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def response_bytes(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("POST", PATH, BODY, {"Content-Type": "application/json"})
    r = c.getresponse()
    n = len(r.read())
    c.close()
    return n


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def git_describe():
    try:
        r = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True,
                           timeout=5)
        return r.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


if __name__ == "__main__":
    sys.exit(main())
