"""Saturation and shedding against real processes. One slow replica
(--max-running 1) serves model m1; router.saturation.queue_depth 1 makes it
saturated as soon as one request waits there. Then:
  - a request waits in the router's queue (queue.max 1) and gets 503 with
    Retry-After when queue.timeout_ms passes while the replica stays full;
  - while the queue is full, a request marked x-switchyard-sheddable gets
    429 at once, an unmarked one 503, both with Retry-After;
  - a queued request is served (200) when the replica frees up in time;
  - a queued request whose router stops answering gets the same 503 from
    the frontend's own deadline, not a place at the full replica.
(The frontend's switchyard_queued_total / switchyard_shed_total count them.)
Checks outcomes, never durations. Nothing waits a fixed time for the
gateway: the test polls until the router reports the replica saturated
(admin API) and until a request is counted as queued, and it frees the
replica on demand (simllm's itl_ms set to 0) instead of waiting for the
streams to end, so a slow machine cannot let a request pass the router by
or leave the queue early.
usage: test_saturation.py SWITCHYARD SIMLLM"""
import json
import os
import signal
import sys
import threading
import time

from harness import Admin, Check, Sim, Switchyard, chat, free_port, metric, post, recv_until, wait_for

MODEL = "m1"
RETRY_AFTER = 2
TOKEN = "saturation-test-token-0123456789"
ITL_MS = 100
# the saturating streams: 2 x 60 tokens x 100 ms keep the replica full for
# 12 s unless the test frees it (itl_ms 0); the queue timeout (3 s) is far
# from both that and the router's 50 ms scrapes. pick_timeout_us: the
# frontend waits for a queued request's answer until queue.timeout_ms plus
# pick_timeout_us, then picks on its own (a dead router); at the default
# 2 ms a loaded machine's late 503 lost that race and the request was
# served: generous here, where the router is never dead (see
# switchyard_fallback_picks_total, checked 0 below)
YAML = """router:
  policy: scorer
  pick_timeout_us: 500000
  scrape_interval_ms: 50ms
  stale_after_ms: 5s
  saturation: {queue_depth: 1}
  queue: {max: 1, timeout_ms: 3000ms}
  retry_after_s: %d
admin:
  listen: "127.0.0.1:%d"
  token: %s
"""


def stream_open(sy, max_tokens):
    """A streaming request left running; returns the socket (read by drain())."""
    return post(sy.port, dict(chat(MODEL, "block"), stream=True, max_tokens=max_tokens), b"Connection: close\r\n",
                timeout=30)


def drain(s, out):
    try:
        data = recv_until(s)
    except OSError:
        data = b""
    s.close()
    out.append(data)


def router_saturated(admin):
    """The router's view of the one upstream: saturated (admin API)."""
    st, body = admin.req("GET", "/admin/upstreams")
    ups = body.get("data") if isinstance(body, dict) else None
    return st == 200 and isinstance(ups, list) and len(ups) == 1 and ups[0].get("saturated") is True


def saturate(sy, sim, admin):
    """Two streams: one runs, one waits at the replica; returns once the
    router sees the replica saturated. Returns (ok, threads, outputs)."""
    outs, threads = [], []
    for _ in range(2):
        s = stream_open(sy, 60)
        t = threading.Thread(target=drain, args=(s, outs))
        t.start()
        threads.append(t)
        wait_for(lambda: sim.stats()["running"] + sim.stats()["waiting"] >= len(threads), 10, 0.02)
    ok = wait_for(lambda: sim.stats()["waiting"] >= 1, 10, 0.02)
    ok = ok and wait_for(lambda: router_saturated(admin), 10, 0.02)
    time.sleep(0.1)  # the snapshot is published in the same router wake-up; a margin for the frontend's read
    return ok, threads, outs


def queued_count(sy):
    return metric(sy.metrics(), "switchyard_queued_total") or 0


def free_replica(sim, blockers, outs):
    """Lets the saturating streams finish now; checks they completed."""
    sim.configure(itl_ms=0)
    for t in blockers:
        t.join(30)
    sim.configure(itl_ms=ITL_MS)
    return all(o.count(b"data: [DONE]") == 1 for o in outs)


def request_async(sy, headers, results, key):
    def run():
        results[key] = sy.request("POST", "/v1/chat/completions", chat(MODEL, "queued"), headers=headers,
                                  timeout=20)
    t = threading.Thread(target=run)
    t.start()
    return t


