// The OpenAI adapter (default `openai` profile) with the request surface beyond text, against the OpenAI
// fake (which checks parts and parameters as api.openai.com does): the exact upstream body for an image by
// URL and by bytes, audio, a PDF and a text document, images in a tool result, reasoning by effort and by
// budget, parallel_tool_calls, logprobs, service_tier, prompt_cache_key; refusals before any call; and
// reasoning, logprobs, the tier and every usage class read back, unary and streamed.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { AdapterEvent, ChatMessage, GenerateInput } from "../../src/adapters/adapter.ts";
import { OpenAIAdapter } from "../../src/adapters/openai/index.ts";
import { effortForBudget } from "../../src/adapters/openai/request-options.ts";
import { Secret } from "../../src/config/secret.ts";
import { UpstreamError } from "../../src/errors/upstream-error.ts";
import { fakeLogprob } from "../upstreams/openai-extras.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const WAV = new TextEncoder().encode("RIFF\u0024\u0000\u0000\u0000WAVE");
const PDF = new TextEncoder().encode("%PDF-1.7\n");
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

function input(overrides: Partial<GenerateInput> = {}): GenerateInput {
  return {
    model: "gpt-5-mini",
    messages: [{ role: "user", content: "hi" }],
    tools: [],
    sampling: {},
    ...overrides,
  };
}
const call = () => ({ signal: new AbortController().signal, deadline: Date.now() + 60_000 });
const lookup = { name: "lookup", parameters: { type: "object" } };

async function collect(events: AsyncIterable<AdapterEvent>): Promise<AdapterEvent[]> {
  const out: AdapterEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

async function refused(run: () => Promise<unknown>): Promise<UpstreamError> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    assert.equal(error.kind, "bad_request");
    return error;
  }
  assert.fail("expected a refusal");
}

