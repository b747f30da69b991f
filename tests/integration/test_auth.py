#!/usr/bin/env python3
"""API keys: switchyard run with auth.api_keys (a key given as its SHA-256,
one from an environment variable, one from a file), in front of simllm.

  - no key, a wrong key, an empty Bearer, a key with a NUL byte, a huge key:
    401 invalid_api_key, OpenAI-style, before anything else (an unknown
    model or path says nothing: 401 too);
  - Authorization: Bearer and X-API-Key both work;
  - a key restricted to one model: 403 model_not_allowed on another, and
    /v1/models lists only its model;
  - the switchyard key is not forwarded upstream;
  - /health and /ready stay open; /metrics needs the metrics token;
  - SIGHUP adds a key and revokes another under load, with no request
    dropped (every answer is a 200 or, for the revoked key after the
    reload, a 401).

usage: test_auth.py SWITCHYARD_EXE SIMLLM_EXE"""
import hashlib
import http.client
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Check, Sim, Switchyard, metric, wait_for  # noqa: E402

LLAMA = "meta-llama/Llama-3.2-1B-Instruct"
PHI = "/models/Phi-tiny-MoE-instruct"
K_ADMIN = "sk-admin-0123456789"
K_ENV = "sk-env-abcdefghijkl"
K_FILE = "sk-file-mnopqrstuvw"
K_NEW = "sk-new-key-after-reload"


def sha(k):
    return hashlib.sha256(k.encode()).hexdigest()


def config(key_file, with_new=False, without_env=False):
    keys = ["  - name: admin\n    key_sha256: \"%s\"" % sha(K_ADMIN)]
    if not without_env:
        keys.append("  - name: env-client\n    key_env: SY_TEST_KEY")
    keys.append("  - name: llama-only\n    key_file: %s\n    models: [\"%s\"]" % (key_file, LLAMA))
    if with_new:
        keys.append("  - name: newcomer\n    key_sha256: \"%s\"" % sha(K_NEW).upper())
    return "auth:\n  metrics_token: metrics-secret-1\n  api_keys:\n" + "\n".join(keys) + "\n"


def chat(model=LLAMA):
    return {"model": model, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4}


