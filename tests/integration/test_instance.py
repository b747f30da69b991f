#!/usr/bin/env python3
"""One switchyard instance per runtime directory and per port.

  lock:  an instance runs (frontend, router, classifier); a second
         `switchyard run` with the same runtime directory and port exits
         non-zero with "another switchyard (pid N) is running with runtime
         directory DIR" and the first instance is untouched: its processes
         are the same, and /api/v1/classify and model "auto" keep getting
         the classifier's verdict (x-switchyard-classifier: ok), also after
         the second attempt is gone. The processes started on their own
         (`switchyard router|frontend|classifier`, as systemd units run them)
         are refused the same way.
  port:  a second instance with its own runtime directory but the same port
         exits non-zero with one line naming host:port and "address already
         in use"; every one of 50 requests is answered by the first
         instance's upstream. A frontend started on its own is refused too.
         The socket is the supervisor's: requests sent while the frontend
         restarts (kill -9) wait in its backlog and are all answered.
  crash: kill -9 of the supervisor and its children leaves the lock file,
         the segment and the doorbells behind; a new instance takes the
         lock over, makes the segment and doorbells afresh, serves
         (classifier included), and holds the lock: one more
         `switchyard run` is refused naming the new instance's pid.

usage: test_instance.py SWITCHYARD SIMLLM lock|port|crash"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Check, Sim, Switchyard, wait_for  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODEL_DIR = os.environ.get("SWITCHYARD_TEST_MODEL", os.path.join(ROOT, "models", "default"))

CLASSIFIER = """
default_model: general
classifier:
  model: %(model)s
  timeout_ms: 3000
categories:
  - name: math
    model_scores:
      - {model: math-model, score: 1.0}
  - name: computer science
    model_scores:
      - {model: general, score: 1.0}