describe("OpenAIAdapter: media parts, reasoning and the newer parameters", () => {
  let fake: OpenAIFake;
  let adapter: OpenAIAdapter;
  const sent = (index = 0) => fake.requests[index]?.body as Record<string, unknown>;
  beforeEach(async () => {
    fake = await startOpenAIFake();
    adapter = new OpenAIAdapter({
      name: "gpt",
      baseUrl: `${fake.url}/v1`,
      apiKey: new Secret("sk-test", "OPENAI_API_KEY"),
      connections: 2,
      connectTimeoutMs: 2000,
      healthPath: undefined,
    });
  });
  afterEach(async () => {
    await adapter.close();
    await fake.close();
  });

  it("sends an image by URL and by bytes, audio, a PDF and a text document as OpenAI content parts", async () => {
    const user: ChatMessage = {
      role: "user",
      content: "Compare these.",
      parts: [
        { type: "text", text: "Compare these." },
        { type: "image", source: { url: "https://example.com/cat.jpg" }, detail: "high" },
        { type: "image", source: { data: PNG, mediaType: "image/png" }, cache: { ttl: "5m" } },
        { type: "audio", data: WAV, format: "wav" },
        { type: "document", source: { data: PDF, mediaType: "application/pdf" }, filename: "paper.pdf" },
        { type: "document", source: { data: PDF, mediaType: "application/pdf" }, title: "Untitled" },
        { type: "document", source: { text: "Clause 1: be nice." }, title: "Contract" },
      ],
    };
    await adapter.generate(input({ messages: [user], model: "gpt-4o-audio-preview" }), call());
    assert.deepEqual(sent().messages, [
      {
        role: "user",
        content: [
          { type: "text", text: "Compare these." },
          { type: "image_url", image_url: { url: "https://example.com/cat.jpg", detail: "high" } },
          // The cache breakpoint is not sent: OpenAI caches prefixes by itself.
          { type: "image_url", image_url: { url: `data:image/png;base64,${b64(PNG)}` } },
          { type: "input_audio", input_audio: { data: b64(WAV), format: "wav" } },
          {
            type: "file",
            file: { file_data: `data:application/pdf;base64,${b64(PDF)}`, filename: "paper.pdf" },
          },
          {
            type: "file",
            file: { file_data: `data:application/pdf;base64,${b64(PDF)}`, filename: "Untitled" },
          },
          { type: "text", text: "Contract\n\nClause 1: be nice." },
        ],
      },
    ]);
  });

  it("moves a tool result's images into a user message after the tool results (tool messages take text only)", async () => {
    const messages: ChatMessage[] = [
      { role: "user", content: "Screenshot both pages." },
      {
        role: "assistant",
        content: "",
        toolCalls: [
          { id: "call_a", name: "shoot", arguments: '{"page":1}' },
          { id: "call_b", name: "shoot", arguments: '{"page":2}' },
        ],
      },
      {
        role: "tool",
        toolCallId: "call_a",
        content: "page 1",
        parts: [
          { type: "text", text: "page 1" },
          { type: "image", source: { data: PNG, mediaType: "image/png" } },
        ],
      },
      {
        role: "tool",
        toolCallId: "call_b",
        content: "",
        parts: [{ type: "image", source: { url: "https://example.com/p2.png" }, detail: "low" }],
      },
    ];
    await adapter.generate(input({ messages, tools: [{ name: "shoot" }] }), call());
    assert.deepEqual(sent().messages, [
      { role: "user", content: "Screenshot both pages." },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_a", type: "function", function: { name: "shoot", arguments: '{"page":1}' } },
          { id: "call_b", type: "function", function: { name: "shoot", arguments: '{"page":2}' } },
        ],
      },
      { role: "tool", content: [{ type: "text", text: "page 1" }], tool_call_id: "call_a" },
      { role: "tool", content: "", tool_call_id: "call_b" },
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: `data:image/png;base64,${b64(PNG)}` } },
          { type: "image_url", image_url: { url: "https://example.com/p2.png", detail: "low" } },
        ],
      },
    ]);
  });

  it("drops OpenAI reasoning blocks sent back (Chat Completions cannot carry them) and other families'", async () => {
    const assistant: ChatMessage = {
      role: "assistant",
      content: "Earlier answer",
      parts: [
        { type: "reasoning", text: "", encryptedContent: "gAAAA-opaque", id: "rs_1", provider: "openai" },
        { type: "reasoning", text: "thinking", signature: "sig", provider: "anthropic" },
        { type: "text", text: "Earlier answer" },
      ],
    };
    await adapter.generate(
      input({ messages: [{ role: "user", content: "q" }, assistant, { role: "user", content: "more" }] }),
      call(),
    );
    assert.deepEqual(sent().messages, [
      { role: "user", content: "q" },
      { role: "assistant", content: [{ type: "text", text: "Earlier answer" }] },
      { role: "user", content: "more" },
    ]);
  });

  it("refuses before any call what OpenAI cannot take, naming the field", async () => {
    const url = await refused(() =>
      adapter.generate(
        input({
          messages: [
            { role: "system", content: "s" },
            {
              role: "user",
              content: "",
              parts: [{ type: "document", source: { url: "https://example.com/a.pdf" } }],
            },
          ],
        }),
        call(),
      ),
    );
    assert.match(url.message, /^messages\[1\]\.parts\[0\]\.source\.url: /);
    const flac = await refused(() =>
      collect(
        adapter.stream(
          input({
            messages: [{ role: "user", content: "", parts: [{ type: "audio", data: WAV, format: "flac" }] }],
          }),
          call(),
        ),
      ),
    );
    assert.match(flac.message, /^messages\[0\]\.parts\[0\]\.format: .*flac/);
    const assistantImage = await refused(() =>
      adapter.generate(
        input({
          messages: [
            {
              role: "assistant",
              content: "",
              parts: [{ type: "image", source: { url: "https://example.com/a.png" } }],
            },
          ],
        }),
        call(),
      ),
    );
    assert.match(assistantImage.message, /^messages\[0\]\.parts\[0\]: /);
    assert.equal(fake.requests.length, 0, "nothing reached the upstream");
  });

  it("sends reasoning_effort, parallel_tool_calls, logprobs, prompt_cache_key, service_tier and safety_identifier", async () => {
    await adapter.generate(
      input({
        tools: [lookup],
        reasoning: { effort: "high", budgetTokens: 1000, includeText: true },
        parallelToolCalls: false,
        logprobs: { top: 3 },
        promptCacheKey: "tenant-7",
        serviceTier: "priority",
        endUserId: "u-1",
        providerMetadata: { team: "a" },
        sampling: { stop: ["END"], seed: 5 },
      }),
      call(),
    );
    const body = sent();
    assert.deepEqual(
      {
        reasoning_effort: body.reasoning_effort,
        parallel_tool_calls: body.parallel_tool_calls,
        logprobs: body.logprobs,
        top_logprobs: body.top_logprobs,
        prompt_cache_key: body.prompt_cache_key,
        service_tier: body.service_tier,
        safety_identifier: body.safety_identifier,
        stop: body.stop,
        seed: body.seed,
      },
      {
        reasoning_effort: "high", // the effort wins over the budget
        parallel_tool_calls: false,
        logprobs: true,
        top_logprobs: 3,
        prompt_cache_key: "tenant-7",
        service_tier: "priority",
        safety_identifier: "u-1",
        stop: ["END"],
        seed: 5,
      },
    );
    // OpenAI refuses metadata without store: true, and the gateway does not turn storage on.
    assert.equal(body.metadata, undefined);
    assert.equal(body.store, undefined);
    assert.equal(body.user, undefined);
  });

  it("maps a budget alone to the nearest effort; no tools: no parallel_tool_calls; top 0: logprobs only", async () => {
    const budgets: [number, string][] = [
      [1024, "low"],
      [4096, "low"],
      [8192, "medium"],
      [16_384, "medium"],
      [32_000, "high"],
    ];
    for (const [index, [budgetTokens, effort]] of budgets.entries()) {
      assert.equal(effortForBudget(budgetTokens), effort);
      await adapter.generate(
        input({
          reasoning: { budgetTokens, includeText: false },
          parallelToolCalls: true,
          logprobs: { top: 0 },
        }),
        call(),
      );
      const body = sent(index);
      assert.equal(body.reasoning_effort, effort, `budget ${budgetTokens}`);
      assert.equal(body.parallel_tool_calls, undefined);
      assert.equal(body.logprobs, true);
      assert.equal(body.top_logprobs, undefined);
    }
  });

  it("reads logprobs, the tier and every usage class from a unary answer", async () => {
    fake.enqueue({
      text: "Two words",
      usage: {
        prompt_tokens: 1200,
        completion_tokens: 300,
        cached_tokens: 1024,
        audio_tokens: 50,
        reasoning_tokens: 250,
        cache_write_tokens: 100,
      },
    });
    const output = await adapter.generate(input({ logprobs: { top: 1 }, serviceTier: "flex" }), call());
    assert.deepEqual(output.usage, {
      inputTokens: 1200,
      outputTokens: 300,
      cachedInputTokens: 1024,
      reasoningTokens: 250,
      cacheWriteTokens: 100,
      audioInputTokens: 50,
    });
    assert.equal(output.serviceTier, "flex");
    assert.deepEqual(output.logprobs, [
      {
        token: "Two",
        logprob: fakeLogprob("Two"),
        bytes: [84, 119, 111],
        topLogprobs: [{ token: "Two", logprob: fakeLogprob("Two", 0) }],
      },
      {
        token: " words",
        logprob: fakeLogprob(" words"),
        bytes: [...Buffer.from(" words")],
        topLogprobs: [{ token: " words", logprob: fakeLogprob(" words", 0) }],
      },
    ]);
    assert.equal(output.reasoning, undefined, "api.openai.com returns no reasoning text");
  });

  it("streams logprobs on each text event, the tier on the finish and every usage class", async () => {
    fake.enqueue({
      chunks: ["Hi", " you"],
      usage: {
        prompt_tokens: 40,
        completion_tokens: 30,
        cached_tokens: 8,
        audio_tokens: 0,
        reasoning_tokens: 28,
      },
    });
    const events = await collect(adapter.stream(input({ logprobs: { top: 0 } }), call()));
    assert.deepEqual(events, [
      {
        type: "text",
        text: "Hi",
        logprobs: [{ token: "Hi", logprob: fakeLogprob("Hi"), bytes: [72, 105], topLogprobs: [] }],
      },
      {
        type: "text",
        text: " you",
        logprobs: [
          { token: " you", logprob: fakeLogprob(" you"), bytes: [...Buffer.from(" you")], topLogprobs: [] },
        ],
      },
      { type: "finish", reason: "stop", model: "gpt-5-mini", serviceTier: "default" },
      {
        type: "usage",
        usage: {
          inputTokens: 40,
          outputTokens: 30,
          cachedInputTokens: 8,
          reasoningTokens: 28,
          audioInputTokens: 0,
        },
      },
    ]);
  });
});
