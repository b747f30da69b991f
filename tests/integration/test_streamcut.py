"""Upstream faults as a client sees them, one part per argument:
  keepalive  a stream cut mid-way (simllm resets after 2 tokens) ends with
             the SSE error event and a well-framed chunked end, and the
             kept-alive client connection answers its next request
  rechunk    a chunked upstream whose chunks split and merge SSE events
             (with chunk extensions) reaches the client with the same
             bytes, in valid chunked framing
  midchunk   an upstream that dies in the middle of a chunk (and of an
             event): the client gets the whole events before it, the error
             event, a valid chunked end, and no byte of the partial event
  stream5xx  a replica answering 503 before any byte: streamed and plain
             requests go to the other replica; with no other replica the
             client gets the replica's own 503
  stopped    a replica that accepts and never answers (SIGSTOP): the
             requests sent to it go to the other replica once the health
             check marks it down, long before the first-byte timeout
usage: test_streamcut.py SWITCHYARD SIMLLM PART"""
import json
import os
import signal
import socket
import sys
import threading
import time

import harness
from harness import Check, Sim, Switchyard, chat

MODEL = "m1"


def read_response(s, data=b""):
    """Reads one HTTP/1.1 response from socket s: (status, headers dict,
    decoded body, chunk list or None, leftover bytes, clean) where clean
    says the framing ended properly (terminating chunk or full length)."""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return 0, {}, data, None, b"", False
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hdrs[k.strip().lower().decode()] = v.strip().decode()

    def more():
        c = s.recv(65536)
        if not c:
            raise EOFError
        return c

    try:
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            body, chunks = b"", []
            while True:
                while b"\r\n" not in rest:
                    rest += more()
                line, _, rest = rest.partition(b"\r\n")
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while not rest.startswith(b"\r\n") and b"\r\n\r\n" not in rest:
                        rest += more()
                    rest = rest[2:] if rest.startswith(b"\r\n") else rest.partition(b"\r\n\r\n")[2]
                    return status, hdrs, body, chunks, rest, True
                while len(rest) < size + 2:
                    rest += more()
                if rest[size:size + 2] != b"\r\n":
                    return status, hdrs, body, chunks, rest, False
                chunks.append(rest[:size])
                body += rest[:size]
                rest = rest[size + 2:]
        n = int(hdrs.get("content-length", "-1"))
        if n < 0:
            while True:
                try:
                    rest += more()
                except EOFError:
                    return status, hdrs, rest, None, b"", False
        while len(rest) < n:
            rest += more()
        return status, hdrs, rest[:n], None, rest[n:], True
    except (EOFError, ValueError):
        return status, hdrs, rest, None, b"", False


def send(s, body):
    body = json.dumps(body).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)


def events(body):
    return [e for e in body.split(b"\n\n") if e]


class Fake:
    """A scripted upstream on its own port: GETs (health, metrics) get 200
    `{}`; each POST gets script(sock) (the script writes the response)."""

    def __init__(self, name, script):
        self.name, self.models, self.engine, self.script = name, [MODEL], "vllm", script
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(64)
        self.port = self.srv.getsockname()[1]
        self.posts = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        data = b""
        try:
            while True:
                while b"\r\n\r\n" not in data:
                    d = c.recv(65536)
                    if not d:
                        return
                    data += d
                head, _, data = data.partition(b"\r\n\r\n")
                n = 0
                for ln in head.split(b"\r\n")[1:]:
                    k, _, v = ln.partition(b":")
                    if k.strip().lower() == b"content-length":
                        n = int(v)
                while len(data) < n:
                    data += c.recv(65536)
                data = data[n:]
                if head.startswith(b"GET"):
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
                    continue
                self.posts += 1
                if not self.script(c):
                    return
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.srv.close()


SSE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
            b"x-fake: 1\r\n\r\n")
EV = [b'data: {"id":"c1","choices":[{"delta":{"content":"tok%d"}}]}\n\n' % i for i in range(6)] + [b"data: [DONE]\n\n"]


def chunk(b, ext=b""):
    return b"%x%s\r\n%s\r\n" % (len(b), ext, b)


