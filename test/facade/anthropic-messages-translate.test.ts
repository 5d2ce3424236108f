import assert from "node:assert/strict";
import { test } from "node:test";
import { parseMessagesBody } from "../../src/facade/anthropic/messages-request.ts";
import { reasoningOf, thinkingBlockOf } from "../../src/facade/anthropic/reasoning-signature.ts";
import { StreamEventBuilder } from "../../src/facade/anthropic/stream-events.ts";
import { toGeneration } from "../../src/facade/anthropic/to-generation.ts";

const target = { workload: "chat", requestedModel: "" };
const translate = (body: unknown) => toGeneration(parseMessagesBody(body), target);

test("a user turn with tool results becomes tool messages then a user message, in order", () => {
  const req = translate({
    model: "m",
    max_tokens: 10,
    cache_control: { type: "ephemeral", ttl: "1h" },
    messages: [
      { role: "user", content: "weather?" },
      {
        role: "assistant",
        content: [
          { type: "redacted_thinking", data: "opaque-anthropic-data" },
          { type: "text", text: "Checking." },
          { type: "tool_use", id: "toolu_1", name: "get", input: { city: "Oslo" } },
          { type: "tool_use", id: "toolu_2", name: "get", input: {}, cache_control: { type: "ephemeral" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_1", content: "sunny" },
          {
            type: "tool_result",
            tool_use_id: "toolu_2",
            is_error: true,
            content: [{ type: "text", text: "timeout" }],
          },
          { type: "text", text: "and now?" },
        ],
      },
    ],
  });
  const m = req.messages;
  assert.deepEqual(
    m.map((x) => [x.role, x.content, x.toolCallId]),
    [
      ["user", "weather?", undefined],
      ["assistant", "Checking.", undefined],
      ["tool", "sunny", "toolu_1"],
      ["tool", "(tool error) timeout", "toolu_2"],
      ["user", "and now?", undefined],
    ],
  );
  assert.deepEqual(m[1]!.toolCalls, [
    { id: "toolu_1", name: "get", arguments: '{"city":"Oslo"}' },
    { id: "toolu_2", name: "get", arguments: "{}" },
  ]);
  assert.deepEqual(m[1]!.parts?.[0], {
    type: "reasoning",
    text: "",
    provider: "anthropic",
    encryptedContent: "opaque-anthropic-data",
    redacted: true,
  });
  assert.deepEqual(m[1]!.cache, {}, "a tool_use breakpoint is the message's");
  assert.deepEqual(m[4]!.cache, { ttl: "1h" }, "top-level cache_control: after the last message");
  assert.equal(req.sampling.maxOutputTokens, 10);
});

test("tool_choice, parallel tool use, thinking budget, metadata and service tier", () => {
  const req = translate({
    model: "m",
    max_tokens: 4096,
    tools: [
      { name: "get", input_schema: { type: "object" }, cache_control: { type: "ephemeral", ttl: "5m" } },
    ],
    tool_choice: { type: "any", disable_parallel_tool_use: true },
    thinking: { type: "enabled", budget_tokens: 2048 },
    metadata: { user_id: "u-7" },
    service_tier: "standard_only",
    messages: [{ role: "user", content: "x" }],
  });
  assert.deepEqual(req.toolChoice, { mode: "required" });
  assert.equal(req.parallelToolCalls, false);
  assert.deepEqual(req.reasoning, { includeText: true, budgetTokens: 2048 });
  assert.equal(req.endUserId, "u-7");
  assert.equal(req.serviceTier, "default");
  assert.deepEqual(req.tools[0]!.cache, { ttl: "5m" });
});

test("refusals name the field by its Anthropic path", () => {
  const refuse = (body: unknown, pattern: RegExp) => assert.throws(() => translate(body), pattern);
  const base = { model: "m", max_tokens: 10 };
  refuse(
    { model: "m", messages: [{ role: "user", content: "x" }] },
    /^Error: max_tokens: Field required$|max_tokens: Field required/,
  );
  refuse(
    { ...base, messages: [{ role: "user", content: [{ type: "tool_use", id: "a", name: "b", input: {} }] }] },
    /messages\[0\]\.content\[0\]\.type: tool_use blocks are not allowed in a user turn/,
  );
  refuse(
    {
      ...base,
      messages: [{ role: "user", content: [{ type: "image", source: { type: "file", file_id: "f" } }] }],
    },
    /messages\[0\]\.content\[0\]\.source/,
  );
  refuse(
    {
      ...base,
      tools: [{ type: "web_search_20250305", name: "web_search" }],
      messages: [{ role: "user", content: "x" }],
    },
    /tools\[0\]\.type/,
  );
  refuse(
    {
      ...base,
      messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: "" }] }],
    },
    /messages\[0\]\.content\[0\]\.content: an empty tool_result/,
  );
  refuse(
    { ...base, stop_sequences: ["a", "b", "c", "d", "e"], messages: [{ role: "user", content: "x" }] },
    /stop_sequences/,
  );
  refuse(
    { ...base, system: [{ type: "text", text: "" }], messages: [{ role: "user", content: "x" }] },
    /system\[0\]\.text: text content blocks must be non-empty/,
  );
  refuse({ ...base, container: "c", messages: [{ role: "user", content: "x" }] }, /container/);
  refuse(
    {
      ...base,
      messages: [{ role: "assistant", content: [{ type: "thinking", thinking: "t", signature: "sy1.!!" }] }],
    },
    /signature: was not issued by the gateway/,
  );
});

