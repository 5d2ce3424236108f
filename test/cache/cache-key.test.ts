import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { cacheKeyOf, escapeComponent } from "../../src/cache/cache-key.ts";
import type { GenerationRequest } from "../../src/pipeline/pipeline.ts";

const TEAM = { team: "ml", keyId: "k1", by: "team" } as const;

function request(): GenerationRequest {
  return {
    requestedModel: "gpt-4o",
    messages: [
      { role: "system", content: "be brief" },
      {
        role: "user",
        content: "what is this?",
        parts: [
          { type: "text", text: "what is this?" },
          { type: "image", source: { data: new Uint8Array([1, 2, 3]), mediaType: "image/png" } },
          { type: "image", source: { url: "https://example.com/a.png" }, detail: "low" },
          { type: "audio", data: new Uint8Array([9, 9]), format: "wav" },
          {
            type: "document",
            source: { data: new Uint8Array([7]), mediaType: "application/pdf" },
            title: "t",
          },
          { type: "reasoning", text: "hmm", signature: "sig", provider: "anthropic" },
        ],
      },
      {
        role: "assistant",
        content: "",
        toolCalls: [{ id: "c1", name: "lookup", arguments: '{"q":"x"}' }],
      },
      { role: "tool", content: "42", toolCallId: "c1" },
    ],
    tools: [
      {
        name: "lookup",
        description: "looks up",
        parameters: { type: "object", properties: { q: { type: "string" }, n: { type: "integer" } } },
      },
    ],
    toolChoice: { mode: "auto" },
    sampling: { temperature: 0.2, topP: 0.9, maxOutputTokens: 100, stop: ["END"], seed: 7 },
    responseFormat: {
      type: "json_schema",
      name: "r",
      schema: { type: "object", required: ["a"] },
      strict: true,
    },
    reasoning: { effort: "low", includeText: false },
    logprobs: { top: 2 },
    serviceTier: "flex",
    parallelToolCalls: true,
    metadata: { trace: "1" },
  };
}

const key = (r: GenerationRequest, scope: Parameters<typeof cacheKeyOf>[0] = TEAM, workload = "chat") =>
  cacheKeyOf(scope, workload, r);

test("key: the format is sy:cache:v1:<scope>:<workload>:<sha256 hex>", () => {
  assert.match(key(request()), /^sy:cache:v1:t:ml:chat:[0-9a-f]{64}$/);
});

test("key: identical requests (separately built) get the same key", () => {
  assert.equal(key(request()), key(request()));
});

