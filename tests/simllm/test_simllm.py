#!/usr/bin/env python3
"""Integration test of simllm, the simulated vLLM/SGLang server.

usage: test_simllm.py PATH/TO/simllm

Starts simllm on port 0 (--ready-file gives the port) and checks the OpenAI
endpoints (non-streaming, SSE streaming arriving incrementally), models,
metrics names for both engines, errors, fault knobs, queueing beyond
--max-running, HTTP framing (pipelining, chunked bodies, bad requests) and
clean shutdown. Checks ordering, never timing.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SIMLLM = None
FAILED = []


class Sim:
    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="simllm-test-")
        ready = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen(
            [SIMLLM, "--port", "0", "--ready-file", ready] + list(args),
            stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise RuntimeError("simllm exited with %d" % self.proc.returncode)
            if time.monotonic() > deadline:
                raise RuntimeError("simllm did not write its ready file")
            time.sleep(0.01)
        with open(ready) as f:
            self.port = int(f.read().strip())

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, conn=None, headers=None):
        c = conn or self.conn()
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        c.request(method, path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def json(self, method, path, body=None, conn=None):
        st, h, data = self.request(method, path, body, conn)
        return st, h, json.loads(data) if data else None

    def config(self, **knobs):
        st, _, cfg = self.json("POST", "/sim/config", knobs)
        check(st == 200, "POST /sim/config %r -> %d" % (knobs, st))
        return cfg

    def stats(self):
        return self.json("GET", "/sim/stats")[2]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "timeout"
        check(rc == 0, "clean exit on SIGTERM (rc %s)" % rc)


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL: " + what, flush=True)
    return cond


def expect_eq(got, want, what):
    return check(got == want, "%s: got %r, want %r" % (what, got, want))


def chat_body(**kw):
    b = {"model": "sim-model", "messages": [{"role": "user", "content": "hello there, simulator"}]}
    b.update(kw)
    return b


def sse_events(resp):
    """Yields the data payloads of an SSE response as they arrive."""
    while True:
        line = resp.readline()
        if not line:
            return
        line = line.strip()
        if line.startswith(b"data: "):
            yield line[6:].decode()


def raw_exchange(port, data, nresp=1, timeout=5):
    """Sends raw bytes, returns what comes back until nresp responses with
    Content-Length bodies are complete or the server closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    buf = b""
    done = 0
    try:
        while done < nresp:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            done = 0
            rest = buf
            while True:
                head, sep, tail = rest.partition(b"\r\n\r\n")
                if not sep:
                    break
                cl = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        cl = int(v)
                if len(tail) < cl:
                    break
                done += 1
                rest = tail[cl:]
    finally:
        s.close()
    return buf


# ---------------------------------------------------------------- tests

