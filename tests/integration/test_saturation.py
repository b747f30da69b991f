"""Saturation and shedding against real processes. One slow replica
(--max-running 1) serves model m1; router.saturation.queue_depth 1 makes it
saturated as soon as one request waits there. Then:
  - a request waits in the router's queue (queue.max 1) and gets 503 with
    Retry-After when queue.timeout_ms passes while the replica stays full;
  - while the queue is full, a request marked x-switchyard-sheddable gets
    429 at once, an unmarked one 503, both with Retry-After;
  - a queued request is served (200) when the replica frees up in time.
(The frontend's switchyard_queued_total / switchyard_shed_total count them.)
Checks outcomes, never durations (the margins are seconds).
usage: test_saturation.py SWITCHYARD SIMLLM"""
import json
import sys
import threading
import time

from harness import Check, Sim, Switchyard, chat, metric, post, recv_until, wait_for

MODEL = "m1"
RETRY_AFTER = 2
YAML = """router:
  policy: scorer
  scrape_interval_ms: 50ms
  stale_after_ms: 5s
  saturation: {queue_depth: 1}
  queue: {max: 1, timeout_ms: 1500ms}
  retry_after_s: %d
""" % RETRY_AFTER


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


def saturate(sy, sim, max_tokens):
    """Two streams: one runs, one waits at the replica. Returns (threads, outputs)."""
    outs, threads = [], []
    for _ in range(2):
        s = stream_open(sy, max_tokens)
        t = threading.Thread(target=drain, args=(s, outs))
        t.start()
        threads.append(t)
        time.sleep(0.05)
    ok = wait_for(lambda: sim.stats()["waiting"] >= 1, 5, 0.02)
    time.sleep(0.3)  # a scrape shows it; the snapshot publishes it
    return ok, threads, outs


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
    sim = Sim(simllm, "slow", [MODEL], extra=["--max-running", "1", "--itl-ms", "100"]).start()
    sy = Switchyard(exe, [sim], extra_yaml=YAML)
    try:
        sy.start()
        time.sleep(1.0)
        st, h, _ = sy.request("POST", "/v1/chat/completions", chat(MODEL))
        check(st == 200, "not saturated: 200 (%d)" % st)

        # phase 1: the replica stays full (2 x 40 tokens x 100 ms) past the queue timeout
        ok, blockers, outs = saturate(sy, sim, 40)
        check(ok, "the replica queues the second stream")
        res = {}
        queued = request_async(sy, None, res, "queued")
        time.sleep(0.3)  # it is in the router's queue now; the queue (max 1) is full
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
        for t in blockers:
            t.join(30)
        check(all(o.count(b"data: [DONE]") == 1 for o in outs), "the saturating streams completed")
        check(wait_for(lambda: sim.stats()["running"] == 0, 10, 0.02), "replica idle again")
        time.sleep(0.3)
        st, _, _ = sy.request("POST", "/v1/chat/completions", chat(MODEL))
        check(st == 200, "idle again: 200 (%d)" % st)

        # phase 2: the replica frees up (the first of 2 x 10 tokens x 100 ms) within the timeout
        ok, blockers, outs = saturate(sy, sim, 10)
        check(ok, "the replica queues the second stream (phase 2)")
        res = {}
        queued = request_async(sy, {"x-switchyard-sheddable": "1"}, res, "queued")
        queued.join(20)
        q = res.get("queued", (0, {}, b""))
        check(q[0] == 200, "queued, then served when the replica had room: 200 (%d %s)" % (q[0], q[2][:200]))
        for t in blockers:
            t.join(30)
        text = sy.metrics()
        counters = {n: metric(text, n) for n in ("switchyard_queued_total", "switchyard_shed_total")}
        print(counters)
        check(counters.get("switchyard_queued_total") == 2, "two requests were queued in the router: %r" % counters)
        check(counters.get("switchyard_shed_total") == 3, "three were shed: %r" % counters)
    finally:
        sy.stop()
        sim.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
