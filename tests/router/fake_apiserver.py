"""A fake Kubernetes API server for the discovery tests (Python standard library).

Serves EndpointSlices (discovery.k8s.io/v1) and pods (v1) of any namespace
with the real list and watch JSON: lists carry metadata.resourceVersion;
watches (?watch=1&resourceVersion=RV) stream chunked events, one JSON
object per line (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR), starting after
RV; a resourceVersion older than the compaction point gets an ERROR event
with code 410 ("too old resource version") or, when told so, HTTP 410.
Label selectors of the form k=v[,k2=v2] are applied. Every API request must
carry "Authorization: Bearer <token>" (401 otherwise).

HTTPS with a certificate made at start by the openssl command line (for
IP 127.0.0.1), or plain HTTP with --plain.

A control listener (plain HTTP, loopback) changes the state:
  POST /objects   {"resource": "endpointslices"|"pods", "namespace", "object": {...}}
                  adds or replaces (ADDED / MODIFIED event)
  DELETE /objects?resource=..&namespace=..&name=..        (DELETED event)
  POST /expire    compacts history: current watches get ERROR 410 and end;
                  older versions are refused from now on
  POST /expire-http  the next watch requests get HTTP 410 instead
  POST /drop      closes every watch connection abruptly (no last chunk)
  POST /bookmark  sends a BOOKMARK event on every watch
  POST /end       ends every watch normally (last chunk), as timeoutSeconds does
  GET  /stats     {"lists": n, "watches": n, "unauthorized": n, "active_watches": n,
                   "rv": n, "watch_rvs": [...]}

usage: fake_apiserver.py --dir DIR [--token TOKEN] [--plain]
Prints one line "READY <api_url> <control_port> <ca_file>" when ready.
"""
import argparse
import copy
import http.server
import json
import os
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import urllib.parse


class State:
    def __init__(self, token):
        self.token = token
        self.lock = threading.Condition()
        self.rv = 100
        self.compacted = 0          # versions <= this are gone
        self.objects = {}           # (resource, ns, name) -> obj
        self.history = []           # (rv, resource, ns, type, obj)
        self.watchers = set()
        self.expire_http = 0
        self.stats = {"lists": 0, "watches": 0, "unauthorized": 0, "watch_rvs": []}
        self.generation = 0         # bumps on control actions that concern watchers
        self.action = None          # (generation, kind)

    def next_rv(self):
        self.rv += 1
        return self.rv


def matches(obj, selector):
    if not selector:
        return True
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in selector.split(","):
        term = term.strip()
        if "=" in term:
            k, v = term.split("=", 1)
            k = k.rstrip("=").rstrip("!")
            if term.split("=", 1)[0].endswith("!"):
                if labels.get(k.strip()) == v.strip():
                    return False
            elif labels.get(k.strip()) != v.strip():
                return False
        elif labels.get(term) is None:
            return False
    return True


def parse_api_path(path):
    """-> (resource, namespace) or None"""
    parts = path.strip("/").split("/")
    if parts[:3] == ["apis", "discovery.k8s.io", "v1"] and len(parts) == 6 and parts[3] == "namespaces" \
            and parts[5] == "endpointslices":
        return "endpointslices", parts[4]
    if parts[:2] == ["api", "v1"] and len(parts) == 5 and parts[2] == "namespaces" and parts[4] == "pods":
        return "pods", parts[3]
    return None


