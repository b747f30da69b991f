"""Test harness: real processes on loopback.

Starts simllm replicas and `switchyard run` (or the frontend and router
separately) with a generated configuration in a private runtime directory,
and cleans everything up; and the clients the tests share: raw POSTs read
as they stream, closed-loop load, the admin API, /metrics values. Also
imported by tests/node/run_node.py and bench/picker_bench.py. Python
standard library only.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def wait_for(fn, timeout=10.0, interval=0.05):
    """Calls fn until it returns something true (returned) or timeout
    seconds pass (then fn's last answer is returned)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(interval)
    return fn()


def post(port, body, headers=b"", path="/v1/chat/completions", timeout=10):
    """Opens a connection and sends one POST with a JSON body (a dict, or
    bytes) and the extra header lines in headers (bytes, each ending in
    CRLF). Returns the socket: the answer is read from it (recv_until)."""
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n"
              % (path.encode(), headers, len(body)) + body)
    return s


def recv_until(s, marker=None, data=b""):
    """Reads from socket s onto data until marker is in it or, without a
    marker, until the peer closes; returns data (also when the peer closed
    before the marker came)."""
    while marker is None or marker not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def metric(text, name):
    """The sum of the samples of metric name (any labels) in a Prometheus
    text page; None when there is none."""
    total = None
    for line in text.splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in ("{", " "):
            total = (total or 0.0) + float(line.split()[-1])
    return total


