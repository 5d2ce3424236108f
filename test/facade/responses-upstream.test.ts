import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import type { ResponseInputItem } from "openai/resources/responses/responses";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

// The Responses front door served by an OpenAI backend in `api: responses` mode (the OpenAI fake):
// the upstream's encrypted reasoning reaches the SDK as a reasoning item with encrypted_content,
// and sent back in the next turn of a tool loop it reaches the upstream byte for byte.
const THOUGHT = "The user wants the weather.\n\nI should call get_weather.";
const WEATHER = {
  type: "function" as const,
  name: "get_weather",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  strict: true,
};
let fake: OpenAIFake;
let gw: TestGateway;
let client: OpenAI;

before(async () => {
  fake = await startOpenAIFake();
  gw = await startTestGateway(
    configYaml(
      `  oa:\n    type: openai\n    api: responses\n    baseUrl: ${fake.url}/v1\n  echo: { type: echo }\n`,
      "  chat:\n    targets:\n      - { backend: oa, model: gpt-5-mini }\n" +
        "  failover:\n    targets:\n      - { backend: oa, model: gpt-5-mini }\n      - { backend: echo, model: gpt-echo }\n",
    ),
  );
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "any", maxRetries: 0 });
});
after(async () => {
  await gw.stop();
  await fake.close();
});

const question: ResponseInputItem = { role: "user", content: "Weather in Paris?" };

for (const mode of ["unary", "stream"] as const) {
  test(`${mode}: encrypted reasoning round-trips unchanged through a tool loop; a changed byte is refused`, async () => {
    fake.enqueue({ reasoning: THOUGHT, toolCalls: [{ name: "get_weather", arguments: '{"city":"Paris"}' }] });
    const params = {
      model: "switchyard/chat",
      input: [question],
      tools: [WEATHER],
      reasoning: { effort: "low" as const, summary: "auto" as const },
      include: ["reasoning.encrypted_content" as const],
      store: false,
    };
    const first =
      mode === "unary"
        ? await client.responses.create(params)
        : await client.responses.stream(params).finalResponse();
    const reasoning = first.output[0]!;
    assert.ok(reasoning.type === "reasoning", JSON.stringify(first.output));
    assert.match(reasoning.id, /^rs_/);
    assert.match(reasoning.encrypted_content ?? "", /^gAAAAAB/);
    assert.equal(reasoning.summary.map((s) => s.text).join(""), THOUGHT);
    const call = first.output.find((o) => o.type === "function_call");
    assert.ok(call?.type === "function_call");
    assert.equal(call.arguments, '{"city":"Paris"}');
    assert.ok((first.usage?.output_tokens_details.reasoning_tokens ?? 0) > 0);

    const turn = (item: ResponseInputItem) => ({
      model: "switchyard/chat",
      tools: [WEATHER],
      reasoning: { effort: "low" as const, summary: "auto" as const },
      input: [
        question,
        item,
        { type: "function_call" as const, call_id: call.call_id, name: call.name, arguments: call.arguments },
        { type: "function_call_output" as const, call_id: call.call_id, output: '{"temp_c":21}' },
      ],
    });
    fake.enqueue({ text: "It is 21 °C in Paris." });
    const second = await client.responses.create(turn(reasoning as ResponseInputItem));
    assert.equal(second.output_text, "It is 21 °C in Paris.");
    const sent = fake.requests.at(-1)?.body as { input: Record<string, unknown>[] };
    assert.deepEqual(sent.input[1], {
      type: "reasoning",
      id: reasoning.id,
      encrypted_content: reasoning.encrypted_content,
      summary: [{ type: "summary_text", text: THOUGHT }],
    });

    const encrypted = reasoning.encrypted_content!;
    const at = Math.floor(encrypted.length / 2);
    const changed = `${encrypted.slice(0, at)}${encrypted[at] === "x" ? "y" : "x"}${encrypted.slice(at + 1)}`;
    const refused = await client.responses
      .create(turn({ ...reasoning, encrypted_content: changed } as ResponseInputItem))
      .catch((e: unknown) => e);
    assert.ok(refused instanceof OpenAI.BadRequestError, String(refused));
    assert.equal(refused.headers.get("x-switchyard-reason"), "upstream_rejected_request");
    assert.doesNotMatch(refused.message, /gAAA/);
  });
}

