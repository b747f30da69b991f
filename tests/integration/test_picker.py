"""The endpoint picker against real processes: session affinity (the
x-session-id header and the body's "user"), prefix-cache affinity (requests
sharing a long system prompt stay on one replica), an endpoint whose active
health check fails is avoided once the router has marked it unhealthy and
used again once it recovers (the test polls the admin API for the router's
view, with a generous deadline, rather than sleeping for the health
intervals), and the round_robin / least_request policies.
usage: test_picker.py SWITCHYARD SIMLLM"""
import sys
import time

from harness import Admin, Check, Sim, Switchyard, chat, free_port, metric, replica, wait_for

MODEL = "m1"
TOKEN = "picker-test-token-0123456789"


def router_healthy(admin, name):
    """The router's health verdict on upstream name (admin API); None when it did not answer."""
    st, body = admin.req("GET", "/admin/upstreams")
    if st != 200 or not isinstance(body, dict):
        return None
    for u in body.get("data") or []:
        if u.get("name") == name:
            return u.get("healthy")
    return None


def fallback_picks(sy):
    return metric(sy.metrics(), "switchyard_fallback_picks_total") or 0.0


def tally(sy, n, body_fn, headers_fn=lambda i: None):
    counts, statuses = {}, set()
    for i in range(n):
        st, rep = replica(sy, body_fn(i), headers_fn(i))
        statuses.add(st)
        counts[rep] = counts.get(rep, 0) + 1
    return counts, statuses


def routed_tally(sy, n, body_fn, headers_fn=lambda i: None):
    """tally() on picks the router made: a pick the frontend made by itself
    (the router did not answer within pick_timeout_us, as on a starved
    machine) knows no sessions or prefixes, so such a round is run again
    (at most three times)."""
    for _ in range(3):
        fb0 = fallback_picks(sy)
        counts, st = tally(sy, n, body_fn, headers_fn)
        if fallback_picks(sy) == fb0:
            break
    return counts, st


def main():
    exe, simllm = sys.argv[1], sys.argv[2]
    check = Check("picker")
    sims = [Sim(simllm, "r%d" % i, [MODEL]).start() for i in range(3)]
    # health: interval 200 ms, timeout 300 ms, one failure takes it out (harness)
    admin_port = free_port()
    admin = Admin(admin_port, TOKEN)
    sy = Switchyard(exe, sims, extra_yaml="router:\n  policy: scorer\n  scrape_interval_ms: 50ms\n"
                    "admin:\n  listen: \"127.0.0.1:%d\"\n  token: %s\n" % (admin_port, TOKEN))
    try:
        sy.start()
        time.sleep(1.0)  # right after start, picks may be the frontend's own (router not attached yet)

        # session affinity: one replica per session, header or "user"
        for sid in ("alpha", "beta", "gamma"):
            counts, st = routed_tally(sy, 10, lambda i: chat(MODEL, "question %d" % i),
                                      lambda i, sid=sid: {"x-session-id": sid})
            check(st == {200}, "session %s: all 200 (%r)" % (sid, st))
            check(len(counts) == 1, "session %s stays on one replica: %r" % (sid, counts))
        counts, st = routed_tally(sy, 10, lambda i: chat(MODEL, "question %d" % i, user="user-42"))
        check(len(counts) == 1, "the body's user field is a session too: %r" % counts)
        # without a session, idle replicas share the load (ties are random)
        counts, st = tally(sy, 30, lambda i: chat(MODEL, "question %d" % i))
        check(len(counts) == 3, "no session: all replicas used: %r" % counts)

        # prefix affinity: a shared 4 KB system prompt keeps its group on one replica
        for g in range(3):
            system = ("group %d system prompt. " % g) * 200

            def body(i, system=system):
                return {"model": MODEL, "max_tokens": 4,
                        "messages": [{"role": "system", "content": system},
                                     {"role": "user", "content": "question %d" % i}]}
            counts, st = routed_tally(sy, 10, body)
            check(st == {200}, "prefix group %d: all 200" % g)
            check(len(counts) == 1, "prefix group %d stays on one replica: %r" % (g, counts))

        # active health: r0 fails its checks -> avoided; recovers -> used again
        sims[0].configure(healthy=False)
        check(wait_for(lambda: router_healthy(admin, "r0") is False, 20), "the router marks r0 unhealthy")
        time.sleep(0.2)  # a margin for publishing the snapshot
        counts, st = tally(sy, 30, lambda i: chat(MODEL, "question %d" % i))
        check(st == {200}, "r0 unhealthy: the others answer (%r)" % st)
        check("r0" not in counts, "unhealthy r0 avoided: %r" % counts)
        sims[0].configure(healthy=True)
        check(wait_for(lambda: router_healthy(admin, "r0") is True, 20), "the router marks r0 healthy again")
        time.sleep(0.2)  # a margin for publishing the snapshot
        counts, st = tally(sy, 30, lambda i: chat(MODEL, "question %d" % i))
        check(counts.get("r0", 0) > 0, "r0 re-admitted once healthy: %r" % counts)
    finally:
        sy.stop()

    # comparison policies
    for policy in ("round_robin", "least_request"):
        sy = Switchyard(exe, sims, extra_yaml="router:\n  policy: %s\n" % policy)
        try:
            sy.start()
            time.sleep(1.0)  # right after start, picks may be the frontend's own (router not attached yet)
            for i in range(3):
                replica(sy, chat(MODEL, "warm-up %d" % i))
            fb0 = fallback_picks(sy)
            reps = [replica(sy, chat(MODEL, "q %d" % i), {"x-session-id": "same"})[1] for i in range(9)]
            if fallback_picks(sy) != fb0:
                print("note: the frontend picked without the router (slow machine); rotation not checked")
                continue
            if policy == "round_robin":
                check(len(set(reps)) == 3 and all(reps[i] != reps[i + 1] for i in range(8)),
                      "round_robin rotates (sessions ignored): %r" % reps)
            else:
                check(len(set(reps)) >= 2, "least_request spreads idle picks (sessions ignored): %r" % reps)
        finally:
            sy.stop()
    for s in sims:
        s.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