def main():
    exe, simllm = sys.argv[1], sys.argv[2]
    check = Check("saturation")
    sim = Sim(simllm, "slow", [MODEL], extra=["--max-running", "1", "--itl-ms", str(ITL_MS)]).start()
    admin_port = free_port()
    sy = Switchyard(exe, [sim], extra_yaml=YAML % (RETRY_AFTER, admin_port, TOKEN))
    admin = Admin(admin_port, TOKEN)
    try:
        sy.start()
        check(wait_for(lambda: admin.req("GET", "/admin/upstreams")[0] == 200, 10), "admin API answers")
        check(wait_for(lambda: not router_saturated(admin) and sy.request("GET", "/ready")[0] == 200, 10),
              "ready, replica not saturated")
        st, h, _ = sy.request("POST", "/v1/chat/completions", chat(MODEL))
        check(st == 200, "not saturated: 200 (%d)" % st)

        # phase 1: the replica stays full past the queue timeout
        ok, blockers, outs = saturate(sy, sim, admin)
        check(ok, "the replica queues the second stream; the router sees it saturated")
        res = {}
        queued = request_async(sy, None, res, "queued")
        check(wait_for(lambda: queued_count(sy) >= 1, 10, 0.01), "the request is queued in the router")
        # the queue (max 1) is full now, for the 3 s of queue.timeout_ms
        shed = sy.request("POST", "/v1/chat/completions", chat(MODEL), headers={"x-switchyard-sheddable": "true"})
        plain = sy.request("POST", "/v1/chat/completions", chat(MODEL))
        check(shed[0] == 429, "queue full, sheddable: 429 (%d %s)" % (shed[0], shed[2][:200]))
        check(shed[1].get("retry-after") == str(RETRY_AFTER), "429 has Retry-After: %r" % shed[1].get("retry-after"))
        check(plain[0] == 503, "queue full, not sheddable: 503 (%d %s)" % (plain[0], plain[2][:200]))
        check(plain[1].get("retry-after") == str(RETRY_AFTER), "503 has Retry-After: %r" % plain[1].get("retry-after"))
        try:
            body = json.loads(plain[2])
            err = body.get("error") if isinstance(body, dict) else None
            check(isinstance(err, dict) and err.get("message") and err.get("type") and err.get("code"),
                  "OpenAI-style error body: message, type, code (%r)" % body)
        except ValueError:
            check(False, "503 body is JSON: %r" % plain[2][:200])
        queued.join(20)
        q = res.get("queued", (0, {}, b""))
        check(q[0] == 503, "queued past queue.timeout_ms: 503 (%d %s)" % (q[0], q[2][:200]))
        check(q[1].get("retry-after") == str(RETRY_AFTER), "... with Retry-After: %r" % q[1].get("retry-after"))
        check(any(t.is_alive() for t in blockers),
              "the replica was still full when the queued request timed out")
        check(free_replica(sim, blockers, outs), "the saturating streams completed")
        check(wait_for(lambda: sim.stats()["running"] == 0, 10, 0.02), "replica idle again")
        check(wait_for(lambda: not router_saturated(admin), 10, 0.02), "the router sees the replica idle again")
        time.sleep(0.1)  # as in saturate(): the frontend's read of the snapshot
        st, _, _ = sy.request("POST", "/v1/chat/completions", chat(MODEL))
        check(st == 200, "idle again: 200 (%d)" % st)

        # phase 2: the replica frees up (the test lets the streams finish) within the timeout
        ok, blockers, outs = saturate(sy, sim, admin)
        check(ok, "the replica queues the second stream; the router sees it saturated (phase 2)")
        res = {}
        queued = request_async(sy, {"x-switchyard-sheddable": "1"}, res, "queued")
        check(wait_for(lambda: queued_count(sy) >= 2, 10, 0.01), "the request is queued in the router (phase 2)")
        check(free_replica(sim, blockers, outs), "the saturating streams completed (phase 2)")
        queued.join(20)
        q = res.get("queued", (0, {}, b""))
        check(q[0] == 200, "queued, then served when the replica had room: 200 (%d %s)" % (q[0], q[2][:200]))
        check(wait_for(lambda: sim.stats()["running"] == 0 and not router_saturated(admin), 10, 0.02),
              "idle again (phase 2)")

        # phase 3: the router stops answering while a request waits in its
        # queue; the frontend's own deadline answers as the router's queue
        # timeout would (503, Retry-After) while its snapshot has the replica
        # saturated, instead of sending the request to the full replica
        ok, blockers, outs = saturate(sy, sim, admin)
        check(ok, "the replica queues the second stream; the router sees it saturated (phase 3)")
        res = {}
        queued = request_async(sy, None, res, "queued")
        check(wait_for(lambda: queued_count(sy) >= 3, 10, 0.01), "the request is queued in the router (phase 3)")
        routers = sy.pids("router")
        check(len(routers) == 1, "the router's pid: %r" % routers)
        for pid in routers:
            os.kill(pid, signal.SIGSTOP)
        try:
            queued.join(20)
        finally:
            for pid in routers:
                os.kill(pid, signal.SIGCONT)
        q = res.get("queued", (0, {}, b""))
        check(q[0] == 503, "router stopped while queued: 503 from the frontend (%d %s)" % (q[0], q[2][:200]))
        check(q[1].get("retry-after") == str(RETRY_AFTER), "... with Retry-After: %r" % q[1].get("retry-after"))
        check(any(t.is_alive() for t in blockers), "the replica was still full then (phase 3)")
        check(free_replica(sim, blockers, outs), "the saturating streams completed (phase 3)")

        text = sy.metrics()
        counters = {n: metric(text, n) for n in ("switchyard_queued_total", "switchyard_shed_total",
                                                 "switchyard_fallback_picks_total")}
        print(counters)
        check(not counters.get("switchyard_fallback_picks_total"),
              "the router answered every pick, none made by the frontend on its own: %r" % counters)
        check(counters.get("switchyard_queued_total") == 3, "three requests were queued in the router: %r" % counters)
        check(counters.get("switchyard_shed_total") == 4, "four were shed: %r" % counters)
    finally:
        sy.stop()
        sim.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
