#!/usr/bin/python3
"""What TLS to an upstream costs through switchyard: the same simllm
(zero TTFT and ITL) served over plain HTTP and over TLS (a certificate of
a CA made here with the openssl CLI), behind one switchyard, each driven
by --conns kept-alive client connections for --seconds: requests per
second and latency percentiles, plain (the baseline) and TLS side by side,
measured in the same run. A stream row reads 8-token SSE answers to
[DONE]. Not a test: nothing passes or fails.

Usage: bench/tls_bench.py [BUILD_DIR] [--seconds 5] [--conns 8]
Python standard library only. BUILD_DIR defaults to ./build.
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import Sim, Switchyard  # noqa: E402


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def drive(port, model, stream, seconds, conns):
    lat, errors, lock = [], [0], threading.Lock()
    kinds = {}
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8,
                       "stream": stream})
    end = time.monotonic() + seconds

    def one():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.monotonic() < end:
            t0 = time.monotonic()
            try:
                c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
                r = c.getresponse()
                data = r.read()
                ok = r.status == 200 and (not stream or b"[DONE]" in data)
                why = "%d %s" % (r.status, data[:120])
            except (OSError, http.client.HTTPException) as e:
                ok = False
                why = repr(e)[:120]
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            if ok:
                mine.append(time.monotonic() - t0)
            else:
                with lock:
                    errors[0] += 1
                    kinds[why] = kinds.get(why, 0) + 1
        with lock:
            lat.extend(mine)

    ts = [threading.Thread(target=one) for _ in range(conns)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.monotonic() - t0
    lat.sort()
    for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])[:3]:
        print("   errors: %d x %s" % (v, k))
    pct = (lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3) if lat else (lambda p: float("nan"))
    return len(lat) / wall, pct(0.5), pct(0.99), errors[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--conns", type=int, default=8)
    a = ap.parse_args()
    exe = os.path.join(a.build, "supervisor", "switchyard")
    simllm = os.path.join(a.build, "tests", "simllm", "simllm")
    d = tempfile.mkdtemp(prefix="sy-tls-bench-")
    sims, sy = [], None
    try:
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/ca.key", "-out", d + "/ca.pem",
                "-days", "1", "-subj", "/CN=bench-ca")
        with open(d + "/ext", "w") as f:
            f.write("subjectAltName=DNS:localhost\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/srv.key", "-out", d + "/srv.csr",
                "-subj", "/CN=localhost")
        openssl("x509", "-req", "-in", d + "/srv.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key",
                "-CAcreateserial", "-out", d + "/srv.pem", "-days", "1", "-extfile", d + "/ext")
        plain = Sim(simllm, "plain", ["m-plain"], extra=["--ttft-ms", "0", "--itl-ms", "0"]).start()
        tls = Sim(simllm, "tls", ["m-tls"], extra=["--ttft-ms", "0", "--itl-ms", "0", "--tls-cert",
                                                   d + "/srv.pem", "--tls-key", d + "/srv.key"]).start()
        sims = [plain, tls]
        sy = Switchyard(exe, [plain])
        with open(sy.config, "a") as f:
            f.write("  - name: tls\n    url: https://localhost:%d\n    models: [m-tls]\n    ca_file: %s/ca.pem\n"
                    % (tls.port, d))
        sy.start()
        time.sleep(1)
        print("%-22s %10s %10s %10s %7s" % ("", "req/s", "p50 ms", "p99 ms", "errors"))
        for stream in (False, True):
            for name, model in (("plain (baseline)", "m-plain"), ("tls", "m-tls")):
                rps, p50, p99, err = drive(sy.port, model, stream, a.seconds, a.conns)
                print("%-22s %10.0f %10.2f %10.2f %7d" % (name + (" stream" if stream else ""), rps, p50, p99,
                                                           err))
        print("(%d connections, %.0f s each, %d CPUs, load %.1f)" % (a.conns, a.seconds, os.cpu_count(),
                                                                    os.getloadavg()[0]))
    finally:
        if sy:
            sy.stop()
        for s in sims:
            s.kill()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
