#!/usr/bin/python3
"""switchyard fault campaign: steady load through the appliance while one
fault at a time is injected; what the clients saw, per scenario.

Not a test (not in the default run; it never fails on timing). For each
scenario it starts fresh simllm replicas (rep-a, rep-b: models m1, general,
math-model, cs-model; ttft 20 ms, itl 5 ms, 8 tokens) and `switchyard run`
(supervisor, frontend, router, classifier with the shipped model), then
drives a closed-loop load, each client on its own kept-alive connection:

  chat    plain chat requests (model m1)
  stream  "stream": true chat requests (model m1), read to the end
  auto    plain chat requests with model "auto" (classifier, then routed)

Phases: --warm seconds of load, --fault seconds with the fault on, --recover
seconds after it is undone. Per scenario it prints the requests in flight
when the fault came or started after it (until the end of recover): sent, answered OK, failed by status, streams cut
with the SSE error event (and on which replica), lost (no answer: reset,
timeout, broken framing), auto requests answered by default_model; and p99
latency of the OK chat / auto / stream requests during the fault vs the
warm phase before it. Then the targets, met or not.

Scenarios (--only NAME[,NAME]):
  kill-frontend     SIGKILL the frontend (the supervisor restarts it)
  kill-router       SIGKILL the router
  kill-classifier   SIGKILL the classifier
  kill-supervisor   SIGKILL `switchyard run` (children get SIGTERM and drain);
                    restarted after 1 s, as systemd's Restart= would
  stop-router       SIGSTOP the router for the fault, then SIGCONT
  stop-classifier   SIGSTOP the classifier for the fault, then SIGCONT
  ring-full         SIGSTOP the classifier under 6x the auto clients, each
                    prompt 12 KB (rings of 64 KiB, whose messages are at most
                    16 KiB), so that the rings to it fill before it is seen
                    stopped (its heartbeat is 1 s old)
  replica-kill      SIGKILL rep-a (started again on its port to recover)
  replica-hang      rep-a accepts and never answers completions (health OK)
  replica-stop      SIGSTOP rep-a (health checks time out as well)
  replica-reset     rep-a resets every connection after 2 tokens
  replica-5xx       rep-a answers 503 to every completion
  replica-slow-accept  rep-a behind a proxy with a backlog of 1 that stops
                    accepting: new connections to it hang in connect
  reload            the configuration rewritten (rep-b's weight 1 <-> 2) and
                    SIGHUP every second

Configuration used: 2 workers, health every 200 ms (1 s timeout, 2
failures in a row), proxy.first_byte_timeout_ms 3000 (the default, 60 s, is for
slow prefills: a hung replica would hold a request that long), classifier
timeout_ms 500, default_model general, guard.on_classifier_error allow.
Clients time out after 10 s.

Usage: python3 bench/faults.py [BUILD_DIR] [--warm 2] [--fault 3] [--recover 2]
       [--only NAME,...] [--chat 4] [--stream 4] [--auto 2] [--json FILE]
Python standard library only.
"""
import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402
from harness import Sim, Switchyard, metric, wait_port  # noqa: E402

MODELS = ["m1", "general", "math-model", "cs-model"]
CLIENT_TIMEOUT = 10.0
AUTO_PROMPTS = ["What is 2+2 and why?", "Explain how a linked list differs from an array.",
                "Tell me about the weather in spring.", "Integrate x^2 from 0 to 3."]

CONFIG = """
proxy:
  first_byte_timeout_ms: 3000
auto_aliases: [auto]
default_model: general
confidence_threshold: 0.3
classifier:
  model: %(model)s
  timeout_ms: 500
guard:
  on_classifier_error: allow
categories:
  - {name: math, model_scores: [{model: math-model, score: 1.0}]}
  - {name: computer science, model_scores: [{model: cs-model, score: 0.9}]}
"""


