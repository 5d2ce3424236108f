// Fidelity of the Mistral dialect's newer wire shapes, driven by the official `@mistralai/mistralai` SDK:
// image, audio and document_url chunks, a thinking chunk sent back in an assistant message,
// reasoning_effort, prompt_cache_key, metadata, service_tier and parallel_tool_calls go out as the SDK
// sends them; magistral-style thinking chunks (whole and streamed) and the tier in usage come back in a
// shape the SDK reads; what La Plateforme refuses (logprobs, an unknown tier or chunk) is a 422.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Mistral } from "@mistralai/mistralai";
import { type OpenAIFake, startOpenAIFake } from "./openai-fake.ts";

const KEY = "mistral-test-key";
const PNG = Buffer.from("89504e470d0a1a0a", "hex").toString("base64");

async function post(fake: OpenAIFake, body: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${fake.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

describe("Mistral dialect: content chunks, thinking and tiers through the @mistralai/mistralai SDK", () => {
  let fake: OpenAIFake;
  let client: Mistral;
  beforeEach(async () => {
    fake = await startOpenAIFake({ dialect: "mistral", requireApiKey: KEY });
    client = new Mistral({ apiKey: KEY, serverURL: fake.url });
  });
  afterEach(async () => {
    await fake.close();
  });

  it("records the chunks and parameters the SDK sends and answers thinking chunks it parses", async () => {
    fake.enqueue({ reasoning: "Look at the picture.", text: "A cat." });
    const response = await client.chat.complete({
      model: "magistral-medium-latest",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", imageUrl: { url: `data:image/png;base64,${PNG}`, detail: "high" } },
            { type: "input_audio", inputAudio: "UklGRg==" },
            { type: "document_url", documentUrl: "https://example.com/a.pdf", documentName: "a.pdf" },
          ],
        },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: [{ type: "text", text: "earlier thought" }], signature: "sig-1" },
            { type: "text", text: "earlier answer" },
          ],
        },
        { role: "user", content: "and now?" },
      ],
      reasoningEffort: "high",
      promptCacheKey: "tenant-7",
      metadata: { team: "a" },
      serviceTier: "auto",
    });
    const body = fake.requests[0]?.body as Record<string, unknown>;
    assert.deepEqual(body.messages, [
      {
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}`, detail: "high" } },
          { type: "input_audio", input_audio: "UklGRg==" },
          { type: "document_url", document_url: "https://example.com/a.pdf", document_name: "a.pdf" },
        ],
      },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: [{ type: "text", text: "earlier thought" }], signature: "sig-1" },
          { type: "text", text: "earlier answer" },
        ],
        prefix: false,
      },
      { role: "user", content: "and now?" },
    ]);
    assert.equal(body.reasoning_effort, "high");
    assert.equal(body.prompt_cache_key, "tenant-7");
    assert.deepEqual(body.metadata, { team: "a" });
    assert.equal(body.service_tier, "auto");

    const content = response.choices[0]?.message?.content;
    assert.ok(Array.isArray(content));
    const [thinking, text] = content;
    assert.equal(thinking?.type, "thinking");
    assert.deepEqual(thinking?.type === "thinking" ? thinking.thinking : undefined, [
      { type: "text", text: "Look at the picture." },
    ]);
    assert.deepEqual(text, { type: "text", text: "A cat." });
    assert.equal(response.usage.serviceTier, "standard", "a tier was asked: usage says which one served");
  });

  it("streams thinking chunks before the text deltas", async () => {
    fake.enqueue({ reasoningChunks: ["Think", "ing"], text: "Answer here" });
    const stream = await client.chat.stream({
      model: "magistral-small-latest",
      messages: [{ role: "user", content: "q" }],
    });
    let thinking = "";
    let text = "";
    const order: string[] = [];
    for await (const event of stream) {
      const content = event.data.choices[0]?.delta.content;
      if (typeof content === "string" && content !== "") {
        text += content;
        order.push("text");
      } else if (Array.isArray(content)) {
        for (const chunk of content) {
          if (chunk.type !== "thinking") continue;
          for (const inner of chunk.thinking) if (inner.type === "text") thinking += inner.text;
          order.push("thinking");
        }
      }
    }
    assert.equal(thinking, "Thinking");
    assert.equal(text, "Answer here");
    assert.deepEqual(order, ["thinking", "thinking", "text", "text"]);
  });

  it("refuses logprobs, a tier it does not have and an unknown chunk type with a 422", async () => {
    const base = { model: "mistral-small-latest", messages: [{ role: "user", content: "x" }] };
    const logprobs = await post(fake, { ...base, logprobs: true });
    assert.equal(logprobs.status, 422);
    assert.match(JSON.stringify(logprobs.json), /"loc":\["body","logprobs"\]/);
    const tier = await post(fake, { ...base, service_tier: "priority" });
    assert.equal(tier.status, 422);
    assert.match(JSON.stringify(tier.json), /"loc":\["body","service_tier"\]/);
    const chunk = await post(fake, {
      ...base,
      messages: [{ role: "user", content: [{ type: "file", file: { file_data: "x" } }] }],
    });
    assert.equal(chunk.status, 422, "OpenAI's file part is not Mistral's file chunk");
    const audio = await post(fake, {
      ...base,
      messages: [
        { role: "user", content: [{ type: "input_audio", input_audio: { data: "x", format: "wav" } }] },
      ],
    });
    assert.equal(audio.status, 422, "Mistral's input_audio is a bare base64 string");
  });
});
