"""A connection over server.max_connections gets a 503 a keep-alive client
can read: a whole head, a Content-Length equal to the body that follows, the
body an OpenAI-style error (too_many_connections), Retry-After, Connection:
close. The client reads exactly Content-Length bytes, as a keep-alive client
does, with a timeout: a length larger than the body leaves it waiting (or
finding the close short of the length), a smaller one leaves bytes that it
would take for the next answer.
usage: test_busy.py SWITCHYARD SIMLLM"""
import json
import socket
import sys

from harness import Check, Sim, Switchyard, metric, wait_for

MODEL = "m1"
LIMIT = 3
TIMEOUT = 5.0


def read_answer(s):
    """Reads one answer from s the way a keep-alive client does: the head up
    to the blank line, then exactly Content-Length bytes; never to the close.
    Returns (status, headers dict lower-case, body, problem or None)."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            return 0, {}, data, "no complete head within %.0f s (%r)" % (TIMEOUT, data[:80])
        if not chunk:
            return 0, {}, data, "closed before the head was complete (%r)" % data[:80]
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ", 2)[1])
    except (IndexError, ValueError):
        return 0, {}, body, "bad status line %r" % lines[0]
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" not in headers:
        return status, headers, body, "no Content-Length"
    want = int(headers["content-length"])
    while len(body) < want:
        try:
            chunk = s.recv(want - len(body))
        except socket.timeout:
            return status, headers, body, ("Content-Length %d, but only %d body bytes came within %.0f s"
                                           % (want, len(body), TIMEOUT))
        if not chunk:
            return status, headers, body, ("Content-Length %d, but the server closed after %d body bytes"
                                           % (want, len(body)))
        body += chunk
    if len(body) > want:
        return status, headers, body, ("%d bytes after the %d of Content-Length: %r"
                                       % (len(body) - want, want, body[want:]))
    return status, headers, body, None


def main():
    sy_exe, sim_exe = sys.argv[1], sys.argv[2]
    sim = Sim(sim_exe, "up", [MODEL]).start()
    sy = Switchyard(sy_exe, [sim], workers=2)
    with open(sy.config) as f:
        cfg = f.read()
    cfg = cfg.replace("  drain_timeout_ms: 10000\n",
                      "  drain_timeout_ms: 10000\n  max_connections: %d\n  header_timeout_ms: 30000\n"
                      "  idle_timeout_ms: 30000\n" % LIMIT)
    with open(sy.config, "w") as f:
        f.write(cfg)
    check = Check("busy")
    held = []
    try:
        sy.start()
        # a kept-alive connection reads /metrics; first it must be the only
        # one the frontend counts (start-up's connections closed)
        mc = sy.conn(timeout=TIMEOUT)

        def page():
            mc.request("GET", "/metrics")
            r = mc.getresponse()
            text = r.read().decode("utf-8", "replace")
            return text if r.status == 200 else ""

        ok = wait_for(lambda: metric(page(), "switchyard_open_connections") == 1, timeout=10)
        check(ok, "the /metrics connection is the only one open")
        rejected0 = metric(page(), "switchyard_connections_rejected_total")
        # LIMIT connections open: that one and LIMIT - 1 idle ones
        held = [socket.create_connection(("127.0.0.1", sy.port), timeout=TIMEOUT) for _ in range(LIMIT - 1)]
        seen = []

        def counted():
            seen.append(metric(page(), "switchyard_open_connections"))
            return seen[-1] == LIMIT

        ok = wait_for(counted, timeout=10)
        check(ok, "the frontend counts %d open connections (last seen: %s)" % (LIMIT, seen[-1:]))

        # one more: refused at accept with a 503, read as a keep-alive client
        s = socket.create_connection(("127.0.0.1", sy.port), timeout=TIMEOUT)
        try:
            status, headers, body, problem = read_answer(s)
            check(problem is None, "the 503 is read whole by Content-Length: %s" % (problem or "ok"))
            check(status == 503, "over the connection limit: 503 (got %d)" % status)
            try:
                err = json.loads(body)["error"]
            except (ValueError, KeyError, TypeError):
                err = {}
            check(err.get("code") == "too_many_connections" and err.get("type") == "server_error"
                  and err.get("message"), "the body is an OpenAI-style error, too_many_connections (%r)" % body)
            check(headers.get("content-type") == "application/json", "Content-Type: application/json")
            check(headers.get("retry-after") == "1", "Retry-After: 1 (%r)" % headers.get("retry-after"))
            check(headers.get("connection") == "close", "Connection: close (%r)" % headers.get("connection"))
            # after the answer the server closes, with nothing more
            try:
                rest = s.recv(4096)
                check(rest == b"", "nothing after the answer, then the close (%r)" % rest[:80])
            except socket.timeout:
                check(False, "the server closes the refused connection after its answer")
            except ConnectionResetError:
                pass  # closed with a reset: also nothing more
        finally:
            s.close()

        rejected = metric(page(), "switchyard_connections_rejected_total")
        check(rejected0 is not None and rejected == rejected0 + 1, "switchyard_connections_rejected_total counted it (%s -> %s)"
              % (rejected0, rejected))
        mc.close()
        for h in held:
            h.close()
        held = []
        # below the limit again: served
        st = wait_for(lambda: sy.request("GET", "/health")[0] == 200, timeout=10)
        check(st, "served again once connections closed")
    finally:
        for h in held:
            h.close()
        sy.stop()
        sim.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
