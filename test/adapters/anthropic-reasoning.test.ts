// The Anthropic adapter's reasoning and usage against the Anthropic fake: thinking budgets from effort or
// an explicit budget, thinking blocks (signed and redacted) read unary and streamed, every usage class, and
// a multi-turn tool conversation whose thinking goes back byte for byte (the fake verifies the signature).
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { ChatMessage, ContentPart, ReasoningBlock } from "../../src/adapters/adapter.ts";
import type { AnthropicAdapter } from "../../src/adapters/anthropic/index.ts";
import { UpstreamError } from "../../src/errors/upstream-error.ts";
import {
  anthropicAdapter,
  bodyOf,
  call,
  collect,
  input,
  KEY,
  MODEL,
  reasoningOf,
  refusal,
} from "../upstreams/anthropic-adapter-harness.ts";
import { type AnthropicFake, startAnthropicFake } from "../upstreams/anthropic-fake.ts";
import { redactedDataMatches, signatureMatches } from "../upstreams/anthropic-thinking.ts";

const THOUGHT = "The user wants the weather in Paris, so call get_weather.";
const thinkingScript = { thinking: [{ text: THOUGHT }, { redacted: true as const }] };
const weatherTool = {
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } } },
};

function assertAnthropicReasoning(blocks: ReasoningBlock[] | undefined): void {
  assert.equal(blocks?.length, 2);
  const [thought, redacted] = blocks ?? [];
  assert.equal(thought?.provider, "anthropic");
  assert.equal(thought?.text, THOUGHT);
  assert.ok(thought?.signature && signatureMatches(THOUGHT, thought.signature), "the fake's own signature");
  assert.equal(thought?.redacted, undefined);
  assert.equal(redacted?.provider, "anthropic");
  assert.equal(redacted?.text, "");
  assert.equal(redacted?.redacted, true);
  assert.ok(
    redacted?.encryptedContent && redactedDataMatches(redacted.encryptedContent),
    "the fake's own data",
  );
}

