import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import type { ResponseInputItem, ResponseStreamEvent } from "openai/resources/responses/responses";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// The official OpenAI SDK pointed at the gateway's Responses front door, served by the echo backend
// (it answers the last user message word by word; with reasoning it thinks first, signed; a forced
// tool choice calls the tool with {"text": <prompt>}).
let gw: TestGateway;
let client: OpenAI;

before(async () => {
  gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: gpt-echo, alias: echo-mini }\n",
    ),
  );
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "any", maxRetries: 0 });
});
after(() => gw.stop());

const requestLines = () => gw.logs.filter((l) => l.msg === "request");
const WEATHER = {
  type: "function" as const,
  name: "get_weather",
  description: "Weather for a city",
  parameters: { type: "object", properties: { text: { type: "string" } } },
  strict: false,
};

test("responses.create: output_text, a message item, usage and the echoed parameters", async () => {
  const { data, response } = await client.responses
    .create({
      model: "switchyard/chat",
      instructions: "Be brief.",
      input: "hello there world",
      temperature: 0.5,
      metadata: { team: "a" },
      store: false,
    })
    .withResponse();
  assert.match(data.id, /^resp_[0-9a-f]{32}$/);
  assert.equal(data.object, "response");
  assert.equal(data.status, "completed");
  assert.equal(data.model, "gpt-echo");
  assert.equal(data.output_text, "hello there world");
  assert.equal(data.output.length, 1);
  const item = data.output[0]!;
  assert.ok(item.type === "message");
  assert.match(item.id, /^msg_/);
  assert.equal(item.role, "assistant");
  assert.equal(item.status, "completed");
  assert.deepEqual(item.content, [{ type: "output_text", text: "hello there world", annotations: [] }]);
  // Echo counts words: "Be brief." (2) + the input (3) in, 3 out.
  assert.deepEqual(data.usage, {
    input_tokens: 5,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 3,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 8,
  });
  assert.equal(data.instructions, "Be brief.");
  assert.equal(data.temperature, 0.5);
  assert.deepEqual(data.metadata, { team: "a" });
  assert.equal((data as unknown as { store: boolean }).store, false); // echoed; the SDK type lacks it
  assert.equal(data.previous_response_id, null);
  assert.equal(data.tool_choice, "auto");
  assert.equal(data.parallel_tool_calls, true);
  assert.equal(typeof data.created_at, "number");
  assert.ok(response.headers.get("x-request-id"));
  assert.equal(response.headers.get("x-switchyard-backend"), "echo");
  assert.ok(data.id.endsWith(response.headers.get("x-request-id")!.replaceAll("-", "")));
});

test("input items (developer message, parts) and an alias; max_output_tokens makes it incomplete", async () => {
  const data = await client.responses.create({
    model: "echo-mini",
    max_output_tokens: 2,
    input: [
      { role: "developer", content: "Answer in kind." },
      { role: "user", content: [{ type: "input_text", text: "one two three four" }] },
    ],
  });
  assert.equal(data.output_text, "one two");
  assert.equal(data.status, "incomplete");
  assert.deepEqual(data.incomplete_details, { reason: "max_output_tokens" });
  assert.equal(data.max_output_tokens, 2);
});

test("responses.stream: the Responses event order with sequence numbers, and finalResponse()", async () => {
  const stream = client.responses.stream({ model: "switchyard/chat", input: "alpha beta gamma" });
  const events: ResponseStreamEvent[] = [];
  let text = "";
  stream.on("response.output_text.delta", (e) => {
    text += e.delta;
  });
  for await (const event of stream) events.push(event);
  const final = await stream.finalResponse();
  assert.equal(text, "alpha beta gamma");
  assert.equal(final.output_text, "alpha beta gamma");
  assert.equal(final.status, "completed");
  assert.equal(final.usage?.output_tokens, 3);
  const types = events.map((e) => e.type);
  const deltas = types.filter((t) => t === "response.output_text.delta").length;
  assert.ok(deltas >= 2, "the text arrives in pieces");
  assert.deepEqual(
    types.filter((t) => t !== "response.output_text.delta"),
    [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ],
  );
  assert.deepEqual(
    events.map((e) => e.sequence_number),
    events.map((_, i) => i),
  );
  const created = events[0]!;
  assert.ok(created.type === "response.created");
  assert.equal(created.response.status, "in_progress");
  assert.equal(created.response.id, final.id);
  const added = events[2]!;
  assert.ok(added.type === "response.output_item.added");
  assert.equal(added.output_index, 0);
  const done = events.findLast((e) => e.type === "response.output_item.done");
  assert.ok(done?.type === "response.output_item.done" && done.item.type === "message");
  assert.equal(done.item.id, added.item.id);
});

