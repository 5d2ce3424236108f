import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import OpenAI from "openai";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

// The official OpenAI SDK pointed at the gateway's facade, with a faithful OpenAI fake as the upstream.
let upstream: OpenAIFake;
let backup: OpenAIFake;
let gw: TestGateway;
let client: OpenAI;

before(async () => {
  upstream = await startOpenAIFake();
  backup = await startOpenAIFake();
  gw = await startTestGateway(
    configYaml(
      `  primary:\n    type: openai\n    baseUrl: ${upstream.url}/v1\n` +
        `  backup:\n    type: openai\n    baseUrl: ${backup.url}/v1\n`,
      `  chat:\n    targets:\n      - { backend: primary, model: gpt-4o-mini, alias: fast }\n` +
        `  failover:\n    targets:\n      - { backend: primary, model: gpt-4o }\n      - { backend: backup, model: backup-model }\n`,
    ),
  );
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "any", maxRetries: 0 });
});
after(async () => {
  await gw.stop();
  await upstream.close();
  await backup.close();
});
beforeEach(() => {
  upstream.requests.length = 0;
  backup.requests.length = 0;
});

const requestLines = () => gw.logs.filter((l) => l.msg === "request");

test("unary chat: a chat.completion shaped as OpenAI's, with routing headers", async () => {
  upstream.enqueue({ text: "Paris.", usage: { prompt_tokens: 9, completion_tokens: 2, cached_tokens: 4 } });
  const { data, response } = await client.chat.completions
    .create({
      model: "switchyard/chat",
      messages: [
        { role: "system", content: "Be brief." },
        {
          role: "user",
          content: [
            { type: "text", text: "Capital of " },
            { type: "text", text: "France?" },
          ],
        },
      ],
      max_completion_tokens: 20,
      temperature: 0.2,
      top_p: 0.9,
      stop: "END",
      seed: 7,
      user: "end-user-1",
      n: 1,
      store: false,
      parallel_tool_calls: true,
    })
    .withResponse();
  assert.equal(data.object, "chat.completion");
  assert.match(data.id, /^chatcmpl-[0-9a-f-]{36}$/);
  assert.equal(data.id, `chatcmpl-${response.headers.get("x-request-id")}`);
  assert.equal(typeof data.created, "number");
  assert.equal(data.model, "gpt-4o-mini");
  assert.deepEqual(data.choices, [
    {
      index: 0,
      message: { role: "assistant", content: "Paris.", refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: "stop",
    },
  ]);
  // Exactly the upstream's usage object (api.openai.com reports every detail, zeros included).
  assert.deepEqual(data.usage, {
    prompt_tokens: 9,
    completion_tokens: 2,
    total_tokens: 11,
    prompt_tokens_details: { cached_tokens: 4, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  });
  assert.equal(response.headers.get("x-switchyard-backend"), "primary");
  assert.equal(response.headers.get("x-switchyard-model"), "gpt-4o-mini");
  assert.equal(response.headers.get("x-switchyard-attempts"), "1");
  assert.equal(response.headers.get("x-switchyard-route"), "chat");
  assert.match(response.headers.get("server-timing") ?? "", /^gateway;dur=[\d.]+, upstream;dur=[\d.]+$/);
  const sent = upstream.requests[0]!.body as Record<string, unknown>;
  assert.deepEqual(sent.messages, [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Capital of France?" },
  ]);
  assert.equal(sent.max_tokens, 20);
  assert.equal(sent.temperature, 0.2);
  assert.equal(sent.top_p, 0.9);
  assert.deepEqual(sent.stop, ["END"]);
  assert.equal(sent.seed, 7);
});

test("model names: switchyard/<workload>/<model>, an alias, and a bare model id reach the same target", async () => {
  for (const model of ["switchyard/chat/fast", "fast", "gpt-4o-mini", "switchyard/chat/gpt-4o-mini"]) {
    upstream.enqueue({ text: "ok" });
    const done = await client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] });
    assert.equal(done.choices[0]!.message.content, "ok", model);
  }
  assert.deepEqual(
    upstream.requests.map((r) => (r.body as { model: string }).model),
    ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o-mini", "gpt-4o-mini"],
  );
  // A bare model id picks the first route that has it: gpt-4o is only in "failover".
  upstream.enqueue({ text: "ok" });
  const { response } = await client.chat.completions
    .create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] })
    .withResponse();
  assert.equal(response.headers.get("x-switchyard-route"), "failover");
});

