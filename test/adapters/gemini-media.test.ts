// The Gemini adapter's new request surface against the Gemini fake: image/audio/document parts, reasoning
// options, thought summaries and signatures (round-tripped unchanged), logprobs, token classes and the
// fields Gemini has no place for.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type {
  AdapterEvent,
  ChatMessage,
  GenerateOutput,
  ReasoningOptions,
} from "../../src/adapters/adapter.ts";
import type { GeminiAdapter } from "../../src/adapters/gemini/index.ts";
import { EFFORT_BUDGET } from "../../src/adapters/gemini/thinking.ts";
import { bodyOf, call, collect, geminiAdapter, input } from "../upstreams/gemini-adapter-harness.ts";
import { type GeminiFake, startGeminiFake } from "../upstreams/gemini-fake.ts";
import { audioTokens, IMAGE_TOKENS, logprobStep } from "../upstreams/gemini-wire.ts";

const KEY = "AIza-media-test-key";
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const WAV = new Uint8Array(3200).fill(3);
const PDF = new TextEncoder().encode("%PDF-1.7 fake");
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

/** The assistant message a client sends back after `output`: its reasoning as parts, then its text. */
function assistantTurn(output: GenerateOutput): ChatMessage {
  return {
    role: "assistant",
    content: output.text,
    parts: [
      ...(output.reasoning ?? []).map((r) => ({ type: "reasoning" as const, ...r })),
      ...(output.text ? [{ type: "text" as const, text: output.text }] : []),
    ],
    toolCalls: output.toolCalls,
  };
}

