"""Upstreams that change under load: while clients send requests (plain and
streamed), the admin API adds and removes upstreams, moves one to another
address under the same name, and a SIGHUP puts a new upstream first in the
file (which shifted every index before upstream slots were stable). No
request may fail, every response must come from the replica behind the
upstream switchyard names (x-simllm-replica against x-switchyard-upstream),
and the router's in-flight counts must come back to zero (every done event
counted against the upstream it was for).
usage: test_apply.py SWITCHYARD SIMLLM"""
import json
import os
import signal
import sys
import time

import harness
from harness import Admin, Check, Sim, Switchyard, chat, free_port, wait_for

MODEL = "m-apply"
TOKEN = "apply-test-admin-token"


class Load(harness.Load):
    """Every second request is streamed; keeps (time, status, upstream,
    replica, note) per request."""

    def __init__(self, port, threads=6):
        super().__init__(port, threads)
        self.results = []

    def send(self, c, i):
        body = json.dumps(chat(MODEL, stream=i % 2 == 0, max_tokens=4))
        c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        return r, r.read()

    def record(self, r, data, i):
        note = ""
        if r.status == 200 and i % 2 == 0 and not data.rstrip().endswith(b"data: [DONE]"):
            note = "stream cut: %r" % data[-80:]
        self.results.append((time.time(), r.status, r.getheader("x-switchyard-upstream"),
                             r.getheader("x-simllm-replica"),
                             note or ("" if r.status == 200 else data[:200].decode("utf-8", "replace"))))

    def error(self, e):
        self.results.append((time.time(), 0, None, None, repr(e)))


def main():
    sy_exe, sim_exe = sys.argv[1], sys.argv[2]
    knobs = ["--ttft-ms", "15", "--itl-ms", "3", "--threads", "2"]
    base = [Sim(sim_exe, "base-0", [MODEL], extra=knobs).start(), Sim(sim_exe, "base-1", [MODEL], extra=knobs).start()]
    pool = [Sim(sim_exe, "c-%d" % i, [MODEL], extra=knobs).start() for i in range(4)]
    first = Sim(sim_exe, "file-first", [MODEL], extra=knobs).start()
    admin_port = free_port()
    admin_yaml = "admin:\n  listen: \"127.0.0.1:%d\"\n  token: %s\n" % (admin_port, TOKEN)
    sy = Switchyard(sy_exe, base, extra_yaml=admin_yaml)
    a = Admin(admin_port, TOKEN)
    check = Check("apply")
    # upstream name -> the replica names that may answer for it
    behind = {"base-0": {"base-0"}, "base-1": {"base-1"}, "file-first": {"file-first"}}
    moved_at = None
    try:
        sy.start()
        check(wait_for(lambda: a.req("GET", "/admin/upstreams")[0] == 200), "admin API answers")

        def add(name, sim):
            st, body = a.req("POST", "/admin/upstreams", {"name": name, "url": "http://127.0.0.1:%d" % sim.port,
                                                         "engine": "vllm", "models": [MODEL]})
            check(st == 201, "add %s: %s %s" % (name, st, body))

        def remove(name):
            st, _ = a.req("DELETE", "/admin/upstreams/" + name)
            check(st == 204, "remove %s: %s" % (name, st))

        with Load(sy.port) as load:
            time.sleep(0.3)
            for k in range(24):
                name = "churn-%d" % k
                behind[name] = {pool[k % 4].name}
                add(name, pool[k % 4])
                time.sleep(0.04)
                if k >= 2:
                    remove("churn-%d" % (k - 2))
                time.sleep(0.04)
                if k == 6:
                    # the same name at another address: requests after the move
                    # must not go out on connections kept to the old one
                    behind["mover"] = {pool[0].name, pool[1].name}
                    add("mover", pool[0])
                if k == 12:
                    remove("mover")
                    add("mover", pool[1])
                    moved_at = time.time()
                if k == 16:
                    # a new upstream first in the file: every file upstream's
                    # position in the configuration moves
                    sy.write_config([first] + base, extra_yaml=admin_yaml)
                    for pid in sy.pids("router"):
                        os.kill(pid, signal.SIGHUP)
            time.sleep(0.5)
            with load.lock:
                results = list(load.results)

        failures = [r for r in results if r[1] != 200 or r[4]]
        check(not failures, "no request failed under changes (%d of %d): %s"
              % (len(failures), len(results), failures[:5]))
        wrong = [r for r in results if r[1] == 200 and r[3] not in behind.get(r[2], ())]
        check(not wrong, "every response came from the replica behind the named upstream: %s" % wrong[:5])
        late = [r for r in results if r[2] == "mover" and moved_at and r[0] > moved_at + 0.5 and r[3] != pool[1].name]
        check(not late, "after the move, mover is the new address: %s" % late[:5])
        used = {r[2] for r in results if r[1] == 200}
        check(len([u for u in used if u and u.startswith("churn-")]) >= 6,
              "the added upstreams took requests: %s" % sorted(used))
        check("file-first" in used, "the upstream added by SIGHUP took requests")
        check(len(results) >= 200, "load ran: %d requests" % len(results))
        print("apply: %d requests, %d upstreams used" % (len(results), len(used)))

        # every done event found its upstream: nothing is left in flight
        def settled():
            st, body = a.req("GET", "/admin/upstreams")
            return st == 200 and all(u["inflight"] == 0 for u in body["data"]) and body
        body = wait_for(settled, 5)
        check(bool(body), "in-flight counts back to 0: %s" % (
            [(u["name"], u["inflight"]) for u in a.req("GET", "/admin/upstreams")[1]["data"]]))
        names = sorted(u["name"] for u in a.req("GET", "/admin/upstreams")[1]["data"])
        check(names == sorted(["base-0", "base-1", "file-first", "churn-22", "churn-23", "mover"]),
              "the upstreams in effect (tombstones not listed): %s" % names)
        log = sy.read_log()
        check("reply ring full" not in log, "no ring overflow")
        check("reload refused" not in log, "every change applied")
    finally:
        sy.stop()
        for s in base + pool + [first]:
            s.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