def main():
    sy_exe, sim_exe = sys.argv[1], sys.argv[2]
    check = Check("auth")
    llama = Sim(sim_exe, "llama", [LLAMA]).start()
    phi = Sim(sim_exe, "phi", [PHI]).start()
    os.environ["SY_TEST_KEY"] = K_ENV
    sy = Switchyard(sy_exe, [llama, phi], "")
    key_file = os.path.join(sy.dir, "llama.key")
    with open(key_file, "w") as f:
        f.write(K_FILE + "\n")
    sy.write_config([llama, phi], config(key_file))
    try:
        sy.start()

        def req(headers=None, body=None, path="/v1/chat/completions", method="POST"):
            return sy.request(method, path, body if body is not None else (chat() if method == "POST" else None),
                              headers=headers)

        # -- refusals (each 401 on a /v1 path is counted, by reason, in
        # switchyard_auth_rejected_total: checked below)
        # (no key, an empty Bearer or a Basic credential is missing_key; a
        # wrong key invalid_key; an oversized one either)
        refused = {"missing_key": 0, "invalid_key": 0, "either": 0}
        for what, hdrs in (("no key", {}), ("a wrong key", {"Authorization": "Bearer sk-wrong-000000"}),
                           ("an empty Bearer", {"Authorization": "Bearer "}),
                           ("a Basic credential", {"Authorization": "Basic " + K_ADMIN}),
                           ("a wrong X-API-Key", {"X-API-Key": "nope-nope-nope"}),
                           ("a huge key", {"Authorization": "Bearer " + "k" * 9000})):
            st, h, data = req(hdrs)
            check(st == 401 and b'"code":"invalid_api_key"' in data and b'"type":"invalid_request_error"' in data,
                  "%s: 401 invalid_api_key (%d %r)" % (what, st, data[:160]))
            if st == 401:
                refused["invalid_key" if "wrong" in what else "either" if "huge" in what else "missing_key"] += 1
        st, _, data = sy.request("POST", "/v1/chat/completions", chat("no-such-model"))
        check(st == 401, "an unknown model without a key: 401, not 404 (%d)" % st)
        refused["missing_key"] += st == 401
        st, _, _ = sy.request("GET", "/v1/models")
        check(st == 401, "GET /v1/models without a key: 401 (%d)" % st)
        refused["missing_key"] += st == 401
        st, _, _ = sy.request("GET", "/v1/nothing-here")
        check(st == 401, "an unknown /v1 path without a key: 401 (%d)" % st)
        refused["missing_key"] += st == 401
        raw = sy.raw(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-API-Key: sk-admin\x000123456789\r\n"
                     b"Content-Length: 2\r\n\r\n{}")
        check(raw[:12] in (b"HTTP/1.1 400", b"HTTP/1.0 400", b"HTTP/1.1 401"),
              "a key with a NUL byte is refused (%r)" % raw[:40])
        nul_401 = raw[:12] == b"HTTP/1.1 401"
        before = llama.stats()["requests"].get("chat", 0)
        check(before == 0, "no refused request reached the upstream (%d)" % before)

        # -- the three key sources, two header forms
        for what, hdrs in (("Bearer (sha256 key)", {"Authorization": "Bearer " + K_ADMIN}),
                           ("X-API-Key (sha256 key)", {"X-API-Key": K_ADMIN}),
                           ("lower-case bearer", {"authorization": "bearer " + K_ADMIN}),
                           ("key_env", {"Authorization": "Bearer " + K_ENV}),
                           ("key_file", {"X-API-Key": K_FILE})):
            st, h, _ = req(hdrs)
            check(st == 200 and h.get("x-simllm-replica") == "llama", "%s: served (%d)" % (what, st))
        # the switchyard key does not travel upstream
        st, h, _ = req({"Authorization": "Bearer " + K_ADMIN, "X-Trace": "t1"})
        names = (h.get("x-simllm-header-names") or "").split(",")
        check("x-trace" in names and "authorization" not in names and "x-api-key" not in names,
              "the switchyard key is not forwarded upstream, other headers are (%r)" % names)

        # -- a key restricted to one model
        st, _, data = req({"X-API-Key": K_FILE}, chat(PHI))
        check(st == 403 and b'"code":"model_not_allowed"' in data, "llama-only key on phi: 403 (%d %r)" % (st, data))
        st, _, data = req({"X-API-Key": K_FILE}, chat("no-such-model"))
        check(st == 403, "llama-only key on an unknown model: 403, nothing said of it (%d)" % st)
        st, _, data = req({"X-API-Key": K_FILE}, method="GET", path="/v1/models")
        ids = sorted(m["id"] for m in __import__("json").loads(data)["data"]) if st == 200 else None
        check(ids == [LLAMA], "llama-only key lists one model (%r)" % ids)
        st, _, data = req({"X-API-Key": K_ADMIN}, method="GET", path="/v1/models")
        ids = sorted(m["id"] for m in __import__("json").loads(data)["data"]) if st == 200 else None
        check(ids == sorted([LLAMA, PHI]), "an unrestricted key lists both (%r)" % ids)

        # -- open endpoints, and the metrics token
        check(sy.request("GET", "/health")[0] == 200, "/health needs no key")
        check(sy.request("GET", "/ready")[0] == 200, "/ready needs no key")
        check(sy.request("GET", "/metrics")[0] == 401, "/metrics without the metrics token: 401")
        st, _, data = sy.request("GET", "/metrics", headers={"Authorization": "Bearer metrics-secret-1"})
        check(st == 200 and b"switchyard_auth_rejected_total" in data, "/metrics with the token (%d)" % st)
        # every refusal above counted by its reason, not merely named: 401s
        # without a key and with a wrong one (the NUL-byte key, when it got
        # a 401, is one or the other), the two 403s of the llama-only key
        text = data.decode("utf-8", "replace")
        got = {r: metric(text, 'switchyard_auth_rejected_total{reason="%s"}' % r)
               for r in ("missing_key", "invalid_key", "model_not_allowed")}
        check(got["missing_key"] is not None and got["invalid_key"] is not None and
              got["missing_key"] >= refused["missing_key"] and got["invalid_key"] >= refused["invalid_key"] and
              got["missing_key"] + got["invalid_key"] == sum(refused.values()) + nul_401,
              "switchyard_auth_rejected_total counts every 401 by reason (%r, sent %r + NUL %r)"
              % (got, refused, nul_401))
        check(got["model_not_allowed"] == 2, "switchyard_auth_rejected_total counts the two 403s (%r)" % got)
        check(K_ADMIN.encode() not in data and K_ENV.encode() not in data, "no key in /metrics")

        # -- reload under load: newcomer added, env-client revoked, nothing dropped
        results = {"ok": 0, "bad": []}
        stop = threading.Event()
        lock = threading.Lock()

        def load(key):
            c = None
            while not stop.is_set():
                try:
                    if c is None:
                        c = http.client.HTTPConnection("127.0.0.1", sy.port, timeout=10)
                    c.request("POST", "/v1/chat/completions", __import__("json").dumps(chat()),
                              {"Content-Type": "application/json", "Authorization": "Bearer " + key})
                    r = c.getresponse()
                    r.read()
                    with lock:
                        if r.status == 200:
                            results["ok"] += 1
                        elif not (r.status == 401 and key == K_ENV and reloaded.is_set()):
                            results["bad"].append((key[:6], r.status))
                except (OSError, http.client.HTTPException) as e:
                    with lock:
                        results["bad"].append((key[:6], repr(e)))
                    c = None
            if c:
                c.close()

        reloaded = threading.Event()
        threads = [threading.Thread(target=load, args=(k,)) for k in (K_ADMIN, K_ADMIN, K_ENV)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        sy.write_config([llama, phi], config(key_file, with_new=True, without_env=True))
        reloaded.set()
        sy.signal(signal.SIGHUP)
        ok_new = wait_for(lambda: req({"Authorization": "Bearer " + K_NEW})[0] == 200, timeout=10)
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        check(ok_new, "after SIGHUP the new key is accepted")
        check(req({"Authorization": "Bearer " + K_ENV})[0] == 401, "after SIGHUP the revoked key gets 401")
        check(req({"Authorization": "Bearer " + K_ADMIN})[0] == 200, "the kept key still works")
        check(results["ok"] > 20 and not results["bad"],
              "no request dropped across the reload (%d ok, unexpected: %r)" % (results["ok"], results["bad"][:5]))
    finally:
        sy.stop()
        llama.kill()
        phi.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