class Proxy:
    """TCP relay in front of a replica, listening with a backlog of 1;
    stop_accepting() stops taking new connections (they wait in connect
    once the backlog is full), resume() takes them again."""

    def __init__(self, name, target_port):
        self.name, self.models, self.engine = name, MODELS, "vllm"
        self.target = target_port
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.accepting = threading.Event()
        self.accepting.set()
        self.closed = False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.closed:
            self.accepting.wait()
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                c.close()
                continue
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.closed = True
        self.accepting.set()
        self.srv.close()


class Rec:
    __slots__ = ("kind", "t0", "dt", "outcome", "replica", "detail")

    def __init__(self, kind, t0, dt, outcome, replica=None, detail=None):
        self.kind, self.t0, self.dt, self.outcome, self.replica, self.detail = kind, t0, dt, outcome, replica, detail


class Load(harness.Load):
    """Closed-loop clients of the three kinds; every request is recorded."""

    def __init__(self, port, n_chat, n_stream, n_auto, auto_pad=0):
        self.kinds = ["chat"] * n_chat + ["stream"] * n_stream + ["auto"] * n_auto
        super().__init__(port, len(self.kinds))
        self.auto_pad = auto_pad
        self.recs = []

    def body(self, kind, i):
        if kind == "auto":
            text = AUTO_PROMPTS[i % len(AUTO_PROMPTS)]
            if self.auto_pad:
                text = ("lorem ipsum %d " % i) * (self.auto_pad // 16) + text
            b = {"model": "auto", "messages": [{"role": "user", "content": text}],
                 "max_tokens": 8}
        else:
            b = {"model": "m1", "messages": [{"role": "user", "content": "hello %d" % i}], "max_tokens": 8}
            if kind == "stream":
                b["stream"] = True
        return json.dumps(b)

    def one(self, c, kind, i):
        """(outcome, replica, detail, connection usable)."""
        c.request("POST", "/v1/chat/completions", self.body(kind, i), {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        keep = r.getheader("connection", "").lower() != "close"
        rep = r.getheader("x-simllm-replica")
        if r.status != 200:
            return r.status, rep, data[:120], keep
        if kind == "stream":
            if b"upstream_stream_error" in data:
                return "cut", rep, None, keep
            if not data.rstrip().endswith(b"data: [DONE]"):
                return "lost", rep, b"no [DONE]: " + data[-80:], keep
            return "ok", rep, r.getheader("x-switchyard-retries"), keep
        clf = r.getheader("x-switchyard-classifier")
        if kind == "auto" and clf in ("unavailable", "timeout", "ring_full", "error"):
            # sent to default_model because the classifier did not answer
            return ("ok-default" if r.getheader("x-vsr-selected-model") == "general" else "ok"), rep, clf, keep
        return "ok", rep, r.getheader("x-switchyard-retries"), keep

    def run_one(self, k):
        kind = self.kinds[k]
        c, i = None, k * 100000
        while not self.stop_flag.is_set():
            i += 1
            t0 = time.monotonic()
            try:
                if c is None:
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CLIENT_TIMEOUT)
                out, rep, detail, keep = self.one(c, kind, i)
            except (OSError, http.client.HTTPException) as e:
                out, rep, detail, keep = "lost", None, type(e).__name__, False
            rec = Rec(kind, t0, time.monotonic() - t0, out, rep, detail)
            with self.lock:
                self.recs.append(rec)
            if not keep:
                c.close()
                c = None
            if out == "lost" or isinstance(out, int) and out >= 500:
                time.sleep(0.02)  # nothing listening: no busy loop
        if c:
            c.close()


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * 0.99))] * 1000 if xs else float("nan")


