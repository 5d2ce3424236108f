// The Anthropic adapter against the faithful Anthropic fake: translation both ways, streaming, usage,
// errors, cancellation and per-backend version pinning.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { AdapterCall, AdapterEvent, GenerateInput, ToolChoice } from "../../src/adapters/adapter.ts";
import { AnthropicAdapter, type AnthropicAdapterOptions } from "../../src/adapters/anthropic/index.ts";
import { MessageStreamTranslator } from "../../src/adapters/anthropic/stream.ts";
import { Secret } from "../../src/config/secret.ts";
import { UpstreamError } from "../../src/errors/upstream-error.ts";
import {
  type AnthropicErrorFixtureName,
  anthropicError,
  loadAnthropicFixture,
} from "../upstreams/anthropic-errors.ts";
import { type AnthropicFake, startAnthropicFake } from "../upstreams/anthropic-fake.ts";

const KEY = "sk-ant-api03-test-key";
const model = "claude-sonnet-5-5";

function input(overrides: Partial<GenerateInput> = {}): GenerateInput {
  return {
    model,
    messages: [{ role: "user", content: "Hello there" }],
    tools: [],
    sampling: {},
    ...overrides,
  };
}

function call(signal: AbortSignal = new AbortController().signal): AdapterCall {
  return { signal, deadline: Date.now() + 60_000 };
}

