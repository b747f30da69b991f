"""Request smuggling: every ambiguous way to frame a request body is refused
with a 400 (413 for a chunk larger than the body limit), `Connection: close`,
and the connection closed, so that nothing sent after it on the connection
is read as a request. Controls: a valid chunked and a valid Content-Length
request are served, on a kept-alive connection.
usage: test_smuggling.py SWITCHYARD SIMLLM"""
import json
import socket
import sys

from harness import Check, Sim, Switchyard, chat

MODEL = "m1"
BODY = json.dumps(chat(MODEL)).encode()
HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
# pipelined after each case: answered only if the server read past the bad request
NEXT = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


def chunked(body, size_line=None):
    return (b"%x" % len(body) if size_line is None else size_line) + b"\r\n" + body + b"\r\n0\r\n\r\n"


CL = b"Content-Length: %d\r\n" % len(BODY)
TE = b"Transfer-Encoding: chunked\r\n"

# name -> (bytes, expected status)
CASES = {
    "cl-and-te": (HEAD + CL + TE + b"\r\n" + chunked(BODY), 400),
    "te-and-cl": (HEAD + TE + CL + b"\r\n" + chunked(BODY), 400),
    "duplicate-cl-equal": (HEAD + CL + CL + b"\r\n" + BODY, 400),
    "duplicate-cl-conflicting": (HEAD + CL + b"Content-Length: %d\r\n\r\n" % (len(BODY) - 1) + BODY, 400),
    "cl-list": (HEAD + b"Content-Length: %d, %d\r\n\r\n" % (len(BODY), len(BODY)) + BODY, 400),
    "cl-plus-sign": (HEAD + b"Content-Length: +%d\r\n\r\n" % len(BODY) + BODY, 400),
    "cl-minus-sign": (HEAD + b"Content-Length: -1\r\n\r\n" + BODY, 400),
    "cl-hex": (HEAD + b"Content-Length: 0x%x\r\n\r\n" % len(BODY) + BODY, 400),
    "cl-trailing-letter": (HEAD + b"Content-Length: %da\r\n\r\n" % len(BODY) + BODY, 400),
    "cl-inner-space": (HEAD + b"Content-Length: 1 %d\r\n\r\n" % len(BODY) + BODY, 400),
    "cl-empty": (HEAD + b"Content-Length: \r\n\r\n" + BODY, 400),
    "cl-overflow": (HEAD + b"Content-Length: 184467440737095516160\r\n\r\n" + BODY, 400),
    "cl-space-before-colon": (HEAD + b"Content-Length : %d\r\n\r\n" % len(BODY) + BODY, 400),
    "cl-leading-space-line": (b"POST /v1/chat/completions HTTP/1.1\r\n Content-Length: %d\r\nHost: x\r\n\r\n"
                              % len(BODY) + BODY, 400),
    "cl-vertical-tab": (HEAD + b"Content-Length:\x0b%d\r\n\r\n" % len(BODY) + BODY, 400),
    "te-gzip-chunked": (HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + chunked(BODY), 400),
    "te-chunked-chunked": (HEAD + b"Transfer-Encoding: chunked, chunked\r\n\r\n" + chunked(BODY), 400),
    "te-chunked-identity": (HEAD + b"Transfer-Encoding: chunked, identity\r\n\r\n" + chunked(BODY), 400),
    "te-identity": (HEAD + b"Transfer-Encoding: identity\r\n" + CL + b"\r\n" + BODY, 400),
    "te-xchunked": (HEAD + b"Transfer-Encoding: xchunked\r\n\r\n" + chunked(BODY), 400),
    "te-two-headers": (HEAD + TE + b"Transfer-Encoding: identity\r\n\r\n" + chunked(BODY), 400),
    "te-two-headers-chunked": (HEAD + TE + TE + b"\r\n" + chunked(BODY), 400),
    "te-http10": (HEAD.replace(b"HTTP/1.1", b"HTTP/1.0") + TE + b"\r\n" + chunked(BODY), 400),
    "te-space-before-colon": (HEAD + b"Transfer-Encoding : chunked\r\n\r\n" + chunked(BODY), 400),
    "te-obs-fold": (HEAD + b"Transfer-Encoding:\r\n chunked\r\n\r\n" + chunked(BODY), 400),
    "obs-fold": (HEAD + CL + b"X-A: a\r\n b\r\n\r\n" + BODY, 400),
    "obs-fold-tab": (HEAD + CL + b"X-A: a\r\n\tb\r\n\r\n" + BODY, 400),
    "bare-cr-in-value": (HEAD + CL + b"X-A: a\rb\r\n\r\n" + BODY, 400),
    "bare-cr-line-end": (HEAD + b"X-A: a\r" + CL + b"\r\n" + BODY, 400),
    "bare-cr-request-line": (b"POST /v1/chat/completions\rHTTP/1.1\r\nHost: x\r\n" + CL + b"\r\n" + BODY, 400),
    "bare-cr-chunk-size": (HEAD + TE + b"\r\n%x\r" % len(BODY) + BODY + b"\r\n0\r\n\r\n", 400),
    "bare-lf-chunk-size": (HEAD + TE + b"\r\n%x\n" % len(BODY) + BODY + b"\r\n0\r\n\r\n", 400),
    "bare-lf-chunk-data": (HEAD + TE + b"\r\n%x\r\n" % len(BODY) + BODY + b"\n0\r\n\r\n", 400),
    "chunk-size-overflow": (HEAD + TE + b"\r\n" + chunked(BODY, b"1" + b"0" * 16), 400),
    "chunk-size-line-too-long": (HEAD + TE + b"\r\n" + chunked(BODY, b"0" * 2000 + b"%x" % len(BODY)), 400),
    "chunk-size-sign": (HEAD + TE + b"\r\n" + chunked(BODY, b"+%x" % len(BODY)), 400),
    "chunk-size-0x": (HEAD + TE + b"\r\n" + chunked(BODY, b"0x%x" % len(BODY)), 400),
    "chunk-size-empty": (HEAD + TE + b"\r\n" + chunked(BODY, b""), 400),
    # a size over max_body_bytes (65536 here) is refused at the size line,
    # without waiting for bytes that may never come
    "chunk-size-over-limit": (HEAD + TE + b"\r\n7fffffffffffffff\r\n" + BODY, 413),
}


