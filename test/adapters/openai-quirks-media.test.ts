// The quirk rows for the request surface beyond text, each profile against the fake in its server's
// dialect: Mistral's chunks (bare base64 audio, document_url, images inside tool results, thinking chunks
// sent back only for Mistral reasoning), its tier names and its refusal of logprobs; what the self-hosted
// servers are sent (no cache key, tier or metadata; `user`) and which parts they refuse; reasoning text
// read from `reasoning` / `reasoning_content` fields and Mistral thinking chunks, unary and streamed.
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { AdapterEvent, ChatMessage, GenerateInput } from "../../src/adapters/adapter.ts";
import { OpenAIAdapter, type QuirkProfileName } from "../../src/adapters/openai/index.ts";
import { Secret } from "../../src/config/secret.ts";
import { UpstreamError } from "../../src/errors/upstream-error.ts";
import type { OpenAIDialect } from "../upstreams/openai-dialects.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

const KEY = "test-key-for-quirks";
const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47]);
const MP3 = Uint8Array.from([0x49, 0x44, 0x33, 0x04]);
const PDF = new TextEncoder().encode("%PDF-1.4\n");
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

const DIALECT: Record<QuirkProfileName, OpenAIDialect> = {
  openai: "openai",
  vllm: "openai",
  ollama: "ollama",
  "llama-server": "llama-server",
  mistral: "mistral",
};

function input(model: string, overrides: Partial<GenerateInput> = {}): GenerateInput {
  return { model, messages: [{ role: "user", content: "hi" }], tools: [], sampling: {}, ...overrides };
}
const call = () => ({ signal: new AbortController().signal, deadline: Date.now() + 60_000 });

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

