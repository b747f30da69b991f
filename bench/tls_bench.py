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
import concurrent.futures
import http.client
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import Sim, Switchyard  # noqa: E402
from test_tls import cleanup, make_ca, make_cert  # noqa: E402


def post_once(c, body, stream):
    """(ok, why) for one request on the kept-alive connection c."""
    try:
        c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
    except (OSError, http.client.HTTPException) as e:
        c.close()  # http.client reconnects on the next request
        return False, repr(e)[:120]
    return r.status == 200 and (not stream or b"[DONE]" in data), "%d %s" % (r.status, data[:120])


def drive(port, model, stream, seconds, conns):
    """conns closed loops for seconds: (req/s, p50 ms, p99 ms, errors); the errors' kinds are printed."""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8,
                       "stream": stream})
    end = time.monotonic() + seconds

    def loop(_):
        c, lat, bad = http.client.HTTPConnection("127.0.0.1", port, timeout=10), [], []
        while time.monotonic() < end:
            t0 = time.monotonic()
            ok, why = post_once(c, body, stream)
            (lat.append(time.monotonic() - t0) if ok else bad.append(why))
        c.close()
        return lat, bad

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(conns) as ex:
        runs = list(ex.map(loop, range(conns)))
    wall = time.monotonic() - t0
    lat = sorted(x for r in runs for x in r[0])
    bad = [w for r in runs for w in r[1]]
    for why in sorted(set(bad), key=bad.count, reverse=True)[:3]:
        print("   errors: %d x %s" % (bad.count(why), why))
    pct = (lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3) if lat else (lambda p: float("nan"))
    return len(lat) / wall, pct(0.5), pct(0.99), len(bad)


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
        ca = make_ca(d, "bench-ca")
        cert, key = make_cert(d, "localhost", ca, "DNS:localhost")
        plain = Sim(simllm, "plain", ["m-plain"], extra=["--ttft-ms", "0", "--itl-ms", "0"]).start()
        tls = Sim(simllm, "tls", ["m-tls"], extra=["--ttft-ms", "0", "--itl-ms", "0", "--tls-cert", cert,
                                                   "--tls-key", key]).start()
        sims = [plain, tls]
        sy = Switchyard(exe, [plain])
        with open(sy.config, "a") as f:
            f.write("  - name: tls\n    url: https://localhost:%d\n    models: [m-tls]\n    ca_file: %s\n"
                    % (tls.port, ca[1]))
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
        cleanup(sy, sims, d)


if __name__ == "__main__":
    main()
