import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { AdapterEvent, GenerateOutput } from "../../src/adapters/adapter.ts";
import {
  type CachedResponse,
  decodeEntry,
  encodeEntry,
  entryBytes,
  entryFromOutput,
  outputFromEvents,
} from "../../src/cache/cache-entry.ts";

const count = fc.nat({ max: 1_000_000 });
// JSON has no -0 (it writes 0), and a logprob of -0 is one of 0.
const finite = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 0 }).map((x) => x + 0);
const usage = fc.record(
  {
    inputTokens: count,
    outputTokens: count,
    cachedInputTokens: count,
    reasoningTokens: count,
    cacheWriteTokens: count,
    cacheWrite1hTokens: count,
    audioInputTokens: count,
    imageInputTokens: count,
  },
  { noNullPrototype: true, requiredKeys: ["inputTokens", "outputTokens", "cachedInputTokens"] },
);
const logprob = fc.record(
  {
    token: fc.string(),
    logprob: finite,
    bytes: fc.array(fc.nat({ max: 255 }), { maxLength: 4 }),
    topLogprobs: fc.array(fc.record({ token: fc.string(), logprob: finite }, { noNullPrototype: true }), {
      maxLength: 3,
    }),
  },
  { noNullPrototype: true, requiredKeys: ["token", "logprob", "topLogprobs"] },
);
const reasoning = fc.record(
  {
    text: fc.string(),
    signature: fc.string(),
    encryptedContent: fc.base64String(),
    id: fc.string(),
    provider: fc.constantFrom("anthropic", "openai", "gemini"),
    redacted: fc.boolean(),
  },
  { noNullPrototype: true, requiredKeys: ["text", "provider"] },
);
const output: fc.Arbitrary<GenerateOutput> = fc.record(
  {
    text: fc.string({ unit: "binary" }),
    toolCalls: fc.array(
      fc.record({ id: fc.string(), name: fc.string(), arguments: fc.json() }, { noNullPrototype: true }),
      { maxLength: 4 },
    ),
    finishReason: fc.constantFrom("stop", "length", "tool_calls", "content_filter", "other"),
    usage,
    model: fc.string(),
    // An empty list comes back absent (a stream cannot tell them apart), so generate at least one.
    reasoning: fc.array(reasoning, { minLength: 1, maxLength: 3 }),
    logprobs: fc.array(logprob, { maxLength: 4 }),
    serviceTier: fc.constantFrom("auto", "default", "flex", "priority"),
  },
  { noNullPrototype: true, requiredKeys: ["text", "toolCalls", "finishReason", "model"] },
);

test("entry: output → events → output is the identity (property)", () => {
  fc.assert(
    fc.property(output, (o) => {
      assert.deepEqual(outputFromEvents(entryFromOutput(o)), o);
    }),
  );
});

test("entry: encode → decode is the identity, for any output's events (property)", () => {
  fc.assert(
    fc.property(output, fc.nat(), (o, storedAt) => {
      const entry: CachedResponse = { events: entryFromOutput(o), storedAt };
      const encoded = encodeEntry(entry);
      assert.deepEqual(decodeEntry(encoded), entry);
      assert.equal(entryBytes(entry), encoded.byteLength);
    }),
  );
});

test("entry: a unary output becomes the events a stream of it has, in stream order", () => {
  const events = entryFromOutput({
    text: "hi",
    toolCalls: [{ id: "c1", name: "f", arguments: "{}" }],
    finishReason: "tool_calls",
    usage: { inputTokens: 3, outputTokens: 2, cachedInputTokens: 0 },
    model: "m",
    reasoning: [{ text: "think", provider: "anthropic", signature: "s" }],
    serviceTier: "flex",
  });
  assert.deepEqual(events, [
    { type: "reasoning", index: 0, text: "think", provider: "anthropic", signature: "s" },
    { type: "text", text: "hi" },
    { type: "tool_call", index: 0, id: "c1", name: "f", argumentsDelta: "{}" },
    { type: "usage", usage: { inputTokens: 3, outputTokens: 2, cachedInputTokens: 0 } },
    { type: "finish", reason: "tool_calls", model: "m", serviceTier: "flex" },
  ]);
});