describe("OpenAIAdapter quirk rows: media, reasoning and the newer parameters", () => {
  const fakes: OpenAIFake[] = [];
  const adapters: OpenAIAdapter[] = [];
  const setup = async (quirks: QuirkProfileName) => {
    const fake = await startOpenAIFake({ dialect: DIALECT[quirks], requireApiKey: KEY });
    fakes.push(fake);
    const adapter = new OpenAIAdapter({
      name: quirks,
      baseUrl: `${fake.url}/v1`,
      apiKey: new Secret(KEY, "KEY"),
      quirks,
      connections: 2,
      connectTimeoutMs: 2000,
      healthPath: undefined,
    });
    adapters.push(adapter);
    const sent = (index = 0) => fake.requests[index]?.body as Record<string, unknown>;
    return { fake, adapter, sent };
  };
  afterEach(async () => {
    await Promise.all(adapters.splice(0).map((a) => a.close()));
    await Promise.all(fakes.splice(0).map((f) => f.close()));
  });

  it("mistral: image, bare base64 audio, document_url by URL and bytes, tool-result images inline, thinking sent back", async () => {
    const { adapter, sent } = await setup("mistral");
    const messages: ChatMessage[] = [
      {
        role: "user",
        content: "Look.",
        parts: [
          { type: "text", text: "Look." },
          { type: "image", source: { data: PNG, mediaType: "image/png" }, detail: "low" },
          { type: "audio", data: MP3, format: "mp3" },
          { type: "document", source: { url: "https://example.com/a.pdf" }, filename: "a.pdf" },
          { type: "document", source: { data: PDF, mediaType: "application/pdf" } },
        ],
      },
      {
        role: "assistant",
        content: "",
        parts: [
          { type: "reasoning", text: "I should look it up.", signature: "sig-m", provider: "mistral" },
          { type: "reasoning", text: "anthropic thought", signature: "sig-a", provider: "anthropic" },
        ],
        toolCalls: [{ id: "abcDEF123", name: "shoot", arguments: "{}" }],
      },
      {
        role: "tool",
        toolCallId: "abcDEF123",
        content: "shot",
        parts: [
          { type: "text", text: "shot" },
          { type: "image", source: { url: "https://example.com/shot.png" } },
        ],
      },
    ];
    await adapter.generate(
      input("magistral-medium-latest", { messages, tools: [{ name: "shoot" }] }),
      call(),
    );
    assert.deepEqual(sent().messages, [
      {
        role: "user",
        content: [
          { type: "text", text: "Look." },
          { type: "image_url", image_url: { url: `data:image/png;base64,${b64(PNG)}`, detail: "low" } },
          { type: "input_audio", input_audio: b64(MP3) },
          { type: "document_url", document_url: "https://example.com/a.pdf", document_name: "a.pdf" },
          { type: "document_url", document_url: `data:application/pdf;base64,${b64(PDF)}` },
        ],
      },
      {
        role: "assistant",
        content: [
          {
            type: "thinking",
            thinking: [{ type: "text", text: "I should look it up." }],
            signature: "sig-m",
          },
        ],
        tool_calls: [{ id: "abcDEF123", type: "function", function: { name: "shoot", arguments: "{}" } }],
      },
      {
        role: "tool",
        content: [
          { type: "text", text: "shot" },
          { type: "image_url", image_url: { url: "https://example.com/shot.png" } },
        ],
        tool_call_id: "abcDEF123",
      },
    ]);
  });

  it("mistral: effort, cache key, metadata, parallel_tool_calls and tier names; logprobs refused before the call", async () => {
    const { fake, adapter, sent } = await setup("mistral");
    const options: Partial<GenerateInput> = {
      tools: [{ name: "f" }],
      reasoning: { budgetTokens: 20_000, includeText: true },
      promptCacheKey: "k-1",
      providerMetadata: { team: "a" },
      parallelToolCalls: false,
      endUserId: "u-1",
      sampling: { seed: 3, stop: ["X"] },
    };
    await adapter.generate(input("mistral-medium-latest", { ...options, serviceTier: "default" }), call());
    await adapter.generate(input("mistral-medium-latest", { ...options, serviceTier: "priority" }), call());
    const [first, second] = [sent(0), sent(1)];
    assert.equal(first.reasoning_effort, "high");
    assert.equal(first.prompt_cache_key, "k-1");
    assert.deepEqual(first.metadata, { team: "a" });
    assert.equal(first.parallel_tool_calls, false);
    assert.equal(first.random_seed, 3);
    assert.deepEqual(first.stop, ["X"]);
    assert.equal(first.service_tier, "standard_only", "Mistral's name for the default tier");
    assert.equal(second.service_tier, undefined, "Mistral has no priority tier to ask for");
    const before = fake.requests.length;
    const error = await refused(() =>
      adapter.generate(input("mistral-small-latest", { logprobs: { top: 2 } }), call()),
    );
    assert.match(error.message, /^logprobs: /);
    assert.equal(fake.requests.length, before);
  });

  it("mistral: thinking chunks become reasoning (unary and streamed); the tier in usage becomes serviceTier", async () => {
    const { fake, adapter } = await setup("mistral");
    fake.enqueue(
      { reasoning: "Consider the cat.", text: "A cat." },
      { reasoningChunks: ["Hm", "m."], text: "Yes." },
    );
    const output = await adapter.generate(input("magistral-small-latest", { serviceTier: "auto" }), call());
    assert.equal(output.text, "A cat.");
    assert.deepEqual(output.reasoning, [{ text: "Consider the cat.", provider: "mistral" }]);
    assert.equal(output.serviceTier, "default", "Mistral's `standard`");
    const events = await collect(adapter.stream(input("magistral-small-latest"), call()));
    assert.deepEqual(
      events.filter((e) => e.type === "reasoning" || e.type === "text"),
      [
        { type: "reasoning", index: 0, provider: "mistral", text: "Hm" },
        { type: "reasoning", index: 0, provider: "mistral", text: "m." },
        { type: "text", text: "Yes." },
      ],
    );
  });

  for (const quirks of ["vllm", "ollama", "llama-server"] as const) {
    it(`${quirks}: no cache key, tier or metadata; end user as \`user\`; effort and logprobs sent`, async () => {
      const { adapter, sent } = await setup(quirks);
      await adapter.generate(
        input("some-model", {
          reasoning: { effort: "low", includeText: true },
          promptCacheKey: "k",
          serviceTier: "flex",
          providerMetadata: { a: "b" },
          endUserId: "u-9",
          logprobs: { top: 2 },
          tools: [{ name: "f" }],
          parallelToolCalls: true,
        }),
        call(),
      );
      const body = sent();
      assert.equal(body.reasoning_effort, "low");
      assert.equal(body.logprobs, true);
      assert.equal(body.top_logprobs, 2);
      assert.equal(body.parallel_tool_calls, true);
      assert.equal(body.user, "u-9");
      for (const field of ["prompt_cache_key", "service_tier", "metadata", "safety_identifier"]) {
        assert.equal(body[field], undefined, `${quirks} is not sent ${field}`);
      }
    });

    it(`${quirks}: a PDF is refused before the call; a text document goes as text`, async () => {
      const { fake, adapter, sent } = await setup(quirks);
      const pdf: ChatMessage = {
        role: "user",
        content: "",
        parts: [{ type: "document", source: { data: PDF, mediaType: "application/pdf" } }],
      };
      const error = await refused(() => adapter.generate(input("m", { messages: [pdf] }), call()));
      assert.match(error.message, /^messages\[0\]\.parts\[0\]\.source: /);
      assert.equal(fake.requests.length, 0);
      const text: ChatMessage = {
        role: "user",
        content: "",
        parts: [{ type: "document", source: { text: "notes" } }],
      };
      await adapter.generate(input("m", { messages: [text] }), call());
      assert.deepEqual(sent().messages, [{ role: "user", content: [{ type: "text", text: "notes" }] }]);
    });
  }

  it("ollama: audio input is refused (its /v1 takes text and images only)", async () => {
    const { fake, adapter } = await setup("ollama");
    const audio: ChatMessage = {
      role: "user",
      content: "",
      parts: [{ type: "audio", data: MP3, format: "mp3" }],
    };
    await refused(() => adapter.generate(input("m", { messages: [audio] }), call()));
    assert.equal(fake.requests.length, 0);
  });

  const REASONING_READERS: [QuirkProfileName, string][] = [
    ["vllm", "reasoning"],
    ["ollama", "reasoning"],
    ["llama-server", "reasoning_content"],
  ];
  for (const [quirks, field] of REASONING_READERS) {
    it(`${quirks}: reads reasoning text from \`${field}\`, unary and streamed, as openai-family reasoning`, async () => {
      const { fake, adapter } = await setup(quirks);
      fake.enqueue(
        { reasoning: "Let me think.", text: "Answer." },
        { reasoningChunks: ["Let", " me"], text: "Ok" },
      );
      const output = await adapter.generate(input("m"), call());
      assert.equal(output.text, "Answer.");
      assert.deepEqual(output.reasoning, [{ text: "Let me think.", provider: "openai" }]);
      const events = await collect(adapter.stream(input("m"), call()));
      assert.deepEqual(
        events.filter((e) => e.type === "reasoning" || e.type === "text"),
        [
          { type: "reasoning", index: 0, provider: "openai", text: "Let" },
          { type: "reasoning", index: 0, provider: "openai", text: " me" },
          { type: "text", text: "Ok" },
        ],
      );
    });
  }

  it("vllm: an older server's `reasoning_content` is read as well", async () => {
    const { fake, adapter } = await setup("vllm");
    fake.enqueue({ reasoning: "Old name.", text: "Hi", reasoningField: "reasoning_content" });
    const output = await adapter.generate(input("m"), call());
    assert.deepEqual(output.reasoning, [{ text: "Old name.", provider: "openai" }]);
  });

  it("llama-server: logprobs on stream text events", async () => {
    const { fake, adapter } = await setup("llama-server");
    fake.enqueue({ chunks: ["a", "b"] });
    const events = await collect(adapter.stream(input("m", { logprobs: { top: 1 } }), call()));
    const texts = events.filter((e) => e.type === "text");
    assert.deepEqual(
      texts.map((e) => e.logprobs?.map((l) => [l.token, l.topLogprobs.length])),
      [[["a", 1]], [["b", 1]]],
    );
  });
});
