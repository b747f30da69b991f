#!/usr/bin/python3
"""switchyard under resource exhaustion: slow-loris connections, slow
stream readers, the connection limit; fds and memory per connection.

Not a test: it never passes or fails on timing; each figure is printed
next to its baseline, measured in the same run. Two instances of `switchyard
run` in front of one fast simllm (no time to first token, no inter-token
delay, so that switchyard's own costs show):

A. defaults (server.header_timeout_ms 10 s, max_connections 10000), with
   server.send_timeout_ms set to --send-timeout-ms (10 s, to keep the run
   short; the default is 60 s):
   1. quiet: --clients closed-loop clients, each on its kept-alive
      connection, send small non-streaming chat requests for --seconds;
      p50 / p99 latency;
   2. --loris slow-loris connections (default 2000), opened at ~500/s, each
      sending its request head one byte a second and opening again when it
      is answered or closed; once all are open, the frontend's RSS and fds
      (per connection: the difference to the idle figures / the count), then
      the same clients again: p50 / p99 next to the quiet ones (target p99
      within 2x); what the loris connections got (408 after how long);
   3. --readers streaming clients (default 100) that read a fast stream
      (--reader-tokens tokens, ~200 bytes each) slowly, 16 KiB every
      100 ms: the frontend's RSS while they read, per reader, against what
      the upstream would have sent meanwhile; then one client that never
      reads: when the frontend closes it (send_timeout_ms);
B. server.max_connections --limit (200): that many idle connections held,
   then --attempts connections more, one after another: each must get the
   503 too_many_connections with Retry-After; connect-to-answer p50 / p99,
   next to the p50 / p99 of a request answered normally (GET /health) with
   the limit not reached.

Usage: bench/exhaust.py [BUILD_DIR] [--loris 2000] [--seconds 20]
       [--clients 2] [--readers 100] [--limit 200] [--attempts 300] [--json FILE]
Raises its own RLIMIT_NOFILE soft limit to the hard one (the switchyard
processes it starts inherit it). Python standard library only.
"""
import argparse
import collections
import http.client
import json
import os
import resource
import selectors
import signal
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)
from harness import Sim, Switchyard, metric, recv_until, wait_for  # noqa: E402
from soak import sample  # noqa: E402

MODEL = "exhaust-model"
CHAT = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4})
LORIS_HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: "


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def frontend(sy):
    """(pid, rss KiB, fds) of the instance's frontend."""
    return sample(sy.procs["run"].pid).get("frontend", (0, 0, 0))


