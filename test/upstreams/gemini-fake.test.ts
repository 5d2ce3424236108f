// Fidelity of the Gemini fake: the official @google/genai SDK must understand everything it serves, and
// its streams must have the structure of the recorded fixtures (Google's compact JSON, CRLF line ends).
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { ApiError, FunctionCallingConfigMode, GoogleGenAI } from "@google/genai";
import { request } from "undici";
import {
  GEMINI_ERROR_FIXTURES,
  type GeminiErrorFixtureName,
  loadGeminiHttpFixture,
  loadGeminiSseFixture,
} from "./gemini-errors.ts";
import { type GeminiFake, geminiError, startGeminiFake } from "./gemini-fake.ts";
import { embeddingVector } from "./openai-wire.ts";

const MODEL = "gemini-2.5-flash";

function sdk(fake: GeminiFake, apiKey = "AIza-test-key"): GoogleGenAI {
  return new GoogleGenAI({ apiKey, httpOptions: { baseUrl: fake.url } });
}

/** POSTs raw JSON to the fake, for what the SDK would never send or never show. */
async function post(fake: GeminiFake, path: string, body: unknown, key = "AIza-test-key") {
  const response = await request(`${fake.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": key },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

/** The key paths of a JSON value in order ("candidates[].content.parts[].text"), values dropped. */
function skeleton(value: unknown, path = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => skeleton(v, `${path}[]`));
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => [`${path}.${k}`, ...skeleton(v, `${path}.${k}`)]);
  }
  return [];
}

describe("Gemini fake, driven by the official @google/genai SDK", () => {
  let fake: GeminiFake;
  beforeEach(async () => {
    fake = await startGeminiFake();
  });
  afterEach(async () => {
    await fake.close();
  });

  it("answers generateContent with Gemini's shape, usage and headers", async () => {
    fake.enqueue({
      text: "Hi there, tester",
      usage: {
        promptTokenCount: 7,
        candidatesTokenCount: 4,
        cachedContentTokenCount: 2,
        thoughtsTokenCount: 5,
      },
      modelVersion: "gemini-2.5-flash-001",
    });
    const response = await sdk(fake).models.generateContent({
      model: MODEL,
      contents: "Say hello to the nice test",
      config: {
        systemInstruction: "Be brief.",
        maxOutputTokens: 50,
        temperature: 0.2,
        stopSequences: ["END"],
      },
    });
    assert.equal(response.text, "Hi there, tester");
    assert.equal(response.candidates?.[0]?.finishReason, "STOP");
    assert.equal(response.candidates?.[0]?.content?.role, "model");
    assert.equal(response.modelVersion, "gemini-2.5-flash-001");
    assert.match(response.responseId ?? "", /^[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(
      { ...response.usageMetadata },
      {
        promptTokenCount: 7,
        candidatesTokenCount: 4,
        totalTokenCount: 16,
        cachedContentTokenCount: 2,
        promptTokensDetails: [{ modality: "TEXT", tokenCount: 7 }],
        cacheTokensDetails: [{ modality: "TEXT", tokenCount: 2 }],
        thoughtsTokenCount: 5,
      },
    );
    assert.equal(response.sdkHttpResponse?.headers?.["content-type"], "application/json; charset=UTF-8");
    const [recorded] = fake.requests;
    assert.equal(recorded?.path, `/v1beta/models/${MODEL}:generateContent`);
    assert.equal(recorded?.headers["x-goog-api-key"], "AIza-test-key");
    assert.deepEqual(recorded?.body, {
      contents: [{ parts: [{ text: "Say hello to the nice test" }], role: "user" }],
      systemInstruction: { parts: [{ text: "Be brief." }], role: "user" },
      generationConfig: { maxOutputTokens: 50, temperature: 0.2, stopSequences: ["END"] },
    });
    assert.deepEqual(fake.served, {
      requests: 1,
      promptTokens: 7,
      completionTokens: 9,
      streamsCompleted: 0,
      embeddings: 0,
      aborts: 0,
    });
  });

  it("serves the unary body as 2-space JSON with a trailing newline, like the real API", async () => {
    const raw = await post(fake, `/v1beta/models/${MODEL}:generateContent`, {
      contents: [{ role: "user", parts: [{ text: "one two three" }] }],
    });
    assert.equal(raw.status, 200);
    assert.ok(raw.text.startsWith('{\n  "candidates": [\n    {\n      "content": {\n'));
    assert.ok(raw.text.endsWith("}\n"));
    assert.equal(JSON.parse(raw.text).usageMetadata.promptTokenCount, 3, "default: words of the prompt");
  });

  it("streams text chunks the SDK reassembles, with cumulative usage and the finish on the last chunk", async () => {
    fake.enqueue({ text: "The quick brown fox jumps" });
    const stream = await sdk(fake).models.generateContentStream({ model: MODEL, contents: "Go" });
    const texts: string[] = [];
    const finishes: (string | undefined)[] = [];
    const counts: (number | undefined)[] = [];
    for await (const chunk of stream) {
      texts.push(chunk.text ?? "");
      finishes.push(chunk.candidates?.[0]?.finishReason);
      counts.push(chunk.usageMetadata?.candidatesTokenCount);
    }
    assert.deepEqual(texts, ["The", " quick", " brown", " fox", " jumps"]);
    assert.deepEqual(finishes, [undefined, undefined, undefined, undefined, "STOP"]);
    assert.deepEqual(counts, [1, 2, 3, 4, 5]);
    assert.equal(fake.requests[0]?.path, `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`);
    assert.equal(fake.requests[0]?.completed, true);
    assert.equal(fake.served.streamsCompleted, 1);
    assert.equal(fake.served.completionTokens, 5);
  });

  it("writes SSE events with CRLF by default and LF when scripted, in the fixtures' layout", async () => {
    const path = `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`;
    const body = { contents: [{ role: "user", parts: [{ text: "hi" }] }] };
    fake.enqueue({ chunks: ["Hello", " from the", " Gemini fake"] }, { chunks: ["a", "b"], crlf: false });
    const crlf = await post(fake, path, body);
    assert.equal(crlf.headers["content-type"], "text/event-stream");
    assert.equal(crlf.headers["content-disposition"], "attachment");
    const events = crlf.text.split(/(?<=\r\n\r\n)/);
    const recorded = loadGeminiSseFixture("stream-text");
    assert.equal(events.length, recorded.length);
    events.forEach((event, i) => {
      assert.match(event, /^data: \{"candidates": \[\{"content": \{"parts": \[\{"text": /);
      assert.ok(event.endsWith("}\r\n\r\n"));
      assert.equal(event.slice(0, -4).includes("\n"), false, "one line per event");
      const expected = skeleton(JSON.parse(recorded[i]?.slice(6) ?? "")).filter(
        (k) => !k.includes("thoughts"),
      );
      assert.deepEqual(skeleton(JSON.parse(event.slice(6))), expected, `event ${i} has the fixture's fields`);
    });
    const lf = await post(fake, path, body);
    assert.equal(lf.text.includes("\r"), false);
    assert.equal(lf.text.split("\n\n").filter(Boolean).length, 2);
  });

  it("parses the recorded CRLF fixtures through the SDK", async () => {
    fake.enqueue(
      { kind: "sse-fixture", name: "stream-text" },
      { kind: "sse-fixture", name: "stream-function-call" },
    );
    const ai = sdk(fake);
    let text = "";
    let last: Awaited<ReturnType<typeof ai.models.generateContent>> | undefined;
    for await (const chunk of await ai.models.generateContentStream({ model: MODEL, contents: "x" })) {
      text += chunk.text ?? "";
      last = chunk;
    }
    assert.equal(text, "Hello from the Gemini fake");
    assert.equal(last?.usageMetadata?.thoughtsTokenCount, 21);
    const calls = [];
    for await (const chunk of await ai.models.generateContentStream({ model: MODEL, contents: "x" })) {
      calls.push(...(chunk.functionCalls ?? []));
    }
    assert.deepEqual(calls, [
      { name: "get_weather", args: { city: "Paris", unit: "celsius" } },
      { name: "get_time", args: { tz: "Europe/Paris" } },
    ]);
  });

  it("answers function calls (unary and streamed) and accepts the SDK's tool config", async () => {
    const functionCalls = [
      { name: "get_weather", args: { city: "Paris" } },
      { name: "get_time", args: { tz: "Europe/Paris" } },
    ];
    fake.enqueue({ functionCalls }, { text: "Checking.", functionCalls });
    const ai = sdk(fake);
    const config = {
      tools: [{ functionDeclarations: [{ name: "get_weather", parametersJsonSchema: { type: "object" } }] }],
      toolConfig: {
        functionCallingConfig: { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: ["get_weather"] },
      },
    };
    const unary = await ai.models.generateContent({ model: MODEL, contents: "weather?", config });
    assert.deepEqual(unary.functionCalls, functionCalls);
    assert.equal(unary.candidates?.[0]?.finishReason, "STOP", "Gemini says STOP after function calls");
    const body = fake.requests[0]?.body as Record<string, unknown>;
    assert.deepEqual(body.tools, config.tools);
    assert.deepEqual(body.toolConfig, config.toolConfig);
    const chunks = [];
    for await (const chunk of await ai.models.generateContentStream({
      model: MODEL,
      contents: "x",
      config,
    })) {
      chunks.push(chunk);
    }
    assert.equal(chunks.length, 2, "the text chunk, then every call in one chunk");
    assert.equal(chunks[0]?.text, "Checking.");
    assert.deepEqual(chunks[1]?.functionCalls, functionCalls);
  });

  it("reports a blocked prompt with promptFeedback and no candidates", async () => {
    fake.enqueue({ blockReason: "PROHIBITED_CONTENT" });
    const response = await sdk(fake).models.generateContent({ model: MODEL, contents: "x" });
    assert.equal(response.candidates, undefined);
    assert.equal(response.promptFeedback?.blockReason, "PROHIBITED_CONTENT");
    assert.equal(response.usageMetadata?.candidatesTokenCount, undefined);
  });

  it("embeds through batchEmbedContents with deterministic vectors in input order", async () => {
    const response = await sdk(fake).models.embedContent({
      model: "gemini-embedding-001",
      contents: ["first text", "second text", "third text"],
      config: { outputDimensionality: 4 },
    });
    const values = response.embeddings?.map((e) => e.values);
    assert.deepEqual(values, [
      embeddingVector("first text", 4),
      embeddingVector("second text", 4),
      embeddingVector("third text", 4),
    ]);
    assert.equal(fake.requests[0]?.path, "/v1beta/models/gemini-embedding-001:batchEmbedContents");
    assert.equal(fake.served.embeddings, 3);
  });

  it("answers embedContent for one content", async () => {
    const raw = await post(fake, "/v1beta/models/gemini-embedding-001:embedContent", {
      content: { parts: [{ text: "solo" }] },
      outputDimensionality: 5,
    });
    assert.deepEqual(JSON.parse(raw.text), { embedding: { values: embeddingVector("solo", 5) } });
  });

  for (const name of GEMINI_ERROR_FIXTURES) {
    it(`serves the ${name} fixture as an ApiError the SDK understands`, async () => {
      const fixture = loadGeminiHttpFixture(name as GeminiErrorFixtureName);
      fake.enqueue(geminiError(name));
      const error = await sdk(fake)
        .models.generateContent({ model: MODEL, contents: "x" })
        .then(
          () => assert.fail("expected an error"),
          (e: unknown) => e,
        );
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, fixture.status);
      const body = JSON.parse(error.message) as { error: { code: number; status: string } };
      assert.deepEqual(body, JSON.parse(fixture.body.toString("utf8")));
      assert.equal(body.error.code, fixture.status);
    });
  }

  it("puts RetryInfo 13s in the 429 fixture", async () => {
    fake.enqueue(geminiError("resource_exhausted"));
    const raw = await post(fake, `/v1beta/models/${MODEL}:generateContent`, {
      contents: [{ parts: [{ text: "x" }] }],
    });
    assert.equal(raw.status, 429);
    const details = JSON.parse(raw.text).error.details as { "@type": string; retryDelay?: string }[];
    assert.equal(details.find((d) => d["@type"].endsWith("RetryInfo"))?.retryDelay, "13s");
  });

  it("sends a mid-stream error event that the SDK raises as an ApiError", async () => {
    fake.enqueue({ chunks: ["a", "b", "c"], errorAfterEvents: 1 });
    const texts: string[] = [];
    const error = await (async () => {
      for await (const chunk of await sdk(fake).models.generateContentStream({
        model: MODEL,
        contents: "x",
      })) {
        texts.push(chunk.text ?? "");
      }
    })().then(
      () => assert.fail("expected an error"),
      (e: unknown) => e,
    );
    assert.deepEqual(texts, ["a"]);
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 500);
  });

  it("sends a scripted mid-stream status that the SDK raises with its code and message", async () => {
    const status = { code: 503, message: "The model is overloaded.", status: "UNAVAILABLE" };
    fake.enqueue({ chunks: ["a", "b"], errorAfterEvents: 1, streamErrorStatus: status });
    const error = await (async () => {
      for await (const _ of await sdk(fake).models.generateContentStream({ model: MODEL, contents: "x" })) {
        // the first chunk arrives, then the error
      }
    })().then(
      () => assert.fail("expected an error"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 503);
    assert.match(error.message, /The model is overloaded/);
  });

  it("rejects a wrong key with API_KEY_INVALID and a missing key with PERMISSION_DENIED", async () => {
    await fake.close();
    fake = await startGeminiFake({ requireApiKey: "AIza-right" });
    const error = await sdk(fake, "AIza-wrong")
      .models.generateContent({ model: MODEL, contents: "x" })
      .then(
        () => assert.fail("expected an error"),
        (e: unknown) => e,
      );
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 400);
    assert.match(error.message, /API_KEY_INVALID/);
    const ok = await sdk(fake, "AIza-right").models.generateContent({ model: MODEL, contents: "x" });
    assert.equal(ok.text, "Hello from fake");
    const missing = await request(`${fake.url}/v1beta/models/${MODEL}:generateContent`, {
      method: "POST",
      body: "{}",
    });
    assert.equal(missing.statusCode, 403);
    assert.equal(
      (JSON.parse(await missing.body.text()) as { error: { status: string } }).error.status,
      "PERMISSION_DENIED",
    );
  });

  it("validates requests like the API: unknown fields, empty parts, roles, oversize batches", async () => {
    const generate = `/v1beta/models/${MODEL}:generateContent`;
    const cases: [string, unknown, RegExp][] = [
      [
        generate,
        { contents: [{ parts: [{ text: "x" }] }], generationConfig: { max_tokens: 5 } },
        /Unknown name "max_tokens" at 'generation_config'/,
      ],
      [generate, { messages: [] }, /Unknown name "messages": Cannot find field/],
      [generate, { contents: [] }, /contents is not specified/],
      [generate, { contents: [{ role: "user", parts: [] }] }, /contents.parts must not be empty/],
      [generate, { contents: [{ role: "assistant", parts: [{ text: "x" }] }] }, /valid role: user, model/],
      [generate, "{not json", /Invalid JSON payload/],
      [
        "/v1beta/models/gemini-embedding-001:batchEmbedContents",
        {
          requests: Array.from({ length: 101 }, () => ({
            model: "models/gemini-embedding-001",
            content: { parts: [{ text: "x" }] },
          })),
        },
        /at most 100 requests/,
      ],
      [
        "/v1beta/models/gemini-embedding-001:batchEmbedContents",
        { requests: [{ model: "models/other", content: { parts: [{ text: "x" }] } }] },
        /requests\[0\]\.model/,
      ],
    ];
    for (const [path, body, message] of cases) {
      const raw = await post(fake, path, body);
      assert.equal(raw.status, 400, String(message));
      const error = JSON.parse(raw.text).error as { status: string; message: string };
      assert.equal(error.status, "INVALID_ARGUMENT");
      assert.match(error.message, message);
    }
    const unknownRoute = await post(fake, `/v1beta/models/${MODEL}:doSomething`, {});
    assert.equal(unknownRoute.status, 404);
    assert.match(unknownRoute.headers["content-type"] as string, /^text\/html/);
  });

  it("records an abort when the SDK's signal cancels a stream", async () => {
    fake.enqueue({ chunks: ["a", "b", "c"], hangAfterEvents: 1 });
    const controller = new AbortController();
    const stream = await sdk(fake).models.generateContentStream({
      model: MODEL,
      contents: "x",
      config: { abortSignal: controller.signal },
    });
    const iterator = stream[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value?.text, "a");
    controller.abort();
    await fake.waitForAbort(0);
    assert.equal(fake.requests[0]?.aborted, true);
    assert.equal(fake.served.aborts, 1);
    assert.equal(fake.served.streamsCompleted, 0);
    await iterator.return?.(undefined).catch(() => undefined);
  });

  it("cuts a stream after N events without finishing it", async () => {
    fake.enqueue({ chunks: ["a", "b", "c"], cutAfterEvents: 2 });
    const texts: string[] = [];
    await assert.rejects(async () => {
      for await (const chunk of await sdk(fake).models.generateContentStream({
        model: MODEL,
        contents: "x",
      })) {
        texts.push(chunk.text ?? "");
      }
    });
    assert.deepEqual(texts, ["a", "b"]);
    assert.equal(fake.requests[0]?.aborted, false, "the fake cut it: not a client abort");
    assert.equal(fake.served.completionTokens, 2, "only what was sent");
  });
});
