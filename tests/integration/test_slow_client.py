#!/usr/bin/env python3
"""Clients that read a fast stream slowly, or not at all
(server.send_timeout_ms), with the upstream not blamed for them.

The upstream (simllm, no inter-token delay) streams megabytes at once; the
frontend reads it only as fast as the client takes it (backpressure), so
while the client does not read, the upstream is not read either.

  - a client that never reads: once the kernel buffers are full, no write
    makes progress; after server.send_timeout_ms (3 s) the connection is
    closed (switchyard_client_send_timeouts_total 1, the open-connection
    gauge back where it was, the client sees the close). The upstream's
    proxy.idle_timeout_ms (0.5 s, shorter) must not fire meanwhile: no
    upstream error is counted and, with router.passive_failures 1, the only
    upstream stays in: the next request is answered 200;
  - a client that reads steadily but slowly (at most 32 KiB, then a 50 ms
    pause, the pauses alone adding up to more than the send timeout, so
    the stream takes longer than it in all, however fast the machine)
    gets the whole stream to [DONE]: the timeout is on progress, not on
    the total. (The pauses are 60 times shorter than the timeout, so a
    loaded machine does not make the slow reader look stalled. The stream,
    ~4 MB, fits in the kernel's socket buffers on loopback, so this checks
    that a slow steady reader is not cut off; a send timeout counted from
    the first write goes unnoticed here.)

usage: test_slow_client.py SWITCHYARD SIMLLM"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Check, Sim, Switchyard, metric, wait_for  # noqa: E402

MODEL = "m1"
SEND_TIMEOUT_MS = 3000
PAUSE_S = 0.05
EXTRA = """proxy:
  idle_timeout_ms: 500
router:
  passive_failures: 1
"""


def stream_request(port, tokens):
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                       "max_tokens": tokens, "stream": True}).encode()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    return s


def main():
    sy_exe, sim_exe = sys.argv[1], sys.argv[2]
    sim = Sim(sim_exe, "up", [MODEL], extra=["--ttft-ms", "0", "--itl-ms", "0",
                                             "--max-model-len", "100000000"]).start()
    sy = Switchyard(sy_exe, [sim], EXTRA, workers=1)
    with open(sy.config) as f:
        cfg = f.read()
    with open(sy.config, "w") as f:
        f.write(cfg.replace("  drain_timeout_ms: 10000\n",
                            "  drain_timeout_ms: 10000\n  send_timeout_ms: %d\n" % SEND_TIMEOUT_MS))
    check = Check("slow-client")
    try:
        sy.start()
        m0 = sy.metrics()
        open0 = metric(m0, "switchyard_open_connections")

        # never reads: 100000 tokens, ~20 MB, more than every buffer holds
        s = stream_request(sy.port, 100000)
        t0 = time.time()
        timed_out = wait_for(lambda: (metric(sy.metrics(), "switchyard_client_send_timeouts_total") or 0) >= 1,
                             timeout=15, interval=0.2)
        took = time.time() - t0
        check(timed_out, "a client that never reads is closed after server.send_timeout_ms "
                         "(switchyard_client_send_timeouts_total >= 1 after %.1f s)" % took)
        m1 = sy.metrics()
        check(metric(m1, "switchyard_upstream_errors_total") is None,
              "no upstream error counted for the client's slowness: %s"
              % [ln for ln in m1.splitlines() if ln.startswith("switchyard_upstream_errors_total")])
        check(wait_for(lambda: metric(sy.metrics(), "switchyard_open_connections") == open0, timeout=5),
              "the open-connection gauge is back to %s" % open0)
        # the client sees the close once it reads what was buffered
        closed, got = False, 0
        try:
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    closed = True
                    break
                got += len(chunk)
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            pass
        s.close()
        check(closed, "the never-reading client finds the connection closed (%d bytes were buffered)" % got)
        st, h, _ = sy.request("POST", "/v1/chat/completions",
                              {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
        check(st == 200, "the upstream was not ejected for the client's slowness: next request 200 (got %d)" % st)

        # reads slowly but steadily: the whole stream
        s = stream_request(sy.port, 20000)
        data, t0, paused = b"", time.time(), 0.0
        try:
            while not (data.endswith(b"\r\n0\r\n\r\n") and b"data: [DONE]" in data[-64:]):
                chunk = s.recv(32768)
                if not chunk:
                    break
                data += chunk
                time.sleep(PAUSE_S)
                paused += PAUSE_S
        except (socket.timeout, ConnectionResetError) as e:
            check(False, "slow reader: %s after %d bytes" % (e, len(data)))
        took = time.time() - t0
        s.close()
        check(data.startswith(b"HTTP/1.1 200") and b"data: [DONE]" in data[-64:],
              "a slow steady reader gets the whole stream (%d bytes in %.1f s, ends %r)" % (len(data), took,
                                                                                           data[-30:]))
        # the reader's own pauses add up to more than the timeout: a lower
        # bound on the stream's duration that does not depend on the machine
        check(paused > 1.5 * SEND_TIMEOUT_MS / 1000.0,
              "the slow reader paused longer than send_timeout_ms in all (%.2f s of pauses, %d bytes)"
              % (paused, len(data)))
        check(metric(sy.metrics(), "switchyard_client_send_timeouts_total") == 1,
              "the slow reader was not timed out")
    finally:
        sy.stop()
        sim.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
