#!/usr/bin/env python3
"""A kept-alive connection across a reload: its next request runs under the
new configuration. The connection held the last reference to the old one,
so taking the new one frees the old: nothing may read it after that (the
body deadline of the next request once came from the freed configuration:
the old server.header_timeout_ms, a use after free under ASan).

  - request 1 on a kept-alive connection, header_timeout_ms 30 s;
  - the file rewritten with header_timeout_ms 500 ms, SIGHUP, the frontend
    says it reloaded;
  - request 2 on the same connection: a whole head, part of the body, then
    nothing: 408 within a few seconds (not after 30).

usage: test_reload_keepalive.py SWITCHYARD SIMLLM"""
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Check, Sim, Switchyard, complete_response, wait_for  # noqa: E402

MODEL = "m1"


def set_timeout(sy, ms):
    with open(sy.config) as f:
        cfg = f.read()
    lines = [ln for ln in cfg.split("\n") if not ln.startswith("  header_timeout_ms:")]
    i = lines.index("server:")
    lines.insert(i + 1, "  header_timeout_ms: %d" % ms)
    with open(sy.config, "w") as f:
        f.write("\n".join(lines))


def read_answer(s, timeout):
    s.settimeout(timeout)
    data = b""
    try:
        while not complete_response(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return data


def main():
    sy_exe, sim_exe = sys.argv[1], sys.argv[2]
    sim = Sim(sim_exe, "up", [MODEL]).start()
    sy = Switchyard(sy_exe, [sim], workers=1)
    set_timeout(sy, 30000)
    check = Check("reload-keepalive")
    try:
        sy.start()
        body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                           "max_tokens": 2}).encode()
        s = socket.create_connection(("127.0.0.1", sy.port), timeout=5)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        first = read_answer(s, 5)
        check(first.startswith(b"HTTP/1.1 200") and complete_response(first),
              "request 1 on the kept-alive connection: 200 (%r)" % first[:60])

        set_timeout(sy, 500)
        sy.signal(signal.SIGHUP)
        ok = wait_for(lambda: "SIGHUP: configuration reloaded" in sy.read_log(), timeout=10)
        check(ok, "the frontend reloaded")
        time.sleep(0.2)

        # request 2: the head and 10 of its 50 body bytes, then nothing
        t0 = time.time()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 50\r\n\r\n{\"model\":")
        second = read_answer(s, 8)
        took = time.time() - t0
        check(second.startswith(b"HTTP/1.1 408"),
              "request 2 on the same connection: 408 under the new 500 ms header_timeout_ms "
              "(got %r after %.1f s)" % (second[:40], took))
        s.close()
    finally:
        sy.stop()
        sim.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
