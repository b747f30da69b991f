// The official OpenAI Node SDK against switchyard: chat, streaming, models,
// owned_by routing in its three forms, model "auto", errors. run_node.py starts the
// servers and passes SWITCHYARD_URL.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";

const baseURL = process.env.SWITCHYARD_URL + "/v1";
const client = new OpenAI({ baseURL, apiKey: "sk-test", maxRetries: 0 });
const LLAMA = "meta-llama/Llama-3.2-1B-Instruct";
const PHI = "/models/Phi-tiny-MoE-instruct";
const messages = [{ role: "user", content: "What is machine learning?" }];

async function replica(promise) {
  const { data, response } = await promise.withResponse();
  return { data, replica: response.headers.get("x-simllm-replica"), headers: response.headers };
}

test("models.list shows every model once per engine", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(`${m.id}|${m.owned_by}`);
  assert.deepEqual(ids.sort(), [`${LLAMA}|sglang`, `${LLAMA}|vllm`, `${PHI}|vllm`].sort());
});

test("models.retrieve with a slash in the id", async () => {
  const m = await client.models.retrieve(LLAMA);
  assert.equal(m.id, LLAMA);
});

test("chat completion, default engine is vLLM", async () => {
  const r = await replica(client.chat.completions.create({ model: LLAMA, messages, max_tokens: 8 }));
  assert.equal(r.data.object, "chat.completion");
  assert.ok(r.data.choices[0].message.content.length > 0);
  assert.equal(r.replica, "llama-vllm");
  assert.equal(r.headers.get("x-vsr-selected-model"), LLAMA);
});

test("owned_by in the body", async () => {
  const r = await replica(client.chat.completions.create({ model: LLAMA, messages, owned_by: "sglang" }));
  assert.equal(r.replica, "llama-sglang");
  assert.ok(!r.headers.get("x-simllm-body-keys").split(",").includes("owned_by"));
});

test("owned_by in the x-owned-by header", async () => {
  const r = await replica(client.chat.completions.create({ model: LLAMA, messages },
    { headers: { "x-owned-by": "sglang" } }));
  assert.equal(r.replica, "llama-sglang");
});

test("owned_by in the query string", async () => {
  const r = await replica(client.chat.completions.create({ model: LLAMA, messages },
    { query: { owned_by: "sglang" } }));
  assert.equal(r.replica, "llama-sglang");
});

// the replica behind PHI (simllm): its /sim/stats says how many requests it
// is generating right now
async function phiRunning() {
  const r = await fetch(process.env.SIMLLM_PHI_URL + "/sim/stats");
  return (await r.json()).running;
}

test("streaming: chunks arrive before the stream ends", async () => {
  const stream = await client.chat.completions.create({ model: PHI, messages, stream: true, max_tokens: 10,
    stream_options: { include_usage: true } });
  let n = 0, text = "", usage = null, runningAtFirst = null;
  for await (const chunk of stream) {
    // the first chunk is in the client's hands while the upstream is still
    // generating the rest (it paces tokens 100 ms apart): an order of
    // events, not a latency bound
    if (runningAtFirst === null) runningAtFirst = await phiRunning();
    n++;
    if (chunk.choices.length) text += chunk.choices[0].delta.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(n >= 10, `got ${n} chunks`);
  assert.ok(text.length > 0);
  assert.ok(usage && usage.completion_tokens > 0, "usage chunk forwarded");
  assert.ok(runningAtFirst >= 1, `the first chunk arrived while the upstream was still generating (running: ${runningAtFirst})`);
});

test("completions and embeddings", async () => {
  const c = await client.completions.create({ model: PHI, prompt: "Hello", max_tokens: 3 });
  assert.equal(c.object, "text_completion");
  const e = await client.embeddings.create({ model: LLAMA, input: "hello" });
  assert.ok(e.data[0].embedding.length > 0);
});

test("unknown model is a NotFoundError with model_not_found", async () => {
  await assert.rejects(client.chat.completions.create({ model: "nope", messages }), (err) => {
    assert.ok(err instanceof OpenAI.NotFoundError);
    assert.equal(err.status, 404);
    assert.equal(err.code, "model_not_found");
    return true;
  });
});

test("bad request is a BadRequestError", async () => {
  await assert.rejects(client.chat.completions.create({ messages }), (err) => {
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.status, 400);
    return true;
  });
});

test("model auto: guide 000's math example goes to the math model", async () => {
  const r = await replica(client.chat.completions.create({ model: "auto",
    messages: [{ role: "user", content: "2+2 is  " }], max_tokens: 8 }));
  assert.equal(r.data.object, "chat.completion");
  assert.equal(r.headers.get("x-switchyard-classifier"), "ok");
  assert.equal(r.headers.get("x-vsr-selected-category"), "math");
  assert.equal(r.headers.get("x-vsr-selected-model"), PHI);
  assert.equal(r.replica, "phi-vllm");
});

test("model auto: streaming through the classifier", async () => {
  // guide 000's computer-science example, streamed: the classifier's verdict
  // picks the model (computer science -> Llama on vLLM), not default_model
  // (Llama too, so the verdict headers are what tells them apart)
  const { data: stream, response } = await client.chat.completions.create({ model: "auto", stream: true,
    max_tokens: 5, messages: [{ role: "user", content: "Linux is said to be an open source kernel because " }] })
    .withResponse();
  assert.equal(response.headers.get("x-switchyard-classifier"), "ok");
  assert.equal(response.headers.get("x-vsr-selected-category"), "computer science");
  assert.equal(response.headers.get("x-vsr-selected-model"), LLAMA);
  assert.equal(response.headers.get("x-simllm-replica"), "llama-vllm");
  let n = 0, done = false;
  for await (const chunk of stream) {
    if (chunk.choices.length) n++;
    if (chunk.choices[0]?.finish_reason) done = true;
  }
  assert.ok(n >= 1, "stream chunks arrived");
  assert.ok(done, "the stream ran to its finish_reason");
});
