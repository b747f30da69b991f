"""External providers over TLS (issue 17): upstreams with an https url
reached through the simulator serving TLS with a certificate signed by a
CA this test makes (openssl CLI, in the test's temp dir).

- chat and streaming through the https upstream, over kept-alive pooled
  connections (the simulator counts its TLS connections);
- the API key read from the environment at load reaches the simulator in
  the configured header with the configured prefix, replacing a client's
  own header of that name; extra_headers are sent;
- the key shows nowhere: not in /metrics, the admin API (upstreams,
  config) nor the log;
- an upstream whose certificate does not verify (signed by another CA, or
  for another name) is marked unhealthy with the reason in the log and in
  the admin API's upstream state, and gets no request.
usage: test_tls.py SWITCHYARD SIMLLM"""
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import http.client

from harness import Admin, Check, Sim, Switchyard, chat, free_port, post, recv_until, wait_for, wait_port

KEY = "sk-test-7f3a9c-provider-secret"
KEY_ENV = "SY_TEST_PROVIDER_KEY"
TOKEN = "admin-token-tls"


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(d, name):
    key, pem = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", pem, "-days", "2",
            "-subj", "/CN=" + name)
    return key, pem


def make_cert(d, name, ca, san):
    key, csr, pem = (os.path.join(d, name + x) for x in (".key", ".csr", ".pem"))
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\n" % san)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + name)
    openssl("x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0], "-CAcreateserial", "-out", pem,
            "-days", "2", "-extfile", ext)
    return pem, key


class TlsSwitchyard(Switchyard):
    """Upstreams as (sim, url host, extra yaml lines)."""

    def __init__(self, exe, ups, extra_yaml):
        self.ups = ups
        super().__init__(exe, [], extra_yaml)

    def write_config(self, upstreams, extra_yaml="", workers=2):
        super().write_config([], extra_yaml="", workers=workers)
        lines = []
        for sim, host, extra in self.ups:
            lines += ["  - name: %s" % sim.name, "    url: https://%s:%d" % (host, sim.port),
                      "    models: [%s]" % ", ".join(sim.models)]
            lines += ["    " + x for x in extra]
        with open(self.config, "a") as f:
            f.write("\n".join(lines) + "\n" + extra_yaml)


class SplitSwitchyard(TlsSwitchyard):
    """The router and the frontend as separate processes, the frontend with
    its own file: the router's checks see a certificate that verifies,
    the frontend's relay is told to verify it otherwise. What the relay
    does with a certificate that does not verify shows alone."""

    def __init__(self, exe, ups, front_ups):
        super().__init__(exe, ups, "")
        self.front_config = self.config + ".front"
        saved, self.ups, self.config = self.config, front_ups, self.front_config
        self.write_config([])
        self.config = saved

    def start(self):
        self.log = open(self.log_path, "ab")
        env = dict(os.environ, SWITCHYARD_LOG_LEVEL="info")
        for role, path in (("router", self.config), ("frontend", self.front_config)):
            self.procs[role] = subprocess.Popen([self.exe, role, "-c", path], stdout=self.log, stderr=self.log,
                                                env=env)
        if not wait_port(self.port):
            self.stop()
            raise RuntimeError("switchyard did not start:\n" + self.read_log())
        wait_for(lambda: self.request("GET", "/ready")[0] == 200, 5)
        return self


def relay_verifies(exe, check, good, ca, other):
    """The relay's own verification: a wrong CA and a wrong name each end in
    502 with the reason logged, never in the provider's answer."""
    sy = SplitSwitchyard(exe, [(good, "localhost", ["ca_file: %s" % ca[1]])],
                         [(good, "localhost", ["ca_file: %s" % other[1]])])
    sy2 = SplitSwitchyard(exe, [(good, "localhost", ["ca_file: %s" % ca[1]])],
                          [(good, "localhost", ["ca_file: %s" % ca[1], "sni: elsewhere.example"])])
    try:
        for inst, what, reason in ((sy, "another CA", "unable to get local issuer certificate"),
                                   (sy2, "another name (sni)", "hostname mismatch")):
            inst.start()
            st, h, body = inst.request("POST", "/v1/chat/completions", chat("m-tls"))
            check(st == 502 and h.get("x-simllm-echo") is None,
                  "relay told to expect %s: 502, no answer from the provider (%d %r)" % (what, st, body[:200]))
            log = inst.read_log()
            check(("upstream prov: TLS certificate verification failed: " + reason) in log,
                  "the relay logs why (%s): %r" % (what, [l for l in log.splitlines() if "prov" in l][-3:]))
            inst.stop()
    finally:
        sy.stop()
        sy2.stop()


V03 = """version: v0.3
listeners:
  - {name: http, address: 127.0.0.1, port: %d}
providers:
  defaults: {default_model: m-tls}
  models:
    - name: m-tls
      backend_refs:
        - name: prov-v03
          base_url: https://localhost:%d/v1
          api_key_env: %s
          auth_header: X-Provider-Key
          auth_prefix: "Key "
"""


