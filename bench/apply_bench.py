#!/usr/bin/python3
"""What a configuration change costs the router (a benchmark: prints
figures, never passes or fails).

switchyard runs with one simllm replica serving the model under load and
--names upstreams whose host names do not resolve (nx-N.invalid). Under a
steady closed-loop load the admin API adds and removes an upstream --applies
times. Printed: the admin call's latency (each call is one apply: the new
snapshot is built and published before it answers), and the picks the
frontend had to make without the router because the router did not answer
within router.pick_timeout_us (switchyard_fallback_picks_total): a router
blocked on DNS shows there. Compare two builds:

    bench/apply_bench.py build/supervisor/switchyard build/tests/simllm/simllm
    bench/apply_bench.py OLD/supervisor/switchyard OLD/tests/simllm/simllm
"""
import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from harness import Sim, Switchyard, chat, free_port  # noqa: E402
from test_admin import Admin, wait_for  # noqa: E402

TOKEN = "apply-bench-token"


def metric(sy, name):
    st, _, data = sy.request("GET", "/metrics")
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith(name):
            return float(line.split()[-1])
    return 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("switchyard")
    ap.add_argument("simllm")
    ap.add_argument("--names", type=int, default=8, help="upstreams with unresolvable host names")
    ap.add_argument("--applies", type=int, default=20)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()

    sim = Sim(args.simllm, "bench-rep", ["bench-model"], extra=["--threads", "2"]).start()
    admin_port = free_port()
    ghosts = "".join("  - name: nx-%d\n    url: http://nx-%d.invalid:8000\n    models: [ghost-model]\n" % (i, i)
                     for i in range(args.names))
    sy = Switchyard(args.switchyard, [sim])
    sy.write_config([sim], extra_yaml="admin:\n  listen: \"127.0.0.1:%d\"\n  token: %s\n" % (admin_port, TOKEN))
    # the ghosts go first in the upstreams list
    with open(sy.config) as f:
        lines = f.read().split("\n")
    i = lines.index("upstreams:")
    lines[i + 1:i + 1] = ghosts.rstrip("\n").split("\n")
    with open(sy.config, "w") as f:
        f.write("\n".join(lines))
    a = Admin(admin_port, TOKEN)
    stop = threading.Event()
    done = [0]

    def load():
        c = http.client.HTTPConnection("127.0.0.1", sy.port, timeout=10)
        body = json.dumps(chat("bench-model"))
        while not stop.is_set():
            c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            c.getresponse().read()
            done[0] += 1
        c.close()

    try:
        sy.start()
        wait_for(lambda: a.req("GET", "/admin/upstreams")[0] == 200, 10)
        threads = [threading.Thread(target=load) for _ in range(args.threads)]
        for t in threads:
            t.start()
        time.sleep(1)
        fb0, n0, t0 = metric(sy, "switchyard_fallback_picks_total"), done[0], time.time()
        lat = []
        for k in range(args.applies):
            body = {"name": "extra", "url": "http://127.0.0.1:%d" % sim.port, "models": ["bench-model"]}
            for method, path, b in (("POST", "/admin/upstreams", body), ("DELETE", "/admin/upstreams/extra", None)):
                s = time.perf_counter()
                st, _ = a.req(method, path, b)
                lat.append((time.perf_counter() - s) * 1000)
                if st not in (201, 204):
                    print("admin %s: %s" % (method, st))
        el = time.time() - t0
        fb1, n1 = metric(sy, "switchyard_fallback_picks_total"), done[0]
        stop.set()
        for t in threads:
            t.join()
        lat.sort()
        print("switchyard %s" % args.switchyard)
        print("  %d applies with %d unresolvable upstream names, %d requests/s of load" %
              (len(lat), args.names, (n1 - n0) / el))
        print("  apply (admin call) latency ms: median %.2f  p90 %.2f  max %.2f" %
              (statistics.median(lat), lat[int(len(lat) * 0.9) - 1], lat[-1]))
        print("  picks made without the router (it did not answer in time): %d of %d requests" %
              (fb1 - fb0, n1 - n0))
    finally:
        stop.set()
        sy.stop()
        sim.kill()


if __name__ == "__main__":
    main()