class App:
    """Replicas + switchyard run for one scenario."""

    def __init__(self, build, slow_proxy=False):
        self.sy_exe = os.path.join(build, "supervisor", "switchyard")
        self.sim_exe = os.path.join(build, "tests", "simllm", "simllm")
        self.sims = [Sim(self.sim_exe, n, MODELS, extra=["--ttft-ms", "20", "--itl-ms", "5", "--threads", "2"])
                     for n in ("rep-a", "rep-b")]
        for s in self.sims:
            s.start()
        self.proxy = None
        ups = list(self.sims)
        if slow_proxy:
            self.proxy = Proxy("rep-a", self.sims[0].port)
            ups[0] = self.proxy
        self.ups = ups
        self.sy = Switchyard(self.sy_exe, ups, extra_yaml=CONFIG % {"model": os.path.join(ROOT, "models", "default")})
        self.tune()
        self.sy.start()
        # the classifier loads its model after the others are up
        harness.wait_for(lambda: self.sy.request("POST", "/v1/chat/completions", {
            "model": "auto", "messages": [{"role": "user", "content": "2+2 is"}], "max_tokens": 2})[1].get(
            "x-switchyard-classifier") == "ok", 30)

    def pid(self, role):
        if role == "supervisor":
            return self.sy.procs["run"].pid
        p = self.sy.pids(role)
        return p[0] if p else None

    def restart_supervisor(self):
        """A new `switchyard run` once the old children are gone (the instance lock)."""
        self.sy.procs["run"].wait()
        harness.wait_for(lambda: not (self.sy.pids("frontend") or self.sy.pids("router") or
                                      self.sy.pids("classifier")), 15)
        env = dict(os.environ, SWITCHYARD_LOG_LEVEL="info")
        self.sy.procs["run"] = subprocess.Popen([self.sy_exe, "run", "-c", self.sy.config], stdout=self.sy.log,
                                                stderr=self.sy.log, env=env)
        wait_port(self.sy.port, 15)

    def tune(self, edit=lambda text: text):
        """The harness's configuration, with health checks that a loaded
        machine does not fail by themselves (timeout 1 s, 2 failures in a
        row), edited by edit."""
        with open(self.sy.config) as f:
            text = f.read()
        tuned = text.replace("  timeout_ms: 300\n  unhealthy_threshold: 1\n", "  timeout_ms: 1000\n  unhealthy_threshold: 2\n")
        assert tuned != text, "the harness's health settings changed: update App.tune"
        text = tuned
        with open(self.sy.config, "w") as f:
            f.write(edit(text))

    def set_weight(self, w):
        """Rewrites the configuration with rep-b's weight w."""
        self.sy.write_config(self.ups, CONFIG % {"model": os.path.join(ROOT, "models", "default")}, 2)
        self.tune(lambda text: text.replace("    url: http://127.0.0.1:%d\n" % self.sims[1].port,
                            "    url: http://127.0.0.1:%d\n    weight: %d\n" % (self.sims[1].port, w)))

    def stop(self):
        for s in self.sims:
            if s.proc and s.proc.poll() is None:
                try:
                    os.kill(s.proc.pid, signal.SIGCONT)
                except OSError:
                    pass
        for role in ("router", "classifier"):
            for p in self.sy.pids(role):
                try:
                    os.kill(p, signal.SIGCONT)
                except OSError:
                    pass
        self.sy.stop()
        for s in self.sims:
            s.kill()
        if self.proxy:
            self.proxy.close()


def sig(pid, s):
    if pid:
        try:
            os.kill(pid, s)
        except OSError:
            pass


class Scenario:
    """inject(app) starts the fault and may return a thread-like object
    whose stop() is called at the end of the fault; undo(app) ends it."""

    def __init__(self, name, inject, undo=None, load_scale=(1, 1, 1), slow_proxy=False, auto_pad=0):
        self.name, self.inject, self.undo, self.load_scale, self.slow_proxy = name, inject, undo, load_scale, slow_proxy
        self.auto_pad = auto_pad


def kill_role(role):
    return lambda app: sig(app.pid(role), signal.SIGKILL)


def stop_role(role):
    def inject(app):
        app.stopped = app.pid(role)
        sig(app.stopped, signal.SIGSTOP)

    def undo(app):
        sig(app.stopped, signal.SIGCONT)
    return inject, undo


def kill_supervisor(app):
    sig(app.pid("supervisor"), signal.SIGKILL)
    time.sleep(1.0)
    app.restart_supervisor()


def replica_kill(app):
    app.sims[0].kill()


def replica_restart(app):
    app.sims[0].start()


def knob(**k):
    return lambda app: app.sims[0].configure(**k)


