"""switchyard run: reload on SIGHUP (an invalid file is refused with
file:line and the old configuration stays), restart of a crashed process,
graceful drain on SIGTERM.
usage: test_supervisor.py SWITCHYARD SIMLLM"""
import json
import os
import re
import signal
import subprocess
import sys
import time

from harness import Check, Sim, Switchyard, chat, post, recv_until, wait_port


def models(sy):
    st, _, body = sy.request("GET", "/v1/models")
    return sorted(m["id"] for m in json.loads(body)["data"]) if st == 200 else None


def main():
    sy_exe, sim_exe = sys.argv[1], sys.argv[2]
    a = Sim(sim_exe, "a", ["m1"], extra=["--itl-ms", "100"]).start()
    b = Sim(sim_exe, "b", ["m2"]).start()
    sy = Switchyard(sy_exe, [a])
    check = Check("supervisor")
    try:
        sy.start()
        check(models(sy) == ["m1"], "one model at start")
        for role in ("router", "frontend"):
            # the frontend serves from its own boot snapshot before the router
            # has attached (a loaded machine shows it): poll, as a liveness
            # probe would, for at most 5 s
            deadline = time.time() + 5
            while True:
                rc = subprocess.run([sy_exe, "probe", role, "-c", sy.config], capture_output=True).returncode
                if rc == 0 or time.time() > deadline:
                    break
                time.sleep(0.1)
            check(rc == 0, "switchyard probe %s: alive (rc %d)" % (role, rc))

        # invalid file: refused, with file:line, old config stays
        good = open(sy.config).read()
        with open(sy.config, "w") as f:
            f.write(good + "upstreams_oops: [\n")
        sy.signal(signal.SIGHUP)
        time.sleep(0.5)
        log = sy.read_log()
        check(re.search(re.escape(sy.config) + r":\d+", log) is not None and "refused" in log,
              "invalid config refused with file:line")
        check(models(sy) == ["m1"], "old configuration still serves")
        st, _, _ = sy.request("POST", "/v1/chat/completions", chat("m1"))
        check(st == 200, "requests still served after a refused reload")

        # valid file with one more upstream: the new model appears
        sy.write_config([a, b])
        sy.signal(signal.SIGHUP)
        deadline = time.time() + 5
        while time.time() < deadline and models(sy) != ["m1", "m2"]:
            time.sleep(0.1)
        check(models(sy) == ["m1", "m2"], "reload adds the new model (%s)" % models(sy))
        st, h, _ = sy.request("POST", "/v1/chat/completions", chat("m2"))
        check(st == 200 and h.get("x-simllm-replica") == "b", "new upstream serves after reload (%d)" % st)

        # a crashed frontend is restarted
        fe = sy.pids("frontend")
        for p in fe:
            os.kill(p, signal.SIGKILL)
        deadline = time.time() + 5
        while time.time() < deadline and (sy.pids("frontend") in ([], fe)):
            time.sleep(0.1)
        check(wait_port(sy.port, 5), "frontend restarted and listening")
        st, _, _ = sy.request("POST", "/v1/chat/completions", chat("m1"))
        check(st == 200, "requests served by the restarted frontend (%d)" % st)

        # SIGTERM drains: an in-flight stream completes, then the process exits
        s = post(sy.port, chat("m1", stream=True, max_tokens=15))
        got = s.recv(65536)
        sy.signal(signal.SIGTERM)
        got = recv_until(s, b"[DONE]", got)
        s.close()
        check(b"data: [DONE]" in got, "in-flight stream finished during drain")
        try:
            sy.procs["run"].wait(timeout=15)
            check(sy.procs["run"].returncode == 0, "supervisor exited 0 after draining")
        except Exception:
            check(False, "supervisor exited after draining")
        check(not sy.pids("frontend") and not sy.pids("router"), "no child left behind")
        rc = subprocess.run([sy_exe, "probe", "router", "-c", sy.config], capture_output=True).returncode
        check(rc == 1, "switchyard probe router: not alive after stop (rc %d)" % rc)
    finally:
        sy.stop()
        a.kill()
        b.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