async function collect(events: AsyncIterable<AdapterEvent>): Promise<AdapterEvent[]> {
  const out: AdapterEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

/** Runs `run` and returns the UpstreamError it throws, failing the test on anything else. */
async function upstreamError(run: () => Promise<unknown>): Promise<UpstreamError> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof UpstreamError, `expected an UpstreamError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

describe("AnthropicAdapter against the Anthropic fake", () => {
  let fake: AnthropicFake;
  let adapters: AnthropicAdapter[];
  const adapter = (options: Partial<AnthropicAdapterOptions> = {}): AnthropicAdapter => {
    const created = new AnthropicAdapter({
      name: "claude",
      baseUrl: fake.url,
      apiKey: new Secret(KEY, "ANTHROPIC_API_KEY"),
      apiVersion: "2023-06-01",
      defaultMaxTokens: 4096,
      connections: 4,
      connectTimeoutMs: 2000,
      ...options,
    });
    adapters.push(created);
    return created;
  };
  const sent = (index = 0) => fake.requests[index]?.body as Record<string, unknown>;

  beforeEach(async () => {
    fake = await startAnthropicFake({ requireApiKey: KEY });
    adapters = [];
  });
  afterEach(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await fake.close();
  });

  it("sends a unary request in Anthropic's shape and reads the answer back", async () => {
    fake.enqueue({
      text: "Hi, tester",
      usage: { input_tokens: 11, output_tokens: 3 },
      model: "claude-sonnet-5-5-20261101",
    });
    const output = await adapter().generate(
      input({
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Hello there" },
          { role: "system", content: "Answer in English." },
        ],
        sampling: { temperature: 0.3, stop: ["END"] },
        endUserId: "user-42",
      }),
      call(),
    );
    assert.deepEqual(output, {
      text: "Hi, tester",
      toolCalls: [],
      finishReason: "stop",
      model: "claude-sonnet-5-5-20261101",
      usage: {
        inputTokens: 11,
        outputTokens: 3,
        cachedInputTokens: 0,
        cacheWriteTokens: 0,
        cacheWrite1hTokens: 0,
      },
      serviceTier: "default",
    });
    assert.deepEqual(sent(), {
      model,
      max_tokens: 4096,
      messages: [{ role: "user", content: "Hello there" }],
      system: "Be brief.\n\nAnswer in English.",
      temperature: 0.3,
      stop_sequences: ["END"],
      metadata: { user_id: "user-42" },
    });
    const headers = fake.requests[0]?.headers;
    assert.equal(headers?.["x-api-key"], KEY);
    assert.equal(headers?.["anthropic-version"], "2023-06-01");
    assert.equal(headers?.["content-type"], "application/json");
    assert.equal(headers?.authorization, undefined);
  });

  it("uses sampling.maxOutputTokens over the backend's defaultMaxTokens", async () => {
    await adapter({ defaultMaxTokens: 1234 }).generate(input(), call());
    await adapter({ defaultMaxTokens: 1234 }).generate(input({ sampling: { maxOutputTokens: 77 } }), call());
    assert.equal(sent(0).max_tokens, 1234);
    assert.equal(sent(1).max_tokens, 77);
  });

  it("streams text deltas, then finish, then usage once", async () => {
    fake.enqueue({ text: "The quick fox", usage: { input_tokens: 5, output_tokens: 3 } });
    const events = await collect(adapter().stream(input(), call()));
    assert.deepEqual(events, [
      { type: "text", text: "The" },
      { type: "text", text: " quick" },
      { type: "text", text: " fox" },
      { type: "finish", reason: "stop", model, serviceTier: "default" },
      {
        type: "usage",
        usage: {
          inputTokens: 5,
          outputTokens: 3,
          cachedInputTokens: 0,
          cacheWriteTokens: 0,
          cacheWrite1hTokens: 0,
        },
      },
    ]);
    assert.equal(sent().stream, true);
    assert.equal(fake.served.streamsCompleted, 1);
  });

  it("translates a tool round trip and reassembles streamed tool calls by ordinal", async () => {
    const weather = { city: "Paris", unit: "celsius" };
    const time = { tz: "Europe/Paris" };
    fake.enqueue({
      text: "Checking both.",
      toolUses: [
        { id: "toolu_01weather0000000000000", name: "get_weather", input: weather },
        { id: "toolu_01time000000000000000", name: "get_time", input: time },
      ],
    });
    const events = await collect(
      adapter().stream(
        input({
          messages: [
            { role: "system", content: "You call tools." },
            { role: "user", content: "Weather and time in Paris?" },
            {
              role: "assistant",
              content: "Let me look.",
              toolCalls: [
                { id: "toolu_01prev1", name: "get_weather", arguments: '{"city":"Paris"}' },
                { id: "toolu_01prev2", name: "get_time", arguments: "" },
              ],
            },
            { role: "tool", content: "18C", toolCallId: "toolu_01prev1" },
            { role: "tool", content: "14:05", toolCallId: "toolu_01prev2" },
            { role: "user", content: "And again, please." },
          ],
          tools: [
            {
              name: "get_weather",
              description: "Weather for a city",
              parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
            },
            { name: "get_time" },
          ],
          toolChoice: { mode: "required" },
        }),
        call(),
      ),
    );
    assert.deepEqual(sent().messages, [
      { role: "user", content: "Weather and time in Paris?" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Let me look." },
          { type: "tool_use", id: "toolu_01prev1", name: "get_weather", input: { city: "Paris" } },
          { type: "tool_use", id: "toolu_01prev2", name: "get_time", input: {} },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_01prev1", content: "18C" },
          { type: "tool_result", tool_use_id: "toolu_01prev2", content: "14:05" },
          { type: "text", text: "And again, please." },
        ],
      },
    ]);
    assert.equal(sent().system, "You call tools.");
    assert.deepEqual(sent().tools, [
      {
        name: "get_weather",
        description: "Weather for a city",
        input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      },
      { name: "get_time", input_schema: { type: "object", properties: {} } },
    ]);
    assert.deepEqual(sent().tool_choice, { type: "any" });

    const text = events.flatMap((e) => (e.type === "text" ? [e.text] : [])).join("");
    assert.equal(text, "Checking both.");
    const calls = events.filter((e) => e.type === "tool_call");
    const starts = calls.filter((e) => e.id !== undefined);
    assert.deepEqual(
      starts.map((e) => [e.index, e.id, e.name]),
      [
        [0, "toolu_01weather0000000000000", "get_weather"],
        [1, "toolu_01time000000000000000", "get_time"],
      ],
      "indices count tool blocks only, though the text block took content index 0",
    );
    const argsOf = (index: number) =>
      calls
        .filter((e) => e.index === index)
        .map((e) => e.argumentsDelta)
        .join("");
    assert.deepEqual(JSON.parse(argsOf(0)), weather);
    assert.deepEqual(JSON.parse(argsOf(1)), time);
    assert.ok(
      calls.filter((e) => e.index === 0 && e.argumentsDelta !== "").length >= 2,
      "arguments in pieces",
    );
    assert.deepEqual(events.at(-2), { type: "finish", reason: "tool_calls", model, serviceTier: "default" });
  });

  it("reads tool_use blocks of a unary answer as tool calls with JSON arguments", async () => {
    fake.enqueue({ toolUses: [{ id: "toolu_01abc", name: "get_weather", input: { city: "Oslo" } }] });
    const output = await adapter().generate(input({ tools: [{ name: "get_weather" }] }), call());
    assert.deepEqual(output.toolCalls, [
      { id: "toolu_01abc", name: "get_weather", arguments: '{"city":"Oslo"}' },
    ]);
    assert.equal(output.text, "");
    assert.equal(output.finishReason, "tool_calls");
  });

  it("maps every tool_choice mode", async () => {
    const choices: [ToolChoice, unknown][] = [
      [{ mode: "auto" }, { type: "auto" }],
      [{ mode: "required" }, { type: "any" }],
      [{ mode: "none" }, { type: "none" }],
      [{ function: "get_time" }, { type: "tool", name: "get_time" }],
    ];
    for (const [toolChoice] of choices) {
      await adapter().generate(input({ tools: [{ name: "get_time" }], toolChoice }), call());
    }
    assert.deepEqual(
      fake.requests.map((r) => (r.body as { tool_choice?: unknown }).tool_choice),
      choices.map(([, wire]) => wire),
    );
  });

  it("maps stop reasons", async () => {
    const reasons = [
      ["end_turn", "stop"],
      ["stop_sequence", "stop"],
      ["max_tokens", "length"],
      ["tool_use", "tool_calls"],
      ["refusal", "content_filter"],
      ["pause_turn", "other"],
    ];
    const got: string[] = [];
    for (const [stopReason = ""] of reasons) {
      fake.enqueue({ text: "x", stopReason });
      got.push((await adapter().generate(input(), call())).finishReason);
    }
    assert.deepEqual(
      got,
      reasons.map(([, reason]) => reason),
    );
  });

  it("counts cache reads and writes as input and reports cached tokens, unary and streamed", async () => {
    const usage = {
      input_tokens: 12,
      output_tokens: 9,
      cache_read_input_tokens: 2000,
      cache_creation_input_tokens: 300,
    };
    fake.enqueue({ text: "a b", usage }, { text: "a b", usage });
    const expected = {
      inputTokens: 2312,
      outputTokens: 9,
      cachedInputTokens: 2000,
      cacheWriteTokens: 300,
      cacheWrite1hTokens: 0,
    };
    assert.deepEqual((await adapter().generate(input(), call())).usage, expected);
    const events = await collect(adapter().stream(input(), call()));
    assert.deepEqual(
      events.filter((e) => e.type === "usage"),
      [{ type: "usage", usage: expected }],
      "message_delta's cumulative output count (9), not message_start's 1, reported once",
    );
  });

  const errorCases: [AnthropicErrorFixtureName, UpstreamError["kind"], number | undefined][] = [
    ["invalid_request_error", "bad_request", undefined],
    ["authentication_error", "auth", undefined],
    ["permission_error", "auth", undefined],
    ["not_found_error", "auth", undefined],
    ["request_too_large", "bad_request", undefined],
    ["rate_limit_error", "rate_limited", 7000],
    ["api_error", "unavailable", undefined],
    ["overloaded_error", "overloaded", undefined],
  ];
  for (const [name, kind, retryAfterMs] of errorCases) {
    it(`classifies the ${name} fixture as ${kind}`, async () => {
      fake.enqueue(anthropicError(name), anthropicError(name));
      const unary = await upstreamError(() => adapter().generate(input(), call()));
      const streamed = await upstreamError(() => collect(adapter().stream(input(), call())));
      for (const error of [unary, streamed]) {
        assert.equal(error.kind, kind);
        assert.equal(error.status, loadAnthropicFixture(name).status);
        assert.equal(error.retryAfterMs, retryAfterMs);
        assert.equal(error.afterFirstToken, false);
        assert.match(error.message, new RegExp(`^claude answered HTTP \\d{3} \\(${name}`));
      }
    });
  }

  it("keeps only the error type of an auth failure, never a key the message may quote", async () => {
    const body = {
      type: "error",
      error: { type: "authentication_error", message: `invalid x-api-key ${KEY}` },
    };
    fake.enqueue(
      { kind: "error", status: 401, body },
      {
        kind: "error",
        status: 402,
        body: { type: "error", error: { type: "billing_error", message: "Your credit balance is too low" } },
      },
    );
    const auth = await upstreamError(() => adapter().generate(input(), call()));
    assert.equal(auth.message, "claude answered HTTP 401 (authentication_error)");
    assert.ok(!String(auth.stack).includes(KEY) && !JSON.stringify(auth).includes(KEY));
    const billing = await upstreamError(() => adapter().generate(input(), call()));
    assert.equal(billing.kind, "auth", "billing is the gateway account's problem, not the caller's");
  });

  it("a made-up error type is neither shown nor looked up (not even an inherited key such as constructor)", async () => {
    const madeUp = `Bearer_${KEY.replace(/\W/g, "_")}`;
    fake.enqueue(
      { kind: "error", status: 400, body: { type: "error", error: { type: madeUp, message: KEY } } },
      { text: "a b c", streamError: { afterEvents: 4, type: "constructor", message: KEY } },
      { text: "a b c", streamError: { afterEvents: 4, type: madeUp } },
    );
    const unary = await upstreamError(() => adapter().generate(input(), call()));
    assert.equal(unary.kind, "bad_request");
    assert.equal(unary.message, "claude answered HTTP 400");
    for (const expected of ["claude sent an error mid-stream", "claude sent an error mid-stream"]) {
      const streamed = await upstreamError(() => collect(adapter().stream(input(), call())));
      assert.equal(streamed.kind, "unavailable");
      assert.equal(streamed.message, expected);
      assert.equal(streamed.afterFirstToken, true);
    }
  });

  it("fails a stream that sends an error event mid-way, after the tokens it produced", async () => {
    fake.enqueue(
      { text: "one two three", streamError: { afterEvents: 4 } },
      { text: "one two three", streamError: { afterEvents: 4, type: "api_error" } },
    );
    const seen: AdapterEvent[] = [];
    const overloaded = await upstreamError(async () => {
      for await (const event of adapter().stream(input(), call())) seen.push(event);
    });
    assert.deepEqual(seen, [{ type: "text", text: "one" }]);
    assert.equal(overloaded.kind, "overloaded");
    assert.equal(overloaded.afterFirstToken, true);
    const apiError = await upstreamError(() => collect(adapter().stream(input(), call())));
    assert.equal(apiError.kind, "unavailable");
  });

  it("fails a stream that is cut or ends without message_stop, and a reset connection", async () => {
    fake.enqueue(
      { text: "a b c d", cutAfterEvents: 5 },
      { text: "a b c d", endAfterEvents: 6 },
      { kind: "reset" },
    );
    const cut = await upstreamError(() => collect(adapter().stream(input(), call())));
    assert.equal(cut.kind, "unavailable");
    assert.equal(cut.afterFirstToken, true);
    const ended = await upstreamError(() => collect(adapter().stream(input(), call())));
    assert.equal(ended.kind, "unavailable");
    assert.match(ended.message, /ended early/);
    assert.equal(ended.afterFirstToken, true);
    const reset = await upstreamError(() => collect(adapter().stream(input(), call())));
    assert.equal(reset.kind, "unavailable");
    assert.equal(reset.afterFirstToken, false);
  });

  it("reports a 200 answer that is not JSON as a protocol error", async () => {
    fake.enqueue({ kind: "error", status: 200, body: "<html>proxy</html>" });
    assert.equal((await upstreamError(() => adapter().generate(input(), call()))).kind, "protocol");
  });

  it("aborts the upstream request when the caller's signal fires mid-stream", async () => {
    fake.enqueue({ chunks: Array.from({ length: 40 }, (_, i) => `w${i} `), chunkDelayMs: 20 });
    const controller = new AbortController();
    const seen: AdapterEvent[] = [];
    const error = await upstreamError(async () => {
      for await (const event of adapter().stream(input(), call(controller.signal))) {
        seen.push(event);
        if (seen.length === 2) controller.abort();
      }
    });
    assert.equal(error.kind, "timeout", "our own abort reads as deadline/cancel");
    await fake.waitForAbort(0);
    assert.equal(fake.requests[0]?.aborted, true);
    assert.equal(fake.served.streamsCompleted, 0);
    assert.ok(seen.length < 40);
  });

  it("pins the API version per backend, with that version's sampling rule", async () => {
    const sampling = { temperature: 1.7, topP: 0.9 };
    await adapter({ apiVersion: "2023-06-01" }).generate(input({ sampling }), call());
    await adapter({ apiVersion: "2023-06-01" }).generate(input({ sampling: { topP: 0.9 } }), call());
    await collect(adapter({ apiVersion: "2026-10-21" }).stream(input({ sampling }), call()));
    const versions = fake.requests.map((r) => r.headers["anthropic-version"]);
    assert.deepEqual(versions, ["2023-06-01", "2023-06-01", "2026-10-21"]);
    const knobs = fake.requests.map((r) => {
      const body = r.body as { temperature?: number; top_p?: number };
      return [body.temperature, body.top_p];
    });
    // 2023-06-01: never both (current models reject the pair), temperature clamped to Anthropic's 0..1;
    // 2026-10-21: neither (the version rejects sampling parameters). The fake enforces both rules.
    assert.deepEqual(knobs, [
      [1, undefined],
      [undefined, 0.9],
      [undefined, undefined],
    ]);
    assert.ok(fake.requests.every((r) => r.completed && !r.aborted));
  });

  it("emulates a JSON-schema response format with a forced tool, unary and streamed", async () => {
    const schema = { type: "object", properties: { temp: { type: "number" } }, required: ["temp"] };
    const responseFormat = { type: "json_schema" as const, name: "weather_report", schema, strict: true };
    const answer = { toolUses: [{ name: "weather_report", input: { temp: 18.5 } }] };
    fake.enqueue(answer, answer);
    const output = await adapter().generate(input({ responseFormat }), call());
    assert.deepEqual([output.text, output.toolCalls, output.finishReason], ['{"temp":18.5}', [], "stop"]);
    assert.deepEqual(sent().tools, [{ name: "weather_report", input_schema: schema }]);
    assert.deepEqual(sent().tool_choice, { type: "tool", name: "weather_report" });
    const events = await collect(adapter().stream(input({ responseFormat }), call()));
    assert.equal(events.filter((e) => e.type === "tool_call").length, 0);
    const text = events.flatMap((e) => (e.type === "text" ? [e.text] : [])).join("");
    assert.deepEqual(JSON.parse(text), { temp: 18.5 });
    assert.deepEqual(
      events.find((e) => e.type === "finish"),
      { type: "finish", reason: "stop", model, serviceTier: "default" },
    );
  });

  it("rejects what Anthropic cannot take as bad_request, without calling it", async () => {
    const format = { type: "json_schema" as const, name: "r", schema: { type: "object" }, strict: false };
    const withTools = await upstreamError(() =>
      adapter().generate(input({ responseFormat: format, tools: [{ name: "get_time" }] }), call()),
    );
    const badArgs = await upstreamError(() =>
      adapter().generate(
        input({
          messages: [
            { role: "user", content: "hi" },
            { role: "assistant", content: "", toolCalls: [{ id: "toolu_1", name: "f", arguments: "[1,2]" }] },
            { role: "tool", content: "ok", toolCallId: "toolu_1" },
          ],
        }),
        call(),
      ),
    );
    assert.deepEqual([withTools.kind, badArgs.kind], ["bad_request", "bad_request"]);
    assert.equal(fake.requests.length, 0);
  });

  it("has no embed method: Anthropic has no embeddings API", () => {
    assert.equal("embed" in adapter(), false);
  });
});

describe("MessageStreamTranslator", () => {
  it("reads a named event with empty data by its name alone, instead of failing it as not JSON", () => {
    const translator = new MessageStreamTranslator("claude", undefined);
    const delta = JSON.stringify({
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: "Hi" },
    });
    const out = [
      ...translator.push({ event: "content_block_delta", data: delta, id: undefined }),
      ...translator.push({ event: "content_block_stop", data: "", id: undefined }),
      ...translator.push({ event: "message_stop", data: "", id: undefined }),
    ];
    assert.deepEqual(
      out.map((e) => e.type),
      ["text", "finish"],
    );
    assert.equal(translator.done, true);
  });

  it("still fails a named error event with empty data, as unavailable", () => {
    const translator = new MessageStreamTranslator("claude", undefined);
    assert.throws(
      () => [...translator.push({ event: "error", data: "", id: undefined })],
      (error: unknown) => error instanceof UpstreamError && error.kind === "unavailable",
    );
  });
});