def latency_run(port, clients, seconds):
    """Closed-loop chat requests: (latencies in ms, failures)."""
    lat, bad = [], [0]
    lock = threading.Lock()
    stop = time.time() + seconds

    def one():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        mine = []
        while time.time() < stop:
            t = time.perf_counter()
            try:
                c.request("POST", "/v1/chat/completions", CHAT, {"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                if r.status != 200:
                    with lock:
                        bad[0] += 1
                    continue
                mine.append((time.perf_counter() - t) * 1000.0)
            except (OSError, http.client.HTTPException):
                with lock:
                    bad[0] += 1
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        c.close()
        with lock:
            lat.extend(mine)

    ts = [threading.Thread(target=one) for _ in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return lat, bad[0]


class Loris:
    """n connections sending a request head one byte a second, each at its
    own phase of the second, reopened when answered or closed. Runs in a
    process of its own (the clients measured here must not wait for its
    Python lock); results come back through a pipe when it stops."""

    def __init__(self, port, n, rate=500):
        self.port, self.n, self.rate = port, n, rate
        self.stop_r, self.stop_w = os.pipe()
        self.res_r, self.res_w = os.pipe()
        self.results = None

    def start(self):
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.stop_w)
            os.close(self.res_r)
            try:
                out = self.run()
                with os.fdopen(self.res_w, "w") as f:
                    json.dump(out, f)
            finally:
                os._exit(0)
        os.close(self.stop_r)
        os.close(self.res_w)

    def join(self):
        os.close(self.stop_w)  # the child sees EOF: stop
        with os.fdopen(self.res_r) as f:
            data = f.read()
        os.waitpid(self.pid, 0)
        self.results = json.loads(data) if data else {}
        return self.results

    def run(self):
        sel = selectors.DefaultSelector()
        sel.register(self.stop_r, selectors.EVENT_READ)
        conns = {}  # sock -> [opened at, bytes sent, answer bytes]
        due = collections.deque()  # (time of the next byte, sock), in time order
        answers, after = {}, []
        silent = connect_errors = 0

        def drop(s):
            sel.unregister(s)
            del conns[s]
            s.close()

        while True:
            now = time.time()
            for _ in range(max(1, self.rate // 100)):  # open (and reopen) at most rate per second
                if len(conns) >= self.n:
                    break
                s = socket.socket()
                s.setblocking(False)
                try:
                    s.connect(("127.0.0.1", self.port))
                except BlockingIOError:
                    pass
                except OSError:
                    connect_errors += 1
                    s.close()
                    continue
                conns[s] = [now, 0, b""]
                sel.register(s, selectors.EVENT_READ)
                due.append((now + 0.05, s))
            while due and due[0][0] <= now:
                _, s = due.popleft()
                st = conns.get(s)
                if st is None:
                    continue
                try:
                    st[1] += s.send(LORIS_HEAD if st[1] == 0 else b"a")
                except BlockingIOError:
                    pass
                except OSError:
                    silent += 1
                    drop(s)
                    continue
                due.append((now + 1.0, s))
            for key, _ in sel.select(timeout=0.01):
                s = key.fileobj
                if s == self.stop_r:
                    for c in list(conns):
                        drop(c)
                    return {"answers": answers, "after": after, "silent": silent, "connect_errors": connect_errors}
                st = conns.get(s)
                if st is None:
                    continue
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    st[2] += data
                    if b"\r\n" not in st[2]:
                        continue
                    line = st[2].split(b"\r\n", 1)[0].decode("latin-1")
                    answers[line] = answers.get(line, 0) + 1
                    after.append(time.time() - st[0])
                elif not st[2]:
                    silent += 1
                drop(s)


def slow_readers(sy, n, tokens, seconds):
    """n streaming clients reading 16 KiB every 100 ms for `seconds`:
    (frontend RSS KiB samples, bytes the readers got, completed streams)."""
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                       "max_tokens": tokens, "stream": True}).encode()
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body) + body)
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", sy.port), timeout=10)
        s.setblocking(False)
        s.sendall(req)
        socks.append(s)
    got, done, rss = 0, 0, []
    end = time.time() + seconds
    next_sample = time.time() + 1
    while time.time() < end and socks:
        for s in list(socks):
            try:
                d = s.recv(16384)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if not d:
                socks.remove(s)
                s.close()
                done += 1
                continue
            got += len(d)
        if time.time() >= next_sample:
            next_sample += 1
            rss.append(frontend(sy)[1])
        time.sleep(0.1)
    for s in socks:
        s.close()
    return rss, got, done


def never_reader(sy, tokens):
    """Seconds until the frontend closes a client that never reads (the
    kernel buffers filled first), or None."""
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                       "max_tokens": tokens, "stream": True}).encode()
    m0 = metric(sy.metrics(), "switchyard_client_send_timeouts_total") or 0
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.connect(("127.0.0.1", sy.port))
    t0 = time.time()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    ok = wait_for(lambda: (metric(sy.metrics(), "switchyard_client_send_timeouts_total") or 0) > m0,
                  timeout=120, interval=0.25)
    took = time.time() - t0
    s.close()
    return took if ok else None


