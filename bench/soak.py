#!/usr/bin/python3
"""switchyard soak: hours of mixed traffic with reloads and upstream
restarts, watching every switchyard process's memory and file descriptors.

Not a test: it never passes or fails on timing. It starts two simllm
replicas of one model and `switchyard run` (supervisor, frontend, router,
classifier with the embedded default model) in front of them, then for
--minutes minutes drives, each on its own kept-alive connection:

  chat        POST /v1/chat/completions, non-streaming
  stream      the same with "stream": true, read event by event to [DONE]
  auto        model "auto" (the classifier picks the category, the
              category the model), paced (--auto-pause-ms): the classifier
              runs on the CPU
  embeddings  POST /v1/embeddings

and every --interval seconds (60) it alternately (a) rewrites the
configuration (router.retry_after_s and confidence_threshold flip) and sends
SIGHUP to `switchyard run`, or (b) SIGKILLs one replica and starts it
again on the same port a second later -- both happen every two intervals,
half an interval apart -- and samples, per switchyard process (run,
frontend, router, classifier), its RSS (/proc/PID/status VmRSS) and its
open file descriptors (/proc/PID/fd), printing one line per interval.

The summary compares each process's last sample with the one at the end
of the warm-up (--warmup minutes, default 5): RSS change in percent and the
least-squares slope in KiB per minute over the samples after the warm-up,
and the fd count's change. The targets (RSS flat within 5 % after warm-up,
no fd growth) are printed next to the figures, as information.

Usage: bench/soak.py [BUILD_DIR] [--minutes 30] [--interval 60]
       [--warmup 5] [--pause-ms 2] [--json FILE]
Python standard library only. BUILD_DIR defaults to ./build.
"""
import argparse
import http.client
import json
import os
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import Sim, Switchyard  # noqa: E402

MODEL = "soak-model"
MODEL_DIR = os.environ.get("SWITCHYARD_TEST_MODEL", os.path.join(ROOT, "models", "default"))
KINDS = ("chat", "stream", "auto", "embeddings")
PROMPTS = ("Linux is said to be an open source kernel because ", "2+2 is ",
           "Explain the causes of the French revolution.", "What is a good way to invest savings?")


