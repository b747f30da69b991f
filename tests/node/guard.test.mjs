// The OpenAI Node SDK against switchyard with API keys, a rate limit and a
// PII policy (run_node.py starts it and passes SWITCHYARD_GUARD_URL): the
// SDK's own Bearer key, X-API-Key as a default header, the SDK's error
// classes for 401 / 403 / 429, and a blocked prompt read as a normal
// completion (streamed and not), as vSR clients read it.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";

const baseURL = process.env.SWITCHYARD_GUARD_URL + "/v1";
const LLAMA = "meta-llama/Llama-3.2-1B-Instruct";
const PHI = "/models/Phi-tiny-MoE-instruct";
const KEY = "sk-node-sdk-key-1";
const LIMITED = "sk-node-limited-2";
const bearer = new OpenAI({ baseURL, apiKey: KEY, maxRetries: 0 });
const SSN = "My SSN is 123-45-6789, please file my taxes.";
const hello = [{ role: "user", content: "What is machine learning?" }];

test("no key: AuthenticationError (401, invalid_api_key)", async () => {
  const c = new OpenAI({ baseURL, apiKey: "sk-wrong-key-000", maxRetries: 0 });
  await assert.rejects(c.chat.completions.create({ model: LLAMA, messages: hello }), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError);
    assert.equal(e.status, 401);
    assert.equal(e.code, "invalid_api_key");
    return true;
  });
});

test("Bearer key from the SDK's apiKey", async () => {
  const r = await bearer.chat.completions.create({ model: LLAMA, messages: hello, max_tokens: 4 });
  assert.equal(r.object, "chat.completion");
});

test("X-API-Key header works too", async () => {
  const c = new OpenAI({ baseURL, apiKey: "unused-by-switchyard", maxRetries: 0,
    defaultHeaders: { "X-API-Key": KEY, Authorization: null } });
  const r = await c.chat.completions.create({ model: LLAMA, messages: hello, max_tokens: 4 });
  assert.equal(r.object, "chat.completion");
});

test("a model the key may not use: PermissionDeniedError (403)", async () => {
  const c = new OpenAI({ baseURL, apiKey: LIMITED, maxRetries: 0 });
  await assert.rejects(c.chat.completions.create({ model: PHI, messages: hello }), (e) => {
    assert.ok(e instanceof OpenAI.PermissionDeniedError);
    assert.equal(e.code, "model_not_allowed");
    return true;
  });
  const ids = [];
  for await (const m of c.models.list()) ids.push(m.id);
  assert.deepEqual([...new Set(ids)], [LLAMA]);
});

test("over the key's limit: RateLimitError (429) with the OpenAI headers", async () => {
  const c = new OpenAI({ baseURL, apiKey: LIMITED, maxRetries: 0 });
  let last;
  for (let i = 0; i < 3; i++) {
    last = await c.chat.completions.create({ model: LLAMA, messages: hello, max_tokens: 1 }).withResponse();
  }
  assert.equal(last.response.headers.get("x-ratelimit-remaining-requests"), "0");
  await assert.rejects(c.chat.completions.create({ model: LLAMA, messages: hello }), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError);
    assert.equal(e.code, "rate_limit_exceeded");
    assert.ok(Number(e.headers.get("retry-after")) >= 1);
    return true;
  });
});

test("a blocked prompt is a completion saying why, with the vSR headers", async () => {
  const { data, response } = await bearer.chat.completions.create({ model: LLAMA, messages: [
    { role: "user", content: SSN }] }).withResponse();
  assert.equal(response.headers.get("x-vsr-pii-violation"), "true");
  assert.match(response.headers.get("x-vsr-matched-pii"), /US_SSN/);
  assert.equal(data.object, "chat.completion");
  assert.match(data.choices[0].message.content, /US_SSN/);
});

test("a blocked prompt, streamed", async () => {
  const stream = await bearer.chat.completions.create({ model: LLAMA, stream: true, messages: [
    { role: "user", content: SSN }] });
  let text = "", finish = null;
  for await (const ch of stream) {
    text += ch.choices[0]?.delta?.content ?? "";
    finish = ch.choices[0]?.finish_reason ?? finish;
  }
  assert.match(text, /US_SSN/);
  assert.equal(finish, "stop");
});