def v03_provider(exe, check, good, ca):
    """A v0.3 backend_ref with an https base_url and its credentials: the
    system store verifies (SSL_CERT_FILE names the test's CA as the store;
    without it the test CA is unknown and nothing is answered)."""
    for store in (ca[1], None):
        sy = Switchyard(exe, [])
        with open(sy.config, "w") as f:
            f.write(V03 % (sy.port, good.port, KEY_ENV))
        saved = dict(os.environ)
        os.environ["SWITCHYARD_RUNTIME_DIR"] = sy.dir
        os.environ.pop("SSL_CERT_FILE", None)
        if store:
            os.environ["SSL_CERT_FILE"] = store
        try:
            sy.start()
            st, h, body = sy.request("POST", "/v1/chat/completions", chat("m-tls"))
            if store:
                check(st == 200 and h.get("x-simllm-echo") == "Key " + KEY,
                      "v0.3 https base_url with api_key_env / auth_header / auth_prefix, verified by the system "
                      "store: %d %r %r" % (st, h.get("x-simllm-echo"), body[:200]))
            else:
                check(st != 200 and h.get("x-simllm-echo") is None,
                      "v0.3 https backend whose CA the system store lacks: no answer (%d)" % st)
        finally:
            sy.stop()
            os.environ.clear()
            os.environ.update(saved)


def sim_stats(sim, ca):
    ctx = ssl.create_default_context(cafile=ca)
    c = http.client.HTTPSConnection("127.0.0.1", sim.port, timeout=5, context=ctx)
    try:
        c.request("GET", "/sim/stats")
        return json.loads(c.getresponse().read())
    finally:
        c.close()


def chat_conns(st):
    """connections the simulator took for anything but the router's checks and this test's stats"""
    r = st["requests"]
    return st["connections_accepted"] - sum(r.get(p, 0) for p in ("/health", "/metrics", "/sim"))


def upstream(a, name):
    st, body = a.req("GET", "/admin/upstreams")
    for u in (body or {}).get("data", []) if st == 200 else []:
        if u["name"] == name:
            return u
    return None


