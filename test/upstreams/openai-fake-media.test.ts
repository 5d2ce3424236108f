// Fidelity of the OpenAI fake's newer wire shapes, driven by the official `openai` SDK: image, audio and
// file content parts, reasoning_effort, logprobs, prompt_cache_key, safety_identifier and service_tier go
// out as the SDK sends them and are recorded; usage details, logprobs and the tier come back in a shape
// the SDK reads; what api.openai.com refuses (metadata without store, flac audio, an image in a tool
// result) is refused with its 400 naming the parameter.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import OpenAI, { BadRequestError } from "openai";
import { fakeLogprob } from "./openai-extras.ts";
import { type OpenAIFake, startOpenAIFake } from "./openai-fake.ts";

const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex").toString("base64");
const WAV = Buffer.from("RIFF$\u0000\u0000\u0000WAVEfmt ").toString("base64");
const PDF = Buffer.from("%PDF-1.7\n%\u00e2\u00e3\n").toString("base64");

function sdk(fake: OpenAIFake): OpenAI {
  return new OpenAI({ apiKey: "sk-test", baseURL: `${fake.url}/v1`, maxRetries: 0 });
}

async function badRequest(run: () => Promise<unknown>): Promise<BadRequestError> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof BadRequestError, `expected a BadRequestError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a 400");
}

describe("OpenAI fake: content parts, reasoning, logprobs and tiers through the openai SDK", () => {
  let fake: OpenAIFake;
  beforeEach(async () => {
    fake = await startOpenAIFake();
  });
  afterEach(async () => {
    await fake.close();
  });

  it("records image (URL and bytes), audio and file parts and the newer parameters as the SDK sends them", async () => {
    fake.enqueue({
      text: "A cat reading",
      usage: {
        prompt_tokens: 900,
        completion_tokens: 40,
        cached_tokens: 512,
        audio_tokens: 60,
        reasoning_tokens: 37,
      },
    });
    const content: OpenAI.Chat.ChatCompletionContentPart[] = [
      { type: "text", text: "Describe these." },
      { type: "image_url", image_url: { url: "https://example.com/cat.png", detail: "low" } },
      { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
      { type: "input_audio", input_audio: { data: WAV, format: "wav" } },
      { type: "file", file: { file_data: `data:application/pdf;base64,${PDF}`, filename: "paper.pdf" } },
    ];
    const data = await sdk(fake).chat.completions.create({
      model: "gpt-5-mini",
      messages: [{ role: "user", content }],
      reasoning_effort: "high",
      logprobs: true,
      top_logprobs: 2,
      prompt_cache_key: "tenant-7",
      safety_identifier: "user-hash-1",
      service_tier: "flex",
      parallel_tool_calls: false,
      tools: [{ type: "function", function: { name: "lookup", parameters: { type: "object" } } }],
    });
    const body = fake.requests[0]?.body as Record<string, unknown>;
    assert.deepEqual(body.messages, [{ role: "user", content }]);
    assert.equal(body.reasoning_effort, "high");
    assert.equal(body.logprobs, true);
    assert.equal(body.top_logprobs, 2);
    assert.equal(body.prompt_cache_key, "tenant-7");
    assert.equal(body.safety_identifier, "user-hash-1");
    assert.equal(body.parallel_tool_calls, false);

    assert.equal(data.service_tier, "flex", "the tier asked for is the tier reported");
    assert.equal(data.usage?.completion_tokens_details?.reasoning_tokens, 37);
    assert.equal(data.usage?.prompt_tokens_details?.cached_tokens, 512);
    assert.equal(data.usage?.prompt_tokens_details?.audio_tokens, 60);
    const logprobs = data.choices[0]?.logprobs?.content ?? [];
    assert.deepEqual(
      logprobs.map((l) => l.token),
      ["A", " cat", " reading"],
    );
    const first = logprobs[0];
    assert.equal(first?.logprob, fakeLogprob("A"));
    assert.deepEqual(first?.bytes, [65]);
    assert.deepEqual(
      first?.top_logprobs.map((t) => t.token),
      ["A", "A~1"],
    );
  });

  it("streams logprobs on each content chunk and the usage details on the include_usage chunk", async () => {
    fake.enqueue({
      text: "Hi there",
      usage: { prompt_tokens: 10, completion_tokens: 9, reasoning_tokens: 7, cache_write_tokens: 3 },
    });
    const stream = await sdk(fake).chat.completions.create({
      model: "o4-mini",
      messages: [{ role: "user", content: "hello" }],
      stream: true,
      stream_options: { include_usage: true },
      logprobs: true,
      reasoning_effort: "low",
    });
    const tokens: string[] = [];
    const tiers = new Set<string | null | undefined>();
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      for (const entry of chunk.choices[0]?.logprobs?.content ?? []) tokens.push(entry.token);
      tiers.add(chunk.service_tier);
      if (chunk.usage) usage = chunk.usage;
    }
    assert.deepEqual(tokens, ["Hi", " there"]);
    assert.deepEqual([...tiers], ["default"], "no tier asked: every chunk says default");
    assert.equal(usage?.completion_tokens_details?.reasoning_tokens, 7);
    assert.equal(usage?.prompt_tokens_details?.cache_write_tokens, 3);
  });

  it("scripts vLLM-style reasoning: a `reasoning` field on the message and on stream deltas", async () => {
    fake.enqueue({ reasoning: "First, think.", text: "Done." }, { reasoning: "Hmm ok", text: "Yes" });
    const client = sdk(fake);
    const whole = await client.chat.completions.create({
      model: "Qwen/Qwen3-8B",
      messages: [{ role: "user", content: "q" }],
    });
    const message = whole.choices[0]?.message as unknown as Record<string, unknown>;
    assert.equal(message.reasoning, "First, think.");
    assert.equal(message.content, "Done.");
    assert.equal(whole.usage?.completion_tokens_details?.reasoning_tokens, 2, "one per reasoning delta");
    const stream = await client.chat.completions.create({
      model: "Qwen/Qwen3-8B",
      messages: [{ role: "user", content: "q" }],
      stream: true,
    });
    let reasoning = "";
    let text = "";
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as
        | (Record<string, unknown> & { content?: string | null })
        | undefined;
      if (typeof delta?.reasoning === "string") reasoning += delta.reasoning;
      if (typeof delta?.content === "string") text += delta.content;
    }
    assert.equal(reasoning, "Hmm ok");
    assert.equal(text, "Yes");
  });

  it("refuses what api.openai.com refuses, naming the parameter", async () => {
    const client = sdk(fake);
    const ask = (extra: Partial<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming>) =>
      badRequest(() =>
        client.chat.completions.create({
          model: "gpt-4o",
          messages: [{ role: "user", content: "x" }],
          ...extra,
        }),
      );
    const metadata = await ask({ metadata: { team: "a" } });
    assert.equal(metadata.param, "metadata");
    assert.match(metadata.message, /only allowed when 'store' is enabled/);
    assert.equal((await ask({ parallel_tool_calls: false })).param, "parallel_tool_calls");
    assert.equal((await ask({ top_logprobs: 3 })).param, "top_logprobs");
    const audio = await ask({
      messages: [
        {
          role: "user",
          content: [{ type: "input_audio", input_audio: { data: WAV, format: "flac" as "wav" } }],
        },
      ],
    });
    assert.equal(audio.param, "messages[0].content[0].input_audio.format");
    const toolImage = await ask({
      messages: [
        { role: "user", content: "x" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }],
        },
        {
          role: "tool",
          tool_call_id: "call_1",
          content: [{ type: "image_url", image_url: { url: "https://example.com/a.png" } }] as never,
        },
      ],
    });
    assert.equal(toolImage.param, "messages[2]");
    const file = await ask({
      messages: [
        {
          role: "user",
          content: [{ type: "file", file: { file_data: `data:application/pdf;base64,${PDF}` } }],
        },
      ],
    });
    assert.equal(file.param, "messages[0].content[0].file.filename");
    // With store, metadata passes.
    fake.enqueue({ text: "ok" });
    await client.chat.completions.create({
      model: "gpt-4o",
      messages: [{ role: "user", content: "x" }],
      store: true,
      metadata: { team: "a" },
    });
    const stored = fake.requests.at(-1)?.body as Record<string, unknown> | undefined;
    assert.deepEqual(stored?.metadata, { team: "a" });
  });
});
