"""The contracts the gateways behind switchyard rely on (issue 17's part):
every proxied request carries x-selected-model with the model served, the
client's own x-selected-model never reaches the upstream (it would steer a
gateway's HTTPRoute), the header name is configurable
(proxy.selected_model_header), and session affinity is keyed by a
configurable header (router.session.header, x-user-id as production stacks
send it) instead of x-session-id.
usage: test_contracts.py SWITCHYARD SIMLLM"""
import sys
import time

from harness import Check, Sim, Switchyard, chat, metric, recv_until, post

MODELS = ["m-a", "m-b"]


def tally(sy, n, headers_fn):
    """n chats to m-a, with a fresh body each; counts per replica. Picks the
    frontend made alone (router late on a starved machine) know no sessions:
    such a round is run again (at most three times)."""
    for _ in range(3):
        fb0 = metric(sy.metrics(), "switchyard_fallback_picks_total") or 0.0
        counts, statuses = {}, set()
        for i in range(n):
            st, h, _ = sy.request("POST", "/v1/chat/completions", chat("m-a", "question %d" % i),
                                  headers=headers_fn(i))
            statuses.add(st)
            rep = h.get("x-simllm-replica")
            counts[rep] = counts.get(rep, 0) + 1
        if (metric(sy.metrics(), "switchyard_fallback_picks_total") or 0.0) == fb0:
            break
    return counts, statuses


def main():
    exe, simllm = sys.argv[1], sys.argv[2]
    check = Check("contracts")
    sims = [Sim(simllm, "r%d" % i, MODELS).start() for i in range(2)]
    sy = Switchyard(exe, sims, extra_yaml="router:\n  policy: scorer\n  scrape_interval_ms: 50ms\n"
                                          "  session:\n    header: x-user-id\n")
    sy2 = None
    try:
        sy.start()
        time.sleep(1.0)
        # explicit model, chat and completions, plain and streamed
        for model in MODELS:
            st, h, _ = sy.request("POST", "/v1/chat/completions", chat(model))
            check(st == 200 and h.get("x-simllm-selected-model") == model,
                  "chat to %s: upstream got x-selected-model: %s (%d %r)" % (model, model, st,
                                                                           h.get("x-simllm-selected-model")))
        st, h, _ = sy.request("POST", "/v1/completions", {"model": "m-b", "prompt": "Say hi", "max_tokens": 4})
        check(st == 200 and h.get("x-simllm-selected-model") == "m-b",
              "completions: x-selected-model: m-b (%d %r)" % (st, h.get("x-simllm-selected-model")))
        s = post(sy.port, chat("m-a", stream=True, max_tokens=4))
        got = recv_until(s, b"[DONE]", s.recv(65536))
        s.close()
        check(b"x-simllm-selected-model: m-a\r\n" in got.lower() and b"data: [DONE]" in got,
              "streamed chat: x-selected-model: m-a (%r)" % got[:400])
        # the client's own value is dropped, once and case-insensitively
        for name in ("x-selected-model", "X-Selected-Model"):
            st, h, _ = sy.request("POST", "/v1/chat/completions", chat("m-a"), headers={name: "m-b"})
            check(st == 200 and h.get("x-simllm-selected-model") == "m-a",
                  "client's %s: m-b is not forwarded, the upstream sees m-a only (%r)"
                  % (name, h.get("x-simllm-selected-model")))

        # affinity by x-user-id: one replica per user ...
        for uid in ("alice", "bob", "carol"):
            counts, st = tally(sy, 8, lambda i, uid=uid: {"x-user-id": uid})
            check(st == {200} and len(counts) == 1, "x-user-id %s stays on one replica: %r %r" % (uid, counts, st))
        # ... and x-session-id is no session key any more: requests spread
        counts, st = tally(sy, 30, lambda i: {"x-session-id": "same"})
        check(len(counts) == 2, "x-session-id is not the session header here: both replicas used: %r" % counts)

        # another header name: sent instead of x-selected-model
        sy2 = Switchyard(exe, sims, extra_yaml="proxy:\n  selected_model_header: X-Route-Model\n")
        sy2.start()
        st, h, _ = sy2.request("POST", "/v1/chat/completions", chat("m-b"))
        names = (h.get("x-simllm-header-names") or "").split(",")
        check(st == 200 and names.count("x-route-model") == 1 and "x-selected-model" not in names,
              "proxy.selected_model_header: X-Route-Model sent, x-selected-model not (%r)" % names)
        st, h, _ = sy2.request("POST", "/v1/chat/completions", chat("m-b"), headers={"x-route-model": "m-a"})
        names = (h.get("x-simllm-header-names") or "").split(",")
        check(st == 200 and names.count("x-route-model") == 1,
              "a client's X-Route-Model is dropped: the header comes once (%r)" % names)
    finally:
        sy.stop()
        if sy2:
            sy2.stop()
        for s in sims:
            s.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
