"""The Gateway API Inference Extension's contract (issue 17): servers with
`via: <gateway upstream>` are picked by switchyard (scored on their own
/metrics) and reached through that gateway, which gets
`x-gateway-destination-endpoint: host:port` of the server picked, the
client's own value replaced. The gateway here is a fake that forwards each
request to the endpoint the header names (as an Envoy with an original
destination cluster does), so the replica that answers shows the header
was obeyed; plain gateway upstreams keep the client's header as it is.
usage: test_via.py SWITCHYARD SIMLLM"""
import http.client
import http.server
import sys
import threading

from harness import Check, Sim, Switchyard, chat, free_port, post, recv_until


class ForwardingGateway:
    def __init__(self):
        self.port, self.seen, self.lock = free_port(), [], threading.Lock()

    def start(self):
        gw = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                dests = self.headers.get_all("x-gateway-destination-endpoint") or []
                with gw.lock:
                    gw.seen.append(dests)
                if len(dests) != 1:
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                host, port = dests[0].rsplit(":", 1)
                up = http.client.HTTPConnection(host, int(port), timeout=10)
                hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                up.request("POST", self.path, body, hdrs)
                r = up.getresponse()
                data = r.read()
                up.close()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("x-gw-forwarded-to", dests[0])
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)  # daemon threads
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self


class ViaSwitchyard(Switchyard):
    def __init__(self, exe, sims, gw, direct):
        self.sims, self.gw, self.direct = sims, gw, direct
        super().__init__(exe, [], "router:\n  policy: round_robin\n")

    def write_config(self, upstreams, extra_yaml="", workers=2):
        super().write_config([], "", workers)
        lines = ["  - name: gw", "    url: http://127.0.0.1:%d" % self.gw.port, "    kind: gateway",
                 "    models: [m-gw]"]
        for s in self.sims:
            lines += ["  - name: %s" % s.name, "    url: http://127.0.0.1:%d" % s.port, "    via: gw",
                      "    models: [m-via]"]
        lines += ["  - name: direct", "    url: http://127.0.0.1:%d" % self.direct.port, "    models: [m-direct]"]
        with open(self.config, "a") as f:
            f.write("\n".join(lines) + "\n" + extra_yaml)


def main():
    exe, simllm = sys.argv[1], sys.argv[2]
    check = Check("via")
    gw = ForwardingGateway().start()
    sims = [Sim(simllm, "pod%d" % i, ["m-via"]).start() for i in range(2)]
    direct = Sim(simllm, "direct", ["m-direct"]).start()
    sy = ViaSwitchyard(exe, sims, gw, direct)
    try:
        sy.start()
        by_port = {str(s.port): s.name for s in sims}
        served = {}
        for i in range(12):
            st, h, body = sy.request("POST", "/v1/chat/completions", chat("m-via", "q %d" % i),
                                     headers={"x-gateway-destination-endpoint": "10.9.9.9:1"})
            fwd = h.get("x-gw-forwarded-to", "")
            rep = h.get("x-simllm-replica")
            check(st == 200 and fwd.rsplit(":", 1)[-1] in by_port and by_port[fwd.rsplit(":", 1)[-1]] == rep,
                  "through the gateway to the endpoint switchyard picked: %d %r %r %r" % (st, fwd, rep, body[:120]))
            check(h.get("x-switchyard-upstream") == rep, "x-switchyard-upstream names the server picked: %r %r"
                  % (h.get("x-switchyard-upstream"), rep))
            served[rep] = served.get(rep, 0) + 1
        with gw.lock:
            seen = list(gw.seen)
        check(all(len(d) == 1 and d[0] != "10.9.9.9:1" for d in seen),
              "one x-gateway-destination-endpoint per request, the client's replaced: %r" % seen[:3])
        check(len(served) == 2, "switchyard picked both servers behind the gateway: %r" % served)
        # a stream goes the same way
        s = post(sy.port, chat("m-via", stream=True, max_tokens=3))
        got = recv_until(s, b"[DONE]", s.recv(65536))
        s.close()
        check(b" 200 " in got.split(b"\r\n")[0] and b"x-gw-forwarded-to: 127.0.0.1:" in got.lower()
              and b"data: [DONE]" in got, "a stream through the gateway: %r" % got[:300])
        # not via: no destination header from switchyard
        st, h, _ = sy.request("POST", "/v1/chat/completions", chat("m-direct"))
        check(st == 200 and "x-gateway-destination-endpoint" not in (h.get("x-simllm-header-names") or ""),
              "a direct server gets no x-gateway-destination-endpoint: %r" % h.get("x-simllm-header-names"))
    finally:
        sy.stop()
        for s in sims + [direct]:
            s.kill()
        gw.server.shutdown()
        gw.server.server_close()
    check.done(sy)


if __name__ == "__main__":
    main()