def make_handler(st):
    class Api(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send_json(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def status(self, code, reason, msg):
            self.send_json(code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": msg, "reason": reason, "code": code})

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(u.query))
            if self.headers.get("Authorization") != "Bearer " + st.token:
                with st.lock:
                    st.stats["unauthorized"] += 1
                return self.status(401, "Unauthorized", "Unauthorized")
            rn = parse_api_path(u.path)
            if not rn:
                return self.status(404, "NotFound", "the server could not find the requested resource")
            resource, ns = rn
            sel = q.get("labelSelector", "")
            if q.get("watch") in ("1", "true"):
                return self.watch(resource, ns, sel, q)
            with st.lock:
                st.stats["lists"] += 1
                items = [copy.deepcopy(o) for (r, n, _), o in sorted(st.objects.items())
                         if r == resource and n == ns and matches(o, sel)]
                rv = st.rv
            kind = "EndpointSliceList" if resource == "endpointslices" else "PodList"
            api = "discovery.k8s.io/v1" if resource == "endpointslices" else "v1"
            body = json.dumps({"kind": kind, "apiVersion": api, "metadata": {"resourceVersion": str(rv)},
                               "items": items}).encode()
            # lists come chunked, as the real API server sends them
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            for i in range(0, len(body), 700):
                part = body[i:i + 700]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            self.close_connection = True

        def chunk(self, obj):
            data = (json.dumps(obj) + "\n").encode()
            # split events over chunk boundaries now and then, as proxies do
            if len(data) > 40:
                cut = len(data) // 2
                self.wfile.write(b"%x\r\n%s\r\n" % (cut, data[:cut]))
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data) - cut, data[cut:]))
            else:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def watch(self, resource, ns, sel, q):
            try:
                since = int(q.get("resourceVersion", "0") or "0")
            except ValueError:
                return self.status(400, "BadRequest", "bad resourceVersion")
            with st.lock:
                st.stats["watch_rvs"].append(since)
                if st.expire_http > 0:
                    st.expire_http -= 1
                    return self.status(410, "Expired", "too old resource version: %d (%d)" % (since, st.rv))
                st.stats["watches"] += 1
                gen = st.generation
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            me = threading.current_thread()
            with st.lock:
                st.watchers.add(me)
            try:
                with st.lock:
                    too_old = since < st.compacted
                if too_old:
                    self.chunk({"type": "ERROR", "object": {
                        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": "too old resource version: %d (%d)" % (since, st.compacted),
                        "reason": "Expired", "code": 410}})
                    self.wfile.write(b"0\r\n\r\n")
                    self.close_connection = True
                    return
                sent = since
                while True:
                    with st.lock:
                        pending = [h for h in st.history if h[0] > sent and h[1] == resource and h[2] == ns]
                        action = st.action if st.action and st.action[0] > gen else None
                        if not pending and not action:
                            st.lock.wait(0.5)
                            continue
                    if action:
                        gen = action[0]
                        kind = action[1]
                        if kind == "drop":
                            self.connection.shutdown(socket.SHUT_RDWR)
                            self.close_connection = True
                            return
                        if kind == "expire":
                            self.chunk({"type": "ERROR", "object": {
                                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": "too old resource version: %d (%d)" % (sent, st.compacted),
                                "reason": "Expired", "code": 410}})
                            self.wfile.write(b"0\r\n\r\n")
                            self.close_connection = True
                            return
                        if kind == "end":
                            self.wfile.write(b"0\r\n\r\n")
                            self.close_connection = True
                            return
                        if kind == "bookmark":
                            kindname = "EndpointSlice" if resource == "endpointslices" else "Pod"
                            self.chunk({"type": "BOOKMARK", "object": {"kind": kindname, "metadata": {
                                "resourceVersion": str(st.rv)}}})
                            sent = max(sent, st.rv)
                        continue
                    for rv, _, _, typ, obj in pending:
                        sent = rv
                        if typ != "DELETED" and not matches(obj, sel):
                            continue
                        self.chunk({"type": typ, "object": obj})
            except (BrokenPipeError, ConnectionResetError, OSError):
                self.close_connection = True
            finally:
                with st.lock:
                    st.watchers.discard(me)

    return Api


def make_control(st):
    class Control(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(n) or b"{}")

        def act(self, kind):
            with st.lock:
                st.generation += 1
                st.action = (st.generation, kind)
                if kind == "expire":
                    st.compacted = st.rv
                st.lock.notify_all()

        def do_GET(self):
            if self.path == "/stats":
                with st.lock:
                    s = dict(st.stats, active_watches=len(st.watchers), rv=st.rv)
                return self.reply(200, s)
            self.reply(404, {})

        def do_POST(self):
            if self.path == "/objects":
                b = self.body()
                obj = b["object"]
                key = (b["resource"], b["namespace"], obj["metadata"]["name"])
                with st.lock:
                    rv = st.next_rv()
                    obj = copy.deepcopy(obj)
                    obj["metadata"]["resourceVersion"] = str(rv)
                    obj["metadata"].setdefault("namespace", b["namespace"])
                    typ = "MODIFIED" if key in st.objects else "ADDED"
                    st.objects[key] = obj
                    st.history.append((rv, key[0], key[1], typ, obj))
                    st.lock.notify_all()
                return self.reply(200, {"resourceVersion": rv, "type": typ})
            if self.path == "/expire-http":
                with st.lock:
                    st.expire_http = int(self.body().get("count", 1))
                return self.reply(200, {})
            if self.path in ("/expire", "/drop", "/bookmark", "/end"):
                self.body()
                self.act(self.path[1:])
                return self.reply(200, {})
            self.reply(404, {})

        def do_DELETE(self):
            u = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(u.query))
            if u.path != "/objects":
                return self.reply(404, {})
            key = (q["resource"], q["namespace"], q["name"])
            with st.lock:
                obj = st.objects.pop(key, None)
                if obj is None:
                    return self.reply(404, {})
                rv = st.next_rv()
                obj = copy.deepcopy(obj)
                obj["metadata"]["resourceVersion"] = str(rv)
                st.history.append((rv, key[0], key[1], "DELETED", obj))
                st.lock.notify_all()
            self.reply(200, {"resourceVersion": rv})

    return Control


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_cert(d):
    key, crt = os.path.join(d, "apiserver.key"), os.path.join(d, "apiserver.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=kubernetes", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return key, crt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--token", default="test-token")
    ap.add_argument("--plain", action="store_true")
    a = ap.parse_args()
    st = State(a.token)
    api = Server(("127.0.0.1", 0), make_handler(st))
    ca = "-"
    scheme = "http"
    if not a.plain:
        key, crt = make_cert(a.dir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        api.socket = ctx.wrap_socket(api.socket, server_side=True)
        ca = crt
        scheme = "https"
    ctl = Server(("127.0.0.1", 0), make_control(st))
    for s in (api, ctl):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("READY %s://127.0.0.1:%d %d %s" % (scheme, api.server_address[1], ctl.server_address[1], ca), flush=True)
    try:
        sys.stdin.read()  # runs until stdin closes (the test ends) or a signal
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