def exchange(port, data, timeout=3.0):
    """Sends data, reads until the server closes. (bytes, closed): closed is
    False when the server kept the connection open past timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return out, False
            except ConnectionResetError:
                return out, True
            if not chunk:
                return out, True
            out += chunk
    finally:
        s.close()


def status_of(resp):
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def head_of(resp):
    return resp.partition(b"\r\n\r\n")[0].lower() + b"\r\n"


def after_first(resp):
    """What follows the first response (framed by its Content-Length)."""
    head, _, rest = resp.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return rest[int(v.strip()):]
    return rest


def main():
    sy_exe, sim_exe = sys.argv[1], sys.argv[2]
    only = sys.argv[3:]
    sim = Sim(sim_exe, "up", [MODEL]).start()
    sy = Switchyard(sy_exe, [sim])
    with open(sy.config) as f:
        cfg = f.read()
    cfg = cfg.replace("  drain_timeout_ms: 10000\n",
                      "  drain_timeout_ms: 10000\n  max_body_bytes: 65536\n  idle_timeout_ms: 5000\n")
    with open(sy.config, "w") as f:
        f.write(cfg)
    check = Check("smuggling")
    try:
        sy.start()

        # controls: valid chunked and Content-Length requests are served,
        # and the connection stays open for the next request
        for name, req in (("control-content-length", HEAD + CL + b"\r\n" + BODY),
                          ("control-chunked", HEAD + TE + b"\r\n" + b"a;ext=1\r\n" + BODY[:10] + b"\r\n"
                           + chunked(BODY[10:]))):
            out, closed = exchange(sy.port, req + NEXT + b"GET /health HTTP/1.1\r\nHost: x\r\n"
                                   b"Connection: close\r\n\r\n")
            check(status_of(out) == 200, "%s: 200 (got %r)" % (name, out[:60]))
            check(b"chatcmpl" in out or b"choices" in out, "%s: the completion came back" % name)
            check(out.count(b"HTTP/1.1 200") == 3, "%s: the two pipelined requests after it were served too "
                  "(%d responses)" % (name, out.count(b"HTTP/1.1 ")))

        for name, (req, want) in CASES.items():
            if only and name not in only:
                continue
            out, closed = exchange(sy.port, req + NEXT)
            check(status_of(out) == want, "%s: %d (got %r)" % (name, want, out[:60]))
            check(b"\r\nconnection: close\r\n" in head_of(out), "%s: Connection: close" % name)
            check(b'"error"' in out and b"invalid_request_error" in out, "%s: an OpenAI-style error body" % name)
            check(closed, "%s: the connection closed" % name)
            check(after_first(out) == b"", "%s: nothing after it served (%r)" % (name, after_first(out)[:40]))

        st, _, _ = sy.request("GET", "/health")
        check(st == 200, "still serving after the cases")
    finally:
        sy.stop()
        sim.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