test("tools round trip: tool_calls out, a tool message back in", async () => {
  const call = { id: "call_abc123", name: "get_weather", arguments: '{"city":"Paris"}' };
  upstream.enqueue({ toolCalls: [call] });
  const tools = [
    {
      type: "function" as const,
      function: {
        name: "get_weather",
        description: "Weather for a city",
        parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      },
    },
  ];
  const first = await client.chat.completions.create({
    model: "switchyard/chat",
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools,
    tool_choice: { type: "function", function: { name: "get_weather" } },
  });
  const message = first.choices[0]!.message;
  assert.equal(first.choices[0]!.finish_reason, "tool_calls");
  assert.equal(message.content, null);
  assert.deepEqual(message.tool_calls, [
    { id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } },
  ]);
  const sent = upstream.requests[0]!.body as Record<string, unknown>;
  assert.deepEqual(sent.tools, tools);
  assert.deepEqual(sent.tool_choice, { type: "function", function: { name: "get_weather" } });

  upstream.enqueue({ text: "Sunny." });
  const second = await client.chat.completions.create({
    model: "switchyard/chat",
    messages: [
      { role: "user", content: "Weather in Paris?" },
      message, // the SDK's own assistant message, sent back as-is
      { role: "tool", tool_call_id: call.id, content: '{"sky":"clear"}' },
    ],
    tools,
  });
  assert.equal(second.choices[0]!.message.content, "Sunny.");
  const back = (upstream.requests[1]!.body as { messages: Record<string, unknown>[] }).messages;
  assert.deepEqual(back[1]!.tool_calls, message.tool_calls);
  assert.equal(back[2]!.tool_call_id, call.id);
});

test("streamed text: the SDK's iterator sees the deltas, finalChatCompletion assembles them", async () => {
  upstream.enqueue({ chunks: ["Hel", "lo", ", ", "world"] });
  const stream = await client.chat.completions.create({
    model: "switchyard/chat",
    messages: [{ role: "user", content: "hi" }],
    stream: true,
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.equal(chunks[0]!.choices[0]!.delta.role, "assistant");
  assert.deepEqual(
    chunks.flatMap((c) => (c.choices[0]?.delta.content ? [c.choices[0].delta.content] : [])),
    ["Hel", "lo", ", ", "world"],
  );
  assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, "stop");
  assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && !("usage" in c)));
  assert.equal(new Set(chunks.map((c) => c.id)).size, 1);

  upstream.enqueue({ chunks: ["One ", "two ", "three"] });
  const runner = client.chat.completions.stream({
    model: "switchyard/chat",
    messages: [{ role: "user", content: "count" }],
  });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0]!.message.content, "One two three");
  assert.equal(final.choices[0]!.finish_reason, "stop");
});

test("streamed tool calls are reassembled by the SDK", async () => {
  const calls = [
    { id: "call_1", name: "get_weather", arguments: '{"city":"Paris","unit":"celsius","days":3}' },
    { id: "call_2", name: "get_time", arguments: '{"zone":"Europe/Paris"}' },
  ];
  upstream.enqueue({ toolCalls: calls });
  const runner = client.chat.completions.stream({
    model: "switchyard/chat",
    messages: [{ role: "user", content: "weather and time" }],
    tools: calls.map((c) => ({ type: "function" as const, function: { name: c.name, parameters: {} } })),
  });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0]!.finish_reason, "tool_calls");
  assert.deepEqual(
    final.choices[0]!.message.tool_calls?.map(
      (c) => c.type === "function" && [c.id, c.function.name, c.function.arguments],
    ),
    calls.map((c) => [c.id, c.name, c.arguments]),
  );
});

