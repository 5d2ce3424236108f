import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// The official Anthropic SDK pointed at the gateway's Messages front door, served by the echo
// backend (it answers the last user message word by word; with reasoning it thinks first, signed).
let gw: TestGateway;
let client: Anthropic;

before(async () => {
  gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: claude-echo, alias: echo-sonnet }\n",
    ),
  );
  client = new Anthropic({ baseURL: gw.url, apiKey: "any", maxRetries: 0 });
});
after(() => gw.stop());

const requestLines = () => gw.logs.filter((l) => l.msg === "request");
const WEATHER = {
  name: "get_weather",
  description: "Weather for a city",
  input_schema: { type: "object" as const, properties: { city: { type: "string" } } },
};

test("messages.create: a message shaped as Anthropic's, with routing headers", async () => {
  const { data, response } = await client.messages
    .create({
      model: "switchyard/chat",
      max_tokens: 100,
      system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral", ttl: "1h" } }],
      messages: [{ role: "user", content: "hello there world" }],
      stop_sequences: ["END"],
      metadata: { user_id: "user-1" },
    })
    .withResponse();
  assert.match(data.id, /^msg_[0-9a-f]{32}$/);
  assert.equal(data.type, "message");
  assert.equal(data.role, "assistant");
  assert.equal(data.model, "claude-echo");
  assert.deepEqual(data.content, [{ type: "text", text: "hello there world" }]);
  assert.equal(data.stop_reason, "end_turn");
  assert.equal(data.stop_sequence, null);
  // Echo counts words: "Be brief." (2) + "hello there world" (3) in, 3 out; nothing cached.
  assert.equal(data.usage.input_tokens, 5);
  assert.equal(data.usage.output_tokens, 3);
  assert.equal(data.usage.cache_read_input_tokens, 0);
  assert.equal(data.usage.cache_creation_input_tokens, 0);
  assert.ok(response.headers.get("x-request-id"));
  assert.equal(response.headers.get("x-switchyard-backend"), "echo");
});

test("an alias or a model id selects the workload; max_tokens cuts the answer (stop_reason max_tokens)", async () => {
  const data = await client.messages.create({
    model: "echo-sonnet",
    max_tokens: 2,
    messages: [{ role: "user", content: [{ type: "text", text: "one two three four" }] }],
  });
  assert.deepEqual(data.content, [{ type: "text", text: "one two" }]);
  assert.equal(data.stop_reason, "max_tokens");
});

test("messages.stream: text events, finalMessage, and Anthropic's event order", async () => {
  const stream = client.messages.stream({
    model: "switchyard/chat",
    max_tokens: 100,
    messages: [{ role: "user", content: "alpha beta gamma" }],
  });
  const texts: string[] = [];
  const types: string[] = [];
  stream.on("text", (delta) => texts.push(delta));
  stream.on("streamEvent", (event) => types.push(event.type));
  const final = await stream.finalMessage();
  assert.deepEqual(texts, ["alpha", " beta", " gamma"]);
  assert.deepEqual(
    final.content,
    [{ type: "text", text: "alpha beta gamma", citations: undefined }].map(stripUndefined),
  );
  assert.equal(final.stop_reason, "end_turn");
  assert.equal(final.usage.input_tokens, 3); // the exact figure from message_delta replaced the estimate
  assert.equal(final.usage.output_tokens, 3);
  assert.deepEqual(types, [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_delta",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
  ]);
});

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