test("entry: a real stream's deltas assemble into one output", () => {
  const events: AdapterEvent[] = [
    { type: "reasoning", index: 0, provider: "anthropic", text: "a" },
    { type: "reasoning", index: 0, provider: "anthropic", text: "b", signature: "sig" },
    { type: "text", text: "Hel", logprobs: [{ token: "Hel", logprob: -0.1, topLogprobs: [] }] },
    { type: "text", text: "lo", logprobs: [{ token: "lo", logprob: -0.2, topLogprobs: [] }] },
    { type: "tool_call", index: 1, id: "c2", name: "g", argumentsDelta: "" },
    { type: "tool_call", index: 0, id: "c1", name: "f", argumentsDelta: '{"a"' },
    { type: "tool_call", index: 1, argumentsDelta: "{}" },
    { type: "tool_call", index: 0, argumentsDelta: ":1}" },
    { type: "usage", usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0 } },
    { type: "usage", usage: { inputTokens: 5, outputTokens: 9, cachedInputTokens: 2 } },
    { type: "finish", reason: "tool_calls", model: "served" },
  ];
  assert.deepEqual(outputFromEvents(events, "asked"), {
    text: "Hello",
    toolCalls: [
      { id: "c1", name: "f", arguments: '{"a":1}' },
      { id: "c2", name: "g", arguments: "{}" },
    ],
    finishReason: "tool_calls",
    usage: { inputTokens: 5, outputTokens: 9, cachedInputTokens: 2 },
    model: "served",
    reasoning: [{ text: "ab", provider: "anthropic", signature: "sig" }],
    logprobs: [
      { token: "Hel", logprob: -0.1, topLogprobs: [] },
      { token: "lo", logprob: -0.2, topLogprobs: [] },
    ],
  });
  // No finish event: the fallback model and "other".
  assert.deepEqual(outputFromEvents([{ type: "text", text: "x" }], "asked"), {
    text: "x",
    toolCalls: [],
    finishReason: "other",
    model: "asked",
  });
});

test("entry: decoding garbage returns undefined, never throws", () => {
  const good = encodeEntry({ events: [{ type: "finish", reason: "stop" }], storedAt: 1 });
  const bad: (string | Uint8Array)[] = [
    "",
    "not json",
    "null",
    "[]",
    "42",
    '"str"',
    "{}",
    '{"v":2,"storedAt":1,"events":[]}',
    '{"v":1,"storedAt":"1","events":[]}',
    '{"v":1,"storedAt":1,"events":{}}',
    '{"v":1,"storedAt":1,"events":[null]}',
    '{"v":1,"storedAt":1,"events":[{"type":"nope"}]}',
    '{"v":1,"storedAt":1,"events":[{"type":"text"}]}',
    '{"v":1,"storedAt":1,"events":[{"type":"text","text":1}]}',
    '{"v":1,"storedAt":1,"events":[{"type":"text","text":"a","logprobs":[{"token":"a"}]}]}',
    '{"v":1,"storedAt":1,"events":[{"type":"tool_call","index":-1,"argumentsDelta":""}]}',
    '{"v":1,"storedAt":1,"events":[{"type":"tool_call","index":0.5,"argumentsDelta":""}]}',
    '{"v":1,"storedAt":1,"events":[{"type":"tool_call","index":0,"argumentsDelta":"","id":3}]}',
    '{"v":1,"storedAt":1,"events":[{"type":"reasoning","index":0}]}',
    '{"v":1,"storedAt":1,"events":[{"type":"reasoning","index":0,"provider":"x","redacted":"yes"}]}',
    '{"v":1,"storedAt":1,"events":[{"type":"usage","usage":{"inputTokens":1}}]}',
    '{"v":1,"storedAt":1,"events":[{"type":"usage","usage":{"inputTokens":1,"outputTokens":1,"cachedInputTokens":-1}}]}',
    '{"v":1,"storedAt":1,"events":[{"type":"finish","reason":"done"}]}',
    '{"v":1,"storedAt":1,"events":[{"type":"finish","reason":"stop","serviceTier":"gold"}]}',
    good.subarray(0, good.length - 1),
    new Uint8Array([0xff, 0xfe, 0x00]),
  ];
  for (const b of bad) assert.equal(decodeEntry(b), undefined, String(b));
  assert.deepEqual(decodeEntry(good), { events: [{ type: "finish", reason: "stop" }], storedAt: 1 });
});

test("entry: decoding random bytes and random JSON never throws (property)", () => {
  fc.assert(fc.property(fc.uint8Array(), (b) => void decodeEntry(b)));
  fc.assert(
    fc.property(fc.jsonValue(), (j) => {
      const decoded = decodeEntry(JSON.stringify({ v: 1, storedAt: 0, events: [j] }));
      if (decoded) assert.equal(decoded.events.length, 1);
    }),
  );
});

test("entry: decode keeps only known fields", () => {
  const decoded = decodeEntry(
    '{"v":1,"storedAt":1,"events":[{"type":"text","text":"a","extra":"x","__proto__":{"polluted":true}}]}',
  );
  assert.deepEqual(decoded, { events: [{ type: "text", text: "a" }], storedAt: 1 });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