def replica_stop(app):
    sig(app.sims[0].proc.pid, signal.SIGSTOP)


def replica_cont(app):
    sig(app.sims[0].proc.pid, signal.SIGCONT)


def slow_accept(app):
    app.proxy.accepting.clear()


def slow_accept_undo(app):
    app.proxy.accepting.set()


class Reloader:
    def __init__(self, app):
        self.app, self.flag = app, threading.Event()
        self.n = 0
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.flag.is_set():
            self.n += 1
            self.app.set_weight(2 if self.n % 2 else 1)
            sig(self.app.pid("supervisor"), signal.SIGHUP)
            self.flag.wait(1.0)

    def stop(self):
        self.flag.set()
        self.t.join()


def reload_start(app):
    app.reloader = Reloader(app)


def reload_stop(app):
    app.reloader.stop()


SCENARIOS = [
    Scenario("kill-frontend", kill_role("frontend")),
    Scenario("kill-router", kill_role("router")),
    Scenario("kill-classifier", kill_role("classifier")),
    Scenario("kill-supervisor", kill_supervisor),
    Scenario("stop-router", *stop_role("router")),
    Scenario("stop-classifier", *stop_role("classifier")),
    Scenario("ring-full", *stop_role("classifier"), load_scale=(1, 1, 6), auto_pad=12000),
    Scenario("replica-kill", replica_kill, replica_restart),
    Scenario("replica-hang", knob(hang_rate=1), knob(hang_rate=0)),
    Scenario("replica-stop", replica_stop, replica_cont),
    Scenario("replica-reset", knob(reset_rate=1, reset_after=2), knob(reset_rate=0)),
    Scenario("replica-5xx", knob(error_rate=1, error_status=503), knob(error_rate=0)),
    Scenario("replica-slow-accept", slow_accept, slow_accept_undo, slow_proxy=True),
    Scenario("reload", reload_start, reload_stop),
]


def summarize(name, recs, t_fault, t_recover, t_end, fallbacks):
    # the warm phase's second half: connections made, pools filled
    # before: done before the fault, in the warm phase's second half
    # (connections made, pools filled); during: in flight when the fault
    # came or started after it (faultwin: before it was undone)
    before = [r for r in recs if (t_fault + recs[0].t0) / 2 <= r.t0 and r.t0 + r.dt < t_fault] if recs else []
    during = [r for r in recs if r.t0 + r.dt >= t_fault and r.t0 < t_end]
    faultwin = [r for r in recs if r.t0 + r.dt >= t_fault and r.t0 < t_recover]
    s = {"scenario": name, "sent": len(during), "ok": 0, "failed": {}, "cut": {}, "lost": 0, "lost_detail": {},
         "auto_default": 0, "failed_plain": 0, "lost_by_kind": {}}
    for r in during:
        if r.outcome in ("ok", "ok-default"):
            s["ok"] += 1
            if r.outcome == "ok-default":
                s["auto_default"] += 1
        elif r.outcome == "cut":
            s["cut"][r.replica or "?"] = s["cut"].get(r.replica or "?", 0) + 1
        elif r.outcome == "lost":
            s["lost"] += 1
            s["lost_by_kind"][r.kind] = s["lost_by_kind"].get(r.kind, 0) + 1
            d = r.detail.decode("utf-8", "replace") if isinstance(r.detail, bytes) else str(r.detail)
            s["lost_detail"][d[:40]] = s["lost_detail"].get(d[:40], 0) + 1
        else:
            key = "%s %d" % (r.kind, r.outcome)
            s["failed"][key] = s["failed"].get(key, 0) + 1
            s.setdefault("failed_detail", {}).setdefault(key, str(r.detail)[:160])
            if r.kind != "stream":
                s["failed_plain"] += 1
    for kind in ("chat", "auto", "stream"):
        s["p99_before_" + kind] = p99([r.dt for r in before if r.kind == kind and isinstance(r.outcome, str) and
                                       r.outcome.startswith("ok")])
        s["p99_during_" + kind] = p99([r.dt for r in faultwin if r.kind == kind and isinstance(r.outcome, str) and
                                       r.outcome.startswith("ok")])
    s["max_auto_during"] = max([r.dt for r in faultwin if r.kind == "auto"] or [0]) * 1000
    s["fallbacks"] = fallbacks
    s["replicas_before"] = {}
    for r in before:
        s["replicas_before"][str(r.replica)] = s["replicas_before"].get(str(r.replica), 0) + 1
    s["auto_default_before"] = sum(1 for r in recs if r.t0 < t_fault and r.outcome == "ok-default")
    s["auto_before"] = sum(1 for r in recs if r.t0 < t_fault and r.kind == "auto")
    s["slowest"] = [(r.kind, round(r.t0 - t_fault, 3), round(r.dt, 3), str(r.outcome), r.replica, str(r.detail))
                    for r in sorted(recs, key=lambda r: -r.dt)[:5]]
    return s


