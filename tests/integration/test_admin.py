"""The router's admin API: bearer token, upstreams and routes added and
removed take effect for the next requests, the state file survives a
router restart, bad input is refused.
usage: test_admin.py SWITCHYARD SIMLLM"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse

from harness import Admin, Check, Sim, Switchyard, chat, free_port, replica, wait_for

LLAMA = "meta-llama/Llama-3.2-1B-Instruct"
TOKEN = "admin-test-token-0123456789"


def replica_of(sy, model, **extra):
    return replica(sy, chat(model, **extra))


def main():
    sy_exe, sim_exe = sys.argv[1], sys.argv[2]
    base = Sim(sim_exe, "base", [LLAMA], "vllm").start()
    extra = Sim(sim_exe, "extra", ["extra-model", LLAMA], "sglang").start()
    admin_port = free_port()
    sy = Switchyard(sy_exe, [base])
    state = os.path.join(sy.dir, "admin-state.json")
    sy.write_config([base], extra_yaml="admin:\n  listen: \"127.0.0.1:%d\"\n  token: %s\n  state_file: %s\n"
                    % (admin_port, TOKEN, state))
    check = Check("admin")
    a = Admin(admin_port, TOKEN)
    try:
        sy.start()
        check(wait_for(lambda: a.req("GET", "/admin/upstreams")[0] == 200), "admin API answers")

        # the bearer token is required
        st, body = a.req("GET", "/admin/upstreams", token="")
        check(st == 401 and body["error"]["code"] == "invalid_api_key", "no token: 401 %s" % st)
        st, _ = a.req("GET", "/admin/upstreams", token=TOKEN + "x")
        check(st == 401, "wrong token: 401")
        st, _ = a.req("GET", "/admin/upstreams", token=TOKEN[:-1])
        check(st == 401, "a prefix of the token: 401")

        st, body = a.req("GET", "/admin/upstreams")
        names = [u["name"] for u in body["data"]]
        check(names == ["base"], "one upstream listed: %s" % names)
        u = body["data"][0]
        check(u["healthy"] is True and u["source"] == "file" and u["engine"] == "vllm" and "inflight" in u,
              "upstream fields: %s" % u)

        # extra-model does not exist yet
        st, _ = replica_of(sy, "extra-model")
        check(st == 404, "unknown model before the change: %d" % st)

        # add an upstream: the next request reaches it
        st, body = a.req("POST", "/admin/upstreams", {"name": "extra-sgl", "url": "http://127.0.0.1:%d" % extra.port,
                                                     "engine": "sglang", "models": ["extra-model"]})
        check(st == 201, "POST /admin/upstreams: %s %s" % (st, body))
        st, rep = replica_of(sy, "extra-model")
        check(st == 200 and rep == "extra", "request for the added model reaches it: %s %s" % (st, rep))
        st, h, body = sy.request("GET", "/v1/models")
        ids = sorted((m["id"], m["owned_by"]) for m in json.loads(body)["data"])
        check(("extra-model", "sglang") in ids, "/v1/models lists the added model: %s" % ids)

        # duplicate name, bad input
        st, body = a.req("POST", "/admin/upstreams", {"name": "extra-sgl", "url": "http://127.0.0.1:1",
                                                     "models": ["x"]})
        check(st == 409, "duplicate upstream name: 409 (%s)" % st)
        st, body = a.req("POST", "/admin/upstreams", raw="{not json")
        check(st == 400 and body["error"]["type"] == "invalid_request_error", "bad JSON: 400")
        st, body = a.req("POST", "/admin/upstreams", {"name": "x y", "url": "http://127.0.0.1:1", "models": ["m"]})
        check(st == 400, "bad name: 400")
        st, body = a.req("POST", "/admin/upstreams", {"name": "x", "url": "https://127.0.0.1:1", "models": ["m"]})
        check(st == 400, "https url: 400")
        st, body = a.req("POST", "/admin/upstreams", {"name": "x", "url": "http://127.0.0.1:1", "models": []})
        check(st == 400, "no models: 400")
        st, body = a.req("POST", "/admin/upstreams", raw="x" * (70 * 1024))
        check(st == 413, "a body over 64 KiB: 413 (%s)" % st)

        # a route: llama with owned_by sglang goes to the extra upstream
        st, rep = replica_of(sy, LLAMA, owned_by="sglang")
        check(st == 404, "llama on sglang before the route: %d" % st)
        st, body = a.req("POST", "/admin/routes", {"model": LLAMA, "owned_by": "sglang", "upstream": "extra-sgl"})
        check(st == 201, "POST /admin/routes: %s %s" % (st, body))
        st, rep = replica_of(sy, LLAMA, owned_by="sglang")
        check(st == 200 and rep == "extra", "llama on sglang after the route: %s %s" % (st, rep))
        st, rep = replica_of(sy, LLAMA)
        check(st == 200 and rep == "base", "llama without owned_by still on vllm: %s %s" % (st, rep))
        st, body = a.req("POST", "/admin/routes", {"model": LLAMA, "owned_by": "vllm", "upstream": "extra-sgl"})
        check(st == 400 and body["error"]["code"] == "engine_mismatch", "owned_by must match the engine: %s" % st)
        st, body = a.req("POST", "/admin/routes", {"model": LLAMA, "upstream": "nope"})
        check(st == 404, "route to an unknown upstream: 404")
        st, body = a.req("GET", "/admin/routes")
        routes = {(r["model"], r["owned_by"]): r["upstreams"] for r in body["data"]}
        check(routes.get((LLAMA, "sglang")) == ["extra-sgl"] and routes.get((LLAMA, "vllm")) == ["base"],
              "GET /admin/routes: %s" % routes)

        # the state file holds the changes
        with open(state) as f:
            saved = json.load(f)
        check([u["name"] for u in saved["upstreams"]] == ["extra-sgl"] and len(saved["routes"]) == 1,
              "state file written: %s" % saved)

        # restart the router alone: the changes come back from the state file
        for pid in sy.pids("router"):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.3)
        check(wait_for(lambda: a.req("GET", "/admin/upstreams")[0] == 200, 20), "admin API back after a restart")
        check(wait_for(lambda: replica_of(sy, LLAMA, owned_by="sglang") == (200, "extra"), 10),
              "route kept across a router restart")

        # delete the route (query parameters, as in the guide), then the upstream
        q = urllib.parse.urlencode({"model": LLAMA, "owned_by": "sglang"})
        st, _ = a.req("DELETE", "/admin/routes?" + q)
        check(st == 204, "DELETE /admin/routes: %s" % st)
        st, rep = replica_of(sy, LLAMA, owned_by="sglang")
        check(st == 404, "llama on sglang after the route is gone: %d" % st)
        st, _ = a.req("DELETE", "/admin/routes?" + q)
        check(st == 404, "deleting it again: 404")
        # adding it back takes the removal back
        st, body = a.req("POST", "/admin/routes", {"model": LLAMA, "owned_by": "sglang", "upstream": "extra-sgl"})
        check(st == 201, "POST /admin/routes again: %s %s" % (st, body))
        st, rep = replica_of(sy, LLAMA, owned_by="sglang")
        check(st == 200 and rep == "extra", "llama on sglang after the route came back: %s %s" % (st, rep))
        st, _ = a.req("DELETE", "/admin/routes?" + q)
        check(st == 204, "DELETE /admin/routes again: %s" % st)
        st, _ = a.req("DELETE", "/admin/upstreams/" + urllib.parse.quote("extra-sgl", safe=""))
        check(st == 204, "DELETE /admin/upstreams/extra-sgl: %s" % st)
        st, rep = replica_of(sy, "extra-model")
        check(st == 404, "the deleted upstream's model is gone: %d" % st)

        # deleting an upstream of the file hides it (until its removal is undone)
        st, _ = a.req("DELETE", "/admin/upstreams/base")
        check(st == 204, "DELETE a file upstream: %s" % st)
        st, rep = replica_of(sy, LLAMA)
        check(st == 404, "its model is gone: %d" % st)
        st, body = a.req("POST", "/admin/upstreams", {"name": "base", "url": "http://127.0.0.1:%d" % base.port,
                                                     "models": [LLAMA]})
        check(st == 201, "added back: %s" % st)
        st, rep = replica_of(sy, LLAMA)
        check(st == 200 and rep == "base", "served again: %s %s" % (st, rep))
        st, _ = a.req("DELETE", "/admin/upstreams/nope")
        check(st == 404, "deleting an unknown upstream: 404")

        st, body = a.req("GET", "/admin/config")
        check(st == 200 and [u["name"] for u in body["upstreams"]] == ["base"], "GET /admin/config")
        st, body = a.req("POST", "/admin/discovery/refresh")
        check(st == 202, "POST /admin/discovery/refresh: %s" % st)
        st, body = a.req("GET", "/admin/nothing")
        check(st == 404, "unknown admin path: 404")

        # the custom gateway's paths (guide 003), with curl as the guide writes
        # them plus the token: same semantics as /admin/routes and
        # /admin/discovery/refresh
        def curl(method, path, data=None, token=TOKEN):
            args = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", method,
                    "http://127.0.0.1:%d%s" % (a.port, path)]
            if token:
                args += ["-H", "Authorization: Bearer " + token]
            if data is not None:
                args += ["-H", "Content-Type: application/json", "-d", json.dumps(data)]
            out = subprocess.run(args, capture_output=True, text=True, timeout=20).stdout
            body, _, code = out.rpartition("\n")
            try:
                return int(code), json.loads(body) if body.strip() else None
            except ValueError:
                return int(code or 0), body
        st, body = curl("POST", "/admin/discover")
        check(st == 202 and body == {"refresh": "started"}, "curl -X POST /admin/discover: %s %r" % (st, body))
        st, body = curl("GET", "/admin/api/routing", token=None)
        check(st == 401, "/admin/api/routing without the token: 401 (%s)" % st)
        st, body = curl("POST", "/admin/api/routing", {"model": LLAMA, "owned_by": "sglang", "upstream": "extra-g"})
        check(st == 404 and isinstance(body, dict) and body["error"]["code"] == "upstream_not_found",
              "POST /admin/api/routing to an unknown upstream: 404 upstream_not_found (%s %r)" % (st, body))
        st, body = a.req("POST", "/admin/upstreams", {"name": "extra-g", "url": "http://127.0.0.1:%d" % extra.port,
                                                     "engine": "sglang", "models": ["extra-model"]})
        check(st == 201, "an upstream for the guide's paths: %s %s" % (st, body))
        st, body = curl("POST", "/admin/api/routing", {"model": LLAMA, "owned_by": "sglang", "upstream": "extra-g"})
        check(st == 201, "curl -X POST /admin/api/routing: %s %r" % (st, body))
        check(wait_for(lambda: replica_of(sy, LLAMA, owned_by="sglang") == (200, "extra"), 10),
              "the route added by /admin/api/routing serves")
        st, body = curl("GET", "/admin/api/routing")
        routes = {(r["model"], r["owned_by"]): r["upstreams"] for r in (body or {}).get("data", [])} \
            if isinstance(body, dict) else {}
        check(st == 200 and routes.get((LLAMA, "sglang")) == ["extra-g"],
              "curl /admin/api/routing lists it: %s %r" % (st, routes))
        st, body = curl("DELETE", "/admin/api/routing?" + urllib.parse.urlencode({"model": LLAMA, "owned_by": "sglang"}))
        check(st == 204, "curl -X DELETE '/admin/api/routing?model=...&owned_by=...': %s" % st)
        st, rep = replica_of(sy, LLAMA, owned_by="sglang")
        check(st == 404, "the route is gone after the guide's DELETE: %d" % st)
        st, _ = a.req("DELETE", "/admin/upstreams/extra-g")
        check(st == 204, "DELETE /admin/upstreams/extra-g: %s" % st)

        # the admin listener is not the client port
        st, _, _ = sy.request("GET", "/admin/upstreams", headers={"Authorization": "Bearer " + TOKEN})
        check(st == 404, "no admin API on the client listener: %d" % st)
    finally:
        sy.stop()
        base.kill()
        extra.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
