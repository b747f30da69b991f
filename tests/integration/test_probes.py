"""The eBPF probes (switchyard probes, bpf/) against a running appliance.

  stages: two simllm replicas of one model with a known time to first token
          (TTFT_MS), `switchyard probes` attached (by default to the one
          marker done, which carries the frontend's stage times), N requests
          each on its own connection; then on the probes' /metrics only done
          was hit (N times, every one's times read), every stage a proxied
          request goes through counts exactly N (classify 0: no classifier
          here; enqueue less at most the picks the frontend made itself),
          the upstream_first_byte stage sits in the log2 bucket of the
          simulated latency, and the probes' upstream_first_byte and
          total agree with the frontend's own switchyard_upstream_ttfb_seconds
          and switchyard_request_duration_seconds within one log2 bucket
          (a factor of 2 on the mean). None may be below the bucket (the
          simulator cannot answer sooner); 80 % must be in it (a loaded
          machine delays a few past its top).
  kill:   the probes attached and counting, then killed (SIGKILL): the same
          frontend process keeps serving every request.
  noperm: the probes without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN
          (setpriv drops them from the bounding set): exit status 1, one
          line on stderr saying it is permission, nothing on stdout, and
          switchyard serves meanwhile and after.

Exit 77 (skipped) when not root or without the kernel's BTF: loading BPF
programs needs CAP_BPF and CAP_PERFMON.
usage: test_probes.py SWITCHYARD SIMLLM stages|kill|noperm"""
import os
import shutil
import signal
import subprocess
import sys
import urllib.request

from harness import Check, Sim, Switchyard, free_port, metric, wait_for

MODEL = "m1"
N = 20
# 140 ms lies in the log2 bucket [2^27, 2^28) ns = [134.2 ms, 268.4 ms), with
# room for a loaded machine's delays above it
TTFT_MS = 140
BUCKET_LO, BUCKET_HI = "0.134217728", "0.268435456"
IN_BUCKET = 0.8


