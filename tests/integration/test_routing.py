"""Routing by model and engine, local endpoints (/ready follows the
upstreams' health), errors, streaming.
usage: test_routing.py SWITCHYARD SIMLLM"""
import json
import sys

from harness import Check, Sim, Switchyard, chat, post, recv_until, metric, wait_for

LLAMA = "meta-llama/Llama-3.2-1B-Instruct"
PHI = "/models/Phi-tiny-MoE-instruct"


def main():
    sy_exe, sim_exe = sys.argv[1], sys.argv[2]
    sims = [
        Sim(sim_exe, "llama-vllm", [LLAMA], "vllm"),
        Sim(sim_exe, "llama-sglang", [LLAMA], "sglang"),
        Sim(sim_exe, "phi-vllm", [PHI], "vllm", extra=["--itl-ms", "100", "--max-tokens", "10"]),
        Sim(sim_exe, "flaky", ["flaky-model"], "vllm",
            extra=["--reset-rate", "1", "--reset-after", "3", "--itl-ms", "5"]),
        # two replicas of one model, one answering every completion with a 500
        Sim(sim_exe, "five-bad", ["five-model"], "vllm", extra=["--error-rate", "1", "--error-status", "500"]),
        Sim(sim_exe, "five-good", ["five-model"], "vllm"),
    ]
    for s in sims:
        s.start()
    # an upstream whose host does not resolve: switchyard still starts, the
    # model is listed, and its requests get 503 until the name resolves
    ghost = "  - name: ghost\n    url: http://no-such-host.invalid:8000\n    models: [ghost-model]\n"
    sy = Switchyard(sy_exe, sims, extra_yaml=ghost)
    check = Check("routing")
    try:
        sy.start()

        st, _, body = sy.request("GET", "/health")
        check(st == 200, "/health answers 200")
        st, _, body = sy.request("GET", "/ready")
        check(st == 200, "/ready answers 200 once upstreams are healthy")

        st, h, body = sy.request("GET", "/v1/models")
        check(st == 200, "/v1/models answers 200")
        models = json.loads(body)
        pairs = sorted((m["id"], m["owned_by"]) for m in models["data"])
        check(models["object"] == "list", "models list object")
        check(pairs == sorted([(LLAMA, "vllm"), (LLAMA, "sglang"), (PHI, "vllm"), ("flaky-model", "vllm"),
                               ("ghost-model", "vllm"), ("five-model", "vllm")]),
              "models listed once per engine with owned_by: %s" % pairs)
        st, _, body = sy.request("GET", "/v1/models/" + LLAMA)
        check(st == 200 and json.loads(body)["id"] == LLAMA, "GET /v1/models/{id}")

        # default engine: vllm
        st, h, body = sy.request("POST", "/v1/chat/completions", chat(LLAMA))
        check(st == 200, "chat with llama: %d %s" % (st, body[:200]))
        check(h.get("x-simllm-replica") == "llama-vllm", "no owned_by reaches vLLM, got %s" % h.get("x-simllm-replica"))
        check(h.get("x-vsr-selected-model") == LLAMA, "x-vsr-selected-model header")
        check(h.get("x-switchyard-upstream") == "llama-vllm", "x-switchyard-upstream names the upstream")
        resp = json.loads(body)
        check(resp.get("object") == "chat.completion" and resp["choices"][0]["message"]["content"],
              "a chat.completion came back")

        # owned_by in the body, and its aliases
        for key in ("owned_by", "engine", "inference_server"):
            st, h, body = sy.request("POST", "/v1/chat/completions", chat(LLAMA, **{key: "sglang"}))
            check(st == 200 and h.get("x-simllm-replica") == "llama-sglang",
                  "body %s=sglang reaches SGLang (%d %s)" % (key, st, h.get("x-simllm-replica")))
            keys = h.get("x-simllm-body-keys", "")
            check(key not in keys.split(","), "routing field %s removed before the upstream (%s)" % (key, keys))
            check("messages" in keys.split(",") and "max_tokens" in keys.split(","),
                  "other fields kept (%s)" % keys)
        # an escaped key is the same key to the upstream's JSON parser
        raw = ('{"model": "%s", "owned\\u005fby": "sglang", "messages": [{"role": "user", "content": "hi"}]}'
               % LLAMA).encode()
        st, h, body = sy.request("POST", "/v1/chat/completions", raw, {"Content-Type": "application/json"})
        check(st == 200 and h.get("x-simllm-replica") == "llama-sglang" and
              "owned_by" not in h.get("x-simllm-body-keys", "").split(","),
              "escaped owned_by key routes and is stripped (%d %s %s)" % (st, h.get("x-simllm-replica"),
                                                                          h.get("x-simllm-body-keys")))
        st, h, body = sy.request("POST", "/v1/chat/completions", chat(LLAMA, owned_by="vllm"))
        check(h.get("x-simllm-replica") == "llama-vllm", "owned_by=vllm reaches vLLM")
        # header
        st, h, body = sy.request("POST", "/v1/chat/completions", chat(LLAMA), {"x-owned-by": "sglang"})
        check(st == 200 and h.get("x-simllm-replica") == "llama-sglang", "x-owned-by header reaches SGLang")
        # query
        st, h, body = sy.request("POST", "/v1/chat/completions?owned_by=sglang", chat(LLAMA))
        check(st == 200 and h.get("x-simllm-replica") == "llama-sglang", "?owned_by= reaches SGLang")
        # completions and embeddings are proxied too
        st, h, body = sy.request("POST", "/v1/completions", {"model": PHI, "prompt": "Hello", "max_tokens": 3})
        check(st == 200 and json.loads(body).get("object") == "text_completion", "/v1/completions proxied")
        st, h, body = sy.request("POST", "/v1/embeddings", {"model": LLAMA, "input": "hello"})
        check(st == 200 and "data" in json.loads(body), "/v1/embeddings proxied (%d)" % st)

        # errors
        def err(st, body, status, code):
            try:
                e = json.loads(body)["error"]
            except Exception:
                return check(False, "error body is OpenAI JSON: %r" % body[:200])
            check(st == status and e.get("code") == code and "message" in e and "type" in e and "param" in e,
                  "status %d code %s (got %d %s)" % (status, code, st, e))

        st, h, body = sy.request("POST", "/v1/chat/completions", chat("no-such-model"))
        err(st, body, 404, "model_not_found")
        st, h, body = sy.request("POST", "/v1/chat/completions", chat(PHI, owned_by="sglang"))
        err(st, body, 404, "model_not_found")
        st, h, body = sy.request("POST", "/v1/chat/completions", b'{"model": "x", "messages": [}',
                                 {"Content-Type": "application/json"})
        err(st, body, 400, "invalid_json")
        st, h, body = sy.request("POST", "/v1/chat/completions", b'[1,2]', {"Content-Type": "application/json"})
        err(st, body, 400, "invalid_json")
        st, h, body = sy.request("POST", "/v1/chat/completions", {"messages": []})
        err(st, body, 400, "missing_required_parameter")
        st, h, body = sy.request("POST", "/v1/chat/completions", {"model": 7})
        err(st, body, 400, "invalid_type")
        st, h, body = sy.request("GET", "/v1/chat/completions")
        err(st, body, 405, "method_not_allowed")
        st, h, body = sy.request("POST", "/v1/chat/completions", chat("ghost-model"))
        err(st, body, 503, "no_healthy_upstream")
        check(h.get("retry-after") == "1", "503 carries Retry-After")
        st, h, body = sy.request("GET", "/nope")
        err(st, body, 404, "not_found")

        # streaming: the first event arrives while the stream is still going
        s = post(sy.port, chat(PHI, stream=True, max_tokens=10))
        first = recv_until(s, b"data: {")
        check(b"data: {" in first and b"[DONE]" not in first,
              "first SSE event arrived before the end of the stream")
        rest = recv_until(s, b"[DONE]", first)
        s.close()
        head = rest.split(b"\r\n\r\n", 1)[0].lower()
        check(b"transfer-encoding: chunked" in head and b"text/event-stream" in head, "stream is chunked SSE")
        check(rest.count(b"data: {") >= 10 and b"data: [DONE]" in rest, "all events and [DONE] arrived")

        # an upstream that resets mid-stream: the client stream ends with an
        # SSE error event and no [DONE], in proper chunked framing
        req = json.dumps(chat("flaky-model", stream=True, max_tokens=10)).encode()
        r = sy.raw(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(req) + req, first_only=False)
        check(r.startswith(b"HTTP/1.1 200") and b"data: {" in r, "mid-stream failure: stream started (%r)" % r[:60])
        check(b'"code":"upstream_stream_error"' in r and b"[DONE]" not in r,
              "mid-stream failure ends with an SSE error event and no [DONE]")
        check(r.endswith(b"\r\n0\r\n\r\n"), "mid-stream failure: chunked stream terminated cleanly")
        st, _, _ = sy.request("GET", "/health")
        check(st == 200, "still serving after a mid-stream failure")

        # a 5xx before any byte went to the client is retried on the good
        # replica; it still counts for passive health: after
        # router.passive_failures (3) in a row the replica is ejected
        bad = next(s for s in sims if s.name == "five-bad")
        got = []
        for _ in range(16):
            st, h, _ = sy.request("POST", "/v1/chat/completions", chat("five-model"))
            got.append((st, h.get("x-switchyard-upstream")))
        tried = bad.stats().get("errors_injected", 0)
        check(tried > 0 and all(g == (200, "five-good") for g in got),
              "the 500s were retried on the good replica (%d tried, %r)" % (tried, got))
        for _ in range(6):
            sy.request("POST", "/v1/chat/completions", chat("five-model"))
        check(bad.stats().get("errors_injected", 0) == tried,
              "after consecutive 500s the replica is ejected: the next 6 did not try it")

        st, h, body = sy.request("GET", "/metrics")
        text = body.decode()
        check(st == 200 and 'switchyard_requests_total{model="%s",status="200",upstream="llama-sglang"}' % LLAMA in text,
              "metrics count requests by model/status/upstream")
        # the histograms and gauges hold what this test did, not only their names
        for name in ("switchyard_gateway_overhead_seconds_count", "switchyard_request_duration_seconds_count",
                     "switchyard_open_connections", "switchyard_upstream_ttfb_seconds_sum"):
            v = metric(text, name)
            check(v is not None and v > 0, "metrics have %s > 0 (%r)" % (name, v))
        served = metric(text, "switchyard_request_duration_seconds_count")
        relayed = sum(float(line.split()[-1]) for line in text.splitlines()
                      if line.startswith("switchyard_requests_total{") and 'upstream=""' not in line)
        check(served is not None and relayed > 0 and served == relayed,
              "every relayed request is in the duration histogram (%r of %r)" % (served, relayed))

        # /ready is about the upstreams: with every replica failing its
        # health checks it says 503 not_ready (while /health, the process's
        # liveness, stays 200), and 200 again once one is healthy
        for s in sims:
            s.configure(healthy=False)
        st = wait_for(lambda: sy.request("GET", "/ready")[0] == 503, timeout=10)
        st, _, body = sy.request("GET", "/ready")
        err(st, body, 503, "not_ready")
        check(sy.request("GET", "/health")[0] == 200, "/health stays 200 while no upstream is healthy")
        sims[0].configure(healthy=True)
        check(wait_for(lambda: sy.request("GET", "/ready")[0] == 200, timeout=10),
              "/ready answers 200 again once an upstream is healthy")
    finally:
        sy.stop()
        for s in sims:
            s.kill()
    check.done(sy)


if __name__ == "__main__":
    main()
