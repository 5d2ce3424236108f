import assert from "node:assert/strict";
import { test } from "node:test";
import type OpenAI from "openai";
import type { GenerateOutput, TokenLogprob } from "../../src/adapters/adapter.ts";
import { ChunkBuilder, chatCompletion, usageOf } from "../../src/facade/openai/chat-response.ts";
import type { MeteredUsage } from "../../src/metering/meter.ts";

// The facade's response side: neutral output → OpenAI's chat.completion and chunk JSON. Typed
// against the SDK's own response types, so a field the SDK does not know would not compile.

const usage = (extra: Partial<MeteredUsage> = {}): MeteredUsage => ({
  inputTokens: 120,
  outputTokens: 80,
  cachedInputTokens: 100,
  accuracy: "exact",
  ...extra,
});
const LOGPROBS: TokenLogprob[] = [
  {
    token: "Hi",
    logprob: -0.01,
    bytes: [72, 105],
    topLogprobs: [
      { token: "Hi", logprob: -0.01 },
      { token: "Hello", logprob: -4.6 },
    ],
  },
  { token: "!", logprob: -0.5, topLogprobs: [] },
];
const output = (extra: Partial<GenerateOutput> = {}): GenerateOutput => ({
  text: "Hi!",
  toolCalls: [],
  finishReason: "stop",
  model: "gpt-5-mini",
  ...extra,
});

test("usage: reasoning, cached, cache-write and audio tokens where OpenAI puts them", () => {
  const full: OpenAI.CompletionUsage = usageOf(
    usage({ reasoningTokens: 64, cacheWriteTokens: 20, audioInputTokens: 12 }),
  );
  assert.deepEqual(full, {
    prompt_tokens: 120,
    completion_tokens: 80,
    total_tokens: 200,
    prompt_tokens_details: { cached_tokens: 100, audio_tokens: 12, cache_write_tokens: 20 },
    completion_tokens_details: {
      reasoning_tokens: 64,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  });
  assert.equal(usageOf(usage({ reasoningTokens: 0 })).completion_tokens_details?.reasoning_tokens, 0);
  // Unreported classes are left out, never shown as a made-up 0.
  assert.deepEqual(usageOf(usage()), {
    prompt_tokens: 120,
    completion_tokens: 80,
    total_tokens: 200,
    prompt_tokens_details: { cached_tokens: 100 },
  });
});

test("unary: logprobs in choices[0].logprobs.content, service_tier at the top level", () => {
  const body = chatCompletion("chatcmpl-1", 1, output({ logprobs: LOGPROBS, serviceTier: "flex" }), usage(), {
    reasoningText: false,
  }) as unknown as OpenAI.Chat.ChatCompletion;
  assert.equal(body.service_tier, "flex");
  assert.deepEqual(body.choices[0]!.logprobs, {
    content: [
      {
        token: "Hi",
        logprob: -0.01,
        bytes: [72, 105],
        top_logprobs: [
          { token: "Hi", logprob: -0.01, bytes: null },
          { token: "Hello", logprob: -4.6, bytes: null },
        ],
      },
      { token: "!", logprob: -0.5, bytes: null, top_logprobs: [] },
    ],
    refusal: null,
  });
  const plain = chatCompletion("c", 1, output(), usage(), { reasoningText: false }) as Record<
    string,
    unknown
  >;
  assert.equal((plain.choices as { logprobs: unknown }[])[0]!.logprobs, null);
  assert.equal("service_tier" in plain, false, "no tier claimed when the provider named none");
});

test("unary reasoning: reasoning_content only when asked, never mixed into content", () => {
  const reasoning = [
    { text: "The user greets; ", provider: "anthropic", signature: "sig" },
    { text: "greet back.", provider: "anthropic" },
  ];
  const asked = chatCompletion("c", 1, output({ reasoning }), usage(), { reasoningText: true }) as {
    choices: { message: Record<string, unknown> }[];
  };
  assert.equal(asked.choices[0]!.message.reasoning_content, "The user greets; greet back.");
  assert.equal(asked.choices[0]!.message.content, "Hi!");
  const notAsked = chatCompletion("c", 1, output({ reasoning }), usage(), { reasoningText: false }) as {
    choices: { message: Record<string, unknown> }[];
  };
  assert.equal("reasoning_content" in notAsked.choices[0]!.message, false);
  assert.equal(notAsked.choices[0]!.message.content, "Hi!");
});

type Chunk = OpenAI.Chat.ChatCompletionChunk & { choices: { delta: Record<string, unknown> }[] };

test("stream: reasoning deltas as reasoning_content, logprobs on their text chunk, tier from the finish on", () => {
  const b = new ChunkBuilder("chatcmpl-2", 5, true, { reasoningText: true });
  const chunks = [
    ...b.reasoning("think ", "m"),
    ...b.reasoning(undefined, "m"), // a signature-only piece: nothing to show
    ...b.reasoning("more", "m"),
    ...b.text("Hi", "m", LOGPROBS.slice(0, 1)),
    ...b.text("!", "m"),
    ...b.finish("stop", "m", "priority"),
    ...b.end(usage({ reasoningTokens: 9 }), "m"),
  ] as unknown as Chunk[];
  assert.deepEqual(
    chunks.map((c) =>
      c.choices.length === 0 ? "usage" : Object.keys(c.choices[0]!.delta).join("+") || "finish",
    ),
    [
      "role+content+refusal",
      "reasoning_content",
      "reasoning_content",
      "content",
      "content",
      "finish",
      "usage",
    ],
  );
  assert.equal(chunks[1]!.choices[0]!.delta.reasoning_content, "think ");
  assert.equal(chunks[2]!.choices[0]!.delta.reasoning_content, "more");
  assert.equal(chunks[0]!.choices[0]!.delta.content, "", "reasoning never enters content");
  assert.deepEqual(
    chunks[3]!.choices[0]!.logprobs?.content?.map((t) => t.token),
    ["Hi"],
  );
  assert.equal(chunks[4]!.choices[0]!.logprobs, null);
  assert.deepEqual(
    chunks.map((c) => c.service_tier ?? null),
    [null, null, null, null, null, "priority", "priority"],
  );
  assert.equal(chunks[6]!.usage?.completion_tokens_details?.reasoning_tokens, 9);
  assert.equal(chunks[6]!.usage?.prompt_tokens_details?.cached_tokens, 100);
});

test("stream without the opt-in: reasoning deltas are dropped, content is unchanged", () => {
  const b = new ChunkBuilder("c", 5, false, { reasoningText: false });
  const chunks = [...b.reasoning("secret thoughts", "m"), ...b.text("Hi", "m"), ...b.finish("stop", "m")];
  assert.ok(!JSON.stringify(chunks).includes("secret thoughts"));
  assert.equal(chunks.length, 3); // role, content, finish
});