def run_scenario(build, sc, args):
    app = App(build, slow_proxy=sc.slow_proxy)
    try:
        n = (args.chat * sc.load_scale[0], args.stream * sc.load_scale[1], args.auto * sc.load_scale[2])
        m0 = app.sy.metrics()
        with Load(app.sy.port, *n, auto_pad=sc.auto_pad) as load:
            time.sleep(args.warm)
            t_fault = time.monotonic()
            sc.inject(app)
            time.sleep(max(0.0, args.fault - (time.monotonic() - t_fault)))
            t_recover = time.monotonic()
            if sc.undo:
                sc.undo(app)
            time.sleep(args.recover)
            t_end = time.monotonic()
        m1 = app.sy.metrics()
        fb = {}
        for reason in ("timeout", "unavailable", "ring_full", "error"):
            key = 'switchyard_classifier_fallbacks_total{reason="%s"}' % reason
            v1 = sum(float(ln.split()[-1]) for ln in m1.splitlines() if ln.startswith(key))
            v0 = sum(float(ln.split()[-1]) for ln in m0.splitlines() if ln.startswith(key))
            if v1 - v0 > 0:
                fb[reason] = int(v1 - v0)  # a restarted frontend starts at 0: a lower bound
        with load.lock:
            recs = list(load.recs)
        s = summarize(sc.name, recs, t_fault, t_recover, t_end, fb)
        s["retries"] = metric(m1, "switchyard_upstream_retries_total")
        s["clients"] = sum(n)
        return s
    finally:
        app.stop()


def fmt_counts(d):
    return ", ".join("%s: %d" % kv for kv in sorted(d.items())) or "0"


def print_table(results, args):
    print("\n| scenario | sent | OK | failed (by status) | streams cut (SSE error, replica) | lost | "
          "auto -> default_model (classifier down) | p99 ms chat before/during | p99 ms auto before/during | p99 ms stream before/during |")
    print("|---|---:|---:|---|---|---|---|---|---|---|")
    for s in results:
        lost = "%d" % s["lost"] + (" (%s)" % fmt_counts(s["lost_by_kind"]) if s["lost"] else "")
        print("| %s | %d | %d | %s | %s | %s | %d | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f |" % (
            s["scenario"], s["sent"], s["ok"], fmt_counts(s["failed"]), fmt_counts(s["cut"]), lost,
            s["auto_default"], s["p99_before_chat"], s["p99_during_chat"], s["p99_before_auto"],
            s["p99_during_auto"], s["p99_before_stream"], s["p99_during_stream"]))
    print()
    for s in results:
        if s["lost"]:
            print("%s lost: %s" % (s["scenario"], fmt_counts(s["lost_detail"])))
        if s["fallbacks"]:
            print("%s classifier fallbacks (whole run): %s; max auto latency during the fault %.0f ms; "
                  "before the fault %d of %d auto requests went to default_model" %
                  (s["scenario"], fmt_counts(s["fallbacks"]), s["max_auto_during"], s["auto_default_before"],
                   s["auto_before"]))