test("the raw event stream: named events, one ping after message_start, cumulative usage in message_delta", async () => {
  const res = await fetch(`${gw.url}/v1/messages?beta=true`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify({
      model: "switchyard/chat",
      max_tokens: 50,
      stream: true,
      messages: [{ role: "user", content: "x y" }],
    }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
  const frames = (await res.text()).trim().split("\n\n");
  const events = frames.map((f) => {
    const [eventLine, dataLine] = f.split("\n");
    const name = eventLine!.replace(/^event: /, "");
    const data = JSON.parse(dataLine!.replace(/^data: /, "")) as { type: string } & Record<string, unknown>;
    assert.equal(data.type, name); // every event names itself in its data too
    return data;
  });
  assert.deepEqual(
    events.map((e) => e.type),
    [
      "message_start",
      "ping",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ],
  );
  const start = events[0]!.message as Record<string, unknown>;
  assert.deepEqual(start.content, []);
  assert.equal(start.stop_reason, null);
  assert.equal((start.usage as { output_tokens: number }).output_tokens, 0);
  assert.deepEqual(events[2], {
    type: "content_block_start",
    index: 0,
    content_block: { type: "text", text: "" },
  });
  assert.deepEqual(events[3], {
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text: "x" },
  });
  const delta = events[6] as unknown as {
    delta: unknown;
    usage: { input_tokens: number; output_tokens: number };
  };
  assert.deepEqual(delta.delta, { stop_reason: "end_turn", stop_sequence: null });
  assert.equal(delta.usage.input_tokens, 2);
  assert.equal(delta.usage.output_tokens, 2);
});

test("thinking: signed thinking blocks first, sent back unchanged next turn; a changed one is refused", async () => {
  const first = await client.messages.create({
    model: "switchyard/chat",
    max_tokens: 2048,
    thinking: { type: "enabled", budget_tokens: 1024 },
    messages: [{ role: "user", content: "why sky blue" }],
  });
  assert.equal(first.content.length, 2);
  const thinking = first.content[0]!;
  assert.equal(thinking.type, "thinking");
  assert.ok(thinking.type === "thinking");
  assert.equal(thinking.thinking, "Thinking about: why sky blue");
  assert.match(thinking.signature, /^sy1\./, "echo's own signature, wrapped with its family");
  assert.deepEqual(first.content[1], { type: "text", text: "why sky blue" });

  // Streamed, the same block arrives as thinking_delta + signature_delta.
  const streamed = await client.messages
    .stream({
      model: "switchyard/chat",
      max_tokens: 2048,
      thinking: { type: "enabled", budget_tokens: 1024 },
      messages: [{ role: "user", content: "why sky blue" }],
    })
    .finalMessage();
  assert.deepEqual(streamed.content[0], thinking);

  const next = await client.messages.create({
    model: "switchyard/chat",
    max_tokens: 2048,
    thinking: { type: "enabled", budget_tokens: 1024 },
    messages: [
      { role: "user", content: "why sky blue" },
      { role: "assistant", content: first.content },
      { role: "user", content: "and sunsets" },
    ],
  });
  assert.deepEqual(next.content.at(-1), { type: "text", text: "and sunsets" });

  // The echo backend checks its own signatures, as Anthropic does: a changed thought is refused.
  await assert.rejects(
    client.messages.create({
      model: "switchyard/chat",
      max_tokens: 100,
      messages: [
        { role: "user", content: "why sky blue" },
        { role: "assistant", content: [{ ...thinking, thinking: "something else" }, first.content[1]!] },
        { role: "user", content: "and sunsets" },
      ],
    }),
    (e: unknown) => e instanceof Anthropic.BadRequestError && e.status === 400,
  );
});

test("a tool-use loop: forced tool → tool_use block, tool_result back → the answer", async () => {
  const first = await client.messages.create({
    model: "switchyard/chat",
    max_tokens: 100,
    tools: [WEATHER],
    tool_choice: { type: "tool", name: "get_weather" },
    messages: [{ role: "user", content: "Paris" }],
  });
  assert.equal(first.stop_reason, "tool_use");
  const use = first.content.find((b) => b.type === "tool_use");
  assert.ok(use && use.type === "tool_use");
  assert.equal(use.name, "get_weather");
  assert.deepEqual(use.input, { text: "Paris" });
  assert.ok(use.id.length > 0);

  const second = await client.messages.create({
    model: "switchyard/chat",
    max_tokens: 100,
    tools: [WEATHER],
    messages: [
      { role: "user", content: "Paris" },
      { role: "assistant", content: first.content },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: use.id,
            content: "sunny",
            cache_control: { type: "ephemeral" },
          },
          { type: "text", text: "summarize it" },
        ],
      },
    ],
  });
  assert.equal(second.stop_reason, "end_turn");
  assert.deepEqual(second.content, [{ type: "text", text: "summarize it" }]);
});