def script_rechunk(c):
    """Events split across chunks and merged into one, written in pieces
    so that they arrive in separate reads."""
    parts = [SSE_HEAD + chunk(EV[0][:10]), chunk(EV[0][10:] + EV[1], b";x=1"), chunk(EV[2] + EV[3] + EV[4][:5]),
             chunk(EV[4][5:]), chunk(EV[5]) + chunk(EV[6]) + b"0\r\n\r\n"]
    for p in parts:
        c.sendall(p)
        time.sleep(0.05)
    return True


def script_midchunk(c):
    """Two whole events, then a chunk of which only part of an event comes, then the connection dies."""
    c.sendall(SSE_HEAD + chunk(EV[0] + EV[1]))
    time.sleep(0.05)
    c.sendall(b"%x\r\n" % (len(EV[2]) + len(EV[3])) + EV[2] + EV[3][:15])
    time.sleep(0.05)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
    return False


def part_keepalive(check, sy_exe, sim_exe):
    sim = Sim(sim_exe, "rep-a", [MODEL], extra=["--reset-rate", "1", "--reset-after", "2", "--itl-ms", "5"]).start()
    sy = Switchyard(sy_exe, [sim], workers=1)
    try:
        sy.start()
        s = socket.create_connection(("127.0.0.1", sy.port), timeout=10)
        send(s, chat(MODEL, stream=True, max_tokens=8))
        st, h, body, chunks, rest, clean = read_response(s)
        check(st == 200, "the cut stream started with 200 (%d)" % st)
        check(clean, "the cut stream ends with a valid chunked end (body %r)" % body[-200:])
        evs = events(body)
        check(evs and b"upstream_stream_error" in evs[-1], "the last event is the SSE error event (%r)" % evs[-1:])
        check(all(e.startswith(b"data: ") for e in evs), "every event is whole (%r)" % evs)
        sim.configure(reset_rate=0)
        reused = h.get("connection", "").lower() != "close"
        if reused:
            try:
                send(s, chat(MODEL, max_tokens=4))
                st2, _, body2, _, _, clean2 = read_response(s, rest)
            except OSError as e:
                st2, body2, clean2 = 0, repr(e).encode(), False
            check(st2 == 200 and clean2, "the kept-alive connection answers the next request (%d %r)" %
                  (st2, body2[:200]))
        else:
            # the head announced the close: the connection must end there
            check(s.recv(100) == b"", "a connection announced as closing is closed")
        s.close()
    finally:
        sy.stop()
        sim.kill()
    return sy


