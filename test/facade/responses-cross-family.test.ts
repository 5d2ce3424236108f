import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import type { ResponseInputItem } from "openai/resources/responses/responses";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type AnthropicFake, startAnthropicFake } from "../upstreams/anthropic-fake.ts";

// The Responses front door served by another family: an Anthropic backend (the Anthropic fake).
// Its signed thinking reaches the SDK as a reasoning item whose encrypted_content wraps the
// signature, and sent back it reaches Anthropic as the same thinking block, signature unchanged.
const KEY = "sk-ant-test";
const THOUGHT = "The user asks for the weather; call the tool.";
let fake: AnthropicFake;
let gw: TestGateway;
let client: OpenAI;

before(async () => {
  fake = await startAnthropicFake({ requireApiKey: KEY });
  gw = await startTestGateway(
    configYaml(
      `  claude:\n    type: anthropic\n    baseUrl: ${fake.url}\n    apiKey: \${ANTHROPIC_KEY}\n`,
      "  chat:\n    targets:\n      - { backend: claude, model: claude-opus-4-1 }\n",
    ),
    { ANTHROPIC_KEY: KEY },
  );
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "any", maxRetries: 0 });
});
after(async () => {
  await gw.stop();
  await fake.close();
});

const WEATHER = {
  type: "function" as const,
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } } },
  strict: false,
};
const question: ResponseInputItem = { role: "user", content: "Weather in Paris?" };

for (const mode of ["unary", "stream"] as const) {
  test(`${mode}: Anthropic thinking (signed and redacted) round-trips through reasoning items`, async () => {
    fake.enqueue({
      thinking: [{ text: THOUGHT }, { redacted: true }],
      toolUses: [{ name: "get_weather", input: { city: "Paris" } }],
    });
    const params = {
      model: "switchyard/chat",
      input: [question],
      tools: [WEATHER],
      reasoning: { effort: "high" as const, summary: "auto" as const },
      max_output_tokens: 4000,
    };
    const first =
      mode === "unary"
        ? await client.responses.create(params)
        : await client.responses.stream(params).finalResponse();
    const [thinking, redacted, call] = first.output;
    assert.ok(thinking?.type === "reasoning" && redacted?.type === "reasoning", JSON.stringify(first.output));
    assert.equal(thinking.summary[0]?.text, THOUGHT);
    assert.match(thinking.encrypted_content ?? "", /^sy1\./);
    assert.deepEqual(redacted.summary, []);
    assert.match(redacted.encrypted_content ?? "", /^sy1\./);
    assert.ok(call?.type === "function_call");
    assert.deepEqual(JSON.parse(call.arguments), { city: "Paris" });
    assert.match(call.call_id, /^toolu_/);
    const sentFirst = fake.requests.at(-1)?.body as { thinking?: unknown };
    assert.ok(sentFirst.thinking, "reasoning was asked of Anthropic");

    fake.enqueue({ text: "It is 21 °C in Paris." });
    const second = await client.responses.create({
      ...params,
      input: [
        question,
        ...(first.output as ResponseInputItem[]),
        { type: "function_call_output", call_id: call.call_id, output: '{"temp_c":21}' },
      ],
    });
    assert.equal(second.output_text, "It is 21 °C in Paris.");
    const sent = fake.requests.at(-1)?.body as {
      messages: { role: string; content: Record<string, unknown>[] }[];
    };
    const assistant = sent.messages[1]!;
    assert.equal(assistant.role, "assistant");
    assert.equal(assistant.content[0]?.type, "thinking");
    assert.equal(assistant.content[0]?.thinking, THOUGHT);
    assert.equal(assistant.content[1]?.type, "redacted_thinking");
    assert.equal(assistant.content[2]?.type, "tool_use");
    assert.equal(assistant.content[2]?.id, call.call_id);
    const tool = sent.messages[2]!.content[0]!;
    assert.equal(tool.type, "tool_result");
    assert.equal(tool.tool_use_id, call.call_id);
  });
}
