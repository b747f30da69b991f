"""Malformed and oversized requests get the right 4xx, and the server keeps
serving. Also: chunked bodies, Expect: 100-continue, pipelining, keep-alive.
usage: test_limits.py SWITCHYARD SIMLLM"""
import json
import socket
import sys
import time

from harness import Check, Sim, Switchyard, chat, recv_until

MODEL = "m1"
LIMITS = """
"""


def status_of(resp):
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def main():
    sy_exe, sim_exe = sys.argv[1], sys.argv[2]
    sim = Sim(sim_exe, "up", [MODEL]).start()
    sy = Switchyard(sy_exe, [sim])
    # tighter limits so the test stays small
    with open(sy.config) as f:
        cfg = f.read()
    cfg = cfg.replace("  drain_timeout_ms: 10000\n", "  drain_timeout_ms: 10000\n  max_header_bytes: 4096\n"
                      "  max_headers: 32\n  max_body_bytes: 65536\n  header_timeout_ms: 1000\n"
                      "  idle_timeout_ms: 700\n  max_connections: 6\n")
    with open(sy.config, "w") as f:
        f.write(cfg)
    check = Check("limits")
    body = json.dumps(chat(MODEL)).encode()
    post = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    try:
        sy.start()

        def healthy(what):
            st, _, _ = sy.request("GET", "/health")
            check(st == 200, "still serving after %s" % what)

        r = sy.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
        check(status_of(r) == 431, "oversized header block -> 431 (got %r)" % r[:40])
        healthy("oversized header")
        r = sy.raw(b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(40)) + b"\r\n")
        check(status_of(r) == 431, "too many headers -> 431 (got %r)" % r[:40])
        r = sy.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000)  # never finishes
        check(status_of(r) == 431, "oversized unfinished header -> 431 (got %r)" % r[:40])

        r = sy.raw(post + b"Content-Length: 100000\r\n\r\n")
        check(status_of(r) == 413, "Content-Length over the limit -> 413 (got %r)" % r[:40])
        big = b"x" * 70000
        r = sy.raw(post + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(big) + big + b"\r\n0\r\n\r\n")
        check(status_of(r) == 413, "chunked body over the limit -> 413 (got %r)" % r[:40])
        r = sy.raw(post + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
        check(status_of(r) == 400, "bad chunk size -> 400 (got %r)" % r[:40])
        r = sy.raw(post + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n")
        check(status_of(r) == 400, "chunk without CRLF -> 400 (got %r)" % r[:40])
        r = sy.raw(post + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
        check(status_of(r) == 400, "conflicting Content-Length -> 400 (got %r)" % r[:40])
        r = sy.raw(post + b"Content-Length: abc\r\n\r\n")
        check(status_of(r) == 400, "bad Content-Length -> 400 (got %r)" % r[:40])
        r = sy.raw(b"GARBAGE\r\n\r\n")
        check(status_of(r) == 400, "garbage request line -> 400 (got %r)" % r[:40])
        r = sy.raw(b"GET /health HTTP/2.0\r\nHost: x\r\n\r\n")
        check(status_of(r) == 505, "HTTP/2.0 over 1.1 framing -> 505 (got %r)" % r[:40])
        r = sy.raw(b"GET /health HTTP/1.1\r\nHost: x\r\n folded: no\r\n\r\n")
        check(status_of(r) == 400, "obs-fold -> 400 (got %r)" % r[:40])
        r = sy.raw(post + b"Content-Length: 3\r\n\r\n{x}")
        check(status_of(r) == 400 and b"invalid_json" in r, "bad JSON -> 400 invalid_json")
        r = sy.raw(post + b"Expect: something-else\r\nContent-Length: 2\r\n\r\n{}")
        check(status_of(r) == 417, "unknown Expect -> 417 (got %r)" % r[:40])
        healthy("malformed requests")

        # truncated: head only, then close; body cut short, then close
        for partial in (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Le",
                        post + b"Content-Length: %d\r\n\r\n" % len(body) + body[:10]):
            s = socket.create_connection(("127.0.0.1", sy.port))
            s.sendall(partial)
            s.close()
        healthy("truncated requests")

        # header timeout: an unfinished head gets 408 after header_timeout_ms
        t0 = time.time()
        r = sy.raw(b"GET /health HTTP/1.1\r\nHost: x\r\n", timeout=5)
        check(status_of(r) == 408, "slow head -> 408 (got %r after %.1fs)" % (r[:40], time.time() - t0))
        s = socket.create_connection(("127.0.0.1", sy.port), timeout=5)
        s.sendall(post + b"Content-Length: %d\r\n\r\n" % len(body) + body[:5])
        r = s.recv(65536)
        s.close()
        check(status_of(r) == 408, "slow body -> 408 (got %r)" % r[:40])

        # valid framing variants
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7))
        r = sy.raw(post + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks + b"0\r\n\r\n")
        check(status_of(r) == 200 and b"chat.completion" in r, "chunked request body is proxied (got %r)" % r[:60])
        s = socket.create_connection(("127.0.0.1", sy.port), timeout=5)
        s.sendall(post + b"Expect: 100-continue\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
        first = s.recv(65536)
        check(first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), "Expect: 100-continue answered (%r)" % first[:40])
        s.sendall(body)
        rest = recv_until(s, data=first)
        s.close()
        check(b"HTTP/1.1 200" in rest and b"chat.completion" in rest, "body after 100 Continue is proxied")

        # pipelining: three requests in one write, three answers in order
        one = post + b"Content-Length: %d\r\n\r\n" % len(body) + body
        r = sy.raw(one + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + one[:-1] + body[-1:], timeout=3,
                   first_only=False)
        statuses = [int(x[:3]) for x in r.split(b"HTTP/1.1 ")[1:] if x[:3].isdigit()]
        check(r.count(b"HTTP/1.1 200") == 3 and r.count(b"chat.completion") == 2,
              "pipelined requests answered in order (%s)" % statuses)

        # keep-alive: many requests on one connection
        c = sy.conn()
        ok = 0
        for _ in range(50):
            c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            resp = c.getresponse()
            resp.read()
            ok += resp.status == 200
        c.close()
        check(ok == 50, "50 requests on one kept-alive connection (%d ok)" % ok)

        # idle keep-alive connections are closed after idle_timeout_ms
        s = socket.create_connection(("127.0.0.1", sy.port), timeout=5)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        got = s.recv(65536)
        t0 = time.time()
        closed = s.recv(65536) == b""
        s.close()
        check(got.startswith(b"HTTP/1.1 200") and closed, "idle connection closed by the server (after %.1fs)" %
              (time.time() - t0))

        # connection limit: 6 open connections, the 7th is refused with 503
        held = [socket.create_connection(("127.0.0.1", sy.port), timeout=5) for _ in range(6)]
        time.sleep(0.2)
        # (the 503 is written at accept time, before the client sends anything)
        r = sy.raw(b"")
        check(status_of(r) == 503 and b"too_many_connections" in r, "connection over the limit -> 503 (%r)" % r[:40])
        for h in held:
            h.close()
        time.sleep(0.2)

        # HTTP/1.0 client (no keep-alive asked): answered, said so
        # (Connection: close) and closed by the server after the answer
        s = socket.create_connection(("127.0.0.1", sy.port), timeout=5)
        s.sendall(b"POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        r, closed = b"", False
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    closed = True
                    break
                r += chunk
        except socket.timeout:
            pass
        s.close()
        head = r.split(b"\r\n\r\n", 1)[0].lower()
        check(r.startswith(b"HTTP/1.0 200") and b"chat.completion" in r, "HTTP/1.0 request answered")
        check(b"\r\nconnection: close" in head and closed,
              "HTTP/1.0 request: Connection: close, then the server closes (closed %r, head %r)" % (closed, head[:300]))
        healthy("everything above")
    finally:
        sy.stop()
        sim.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
