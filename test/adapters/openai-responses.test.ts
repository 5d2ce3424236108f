// The OpenAI adapter in `api: responses` mode against the OpenAI fake's Responses API: the exact body it
// posts to /v1/responses, unary and streamed answers (text, tool calls, reasoning with encrypted content,
// usage classes), failures, and a multi-turn reasoning conversation with a tool call whose encrypted
// reasoning goes back byte for byte (and a changed byte is refused by the fake, as by the API).
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type {
  AdapterCall,
  AdapterEvent,
  ChatMessage,
  GenerateInput,
  ReasoningBlock,
} from "../../src/adapters/adapter.ts";
import { OpenAIAdapter } from "../../src/adapters/openai/index.ts";
import { Secret } from "../../src/config/secret.ts";
import { UpstreamError } from "../../src/errors/upstream-error.ts";
import { fakeLogprob } from "../upstreams/openai-extras.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

const KEY = "sk-proj-test-key-0123456789";
const REASONING = "The user wants the weather.\n\nI should call get_weather.";
const WEATHER_TOOL = {
  name: "get_weather",
  description: "Current weather of a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

function input(overrides: Partial<GenerateInput> = {}): GenerateInput {
  return {
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Hello there" }],
    tools: [],
    sampling: {},
    ...overrides,
  };
}

function call(): AdapterCall {
  return { signal: new AbortController().signal, deadline: Date.now() + 60_000 };
}

async function collect(events: AsyncIterable<AdapterEvent>): Promise<AdapterEvent[]> {
  const out: AdapterEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

async function upstreamError(run: () => Promise<unknown>): Promise<UpstreamError> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

/** Reasoning blocks assembled from streamed deltas, as the gateway keeps them for the next turn. */
function blocksOf(events: readonly AdapterEvent[]): ReasoningBlock[] {
  const blocks: ReasoningBlock[] = [];
  for (const event of events) {
    if (event.type !== "reasoning") continue;
    const block = blocks[event.index] ?? { text: "", provider: event.provider };
    blocks[event.index] = block;
    block.text += event.text ?? "";
    if (event.id !== undefined) block.id = event.id;
    if (event.encryptedContent !== undefined) block.encryptedContent = event.encryptedContent;
  }
  return blocks;
}

describe("OpenAIAdapter with api: responses against the OpenAI fake", () => {
  let fake: OpenAIFake;
  let adapter: OpenAIAdapter;
  beforeEach(async () => {
    fake = await startOpenAIFake({ requireApiKey: KEY });
    adapter = new OpenAIAdapter({
      name: "gpt",
      baseUrl: `${fake.url}/v1`,
      apiKey: new Secret(KEY, "OPENAI_API_KEY"),
      api: "responses",
      connections: 4,
      connectTimeoutMs: 2000,
      healthPath: undefined,
    });
  });
  afterEach(async () => {
    await adapter.close();
    await fake.close();
  });

  const lastBody = () => fake.requests.at(-1)?.body as Record<string, unknown>;

  it("posts text, instructions and request options as the Responses body", async () => {
    await adapter.generate(
      input({
        messages: [
          { role: "system", content: "Be brief." },
          { role: "system", content: "Answer in French." },
          { role: "user", content: "Hello there" },
          { role: "assistant", content: "Bonjour." },
          { role: "user", content: "Again" },
        ],
        sampling: { maxOutputTokens: 64, temperature: 0.2, topP: 0.9, seed: 7 },
        promptCacheKey: "tenant-1",
        endUserId: "user-42",
        serviceTier: "flex",
        providerMetadata: { team: "a" },
        responseFormat: { type: "json_schema", name: "answer", schema: { type: "object" }, strict: true },
      }),
      call(),
    );
    assert.equal(fake.requests.at(-1)?.path, "/v1/responses");
    assert.deepEqual(lastBody(), {
      model: "gpt-4o-mini",
      instructions: "Be brief.\n\nAnswer in French.",
      input: [
        { type: "message", role: "user", content: [{ type: "input_text", text: "Hello there" }] },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "Bonjour." }] },
        { type: "message", role: "user", content: [{ type: "input_text", text: "Again" }] },
      ],
      store: false,
      max_output_tokens: 64,
      temperature: 0.2,
      top_p: 0.9,
      text: { format: { type: "json_schema", name: "answer", schema: { type: "object" }, strict: true } },
      prompt_cache_key: "tenant-1",
      safety_identifier: "user-42",
      service_tier: "flex",
    });
  });

  it("sends an image by URL, an image as bytes and a PDF as input parts", async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const pdf = new TextEncoder().encode("%PDF-1.7");
    await adapter.generate(
      input({
        messages: [
          {
            role: "user",
            content: "Compare",
            parts: [
              { type: "text", text: "Compare" },
              { type: "image", source: { url: "https://example.com/a.png" }, detail: "high" },
              { type: "image", source: { data: png, mediaType: "image/png" } },
              { type: "document", source: { data: pdf, mediaType: "application/pdf" }, filename: "q3.pdf" },
            ],
          },
        ],
      }),
      call(),
    );
    assert.deepEqual(lastBody().input, [
      {
        type: "message",
        role: "user",
        content: [
          { type: "input_text", text: "Compare" },
          { type: "input_image", image_url: "https://example.com/a.png", detail: "high" },
          { type: "input_image", image_url: "data:image/png;base64,iVBORw==", detail: "auto" },
          { type: "input_file", file_data: "data:application/pdf;base64,JVBERi0xLjc=", filename: "q3.pdf" },
        ],
      },
    ]);
  });

  it("sends a tool result with an image as an output list, and a document by URL as file_url", async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    await adapter.generate(
      input({
        messages: [
          {
            role: "user",
            content: "Read",
            parts: [
              { type: "text", text: "Read" },
              { type: "document", source: { url: "https://example.com/r.pdf" } },
            ],
          },
          {
            role: "assistant",
            content: "",
            toolCalls: [{ id: "call_s", name: "screenshot", arguments: "{}" }],
          },
          {
            role: "tool",
            content: "shot",
            toolCallId: "call_s",
            parts: [
              { type: "text", text: "shot" },
              { type: "image", source: { data: png, mediaType: "image/png" }, detail: "low" },
            ],
          },
        ],
      }),
      call(),
    );
    assert.deepEqual(lastBody().input, [
      {
        type: "message",
        role: "user",
        content: [
          { type: "input_text", text: "Read" },
          { type: "input_file", file_url: "https://example.com/r.pdf" },
        ],
      },
      { type: "function_call", call_id: "call_s", name: "screenshot", arguments: "{}" },
      {
        type: "function_call_output",
        call_id: "call_s",
        output: [
          { type: "input_text", text: "shot" },
          { type: "input_image", image_url: "data:image/png;base64,iVBORw==", detail: "low" },
        ],
      },
    ]);
  });

  it("asks reasoning with effort and summary, a non-strict function tool and no parallel calls", async () => {
    fake.enqueue({
      reasoning: REASONING,
      toolCalls: [{ name: "get_weather", arguments: '{"city":"Paris"}' }],
    });
    await adapter.generate(
      input({
        model: "gpt-5-mini",
        messages: [{ role: "user", content: "Weather in Paris?" }],
        tools: [WEATHER_TOOL],
        toolChoice: { function: "get_weather" },
        parallelToolCalls: false,
        reasoning: { effort: "high", includeText: true },
      }),
      call(),
    );
    assert.deepEqual(lastBody(), {
      model: "gpt-5-mini",
      input: [
        { type: "message", role: "user", content: [{ type: "input_text", text: "Weather in Paris?" }] },
      ],
      store: false,
      reasoning: { effort: "high", summary: "auto" },
      include: ["reasoning.encrypted_content"],
      tools: [{ type: "function", ...WEATHER_TOOL, strict: false }],
      parallel_tool_calls: false,
      tool_choice: { type: "function", name: "get_weather" },
    });
  });

  it("maps a reasoning budget to the nearest effort, without summary when no text is asked", async () => {
    await adapter.generate(
      input({ model: "o4-mini", reasoning: { budgetTokens: 2000, includeText: false } }),
      call(),
    );
    assert.deepEqual(lastBody().reasoning, { effort: "low" });
    assert.deepEqual(lastBody().include, ["reasoning.encrypted_content"]);
  });

  it("asks encrypted reasoning from a reasoning model even when no reasoning is requested", async () => {
    await adapter.generate(input({ model: "gpt-5-mini" }), call());
    assert.deepEqual(lastBody().include, ["reasoning.encrypted_content"]);
    assert.equal(lastBody().reasoning, undefined);
    await adapter.generate(input({ model: "gpt-4o-mini" }), call());
    assert.equal(lastBody().include, undefined);
  });

  it("reads a unary answer: text, tool call, reasoning with encrypted content, usage and tier", async () => {
    fake.enqueue({
      text: "Let me check.",
      reasoning: REASONING,
      toolCalls: [{ id: "call_w1", name: "get_weather", arguments: '{"city":"Paris"}' }],
      usage: { prompt_tokens: 40, completion_tokens: 30, cached_tokens: 16, reasoning_tokens: 12 },
      serviceTier: "priority",
    });
    const out = await adapter.generate(
      input({ model: "gpt-5-mini", tools: [WEATHER_TOOL], reasoning: { effort: "low", includeText: true } }),
      call(),
    );
    assert.equal(out.text, "Let me check.");
    assert.deepEqual(out.toolCalls, [{ id: "call_w1", name: "get_weather", arguments: '{"city":"Paris"}' }]);
    assert.equal(out.finishReason, "tool_calls");
    assert.deepEqual(out.usage, {
      inputTokens: 40,
      outputTokens: 30,
      cachedInputTokens: 16,
      reasoningTokens: 12,
    });
    assert.equal(out.serviceTier, "priority");
    assert.equal(out.model, "gpt-5-mini");
    assert.equal(out.reasoning?.length, 1);
    const [block] = out.reasoning ?? [];
    assert.equal(block?.provider, "openai");
    assert.equal(block?.text, REASONING);
    assert.match(block?.id ?? "", /^rs_/);
    assert.match(block?.encryptedContent ?? "", /^gAAAAAB/);
  });

  it("asks log probabilities with include and top_logprobs, and reads them unary and streamed", async () => {
    fake.enqueue({ text: "Hi there" }, { text: "Hi there" });
    const unary = await adapter.generate(input({ logprobs: { top: 2 } }), call());
    assert.deepEqual(lastBody().include, ["message.output_text.logprobs"]);
    assert.equal(lastBody().top_logprobs, 2);
    assert.deepEqual(
      unary.logprobs?.map((l) => [l.token, l.logprob, l.topLogprobs.length]),
      [
        ["Hi", fakeLogprob("Hi"), 2],
        [" there", fakeLogprob(" there"), 2],
      ],
    );
    assert.deepEqual(unary.logprobs?.[0]?.bytes, [...Buffer.from("Hi")]);
    const events = await collect(adapter.stream(input({ logprobs: { top: 1 } }), call()));
    const streamed = events.flatMap((e) => (e.type === "text" ? (e.logprobs ?? []) : []));
    assert.deepEqual(
      streamed.map((l) => [l.token, l.logprob, l.topLogprobs[0]?.token]),
      [
        ["Hi", fakeLogprob("Hi"), "Hi"],
        [" there", fakeLogprob(" there"), " there"],
      ],
    );
  });

  it("reads an incomplete answer as finish length", async () => {
    fake.enqueue({ text: "It is", finishReason: "length" });
    const out = await adapter.generate(input({ sampling: { maxOutputTokens: 2 } }), call());
    assert.equal(out.finishReason, "length");
    assert.equal(out.text, "It is");
  });

  it("streams text, reasoning summary and its encrypted content, tool calls, usage and finish", async () => {
    fake.enqueue({
      text: "Checking now.",
      reasoning: REASONING,
      toolCalls: [
        { id: "call_a", name: "get_weather", arguments: '{"city":"Paris"}' },
        { id: "call_b", name: "get_weather", arguments: '{"city":"Oslo"}' },
      ],
      usage: { prompt_tokens: 20, completion_tokens: 25, cached_tokens: 4, reasoning_tokens: 9 },
    });
    const events = await collect(
      adapter.stream(
        input({
          model: "gpt-5-mini",
          tools: [WEATHER_TOOL],
          reasoning: { effort: "medium", includeText: true },
        }),
        call(),
      ),
    );
    assert.equal(lastBody().stream, true);
    const text = events.flatMap((e) => (e.type === "text" ? [e.text] : [])).join("");
    assert.equal(text, "Checking now.");
    const [block, ...more] = blocksOf(events);
    assert.equal(more.length, 0);
    assert.equal(block?.text, REASONING);
    assert.match(block?.id ?? "", /^rs_/);
    assert.match(block?.encryptedContent ?? "", /^gAAAAAB/);
    const calls = new Map<number, { id?: string; name?: string; args: string }>();
    for (const e of events) {
      if (e.type !== "tool_call") continue;
      const entry = calls.get(e.index) ?? { args: "" };
      if (e.id) entry.id = e.id;
      if (e.name) entry.name = e.name;
      entry.args += e.argumentsDelta;
      calls.set(e.index, entry);
    }
    assert.deepEqual(
      [...calls.entries()],
      [
        [0, { id: "call_a", name: "get_weather", args: '{"city":"Paris"}' }],
        [1, { id: "call_b", name: "get_weather", args: '{"city":"Oslo"}' }],
      ],
    );
    assert.deepEqual(events.at(-2), {
      type: "usage",
      usage: { inputTokens: 20, outputTokens: 25, cachedInputTokens: 4, reasoningTokens: 9 },
    });
    assert.deepEqual(events.at(-1), {
      type: "finish",
      reason: "tool_calls",
      model: "gpt-5-mini",
      serviceTier: "default",
    });
  });

  it("sends the reasoning back unchanged in the next turn, and the fake refuses a changed byte", async () => {
    const tools = [WEATHER_TOOL];
    const reasoning = { effort: "low" as const, includeText: true };
    const question: ChatMessage = { role: "user", content: "Weather in Paris?" };
    fake.enqueue({
      reasoning: REASONING,
      toolCalls: [{ name: "get_weather", arguments: '{"city":"Paris"}' }],
    });
    const first = await collect(
      adapter.stream(input({ model: "gpt-5-mini", messages: [question], tools, reasoning }), call()),
    );
    const [block] = blocksOf(first);
    assert.ok(block?.encryptedContent && block.id);
    const toolCall = first.find((e) => e.type === "tool_call" && e.id !== undefined);
    assert.ok(toolCall?.type === "tool_call" && toolCall.id && toolCall.name);
    const args = first.flatMap((e) => (e.type === "tool_call" ? [e.argumentsDelta] : [])).join("");
    const conversation = (sent: ReasoningBlock): ChatMessage[] => [
      question,
      {
        role: "assistant",
        content: "",
        parts: [{ type: "reasoning", ...sent }],
        toolCalls: [{ id: toolCall.id ?? "", name: toolCall.name ?? "", arguments: args }],
      },
      { role: "tool", content: '{"temp_c":21}', toolCallId: toolCall.id ?? "" },
    ];

    fake.enqueue({ text: "It is 21 °C in Paris." });
    const second = await adapter.generate(
      input({ model: "gpt-5-mini", messages: conversation(block), tools, reasoning }),
      call(),
    );
    assert.equal(second.text, "It is 21 °C in Paris.");
    const sent = lastBody().input as Record<string, unknown>[];
    assert.deepEqual(sent.slice(1), [
      {
        type: "reasoning",
        id: block.id,
        encrypted_content: block.encryptedContent,
        summary: [{ type: "summary_text", text: REASONING }],
      },
      { type: "function_call", call_id: toolCall.id, name: "get_weather", arguments: '{"city":"Paris"}' },
      { type: "function_call_output", call_id: toolCall.id, output: '{"temp_c":21}' },
    ]);
    assert.deepEqual(lastBody().include, ["reasoning.encrypted_content"]);

    const token = block.encryptedContent;
    const at = Math.floor(token.length / 2);
    const changed = `${token.slice(0, at)}${token[at] === "x" ? "y" : "x"}${token.slice(at + 1)}`;
    // The request that succeeded, but for one character of the token.
    const error = await upstreamError(() =>
      adapter.generate(
        input({
          model: "gpt-5-mini",
          messages: conversation({ ...block, encryptedContent: changed }),
          tools,
          reasoning,
        }),
        call(),
      ),
    );
    assert.equal(error.kind, "bad_request");
    assert.equal(error.status, 400);
    assert.doesNotMatch(error.message, /gAAA|could not be verified/);
  });

  it("drops reasoning of another family and still asks nothing encrypted back for it", async () => {
    await adapter.generate(
      input({
        messages: [
          { role: "user", content: "hi" },
          {
            role: "assistant",
            content: "Hello",
            parts: [
              { type: "reasoning", text: "thinking", signature: "sig", provider: "anthropic" },
              { type: "text", text: "Hello" },
            ],
          },
          { role: "user", content: "again" },
        ],
      }),
      call(),
    );
    assert.deepEqual((lastBody().input as unknown[])[1], {
      type: "message",
      role: "assistant",
      content: [{ type: "output_text", text: "Hello" }],
    });
    assert.equal(lastBody().include, undefined);
  });

  it("refuses audio input and stop sequences before any call, naming the field", async () => {
    const audio = await upstreamError(() =>
      adapter.generate(
        input({
          messages: [
            {
              role: "user",
              content: "",
              parts: [{ type: "audio", data: new Uint8Array([1]), format: "wav" }],
            },
          ],
        }),
        call(),
      ),
    );
    assert.equal(audio.kind, "bad_request");
    assert.match(audio.message, /^messages\[0\]\.parts\[0\]: /);
    const stop = await upstreamError(() => adapter.generate(input({ sampling: { stop: ["END"] } }), call()));
    assert.match(stop.message, /^sampling\.stop: /);
    assert.equal(fake.requests.length, 0);
  });

  it("turns response.failed after output into an UpstreamError marked after the first token", async () => {
    fake.enqueue({
      text: "one two three",
      streamError: { afterEvents: 6, error: { code: "rate_limit_exceeded", message: "secret prompt text" } },
    });
    const seen: AdapterEvent[] = [];
    const error = await upstreamError(async () => {
      for await (const event of adapter.stream(input(), call())) seen.push(event);
    });
    assert.ok(seen.some((e) => e.type === "text"));
    assert.equal(error.kind, "rate_limited");
    assert.equal(error.afterFirstToken, true);
    assert.match(error.message, /rate_limit_exceeded/);
    assert.doesNotMatch(error.message, /secret prompt/);
  });

  it("fails a stream cut before response.completed as unavailable", async () => {
    fake.enqueue({ text: "one two three", cutAfterEvents: 5 });
    const error = await upstreamError(() => collect(adapter.stream(input(), call())));
    assert.equal(error.kind, "unavailable");
  });

  it("classifies HTTP errors of /responses as chat mode does", async () => {
    fake.enqueue({ kind: "error", status: 429, fixture: "rate_limit_exceeded" });
    const error = await upstreamError(() => adapter.generate(input(), call()));
    assert.equal(error.kind, "rate_limited");
  });
});