describe("AnthropicAdapter reasoning against the Anthropic fake", () => {
  let fake: AnthropicFake;
  let adapters: AnthropicAdapter[];
  const adapter = (): AnthropicAdapter => {
    const created = anthropicAdapter(fake);
    adapters.push(created);
    return created;
  };
  const sent = (index = 0) => bodyOf(fake, index);

  beforeEach(async () => {
    fake = await startAnthropicFake({ requireApiKey: KEY });
    adapters = [];
  });
  afterEach(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await fake.close();
  });

  it("turns an effort into a thinking budget: on top of the default cap, or clamped below the caller's", async () => {
    await adapter().generate(input({ reasoning: { effort: "high", includeText: true } }), call());
    await adapter().generate(input({ reasoning: { effort: "low", includeText: false } }), call());
    await adapter().generate(
      input({
        reasoning: { effort: "medium", includeText: true },
        sampling: { maxOutputTokens: 3000, temperature: 0.2 },
      }),
      call(),
    );
    await collect(adapter().stream(input({ reasoning: { includeText: true } }), call()));
    const wire = fake.requests.map((r) => {
      const body = r.body as { max_tokens: number; thinking: unknown; temperature?: number };
      return [body.max_tokens, body.thinking, body.temperature];
    });
    assert.deepEqual(wire, [
      [4096 + 16384, { type: "enabled", budget_tokens: 16384, display: "summarized" }, undefined],
      [4096 + 1024, { type: "enabled", budget_tokens: 1024, display: "omitted" }, undefined],
      // No temperature: Anthropic allows no sampling change while thinking.
      [3000, { type: "enabled", budget_tokens: 2999, display: "summarized" }, undefined],
      [4096 + 4096, { type: "enabled", budget_tokens: 4096, display: "summarized" }, undefined],
    ]);
  });

  it("sends an explicit budget as given (over an effort), and refuses one Anthropic cannot take", async () => {
    await adapter().generate(
      input({
        reasoning: { effort: "high", budgetTokens: 2048, includeText: true },
        sampling: { maxOutputTokens: 8000 },
      }),
      call(),
    );
    await adapter().generate(input({ reasoning: { budgetTokens: 5000, includeText: true } }), call());
    assert.deepEqual(
      [sent(0).max_tokens, sent(0).thinking],
      [8000, { type: "enabled", budget_tokens: 2048, display: "summarized" }],
    );
    assert.deepEqual(
      [sent(1).max_tokens, sent(1).thinking],
      [4096 + 5000, { type: "enabled", budget_tokens: 5000, display: "summarized" }],
    );
    const refused: [Parameters<typeof input>[0], RegExp][] = [
      [
        { reasoning: { budgetTokens: 512, includeText: true } },
        /budget_tokens is 512; Anthropic needs at least 1024/,
      ],
      [
        { reasoning: { budgetTokens: 4000, includeText: true }, sampling: { maxOutputTokens: 4000 } },
        /budget_tokens \(4000\) must be below sampling\.max_output_tokens \(4000\)/,
      ],
      [
        { reasoning: { effort: "low", includeText: true }, sampling: { maxOutputTokens: 1024 } },
        /needs sampling\.max_output_tokens above 1024/,
      ],
      [
        {
          reasoning: { effort: "low", includeText: true },
          tools: [weatherTool],
          toolChoice: { mode: "required" },
        },
        /forced tool_choice/,
      ],
      [
        {
          reasoning: { effort: "low", includeText: true },
          responseFormat: { type: "json_schema", name: "r", schema: { type: "object" }, strict: true },
        },
        /JSON response format/,
      ],
    ];
    for (const [overrides, message] of refused) {
      const error = await refusal(adapter().generate(input(overrides), call()));
      assert.equal(error.kind, "bad_request");
      assert.match(error.message, message);
    }
    assert.equal(fake.requests.length, 2);
  });

  const usageScript = {
    input_tokens: 20,
    cache_read_input_tokens: 1500,
    cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 400 },
    thinking_tokens: 42,
    output_tokens: 60,
    service_tier: "priority" as const,
  };
  const expectedUsage = {
    inputTokens: 20 + 1500 + 500,
    outputTokens: 60,
    cachedInputTokens: 1500,
    reasoningTokens: 42,
    cacheWriteTokens: 500,
    cacheWrite1hTokens: 400,
  };

  it("reads signed and redacted thinking, every usage class and the tier of a unary answer", async () => {
    fake.enqueue({ ...thinkingScript, text: "Sunny.", usage: usageScript });
    const output = await adapter().generate(
      input({ reasoning: { effort: "low", includeText: true } }),
      call(),
    );
    assert.equal(output.text, "Sunny.");
    assertAnthropicReasoning(output.reasoning);
    assert.deepEqual(output.usage, expectedUsage);
    assert.equal(output.serviceTier, "priority");
  });

  it("streams thinking and signature deltas by reasoning ordinal, then text, then finish and usage", async () => {
    fake.enqueue({ ...thinkingScript, text: "Sunny today.", usage: usageScript });
    const events = await collect(
      adapter().stream(input({ reasoning: { effort: "low", includeText: true } }), call()),
    );
    const thinking = events.filter((e) => e.type === "reasoning");
    assert.deepEqual(
      thinking.filter((e) => e.text !== undefined).map((e) => [e.index, e.text]),
      THOUGHT.split(/(?<=\S)(?=\s)/).map((piece) => [0, piece]),
      "thinking_delta pieces, in order, on reasoning block 0 (its content block index is 0 too)",
    );
    const signatures = thinking.filter((e) => e.signature !== undefined);
    assert.equal(signatures.length, 1);
    assert.equal(signatures[0]?.index, 0);
    const redacted = thinking.filter((e) => e.redacted);
    assert.deepEqual(
      redacted.map((e) => [e.index, e.provider, e.text, e.signature]),
      [[1, "anthropic", undefined, undefined]],
      "the redacted block arrives whole, as reasoning block 1",
    );
    assertAnthropicReasoning(reasoningOf(events));
    const kinds = events.map((e) => e.type);
    assert.ok(kinds.lastIndexOf("reasoning") < kinds.indexOf("text"), "thinking precedes the answer");
    assert.deepEqual(events.slice(-2), [
      { type: "finish", reason: "stop", model: MODEL, serviceTier: "priority" },
      { type: "usage", usage: expectedUsage },
    ]);
  });

  it("takes the tier from message_start and thinking tokens from the cumulative message_delta", async () => {
    fake.enqueue({ thinking: [{ text: "a b c" }], text: "x", usage: { input_tokens: 3 } });
    const events = await collect(
      adapter().stream(input({ reasoning: { effort: "low", includeText: true } }), call()),
    );
    assert.deepEqual(events.at(-1), {
      type: "usage",
      usage: {
        inputTokens: 3,
        outputTokens: 4, // three thinking deltas and one text delta, not message_start's 1
        cachedInputTokens: 0,
        reasoningTokens: 3,
        cacheWriteTokens: 0,
        cacheWrite1hTokens: 0,
      },
    });
  });

  it("round-trips thinking through a multi-turn tool conversation byte for byte, dropping other providers' reasoning", async () => {
    const reasoning = { effort: "low" as const, includeText: true };
    const tools = [weatherTool];
    fake.enqueue({
      ...thinkingScript,
      toolUses: [{ id: "toolu_01wx", name: "get_weather", input: { city: "Paris" } }],
    });
    const first = await collect(adapter().stream(input({ reasoning, tools }), call()));
    const blocks = reasoningOf(first);
    const parts: ContentPart[] = [
      ...blocks.map((b) => ({ type: "reasoning" as const, ...b })),
      { type: "reasoning", provider: "openai", text: "", encryptedContent: "gAAAA-openai", id: "rs_1" },
    ];
    const history = (assistantParts: ContentPart[]): ChatMessage[] => [
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: "",
        parts: assistantParts,
        toolCalls: [{ id: "toolu_01wx", name: "get_weather", arguments: '{"city":"Paris"}' }],
      },
      { role: "tool", content: "18C", toolCallId: "toolu_01wx" },
    ];
    fake.enqueue({ thinking: [{ text: "It is 18C; answer." }], text: "It is 18C in Paris." });
    const second = await adapter().generate(input({ reasoning, tools, messages: history(parts) }), call());
    assert.equal(second.text, "It is 18C in Paris.", "the fake accepted the returned signature");
    assert.equal(second.reasoning?.[0]?.text, "It is 18C; answer.");

    const [thought, redacted] = blocks;
    const assistant = (sent(1).messages as { content: unknown[] }[])[1];
    assert.deepEqual(assistant?.content, [
      { type: "thinking", thinking: thought?.text, signature: thought?.signature },
      { type: "redacted_thinking", data: redacted?.encryptedContent },
      { type: "tool_use", id: "toolu_01wx", name: "get_weather", input: { city: "Paris" } },
    ]);
    // Byte for byte on the wire, too: the recorded body holds the exact strings the fake issued.
    const raw = JSON.stringify(assistant?.content?.[0]);
    assert.ok(raw.includes(JSON.stringify(thought?.signature)) && raw.includes(JSON.stringify(THOUGHT)));

    // One changed byte, and Anthropic (the fake) refuses the turn.
    const tampered = parts.map((p, i) =>
      i === 0 && p.type === "reasoning" ? { ...p, text: `${p.text}.` } : p,
    );
    const error = await adapter()
      .generate(input({ reasoning, tools, messages: history(tampered) }), call())
      .then(
        () => assert.fail("a tampered thought must be refused"),
        (e: unknown) => e,
      );
    assert.ok(error instanceof UpstreamError && error.kind === "bad_request" && error.status === 400);
  });

  it("without reasoning text asks display omitted: blocks come back empty but signed, and go back as such", async () => {
    const reasoning = { effort: "low" as const, includeText: false };
    fake.enqueue({
      thinking: [{ text: THOUGHT }],
      toolUses: [{ id: "toolu_01o", name: "get_weather", input: {} }],
    });
    const first = await adapter().generate(input({ reasoning, tools: [weatherTool] }), call());
    assert.equal(first.reasoning?.length, 1);
    const [block] = first.reasoning ?? [];
    assert.equal(block?.text, "");
    assert.ok(block?.signature && signatureMatches("", block.signature));
    assert.equal(
      first.usage?.reasoningTokens,
      THOUGHT.split(" ").length,
      "the hidden thinking is still billed",
    );
    fake.enqueue({ text: "Done." });
    const second = await adapter().generate(
      input({
        reasoning,
        tools: [weatherTool],
        messages: [
          { role: "user", content: "Weather?" },
          {
            role: "assistant",
            content: "",
            parts: [{ type: "reasoning", ...block }],
            toolCalls: first.toolCalls,
          },
          { role: "tool", content: "18C", toolCallId: "toolu_01o" },
        ],
      }),
      call(),
    );
    assert.equal(second.text, "Done.");
  });

  it("refuses a thinking part without its signature or data, naming it", async () => {
    const cases: [ContentPart, RegExp][] = [
      [
        { type: "reasoning", provider: "anthropic", text: "x" },
        /messages\[1\]\.parts\[0\]: an Anthropic thinking block needs the signature/,
      ],
      [
        { type: "reasoning", provider: "anthropic", text: "", redacted: true },
        /messages\[1\]\.parts\[0\]: a redacted Anthropic thinking block needs its data/,
      ],
    ];
    for (const [part, message] of cases) {
      const messages: ChatMessage[] = [
        { role: "user", content: "hi" },
        { role: "assistant", content: "ok", parts: [part, { type: "text", text: "ok" }] },
        { role: "user", content: "again" },
      ];
      const error = await refusal(adapter().generate(input({ messages }), call()));
      assert.equal(error.kind, "bad_request");
      assert.match(error.message, message);
    }
    assert.equal(fake.requests.length, 0);
  });
});
