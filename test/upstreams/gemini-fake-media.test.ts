// Fidelity of the Gemini fake for media parts, thinking, thought signatures, logprobs and token classes:
// the official @google/genai SDK builds the requests, and must read everything the fake serves.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import {
  ApiError,
  createFunctionResponsePartFromBase64,
  createPartFromBase64,
  createPartFromFunctionResponse,
  createPartFromUri,
  GoogleGenAI,
  ServiceTier,
  ThinkingLevel,
} from "@google/genai";
import { request } from "undici";
import { type GeminiFake, startGeminiFake } from "./gemini-fake.ts";
import { audioTokens, DOCUMENT_TOKENS, IMAGE_TOKENS, logprobStep } from "./gemini-wire.ts";

const MODEL = "gemini-2.5-flash";
const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex").toString("base64");
const WAV = Buffer.alloc(2500, 7).toString("base64");
const PDF = Buffer.from("%PDF-1.7\n%fake\n").toString("base64");

function sdk(fake: GeminiFake): GoogleGenAI {
  return new GoogleGenAI({ apiKey: "AIza-test-key", httpOptions: { baseUrl: fake.url } });
}

async function post(fake: GeminiFake, model: string, body: unknown) {
  const response = await request(`${fake.url}/v1beta/models/${model}:generateContent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": "AIza-test-key" },
    body: JSON.stringify(body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, message: String(JSON.parse(text).error?.message ?? "") };
}

describe("Gemini fake: media, thinking, signatures and logprobs, driven by @google/genai", () => {
  let fake: GeminiFake;
  beforeEach(async () => {
    fake = await startGeminiFake();
  });
  afterEach(async () => {
    await fake.close();
  });

  it("records image, audio and PDF parts and the thinking/logprobs/tier config exactly as the SDK sends them", async () => {
    fake.enqueue({
      text: "A cat purring",
      thoughts: [{ text: "Looking at the picture", signature: "c2lnLXRob3VnaHQ=" }],
    });
    const response = await sdk(fake).models.generateContent({
      model: MODEL,
      contents: [
        {
          role: "user",
          parts: [
            { text: "What is this?" },
            createPartFromBase64(PNG, "image/png"),
            createPartFromUri("https://example.com/cat.jpg", "image/jpeg"),
            createPartFromBase64(WAV, "audio/wav"),
            createPartFromBase64(PDF, "application/pdf"),
          ],
        },
      ],
      config: {
        thinkingConfig: { thinkingLevel: ThinkingLevel.HIGH, includeThoughts: true },
        responseLogprobs: true,
        logprobs: 2,
        serviceTier: ServiceTier.FLEX,
      },
    });
    assert.deepEqual(fake.requests[0]?.body, {
      contents: [
        {
          role: "user",
          parts: [
            { text: "What is this?" },
            { inlineData: { data: PNG, mimeType: "image/png" } },
            { fileData: { fileUri: "https://example.com/cat.jpg", mimeType: "image/jpeg" } },
            { inlineData: { data: WAV, mimeType: "audio/wav" } },
            { inlineData: { data: PDF, mimeType: "application/pdf" } },
          ],
        },
      ],
      generationConfig: {
        responseLogprobs: true,
        logprobs: 2,
        thinkingConfig: { thinkingLevel: "HIGH", includeThoughts: true },
      },
      serviceTier: "flex",
    });
    // The SDK's .text leaves thought parts out; the parts keep them with their signature.
    assert.equal(response.text, "A cat purring");
    const parts = response.candidates?.[0]?.content?.parts ?? [];
    assert.deepEqual(parts[0], {
      text: "Looking at the picture",
      thought: true,
      thoughtSignature: "c2lnLXRob3VnaHQ=",
    });
    const usage = response.usageMetadata;
    assert.equal(usage?.thoughtsTokenCount, 4, "thought words");
    assert.deepEqual(usage?.promptTokensDetails, [
      { modality: "TEXT", tokenCount: 3 },
      { modality: "IMAGE", tokenCount: 2 * IMAGE_TOKENS },
      { modality: "AUDIO", tokenCount: audioTokens(WAV) },
      { modality: "DOCUMENT", tokenCount: DOCUMENT_TOKENS },
    ]);
    assert.equal(usage?.promptTokenCount, 3 + 2 * IMAGE_TOKENS + 3 + DOCUMENT_TOKENS);
    assert.equal(usage?.totalTokenCount, (usage?.promptTokenCount ?? 0) + 3 + 4);
    const logprobs = response.candidates?.[0]?.logprobsResult;
    assert.deepEqual(
      logprobs?.chosenCandidates?.map((c) => c.token),
      ["A", " cat", " purring"],
    );
    assert.deepEqual(logprobs?.topCandidates?.[1], { candidates: logprobStep(" cat", 1, 2).top });
    assert.equal(logprobs?.topCandidates?.[1]?.candidates?.length, 2);
  });

  it("sends no thoughts without includeThoughts (their tokens are still billed)", async () => {
    fake.enqueue({ text: "ok", thoughts: [{ text: "hidden reasoning here" }] });
    const response = await sdk(fake).models.generateContent({
      model: MODEL,
      contents: "q",
      config: { thinkingConfig: { thinkingBudget: 512 } },
    });
    assert.equal(response.candidates?.[0]?.content?.parts?.length, 1);
    assert.equal(response.usageMetadata?.thoughtsTokenCount, 3);
    assert.deepEqual(
      (fake.requests[0]?.body as { generationConfig?: unknown } | undefined)?.generationConfig,
      {
        thinkingConfig: { thinkingBudget: 512 },
      },
    );
  });

  it("streams thought chunks before the answer, the text signature last and one logprobs step per chunk", async () => {
    fake.enqueue({
      chunks: ["Hi", " there"],
      thoughts: [{ text: "Plan" }, { text: " more", signature: "dGhvdWdodA==" }],
      textSignature: "dGV4dA==",
      usage: { promptTokenCount: 2, candidatesTokenCount: 2, thoughtsTokenCount: 5 },
    });
    const stream = await sdk(fake).models.generateContentStream({
      model: MODEL,
      contents: "hello",
      config: { thinkingConfig: { includeThoughts: true }, responseLogprobs: true },
    });
    const seen: unknown[] = [];
    for await (const chunk of stream) {
      const candidate = chunk.candidates?.[0];
      seen.push({
        parts: candidate?.content?.parts,
        tokens: candidate?.logprobsResult?.chosenCandidates?.map((c) => c.token),
      });
    }
    assert.deepEqual(seen, [
      { parts: [{ text: "Plan", thought: true }], tokens: undefined },
      { parts: [{ text: " more", thought: true, thoughtSignature: "dGhvdWdodA==" }], tokens: undefined },
      { parts: [{ text: "Hi" }], tokens: ["Hi"] },
      { parts: [{ text: " there", thoughtSignature: "dGV4dA==" }], tokens: [" there"] },
    ]);
    assert.equal(fake.served.completionTokens, 7, "thoughts billed with the first chunk");
  });

  it("accepts the signatures it issued back, refuses altered ones, and on Gemini 3 a call without one", async () => {
    const model = "gemini-3-flash-preview";
    fake.enqueue(
      { functionCalls: [{ name: "lookup", args: { q: "x" }, thoughtSignature: "Y2FsbC1zaWc=" }] },
      {},
    );
    const ai = sdk(fake);
    const first = await ai.models.generateContent({ model, contents: "find x" });
    const modelTurn = first.candidates?.[0]?.content;
    assert.ok(modelTurn);
    const history = (turn: typeof modelTurn) => [
      { role: "user", parts: [{ text: "find x" }] },
      turn,
      { role: "user", parts: [{ functionResponse: { name: "lookup", response: { output: "42" } } }] },
    ];
    await ai.models.generateContent({ model, contents: history(modelTurn) });
    assert.deepEqual((fake.requests[1]?.body as { contents?: unknown[] } | undefined)?.contents?.[1], {
      role: "model",
      parts: [{ functionCall: { name: "lookup", args: { q: "x" } }, thoughtSignature: "Y2FsbC1zaWc=" }],
    });
    const unsigned = { role: "model", parts: [{ functionCall: { name: "lookup", args: { q: "x" } } }] };
    const missing = await ai.models.generateContent({ model, contents: history(unsigned) }).catch((e) => e);
    assert.ok(missing instanceof ApiError);
    assert.equal(missing.status, 400);
    assert.match(missing.message, /missing a thought_signature/);
    const altered = {
      role: "model",
      parts: [{ functionCall: { name: "lookup", args: { q: "x" } }, thoughtSignature: "Y2FsbC1zaWd=" }],
    };
    const corrupted = await ai.models.generateContent({ model, contents: history(altered) }).catch((e) => e);
    assert.ok(corrupted instanceof ApiError);
    assert.match(corrupted.message, /Corrupted thought signature/);
    // Gemini 2.5 does not require the signature.
    fake.enqueue({});
    await ai.models.generateContent({ model: MODEL, contents: history(unsigned) });
  });

  it("takes a function response with media parts as the SDK builds it", async () => {
    const contents = [
      { role: "user", parts: [{ text: "shoot" }] },
      { role: "model", parts: [{ functionCall: { name: "screenshot", args: {} } }] },
      {
        role: "user",
        parts: [
          createPartFromFunctionResponse("", "screenshot", { output: "captured" }, [
            createFunctionResponsePartFromBase64(PNG, "image/png"),
          ]),
        ],
      },
    ];
    await sdk(fake).models.generateContent({ model: MODEL, contents });
    assert.deepEqual((fake.requests[0]?.body as { contents?: unknown[] } | undefined)?.contents?.[2], {
      role: "user",
      parts: [
        {
          functionResponse: {
            id: "",
            name: "screenshot",
            response: { output: "captured" },
            parts: [{ inlineData: { data: PNG, mimeType: "image/png" } }],
          },
        },
      ],
    });
    const bad = {
      role: "user",
      parts: [{ functionResponse: { name: "screenshot", response: {}, parts: [{ text: "no" }] } }],
    };
    const answer = await post(fake, MODEL, { contents: [...contents.slice(0, 2), bad] });
    assert.equal(answer.status, 400);
    assert.match(answer.message, /Unknown name "text"/);
  });

  it("refuses what the API refuses: both thinking budget and level, logprobs alone, bad parts", async () => {
    const both = await sdk(fake)
      .models.generateContent({
        model: MODEL,
        contents: "q",
        config: { thinkingConfig: { thinkingBudget: 100, thinkingLevel: ThinkingLevel.LOW } },
      })
      .catch((e) => e);
    assert.ok(both instanceof ApiError);
    assert.equal(both.status, 400);
    const user = (parts: unknown[]) => ({ contents: [{ role: "user", parts }] });
    const cases: [unknown, RegExp][] = [
      [{ ...user([{ text: "q" }]), generationConfig: { logprobs: 3 } }, /response_logprobs/],
      [
        { ...user([{ text: "q" }]), generationConfig: { responseLogprobs: true, logprobs: 21 } },
        /between 0 and 20/,
      ],
      [
        { ...user([{ text: "q" }]), generationConfig: { thinkingConfig: { thinkingLevel: "low" } } },
        /thinking_level/,
      ],
      [{ ...user([{ text: "q" }]), serviceTier: "turbo" }, /service_tier/],
      [user([{ text: "q", inlineData: { mimeType: "image/png", data: PNG } }]), /Oneof field 'data'/],
      [user([{ thought: true }]), /required oneof field 'data'/],
      [user([{ inlineData: { mimeType: "image/bmp", data: PNG } }]), /Unsupported MIME type: image\/bmp/],
      [user([{ inlineData: { mimeType: "image/png", data: "not base64!" } }]), /Base64 decoding failed/],
      [user([{ fileData: { fileUri: "https://example.com/x" } }]), /mime_type is not specified/],
      [user([{ text: "q", detail: "high" }]), /Unknown name "detail"/],
    ];
    for (const [body, message] of cases) {
      const answer = await post(fake, MODEL, body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.match(answer.message, message);
    }
    assert.equal(fake.served.promptTokens, 0, "nothing was generated");
  });
});
