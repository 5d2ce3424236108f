import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

// Anthropic SDK → the Messages front door → the neutral pipeline → the OpenAI adapter → the
// faithful OpenAI fake: a Messages client served by the other family, translated both ways.
let fake: OpenAIFake;
let gw: TestGateway;
let client: Anthropic;

before(async () => {
  fake = await startOpenAIFake();
  gw = await startTestGateway(
    configYaml(
      `  gpt:\n    type: openai\n    baseUrl: ${fake.url}/v1\n`,
      "  chat:\n    retry: { maxAttempts: 1 }\n    targets:\n      - { backend: gpt, model: gpt-4o }\n",
    ),
  );
  client = new Anthropic({ baseURL: gw.url, apiKey: "any", maxRetries: 0 });
});
after(async () => {
  await gw.stop();
  await fake.close();
});
beforeEach(() => {
  fake.requests.length = 0;
});

const TOOLS = [
  {
    name: "get_weather",
    description: "Weather for a city",
    input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] },
  },
];

test("a tool-use loop served by OpenAI: tool_calls ↔ tool_use, tool_result → a tool message", async () => {
  fake.enqueue({ toolCalls: [{ id: "call_w1", name: "get_weather", arguments: '{"city":"Paris"}' }] });
  const first = await client.messages.create({
    model: "switchyard/chat",
    max_tokens: 100,
    system: "You are terse.",
    tools: TOOLS,
    tool_choice: { type: "auto" },
    messages: [{ role: "user", content: "Weather in Paris?" }],
  });
  assert.equal(first.stop_reason, "tool_use");
  assert.deepEqual(first.content, [
    { type: "tool_use", id: "call_w1", name: "get_weather", input: { city: "Paris" } },
  ]);
  const sentTools = (fake.requests[0]!.body as { tools: unknown[] }).tools;
  assert.deepEqual(sentTools, [
    {
      type: "function",
      function: {
        name: "get_weather",
        description: "Weather for a city",
        parameters: TOOLS[0]!.input_schema,
      },
    },
  ]);

  fake.enqueue({ text: "Sunny in Paris." });
  const second = await client.messages.create({
    model: "switchyard/chat",
    max_tokens: 100,
    system: "You are terse.",
    tools: TOOLS,
    messages: [
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: first.content },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "call_w1", content: "sunny, 21C" },
          { type: "text", text: "Answer briefly." },
        ],
      },
    ],
  });
  assert.deepEqual(second.content, [{ type: "text", text: "Sunny in Paris." }]);
  assert.equal(second.stop_reason, "end_turn");
  const sent = (fake.requests[1]!.body as { messages: Record<string, unknown>[] }).messages;
  assert.deepEqual(
    sent.map((m) => m.role),
    ["system", "user", "assistant", "tool", "user"],
  );
  assert.equal(sent[3]!.tool_call_id, "call_w1");
  assert.match(JSON.stringify(sent[3]!.content), /sunny, 21C/);
  assert.deepEqual((sent[2]!.tool_calls as unknown[])[0], {
    id: "call_w1",
    type: "function",
    function: { name: "get_weather", arguments: '{"city":"Paris"}' },
  });
});

test("streamed from OpenAI: Anthropic events, cached prompt tokens reported apart", async () => {
  fake.enqueue({
    text: "one two three",
    usage: { prompt_tokens: 30, completion_tokens: 3, cached_tokens: 10 },
  });
  const texts: string[] = [];
  const stream = client.messages.stream({
    model: "switchyard/chat",
    max_tokens: 100,
    messages: [{ role: "user", content: "count" }],
  });
  stream.on("text", (t) => texts.push(t));
  const final = await stream.finalMessage();
  assert.equal(texts.join(""), "one two three");
  assert.equal(final.model, "gpt-4o");
  assert.equal(final.usage.input_tokens, 20);
  assert.equal(final.usage.cache_read_input_tokens, 10);
  assert.equal(final.usage.output_tokens, 3);
});

test("an upstream 429 is a rate_limit_error the SDK raises as RateLimitError", async () => {
  fake.enqueue({ kind: "error", status: 429, fixture: "rate_limit_exceeded" });
  const error = await client.messages
    .create({ model: "switchyard/chat", max_tokens: 10, messages: [{ role: "user", content: "x" }] })
    .catch((e: unknown) => e);
  assert.ok(error instanceof Anthropic.RateLimitError, String(error));
  assert.equal((error.error as { error: { type: string } }).error.type, "rate_limit_error");
  assert.ok(error.headers.get("retry-after"));
  assert.ok(
    !String(error.message).includes("Rate limit reached for"),
    "upstream error text is not passed on",
  );
});