"""

PROMPTS = ["2+2 is ", "Linux is said to be an open source kernel because ",
           "What is the derivative of x^2?", "Write a Python function that reverses a list."]


def auto(sy, text):
    body = {"model": "auto", "messages": [{"role": "user", "content": text}], "max_tokens": 4}
    st, h, _ = sy.request("POST", "/v1/chat/completions", body, timeout=20)
    return st, h.get("x-switchyard-classifier")


def classify(sy, text):
    st, _, data = sy.request("POST", "/api/v1/classify", {"text": text}, timeout=20)
    try:
        j = json.loads(data)
    except ValueError:
        j = {}
    return st, j


def wait_classifier(sy, timeout=40):
    """The classifier loads its model after the others are up."""
    return wait_for(lambda: auto(sy, "hello")[1] not in (None, "unavailable"), timeout=timeout, interval=0.2)


def classifier_answers(check, sy, what, n=12):
    """n classify calls and n auto chats: every one gets the verdict."""
    bad = []
    for i in range(n):
        st, j = classify(sy, PROMPTS[i % len(PROMPTS)])
        if st != 200 or j.get("object") != "classification":
            bad.append("classify %d: %d %r" % (i, st, j.get("error", j)))
        st, status = auto(sy, PROMPTS[i % len(PROMPTS)])
        if st != 200 or status != "ok":
            bad.append("auto %d: %d x-switchyard-classifier %r" % (i, st, status))
    check(not bad, "%s: all %d classify and %d auto requests got the classifier's verdict (%d did not: %s)"
          % (what, n, n, len(bad), "; ".join(bad[:4])))


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return sorted(int(p) for p in out.split())


def attempt(args, log_path, timeout=15):
    """Runs a command that should be refused: (exit code or None if it was
    still running after timeout s and got stopped, its output)."""
    with open(log_path, "wb") as log:
        p = subprocess.Popen(args, stdout=log, stderr=log, env=dict(os.environ, SWITCHYARD_LOG_LEVEL="info"))
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    with open(log_path, "rb") as f:
        return rc, f.read().decode("utf-8", "replace")


def refused(check, what, rc, out, needle):
    check(rc is not None and rc != 0, "%s: exits non-zero (exit %r)" % (what, rc))
    check(needle in out, "%s: says %r (said %r)" % (what, needle, out[-600:]))


def test_lock(check, sy_exe, sim_exe, tmp):
    up = Sim(sim_exe, "first", ["general", "math-model"]).start()
    sy = Switchyard(sy_exe, [up], CLASSIFIER % {"model": MODEL_DIR})
    try:
        sy.start()
        check(wait_classifier(sy), "first instance: the classifier answers")
        classifier_answers(check, sy, "before the second attempt", n=4)
        run_pid = sy.procs["run"].pid
        kids = children(run_pid)
        msg = "another switchyard (pid %d) is running with runtime directory %s" % (run_pid, sy.dir)

        # `switchyard run` twice, same configuration (scripts/demo.sh twice)
        rc, out = attempt([sy_exe, "run", "-c", sy.config], os.path.join(tmp, "second.log"))
        refused(check, "second switchyard run, same runtime directory", rc, out, msg)
        check(len([ln for ln in out.splitlines() if "another switchyard" in ln]) == 1,
              "the refusal is one line (%r)" % out[-400:])
        classifier_answers(check, sy, "after the second attempt")
        # the processes that systemd units start one by one
        for role in ("router", "frontend", "classifier"):
            rc, out = attempt([sy_exe, role, "-c", sy.config], os.path.join(tmp, role + ".log"))
            refused(check, "switchyard %s on its own, same runtime directory" % role, rc, out, msg)
        classifier_answers(check, sy, "after the single processes were refused")
        check(sy.procs["run"].poll() is None and children(run_pid) == kids,
              "the first instance's supervisor and children are the ones it started (%r, now %r)"
              % (kids, children(run_pid)))
        st, _, _ = sy.request("GET", "/ready")
        check(st == 200, "first instance ready (got %d)" % st)
    finally:
        sy.stop()
        up.kill()
    return sy


def test_port(check, sy_exe, sim_exe, tmp):
    first = Sim(sim_exe, "first", ["m"]).start()
    second = Sim(sim_exe, "second", ["m"]).start()
    sy = Switchyard(sy_exe, [first])
    other_dir = tempfile.mkdtemp(prefix="sy-test-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        sy.start()
        # the same port, its own runtime directory and upstream
        cfg2 = os.path.join(other_dir, "switchyard.yaml")
        with open(sy.config) as f:
            text = f.read()
        text = text.replace("runtime_dir: %s" % sy.dir, "runtime_dir: %s" % other_dir)
        text = text.replace("http://127.0.0.1:%d" % first.port, "http://127.0.0.1:%d" % second.port)
        text = text.replace("name: first", "name: second")
        with open(cfg2, "w") as f:
            f.write(text)
        needle = "127.0.0.1:%d" % sy.port
        for args, what in (([sy_exe, "run", "-c", cfg2], "second switchyard run, same port"),
                           ([sy_exe, "frontend", "-c", cfg2], "a second frontend on its own, same port")):
            log = os.path.join(tmp, args[1] + "-port.log")
            p = subprocess.Popen(args, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                                 env=dict(os.environ, SWITCHYARD_LOG_LEVEL="info"))
            try:
                # today's bug: it binds too and takes part of the traffic
                # while it lives; the fixed one is refused at once
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                answered = {}
                for _ in range(50):
                    st, h, _ = sy.request("POST", "/v1/chat/completions",
                                          {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                           "max_tokens": 4})
                    key = (st, h.get("x-simllm-replica"))
                    answered[key] = answered.get(key, 0) + 1
                check(answered == {(200, "first"): 50},
                      "%s: all 50 requests answered by the first instance (got %r)" % (what, answered))
            finally:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
            with open(log, "rb") as f:
                out = f.read().decode("utf-8", "replace")
            lines = [ln for ln in out.splitlines() if needle in ln and "address already in use" in ln.lower()]
            check(p.returncode not in (None, 0) and lines and sum(1 for ln in out.splitlines() if needle in ln) == 1,
                  "%s: exits non-zero (%r) with one line naming %s and 'address already in use' (said %r)"
                  % (what, p.returncode, needle, out[-600:]))
        st, _, _ = sy.request("GET", "/ready")
        check(st == 200 and sy.procs["run"].poll() is None, "first instance still up and ready (got %d)" % st)

        # the socket is the supervisor's: connections made while the
        # frontend restarts wait in its backlog, none is refused
        fe = sy.pids("frontend")
        check(len(fe) == 1, "one frontend (%r)" % fe)
        if fe:
            os.kill(fe[0], signal.SIGKILL)
            check(wait_for(lambda: not os.path.exists("/proc/%d" % fe[0]) or
                           open("/proc/%d/stat" % fe[0]).read().split(") ")[-1][0] == "Z", timeout=10),
                  "the frontend is dead")
            results = []

            def one():
                st, _, body = sy.request("POST", "/v1/chat/completions",
                                         {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                          "max_tokens": 4}, timeout=20)
                results.append(st if st == 200 else (st, body[:120]))
            threads = [threading.Thread(target=one) for _ in range(10)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            check(results == [200] * 10,
                  "requests sent while the frontend restarts are all answered (got %r)" % results)
            check(sy.pids("frontend") not in ([], fe), "a new frontend runs (%r)" % sy.pids("frontend"))
    finally:
        sy.stop()
        first.kill()
        second.kill()
        shutil.rmtree(other_dir, ignore_errors=True)
    return sy


def dead(pid):
    """pid is gone, or a zombie whose every thread has exited: a zombie
    thread-group leader's file table (and the lock in it) lives on until
    its last thread is gone too, so the leader's Z alone is not enough."""
    try:
        state = open("/proc/%d/stat" % pid).read().split(") ")[-1][0]
        tasks = os.listdir("/proc/%d/task" % pid)
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z" and tasks == [str(pid)]


