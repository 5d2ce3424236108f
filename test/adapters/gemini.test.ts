// The Gemini adapter against the faithful Gemini fake: translation both ways, streaming (CRLF), embeddings,
// tools, usage, every error fixture, mid-stream failures and cancellation.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { GenerateInput } from "../../src/adapters/adapter.ts";
import type { GeminiAdapter } from "../../src/adapters/gemini/index.ts";
import type { UpstreamErrorKind } from "../../src/errors/upstream-error.ts";
import {
  bodyOf,
  call,
  collect,
  failingStream,
  geminiAdapter,
  input,
  MODEL,
  upstreamError,
} from "../upstreams/gemini-adapter-harness.ts";
import type { GeminiErrorFixtureName } from "../upstreams/gemini-errors.ts";
import { type GeminiFake, geminiError, type Script, startGeminiFake } from "../upstreams/gemini-fake.ts";
import { embeddingVector } from "../upstreams/openai-wire.ts";

const KEY = "AIza-adapter-test-key";

describe("GeminiAdapter against the Gemini fake", () => {
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

  it("generates: translates the request and reads text, finish, served model and exact usage", async () => {
    fake.enqueue({
      text: "Hi there",
      modelVersion: "gemini-2.5-flash-001",
      usage: {
        promptTokenCount: 17,
        candidatesTokenCount: 4,
        cachedContentTokenCount: 6,
        thoughtsTokenCount: 11,
      },
    });
    const output = await adapter.generate(
      input({
        messages: [
          { role: "system", content: "Be brief." },
          { role: "system", content: "Answer in English." },
          { role: "user", content: "Hello?" },
          { role: "assistant", content: "Hi." },
          { role: "user", content: "Say it as JSON" },
        ],
        sampling: { maxOutputTokens: 64, temperature: 0.3, topP: 0.9, stop: ["END"], seed: 42 },
        responseFormat: { type: "json_schema", name: "greeting", schema: { type: "object" }, strict: true },
      }),
      call(),
    );
    assert.deepEqual(output, {
      text: "Hi there",
      toolCalls: [],
      finishReason: "stop",
      model: "gemini-2.5-flash-001",
      usage: { inputTokens: 17, outputTokens: 15, cachedInputTokens: 6, reasoningTokens: 11 },
    });
    const recorded = fake.requests[0];
    assert.equal(recorded?.path, `/v1beta/models/${MODEL}:generateContent`);
    assert.equal(recorded?.headers["x-goog-api-key"], KEY);
    assert.equal(recorded?.headers.authorization, undefined);
    assert.deepEqual(recorded?.body, {
      contents: [
        { role: "user", parts: [{ text: "Hello?" }] },
        { role: "model", parts: [{ text: "Hi." }] },
        { role: "user", parts: [{ text: "Say it as JSON" }] },
      ],
      systemInstruction: { parts: [{ text: "Be brief." }, { text: "Answer in English." }] },
      generationConfig: {
        maxOutputTokens: 64,
        temperature: 0.3,
        topP: 0.9,
        stopSequences: ["END"],
        seed: 42,
        responseMimeType: "application/json",
        responseJsonSchema: { type: "object" },
      },
    });
  });

  it("asks for plain JSON with responseMimeType alone and sends no generationConfig when unset", async () => {
    await adapter.generate(input({ responseFormat: { type: "json_object" } }), call());
    await adapter.generate(input(), call());
    assert.deepEqual(bodyOf(fake, 0).generationConfig, { responseMimeType: "application/json" });
    assert.equal("generationConfig" in bodyOf(fake, 1), false);
    assert.equal("systemInstruction" in bodyOf(fake, 1), false);
  });

  it("maps finish reasons and a blocked prompt", async () => {
    const cases: [Script, string][] = [
      [{ finishReason: "MAX_TOKENS" }, "length"],
      [{ finishReason: "SAFETY" }, "content_filter"],
      [{ finishReason: "RECITATION" }, "content_filter"],
      [{ finishReason: "PROHIBITED_CONTENT" }, "content_filter"],
      [{ finishReason: "MALFORMED_FUNCTION_CALL" }, "other"],
      [{ blockReason: "SAFETY" }, "content_filter"],
    ];
    for (const [script, expected] of cases) {
      fake.enqueue(script);
      const output = await adapter.generate(input(), call());
      assert.equal(output.finishReason, expected, JSON.stringify(script));
    }
  });

  it("streams CRLF-delimited chunks as text deltas, then the last usage and the finish", async () => {
    fake.enqueue({
      chunks: ["The", " quick", " fox"],
      modelVersion: "gemini-2.5-flash-002",
      usage: { promptTokenCount: 5, candidatesTokenCount: 3, thoughtsTokenCount: 7 },
    });
    const events = await collect(adapter.stream(input(), call()));
    assert.deepEqual(events, [
      { type: "text", text: "The" },
      { type: "text", text: " quick" },
      { type: "text", text: " fox" },
      {
        type: "usage",
        usage: { inputTokens: 5, outputTokens: 10, cachedInputTokens: 0, reasoningTokens: 7 },
      },
      { type: "finish", reason: "stop", model: "gemini-2.5-flash-002" },
    ]);
    assert.equal(fake.requests[0]?.path, `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`);
    assert.equal(fake.served.streamsCompleted, 1);
  });

  it("parses the recorded CRLF fixture byte for byte, slowly dripped", async () => {
    fake.enqueue({ kind: "sse-fixture", name: "stream-text", chunkDelayMs: 5 });
    const events = await collect(adapter.stream(input(), call()));
    assert.deepEqual(events, [
      { type: "text", text: "Hello" },
      { type: "text", text: " from the" },
      { type: "text", text: " Gemini fake" },
      {
        type: "usage",
        usage: { inputTokens: 9, outputTokens: 26, cachedInputTokens: 0, reasoningTokens: 21 },
      },
      { type: "finish", reason: "stop", model: "gemini-2.5-flash" },
    ]);
  });

  it("streams LF-delimited chunks too", async () => {
    fake.enqueue({ chunks: ["a", "b"], crlf: false });
    const events = await collect(adapter.stream(input(), call()));
    assert.deepEqual(
      events.filter((e) => e.type === "text").map((e) => e.text),
      ["a", "b"],
    );
    assert.equal(events.at(-1)?.type, "finish");
  });

  it("embeds one input with embedContent and reports no usage", async () => {
    const output = await adapter.embed(
      { model: "gemini-embedding-001", inputs: ["alone"], dimensions: 6 },
      call(),
    );
    assert.equal(fake.requests[0]?.path, "/v1beta/models/gemini-embedding-001:embedContent");
    assert.deepEqual(bodyOf(fake), { content: { parts: [{ text: "alone" }] }, outputDimensionality: 6 });
    assert.deepEqual(output.vectors, [Float32Array.from(embeddingVector("alone", 6))]);
    assert.equal(output.model, "gemini-embedding-001");
    assert.equal(output.usage, undefined);
  });

  it("embeds many inputs with batchEmbedContents, in order, 100 per call", async () => {
    const inputs = Array.from({ length: 230 }, (_, i) => `text number ${i}`);
    const output = await adapter.embed({ model: "gemini-embedding-001", inputs }, call());
    assert.deepEqual(
      fake.requests.map((r) => (r.body as { requests: unknown[] }).requests.length),
      [100, 100, 30],
    );
    assert.ok(
      fake.requests.every((r) => r.path === "/v1beta/models/gemini-embedding-001:batchEmbedContents"),
    );
    assert.deepEqual((bodyOf(fake) as { requests: unknown[] }).requests[0], {
      model: "models/gemini-embedding-001",
      content: { parts: [{ text: "text number 0" }] },
    });
    assert.equal(output.vectors.length, 230);
    output.vectors.forEach((vector, i) => {
      assert.deepEqual(vector, Float32Array.from(embeddingVector(`text number ${i}`, 8)), `vector ${i}`);
    });
    assert.equal(output.usage, undefined);
  });

  it("round-trips tools: declarations, tool choice, calls out with ids, results back by name", async () => {
    fake.enqueue({
      functionCalls: [
        { name: "get_weather", args: { city: "Paris" } },
        { name: "get_time", args: { tz: "Europe/Paris" } },
      ],
    });
    const tools = [
      {
        name: "get_weather",
        description: "Weather of a city",
        parameters: { type: "object", properties: { city: { type: "string" } }, additionalProperties: false },
      },
      { name: "get_time" },
    ];
    const first = await adapter.generate(input({ tools, toolChoice: { function: "get_weather" } }), call());
    assert.deepEqual(first.toolCalls, [
      { id: "call_0", name: "get_weather", arguments: '{"city":"Paris"}' },
      { id: "call_1", name: "get_time", arguments: '{"tz":"Europe/Paris"}' },
    ]);
    assert.equal(first.finishReason, "tool_calls");
    assert.deepEqual(bodyOf(fake).tools, [
      {
        functionDeclarations: [
          {
            name: "get_weather",
            description: "Weather of a city",
            parametersJsonSchema: tools[0]?.parameters,
          },
          { name: "get_time" },
        ],
      },
    ]);
    assert.deepEqual(bodyOf(fake).toolConfig, {
      functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["get_weather"] },
    });

    await adapter.generate(
      input({
        tools,
        messages: [
          { role: "user", content: "Weather and time in Paris?" },
          { role: "assistant", content: "", toolCalls: first.toolCalls },
          { role: "tool", toolCallId: "call_1", content: "14:05" },
          { role: "tool", toolCallId: "call_0", content: '{"temp_c":21}' },
          { role: "user", content: "Thanks" },
        ],
      }),
      call(),
    );
    assert.deepEqual(bodyOf(fake, 1).contents, [
      { role: "user", parts: [{ text: "Weather and time in Paris?" }] },
      {
        role: "model",
        parts: [
          { functionCall: { name: "get_weather", args: { city: "Paris" } } },
          { functionCall: { name: "get_time", args: { tz: "Europe/Paris" } } },
        ],
      },
      {
        role: "user",
        parts: [
          { functionResponse: { name: "get_time", response: { output: "14:05" } } },
          { functionResponse: { name: "get_weather", response: { temp_c: 21 } } },
        ],
      },
      { role: "user", parts: [{ text: "Thanks" }] },
    ]);
    assert.equal("toolConfig" in bodyOf(fake, 1), false, "no tool choice given");
  });

  it("maps tool choice modes to AUTO, NONE and ANY", async () => {
    const tools = [{ name: "f" }];
    for (const mode of ["auto", "none", "required"] as const) {
      await adapter.generate(input({ tools, toolChoice: { mode } }), call());
    }
    assert.deepEqual(
      fake.requests.map((r) => (r.body as { toolConfig: unknown }).toolConfig),
      ["AUTO", "NONE", "ANY"].map((mode) => ({ functionCallingConfig: { mode } })),
    );
  });

  it("rejects a tool result that matches no earlier call, before calling the backend", async () => {
    const messages: GenerateInput["messages"] = [{ role: "tool", toolCallId: "call_9", content: "x" }];
    const error = await upstreamError(adapter.generate(input({ messages }), call()));
    assert.equal(error.kind, "bad_request");
    assert.equal(fake.requests.length, 0);
  });

  it("streams text then whole function calls, reassembled with ids, finishing as tool_calls", async () => {
    fake.enqueue({ kind: "sse-fixture", name: "stream-function-call" });
    const events = await collect(adapter.stream(input({ tools: [{ name: "get_weather" }] }), call()));
    assert.deepEqual(events, [
      { type: "text", text: "Let me check both." },
      // The first call's thought signature, kept for the next turn (named by the call it belongs to).
      {
        type: "reasoning",
        index: 0,
        provider: "gemini",
        signature: "CiQBVKhc7nZ0bXlzaWduYXR1cmVmb3J0ZXN0cw==",
        id: "call_0",
      },
      {
        type: "tool_call",
        index: 0,
        id: "call_0",
        name: "get_weather",
        argumentsDelta: '{"city":"Paris","unit":"celsius"}',
      },
      {
        type: "tool_call",
        index: 1,
        id: "call_1",
        name: "get_time",
        argumentsDelta: '{"tz":"Europe/Paris"}',
      },
      { type: "usage", usage: { inputTokens: 9, outputTokens: 24, cachedInputTokens: 0 } },
      { type: "finish", reason: "tool_calls", model: "gemini-2.5-flash" },
    ]);
  });

  const errorCases: [GeminiErrorFixtureName, UpstreamErrorKind, number, number | undefined][] = [
    ["invalid_argument", "bad_request", 400, undefined],
    ["api_key_invalid", "auth", 400, undefined],
    ["permission_denied", "auth", 403, undefined],
    ["not_found", "auth", 404, undefined],
    ["resource_exhausted", "rate_limited", 429, 13_000],
    ["internal", "unavailable", 500, undefined],
    ["unavailable", "overloaded", 503, undefined],
    ["deadline_exceeded", "timeout", 504, undefined],
  ];
  for (const [fixture, kind, status, retryAfterMs] of errorCases) {
    it(`classifies ${fixture} (HTTP ${status}) as ${kind}`, async () => {
      fake.enqueue(geminiError(fixture), geminiError(fixture));
      for (const attempt of [
        () => adapter.generate(input(), call()),
        () => collect(adapter.stream(input(), call())),
      ]) {
        const error = await upstreamError(attempt());
        assert.equal(error.kind, kind);
        assert.equal(error.status, status);
        assert.equal(error.retryAfterMs, retryAfterMs);
        assert.equal(error.afterFirstToken, false);
        assert.doesNotMatch(error.message, /AIza/, "never a key, not even the one the provider quoted");
      }
    });
  }

  it("keeps only the provider's status and reason, never its message (it can quote the prompt or the key)", async () => {
    fake.enqueue(geminiError("unavailable"), geminiError("permission_denied"));
    const overloaded = await upstreamError(adapter.generate(input(), call()));
    assert.match(overloaded.message, /\(UNAVAILABLE\)$/);
    assert.doesNotMatch(overloaded.message, /The model is overloaded/);
    const denied = await upstreamError(adapter.generate(input(), call()));
    assert.match(denied.message, /PERMISSION_DENIED\/CONSUMER_SUSPENDED\)$/);
  });

  it("prefers a retry-after header over RetryInfo", async () => {
    fake.enqueue(geminiError("resource_exhausted", { headers: { "retry-after": "2" } }));
    const error = await upstreamError(adapter.generate(input(), call()));
    assert.equal(error.retryAfterMs, 2_000);
  });

  it("reads fractional RetryInfo durations", async () => {
    const body = {
      error: {
        code: 429,
        message: "Resource has been exhausted (e.g. check quota).",
        status: "RESOURCE_EXHAUSTED",
        details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "1.5s" }],
      },
    };
    fake.enqueue({ kind: "error", status: 429, body });
    const error = await upstreamError(adapter.generate(input(), call()));
    assert.equal(error.kind, "rate_limited");
    assert.equal(error.retryAfterMs, 1_500);
  });

  it("authenticates with the key: a wrong key is an auth error without the key in it", async () => {
    const wrong = geminiAdapter(fake, "AIza-wrong-key", "gemini-wrong");
    try {
      const error = await upstreamError(wrong.generate(input(), call()));
      assert.equal(error.kind, "auth");
      assert.equal(error.status, 400);
      assert.match(error.message, /INVALID_ARGUMENT\/API_KEY_INVALID/);
      assert.doesNotMatch(error.message, /wrong-key/);
    } finally {
      await wrong.close();
    }
  });

  it("fails a stream on a mid-stream error event, after the text it had already sent", async () => {
    fake.enqueue({ chunks: ["a", "b", "c"], errorAfterEvents: 2 });
    const { seen, error } = await failingStream(adapter.stream(input(), call()));
    assert.deepEqual(seen, [
      { type: "text", text: "a" },
      { type: "text", text: "b" },
    ]);
    assert.equal(error.kind, "unavailable");
    assert.equal(error.afterFirstToken, true);
    assert.match(error.message, /mid-stream \(INTERNAL/);
  });

  it("a status or ErrorInfo reason the server made up, or a non-JSON body, never reaches the message", async () => {
    const leak = "AIzaSy_CANARY_0001";
    const status = (code: number) => ({
      code,
      message: leak,
      status: leak,
      details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: leak, domain: leak }],
    });
    fake.enqueue(
      { kind: "error", status: 400, body: { error: status(400) } },
      { kind: "error", status: 400, body: { error: { ...status(400), status: "INVALID_ARGUMENT" } } },
      { kind: "error", status: 400, body: `<html>${leak}</html>`, headers: { "content-type": "text/html" } },
      { chunks: ["a", "b"], errorAfterEvents: 1, streamErrorStatus: status(500) },
    );
    assert.equal(
      (await upstreamError(adapter.generate(input(), call()))).message,
      "gemini-test answered HTTP 400",
    );
    const known = await upstreamError(adapter.generate(input(), call()));
    assert.equal(known.message, "gemini-test answered HTTP 400 (INVALID_ARGUMENT)");
    assert.equal(
      (await upstreamError(adapter.generate(input(), call()))).message,
      "gemini-test answered HTTP 400",
    );
    const { error } = await failingStream(adapter.stream(input(), call()));
    assert.equal(error.message, "gemini-test sent an error mid-stream");
  });

  it("fails a stream the upstream cut, and one that ended without a finishReason", async () => {
    fake.enqueue({ chunks: ["a", "b", "c"], cutAfterEvents: 1 }, { chunks: ["a", "b"], finishReason: null });
    const cut = await failingStream(adapter.stream(input(), call()));
    assert.deepEqual(cut.seen, [{ type: "text", text: "a" }]);
    assert.equal(cut.error.kind, "unavailable");
    assert.equal(cut.error.afterFirstToken, true);
    const early = await failingStream(adapter.stream(input(), call()));
    assert.equal(early.seen.length, 2);
    assert.equal(early.error.kind, "unavailable");
    assert.match(early.error.message, /without a finishReason/);
    assert.equal(fake.served.streamsCompleted, 1, "the fake did complete its (finish-less) body");
  });

  it("reports a connection reset as unavailable", async () => {
    fake.enqueue({ kind: "reset" });
    const error = await upstreamError(adapter.generate(input(), call()));
    assert.equal(error.kind, "unavailable");
  });

  it("aborts the upstream request when the call's signal fires mid-stream", async () => {
    fake.enqueue({ chunks: ["a", "b", "c"], hangAfterEvents: 1 });
    const controller = new AbortController();
    const iterator = adapter.stream(input(), call(controller.signal))[Symbol.asyncIterator]();
    assert.deepEqual((await iterator.next()).value, { type: "text", text: "a" });
    const pending = iterator.next();
    controller.abort();
    const error = await upstreamError(pending);
    assert.equal(error.kind, "timeout", "our own abort (deadline or cancel)");
    assert.equal(error.afterFirstToken, true);
    await fake.waitForAbort(0);
    assert.equal(fake.requests[0]?.aborted, true);
  });

  it("aborts a unary request that is still waiting for headers", async () => {
    fake.enqueue({ kind: "hang" });
    const controller = new AbortController();
    const pending = adapter.generate(input(), call(controller.signal));
    await fake.waitForRequests(1);
    controller.abort();
    assert.equal((await upstreamError(pending)).kind, "timeout");
    await fake.waitForAbort(0);
  });

  it("releases the upstream when the consumer stops reading", async () => {
    fake.enqueue({ chunks: ["a", "b", "c"], hangAfterEvents: 1 });
    for await (const event of adapter.stream(input(), call())) {
      assert.deepEqual(event, { type: "text", text: "a" });
      break;
    }
    await fake.waitForAbort(0);
    assert.equal(fake.served.streamsCompleted, 0);
  });

  it("accepts a model given as models/<id>", async () => {
    await adapter.generate(input({ model: "models/gemini-2.0-flash" }), call());
    assert.equal(fake.requests[0]?.path, "/v1beta/models/gemini-2.0-flash:generateContent");
  });
});
