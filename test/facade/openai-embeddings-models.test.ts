import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import OpenAI from "openai";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";
import { embeddingVector } from "../upstreams/openai-wire.ts";

let upstream: OpenAIFake;
let gw: TestGateway;
let client: OpenAI;

before(async () => {
  upstream = await startOpenAIFake();
  gw = await startTestGateway(
    configYaml(
      `  openai:\n    type: openai\n    baseUrl: ${upstream.url}/v1\n  local:\n    type: echo\n`,
      `  chat:\n    targets:\n      - { backend: openai, model: gpt-4o-mini, alias: fast }\n      - { backend: local, model: echo-1 }\n` +
        `    variants:\n      - name: long\n        when: { minInputTokens: 100000 }\n        targets:\n          - { backend: openai, model: gpt-4o }\n` +
        `  vectors:\n    operations: [embed]\n    targets:\n      - { backend: openai, model: text-embedding-3-small }\n`,
    ),
  );
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "any", maxRetries: 0 });
});
after(async () => {
  await gw.stop();
  await upstream.close();
});
beforeEach(() => {
  upstream.requests.length = 0;
});

test("embeddings: the SDK's default (base64, decoded by the SDK) and float give the same vectors", async () => {
  const input = ["alpha", "beta", "gamma"];
  const sent: unknown[] = [];
  const watching = new OpenAI({
    baseURL: `${gw.url}/v1`,
    apiKey: "any",
    fetch: (url, init) => {
      sent.push(JSON.parse(String(init?.body)));
      return fetch(url, init);
    },
  });
  const decoded = await watching.embeddings.create({ model: "switchyard/vectors", input, dimensions: 6 });
  assert.equal((sent[0] as { encoding_format: string }).encoding_format, "base64");
  const floats = await client.embeddings.create({
    model: "switchyard/vectors",
    input,
    dimensions: 6,
    encoding_format: "float",
  });
  for (const response of [decoded, floats]) {
    assert.equal(response.object, "list");
    assert.equal(response.model, "text-embedding-3-small");
    assert.deepEqual(
      response.data.map((d) => [d.object, d.index]),
      input.map((_, i) => ["embedding", i]),
    );
    assert.equal(response.usage.prompt_tokens, 3);
    assert.equal(response.usage.total_tokens, 3);
  }
  assert.deepEqual(
    decoded.data.map((d) => d.embedding),
    floats.data.map((d) => d.embedding),
  );
  input.forEach((text, i) => {
    assert.deepEqual(floats.data[i]!.embedding, embeddingVector(text, 6));
  });
});

test("embeddings: a single string input, and the raw base64 is little-endian float32", async () => {
  const res = await fetch(`${gw.url}/v1/embeddings`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "text-embedding-3-small", input: "solo", encoding_format: "base64" }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-switchyard-route"), "vectors");
  assert.match(res.headers.get("server-timing") ?? "", /^gateway;dur=/);
  const body = (await res.json()) as { data: { embedding: string }[] };
  const bytes = Buffer.from(body.data[0]!.embedding, "base64");
  const values = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
  assert.deepEqual(values, embeddingVector("solo", 8));
});

test("models.list(): switchyard/<workload> per workload, then every alias and model id", async () => {
  const ids = [];
  for await (const model of client.models.list()) {
    assert.equal(model.object, "model");
    assert.equal(model.owned_by, "switchyard");
    assert.equal(typeof model.created, "number");
    ids.push(model.id);
  }
  assert.deepEqual(ids, [
    "switchyard/chat",
    "fast",
    "gpt-4o-mini",
    "echo-1",
    "gpt-4o",
    "switchyard/vectors",
    "text-embedding-3-small",
  ]);
});

test("models.retrieve(): listed names and switchyard/<workload>/<model>; others are NotFoundError", async () => {
  for (const id of ["switchyard/chat", "fast", "switchyard/chat/echo-1"]) {
    const model = await client.models.retrieve(id);
    assert.equal(model.id, id);
  }
  await assert.rejects(client.models.retrieve("switchyard/chat/nope"), OpenAI.NotFoundError);
  await assert.rejects(client.models.retrieve("gpt-5"), OpenAI.NotFoundError);
  const lines = gw.logs.filter((l) => l.msg === "request" && l.operation === "list_models");
  assert.ok(lines.length >= 5);
  assert.ok(lines.every((l) => l.protocol === "openai"));
});

test("a model only in a variant resolves to its workload; the variant decides whether it serves", async () => {
  // gpt-4o is a target of the "long" variant only: short prompts do not pick that variant.
  await assert.rejects(
    client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }),
    (error: unknown) => error instanceof OpenAI.NotFoundError && /workload "chat"/.test(error.message),
  );
  // The echo backend needs no upstream: the route picks it when asked by model.
  const done = await client.chat.completions.create({
    model: "switchyard/chat/echo-1",
    messages: [{ role: "user", content: "echo me" }],
  });
  assert.equal(done.choices[0]!.finish_reason, "stop");
  assert.equal(upstream.requests.length, 0);
});
