import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { compileConfig } from "../../src/config/compile.ts";
import { parseConfig } from "../../src/config/load.ts";
import { openAIFacade } from "../../src/facade/openai/facade.ts";
import type { GenerationRequest, Pipeline } from "../../src/pipeline/pipeline.ts";
import { createLogger } from "../../src/telemetry/logger.ts";
import { RequestTelemetry } from "../../src/telemetry/request-telemetry.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// The new request surface end to end: the official SDK → the facade → the gRPC API's conversion
// (api/validate.ts) → the pipeline. One gateway with the echo backend, and one facade over a
// recording pipeline to see the protocol-neutral request it builds.

const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex").toString("base64");
const PDF = Buffer.from("%PDF-1.7\n1 0 obj\n", "latin1").toString("base64");
const WAV = Buffer.from("RIFF$\0\0\0WAVEfmt ", "latin1").toString("base64");

let gw: TestGateway;
let sdk: OpenAI;
const seen: GenerationRequest[] = [];
const recorder = createServer(
  openAIFacade({
    pipeline: {
      async generate(_ctx: unknown, request: GenerationRequest) {
        seen.push(request);
        return {
          output: { text: "ok", toolCalls: [], finishReason: "stop", model: "m" },
          usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0, accuracy: "exact" },
        };
      },
    } as unknown as Pipeline,
    config: () =>
      compileConfig(
        parseConfig(
          configYaml("  a: { type: echo }\n", "  chat:\n    targets: [{ backend: a, model: m }]\n"),
          "t",
          {},
        ),
        {},
        createLogger("silent"),
      ).compiled,
    logger: createLogger("silent"),
    telemetry: new RequestTelemetry(undefined, createLogger("silent")),
    maxRequestBytes: 1 << 20,
  }),
);
let recorderSdk: OpenAI;

before(async () => {
  gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: echo-1 }\n",
    ),
  );
  sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "any", maxRetries: 0 });
  recorder.listen(0, "127.0.0.1");
  await once(recorder, "listening");
  recorderSdk = new OpenAI({
    baseURL: `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/v1`,
    apiKey: "any",
    maxRetries: 0,
  });
});
after(async () => {
  recorder.close();
  await gw.stop();
});