def targets(results):
    """(target, met, why) lines."""
    by = {s["scenario"]: s for s in results}
    out = []
    healthy = [n for n in by if n.startswith("replica-") or n in ("kill-router", "stop-router", "reload",
                                                                   "kill-classifier", "stop-classifier", "ring-full")]
    bad = ["%s: %d failed, %s lost" % (n, by[n]["failed_plain"], fmt_counts(
        {k: v for k, v in by[n]["lost_by_kind"].items() if k != "stream"}))
        for n in healthy if by[n]["failed_plain"] or any(k != "stream" for k in by[n]["lost_by_kind"])]
    if healthy:
        out.append(("zero failed/lost non-streamed requests while a healthy replica exists", not bad,
                    "; ".join(bad) or ", ".join(healthy)))
    cuts = ["%s: cut %s, lost %d" % (n, fmt_counts(by[n]["cut"]), by[n]["lost_by_kind"].get("stream", 0))
            for n in healthy if by[n]["cut"] or by[n]["lost_by_kind"].get("stream")]
    wrong = [c for n in healthy for c in by[n]["cut"] if c != "rep-a"] + \
        [n for n in healthy if by[n]["lost_by_kind"].get("stream")] + \
        [n for n in healthy if by[n]["cut"] and n not in ("replica-kill", "replica-reset", "replica-stop")]
    if healthy:
        out.append(("streams cut only on the replica that died, with the SSE error event", not wrong,
                    "; ".join(cuts) or "no stream cut"))
    if "kill-frontend" in by:
        s = by["kill-frontend"]
        out.append(("a frontend's death costs at most the connections it held",
                    s["lost"] <= s["clients"] and not s["failed"],
                    "%d lost of %d client connections (one request in flight each), failed %s" %
                    (s["lost"], s["clients"], fmt_counts(s["failed"]))))
    for n in ("stop-classifier", "ring-full"):
        if n in by:
            s = by[n]
            out.append(("%s: auto -> default_model within the timeout, no pile-up" % n,
                        s["auto_default"] > 0 and not s["failed_plain"] and not s["lost"] and
                        s["p99_during_auto"] < 500 + 1000,
                        "%d auto answered by default_model, p99 auto %.0f ms (timeout 500 ms), max %.0f ms, %s" %
                        (s["auto_default"], s["p99_during_auto"], s["max_auto_during"], fmt_counts(s["fallbacks"]))))
    if "stop-router" in by:
        s = by["stop-router"]
        out.append(("a stopped router changes nothing visible", not s["failed"] and not s["lost"] and not s["cut"],
                    "failed %s, lost %d, p99 chat %.0f -> %.0f ms" % (fmt_counts(s["failed"]), s["lost"],
                                                                      s["p99_before_chat"], s["p99_during_chat"])))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--warm", type=float, default=2)
    ap.add_argument("--fault", type=float, default=3)
    ap.add_argument("--recover", type=float, default=2)
    ap.add_argument("--only", default="")
    ap.add_argument("--chat", type=int, default=4)
    ap.add_argument("--stream", type=int, default=4)
    ap.add_argument("--auto", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n]
    todo = [s for s in SCENARIOS if not names or s.name in names]
    unknown = set(names) - {s.name for s in SCENARIOS}
    if unknown:
        sys.exit("unknown scenario(s): %s (known: %s)" % (", ".join(sorted(unknown)),
                                                         ", ".join(s.name for s in SCENARIOS)))
    results = []
    for sc in todo:
        print("== %s" % sc.name, flush=True)
        results.append(run_scenario(args.build, sc, args))
        s = results[-1]
        print("   sent %d ok %d failed %s cut %s lost %d" % (s["sent"], s["ok"], fmt_counts(s["failed"]),
                                                             fmt_counts(s["cut"]), s["lost"]), flush=True)
    print_table(results, args)
    print("\ncommand: python3 bench/faults.py --warm %g --fault %g --recover %g%s" %
          (args.warm, args.fault, args.recover, " --only " + args.only if args.only else ""))
    for t, ok, why in targets(results):
        print("%s %s: %s" % ("MET    " if ok else "NOT MET", t, why))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