test("streamed tool use: input_json_delta pieces reassemble into the input object", async () => {
  const stream = client.messages.stream({
    model: "switchyard/chat",
    max_tokens: 100,
    tools: [WEATHER],
    tool_choice: { type: "any", disable_parallel_tool_use: true },
    messages: [{ role: "user", content: "Rome" }],
  });
  const partials: string[] = [];
  stream.on("inputJson", (partial) => partials.push(partial));
  const final = await stream.finalMessage();
  assert.equal(partials.length, 2); // echo sends the arguments in two halves
  assert.equal(final.stop_reason, "tool_use");
  const use = final.content[0]!;
  assert.ok(use.type === "tool_use");
  assert.equal(use.name, "get_weather");
  assert.deepEqual(use.input, { text: "Rome" });
});

test("images and documents reach the backend intact", async () => {
  const png = Buffer.from("not really a png").toString("base64");
  const data = await client.messages.create({
    model: "switchyard/chat",
    max_tokens: 100,
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text: "look" },
          { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
          {
            type: "document",
            source: { type: "text", media_type: "text/plain", data: "doc body" },
            title: "Notes",
          },
        ],
      },
    ],
  });
  const text = data.content[0]!.type === "text" ? data.content[0]!.text : "";
  assert.match(
    text,
    /^look \[image image\/png 16B [0-9a-f]{12}\] \[document text 8B [0-9a-f]{12} "Notes"\]$/,
  );
});

test("countTokens: the gateway's estimate (~4 characters a token, 4 per message)", async () => {
  const { input_tokens } = await client.messages.countTokens({
    model: "switchyard/chat",
    system: "Be brief.",
    messages: [{ role: "user", content: "hello world" }],
  });
  // "Be brief." 9 chars → 3 + 4; "hello world" 11 chars → 3 + 4.
  assert.equal(input_tokens, 14);
  const more = await client.messages.countTokens({
    model: "switchyard/chat",
    messages: [{ role: "user", content: "hello world" }],
    tools: [WEATHER],
  });
  assert.ok(more.input_tokens > 7, "tools count too");
});