def limit_phase(sy, limit, attempts):
    """limit idle connections held, then attempts more: (503 latencies ms,
    other outcomes, Retry-After values, /health latencies ms below the limit)."""
    base = []
    for _ in range(attempts):
        t = time.perf_counter()
        st, _, _ = sy.request("GET", "/health")
        if st == 200:
            base.append((time.perf_counter() - t) * 1000.0)
    held = []
    for _ in range(limit):
        held.append(socket.create_connection(("127.0.0.1", sy.port), timeout=10))
    wait_for(lambda: (metric(sy.metrics(), "switchyard_open_connections") or 0) >= limit, timeout=10)
    time.sleep(0.5)  # the /metrics connection above has gone
    lat, other, retry = [], {}, {}
    for _ in range(attempts):
        t = time.perf_counter()
        try:
            s = socket.create_connection(("127.0.0.1", sy.port), timeout=10)
            data = recv_until(s)
            s.close()
        except OSError as e:
            other[str(e)] = other.get(str(e), 0) + 1
            continue
        ms = (time.perf_counter() - t) * 1000.0
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        if head.startswith("HTTP/1.1 503") and b"too_many_connections" in data:
            lat.append(ms)
            for line in head.split("\r\n"):
                if line.lower().startswith("retry-after:"):
                    v = line.split(":", 1)[1].strip()
                    retry[v] = retry.get(v, 0) + 1
        else:
            k = head.split("\r\n")[0] or "closed without an answer"
            other[k] = other.get(k, 0) + 1
    for s in held:
        s.close()
    return lat, other, retry, base


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--loris", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=20, help="each latency measurement")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--readers", type=int, default=100)
    ap.add_argument("--reader-tokens", type=int, default=50000)
    ap.add_argument("--reader-seconds", type=float, default=30)
    ap.add_argument("--send-timeout-ms", type=int, default=10000)
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--attempts", type=int, default=300)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.loris + args.readers + args.limit + 1024
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(want, soft)), hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < want:
        sys.exit("exhaust: RLIMIT_NOFILE %d < %d needed (raise the hard limit: ulimit -Hn)" % (soft, want))

    exe = os.path.join(args.build, "supervisor", "switchyard")
    simexe = os.path.join(args.build, "tests", "simllm", "simllm")
    for p in (exe, simexe):
        if not os.access(p, os.X_OK):
            sys.exit("exhaust: %s is missing: build first (meson setup build && ninja -C build)" % p)

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    out = {"rlimit_nofile": soft}
    sim = Sim(simexe, "fast", [MODEL], extra=["--ttft-ms", "0", "--itl-ms", "0", "--max-tokens", "4",
                                             "--max-model-len", "100000000", "--threads", "2"])
    sy = sy2 = None
    loris = None
    try:
        sim.start()
        sy = Switchyard(exe, [sim], workers=2)
        with open(sy.config) as f:
            cfg = f.read()
        with open(sy.config, "w") as f:
            f.write(cfg.replace("  drain_timeout_ms: 10000\n", "  drain_timeout_ms: 10000\n  send_timeout_ms: %d\n"
                                % args.send_timeout_ms))
        sy.start()
        print("exhaust: switchyard on port %d, 2 workers, header_timeout_ms 10 s (default), send_timeout_ms %d ms, "
              "RLIMIT_NOFILE %d" % (sy.port, args.send_timeout_ms, soft), flush=True)
        latency_run(sy.port, args.clients, 2)  # warm-up
        time.sleep(1)
        pid, rss0, fds0 = frontend(sy)
        print("\n1. quiet: %d clients, %.0f s" % (args.clients, args.seconds), flush=True)
        q, qbad = latency_run(sy.port, args.clients, args.seconds)
        print("   %d requests, p50 %.3f ms, p99 %.3f ms, %d failed" % (len(q), pct(q, 50), pct(q, 99), qbad))
        print("   frontend idle: RSS %d KiB, %d fds" % (rss0, fds0), flush=True)

        print("\n2. %d slow-loris connections (one header byte a second)" % args.loris, flush=True)
        loris = Loris(sy.port, args.loris)
        loris.start()
        opened = wait_for(lambda: (metric(sy.metrics(), "switchyard_open_connections") or 0) >= args.loris,
                          timeout=60, interval=0.5)
        om = metric(sy.metrics(), "switchyard_open_connections") or 0
        _, rss1, fds1 = frontend(sy)
        per_rss = (rss1 - rss0) * 1024.0 / max(1, om - 1)
        per_fd = (fds1 - fds0) / max(1.0, om - 1)
        print("   %s: %d open; frontend RSS %d KiB, %d fds: %.0f bytes and %.2f fds per connection"
              % ("all open" if opened else "NOT all open", om, rss1, fds1, per_rss, per_fd), flush=True)
        lo, lbad = latency_run(sy.port, args.clients, args.seconds)
        om2 = metric(sy.metrics(), "switchyard_open_connections") or 0
        print("   under loris: %d requests, p50 %.3f ms, p99 %.3f ms, %d failed (quiet: p50 %.3f ms, p99 %.3f ms); "
              "p99 ratio %.2f (target <= 2); %d connections open at the end"
              % (len(lo), pct(lo, 50), pct(lo, 99), lbad, pct(q, 50), pct(q, 99), pct(lo, 99) / pct(q, 99), om2),
              flush=True)
        lr = loris.join()
        aa = lr.get("after", [])
        print("   the loris connections got: %s; answered after p50 %.1f s, min %.1f s, max %.1f s; "
              "%d closed without an answer, %d connect errors"
              % (dict(sorted(lr.get("answers", {}).items())), pct(aa, 50), min(aa) if aa else float("nan"),
                 max(aa) if aa else float("nan"), lr.get("silent", 0), lr.get("connect_errors", 0)), flush=True)
        out.update({"quiet_ms": {"p50": pct(q, 50), "p99": pct(q, 99), "n": len(q), "failed": qbad},
                    "loris_ms": {"p50": pct(lo, 50), "p99": pct(lo, 99), "n": len(lo), "failed": lbad},
                    "loris_open": om, "loris_answers": lr.get("answers"), "loris_answer_after_p50_s": pct(aa, 50),
                    "idle_rss_kib": rss0, "idle_fds": fds0, "loris_rss_kib": rss1, "loris_fds": fds1,
                    "bytes_per_conn": per_rss, "fds_per_conn": per_fd})
        loris = None
        wait_for(lambda: (metric(sy.metrics(), "switchyard_open_connections") or 0) <= 1, timeout=20)
        time.sleep(1)
        _, rss2, fds2 = frontend(sy)
        print("   after they went: frontend RSS %d KiB, %d fds" % (rss2, fds2), flush=True)

        print("\n3. %d slow stream readers (16 KiB every 100 ms) of a %d-token stream, %.0f s"
              % (args.readers, args.reader_tokens, args.reader_seconds), flush=True)
        rss_s, got, done = slow_readers(sy, args.readers, args.reader_tokens, args.reader_seconds)
        peak = max(rss_s) if rss_s else 0
        per = (peak - rss2) * 1024.0 / max(1, args.readers)
        print("   frontend RSS before %d KiB, while reading (1 s samples) %s KiB: peak +%d KiB, %.0f bytes per "
              "reader (the code's bound: 64 KiB upstream read buffer + 128 KiB client output buffer + 16 KiB "
              "input + 3 KiB state); the readers got %.1f MiB in all (%d streams finished), the upstream would "
              "send %.0f MiB" % (rss2, rss_s, peak - rss2, per, got / 1048576.0, done,
                                 args.readers * args.reader_tokens * 200 / 1048576.0), flush=True)
        wait_for(lambda: (metric(sy.metrics(), "switchyard_open_connections") or 0) <= 1, timeout=20)
        time.sleep(3)
        _, rss3, fds3 = frontend(sy)
        print("   after they went: frontend RSS %d KiB, %d fds" % (rss3, fds3), flush=True)
        took = never_reader(sy, 100000)
        print("   a client that never reads (a 100000-token stream): closed after %s (send_timeout_ms %d)"
              % ("%.1f s" % took if took is not None else "NOT within 120 s", args.send_timeout_ms), flush=True)
        out.update({"readers_rss_kib": rss_s, "readers_rss_before_kib": rss2, "bytes_per_reader": per,
                    "readers_got_bytes": got, "never_reader_closed_s": took})
        sy.stop()
        sy = None

        print("\n4. connection limit: max_connections %d held, %d connections more" % (args.limit, args.attempts),
              flush=True)
        sy2 = Switchyard(exe, [sim], workers=2)
        with open(sy2.config) as f:
            cfg = f.read()
        with open(sy2.config, "w") as f:
            f.write(cfg.replace("  drain_timeout_ms: 10000\n", "  drain_timeout_ms: 10000\n  max_connections: %d\n"
                                "  header_timeout_ms: 60000\n" % args.limit))
        sy2.start()
        lat, other, retry, base = limit_phase(sy2, args.limit, args.attempts)
        print("   %d answered 503 too_many_connections, connect-to-close p50 %.3f ms, p99 %.3f ms; Retry-After %s; "
              "other outcomes %s" % (len(lat), pct(lat, 50), pct(lat, 99), retry, other or "none"))
        print("   below the limit, GET /health on a new connection: p50 %.3f ms, p99 %.3f ms" % (pct(base, 50),
                                                                                              pct(base, 99)))
        out.update({"limit_503_ms": {"p50": pct(lat, 50), "p99": pct(lat, 99), "n": len(lat)},
                    "limit_other": other, "retry_after": retry,
                    "health_ms": {"p50": pct(base, 50), "p99": pct(base, 99)}})
    except KeyboardInterrupt:
        print("exhaust: interrupted")
    finally:
        if loris:
            loris.join()
        for s in (sy, sy2):
            if s:
                s.stop()
        sim.kill()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