def extra_yaml(flip):
    """The part of the configuration that the reloads change."""
    return """router:
  retry_after_s: %d
auto_aliases: [auto]
default_model: %s
confidence_threshold: %s
classifier:
  model: %s
  timeout_ms: 2000
categories:
  - name: math
    model_scores:
      - {model: %s, score: 1.0}
  - name: computer science
    model_scores:
      - {model: %s, score: 0.9}
""" % (2 if flip else 1, MODEL, "0.35" if flip else "0.3", MODEL_DIR, MODEL, MODEL)


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def proc_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def role_of(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            args = f.read().split(b"\0")
        return args[1].decode() if len(args) > 1 else "?"
    except OSError:
        return "?"


def sample(run_pid):
    """{role: (pid, rss KiB, fds)} of `switchyard run` and its children."""
    out = {}
    for pid in [run_pid] + children(run_pid):
        try:
            out[role_of(pid)] = (pid, proc_rss_kib(pid), proc_fds(pid))
        except OSError:
            pass
    return out


class Traffic:
    def __init__(self, port, pause_s, auto_pause_s):
        self.port, self.pause_s, self.auto_pause_s = port, pause_s, auto_pause_s
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = {k: {} for k in KINDS}  # kind -> {status: n}; status 0: no answer

    def count(self, kind, status):
        with self.lock:
            d = self.counts[kind]
            d[status] = d.get(status, 0) + 1

    def take(self):
        with self.lock:
            c, self.counts = self.counts, {k: {} for k in KINDS}
        return c

    def one(self, conn, kind, i):
        if kind == "embeddings":
            path, body = "/v1/embeddings", {"model": MODEL, "input": "soak text %d" % i}
        else:
            model = "auto" if kind == "auto" else MODEL
            body = {"model": model, "max_tokens": 8,
                    "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)] + str(i)}]}
            if kind == "stream":
                body["stream"] = True
            path = "/v1/chat/completions"
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = conn.getresponse()
        if kind == "stream" and r.status == 200:
            ok = False
            while True:
                line = r.readline()
                if not line:
                    break
                if line.startswith(b"data: [DONE]"):
                    ok = True
            r.read()
            status = 200 if ok else 1  # 1: the stream ended without [DONE]
        else:
            r.read()
            status = r.status
        # a stream cut short (its upstream went away) ends its connection
        return status, status == 1 or r.getheader("connection", "").lower() == "close"

    def loop(self, kind):
        conn, i = None, 0
        pause = self.auto_pause_s if kind == "auto" else self.pause_s
        while not self.stop.is_set():
            i += 1
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
                status, close = self.one(conn, kind, i)
                self.count(kind, status)
                if close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                self.count(kind, 0)
                if conn:
                    conn.close()
                conn = None
            if pause:
                time.sleep(pause)
        if conn:
            conn.close()

    def start(self):
        self.threads = [threading.Thread(target=self.loop, args=(k,), daemon=True) for k in KINDS]
        for t in self.threads:
            t.start()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=20)


def slope(xs, ys):
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--interval", type=float, default=60, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=5, help="minutes before the reference sample")
    ap.add_argument("--pause-ms", type=float, default=2, help="pause between a client's requests")
    ap.add_argument("--auto-pause-ms", type=float, default=50, help="pause between auto requests")
    ap.add_argument("--json", help="write the samples here")
    args = ap.parse_args()

    exe = os.path.join(args.build, "supervisor", "switchyard")
    simexe = os.path.join(args.build, "tests", "simllm", "simllm")
    for p in (exe, simexe):
        if not os.access(p, os.X_OK):
            sys.exit("soak: %s is missing: build first (meson setup build && ninja -C build)" % p)

    sims = [Sim(simexe, "soak-%d" % k, [MODEL], extra=["--ttft-ms", "2", "--itl-ms", "1", "--max-tokens", "8"])
            for k in range(2)]
    sy = None
    traffic = None

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    samples = []
    try:
        for s in sims:
            s.start()
        flip = False
        sy = Switchyard(exe, sims, extra_yaml(flip), workers=2)
        sy.start()
        run_pid = sy.procs["run"].pid
        traffic = Traffic(sy.port, args.pause_ms / 1000.0, args.auto_pause_ms / 1000.0)
        traffic.start()
        t0 = time.time()
        end = t0 + args.minutes * 60
        step = 0
        print("soak: %.0f min, sample every %.0f s, warm-up %.0f min; reload and replica restart every %.0f s "
              "(alternating, half an interval apart); switchyard on port %d"
              % (args.minutes, args.interval, args.warmup, 2 * args.interval, sy.port), flush=True)
        header = None
        while True:
            step += 1
            next_t = t0 + step * args.interval
            # half an interval in: one of the two disturbances
            mid = next_t - args.interval / 2
            time.sleep(max(0.0, mid - time.time()))
            if time.time() >= end:
                break
            if step % 2 == 1:
                flip = not flip
                sy.write_config(sims, extra_yaml(flip), workers=2)
                sy.signal(signal.SIGHUP)
                event = "reload"
            else:
                s = sims[(step // 2) % 2]
                s.kill()
                time.sleep(1.0)
                s.start()
                event = "restart " + s.name
            time.sleep(max(0.0, next_t - time.time()))
            m = (time.time() - t0) / 60.0
            snap = sample(run_pid)
            counts = traffic.take()
            samples.append({"minute": m, "event": event, "procs": snap, "counts": counts})
            roles = sorted(snap)
            if header != roles:
                header = roles
                print("%6s  %-16s %s  %s" % ("min", "event", "  ".join("%-24s" % ("%s rss KiB/fds" % r)
                                                                        for r in roles), "requests ok/failed"))
            ok = sum(d.get(200, 0) for d in counts.values())
            bad = sum(n for d in counts.values() for st, n in d.items() if st != 200)
            print("%6.1f  %-16s %s  %d/%d" % (m, event, "  ".join("%-24s" % ("%d / %d" % (snap[r][1], snap[r][2]))
                                                                   for r in roles), ok, bad), flush=True)
            if bad:
                print("        failed: %s" % ", ".join("%s %s" % (k, {st: n for st, n in d.items() if st != 200})
                                                        for k, d in counts.items() if any(st != 200 for st in d)))
            if time.time() >= end:
                break
    except KeyboardInterrupt:
        print("soak: interrupted", flush=True)
    finally:
        if traffic:
            traffic.join()
        if sy:
            sy.stop()
        for s in sims:
            s.kill()

    # sanitizer builds (-Db_sanitize=address): the reports land in the log
    log = sy.read_log() if sy else ""
    for pat in ("LeakSanitizer", "AddressSanitizer", "runtime error:"):
        if pat in log:
            i = log.index(pat)
            print("soak: the switchyard log has a %s report:\n%s" % (pat, log[max(0, i - 200):i + 6000]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(samples, f, indent=1)
    after = [s for s in samples if s["minute"] >= args.warmup - 1e-6]
    if len(after) < 2:
        print("soak: too short for a summary after a %.0f-minute warm-up (%d samples)" % (args.warmup, len(samples)))
        return 0
    first, last = after[0], after[-1]
    total = {}
    for s in samples:
        for k, d in s["counts"].items():
            for st, n in d.items():
                total.setdefault(k, {}).setdefault(st, 0)
                total[k][st] += n
    print("\nrequests over the run: %s" % "; ".join("%s %s" % (k, dict(sorted(d.items()))) for k, d in total.items()))
    print("after the warm-up (minute %.1f -> %.1f):" % (first["minute"], last["minute"]))
    print("%-12s %12s %12s %8s %14s %8s %8s" % ("process", "RSS KiB", "-> KiB", "change", "slope KiB/min",
                                              "fds", "-> fds"))
    for role in sorted(last["procs"]):
        if role not in first["procs"]:
            continue
        xs = [s["minute"] for s in after if role in s["procs"]]
        ys = [s["procs"][role][1] for s in after if role in s["procs"]]
        r0, r1 = first["procs"][role][1], last["procs"][role][1]
        f0, f1 = first["procs"][role][2], last["procs"][role][2]
        pid_changed = first["procs"][role][0] != last["procs"][role][0]
        print("%-12s %12d %12d %7.1f%% %14.1f %8d %8d%s" % (role, r0, r1, 100.0 * (r1 - r0) / r0 if r0 else 0,
                                                          slope(xs, ys), f0, f1,
                                                          "  (restarted: pid changed)" if pid_changed else ""))
    print("targets: RSS within 5 % of the post-warm-up sample, no fd growth")
    return 0


if __name__ == "__main__":
    sys.exit(main())