/** Each mutation changes something the answer depends on. */
const answerRelevant: [string, (r: GenerationRequest) => void][] = [
  ["model", (r) => (r.requestedModel = "gpt-4o-mini")],
  ["message text", (r) => (r.messages[0]!.content = "be long")],
  ["message role", (r) => (r.messages[0]!.role = "user")],
  ["message count", (r) => r.messages.pop()],
  ["message order", (r) => r.messages.reverse()],
  ["part text", (r) => (r.messages[1]!.parts![0] = { type: "text", text: "what is that?" })],
  ["image bytes", (r) => ((r.messages[1]!.parts![1] as { source: { data: Uint8Array } }).source.data[0] = 5)],
  ["image url", (r) => ((r.messages[1]!.parts![2] as { source: { url: string } }).source.url += "?v=2")],
  ["image detail", (r) => ((r.messages[1]!.parts![2] as { detail: string }).detail = "high")],
  ["audio bytes", (r) => ((r.messages[1]!.parts![3] as { data: Uint8Array }).data = new Uint8Array([9]))],
  ["audio format", (r) => ((r.messages[1]!.parts![3] as { format: string }).format = "mp3")],
  [
    "document bytes",
    (r) => ((r.messages[1]!.parts![4] as { source: { data: Uint8Array } }).source.data[0] = 8),
  ],
  ["reasoning text", (r) => ((r.messages[1]!.parts![5] as { text: string }).text = "hmmm")],
  ["reasoning signature", (r) => ((r.messages[1]!.parts![5] as { signature: string }).signature = "sig2")],
  ["part order", (r) => r.messages[1]!.parts!.reverse()],
  ["tool call arguments", (r) => (r.messages[2]!.toolCalls![0]!.arguments = '{"q":"y"}')],
  ["tool call id", (r) => (r.messages[2]!.toolCalls![0]!.id = "c2")],
  ["tool result id", (r) => (r.messages[3]!.toolCallId = "c2")],
  ["message name", (r) => (r.messages[3]!.name = "lookup")],
  ["tool name", (r) => (r.tools[0]!.name = "find")],
  ["tool description", (r) => (r.tools[0]!.description = "finds")],
  ["tool schema", (r) => (r.tools[0]!.parameters = { type: "object" })],
  ["tool strict", (r) => (r.tools[0]!.strict = true)],
  ["no tools", (r) => (r.tools = [])],
  ["tool choice", (r) => (r.toolChoice = { function: "lookup" })],
  ["no tool choice", (r) => delete r.toolChoice],
  ["temperature", (r) => (r.sampling.temperature = 0.3)],
  ["top_p", (r) => (r.sampling.topP = 1)],
  ["max tokens", (r) => (r.sampling.maxOutputTokens = 101)],
  ["stop", (r) => (r.sampling.stop = ["END", "STOP"])],
  ["seed", (r) => (r.sampling.seed = 8)],
  ["no seed", (r) => delete r.sampling.seed],
  ["response format", (r) => (r.responseFormat = { type: "json_object" })],
  [
    "response schema",
    (r) => (r.responseFormat = { type: "json_schema", name: "r", schema: { type: "object" }, strict: true }),
  ],
  ["reasoning effort", (r) => (r.reasoning = { effort: "high", includeText: false })],
  ["reasoning budget", (r) => (r.reasoning = { effort: "low", budgetTokens: 1024, includeText: false })],
  ["reasoning text shown", (r) => (r.reasoning = { effort: "low", includeText: true })],
  ["logprobs", (r) => (r.logprobs = { top: 3 })],
  ["no logprobs", (r) => delete r.logprobs],
  ["service tier", (r) => (r.serviceTier = "priority")],
  ["parallel tool calls", (r) => (r.parallelToolCalls = false)],
];

for (const [name, mutate] of answerRelevant) {
  test(`key: a change of ${name} changes the key`, () => {
    const r = request();
    mutate(r);
    assert.notEqual(key(r), key(request()));
  });
}

const perCall: [string, (r: GenerationRequest) => void][] = [
  ["metadata", (r) => (r.metadata = { trace: "2", other: "x" })],
  ["endUserId", (r) => (r.endUserId = "user-9")],
  ["providerMetadata", (r) => (r.providerMetadata = { a: "b" })],
  ["promptCacheKey", (r) => (r.promptCacheKey = "pk")],
  ["message cache breakpoint", (r) => (r.messages[0]!.cache = { ttl: "1h" })],
  [
    "part cache breakpoint",
    (r) => (r.messages[1]!.parts![0] = { type: "text", text: "what is this?", cache: {} }),
  ],
  ["tool cache breakpoint", (r) => (r.tools[0]!.cache = { ttl: "5m" })],
  ["an undefined optional", (r) => Object.assign(r.sampling, { temperature: 0.2, extra: undefined })],
];

for (const [name, mutate] of perCall) {
  test(`key: a change of ${name} keeps the key`, () => {
    const r = request();
    mutate(r);
    assert.equal(key(r), key(request()));
  });
}

test("key: a schema property named `cache` does count (only breakpoints are skipped)", () => {
  const r = request();
  r.tools[0]!.parameters = { type: "object", properties: { cache: { type: "string" } } };
  const s = request();
  s.tools[0]!.parameters = { type: "object", properties: {} };
  assert.notEqual(key(r), key(s));
});