test("a failure after output started: an error event, then response.failed; the SDK's stream rejects", async () => {
  fake.enqueue({
    text: "one two three four five six",
    streamError: { afterEvents: 6, error: { code: "server_error", message: "boom" } },
  });
  // The raw events, as Codex reads them.
  const raw = await client.responses.create({ model: "switchyard/chat", input: "hi", stream: true });
  const events: {
    type: string;
    sequence_number: number;
    code?: string;
    message?: string;
    response?: { status: string };
  }[] = [];
  for await (const e of raw) events.push(e as never);
  const types = events.map((e) => e.type);
  assert.ok(types.includes("response.output_text.delta"), types.join());
  assert.deepEqual(types.slice(-2), ["error", "response.failed"]);
  const error = events.at(-2)!;
  assert.equal(error.code, "stream_interrupted");
  assert.doesNotMatch(error.message ?? "", /boom/, "upstream error text is not passed on");
  assert.equal(events.at(-1)!.response?.status, "failed");
  assert.deepEqual(
    events.map((e) => e.sequence_number),
    events.map((_, i) => i),
  );

  // The SDK's helper stops at the error event and finalResponse() rejects.
  fake.enqueue({
    text: "one two three four five six",
    streamError: { afterEvents: 6, error: { code: "server_error", message: "boom" } },
  });
  const stream = client.responses.stream({ model: "switchyard/chat", input: "hi" });
  await assert.rejects(stream.finalResponse());
});

test("the request surface reaches an OpenAI backend translated: parts, format, sampling, metadata, tier", async () => {
  fake.enqueue({ text: '{"city":"Paris"}' });
  const png = Buffer.from("fake png bytes").toString("base64");
  const pdf = Buffer.from("%PDF-1.4 fake").toString("base64");
  const data = await client.responses.create({
    model: "switchyard/chat",
    instructions: "Answer in JSON.",
    input: [
      {
        role: "user",
        content: [
          { type: "input_text", text: "Where is this?" },
          { type: "input_image", image_url: "https://example.com/a.png", detail: "low" },
          { type: "input_image", image_url: `data:image/png;base64,${png}`, detail: "auto" },
          { type: "input_file", file_data: `data:application/pdf;base64,${pdf}`, filename: "a.pdf" },
        ],
      },
    ],
    text: {
      format: {
        type: "json_schema",
        name: "place",
        schema: {
          type: "object",
          properties: { city: { type: "string" } },
          required: ["city"],
          additionalProperties: false,
        },
        strict: true,
      },
    },
    max_output_tokens: 64,
    metadata: { ticket: "T-1" },
    prompt_cache_key: "cache-key-1",
    safety_identifier: "user-42",
    service_tier: "flex",
    parallel_tool_calls: false,
    tools: [WEATHER],
    tool_choice: "none",
  });
  assert.equal(data.output_text, '{"city":"Paris"}');
  const sent = fake.requests.at(-1)?.body as Record<string, unknown>;
  // Same family, so the parts come out as they went in; instructions stay the system turn.
  assert.equal(sent.instructions, "Answer in JSON.");
  assert.deepEqual(sent.input, [
    {
      type: "message",
      role: "user",
      content: [
        { type: "input_text", text: "Where is this?" },
        { type: "input_image", image_url: "https://example.com/a.png", detail: "low" },
        { type: "input_image", image_url: `data:image/png;base64,${png}`, detail: "auto" },
        { type: "input_file", file_data: `data:application/pdf;base64,${pdf}`, filename: "a.pdf" },
      ],
    },
  ]);
  assert.deepEqual((sent.text as { format: unknown }).format, {
    type: "json_schema",
    name: "place",
    schema: {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
      additionalProperties: false,
    },
    strict: true,
  });
  assert.equal(sent.max_output_tokens, 64);
  assert.equal(sent.prompt_cache_key, "cache-key-1");
  assert.equal(sent.safety_identifier, "user-42");
  assert.equal(sent.service_tier, "flex");
  assert.equal(sent.parallel_tool_calls, false);
  assert.equal(sent.tool_choice, "none");
  assert.equal(sent.store, false, "nothing is stored at the provider either");
  // metadata is routing metadata here; the adapter sends it upstream only with stored responses.
  assert.equal(sent.metadata, undefined);
  assert.deepEqual(data.metadata, { ticket: "T-1" });
});

test("failover before the first content is invisible: the stream is the backup's, from sequence 0", async () => {
  fake.enqueue({ kind: "error", status: 500 });
  const { data: stream, response } = await client.responses
    .create({ model: "switchyard/failover", input: "from the backup", stream: true })
    .withResponse();
  const events: { type: string; sequence_number: number; delta?: string }[] = [];
  for await (const e of stream) events.push(e as never);
  assert.equal(response.headers.get("x-switchyard-backend"), "echo");
  assert.equal(response.headers.get("x-switchyard-attempts"), "2");
  assert.equal(events[0]?.type, "response.created");
  assert.equal(events.at(-1)?.type, "response.completed");
  assert.ok(!events.some((e) => e.type === "error" || e.type === "response.failed"));
  assert.equal(
    events.flatMap((e) => (e.type === "response.output_text.delta" ? [e.delta] : [])).join(""),
    "from the backup",
  );
  assert.deepEqual(
    events.map((e) => e.sequence_number),
    events.map((_, i) => i),
  );
});