def test_nonstreaming(sim):
    st, h, r = sim.json("POST", "/v1/chat/completions",
                        chat_body(max_tokens=5, owned_by="vllm", user="u1"))
    expect_eq(st, 200, "chat status")
    expect_eq(h.get("x-simllm-replica"), "alpha", "replica header")
    expect_eq(h.get("x-simllm-engine"), "vllm", "engine header")
    expect_eq(h.get("x-simllm-model"), "sim-model", "model header")
    expect_eq(h.get("x-simllm-body-keys"), "model,messages,max_tokens,owned_by,user", "body keys header")
    expect_eq(r["object"], "chat.completion", "chat object")
    expect_eq(r["model"], "sim-model", "chat model")
    msg = r["choices"][0]["message"]
    expect_eq(msg["role"], "assistant", "role")
    check("alpha" in msg["content"], "content mentions the replica: %r" % msg["content"])
    expect_eq(r["choices"][0]["finish_reason"], "length", "finish_reason")
    u = r["usage"]
    expect_eq(u["completion_tokens"], 5, "completion_tokens = max_tokens")
    expect_eq(u["prompt_tokens"], (len("hello there, simulator") + 3) // 4, "prompt_tokens ~ bytes/4")
    expect_eq(u["total_tokens"], u["prompt_tokens"] + 5, "total_tokens")

    # second model, max_completion_tokens, completions endpoint, default length
    st, h, r = sim.json("POST", "/v1/chat/completions",
                        chat_body(model="other-model", max_completion_tokens=3))
    expect_eq((st, r["model"], r["usage"]["completion_tokens"]), (200, "other-model", 3),
              "second model + max_completion_tokens")
    st, h, r = sim.json("POST", "/v1/completions", {"model": "sim-model", "prompt": "abcdefgh"})
    expect_eq(st, 200, "completions status")
    expect_eq(r["object"], "text_completion", "completions object")
    expect_eq(r["usage"]["completion_tokens"], 7, "default --max-tokens")
    expect_eq(r["usage"]["prompt_tokens"], 2, "completions prompt_tokens")
    check("alpha" in r["choices"][0]["text"], "completion text mentions the replica")

    st, h, r = sim.json("POST", "/v1/embeddings", {"model": "sim-model", "input": ["a", "b"]})
    expect_eq(st, 200, "embeddings status")
    expect_eq(len(r["data"]), 2, "two embeddings")
    expect_eq(h.get("x-simllm-body-keys"), "model,input", "embeddings body keys")
    st2, _, r2 = sim.json("POST", "/v1/embeddings", {"model": "sim-model", "input": ["a", "b"]})
    expect_eq(r2["data"], r["data"], "embeddings are deterministic")


def test_streaming(sim):
    sim.config(itl_ms=50)
    c = sim.conn()
    c.request("POST", "/v1/chat/completions",
              body=json.dumps(chat_body(stream=True, max_tokens=10,
                                        stream_options={"include_usage": True})),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    expect_eq(r.status, 200, "stream status")
    expect_eq(r.getheader("Transfer-Encoding"), "chunked", "stream is chunked")
    check(r.getheader("Content-Type", "").startswith("text/event-stream"), "stream content type")
    events = sse_events(r)
    first = json.loads(next(events))
    # the first event is here while the sequence is still generating
    gen = sim.stats()
    expect_eq(gen["running"], 1, "sequence still running after the first event arrived")
    rest = list(events)
    c.close()
    expect_eq(first["object"], "chat.completion.chunk", "chunk object")
    expect_eq(first["choices"][0]["delta"].get("role"), "assistant", "first delta has the role")
    expect_eq(rest[-1], "[DONE]", "stream ends with [DONE]")
    chunks = [json.loads(e) for e in rest[:-1]]
    usage = chunks[-1]
    expect_eq(usage["choices"], [], "usage chunk has no choices")
    expect_eq(usage["usage"]["completion_tokens"], 10, "usage completion_tokens")
    final = chunks[-2]
    expect_eq(final["choices"][0]["finish_reason"], "length", "final chunk finish_reason")
    tokens = [first] + chunks[:-2]
    expect_eq(len(tokens), 10, "one event per token")
    check(all(t["choices"][0]["finish_reason"] is None for t in tokens), "token chunks unfinished")
    text = "".join(t["choices"][0]["delta"]["content"] for t in tokens)
    expect_eq(text, "[alpha] sim reply 1 2 3 4 5 6 7", "tokens in order")

    # completions stream without usage
    c = sim.conn()
    c.request("POST", "/v1/completions",
              body=json.dumps({"model": "sim-model", "prompt": "x", "stream": True, "max_tokens": 3}),
              headers={"Content-Type": "application/json"})
    evs = list(sse_events(c.getresponse()))
    c.close()
    expect_eq(len(evs), 5, "3 tokens + final + [DONE]")
    expect_eq(json.loads(evs[0])["object"], "text_completion", "completions chunk object")
    expect_eq(json.loads(evs[3])["choices"][0]["finish_reason"], "length", "completions finish")
    sim.config(itl_ms=0)


def test_models_and_errors(sim):
    st, h, r = sim.json("GET", "/v1/models")
    expect_eq(st, 200, "models status")
    expect_eq([m["id"] for m in r["data"]], ["sim-model", "other-model"], "model ids")
    check(all(m["owned_by"] == "vllm" for m in r["data"]), "owned_by = engine")
    expect_eq(h.get("x-simllm-replica"), "alpha", "replica header on models")

    st, h, r = sim.json("POST", "/v1/chat/completions", chat_body(model="gpt-nope"))
    expect_eq(st, 404, "unknown model status")
    expect_eq(r["error"]["code"], "model_not_found", "unknown model code")
    expect_eq(r["error"]["type"], "invalid_request_error", "unknown model type")
    expect_eq(r["error"]["param"], "model", "unknown model param")
    expect_eq(h.get("x-simllm-model"), "gpt-nope", "model header on 404")

    # bad JSON -> 400, and the same connection keeps working
    c = sim.conn()
    st, h, data = sim.request("POST", "/v1/chat/completions", b'{"model": "sim-model", "messages": [', conn=c)
    expect_eq(st, 400, "bad JSON status")
    check("error" in json.loads(data), "bad JSON error body")
    st, h, r = sim.json("POST", "/v1/chat/completions", chat_body(max_tokens=2), conn=c)
    expect_eq(st, 200, "connection works after a bad request")
    c.close()
    st, _, _ = sim.request("POST", "/v1/chat/completions", b'{"model":"sim-model","messages":"x"}')
    expect_eq(st, 400, "messages not an array")
    st, _, _ = sim.request("GET", "/nope")
    expect_eq(st, 404, "unknown path")
    # malformed HTTP on a raw socket, then the server still answers
    out = raw_exchange(sim.port, b"GARBAGE\r\n\r\n")
    check(out.startswith(b"HTTP/1.1 400"), "malformed request gets 400: %r" % out[:40])
    st, _, _ = sim.request("GET", "/health")
    expect_eq(st, 200, "server works after a malformed request")


def test_http_framing(sim):
    body = json.dumps(chat_body(max_tokens=2)).encode()
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body)) + body
    out = raw_exchange(sim.port, req + req + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", nresp=3)
    expect_eq(out.count(b"HTTP/1.1 200 OK"), 3, "three pipelined responses")

    chunked = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               + b"%x\r\n" % 10 + body[:10] + b"\r\n" + b"%x\r\n" % (len(body) - 10) + body[10:]
               + b"\r\n0\r\n\r\n")
    out = raw_exchange(sim.port, chunked)
    check(out.startswith(b"HTTP/1.1 200") and b"chat.completion" in out, "chunked request body")

    out = raw_exchange(sim.port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                       b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", nresp=2)
    expect_eq(out.count(b"HTTP/1.1"), 1, "nothing after Connection: close")
    check(b"Connection: close" in out, "Connection: close echoed")


def test_faults(sim):
    sim.config(error_rate=1.0, error_status=503)
    st, h, r = sim.json("POST", "/v1/chat/completions", chat_body())
    expect_eq(st, 503, "error_rate 1.0 gives error_status")
    check("error" in r, "injected error body")
    sim.config(error_rate=0)
    st, _, _ = sim.json("POST", "/v1/chat/completions", chat_body())
    expect_eq(st, 200, "error_rate 0 answers again")
    expect_eq(sim.stats()["errors_injected"], 1, "errors_injected counter")

    expect_eq(sim.request("GET", "/health")[0], 200, "healthy")
    sim.config(healthy=False)
    expect_eq(sim.request("GET", "/health")[0], 503, "healthy false -> 503")
    sim.config(healthy=True)
    expect_eq(sim.request("GET", "/health")[0], 200, "healthy again")

    st, _, _ = sim.json("POST", "/sim/config", {"error_rate": 2})
    expect_eq(st, 400, "invalid knob value refused")
    st, _, _ = sim.json("POST", "/sim/config", {"bogus": 1})
    expect_eq(st, 400, "unknown knob refused")

    # reset mid-stream after 2 tokens
    sim.config(reset_rate=1.0, reset_after=2)
    c = sim.conn()
    c.request("POST", "/v1/chat/completions", body=json.dumps(chat_body(stream=True, max_tokens=8)),
              headers={"Content-Type": "application/json"})
    got, err = [], None
    try:
        for e in sse_events(c.getresponse()):
            got.append(e)
    except (ConnectionError, http.client.HTTPException) as ex:
        err = ex
    c.close()
    check(err is not None or "[DONE]" not in got, "reset stream is cut short")
    check(len(got) <= 2, "at most reset_after events before the reset (%d)" % len(got))
    sim.config(reset_rate=0)

    # hang: no answer
    sim.config(hang_rate=1.0)
    c = sim.conn(timeout=0.5)
    hung = False
    try:
        c.request("POST", "/v1/chat/completions", body=json.dumps(chat_body()),
                  headers={"Content-Type": "application/json"})
        c.getresponse()
    except (socket.timeout, TimeoutError):
        hung = True
    c.close()
    check(hung, "hang_rate 1.0 never answers")
    sim.config(hang_rate=0)
    s = sim.stats()
    expect_eq((s["hangs_injected"], s["resets_injected"]), (1, 1), "hang/reset counters")
    expect_eq(sim.json("POST", "/v1/chat/completions", chat_body())[0], 200, "answers after faults")
    st, _, r = sim.json("POST", "/sim/stats/reset")
    expect_eq((st, r["errors_injected"], r["requests"]["/v1/chat/completions"]), (200, 0, 0), "stats reset")
    sim.json("POST", "/v1/chat/completions", chat_body())
    expect_eq(sim.stats()["requests"]["/v1/chat/completions"], 1, "counting after reset")


def metrics_text(sim):
    st, h, data = sim.request("GET", "/metrics")
    expect_eq(st, 200, "metrics status")
    return data.decode()


def metric_value(text, name):
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_vllm(sim):
    m = metrics_text(sim)
    for name in ('vllm:num_requests_running{model_name="sim-model"}',
                 'vllm:num_requests_waiting{model_name="sim-model"}',
                 'vllm:kv_cache_usage_perc{model_name="sim-model"}',
                 'vllm:gpu_cache_usage_perc{model_name="sim-model"}',
                 'vllm:cache_config_info{block_size="16",num_gpu_blocks="'):
        check(name in m, "vllm metric %s" % name)
    expect_eq(metric_value(m, "vllm:num_requests_running"), 0.0, "nothing running when idle")


def test_prefix_cache(sim):
    """The same long prompt twice: the second hits the prefix cache (header,
    metrics, stats); a different prompt does not."""
    system = "You are a careful assistant. " * 40   # ~1200 bytes, ~18 blocks
    def body(user, **kw):
        return chat_body(messages=[{"role": "system", "content": system},
                                   {"role": "user", "content": user}], **kw)

    m0 = metrics_text(sim)
    q0 = metric_value(m0, "vllm:prefix_cache_queries_total")
    h0 = metric_value(m0, "vllm:prefix_cache_hits_total")
    check(q0 is not None and h0 is not None, "prefix cache metrics present")
    s0 = sim.stats()

    st, h, r = sim.json("POST", "/v1/chat/completions", body("first question"))
    expect_eq(st, 200, "prefix cache: first request")
    expect_eq(h.get("x-simllm-cached-tokens"), "0", "first request: nothing cached")
    m1 = metrics_text(sim)
    expect_eq(metric_value(m1, "vllm:prefix_cache_queries_total") - q0,
              r["usage"]["prompt_tokens"], "queries count the prompt tokens")
    expect_eq(metric_value(m1, "vllm:prefix_cache_hits_total"), h0, "no hit yet")

    st, h, r = sim.json("POST", "/v1/chat/completions", body("second question"))
    expect_eq(st, 200, "prefix cache: second request")
    cached = int(h.get("x-simllm-cached-tokens", "-1"))
    check(0 < cached < r["usage"]["prompt_tokens"], "shared prefix cached: %d of %d tokens"
          % (cached, r["usage"]["prompt_tokens"]))
    check(cached % 16 == 0, "cached tokens are whole blocks (%d)" % cached)
    m2 = metrics_text(sim)
    expect_eq(metric_value(m2, "vllm:prefix_cache_hits_total") - h0, cached, "hits metric grows by the hit")
    check(metric_value(m2, "vllm:prefix_cache_queries_total") > metric_value(m1, "vllm:prefix_cache_queries_total"),
          "queries metric grows")
    s2 = sim.stats()
    expect_eq(s2["prefix_cache_hit_tokens"] - s0["prefix_cache_hit_tokens"], cached, "stats hit tokens")
    check(s2["prefix_cache_blocks"] > 0, "stats: cache holds blocks")

    # streaming: the header goes out with the head
    c = sim.conn()
    c.request("POST", "/v1/chat/completions", body=json.dumps(body("third", stream=True)),
              headers={"Content-Type": "application/json"})
    resp = c.getresponse()
    expect_eq(resp.getheader("x-simllm-cached-tokens"), str(cached), "streaming: same hit in the header")
    resp.read()
    c.close()

    other = chat_body(messages=[{"role": "system", "content": "Entirely different instructions. " * 40},
                                {"role": "user", "content": "first question"}])
    st, h, _ = sim.json("POST", "/v1/chat/completions", other)
    expect_eq(h.get("x-simllm-cached-tokens"), "0", "a different prompt: nothing cached")
    # the same text under another model is another cache
    st, h, _ = sim.json("POST", "/v1/chat/completions", dict(body("first question"), model="other-model"))
    expect_eq(h.get("x-simllm-cached-tokens"), "0", "another model: nothing cached")
    # a short prompt (under one block) never hits
    sim.json("POST", "/v1/chat/completions", chat_body())
    expect_eq(sim.request("POST", "/v1/chat/completions", chat_body())[1].get("x-simllm-cached-tokens"), "0",
              "short prompt: no full block")
    st, h, _ = sim.json("POST", "/v1/completions", {"prompt": system + "tail", "max_tokens": 2})
    expect_eq(h.get("x-simllm-cached-tokens"), "0", "completions: first prompt")
    st, h, _ = sim.json("POST", "/v1/completions", {"prompt": system + "other tail", "max_tokens": 2})
    check(int(h.get("x-simllm-cached-tokens", "0")) > 0, "completions: shared prefix cached")

    # knobs
    cfg = sim.config(prefill_us_per_token=5, decode_us_per_token=7)
    expect_eq((cfg["prefill_us_per_token"], cfg["decode_us_per_token"]), (5.0, 7.0), "prefill/decode knobs")
    expect_eq(sim.json("POST", "/v1/chat/completions", body("with costs"))[0], 200, "answers with costs")
    cfg = sim.config(prefill_us_per_token=0, decode_us_per_token=0)
    expect_eq(sim.json("POST", "/sim/config", {"prefill_us_per_token": -1})[0], 400, "negative prefill refused")


def test_prefix_eviction(sim):
    """--kv-blocks 4: the LRU holds 4 blocks; a second long prompt evicts the first."""
    a = chat_body(messages=[{"role": "user", "content": "A" * 400}])
    b = chat_body(messages=[{"role": "user", "content": "B" * 400}])
    sim.json("POST", "/v1/chat/completions", a)
    cached = int(sim.request("POST", "/v1/chat/completions", a)[1]["x-simllm-cached-tokens"])
    expect_eq(cached, 4 * 16, "hit bounded by the cache capacity")
    expect_eq(sim.stats()["prefix_cache_blocks"], 4, "cache full")
    sim.json("POST", "/v1/chat/completions", b)
    expect_eq(sim.request("POST", "/v1/chat/completions", a)[1]["x-simllm-cached-tokens"], "0",
              "evicted by another prompt")


def test_no_prefix_cache(sim):
    a = chat_body(messages=[{"role": "user", "content": "A" * 400}])
    sim.json("POST", "/v1/chat/completions", a)
    expect_eq(sim.request("POST", "/v1/chat/completions", a)[1]["x-simllm-cached-tokens"], "0",
              "--kv-blocks 0: no prefix cache")


def test_queue_sglang(sim):
    """--max-running 1: a second sequence waits, and metrics say so."""
    m = metrics_text(sim)
    for name in ('sglang:num_running_reqs{model_name="sim-model"}',
                 'sglang:num_queue_reqs{model_name="sim-model"}',
                 'sglang:token_usage{model_name="sim-model"}',
                 'sglang:cache_hit_rate{model_name="sim-model"}'):
        check(name in m, "sglang metric %s" % name)
    check("vllm:" not in m, "no vllm names on sglang")
    st, _, r = sim.json("GET", "/v1/models")
    expect_eq(r["data"][0]["owned_by"], "sglang", "owned_by sglang")

    body = json.dumps(chat_body(stream=True, max_tokens=6)).encode()
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body)) + body
    socks = []
    for _ in range(2):
        s = socket.create_connection(("127.0.0.1", sim.port), timeout=10)
        s.sendall(req)
        socks.append(s)
    seen = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = metrics_text(sim)
        seen = (metric_value(m, "sglang:num_running_reqs"), metric_value(m, "sglang:num_queue_reqs"),
                metric_value(m, "sglang:token_usage"))
        if seen[:2] == (1.0, 1.0):
            break
        time.sleep(0.01)
    check(seen is not None and seen[:2] == (1.0, 1.0), "one running, one waiting: %r" % (seen,))
    check(seen is not None and seen[2] > 0, "token usage > 0 while running")
    for s in socks:
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        check(data.count(b"data: [DONE]") == 1, "queued stream completes")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        st = sim.stats()
        if st["running"] == 0:
            break
        time.sleep(0.01)
    expect_eq((st["running"], st["waiting"], st["kv_tokens"]), (0, 0, 0), "idle after the queue drains")