test("a function-calling loop: function_call → function_call_output → answer (unary and streamed)", async () => {
  const input: ResponseInputItem[] = [{ role: "user", content: "Weather in Paris?" }];
  const first = await client.responses.create({
    model: "switchyard/chat",
    input,
    tools: [WEATHER],
    tool_choice: { type: "function", name: "get_weather" },
  });
  const call = first.output.find((o) => o.type === "function_call");
  assert.ok(call?.type === "function_call");
  assert.match(call.id!, /^fc_/);
  assert.equal(call.name, "get_weather");
  assert.equal(call.status, "completed");
  assert.deepEqual(JSON.parse(call.arguments), { text: "Weather in Paris?" });
  assert.ok(call.call_id);
  assert.equal(first.output_text, "");
  assert.deepEqual(first.tool_choice, { type: "function", name: "get_weather" });
  assert.equal(first.tools[0]?.type, "function");

  // The SDK's own output items go back as input, as OpenAI's function-calling guide does it.
  const second = await client.responses.create({
    model: "switchyard/chat",
    tools: [WEATHER],
    input: [
      ...input,
      ...(first.output as ResponseInputItem[]),
      { type: "function_call_output", call_id: call.call_id, output: "sunny" },
    ],
  });
  assert.equal(second.output_text, "Weather in Paris?");

  // Streamed: the call arrives as function_call_arguments deltas; finalResponse() has it whole.
  const stream = client.responses.stream({
    model: "switchyard/chat",
    input,
    tools: [WEATHER],
    tool_choice: "required",
  });
  const types: string[] = [];
  let args = "";
  stream.on("response.function_call_arguments.delta", (e) => {
    args += e.delta;
  });
  for await (const e of stream) types.push(e.type);
  const final = await stream.finalResponse();
  const streamed = final.output.find((o) => o.type === "function_call");
  assert.ok(streamed?.type === "function_call");
  assert.equal(streamed.arguments, args);
  assert.deepEqual(JSON.parse(args), { text: "Weather in Paris?" });
  assert.ok(types.includes("response.function_call_arguments.done"));
  // The loop goes on with the streamed items too (their parsed_arguments included).
  const third = await client.responses.create({
    model: "switchyard/chat",
    tools: [WEATHER],
    input: [
      ...input,
      ...(final.output as ResponseInputItem[]),
      {
        type: "function_call_output",
        call_id: streamed.call_id,
        output: [{ type: "input_text", text: "rain" }],
      },
    ],
  });
  assert.equal(third.output_text, "Weather in Paris?");
});

