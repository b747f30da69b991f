"""Upstreams of kind gateway (an llm-d / InferencePool gateway that picks
the pod itself): requests and their end-to-end headers reach the gateway
unchanged and its response headers come back; a gateway that answers 404 on
/health stays healthy; 503s it relays from behind it do not eject it;
attempts that get no HTTP answer (reset, refused) do; a failure before the
first byte is retried on another gateway of the model, and with a single
gateway the client gets 502 at once.
The gateway is a fake (stdlib http.server) that records what it receives.
usage: test_gateway.py SWITCHYARD SIMLLM"""
import http.client
import http.server
import json
import socket
import socketserver
import struct
import sys
import threading
import time

from harness import Admin, Check, Switchyard, chat, free_port, wait_for

LLAMA = "meta-llama/Llama-3.2-1B-Instruct"
TOKEN = "gateway-test-admin-token"


class FakeGateway:
    """An llm-d-like gateway on loopback. mode: ok (200 JSON, or SSE when
    the body asks for a stream), 503 (what a gateway relays when its pool
    fails), reset (reads the request, then resets the connection)."""

    def __init__(self, name):
        self.name, self.port = name, free_port()
        self.mode = "ok"
        self.lock = threading.Lock()
        self.requests = []          # (method, path, [(name, value)], body bytes)
        self.health_hits = 0
        self.conns = set()
        self.server = None

    def start(self):
        gw = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with gw.lock:
                    gw.conns.add(self.connection)

            def finish(self):
                with gw.lock:
                    gw.conns.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def log_message(self, *a):
                pass

            def reply(self, status, body, ctype="application/json", extra=()):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in extra:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/health":
                    with gw.lock:
                        gw.health_hits += 1
                # a gateway routes only the API paths: 404 for the rest
                self.reply(404, b'{"error":"no route"}')

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with gw.lock:
                    gw.requests.append(("POST", self.path, list(self.headers.items()), body))
                    mode = gw.mode
                if mode == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                if mode == "503":
                    self.reply(503, b'{"error":{"message":"no healthy pod in the InferencePool","code":503}}',
                               extra=[("x-gateway-error", "pool-empty")])
                    return
                try:
                    req = json.loads(body)
                except ValueError:
                    req = {}
                echo = [("x-gateway-served-by", gw.name), ("set-cookie", "gw-affinity=pod-7; Path=/"),
                        ("x-gateway-destination-endpoint-served",
                         self.headers.get("x-gateway-destination-endpoint", "picked-by-gateway"))]
                if req.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    for k, v in echo:
                        self.send_header(k, v)
                    self.end_headers()
                    for i in range(3):
                        ev = ('data: {"choices":[{"delta":{"content":"tok%d"}}]}\n\n' % i).encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
                        self.wfile.flush()
                    ev = b"data: [DONE]\n\n"
                    self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(ev), ev))
                    return
                out = json.dumps({"id": "chatcmpl-gw", "object": "chat.completion", "model": req.get("model"),
                                  "choices": [{"index": 0, "message": {"role": "assistant",
                                                                       "content": "from " + gw.name},
                                               "finish_reason": "stop"}]}).encode()
                self.reply(200, out, extra=echo)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        """Gone: the listener closes (connects are refused) and so does
        every kept-alive connection."""
        if not self.server:
            return
        self.server.shutdown()
        self.server.server_close()
        self.server = None
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def taken(self):
        with self.lock:
            r, self.requests = self.requests, []
        return r


class GatewaySwitchyard(Switchyard):
    """switchyard with gateway upstreams, active health checks that need 3
    failures (0.9 s) to mark one down (so that passive ejection is seen
    first) and the admin API."""

    def __init__(self, exe, gateways, admin_port):
        self.gateways, self.admin_port = gateways, admin_port
        super().__init__(exe, [])

    def write_config(self, upstreams, extra_yaml="", workers=2):
        lines = [
            "server: {host: 127.0.0.1, port: %d, workers: 1, drain_timeout_ms: 5000}" % self.port,
            "health: {interval_ms: 300, timeout_ms: 300, unhealthy_threshold: 3, healthy_threshold: 1}",
            "router: {passive_failures: 3, ejection_ms: 1500}",
            "proxy: {max_retries: 2, connect_timeout_ms: 1000, first_byte_timeout_ms: 5000}",
            "shm: {runtime_dir: %s, max_workers: 4, ring_bytes: 65536}" % self.dir,
            "admin: {listen: \"127.0.0.1:%d\", token: %s}" % (self.admin_port, TOKEN),
            "upstreams:",
        ]
        for name, gw, models in self.gateways:
            lines += ["  - name: %s" % name, "    url: http://127.0.0.1:%d" % gw.port, "    kind: gateway",
                      "    engine: vllm", "    models: [%s]" % ", ".join(json.dumps(m) for m in models)]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")