def main():
    exe, simllm = sys.argv[1], sys.argv[2]
    check = Check("tls")
    d = tempfile.mkdtemp(prefix="sy-tls-")
    sims, sy = [], None
    try:
        ca = make_ca(d, "test-ca")
        other = make_ca(d, "other-ca")
        good_cert = make_cert(d, "localhost", ca, "DNS:localhost,IP:127.0.0.1")
        wrong_name = make_cert(d, "elsewhere", ca, "DNS:elsewhere.example")

        def tls_sim(name, model, cert):
            return Sim(simllm, name, [model], extra=["--tls-cert", cert[0], "--tls-key", cert[1],
                                                     "--echo-header", "x-provider-key", "--itl-ms", "5"]).start()

        good = tls_sim("prov", "m-tls", good_cert)
        badca = tls_sim("badca", "m-badca", good_cert)
        badname = tls_sim("badname", "m-badname", wrong_name)
        sims = [good, badca, badname]
        os.environ[KEY_ENV] = KEY
        admin_port = free_port()
        sy = TlsSwitchyard(exe, [
            (good, "localhost", ["ca_file: %s" % ca[1], "api_key_env: %s" % KEY_ENV,
                                 "auth_header: X-Provider-Key", "auth_prefix: \"Key \"",
                                 "extra_headers:", "  OpenAI-Organization: org-test"]),
            (badca, "localhost", ["ca_file: %s" % other[1], "api_key_env: %s" % KEY_ENV]),
            (badname, "localhost", ["ca_file: %s" % ca[1]]),
        ], "admin:\n  listen: \"127.0.0.1:%d\"\n  token: %s\n" % (admin_port, TOKEN))
        a = Admin(admin_port, TOKEN)
        sy.start()
        check(wait_for(lambda: a.req("GET", "/admin/upstreams")[0] == 200), "admin API answers")

        # chat over TLS, with the key in the configured header
        st, h, body = sy.request("POST", "/v1/chat/completions", chat("m-tls"),
                                 headers={"X-Provider-Key": "client-own-value"})
        check(st == 200 and h.get("x-switchyard-upstream") == "prov", "chat over https: %d %r" % (st, body[:200]))
        check(h.get("x-simllm-echo") == "Key " + KEY,
              "the key from %s reaches the provider in X-Provider-Key with its prefix, the client's value "
              "dropped: %r" % (KEY_ENV, h.get("x-simllm-echo")))
        names = (h.get("x-simllm-header-names") or "").split(",")
        check("openai-organization" in names and names.count("x-provider-key") == 1,
              "extra_headers sent, the key header once: %r" % names)
        check(h.get("x-simllm-selected-model") == "m-tls", "x-selected-model over TLS: %r"
              % h.get("x-simllm-selected-model"))
        try:
            check(json.loads(body)["choices"][0]["message"]["content"].startswith("[prov]"), "the provider's answer")
        except (ValueError, KeyError, IndexError):
            check(False, "a JSON answer: %r" % body[:200])

        # streaming: every event, as over plain HTTP
        s = post(sy.port, chat("m-tls", stream=True, max_tokens=6))
        got = recv_until(s, b"[DONE]", s.recv(65536))
        s.close()
        check(got.startswith(b"HTTP/1.1 200") and b"text/event-stream" in got, "a stream over TLS: %r" % got[:200])
        check(got.count(b"data: {") == 7 and b"data: [DONE]" in got,
              "7 chunks (role + 6 tokens) and [DONE] over TLS: %d %r" % (got.count(b"data: {"), got[-200:]))

        # kept-alive pooled TLS connections: 20 requests, a few connections
        before = chat_conns(sim_stats(good, ca[1]))
        oks = 0
        for i in range(20):
            st, _, _ = sy.request("POST", "/v1/chat/completions", chat("m-tls", "q %d" % i, max_tokens=2))
            oks += st == 200
        used = chat_conns(sim_stats(good, ca[1])) - before
        print("pooled: %d new connections for 20 requests" % used)
        check(oks == 20 and used <= 6, "20 requests over pooled TLS connections: %d ok, %d new connections"
              % (oks, used))

        # 8 connections at once, fresh TLS connections and pooled ones mixed: every answer whole
        results, lock = [], threading.Lock()

        def client(k):
            mine, conn = [], sy.conn()
            for i in range(150):
                try:
                    conn.request("POST", "/v1/chat/completions",
                                 json.dumps(chat("m-tls", "c%d q%d" % (k, i), max_tokens=2, stream=(i % 4 == 0))),
                                 {"Content-Type": "application/json"})
                    r = conn.getresponse()
                    b = r.read()
                    mine.append(r.status == 200 and (b"[DONE]" in b if i % 4 == 0 else b.startswith(b"{")))
                except (OSError, http.client.HTTPException):
                    mine.append(False)
                    conn.close()
                    conn = sy.conn()
            conn.close()
            with lock:
                results.extend(mine)

        ts = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        check(len(results) == 1200 and all(results), "1200 requests on 8 concurrent connections over TLS: %d whole"
              % sum(results))
        check("TLS handshake failed" not in sy.read_log(), "no handshake failed under concurrency")

        # certificates that do not verify: unhealthy, with the reason
        ub = upstream(a, "badca")
        check(wait_for(lambda: (upstream(a, "badca") or {}).get("healthy") is False, 5),
              "the upstream whose certificate another CA signed is unhealthy: %r" % ub)
        ub = upstream(a, "badca") or {}
        check("certificate verification failed" in ub.get("health_check", ""),
              "its reason in the admin API: %r" % ub.get("health_check"))
        check(wait_for(lambda: (upstream(a, "badname") or {}).get("healthy") is False, 5),
              "the upstream whose certificate names another host is unhealthy")
        un = upstream(a, "badname") or {}
        check("hostname mismatch" in un.get("health_check", ""), "the name mismatch in the admin API: %r"
              % un.get("health_check"))
        ug = upstream(a, "prov") or {}
        check(ug.get("healthy") is True and ug.get("health_check") == "ok" and
              ug.get("url") == "https://localhost:%d" % good.port, "the good provider: %r" % ug)
        log = sy.read_log()
        print("admin: badca %r, badname %r" % (ub.get("health_check"), un.get("health_check")))
        check("upstream badca is unhealthy: TLS certificate verification failed" in log,
              "the reason in the log (badca)")
        check("upstream badname is unhealthy: TLS certificate verification failed: hostname mismatch" in log,
              "the reason in the log (badname)")
        st, _, body = sy.request("POST", "/v1/chat/completions", chat("m-badca"))
        check(st != 200, "no answer through an unverified upstream: %d %r" % (st, body[:200]))
        reqs = sim_stats(badca, ca[1])["requests"]
        check(reqs.get("/v1/chat/completions", 0) == 0, "the unverified upstream got no request: %r" % reqs)

        relay_verifies(exe, check, good, ca, other)
        v03_provider(exe, check, good, ca)

        # the key nowhere
        st, cfgj = a.req("GET", "/admin/config")
        places = {"/metrics": sy.metrics(), "/admin/upstreams": json.dumps(a.req("GET", "/admin/upstreams")[1]),
                  "/admin/config": json.dumps(cfgj), "the log": sy.read_log()}
        for where, text in places.items():
            check(text and KEY not in text, "the API key is not in %s" % where)
    finally:
        cleanup(sy, sims, d)
    check.done(sy)


def cleanup(sy, sims, d):
    """Stops switchyard (if started) and the simulators, removes the temp dir."""
    if sy:
        sy.stop()
    for s in sims:
        s.kill()
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