def fake_part(check, sy_exe, script, verify):
    fake = Fake("fake", script)
    sy = Switchyard(sy_exe, [fake], workers=1)
    try:
        sy.start()
        for minor in (1, 0):
            s = socket.create_connection(("127.0.0.1", sy.port), timeout=10)
            body = json.dumps(chat(MODEL, stream=True)).encode()
            s.sendall(b"POST /v1/chat/completions HTTP/1.%d\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % (minor, len(body)) + body)
            if minor == 1:
                st, h, got, chunks, rest, clean = read_response(s)
            else:
                # HTTP/1.0: de-chunked, ends at the close
                data = harness.recv_until(s)
                head, _, got = data.partition(b"\r\n\r\n")
                st = int(head.split()[1]) if head else 0
                clean = b"transfer-encoding" not in head.lower()
            s.close()
            verify(check, "HTTP/1.%d" % minor, st, got, clean)
    finally:
        sy.stop()
        fake.close()
    return sy


def verify_rechunk(check, what, st, got, clean):
    check(st == 200 and clean, "%s: a rechunked stream is answered 200 with valid framing" % what)
    check(got == b"".join(EV), "%s: the client gets the upstream's bytes (%r)" % (what, got[:300]))


def verify_midchunk(check, what, st, got, clean):
    check(st == 200 and clean, "%s: a stream cut mid-chunk keeps a valid framing (%r)" % (what, got[-200:]))
    evs = events(got)
    check(evs[:2] == [EV[0].rstrip(b"\n"), EV[1].rstrip(b"\n")], "%s: the whole events before the cut arrive" % what)
    def whole(e):
        try:
            return e.startswith(b"data: ") and isinstance(json.loads(e[6:]), dict)
        except ValueError:
            return False
    check(all(whole(e) for e in evs), "%s: every event the client gets is whole (%r)" % (what, evs))
    check(len(evs) == 4 and b"upstream_stream_error" in evs[-1],
          "%s: the event cut off is dropped whole, then the error event (%r)" % (what, evs[2:]))


def stream_request(sy, timeout=10):
    """(status, replica, body) of one streamed chat request on a fresh connection."""
    c = sy.conn(timeout)
    try:
        c.request("POST", "/v1/chat/completions", json.dumps(chat(MODEL, stream=True)),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.getheader("x-simllm-replica"), r.read()
    except (OSError, Exception) as e:
        return 0, None, repr(e).encode()
    finally:
        c.close()


def part_stream5xx(check, sy_exe, sim_exe):
    bad = Sim(sim_exe, "rep-bad", [MODEL], extra=["--error-rate", "1", "--error-status", "503"]).start()
    good = Sim(sim_exe, "rep-good", [MODEL]).start()
    sy = Switchyard(sy_exe, [bad, good])
    try:
        sy.start()
        res = [stream_request(sy) for _ in range(16)]
        res += [(st, rep, b"") for st, rep in (harness.replica(sy, chat(MODEL)) for _ in range(16))]
        errs = bad.stats().get("errors_injected", 0)
        check(errs > 0, "the failing replica was tried (%s errors)" % errs)
        check(all(st == 200 and rep == "rep-good" for st, rep, _ in res),
              "streamed and plain requests answered by the healthy replica: %s" %
              [(st, rep) for st, rep, _ in res if st != 200 or rep != "rep-good"][:5])
        good.kill()
        # once the health check marked it down (a request sent before may
        # see the dead one's connect failure: 502)
        st, _, body = harness.wait_for(lambda: (lambda r: r if r[0] == 503 else None)(stream_request(sy)), 5) or \
            stream_request(sy)
        check(st == 503 and b"error" in body, "alone, the replica's own 503 reaches the client (%d %r)" % (st, body[:200]))
    finally:
        sy.stop()
        bad.kill()
        good.kill()
    return sy


def part_stopped(check, sy_exe, sim_exe):
    a = Sim(sim_exe, "rep-a", [MODEL], extra=["--ttft-ms", "20"]).start()
    b = Sim(sim_exe, "rep-b", [MODEL], extra=["--ttft-ms", "20"]).start()
    # the default first-byte timeout (60 s) is far beyond the clients' 10 s
    sy = Switchyard(sy_exe, [a, b])
    out = []
    try:
        sy.start()
        for _ in range(4):
            stream_request(sy)  # warm both pools
        os.kill(a.proc.pid, signal.SIGSTOP)
        threads = [threading.Thread(target=lambda: out.append(stream_request(sy))) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(len(out) == 8 and all(st == 200 and rep == "rep-b" for st, rep, _ in out),
              "streams sent while a replica is stopped are answered by the other: %s" %
              [(st, rep, body[:80]) for st, rep, body in out if st != 200 or rep != "rep-b"][:4])
    finally:
        if a.proc:
            os.kill(a.proc.pid, signal.SIGCONT)
        sy.stop()
        a.kill()
        b.kill()
    return sy


def main():
    sy_exe, sim_exe, part = sys.argv[1], sys.argv[2], sys.argv[3]
    check = Check("streamcut-" + part)
    if part == "keepalive":
        sy = part_keepalive(check, sy_exe, sim_exe)
    elif part == "rechunk":
        sy = fake_part(check, sy_exe, script_rechunk, verify_rechunk)
    elif part == "midchunk":
        sy = fake_part(check, sy_exe, script_midchunk, verify_midchunk)
    elif part == "stream5xx":
        sy = part_stream5xx(check, sy_exe, sim_exe)
    elif part == "stopped":
        sy = part_stopped(check, sy_exe, sim_exe)
    else:
        sys.exit("unknown part %s" % part)
    check.done(sy)


if __name__ == "__main__":
    main()