test("reasoning of another family round-trips through a sy1. signature; Anthropic's passes unchanged", () => {
  const echo = thinkingBlockOf({ text: "hmm", signature: "echo-abc", provider: "echo" });
  assert.equal(echo.type, "thinking");
  assert.match(String(echo.signature), /^sy1\./);
  assert.deepEqual(reasoningOf("hmm", String(echo.signature), false, "p"), {
    text: "hmm",
    provider: "echo",
    signature: "echo-abc",
    encryptedContent: "",
    id: "",
    redacted: false,
  });
  const openai = thinkingBlockOf({
    text: "",
    encryptedContent: "gAAA",
    id: "rs_1",
    provider: "openai",
    redacted: true,
  });
  assert.equal(openai.type, "redacted_thinking");
  assert.deepEqual(reasoningOf("", String(openai.data), true, "p"), {
    text: "",
    provider: "openai",
    signature: "",
    encryptedContent: "gAAA",
    id: "rs_1",
    redacted: true,
  });
  assert.deepEqual(thinkingBlockOf({ text: "t", signature: "EqQBCkgI", provider: "anthropic" }), {
    type: "thinking",
    thinking: "t",
    signature: "EqQBCkgI",
  });
});

test("stream events: blocks numbered in order, signature before the thinking block stops", () => {
  const b = new StreamEventBuilder("msg_1", 12);
  const events = [
    ...b.reasoning({ type: "reasoning", index: 0, provider: "anthropic", text: "Let me see" }, "m"),
    ...b.reasoning({ type: "reasoning", index: 0, provider: "anthropic", signature: "SIG" }, "m"),
    ...b.text("Hi", "m"),
    ...b.toolCall({ index: 0, id: "toolu_a", name: "f", argumentsDelta: '{"a"' }, "m"),
    ...b.toolCall({ index: 0, argumentsDelta: ":1}" }, "m"),
    ...b.toolCall({ index: 1, id: "toolu_b", name: "g", argumentsDelta: "{}" }, "m"),
  ];
  b.finish("tool_calls", undefined);
  events.push(...b.end({ inputTokens: 30, outputTokens: 9, cachedInputTokens: 10, accuracy: "exact" }, "m"));
  const summary = events.map((e) => {
    const d = (e.delta ?? e.content_block) as Record<string, unknown> | undefined;
    return [e.type, e.index, d?.type].filter((x) => x !== undefined).join(":");
  });
  assert.deepEqual(summary, [
    "message_start",
    "ping",
    "content_block_start:0:thinking",
    "content_block_delta:0:thinking_delta",
    "content_block_delta:0:signature_delta",
    "content_block_stop:0",
    "content_block_start:1:text",
    "content_block_delta:1:text_delta",
    "content_block_stop:1",
    "content_block_start:2:tool_use",
    "content_block_delta:2:input_json_delta",
    "content_block_delta:2:input_json_delta",
    "content_block_stop:2",
    "content_block_start:3:tool_use",
    "content_block_delta:3:input_json_delta",
    "content_block_stop:3",
    "message_delta",
    "message_stop",
  ]);
  assert.deepEqual(events[4]!.delta, { type: "signature_delta", signature: "SIG" });
  const start = events[0]!.message as { usage: { input_tokens: number } };
  assert.equal(start.usage.input_tokens, 12);
  const delta = events.at(-2)! as unknown as { delta: unknown; usage: Record<string, number> };
  assert.deepEqual(delta.delta, { stop_reason: "tool_use", stop_sequence: null });
  assert.equal(delta.usage.input_tokens, 20, "uncached input only");
  assert.equal(delta.usage.cache_read_input_tokens, 10);
  assert.equal(delta.usage.output_tokens, 9);
});

test("a system turn inside messages (as Claude Code sends) is a system message; temperature is 0–1", () => {
  const req = translate({
    model: "m",
    max_tokens: 10,
    temperature: 1,
    system: "first",
    messages: [
      { role: "system", content: [{ type: "text", text: "second", cache_control: { type: "ephemeral" } }] },
      { role: "user", content: "x" },
    ],
  });
  assert.deepEqual(
    req.messages.map((m) => [m.role, m.content]),
    [
      ["system", "first"],
      ["system", "second"],
      ["user", "x"],
    ],
  );
  assert.deepEqual(req.messages[1]!.parts, [{ type: "text", text: "second", cache: {} }]);
  assert.equal(req.sampling.temperature, 1);
  assert.throws(
    () =>
      translate({ model: "m", max_tokens: 10, temperature: 1.5, messages: [{ role: "user", content: "x" }] }),
    /temperature: must be between 0 and 1/,
  );
});
