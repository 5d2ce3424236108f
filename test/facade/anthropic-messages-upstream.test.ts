import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type AnthropicFake, startAnthropicFake } from "../upstreams/anthropic-fake.ts";

// Anthropic SDK → the Messages front door → the neutral pipeline → the Anthropic adapter → the
// faithful Anthropic fake: the same family at both ends, translated (pass-through is not built).
const KEY = "sk-ant-test-CANARY-31";
let fake: AnthropicFake;
let gw: TestGateway;
let client: Anthropic;

before(async () => {
  fake = await startAnthropicFake({ requireApiKey: KEY });
  gw = await startTestGateway(
    configYaml(
      `  claude:\n    type: anthropic\n    baseUrl: ${fake.url}\n    apiKey: \${ANTHROPIC_KEY}\n`,
      "  chat:\n    targets:\n      - { backend: claude, model: claude-opus-4-1 }\n",
    ),
    { ANTHROPIC_KEY: KEY },
  );
  client = new Anthropic({ baseURL: gw.url, apiKey: "caller-key", maxRetries: 0 });
});
after(async () => {
  await gw.stop();
  await fake.close();
});
beforeEach(() => {
  fake.requests.length = 0;
});

test("unary: the request reaches Anthropic translated back; cached input is reported apart", async () => {
  fake.enqueue({
    text: "Bonjour.",
    usage: { input_tokens: 10, output_tokens: 2, cache_read_input_tokens: 20 },
  });
  const data = await client.messages.create({
    model: "switchyard/chat",
    max_tokens: 64,
    system: "Answer in French.",
    messages: [{ role: "user", content: "Hello" }],
    stop_sequences: ["END"],
  });
  assert.deepEqual(data.content, [{ type: "text", text: "Bonjour." }]);
  assert.equal(data.model, "claude-opus-4-1");
  assert.equal(data.usage.input_tokens, 10);
  assert.equal(data.usage.cache_read_input_tokens, 20);
  assert.equal(data.usage.output_tokens, 2);
  const sent = fake.requests[0]!;
  assert.equal(sent.headers["x-api-key"], KEY, "the backend's key, never the caller's");
  const body = sent.body as Record<string, unknown>;
  assert.equal(body.model, "claude-opus-4-1");
  assert.equal(body.max_tokens, 64);
  assert.deepEqual(body.stop_sequences, ["END"]);
  assert.match(JSON.stringify(body.system), /Answer in French\./);
  assert.match(JSON.stringify(body.messages), /Hello/);
});

test("streamed tool use from Anthropic arrives as tool_use with its id and input", async () => {
  fake.enqueue({ toolUses: [{ id: "toolu_fake1", name: "lookup", input: { q: "weather in Oslo" } }] });
  const stream = client.messages.stream({
    model: "switchyard/chat",
    max_tokens: 64,
    tools: [{ name: "lookup", input_schema: { type: "object", properties: { q: { type: "string" } } } }],
    messages: [{ role: "user", content: "Oslo?" }],
  });
  const final = await stream.finalMessage();
  assert.equal(final.stop_reason, "tool_use");
  const use = final.content.find((b) => b.type === "tool_use");
  assert.ok(use && use.type === "tool_use");
  assert.equal(use.id, "toolu_fake1");
  assert.equal(use.name, "lookup");
  assert.deepEqual(use.input, { q: "weather in Oslo" });
  const tools = (fake.requests[0]!.body as { tools: { name: string }[] }).tools;
  assert.deepEqual(
    tools.map((t) => t.name),
    ["lookup"],
  );
});

test("the caller's key is not forwarded and does not reach the logs", () => {
  assert.ok(!gw.logText().includes(KEY));
  assert.ok(!gw.logText().includes("caller-key"));
});
