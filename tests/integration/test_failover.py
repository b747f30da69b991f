"""Under steady load: kill a replica (no client-visible failure for
non-streamed requests), kill the router (requests keep being served, the
supervisor restarts it), bring the replica back (it is used again).
Each step waits until enough requests were answered (a generous deadline)
rather than a fixed time, so a loaded machine only makes it slower.
usage: test_failover.py SWITCHYARD SIMLLM"""
import json
import os
import signal
import sys
import time

import harness
from harness import Check, Sim, Switchyard, chat, metric, wait_for

MODEL = "m1"


class Load(harness.Load):
    """The same chat request over and over; counts answers per replica."""

    def __init__(self, port, threads=6):
        super().__init__(port, threads)
        self.ok = 0
        self.failures = []
        self.replicas = {}
        self.body = json.dumps(chat(MODEL))

    def send(self, c, i):
        c.request("POST", "/v1/chat/completions", self.body, {"Content-Type": "application/json"})
        r = c.getresponse()
        return r, r.read()

    def record(self, r, data, i):
        if r.status == 200:
            self.ok += 1
            rep = r.getheader("x-simllm-replica")
            self.replicas[rep] = self.replicas.get(rep, 0) + 1
        else:
            self.failures.append("%d %s" % (r.status, data[:200]))

    def error(self, e):
        self.failures.append(repr(e))

    def snapshot(self):
        with self.lock:
            return self.ok, list(self.failures), dict(self.replicas)


def main():
    sy_exe, sim_exe = sys.argv[1], sys.argv[2]
    sims = [Sim(sim_exe, "rep-a", [MODEL], extra=["--ttft-ms", "20"]),
            Sim(sim_exe, "rep-b", [MODEL], extra=["--ttft-ms", "20"])]
    for s in sims:
        s.start()
    sy = Switchyard(sy_exe, sims)
    check = Check("failover")
    try:
        sy.start()
        with Load(sy.port) as load:
            wait_for(lambda: load.snapshot()[0] > 20 and all(load.snapshot()[2].get(r, 0) > 0
                                                             for r in ("rep-a", "rep-b")), 20)
            ok0, f0, reps0 = load.snapshot()
            check(ok0 > 20 and not f0, "steady load before faults (%d ok, failures %s)" % (ok0, f0[:3]))
            check(reps0.get("rep-a", 0) > 0 and reps0.get("rep-b", 0) > 0, "both replicas serve (%s)" % reps0)

            # 1. kill a replica mid-load
            sims[0].kill()
            # past the health checks (200 ms apart) that eject it, and 20 more answers
            time.sleep(0.5)
            wait_for(lambda: load.snapshot()[0] > ok0 + 20, 20)
            ok1, f1, reps1 = load.snapshot()
            check(ok1 > ok0 + 20, "requests kept flowing after a replica died (%d -> %d)" % (ok0, ok1))
            check(not f1, "no client-visible failure when a replica dies: %s" % f1[:5])

            # 2. kill the router
            routers = sy.pids("router")
            check(len(routers) == 1, "one router process (%s)" % routers)
            for p in routers:
                os.kill(p, signal.SIGKILL)
            wait_for(lambda: load.snapshot()[0] > ok1 + 10, 20)
            ok2, f2, _ = load.snapshot()
            check(ok2 > ok1 + 10, "requests served while the router is down (%d -> %d)" % (ok1, ok2))
            check(not f2, "no failure while the router is down: %s" % f2[:5])
            new_routers = wait_for(lambda: [p for p in sy.pids("router") if p not in routers], 20, 0.1)
            check(new_routers and new_routers != routers, "supervisor restarted the router (%s)" % new_routers)

            # 3. the replica comes back and is used again
            before = load.snapshot()[2].get("rep-a", 0)
            sims[0].start()
            wait_for(lambda: load.snapshot()[2].get("rep-a", 0) > before, 30)
            ok3, f3, reps3 = load.snapshot()
            check(reps3.get("rep-a", 0) > before, "recovered replica is used again (%d -> %d)" %
                  (before, reps3.get("rep-a", 0)))
            check(not f3, "no failures at all: %s" % f3[:5])

        # the requests that met the dead replica were retried on the other one:
        # counted, not merely named, in /metrics
        retries = metric(sy.metrics(), "switchyard_retries_total")
        check(retries is not None and retries >= 1, "retries after the replica died counted in /metrics (%r)" % retries)
    finally:
        sy.stop()
        for s in sims:
            s.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