test("key: object key order in tool and response schemas does not matter", () => {
  const r = request();
  r.tools[0]!.parameters = { properties: { n: { type: "integer" }, q: { type: "string" } }, type: "object" };
  r.responseFormat = {
    strict: true,
    schema: { required: ["a"], type: "object" },
    name: "r",
    type: "json_schema",
  };
  assert.equal(key(r), key(request()));
  // …but array order does.
  r.tools[0]!.parameters = { type: "object", required: ["n", "q"] };
  const s = request();
  s.tools[0]!.parameters = { type: "object", required: ["q", "n"] };
  assert.notEqual(key(r), key(s));
});

test("key: values of different types never collide", () => {
  const withStop = (stop: unknown) => {
    const r = request();
    (r.sampling as Record<string, unknown>).stop = stop;
    return key(r);
  };
  const keys = [["1"], [1], ["1", ""], [""], [], [[]], [null], [true], ["true"], [{}]].map(withStop);
  assert.equal(new Set(keys).size, keys.length);
});

test("key: image bytes and an image URL with the same text differ; bytes are not their base64", () => {
  const a = request();
  const b = request();
  a.messages[1]!.parts![1] = { type: "image", source: { data: Buffer.from("AQID"), mediaType: "image/png" } };
  b.messages[1]!.parts![1] = {
    type: "image",
    source: { data: new Uint8Array([1, 2, 3]), mediaType: "image/png" },
  };
  assert.notEqual(key(a), key(b));
});

test("key: two teams with identical requests get different keys", () => {
  const r = request();
  assert.notEqual(
    key(r, { team: "a", keyId: "k1", by: "team" }),
    key(r, { team: "b", keyId: "k1", by: "team" }),
  );
  // By team, two keys of one team share; by key they do not.
  assert.equal(
    key(r, { team: "a", keyId: "k1", by: "team" }),
    key(r, { team: "a", keyId: "k2", by: "team" }),
  );
  assert.notEqual(
    key(r, { team: "a", keyId: "k1", by: "key" }),
    key(r, { team: "a", keyId: "k2", by: "key" }),
  );
});

test("key: team scope vs key scope", () => {
  const r = request();
  assert.match(key(r, { team: "x", keyId: "k1", by: "key" }), /^sy:cache:v1:k:k1:chat:/);
  // A key without a team falls back to its own scope…
  assert.match(key(r, { keyId: "k1", by: "team" }), /^sy:cache:v1:k:k1:chat:/);
  assert.match(key(r, { team: "", keyId: "k1", by: "team" }), /^sy:cache:v1:k:k1:chat:/);
  // …which never equals the team of the same name.
  assert.notEqual(key(r, { team: "k1", by: "team" }), key(r, { keyId: "k1", by: "key" }));
  assert.throws(() => key(r, { by: "team" }), TypeError);
  assert.throws(() => key(r, { team: "x", by: "key" }), TypeError);
});

test("key: tricky separators cannot make two (scope, workload) pairs share a prefix", () => {
  const r = request();
  const prefix = (team: string, workload: string) =>
    key(r, { team, keyId: "k", by: "team" }, workload).slice(0, -64);
  assert.notEqual(prefix("a:b", "c"), prefix("a", "b:c"));
  assert.notEqual(prefix("a%003ab", "c"), prefix("a:b", "c"));
  assert.notEqual(prefix("\ud800", "c"), prefix("\ufffd", "c"));
  assert.equal(escapeComponent("team-a_1.x"), "team-a_1.x");
  assert.equal(escapeComponent("a:b"), "a%003ab");
});

test("key: escaping is injective and never yields `:` (property)", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), (a, b) => {
      const ea = escapeComponent(a);
      assert.ok(!ea.includes(":"));
      if (a !== b) assert.notEqual(ea, escapeComponent(b));
    }),
  );
  fc.assert(
    fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (t1, w1, t2, w2) => {
      fc.pre(t1 !== "" && t2 !== "" && (t1 !== t2 || w1 !== w2));
      const r = request();
      assert.notEqual(
        key(r, { team: t1, by: "team" }, w1).slice(0, -64),
        key(r, { team: t2, by: "team" }, w2).slice(0, -64),
      );
    }),
  );
});
