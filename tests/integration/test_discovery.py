"""Discovery end to end: switchyard routes to simllm replicas that a fake
Kubernetes API server (tests/router/fake_apiserver.py, HTTPS) announces as
EndpointSlices, with models asked from each endpoint's /v1/models; a slice
deleted or marked not ready takes its upstream out; a watch expiry relists
without losing anything. A DNS source (localhost) adds its addresses.
usage: test_discovery.py SWITCHYARD SIMLLM"""
import json
import os
import subprocess
import sys

from harness import Admin, Check, Sim, Switchyard, chat, free_port, replica, wait_for

LLAMA = "meta-llama/Llama-3.2-1B-Instruct"
TOKEN = "admin-token-discovery"
HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "..", "router", "fake_apiserver.py")


def slice_obj(name, pod, port, ready=True):
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1", "addressType": "IPv4",
            "metadata": {"name": name, "labels": {"app": "llm"}},
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": ready},
                           "targetRef": {"kind": "Pod", "name": pod}}]}


def main():
    sy_exe, sim_exe = sys.argv[1], sys.argv[2]
    check = Check("discovery")
    sims = [Sim(sim_exe, "pod-a", [LLAMA], "vllm").start(), Sim(sim_exe, "pod-b", [LLAMA], "vllm").start(),
            Sim(sim_exe, "dns-a", ["dns-model"], "sglang").start()]
    static = Sim(sim_exe, "static", ["static-model"], "vllm").start()
    sy = Switchyard(sy_exe, [static])
    fake = subprocess.Popen(["/usr/bin/python3", FAKE, "--dir", sy.dir, "--token", "k8s-token"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    _, api, ctl, ca = fake.stdout.readline().split()
    tokfile = os.path.join(sy.dir, "k8s-token")
    with open(tokfile, "w") as f:
        f.write("k8s-token\n")
    admin_port = free_port()
    extra = ("discovery:\n"
             "  - kind: kubernetes\n    api_server: %s\n    token_file: %s\n    ca_file: %s\n"
             "    namespace: llm\n    label_selector: app=llm\n    port: http\n    models_from: v1_models\n"
             "  - kind: dns\n    name: localhost\n    port: %d\n    engine: sglang\n    models: [dns-model]\n"
             "    interval_ms: 200\n"
             "admin:\n  listen: \"127.0.0.1:%d\"\n  token: %s\n") % (api, tokfile, ca, sims[2].port, admin_port, TOKEN)
    sy.write_config([static], extra_yaml=extra)
    a = Admin(admin_port, TOKEN)

    def ctl_req(method, path, body=None):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", int(ctl), timeout=5)
        c.request(method, path, json.dumps(body) if body is not None else None)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status

    def put(obj):
        return ctl_req("POST", "/objects", {"resource": "endpointslices", "namespace": "llm", "object": obj})

    def replicas(model, n=12):
        seen = set()
        for _ in range(n):
            seen.add(replica(sy, chat(model)))
        return seen

    def upstream_names():
        st, body = a.req("GET", "/admin/upstreams")
        return sorted(u["name"] for u in body["data"]) if st == 200 else []

    try:
        put(slice_obj("llm-1", "pod-a", sims[0].port))
        sy.start()
        ka = "k8s/pod-a/127.0.0.1:%d" % sims[0].port
        kb = "k8s/pod-b/127.0.0.1:%d" % sims[1].port
        check(wait_for(lambda: ka in upstream_names()), "listed slice becomes an upstream: %s" % upstream_names())
        check(wait_for(lambda: replicas(LLAMA, 3) == {(200, "pod-a")}), "requests reach the discovered replica")

        put(slice_obj("llm-2", "pod-b", sims[1].port))
        check(wait_for(lambda: kb in upstream_names()), "watched slice becomes an upstream")
        check(wait_for(lambda: replicas(LLAMA) == {(200, "pod-a"), (200, "pod-b")}),
              "requests spread over both: %s" % replicas(LLAMA))
        st, h, body = sy.request("GET", "/v1/models")
        ids = sorted(m["id"] for m in json.loads(body)["data"])
        check(LLAMA in ids and "static-model" in ids, "/v1/models has discovered and static models: %s" % ids)

        # not ready -> out
        put(slice_obj("llm-1", "pod-a", sims[0].port, ready=False))
        check(wait_for(lambda: ka not in upstream_names()), "a not-ready endpoint leaves")
        check(wait_for(lambda: replicas(LLAMA, 4) == {(200, "pod-b")}), "only the ready one serves")

        # watch expiry: relist, nothing lost
        ctl_req("POST", "/expire", {})
        put(slice_obj("llm-1", "pod-a", sims[0].port, ready=True))
        check(wait_for(lambda: ka in upstream_names() and kb in upstream_names()), "after a watch expiry: both")
        st, body = a.req("GET", "/admin/discovery")
        src = body["sources"][0] if st == 200 else {}
        check(src.get("kind") == "kubernetes" and src.get("lists", 0) >= 2 and src.get("expired", 0) >= 1,
              "discovery status shows the relist: %s" % src)

        # deleted -> out
        ctl_req("DELETE", "/objects?resource=endpointslices&namespace=llm&name=llm-2")
        check(wait_for(lambda: kb not in upstream_names()), "a deleted slice's upstream leaves")
        check(wait_for(lambda: replicas(LLAMA, 4) == {(200, "pod-a")}), "requests follow")

        # DNS: localhost's addresses
        dn = "dns/localhost/127.0.0.1:%d" % sims[2].port
        check(wait_for(lambda: dn in upstream_names()), "DNS source adds localhost's address: %s" % upstream_names())
        check(wait_for(lambda: (200, "dns-a") in replicas("dns-model", 4)), "requests reach the DNS upstream")

        # static upstreams stay
        check(replicas("static-model", 2) == {(200, "static")}, "the file's upstream still serves")
    finally:
        sy.stop()
        fake.stdin.close()
        fake.terminate()
        fake.wait()
        for s in sims + [static]:
            s.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