test("include_usage: usage null on every chunk, then a last chunk with no choices and the usage", async () => {
  upstream.enqueue({ chunks: ["a", "b"], usage: { prompt_tokens: 5, completion_tokens: 2 } });
  const { data: stream, response } = await client.chat.completions
    .create({
      model: "switchyard/chat",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    })
    .withResponse();
  assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
  assert.equal(response.headers.get("x-switchyard-backend"), "primary");
  assert.ok(response.headers.get("x-request-id"));
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  const last = chunks.at(-1)!;
  assert.deepEqual(last.choices, []);
  assert.deepEqual(last.usage, {
    prompt_tokens: 5,
    completion_tokens: 2,
    total_tokens: 7,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  });
  for (const chunk of chunks.slice(0, -1)) assert.equal(chunk.usage, null);
  assert.equal(chunks.at(-2)!.choices[0]!.finish_reason, "stop");
});

test("raw stream: data events, [DONE] last, no attempt/commit events; fallback is invisible", async () => {
  upstream.enqueue({ kind: "error", status: 500 });
  backup.enqueue({ chunks: ["from ", "backup"] });
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "switchyard/failover",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-switchyard-backend"), "backup");
  assert.equal(res.headers.get("x-switchyard-attempts"), "2");
  const text = await res.text();
  const events = text.split("\n\n").filter((e) => e !== "");
  assert.ok(events.every((e) => e.startsWith("data: ")));
  assert.equal(events.at(-1), "data: [DONE]");
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as Record<string, unknown>);
  assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"));
  assert.equal(chunks[0]!.model, "backup-model");
});

test("an upstream cut after output began: the SDK stream throws, never a silent end", async () => {
  upstream.enqueue({ chunks: ["one ", "two ", "three ", "four"], cutAfterEvents: 3 });
  const stream = await client.chat.completions.create({
    model: "switchyard/chat",
    messages: [{ role: "user", content: "hi" }],
    stream: true,
  });
  const seen: string[] = [];
  await assert.rejects(
    async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? "");
    },
    (error: unknown) => {
      assert.ok(error instanceof OpenAI.APIError);
      assert.match(error.message, /stream from primary failed after output began/);
      assert.equal((error.error as { code?: string }).code, "stream_interrupted");
      return true;
    },
  );
  assert.equal(seen.join(""), "one two ");
  const line = requestLines().at(-1)!;
  assert.equal(line.status, "stream_interrupted");
});

test("a client abort mid-stream aborts the upstream request", async () => {
  upstream.enqueue({ chunks: ["a", "b", "c", "d", "e", "f"], chunkDelayMs: 100 });
  const stream = await client.chat.completions.create({
    model: "switchyard/chat",
    messages: [{ role: "user", content: "slow" }],
    stream: true,
  });
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta.content) break; // break aborts the SDK's request
  }
  await upstream.waitForAbort(0);
  assert.equal(upstream.requests[0]!.aborted, true);
});

test("one request log line per request, with protocol openai", async () => {
  const before = requestLines().length;
  upstream.enqueue({ text: "x" });
  const { response } = await client.chat.completions
    .create({ model: "switchyard/chat", messages: [{ role: "user", content: "hi" }] })
    .withResponse();
  await assert.rejects(
    client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "hi" }] }),
  );
  const lines = requestLines().slice(before);
  assert.equal(lines.length, 2);
  assert.deepEqual(
    lines.map((l) => [l.protocol, l.operation, l.status]),
    [
      ["openai", "generate", "ok"],
      ["openai", "generate", "model_not_found"],
    ],
  );
  assert.equal(lines[0]!.requestId, response.headers.get("x-request-id"));
  assert.equal(lines[0]!.workload, "chat");
});

test("graceful shutdown waits for a facade stream in flight", async () => {
  const own = await startTestGateway(
    configYaml(
      `  slow:\n    type: echo\n    chunkDelayMs: 20\n`,
      `  chat:\n    targets:\n      - { backend: slow, model: echo-1 }\n`,
    ),
  );
  const sdk = new OpenAI({ baseURL: `${own.url}/v1`, apiKey: "any", maxRetries: 0 });
  const stream = await sdk.chat.completions.create({
    model: "switchyard/chat",
    messages: [{ role: "user", content: "one two three four five" }],
    stream: true,
  });
  let text = "";
  let stopping: Promise<{ forced: boolean }> | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? "";
    stopping ??= own.gateway.shutdown(10_000); // begins while the stream is in flight
  }
  assert.equal(text, "one two three four five");
  assert.deepEqual(await stopping, { forced: false });
});