const media: OpenAI.Chat.ChatCompletionMessageParam[] = [
  {
    role: "user",
    content: [
      { type: "text", text: "describe these" },
      { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}`, detail: "low" } },
      { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
      { type: "input_audio", input_audio: { data: WAV, format: "wav" } },
      { type: "file", file: { file_data: `data:application/pdf;base64,${PDF}`, filename: "a.pdf" } },
    ],
  },
];

test("image, audio and file parts reach the echo backend intact, unary and streamed", async () => {
  // The echo backend describes each media part it received: kind, type, size and a digest of the bytes.
  const digest = (b64: string) =>
    createHash("sha256").update(Buffer.from(b64, "base64")).digest("hex").slice(0, 12);
  const expected =
    `describe these [image image/png 16B ${digest(PNG)}] [image url https://example.com/cat.jpg] ` +
    `[audio wav 16B ${digest(WAV)}] [document application/pdf 17B ${digest(PDF)}]`;
  const done = await sdk.chat.completions.create({ model: "switchyard/chat", messages: media });
  assert.equal(done.choices[0]?.message.content, expected);
  const stream = await sdk.chat.completions.create({
    model: "switchyard/chat",
    messages: media,
    stream: true,
  });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
  assert.equal(text, expected);
});

test("reasoning, logprobs and the tier from a real backend (echo), unary and streamed, read by the SDK", async () => {
  const ask = {
    model: "switchyard/chat",
    messages: [{ role: "user" as const, content: "hello there" }],
    reasoning_effort: "low" as const,
    include_reasoning: true,
    logprobs: true,
    top_logprobs: 2,
    service_tier: "flex" as const,
  };
  const done = await sdk.chat.completions.create(ask);
  const message = done.choices[0]?.message as OpenAI.Chat.ChatCompletionMessage & {
    reasoning_content?: string;
  };
  assert.equal(message.content, "hello there");
  assert.equal(message.reasoning_content, "Thinking about: hello there");
  assert.deepEqual(
    done.choices[0]?.logprobs?.content?.map((t) => [t.token, t.top_logprobs.length]),
    [
      ["hello", 2],
      [" there", 2],
    ],
  );
  assert.equal(done.usage?.completion_tokens_details?.reasoning_tokens, 4);
  assert.equal(done.usage?.completion_tokens, 6, "reasoning tokens are part of the output tokens");
  assert.equal(done.service_tier, "flex");

  const stream = sdk.chat.completions.stream({ ...ask, stream_options: { include_usage: true } });
  const reasoning: string[] = [];
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta as { reasoning_content?: string } | undefined;
    if (delta?.reasoning_content) reasoning.push(delta.reasoning_content);
  }
  const final = await stream.finalChatCompletion();
  assert.deepEqual(reasoning, ["Thinking about: hello there"]);
  assert.equal(final.choices[0]?.message.content, "hello there");
  assert.deepEqual(
    final.choices[0]?.logprobs?.content?.map((t) => t.token),
    ["hello", " there"],
  );
  assert.equal(final.usage?.completion_tokens_details?.reasoning_tokens, 4);
});

test("every new parameter is accepted by the gateway at once", async () => {
  const done = await sdk.chat.completions.create({
    model: "switchyard/chat",
    messages: [{ role: "user", content: "hello there" }],
    tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
    reasoning_effort: "medium",
    parallel_tool_calls: false,
    prompt_cache_key: "k1",
    logprobs: true,
    top_logprobs: 3,
    stop: ["\n\n"],
    seed: 42,
    service_tier: "default",
    safety_identifier: "u-hash",
    metadata: { team: "search" },
  });
  assert.equal(done.choices[0]?.message.content, "hello there");
});

test("the pipeline receives the neutral request: media parts, reasoning, logprobs, tier, cache key, end user", async () => {
  await recorderSdk.chat.completions.create({
    model: "switchyard/chat",
    messages: [
      ...media,
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "c1", type: "function", function: { name: "look", arguments: "{}" } }],
      },
      {
        role: "tool",
        tool_call_id: "c1",
        content: [
          { type: "text", text: "shot:" },
          { type: "image_url", image_url: { url: "https://example.com/s.png" } },
        ] as never,
      },
    ],
    tools: [{ type: "function", function: { name: "look" } }],
    reasoning_effort: "minimal",
    parallel_tool_calls: false,
    prompt_cache_key: "tenant-1",
    logprobs: true,
    top_logprobs: 4,
    service_tier: "priority",
    user: "old-id",
    safety_identifier: "new-id",
    metadata: { team: "search" },
  });
  const req = seen.at(-1);
  assert.ok(req);
  const parts = req.messages[0]?.parts ?? [];
  assert.deepEqual(
    parts.map((p) => p.type),
    ["text", "image", "image", "audio", "document"],
  );
  const [, byBytes, byUrl, audio, doc] = parts;
  assert.ok(byBytes?.type === "image" && "data" in byBytes.source);
  assert.equal(byBytes.source.mediaType, "image/png");
  assert.equal(Buffer.from(byBytes.source.data).toString("base64"), PNG);
  assert.equal(byBytes.detail, "low");
  assert.ok(byUrl?.type === "image" && "url" in byUrl.source);
  assert.equal(byUrl.source.url, "https://example.com/cat.jpg");
  assert.ok(audio?.type === "audio");
  assert.equal(audio.format, "wav");
  assert.equal(Buffer.from(audio.data).toString("base64"), WAV);
  assert.ok(doc?.type === "document" && "data" in doc.source);
  assert.equal(doc.source.mediaType, "application/pdf");
  assert.equal(doc.filename, "a.pdf");
  assert.deepEqual(
    req.messages[2]?.parts?.map((p) => p.type),
    ["text", "image"],
  );
  assert.deepEqual(req.reasoning, { effort: "low", includeText: false });
  assert.equal(req.parallelToolCalls, false);
  assert.equal(req.promptCacheKey, "tenant-1");
  assert.deepEqual(req.logprobs, { top: 4 });
  assert.equal(req.serviceTier, "priority");
  assert.equal(req.endUserId, "new-id");
  assert.deepEqual(req.providerMetadata, { team: "search" });
});
