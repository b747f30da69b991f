"""Test harness: real processes on loopback.

Starts simllm replicas and `switchyard run` (or the frontend and router
separately) with a generated configuration in a private runtime directory,
and cleans everything up. Python standard library only.
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


class Sim:
    def __init__(self, exe, name, models, engine="vllm", extra=(), port=None):
        self.exe, self.name, self.models, self.engine, self.extra = exe, name, models, engine, list(extra)
        self.port = port or free_port()
        self.proc = None

    def start(self):
        args = [self.exe, "--port", str(self.port), "--name", self.name, "--engine", self.engine]
        for m in self.models:
            args += ["--model", m]
        args += self.extra
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(self.port):
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