def scrape(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            return r.read().decode()
    except OSError:
        return ""


def sample(text, line_prefix):
    """The value of the one sample whose line starts with line_prefix."""
    for line in text.splitlines():
        if line.startswith(line_prefix + " "):
            return float(line.split()[-1])
    return None


def stage(text, name, what="count"):
    return sample(text, 'switchyard_bpf_stage_seconds_%s{stage="%s"}' % (what, name))


def bucket(text, name, le):
    return sample(text, 'switchyard_bpf_stage_seconds_bucket{stage="%s",le="%s"}' % (name, le))


def start_probes(exe, sy, ok):
    """switchyard probes on a free port; returns (process, port) once its
    /metrics answers (it listens only when attached), else None."""
    port = free_port()
    log = open(os.path.join(sy.dir, "probes.log"), "ab")
    p = subprocess.Popen([exe, "probes", "-r", sy.dir, "--listen", "127.0.0.1:%d" % port], stdout=log,
                         stderr=log)
    attached = wait_for(lambda: p.poll() is not None or scrape(port), timeout=60, interval=0.2)
    if p.poll() is not None or not attached:
        with open(os.path.join(sy.dir, "probes.log"), "rb") as f:
            ok(False, "the probes attached (exit %s): %s" % (p.poll(), f.read().decode(errors="replace")))
        p.kill()
        p.wait()
        return None, None
    return p, port


def chat(sy):
    return sy.request("POST", "/v1/chat/completions",
                      {"model": MODEL, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4})


def test_stages(ok, exe, sy):
    p, port = start_probes(exe, sy, ok)
    if not p:
        return
    try:
        statuses = [chat(sy)[0] for _ in range(N)]
        ok(statuses == [200] * N, "%d requests answered 200: %s" % (N, statuses))
        wait_for(lambda: stage(scrape(port), "total") == N, timeout=10)
        # once total counts them all, every stage does (a request's stages are
        # added before its total; one scrape reads the stages one by one)
        text = scrape(port)
        fe = sy.metrics()
        # a pick the frontend made itself (router late, machine busy) has no ring: no enqueue
        local = metric(fe, "switchyard_fallback_picks_total") or 0
        for name in ("accept", "parse", "pick", "upstream_connect", "upstream_first_byte", "client_first_byte",
                     "done", "total"):
            ok(stage(text, name) == N, "stage %s counts the %d requests: %s" % (name, N, stage(text, name)))
        # (a fallback pick after the router was late did go through the ring)
        ok(N - local <= (stage(text, "enqueue") or 0) <= N, "stage enqueue counts the %d requests, less at most the"
           " %d picked locally: %s" % (N, local, stage(text, "enqueue")))
        ok(stage(text, "classify") == 0, "no classifier, no classify stage: %s" % stage(text, "classify"))
        # by default one trap a request: only done is attached, the stage times ride on it
        marks = {m: sample(text, 'switchyard_bpf_markers_total{marker="%s"}' % m)
                 for m in ("accepted", "request", "parsed", "picked", "upstream_first_byte", "client_write", "done")}
        ok(marks["done"] == N and all(v == 0 for m, v in marks.items() if m != "done"),
           "only the done marker attached, hit once a request: %s" % marks)
        ok(sample(text, "switchyard_bpf_stage_times_unreadable_total") == 0,
           "every done marker's stage times read: %s" % sample(text, "switchyard_bpf_stage_times_unreadable_total"))
        # none can be faster than the simulated time to first token; a loaded
        # machine may push a few past the bucket's top, not most
        lo, hi = bucket(text, "upstream_first_byte", BUCKET_LO), bucket(text, "upstream_first_byte", BUCKET_HI)
        ok(lo == 0 and hi is not None and hi >= IN_BUCKET * N,
           "upstream_first_byte: none below %s s and at least %d of %d in (%s s, %s s] for a %d ms time to first "
           "token (below: %s, up to the bucket's top: %s)" % (BUCKET_LO, IN_BUCKET * N, N, BUCKET_LO, BUCKET_HI,
                                                             TTFT_MS, lo, hi))
        for bpf_stage, own in (("upstream_first_byte", "switchyard_upstream_ttfb_seconds"),
                               ("total", "switchyard_request_duration_seconds")):
            s, c = stage(text, bpf_stage, "sum"), stage(text, bpf_stage)
            os_, oc = metric(fe, own + "_sum"), metric(fe, own + "_count")
            if not (s and c and os_ and oc):
                ok(False, "%s and %s both have samples: %s/%s, %s/%s" % (bpf_stage, own, s, c, os_, oc))
                continue
            ratio = (s / c) / (os_ / oc)
            ok(0.5 <= ratio <= 2, "mean of stage %s (%.4f s) within one log2 bucket of %s (%.4f s)"
               % (bpf_stage, s / c, own, os_ / oc))
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
        ok(p.returncode == 0, "the probes exit 0 on SIGTERM: %s" % p.returncode)


def test_kill(ok, exe, sy):
    fe_pids = sy.pids("frontend")
    p, port = start_probes(exe, sy, ok)
    if not p:
        return
    ok([chat(sy)[0] for _ in range(5)] == [200] * 5, "5 requests with the probes attached")
    done = wait_for(lambda: stage(scrape(port), "total") == 5, timeout=10)
    ok(done, "the probes counted them: %s" % stage(scrape(port), "total"))
    p.kill()
    p.wait()
    statuses = [chat(sy)[0] for _ in range(N)]
    ok(statuses == [200] * N, "after the probes were killed, %d requests answered 200: %s" % (N, statuses))
    ok(sy.pids("frontend") == fe_pids and fe_pids, "the same frontend serves (pids %s, before %s)"
       % (sy.pids("frontend"), fe_pids))


def test_noperm(ok, exe, sy):
    if not shutil.which("setpriv"):
        ok(False, "setpriv (util-linux) to drop the capabilities")
        return
    drop = "-bpf,-perfmon,-sys_admin"
    r = subprocess.run(["setpriv", "--bounding-set=" + drop, "--inh-caps=" + drop, "--", exe, "probes", "-r", sy.dir,
                        "--listen", "none"], capture_output=True, text=True, timeout=60)
    lines = r.stderr.splitlines()
    ok(r.returncode == 1, "exit status 1 without the capabilities: %s" % r.returncode)
    ok(len(lines) == 1 and "permission" in lines[0] and "switchyard runs" in lines[0],
       "one line saying it is permission: %r" % r.stderr)
    ok(r.stdout == "", "nothing on stdout: %r" % r.stdout)
    ok([chat(sy)[0] for _ in range(3)] == [200] * 3, "switchyard serves")


def main():
    exe, simllm, part = sys.argv[1], sys.argv[2], sys.argv[3]
    if os.geteuid() != 0:
        print("skipped: the eBPF probes need CAP_BPF and CAP_PERFMON (run as root)")
        return 77
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        print("skipped: this kernel has no BTF (/sys/kernel/btf/vmlinux)")
        return 77
    ok = Check("probes " + part)
    sims = [Sim(simllm, "s%d" % i, [MODEL], extra=["--ttft-ms", str(TTFT_MS)]).start() for i in (1, 2)]
    sy = Switchyard(exe, sims, workers=2)
    try:
        sy.start()
        {"stages": test_stages, "kill": test_kill, "noperm": test_noperm}[part](ok, exe, sy)
    finally:
        sy.stop()
        for s in sims:
            s.kill()
    return ok.done(sy)


if __name__ == "__main__":
    sys.exit(main())