class Sim:
    def __init__(self, exe, name, models, engine="vllm", extra=(), port=None, log=None):
        """log: a file path for simllm's stderr (default: discarded)."""
        self.exe, self.name, self.models, self.engine, self.extra = exe, name, models, engine, list(extra)
        self.port = port or free_port()
        self.log = log
        self.proc = None

    def start(self, timeout=10.0):
        args = [self.exe, "--port", str(self.port), "--name", self.name, "--engine", self.engine]
        for m in self.models:
            args += ["--model", m]
        args += self.extra
        if self.log:
            with open(self.log, "ab") as err:
                self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
        else:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(self.port, timeout):
            raise RuntimeError("simllm %s did not start" % self.name)
        return self

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def configure(self, **knobs):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        c.request("POST", "/sim/config", json.dumps(knobs), {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        c.close()
        assert r.status == 200, r.status

    def stats(self):
        """GET /sim/stats (running, waiting, prefix cache counters...)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request("GET", "/sim/stats")
            return json.loads(c.getresponse().read())
        finally:
            c.close()


class Switchyard:
    """switchyard run -c <generated config>."""

    def __init__(self, exe, upstreams, extra_yaml="", workers=2, separate=False):
        self.exe = exe
        self.dir = tempfile.mkdtemp(prefix="sy-test-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "switchyard.log")
        self.config = os.path.join(self.dir, "switchyard.yaml")
        self.separate = separate
        self.procs = {}
        self.write_config(upstreams, extra_yaml, workers)

    def write_config(self, upstreams, extra_yaml="", workers=2):
        lines = [
            "server:",
            "  host: 127.0.0.1",
            "  port: %d" % self.port,
            "  workers: %d" % workers,
            "  drain_timeout_ms: 10000",
            "health:",
            "  interval_ms: 200",
            "  timeout_ms: 300",
            "  unhealthy_threshold: 1",
            "  healthy_threshold: 1",
            "shm:",
            "  runtime_dir: %s" % self.dir,
            "  max_workers: 8",
            "  ring_bytes: 65536",
            "upstreams:",
        ]
        for sim in upstreams:
            lines += [
                "  - name: %s" % sim.name,
                "    url: http://127.0.0.1:%d" % sim.port,
                "    engine: %s" % sim.engine,
                "    models: [%s]" % ", ".join(json.dumps(m) for m in sim.models),
            ]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n" + extra_yaml)

    def start(self):
        self.log = open(self.log_path, "ab")
        env = dict(os.environ, SWITCHYARD_LOG_LEVEL="info")
        if self.separate:
            for role in ("router", "frontend"):
                self.procs[role] = subprocess.Popen([self.exe, role, "-c", self.config], stdout=self.log,
                                                    stderr=self.log, env=env)
        else:
            self.procs["run"] = subprocess.Popen([self.exe, "run", "-c", self.config], stdout=self.log,
                                                 stderr=self.log, env=env)
        if not wait_port(self.port):
            self.stop()
            raise RuntimeError("switchyard did not start:\n" + self.read_log())
        # the router publishes its first snapshot right after it starts
        deadline = time.time() + 5
        while time.time() < deadline:
            st, _, _ = self.request("GET", "/ready")
            if st == 200:
                break
            time.sleep(0.05)
        return self

    def read_log(self):
        if getattr(self, "final_log", None) is not None:
            return self.final_log
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def pids(self, role):
        """pids of child processes with that role (children of `switchyard run`)."""
        out = subprocess.run(["pgrep", "-f", " %s -c %s$" % (role, self.config)],
                             capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def signal(self, sig, role="run"):
        p = self.procs.get(role)
        if p:
            p.send_signal(sig)

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if hasattr(self, "log"):
            self.log.close()
        self.final_log = self.read_log()
        shutil.rmtree(self.dir, ignore_errors=True)

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=10):
        """One request on a fresh connection: (status, headers dict lower-case, body bytes)."""
        c = self.conn(timeout)
        try:
            h = dict(headers or {})
            if body is not None and not isinstance(body, (bytes, str)):
                body = json.dumps(body)
                h.setdefault("Content-Type", "application/json")
            c.request(method, path, body, h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        except (OSError, http.client.HTTPException) as e:
            return 0, {}, str(e).encode()
        finally:
            c.close()

    def metrics(self):
        """The /metrics page as text ("" if it did not answer)."""
        st, _, body = self.request("GET", "/metrics")
        return body.decode("utf-8", "replace") if st == 200 else ""

    def raw(self, data, timeout=5, read_until_close=True, first_only=True):
        """Sends raw bytes; returns what comes back until the server closes or times out."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                out += chunk
                if not read_until_close and b"\r\n\r\n" in out:
                    break
                if first_only and complete_response(out):
                    break
            return out
        finally:
            s.close()


def complete_response(data):
    """True when data holds one whole response framed by Content-Length
    (errors and local answers), so raw() need not wait for a close."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep or head.startswith(b"HTTP/1.1 100"):
        return False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            try:
                return len(body) >= int(v.strip())
            except ValueError:
                return False
    return False


class Check:
    """Collects failures so one run reports them all."""

    def __init__(self, name):
        self.name, self.failures, self.count = name, [], 0

    def __call__(self, cond, what):
        self.count += 1
        if not cond:
            self.failures.append(what)
            print("FAIL: %s" % what, flush=True)
        return cond

    def done(self, sy=None):
        if sy is not None:
            # sanitizer builds: the processes' reports land in their log
            log = sy.read_log()
            for pat in ("runtime error:", "AddressSanitizer", "LeakSanitizer", "ThreadSanitizer"):
                self(pat not in log, "no %s report in the switchyard log" % pat)
        if self.failures:
            if sy is not None:
                print("---- switchyard log ----\n" + sy.read_log()[-6000:])
            print("%s: %d of %d checks failed" % (self.name, len(self.failures), self.count))
            sys.exit(1)
        print("%s: all %d checks passed" % (self.name, self.count))
        sys.exit(0)


def chat(model, text="What is machine learning?", **extra):
    body = {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 8}
    body.update(extra)
    return body


def replica(sy, body, headers=None):
    """POSTs a chat body: (status, the simllm replica that answered)."""
    st, h, _ = sy.request("POST", "/v1/chat/completions", body, headers=headers)
    return st, h.get("x-simllm-replica")


class Load:
    """Closed-loop load for a with block: `threads` threads, each sending
    requests one after another on its own kept-alive connection until the
    block ends. A subclass says what request number i is (send: returns the
    response and its body, read) and what to keep of it (record, error),
    both called with self.lock held."""

    def __init__(self, port, threads=6):
        self.port, self.n = port, threads
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()

    def send(self, c, i):
        raise NotImplementedError

    def record(self, r, data, i):
        pass

    def error(self, e):
        pass

    def run_one(self, k):
        c, i = None, k
        while not self.stop_flag.is_set():
            i += 1
            try:
                if c is None:
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                r, data = self.send(c, i)
                with self.lock:
                    self.record(r, data, i)
                if r.getheader("connection", "").lower() == "close":
                    c.close()
                    c = None
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.error(e)
                c = None
        if c:
            c.close()

    def __enter__(self):
        self.threads = [threading.Thread(target=self.run_one, args=(k,)) for k in range(self.n)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *a):
        self.stop_flag.set()
        for t in self.threads:
            t.join()


class Admin:
    """The router's admin API on its own port, with a bearer token."""

    def __init__(self, port, token):
        self.port, self.token = port, token

    def req(self, method, path, body=None, token=None, raw=None):
        """(status, the JSON answer or None); (0, error text) when it did not answer."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = {}
        tok = self.token if token is None else token
        if tok:
            h["Authorization"] = "Bearer " + tok
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            h["Content-Type"] = "application/json"
        try:
            c.request(method, path, data, h)
            r = c.getresponse()
            out = r.read()
            try:
                j = json.loads(out) if out else None
            except ValueError:
                j = None
            return r.status, j
        except OSError as e:
            return 0, str(e)
        finally:
            c.close()