def test_prefill_lanes(sim):
    """--prefill-lanes 1: a short prompt sent after a long uncached one gets
    its first token after the long one's (its prefill waits for the lane)."""
    def send(content):
        body = json.dumps(chat_body(stream=True, max_tokens=2,
                                    messages=[{"role": "user", "content": content}])).encode()
        s = socket.create_connection(("127.0.0.1", sim.port), timeout=10)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return s

    order = []
    lock = threading.Lock()

    def first_token(name, s):
        data = b""
        while b"data: {" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        with lock:
            order.append(name)
        while s.recv(65536):
            pass
        s.close()

    long_sock = send("L" * 4000)   # 1000 tokens x 300 us: 300 ms of prefill
    deadline = time.monotonic() + 5
    # kv_tokens grows when the sequence starts, right before it reserves its
    # prefill lane ("running" counts it earlier, at admission)
    while sim.stats()["kv_tokens"] < 900 and time.monotonic() < deadline:
        time.sleep(0.005)
    # 200 tokens, 60 ms of prefill: alone it would finish long before the
    # long one; behind it, 60 ms after (a margin over client-thread jitter)
    short_sock = send("S" * 800)
    threads = [threading.Thread(target=first_token, args=(n, s))
               for n, s in (("long", long_sock), ("short", short_sock))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    expect_eq(order, ["long", "short"], "the short prompt's prefill waited for the long one's")


def test_not_ready():
    sim = Sim("--not-ready-ms", "600000")
    try:
        expect_eq(sim.request("GET", "/health")[0], 503, "--not-ready-ms: 503 at start")
        expect_eq(sim.json("POST", "/v1/chat/completions", chat_body())[0], 200, "completions while not ready")
    finally:
        sim.stop()


def main():
    global SIMLLM
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    SIMLLM = sys.argv[1]

    sim = Sim("--name", "alpha", "--model", "sim-model", "--model", "other-model", "--max-tokens", "7")
    try:
        for t in (test_nonstreaming, test_streaming, test_models_and_errors, test_http_framing,
                  test_faults, test_metrics_vllm, test_prefix_cache):
            print("--", t.__name__, flush=True)
            t(sim)
    finally:
        sim.stop()

    sim = Sim("--engine", "sglang", "--max-running", "1", "--itl-ms", "30", "--threads", "2")
    try:
        print("-- test_queue_sglang", flush=True)
        test_queue_sglang(sim)
    finally:
        sim.stop()
    for t, args in ((test_prefix_eviction, ("--kv-blocks", "4")), (test_no_prefix_cache, ("--kv-blocks", "0")),
                    (test_prefill_lanes, ("--prefill-lanes", "1", "--prefill-us-per-token", "300",
                                          "--threads", "2"))):
        sim = Sim(*args)
        try:
            print("--", t.__name__, flush=True)
            t(sim)
        finally:
            sim.stop()
    print("-- test_not_ready", flush=True)
    test_not_ready()

    if FAILED:
        print("%d check(s) failed" % len(FAILED))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
