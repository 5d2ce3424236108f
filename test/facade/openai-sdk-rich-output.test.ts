import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, test } from "node:test";
import OpenAI from "openai";
import type { GenerateOutput, TokenLogprob } from "../../src/adapters/adapter.ts";
import { compileConfig } from "../../src/config/compile.ts";
import { parseConfig } from "../../src/config/load.ts";
import { openAIFacade } from "../../src/facade/openai/facade.ts";
import type { MeteredUsage } from "../../src/metering/meter.ts";
import type { GenerationRequest, Pipeline, PipelineEvent } from "../../src/pipeline/pipeline.ts";
import { createLogger } from "../../src/telemetry/logger.ts";
import { RequestTelemetry } from "../../src/telemetry/request-telemetry.ts";

// The official SDK reads what the facade renders: usage details, logprobs (accumulated across
// chunks by its stream helper), the service tier and reasoning_content. The pipeline is a scripted
// stand-in that answers with what a reasoning provider would report, so this holds whichever
// adapter serves; the provider side of each field is proven by the adapters' own fake tests.

const yaml = `
store: { type: memory }
auth: { enabled: false }
backends:
  a: { type: echo }
routes:
  chat:
    targets: [{ backend: a, model: gpt-5-mini }]
`;
const { compiled } = compileConfig(parseConfig(yaml, "t", {}), {}, createLogger("silent"));
const logger = createLogger("silent");

const LOGPROBS: TokenLogprob[] = [
  {
    token: "Hel",
    logprob: -0.1,
    bytes: [72, 101, 108],
    topLogprobs: [
      { token: "Hel", logprob: -0.1 },
      { token: "Hi", logprob: -2.4 },
    ],
  },
  { token: "lo", logprob: -0.02, bytes: [108, 111], topLogprobs: [{ token: "lo", logprob: -0.02 }] },
];
const USAGE: MeteredUsage = {
  inputTokens: 2048,
  outputTokens: 300,
  cachedInputTokens: 1920,
  reasoningTokens: 256,
  accuracy: "exact",
};
const OUTPUT: GenerateOutput = {
  text: "Hello",
  toolCalls: [],
  finishReason: "stop",
  model: "gpt-5-mini-2025-08-07",
  reasoning: [{ text: "Greeting; answer briefly.", provider: "openai" }],
  logprobs: LOGPROBS,
  serviceTier: "flex",
};
const STREAM: PipelineEvent[] = [
  { type: "commit", attempt: 1 } as PipelineEvent,
  { type: "reasoning", index: 0, provider: "openai", text: "Greeting; " },
  { type: "reasoning", index: 0, provider: "openai", text: "answer briefly." },
  { type: "reasoning", index: 0, provider: "openai", encryptedContent: "gAAAA…" },
  { type: "text", text: "Hel", logprobs: LOGPROBS.slice(0, 1) },
  { type: "text", text: "lo", logprobs: LOGPROBS.slice(1) },
  { type: "finish", reason: "stop", model: "gpt-5-mini-2025-08-07", serviceTier: "flex" },
  { type: "final", usage: USAGE },
];

const seen: GenerationRequest[] = [];
const pipeline = {
  async generate(_ctx: unknown, request: GenerationRequest) {
    seen.push(request);
    return { output: OUTPUT, usage: USAGE };
  },
  async *stream(_ctx: unknown, request: GenerationRequest) {
    seen.push(request);
    yield* STREAM;
  },
} as unknown as Pipeline;

const facade = openAIFacade({
  pipeline,
  config: () => compiled,
  logger,
  telemetry: new RequestTelemetry(undefined, logger),
  maxRequestBytes: 1 << 20,
});
const server = createServer((req, res) => facade(req, res));
let sdk: OpenAI;

before(async () => {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  sdk = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: "any", maxRetries: 0 });
});
after(() => {
  server.close();
});
beforeEach(() => {
  seen.length = 0;
});

const ask = {
  model: "switchyard/chat",
  messages: [{ role: "user" as const, content: "Say hello" }],
  logprobs: true,
  top_logprobs: 2,
  reasoning_effort: "high" as const,
  service_tier: "flex" as const,
};

test("unary: the SDK reads reasoning_tokens, cached_tokens, logprobs and service_tier", async () => {
  const done = await sdk.chat.completions.create(ask);
  assert.equal(done.usage?.completion_tokens_details?.reasoning_tokens, 256);
  assert.equal(done.usage?.prompt_tokens_details?.cached_tokens, 1920);
  assert.equal(done.usage?.total_tokens, 2348);
  assert.equal(done.service_tier, "flex");
  const logprobs = done.choices[0]?.logprobs?.content ?? [];
  assert.deepEqual(
    logprobs.map((t) => [t.token, t.logprob, t.bytes, t.top_logprobs.map((a) => a.token)]),
    [
      ["Hel", -0.1, [72, 101, 108], ["Hel", "Hi"]],
      ["lo", -0.02, [108, 111], ["lo"]],
    ],
  );
  assert.equal(done.choices[0]?.message.content, "Hello");
  assert.equal("reasoning_content" in (done.choices[0]?.message ?? {}), false, "not asked for");
  assert.equal(seen.length, 1);
});

test("unary with include_reasoning: the message carries reasoning_content beside content", async () => {
  const done = await sdk.chat.completions.create({ ...ask, include_reasoning: true } as typeof ask);
  const message = done.choices[0]?.message as OpenAI.Chat.ChatCompletionMessage & {
    reasoning_content?: string;
  };
  assert.equal(message.reasoning_content, "Greeting; answer briefly.");
  assert.equal(message.content, "Hello");
});

test("stream: the SDK's helper accumulates logprobs across chunks and reads the usage chunk", async () => {
  const stream = sdk.chat.completions.stream({
    ...ask,
    stream_options: { include_usage: true },
    include_reasoning: true,
  } as Parameters<typeof sdk.chat.completions.stream>[0]);
  const reasoning: string[] = [];
  const content: string[] = [];
  const tiers: (string | null | undefined)[] = [];
  for await (const chunk of stream) {
    tiers.push(chunk.service_tier);
    const delta = chunk.choices[0]?.delta as
      | { content?: string | null; reasoning_content?: string }
      | undefined;
    if (delta?.reasoning_content) reasoning.push(delta.reasoning_content);
    if (delta?.content) content.push(delta.content);
  }
  const done = await stream.finalChatCompletion();
  assert.deepEqual(reasoning, ["Greeting; ", "answer briefly."], "the encrypted piece has no text to show");
  assert.deepEqual(content, ["Hel", "lo"], "reasoning never mixed into content");
  assert.equal(done.choices[0]?.message.content, "Hello");
  assert.deepEqual(
    done.choices[0]?.logprobs?.content?.map((t) => t.token),
    ["Hel", "lo"],
  );
  assert.equal(done.usage?.completion_tokens_details?.reasoning_tokens, 256);
  assert.equal(done.usage?.prompt_tokens_details?.cached_tokens, 1920);
  assert.equal(tiers.at(-1), "flex", "the usage chunk names the tier");
});

test("stream without include_reasoning: no reasoning text reaches the caller", async () => {
  const stream = await sdk.chat.completions.create({ ...ask, stream: true });
  const raw: string[] = [];
  for await (const chunk of stream) raw.push(JSON.stringify(chunk));
  assert.ok(!raw.join("\n").includes("Greeting"));
  assert.ok(raw.join("").includes('"content":"Hel"'));
});