def test_crash(check, sy_exe, sim_exe, tmp):
    up = Sim(sim_exe, "first", ["general", "math-model"]).start()
    sy = Switchyard(sy_exe, [up], CLASSIFIER % {"model": MODEL_DIR})
    try:
        sy.start()
        check(wait_classifier(sy), "first instance: the classifier answers")
        run = sy.procs["run"]
        kids = children(run.pid)
        check(len(kids) == 3, "three children (router, frontend, classifier: %r)" % kids)
        # kill -9 everything of it at once: the supervisor first, so that
        # nothing is restarted, then its children
        os.kill(run.pid, signal.SIGKILL)
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass
        run.wait()
        check(wait_for(lambda: all(dead(k) for k in kids), timeout=10), "the children are gone")
        stale = sorted(os.listdir(sy.dir))
        check("switchyard.shm" in stale and "router.bell" in stale and "classifier.bell" in stale and
              "switchyard.lock" in stale, "the crash left the lock, the segment and the doorbells behind (%r)" % stale)
        old = {n: os.stat(os.path.join(sy.dir, n)).st_ino for n in ("switchyard.shm", "router.bell") if n in stale}

        # a new instance on the leftovers (Switchyard.start: port and /ready)
        sy.log.close()
        sy.start()
        check(wait_classifier(sy), "new instance: the classifier answers")
        new = {n: os.stat(os.path.join(sy.dir, n)).st_ino for n in old if os.path.exists(os.path.join(sy.dir, n))}
        check(len(new) == len(old) and all(new[n] != old[n] for n in old),
              "the segment and the doorbells were made afresh (inodes %r, before %r)" % (new, old))
        classifier_answers(check, sy, "new instance on the crashed one's files", n=6)
        st, h, _ = sy.request("POST", "/v1/chat/completions",
                              {"model": "general", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4})
        check(st == 200 and h.get("x-simllm-replica") == "first", "new instance proxies (got %d)" % st)
        # ... and it holds the lock now, not the dead one
        new_pid = sy.procs["run"].pid
        rc, out = attempt([sy_exe, "run", "-c", sy.config], os.path.join(tmp, "third.log"))
        refused(check, "one more switchyard run after the takeover", rc, out,
                "another switchyard (pid %d) is running with runtime directory %s" % (new_pid, sy.dir))
        classifier_answers(check, sy, "new instance after one more attempt", n=4)
    finally:
        sy.stop()
        up.kill()
    return sy


def main():
    sy_exe, sim_exe, part = sys.argv[1], sys.argv[2], sys.argv[3]
    check = Check("instance-" + part)
    if part in ("lock", "crash") and not os.path.exists(os.path.join(MODEL_DIR, "config.json")):
        print("no model at %s" % MODEL_DIR)
        sys.exit(1)
    tmp = tempfile.mkdtemp(prefix="sy-instance-")
    sy = None
    try:
        sy = {"lock": test_lock, "port": test_port, "crash": test_crash}[part](check, sy_exe, sim_exe, tmp)
    finally:
        if check.failures:
            for name in sorted(os.listdir(tmp)):
                with open(os.path.join(tmp, name), "rb") as f:
                    print("---- %s ----\n%s" % (name, f.read().decode("utf-8", "replace")[-3000:]))
        shutil.rmtree(tmp, ignore_errors=True)
    check.done(sy)


if __name__ == "__main__":
    main()