def upstream(a, name):
    st, body = a.req("GET", "/admin/upstreams")
    if st != 200:
        return None
    for u in body["data"]:
        if u["name"] == name:
            return u
    return None


def main():
    sy_exe = sys.argv[1]
    check = Check("gateway")
    gw1, gw2, gw3 = FakeGateway("gw1").start(), FakeGateway("gw2").start(), FakeGateway("gw3").start()
    admin_port = free_port()
    sy = GatewaySwitchyard(sy_exe, [("pool-llama", gw1, [LLAMA, "solo"]), ("pool-a", gw2, ["pair"]),
                                    ("pool-b", gw3, ["pair"])], admin_port)
    a = Admin(admin_port, TOKEN)
    try:
        sy.start()
        check(wait_for(lambda: a.req("GET", "/admin/upstreams")[0] == 200), "admin API answers")

        # 1. /health answers 404: still healthy after several checks
        check(wait_for(lambda: gw1.health_hits >= 4, 5), "the gateway's /health is checked (%d)" % gw1.health_hits)
        u = upstream(a, "pool-llama")
        check(u and u["healthy"] and u["kind"] == "gateway", "404 on /health keeps a gateway healthy: %s" % u)
        check(u and u["metrics"]["state"] == "off", "a gateway is not scraped: %s" % (u and u["metrics"]))
        st, _, _ = sy.request("GET", "/ready")
        check(st == 200, "/ready with only gateways that answer 404 on /health: %d" % st)

        # 2. the request goes through unchanged, end-to-end headers included
        gw1.taken()
        sent_headers = {
            "Authorization": "Bearer client-key-123",
            "x-gateway-destination-endpoint": "10.0.0.9:8000",
            "x-gateway-inference-objective": "food-review",
            "x-gateway-inference-fairness-id": "tenant-a",
            "x-prediction-based-scheduling": "true",
            "x-request-id": "req-42",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "x-session-id": "sess-9",
            "Content-Type": "application/json",
        }
        body = chat(LLAMA, user="alice", temperature=0.25, owned_by="vllm")
        st, h, data = sy.request("POST", "/v1/chat/completions?api-version=1&owned_by=vllm&x=%2F", body,
                                 headers=sent_headers)
        check(st == 200, "forwarded: %d %s" % (st, data[:200]))
        check(h.get("x-gateway-served-by") == "gw1", "the gateway's response header comes back: %s" % h)
        check(h.get("set-cookie") == "gw-affinity=pod-7; Path=/", "Set-Cookie comes back: %r" % h.get("set-cookie"))
        check(h.get("x-gateway-destination-endpoint-served") == "10.0.0.9:8000",
              "the gateway saw the destination header: %r" % h.get("x-gateway-destination-endpoint-served"))
        check(h.get("x-switchyard-upstream") == "pool-llama" and h.get("x-vsr-selected-model") == LLAMA,
              "switchyard headers: %s" % h)
        check(h.get("x-switchyard-retries") is None, "no retry")
        try:
            check(json.loads(data)["choices"][0]["message"]["content"] == "from gw1", "the gateway's body")
        except (ValueError, KeyError, IndexError):
            check(False, "the gateway's body is JSON: %r" % data[:200])
        got = gw1.taken()
        check(len(got) == 1, "one request reached the gateway: %d" % len(got))
        if got:
            _, path, hdrs, gbody = got[0]
            hl = {}
            for k, v in hdrs:
                hl.setdefault(k.lower(), []).append(v)
            check(path == "/v1/chat/completions?api-version=1&x=%2F",
                  "the query string is forwarded as written, without owned_by: %s" % path)
            for k, v in sent_headers.items():
                if k.lower() == "content-type":
                    continue
                check(hl.get(k.lower()) == [v], "header %s reaches the gateway once, unchanged: %r" %
                      (k, hl.get(k.lower())))
            check(hl.get("host") == ["127.0.0.1:%d" % gw1.port], "Host is the gateway's: %r" % hl.get("host"))
            check(hl.get("content-type") == ["application/json"], "Content-Type: %r" % hl.get("content-type"))
            want = dict(body)
            del want["owned_by"]  # routing-only field, removed as for every upstream
            try:
                check(json.loads(gbody) == want, "the body as sent, without owned_by: %r" % gbody[:300])
            except ValueError:
                check(False, "the gateway got JSON: %r" % gbody[:200])

        # a stream comes through event by event
        c = sy.conn()
        c.request("POST", "/v1/chat/completions", json.dumps(chat(LLAMA, stream=True)),
                  {"Content-Type": "application/json", "x-gateway-destination-endpoint": "10.0.0.9:8000"})
        r = c.getresponse()
        sdata = r.read()
        c.close()
        check(r.status == 200 and r.getheader("content-type") == "text/event-stream",
              "a stream through the gateway: %d" % r.status)
        check(sdata.count(b"data: ") == 4 and sdata.rstrip().endswith(b"data: [DONE]"),
              "every event and [DONE]: %r" % sdata[:300])
        check(r.getheader("x-gateway-served-by") == "gw1", "stream response headers come back")

        # 3. relayed 503s: passed to the client as they are, never an ejection
        gw1.mode = "503"
        gw1.taken()
        statuses = []
        for _ in range(8):
            st, h, data = sy.request("POST", "/v1/chat/completions", chat(LLAMA))
            statuses.append(st)
        check(statuses == [503] * 8, "the gateway's 503 reaches the client: %s" % statuses)
        check(b"no healthy pod in the InferencePool" in data and h.get("x-gateway-error") == "pool-empty",
              "the gateway's own 503 body and headers: %r %s" % (data[:100], h))
        check(len(gw1.taken()) == 8, "a 503 is not retried (the gateway answered)")
        time.sleep(0.3)  # done events reach the router at its next wake-up
        gw1.mode = "ok"
        st, h, _ = sy.request("POST", "/v1/chat/completions", chat(LLAMA))
        check(st == 200, "still used after 8 relayed 503s: %d" % st)
        u = upstream(a, "pool-llama")
        check(u and u["healthy"], "still healthy after relayed 503s: %s" % u)
        check("pool-llama ejected" not in sy.read_log(), "no ejection for relayed 503s")

        # 4. a failure before the first byte goes to another gateway of the model
        gw2.mode = "reset"
        gw2.taken()
        gw3.taken()
        served = []
        for _ in range(20):  # ties are broken at random: gw2 is tried first sooner or later
            st, h, data = sy.request("POST", "/v1/chat/completions", chat("pair"))
            served.append((st, h.get("x-gateway-served-by"), h.get("x-switchyard-retries")))
        check(all(s[0] == 200 and s[1] == "gw3" for s in served), "every request served by the other gateway: %s"
              % served)
        check(any(s[2] == "1" for s in served), "a retry is said in x-switchyard-retries: %s" % served)
        check(len(gw2.taken()) >= 1, "the failing gateway was tried")
        gw2.mode = "ok"

        # 5. a single gateway: no second attempt elsewhere; 502 at once
        gw1.mode = "reset"
        gw1.taken()
        st, h, data = sy.request("POST", "/v1/chat/completions", chat("solo"))
        check(st == 502 and b"upstream_error" in data, "single gateway reset: 502 upstream_error (%d %r)"
              % (st, data[:200]))
        n = len(gw1.taken())
        # 1 attempt, or 2 when the first went out on a kept-alive connection
        # (sent once more on a fresh one, as for any upstream)
        check(1 <= n <= 2, "the gateway got the request once (or once more on a fresh connection): %d" % n)

        # 6. attempts without an HTTP answer eject it (passive; /health still answers)
        for _ in range(3):
            sy.request("POST", "/v1/chat/completions", chat("solo"))
        check(wait_for(lambda: "pool-llama ejected" in sy.read_log(), 3), "resets eject the gateway")
        u = upstream(a, "pool-llama")
        check(u and not u["healthy"], "ejected: not healthy: %s" % u)
        st, h, data = sy.request("POST", "/v1/chat/completions", chat(LLAMA))
        check(st == 503 and b"no_healthy_upstream" in data, "ejected gateway: 503 (%d %r)" % (st, data[:120]))
        gw1.mode = "ok"
        # back after ejection_ms (its /health still answers)
        check(wait_for(lambda: sy.request("POST", "/v1/chat/completions", chat(LLAMA))[0] == 200, 8),
              "back after the ejection")

        # 7. refused connections eject it too
        gw1.stop()
        log0 = sy.read_log().count("pool-llama ejected")
        statuses = [sy.request("POST", "/v1/chat/completions", chat(LLAMA))[0] for _ in range(4)]
        check(all(s in (502, 503) for s in statuses), "gateway gone: 502/503: %s" % statuses)
        check(wait_for(lambda: sy.read_log().count("pool-llama ejected") > log0, 3),
              "refused connections eject the gateway")
        st, _, data = sy.request("POST", "/v1/chat/completions", chat("pair"))
        check(st == 200, "the other model's gateways are not affected: %d" % st)
    finally:
        sy.stop()
        for g in (gw1, gw2, gw3):
            g.stop()
    check.done(sy)


if __name__ == "__main__":
    main()