describe("GeminiAdapter: media, reasoning, signatures and logprobs", () => {
  let fake: GeminiFake;
  let adapter: GeminiAdapter;
  beforeEach(async () => {
    fake = await startGeminiFake({ requireApiKey: KEY });
    adapter = geminiAdapter(fake, KEY);
  });
  afterEach(async () => {
    await adapter.close();
    await fake.close();
  });

  it("sends images by URL and bytes, audio and documents as the parts the API takes, and reads media token classes", async () => {
    const output = await adapter.generate(
      input({
        messages: [
          {
            role: "user",
            content: "Compare",
            parts: [
              { type: "text", text: "Compare" },
              { type: "image", source: { url: "https://example.com/a/cat.PNG?size=2" }, detail: "high" },
              { type: "image", source: { url: "https://example.com/render" }, detail: "auto" },
              { type: "image", source: { url: `data:image/webp;base64,${b64(PNG)}` } },
              { type: "image", source: { data: PNG, mediaType: "image/png" }, detail: "low" },
              { type: "audio", data: WAV, format: "mp3" },
              { type: "document", source: { data: PDF, mediaType: "application/pdf" }, title: "Spec" },
              { type: "document", source: { url: "https://example.com/spec.pdf" } },
              { type: "document", source: { text: "plain notes" }, title: "Notes" },
            ],
          },
        ],
      }),
      call(),
    );
    assert.deepEqual(bodyOf(fake).contents, [
      {
        role: "user",
        parts: [
          { text: "Compare" },
          {
            fileData: { mimeType: "image/png", fileUri: "https://example.com/a/cat.PNG?size=2" },
            mediaResolution: { level: "MEDIA_RESOLUTION_HIGH" },
          },
          // No extension: fileData needs a type, and JPEG is the common one.
          { fileData: { mimeType: "image/jpeg", fileUri: "https://example.com/render" } },
          { inlineData: { mimeType: "image/webp", data: b64(PNG) } },
          {
            inlineData: { mimeType: "image/png", data: b64(PNG) },
            mediaResolution: { level: "MEDIA_RESOLUTION_LOW" },
          },
          { inlineData: { mimeType: "audio/mp3", data: b64(WAV) } },
          { inlineData: { mimeType: "application/pdf", data: b64(PDF) } },
          { fileData: { mimeType: "application/pdf", fileUri: "https://example.com/spec.pdf" } },
          { text: "Notes\n\nplain notes" },
        ],
      },
    ]);
    // The fake counts 258 per image, 1 per 1,000 audio bytes, and reports them by modality.
    assert.equal(output.usage?.imageInputTokens, 4 * IMAGE_TOKENS);
    assert.equal(output.usage?.audioInputTokens, audioTokens(b64(WAV)));
    assert.equal(output.usage?.inputTokens, fake.served.promptTokens);
  });

  it("maps reasoning effort to thinkingLevel on Gemini 3, to a budget on Gemini 2.x, and a budget as is", async () => {
    const reasoning = (r: ReasoningOptions) => ({ reasoning: r });
    await adapter.generate(
      input({ model: "gemini-3-pro-preview", ...reasoning({ effort: "low", includeText: true }) }),
      call(),
    );
    await adapter.generate(input(reasoning({ effort: "medium", includeText: false })), call());
    await adapter.generate(
      input({
        model: "models/gemini-3-flash",
        ...reasoning({ effort: "high", budgetTokens: 2048, includeText: false }),
      }),
      call(),
    );
    await adapter.generate(input(reasoning({ budgetTokens: 0, includeText: false })), call());
    assert.deepEqual(
      fake.requests.map(
        (_, i) => (bodyOf(fake, i).generationConfig as { thinkingConfig: unknown }).thinkingConfig,
      ),
      [
        { includeThoughts: true, thinkingLevel: "LOW" },
        { thinkingBudget: EFFORT_BUDGET.medium },
        { thinkingBudget: 2048 },
        { thinkingBudget: 0 },
      ],
    );
    assert.equal(EFFORT_BUDGET.medium, 8192);
  });

  it("reads thought summaries and signatures as gemini reasoning, and the reasoning tokens within output", async () => {
    fake.enqueue({
      text: "Sunny.",
      thoughts: [{ text: "Check the sky", signature: "dGhvdWdodC0x" }],
      textSignature: "dGV4dC1zaWc=",
      usage: {
        promptTokenCount: 9,
        candidatesTokenCount: 2,
        thoughtsTokenCount: 40,
        cachedContentTokenCount: 4,
      },
    });
    const output = await adapter.generate(input({ reasoning: { includeText: true } }), call());
    assert.equal(output.text, "Sunny.", "thoughts are not answer text");
    assert.deepEqual(output.reasoning, [
      { provider: "gemini", text: "Check the sky", signature: "dGhvdWdodC0x" },
      { provider: "gemini", text: "", signature: "dGV4dC1zaWc=" },
    ]);
    assert.deepEqual(output.usage, {
      inputTokens: 9,
      outputTokens: 42,
      cachedInputTokens: 4,
      reasoningTokens: 40,
    });
  });

  it("streams thoughts as reasoning deltas apart from text, one block until its signature", async () => {
    fake.enqueue({
      chunks: ["It", " is"],
      thoughts: [{ text: "Step one" }, { text: ", step two", signature: "c2lnLWE=" }, { text: "Again" }],
      functionCalls: [{ name: "look", args: {}, thoughtSignature: "c2lnLWI=" }],
    });
    const events = await collect(
      adapter.stream(input({ reasoning: { includeText: true }, tools: [{ name: "look" }] }), call()),
    );
    const body: AdapterEvent[] = events.filter((e) => e.type !== "usage" && e.type !== "finish");
    assert.deepEqual(body, [
      { type: "reasoning", index: 0, provider: "gemini", text: "Step one" },
      { type: "reasoning", index: 0, provider: "gemini", text: ", step two", signature: "c2lnLWE=" },
      { type: "reasoning", index: 1, provider: "gemini", text: "Again" },
      { type: "text", text: "It" },
      { type: "text", text: " is" },
      { type: "reasoning", index: 2, provider: "gemini", signature: "c2lnLWI=", id: "call_0" },
      { type: "tool_call", index: 0, id: "call_0", name: "look", argumentsDelta: "{}" },
    ]);
    const usage = events.find((e) => e.type === "usage");
    assert.equal(usage?.type === "usage" && usage.usage.reasoningTokens, 6, "thought words");
  });

  it("round-trips thought signatures unchanged on a Gemini 3 tool-calling conversation", async () => {
    const model = "gemini-3-flash-preview";
    fake.enqueue(
      {
        text: "Let me look.",
        thoughts: [{ text: "Need data", signature: "dGhvdWdodA==" }],
        functionCalls: [
          { name: "lookup", args: { q: "a" }, thoughtSignature: "Y2FsbC0w" },
          { name: "lookup", args: { q: "b" } },
        ],
      },
      { text: "Done.", textSignature: "ZmluYWw=" },
      {},
    );
    const tools = [{ name: "lookup" }];
    const user: ChatMessage = { role: "user", content: "find a and b" };
    const first = await adapter.generate(
      input({ model, tools, messages: [user], reasoning: { includeText: true } }),
      call(),
    );
    assert.deepEqual(first.reasoning, [
      { provider: "gemini", text: "Need data", signature: "dGhvdWdodA==" },
      { provider: "gemini", text: "", signature: "Y2FsbC0w", id: "call_0" },
    ]);
    const results: ChatMessage[] = first.toolCalls.map((c, i) => ({
      role: "tool",
      toolCallId: c.id,
      content: `r${i}`,
    }));
    const second = await adapter.generate(
      input({ model, tools, messages: [user, assistantTurn(first), ...results] }),
      call(),
    );
    assert.deepEqual((bodyOf(fake, 1).contents as unknown[])[1], {
      role: "model",
      parts: [
        { text: "Need data", thought: true, thoughtSignature: "dGhvdWdodA==" },
        { text: "Let me look." },
        { functionCall: { name: "lookup", args: { q: "a" } }, thoughtSignature: "Y2FsbC0w" },
        { functionCall: { name: "lookup", args: { q: "b" } } },
      ],
    });
    // A text answer's signature goes back on the text; another provider's reasoning is not sent.
    const third: ChatMessage = assistantTurn(second);
    third.parts?.unshift({ type: "reasoning", provider: "anthropic", text: "hmm", signature: "EqQB" });
    await adapter.generate(
      input({ model, messages: [user, third, { role: "user", content: "thanks" }] }),
      call(),
    );
    assert.deepEqual((bodyOf(fake, 2).contents as unknown[])[1], {
      role: "model",
      parts: [{ text: "Done.", thoughtSignature: "ZmluYWw=" }],
    });
  });

  it("asks for logprobs and returns them per token, unary and in each streamed text event", async () => {
    fake.enqueue({ chunks: ["Red", " or", " blue"] }, { chunks: ["Red", " or"] });
    const unary = await adapter.generate(input({ logprobs: { top: 3 } }), call());
    assert.deepEqual(bodyOf(fake).generationConfig, { responseLogprobs: true, logprobs: 3 });
    const expected = ["Red", " or", " blue"].map((piece, i) => {
      const step = logprobStep(piece, i, 3);
      return {
        token: piece,
        logprob: step.chosen.logProbability,
        topLogprobs: step.top.map((t) => ({ token: t.token, logprob: t.logProbability })),
      };
    });
    assert.deepEqual(unary.logprobs, expected);
    assert.equal(unary.logprobs?.[2]?.topLogprobs.length, 3);
    const events = await collect(adapter.stream(input({ logprobs: { top: 0 } }), call()));
    assert.deepEqual(bodyOf(fake, 1).generationConfig, { responseLogprobs: true });
    assert.deepEqual(
      events.flatMap((e) => (e.type === "text" ? [e.logprobs] : [])),
      [
        [{ token: "Red", logprob: expected[0]?.logprob, topLogprobs: [] }],
        [{ token: " or", logprob: expected[1]?.logprob, topLogprobs: [] }],
      ],
    );
  });

  it("sends stop, seed and the service tier; leaves out what Gemini has no field for", async () => {
    await adapter.generate(
      input({
        messages: [
          { role: "system", content: "Be brief.", cache: { ttl: "1h" } },
          { role: "user", content: "Hi", parts: [{ type: "text", text: "Hi", cache: { ttl: "5m" } }] },
        ],
        tools: [{ name: "f", cache: {} }],
        sampling: { stop: ["\n\n"], seed: 7 },
        promptCacheKey: "tenant-1",
        endUserId: "user-42",
        providerMetadata: { team: "a" },
        parallelToolCalls: false,
        serviceTier: "flex",
      }),
      call(),
    );
    assert.deepEqual(bodyOf(fake), {
      contents: [{ role: "user", parts: [{ text: "Hi" }] }],
      systemInstruction: { parts: [{ text: "Be brief." }] },
      tools: [{ functionDeclarations: [{ name: "f" }] }],
      generationConfig: { stopSequences: ["\n\n"], seed: 7 },
      serviceTier: "flex",
    });
    await adapter.generate(input({ serviceTier: "default" }), call());
    await adapter.generate(input({ serviceTier: "auto" }), call());
    assert.equal(bodyOf(fake, 1).serviceTier, "standard");
    assert.equal("serviceTier" in bodyOf(fake, 2), false);
  });

  it("sends a tool result's image with its text as the function response", async () => {
    fake.enqueue({ functionCalls: [{ name: "screenshot", args: {} }] }, {});
    const first = await adapter.generate(input({ tools: [{ name: "screenshot" }] }), call());
    const result: ChatMessage = {
      role: "tool",
      toolCallId: first.toolCalls[0]?.id ?? "",
      content: "captured",
      parts: [
        { type: "text", text: "captured" },
        { type: "image", source: { data: PNG, mediaType: "image/png" } },
      ],
    };
    await adapter.generate(
      input({
        tools: [{ name: "screenshot" }],
        messages: [{ role: "user", content: "shoot" }, assistantTurn(first), result],
      }),
      call(),
    );
    assert.deepEqual((bodyOf(fake, 1).contents as unknown[])[2], {
      role: "user",
      parts: [
        {
          functionResponse: {
            name: "screenshot",
            response: { output: "captured" },
            parts: [{ inlineData: { mimeType: "image/png", data: b64(PNG) } }],
          },
        },
      ],
    });
  });
});