test("reasoning with a summary: a reasoning item first, its summary streamed, sent back it round-trips", async () => {
  const data = await client.responses.create({
    model: "switchyard/chat",
    input: "think about this",
    reasoning: { effort: "low", summary: "auto" },
  });
  const reasoning = data.output[0]!;
  assert.ok(reasoning.type === "reasoning");
  assert.match(reasoning.id, /^rs_/);
  assert.equal(reasoning.summary.length, 1);
  assert.equal(reasoning.summary[0]!.type, "summary_text");
  assert.ok(reasoning.summary[0]!.text.length > 0);
  assert.ok(reasoning.encrypted_content, "echo's signature travels in encrypted_content");
  assert.equal(data.output_text, "think about this");
  assert.ok((data.usage?.output_tokens_details.reasoning_tokens ?? 0) > 0);
  assert.deepEqual(data.reasoning, { effort: "low", summary: "auto" });

  const stream = client.responses.stream({
    model: "switchyard/chat",
    input: "think about this",
    reasoning: { effort: "low", summary: "auto" },
  });
  const types: string[] = [];
  let summary = "";
  stream.on("response.reasoning_summary_text.delta", (e) => {
    summary += e.delta;
  });
  for await (const e of stream) types.push(e.type);
  const final = await stream.finalResponse();
  const item = final.output[0]!;
  assert.ok(item.type === "reasoning");
  assert.equal(item.summary[0]?.text, summary);
  assert.equal(item.encrypted_content, reasoning.encrypted_content);
  assert.deepEqual(
    types.filter((t) => !t.endsWith(".delta")),
    [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.reasoning_summary_part.added",
      "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ],
  );
  assert.ok(types.includes("response.reasoning_summary_text.delta"));
  assert.ok(
    types.indexOf("response.reasoning_summary_part.done") < types.indexOf("response.content_part.added"),
  );

  // Echo refuses a reasoning block whose signature does not match its text, as Anthropic does.
  const next = await client.responses.create({
    model: "switchyard/chat",
    reasoning: { effort: "low", summary: "auto" },
    input: [
      { role: "user", content: "think about this" },
      ...(data.output as ResponseInputItem[]),
      { role: "user", content: "again" },
    ],
  });
  assert.equal(next.output_text, "again");
  const tampered = { ...reasoning, summary: [{ type: "summary_text" as const, text: "changed" }] };
  const error = await client.responses
    .create({
      model: "switchyard/chat",
      input: [{ role: "user", content: "think about this" }, tampered, { role: "user", content: "again" }],
    })
    .catch((e: unknown) => e);
  assert.ok(error instanceof OpenAI.APIError, String(error));
  assert.equal(error.status, 400);
});

test("POST /v1/responses/input_tokens: the gateway's estimate", async () => {
  const short = await client.responses.inputTokens.count({ model: "switchyard/chat", input: "hi" });
  const long = await client.responses.inputTokens.count({
    model: "switchyard/chat",
    input: "a much longer prompt than the other one, with many more characters in it",
    tools: [WEATHER],
  });
  assert.equal(short.object, "response.input_tokens");
  assert.ok(short.input_tokens > 0);
  assert.ok(long.input_tokens > short.input_tokens + 10);
});

test("each call is one request log line; its ledger row matches the chat facade's", async () => {
  const before = requestLines().length;
  const viaResponses = await client.responses
    .create({ model: "switchyard/chat", input: "same words here", max_output_tokens: 50 })
    .withResponse();
  await client.responses.stream({ model: "switchyard/chat", input: "streamed" }).finalResponse();
  await assert.rejects(client.responses.create({ model: "nope", input: "x" }), OpenAI.NotFoundError);
  const lines = requestLines().slice(before);
  assert.deepEqual(
    lines.map((l) => [l.protocol, l.operation, l.status]),
    [
      ["openai_responses", "generate", "ok"],
      ["openai_responses", "generate_stream", "ok"],
      ["openai_responses", "generate", "model_not_found"],
    ],
  );
  const id = viaResponses.response.headers.get("x-request-id")!;
  assert.equal(lines[0]!.requestId, id);
  assert.equal(lines[0]!.workload, "chat");
  const viaChat = await client.chat.completions
    .create({
      model: "switchyard/chat",
      max_tokens: 50,
      messages: [{ role: "user", content: "same words here" }],
    })
    .withResponse();
  await gw.gateway.ledger.flush();
  const a = await gw.gateway.store.ledger.get(id);
  const b = await gw.gateway.store.ledger.get(viaChat.response.headers.get("x-request-id")!);
  assert.ok(a && b);
  const comparable = (r: Record<string, unknown>) => {
    const { requestId, time, latencyMs, ttftMs, protocol, ...rest } = r;
    return rest;
  };
  assert.equal(a.protocol, "openai_responses");
  assert.deepEqual(comparable(a), comparable(b));
  assert.equal(a.inputTokens, 3);
  assert.equal(a.outputTokens, 3);
});

test("include message.output_text.logprobs: logprobs on the output_text part, unary and streamed", async () => {
  const params = {
    model: "switchyard/chat",
    input: "red green",
    include: ["message.output_text.logprobs" as const],
    top_logprobs: 2,
  };
  const data = await client.responses.create(params);
  const message = data.output[0]!;
  assert.ok(message.type === "message");
  const part = message.content[0]!;
  assert.ok(part.type === "output_text");
  assert.equal(part.logprobs?.length, 2);
  const first = part.logprobs![0]!;
  assert.equal(typeof first.logprob, "number");
  assert.equal(first.top_logprobs.length, 2);
  assert.equal(first.top_logprobs[0]!.token, first.token);
  assert.deepEqual(Buffer.from(first.bytes).toString(), first.token);

  const stream = client.responses.stream(params);
  const streamed: number[] = [];
  stream.on("response.output_text.delta", (e) => {
    streamed.push(...e.logprobs.map((l) => l.logprob));
  });
  const final = await stream.finalResponse();
  const done = final.output[0]!;
  assert.ok(done.type === "message" && done.content[0]?.type === "output_text");
  assert.deepEqual(
    done.content[0].logprobs?.map((l) => l.logprob),
    streamed,
  );
  assert.deepEqual(
    streamed,
    part.logprobs!.map((l) => l.logprob),
  );

  // Without include, no logprobs field at all.
  const plain = await client.responses.create({ model: "switchyard/chat", input: "red green" });
  const plainPart = (plain.output[0] as unknown as { content: Record<string, unknown>[] }).content[0]!;
  assert.ok(!("logprobs" in plainPart));
});

test("a Codex-shaped turn: streamed, store false, developer message, encrypted reasoning, cache key", async () => {
  const stream = client.responses.stream({
    model: "switchyard/chat",
    instructions: "You are a coding agent.",
    input: [
      { type: "message", role: "developer", content: [{ type: "input_text", text: "Sandbox: read-only." }] },
      { type: "message", role: "user", content: [{ type: "input_text", text: "list the files" }] },
    ],
    tools: [WEATHER],
    tool_choice: "auto",
    parallel_tool_calls: false,
    reasoning: { effort: "medium", summary: "auto" },
    store: false,
    include: ["reasoning.encrypted_content"],
    prompt_cache_key: "session-1",
    text: { verbosity: "medium" },
  });
  const final = await stream.finalResponse();
  assert.equal(final.output_text, "list the files");
  assert.deepEqual(
    final.output.map((o) => o.type),
    ["reasoning", "message"],
  );
  assert.equal(final.parallel_tool_calls, false);
  assert.equal(final.prompt_cache_key, "session-1");
  // store unset means OpenAI's default (true): accepted and echoed, though nothing is stored.
  const stored = await client.responses.create({ model: "switchyard/chat", input: "x" });
  assert.equal((stored as unknown as { store: boolean }).store, true);
});