test("bad input: Anthropic's error shape and status; the SDK raises its typed errors", async () => {
  const bad = async (params: unknown) => {
    try {
      await client.messages.create(params as Anthropic.MessageCreateParamsNonStreaming);
    } catch (error) {
      return error;
    }
    assert.fail("expected a failure");
  };
  const missing = await bad({ model: "switchyard/chat", messages: [{ role: "user", content: "hi" }] });
  assert.ok(missing instanceof Anthropic.BadRequestError);
  assert.equal(missing.status, 400);
  assert.deepEqual(missing.error, {
    type: "error",
    error: { type: "invalid_request_error", message: "max_tokens: Field required" },
  });
  assert.equal(missing.headers.get("x-switchyard-reason"), "invalid_argument");
  assert.ok(missing.headers.get("x-request-id"));

  const unknownBlock = await bad({
    model: "switchyard/chat",
    max_tokens: 10,
    messages: [{ role: "user", content: [{ type: "hologram", data: "x" }] }],
  });
  assert.ok(unknownBlock instanceof Anthropic.BadRequestError);
  assert.match(String(unknownBlock.message), /messages\[0\]\.content\[0\].*unknown content block type/);

  const topK = await bad({
    model: "switchyard/chat",
    max_tokens: 10,
    top_k: 5,
    messages: [{ role: "user", content: "hi" }],
  });
  assert.ok(topK instanceof Anthropic.BadRequestError);
  assert.match(String(topK.message), /top_k/);

  const notFound = await bad({
    model: "no-such-model",
    max_tokens: 10,
    messages: [{ role: "user", content: "hi" }],
  });
  assert.ok(notFound instanceof Anthropic.NotFoundError);
  assert.equal((notFound.error as { error: { type: string } }).error.type, "not_found_error");

  const res = await fetch(`${gw.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"model": "switchyard/chat", "max_tokens": ',
  });
  assert.equal(res.status, 400);
  const body = (await res.json()) as { type: string; error: { type: string; message: string } };
  assert.equal(body.type, "error");
  assert.equal(body.error.type, "invalid_request_error");
  assert.match(body.error.message, /not valid JSON/);
  assert.equal(res.headers.get("x-switchyard-reason"), "invalid_argument");

  const get = await fetch(`${gw.url}/v1/messages`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
});

test("each call is one request log line with protocol anthropic; its ledger row matches the chat facade's", async () => {
  const before = requestLines().length;
  const viaMessages = await client.messages
    .create({
      model: "switchyard/chat",
      max_tokens: 50,
      messages: [{ role: "user", content: "same words here" }],
    })
    .withResponse();
  await client.messages
    .stream({ model: "switchyard/chat", max_tokens: 50, messages: [{ role: "user", content: "streamed" }] })
    .finalMessage();
  await assert.rejects(
    client.messages.create({ model: "nope", max_tokens: 5, messages: [{ role: "user", content: "x" }] }),
  );
  const lines = requestLines().slice(before);
  assert.deepEqual(
    lines.map((l) => [l.protocol, l.operation, l.status]),
    [
      ["anthropic", "generate", "ok"],
      ["anthropic", "generate_stream", "ok"],
      ["anthropic", "generate", "model_not_found"],
    ],
  );
  const messagesId = viaMessages.response.headers.get("x-request-id")!;
  assert.equal(lines[0]!.requestId, messagesId);
  assert.equal(lines[0]!.workload, "chat");

  const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "any", maxRetries: 0 });
  const viaChat = await openai.chat.completions
    .create({
      model: "switchyard/chat",
      max_tokens: 50,
      messages: [{ role: "user", content: "same words here" }],
    })
    .withResponse();
  await gw.gateway.ledger.flush();
  const a = await gw.gateway.store.ledger.get(messagesId);
  const b = await gw.gateway.store.ledger.get(viaChat.response.headers.get("x-request-id")!);
  assert.ok(a && b);
  const comparable = (r: Record<string, unknown>) => {
    const { requestId, time, latencyMs, ttftMs, protocol, ...rest } = r;
    return rest;
  };
  assert.equal(a.protocol, "anthropic");
  assert.deepEqual(comparable(a), comparable(b));
  assert.equal(a.inputTokens, 3);
  assert.equal(a.outputTokens, 3);
});

test("adaptive thinking with output_config.effort, and top-level cache_control, are translated; xhigh is refused", async () => {
  const data = await client.messages.create({
    model: "switchyard/chat",
    max_tokens: 100,
    thinking: { type: "adaptive" },
    output_config: { effort: "low" },
    cache_control: { type: "ephemeral" },
    messages: [{ role: "user", content: "think briefly" }],
  });
  assert.deepEqual(
    data.content.map((b) => b.type),
    ["thinking", "text"],
  );
  assert.ok(
    data.content[0]!.type === "thinking" && data.content[0]!.thinking === "Thinking about: think briefly",
  );
  const refused = await client.messages
    .create({
      model: "switchyard/chat",
      max_tokens: 100,
      thinking: { type: "adaptive" },
      output_config: { effort: "max" },
      messages: [{ role: "user", content: "x" }],
    })
    .catch((e: unknown) => e);
  assert.ok(refused instanceof Anthropic.BadRequestError);
  assert.match(String(refused.message), /output_config\.effort/);
  const noEffort = await client.messages
    .create({
      model: "switchyard/chat",
      max_tokens: 100,
      thinking: { type: "adaptive" },
      messages: [{ role: "user", content: "x" }],
    })
    .catch((e: unknown) => e);
  assert.ok(noEffort instanceof Anthropic.BadRequestError);
  assert.match(String(noEffort.message), /^400 .*thinking: adaptive thinking needs output_config\.effort/);
});
