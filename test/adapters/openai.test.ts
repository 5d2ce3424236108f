// The OpenAI adapter (default `openai` profile) against the faithful OpenAI fake: the request it sends,
// unary and streamed answers, embeddings (base64 and float), error classification with retry hints from
// retry-after and rate-limit headers, mid-stream errors, and cancellation.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { AdapterCall, AdapterEvent, GenerateInput } from "../../src/adapters/adapter.ts";
import { OpenAIAdapter, type OpenAIAdapterOptions } from "../../src/adapters/openai/index.ts";
import { parseResetDuration } from "../../src/adapters/openai/rate-limit.ts";
import { Secret } from "../../src/config/secret.ts";
import { UpstreamError } from "../../src/errors/upstream-error.ts";
import { within } from "../helpers/wait.ts";
import {
  OPENAI_ERROR_FIXTURES,
  type OpenAIErrorFixtureName,
  openAIError,
} from "../upstreams/openai-errors.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";
import { embeddingVector } from "../upstreams/openai-wire.ts";

const KEY = "sk-proj-test-key-0123456789";

/** Each OpenAI error fixture and the kind it must classify as. */
const CLASSIFIED = [
  ["invalid_request_error", "bad_request"],
  ["context_length_exceeded", "bad_request"],
  ["invalid_api_key", "auth"],
  ["model_not_found", "auth"],
  ["rate_limit_exceeded", "rate_limited"],
  ["insufficient_quota", "auth"],
  ["server_error", "unavailable"],
  ["overloaded", "overloaded"],
  ["service_unavailable", "overloaded"],
] as const satisfies readonly (readonly [OpenAIErrorFixtureName, string])[];

function input(overrides: Partial<GenerateInput> = {}): GenerateInput {
  return {
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Hello there" }],
    tools: [],
    sampling: {},
    ...overrides,
  };
}

function call(
  signal: AbortSignal = new AbortController().signal,
  headers?: Record<string, string>,
): AdapterCall {
  return { signal, deadline: Date.now() + 60_000, ...(headers ? { headers } : {}) };
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

describe("OpenAIAdapter against the OpenAI fake", () => {
  let fake: OpenAIFake;
  let adapters: OpenAIAdapter[];
  const adapter = (options: Partial<OpenAIAdapterOptions> = {}, url = fake.url): OpenAIAdapter => {
    const created = new OpenAIAdapter({
      name: "gpt",
      baseUrl: `${url}/v1`,
      apiKey: new Secret(KEY, "OPENAI_API_KEY"),
      connections: 4,
      connectTimeoutMs: 2000,
      healthPath: undefined,
      ...options,
    });
    adapters.push(created);
    return created;
  };
  const sent = (index = 0) => fake.requests[index]?.body as Record<string, unknown>;
  /** Resolves once the fake has seen `n` streams end, completed or aborted. */
  const settled = (n: number) => fake.waitUntil(() => fake.served.streamsCompleted + fake.served.aborts >= n);

  beforeEach(async () => {
    fake = await startOpenAIFake({ requireApiKey: KEY });
    adapters = [];
  });
  afterEach(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await fake.close();
  });

  it("sends a unary request in OpenAI's shape and reads the answer back", async () => {
    fake.enqueue({
      text: "Hi, tester",
      usage: { prompt_tokens: 12, completion_tokens: 3, cached_tokens: 4 },
      model: "gpt-4o-mini-2024-07-18",
    });
    const output = await adapter().generate(
      input({
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Hello there", name: "alice" },
        ],
        tools: [{ name: "lookup", description: "Looks up", parameters: { type: "object" }, strict: true }],
        toolChoice: { mode: "required" },
        sampling: { maxOutputTokens: 50, temperature: 0.3, topP: 0.9, stop: ["END"], seed: 7 },
        responseFormat: { type: "json_schema", name: "out", schema: { type: "object" }, strict: true },
        endUserId: "user-42",
      }),
      call(undefined, { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }),
    );
    assert.deepEqual(output, {
      text: "Hi, tester",
      toolCalls: [],
      finishReason: "stop",
      model: "gpt-4o-mini-2024-07-18",
      // OpenAI always reports the audio and reasoning classes, zeros included, and the tier it served at.
      usage: {
        inputTokens: 12,
        outputTokens: 3,
        cachedInputTokens: 4,
        audioInputTokens: 0,
        reasoningTokens: 0,
      },
      serviceTier: "default",
    });
    assert.deepEqual(sent(), {
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hello there", name: "alice" },
      ],
      max_tokens: 50,
      temperature: 0.3,
      top_p: 0.9,
      stop: ["END"],
      seed: 7,
      tools: [
        {
          type: "function",
          function: { name: "lookup", description: "Looks up", parameters: { type: "object" }, strict: true },
        },
      ],
      tool_choice: "required",
      response_format: {
        type: "json_schema",
        json_schema: { name: "out", schema: { type: "object" }, strict: true },
      },
      safety_identifier: "user-42",
    });
    const headers = fake.requests[0]?.headers;
    assert.equal(headers?.authorization, `Bearer ${KEY}`);
    assert.equal(headers?.accept, "application/json");
    assert.equal(headers?.traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  });

  it("names the output cap by model: max_completion_tokens for o-series and gpt-5, unless configured", async () => {
    const cases: [string, OpenAIAdapterOptions["maxTokensField"], string][] = [
      ["gpt-4o-mini", undefined, "max_tokens"],
      ["o3-mini", undefined, "max_completion_tokens"],
      ["o1", undefined, "max_completion_tokens"],
      ["gpt-5-mini", undefined, "max_completion_tokens"],
      ["omni-moderation-latest", undefined, "max_tokens"],
      ["o3-mini", "max_tokens", "max_tokens"],
      ["gpt-4o", "max_completion_tokens", "max_completion_tokens"],
    ];
    for (const [index, [model, configured, expected]] of cases.entries()) {
      await adapter({ maxTokensField: configured }).generate(
        input({ model, sampling: { maxOutputTokens: 9 } }),
        call(),
      );
      const body = sent(index);
      assert.equal(body[expected], 9, `${model} with ${configured ?? "no field configured"}`);
      const other = expected === "max_tokens" ? "max_completion_tokens" : "max_tokens";
      assert.equal(body[other], undefined);
    }
  });

  it("streams text, tool-call deltas, the finish and the exact usage from the include_usage chunk", async () => {
    fake.enqueue({
      chunks: ["Let me ", "check."],
      toolCalls: [{ id: "call_1", name: "lookup", arguments: '{"q":"paris"}' }],
      usage: { prompt_tokens: 20, completion_tokens: 6, cached_tokens: 8 },
    });
    const events = await collect(adapter().stream(input(), call()));
    const args = events.flatMap((e) => (e.type === "tool_call" ? [e.argumentsDelta] : [])).join("");
    assert.equal(args, '{"q":"paris"}');
    assert.deepEqual(
      events.filter((e) => e.type !== "tool_call" || e.id !== undefined),
      [
        { type: "text", text: "Let me " },
        { type: "text", text: "check." },
        { type: "tool_call", index: 0, id: "call_1", name: "lookup", argumentsDelta: "" },
        { type: "finish", reason: "tool_calls", model: "gpt-4o-mini", serviceTier: "default" },
        {
          type: "usage",
          usage: {
            inputTokens: 20,
            outputTokens: 6,
            cachedInputTokens: 8,
            audioInputTokens: 0,
            reasoningTokens: 0,
          },
        },
      ],
    );
    assert.deepEqual(sent().stream_options, { include_usage: true });
    assert.equal(sent().stream, true);
    assert.equal(fake.requests[0]?.headers.accept, "text/event-stream");
    assert.equal(fake.served.streamsCompleted, 1);
  });

  it("a stream cut before any content may fail over; one cut after content says afterFirstToken", async () => {
    fake.enqueue({ text: "one two three", cutAfterEvents: 1 }, { text: "one two three", cutAfterEvents: 3 });
    const early = await upstreamError(() => collect(adapter().stream(input(), call())));
    assert.equal(early.kind, "unavailable");
    assert.equal(early.afterFirstToken, false);
    const texts: string[] = [];
    const late = await upstreamError(async () => {
      for await (const e of adapter().stream(input(), call())) if (e.type === "text") texts.push(e.text);
    });
    assert.deepEqual(texts, ["one", " two"]);
    assert.equal(late.kind, "unavailable");
    assert.equal(late.afterFirstToken, true);
  });

  it("embeds asking for base64 and decodes little-endian float32 exactly", async () => {
    fake.enqueue({ kind: "embedding", usage: { prompt_tokens: 5 } });
    const output = await adapter().embed(
      { model: "text-embedding-3-small", inputs: ["alpha", "beta gamma"], dimensions: 6 },
      call(),
    );
    assert.deepEqual(sent(), {
      model: "text-embedding-3-small",
      input: ["alpha", "beta gamma"],
      encoding_format: "base64",
      dimensions: 6,
    });
    assert.deepEqual(output, {
      vectors: [
        Float32Array.from(embeddingVector("alpha", 6)),
        Float32Array.from(embeddingVector("beta gamma", 6)),
      ],
      model: "text-embedding-3-small",
      usage: { inputTokens: 5, outputTokens: 0, cachedInputTokens: 0 },
    });
  });

  for (const [name, kind] of CLASSIFIED) {
    it(`classifies the ${name} fixture as ${kind}`, async () => {
      fake.enqueue(openAIError(name));
      const error = await upstreamError(() => adapter().generate(input(), call()));
      assert.equal(error.kind, kind);
      assert.match(error.message, /^gpt answered HTTP \d{3}/);
      // Auth errors may quote part of our key: only the code is kept.
      if (kind === "auth") assert.doesNotMatch(error.message, /sk-|Incorrect|key provided/);
      assert.equal(error.retryAfterMs, name === "rate_limit_exceeded" ? 1000 : undefined);
    });
  }

  it("classifies every OpenAI error fixture (the table above is complete)", () => {
    assert.deepEqual(CLASSIFIED.map(([name]) => name).sort(), [...OPENAI_ERROR_FIXTURES].sort());
  });

  it("keeps the provider's code, never its message (numeric codes too)", async () => {
    fake.enqueue(openAIError("context_length_exceeded"), openAIError("service_unavailable"));
    const tooLong = await upstreamError(() => adapter().generate(input(), call()));
    assert.equal(tooLong.message, "gpt answered HTTP 400 (context_length_exceeded)");
    const edge = await upstreamError(() => adapter().generate(input(), call()));
    assert.equal(edge.message, "gpt answered HTTP 503 (503)");
  });

  it("a code or type the server made up, or a body that is not JSON, never reaches the message", async () => {
    const leak = "Bearer_sk_proj_CANARY0001";
    fake.enqueue(
      { kind: "error", status: 400, body: { error: { message: leak, type: leak, param: leak, code: leak } } },
      {
        kind: "error",
        status: 400,
        body: { error: { message: leak, type: "invalid_request_error", code: leak } },
      },
      {
        kind: "error",
        status: 502,
        body: `<html><pre>${leak}</pre></html>`,
        headers: { "content-type": "text/html" },
      },
      { text: "a b", streamError: { afterEvents: 2, error: { message: leak, type: leak, code: leak } } },
    );
    const madeUp = await upstreamError(() => adapter().generate(input(), call()));
    assert.equal(madeUp.message, "gpt answered HTTP 400");
    const typeOnly = await upstreamError(() => adapter().generate(input(), call()));
    assert.equal(typeOnly.message, "gpt answered HTTP 400 (invalid_request_error)");
    const html = await upstreamError(() => adapter().generate(input(), call()));
    assert.equal(html.message, "gpt answered HTTP 502");
    assert.equal(html.kind, "unavailable");
    const midStream = await upstreamError(() => collect(adapter().stream(input(), call())));
    assert.equal(midStream.message, "gpt sent an error mid-stream");
  });

  it("retry hints: retry-after-ms wins, then retry-after, then the reset of the exhausted allowance", async () => {
    const limited = (headers: Record<string, string>) => ({
      kind: "error" as const,
      status: 429,
      body: {
        error: { message: "Rate limit reached", type: "tokens", param: null, code: "rate_limit_exceeded" },
      },
      headers,
    });
    fake.enqueue(
      limited({ "retry-after-ms": "250.5", "retry-after": "3" }),
      limited({ "retry-after": "2" }),
      limited({
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1.5s",
        "x-ratelimit-remaining-tokens": "12000",
        "x-ratelimit-reset-tokens": "6m0s",
      }),
      limited({
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "1m30s",
      }),
      limited({}),
    );
    const waits: (number | undefined)[] = [];
    const messages: string[] = [];
    for (let i = 0; i < 5; i++) {
      const error = await upstreamError(() => adapter().generate(input(), call()));
      assert.equal(error.kind, "rate_limited");
      waits.push(error.retryAfterMs);
      messages.push(error.message);
    }
    assert.deepEqual(waits, [250.5, 2000, 1500, 90_000, undefined]);
    assert.equal(
      messages[2],
      "gpt answered HTTP 429 (rate_limit_exceeded) " +
        "[rate limit: requests 0 left, reset 1500ms; tokens 12000 left, reset 360000ms]",
    );
    assert.equal(messages[4], "gpt answered HTTP 429 (rate_limit_exceeded)");
  });

  it("parses OpenAI's reset durations", () => {
    assert.deepEqual(
      ["6ms", "0s", "1.5s", "6m0s", "1h2m3s", "20", "250us", "", "soon", "5x"].map(parseResetDuration),
      [6, 0, 1500, 360_000, 3_723_000, 20_000, 0.25, undefined, undefined, undefined],
    );
  });

  it("a caller abort stops a request the upstream never answers; the fake sees the disconnect", async () => {
    fake.enqueue({ kind: "hang" });
    const controller = new AbortController();
    const pending = upstreamError(() => adapter().generate(input(), call(controller.signal)));
    await fake.waitForRequests(1);
    controller.abort();
    const error = await pending;
    assert.equal(error.kind, "timeout");
    await fake.waitForAbort(0);
    assert.equal(fake.requests[0]?.aborted, true);
  });

  it("a caller abort mid-stream ends the stream and the upstream request", async () => {
    fake.enqueue({ text: "one two three four", hangAfterEvents: 3 });
    const controller = new AbortController();
    const texts: string[] = [];
    const error = await upstreamError(async () => {
      for await (const event of adapter().stream(input(), call(controller.signal))) {
        if (event.type === "text") texts.push(event.text);
        if (texts.length === 2) controller.abort();
      }
    });
    assert.deepEqual(texts, ["one", " two"]);
    assert.equal(error.kind, "timeout");
    assert.equal(error.afterFirstToken, true);
    await fake.waitForAbort(0);
  });

  it("a stream read to [DONE] lets the response end and keeps its connection, even when the end comes later", async () => {
    const openai = adapter({ connections: 1 });
    for (let i = 0; i < 3; i++) {
      fake.enqueue({ text: `answer ${i}`, endDelayMs: 30 });
      const events = await collect(openai.stream(input(), call()));
      assert.ok(events.some((e) => e.type === "finish"));
    }
    // Had the adapter aborted at [DONE], the fake would count three aborts and no completed stream.
    await within(settled(3), "the fake to finish or lose three streams");
    assert.equal(fake.served.streamsCompleted, 3);
    assert.equal(fake.served.aborts, 0);
    assert.equal(fake.openSockets(), 1, "one pooled connection served all three streams");
  });

  it("a stream over 128 KiB read to [DONE] is not aborted either", async () => {
    const long = "x".repeat(200_000);
    fake.enqueue({ chunks: [long], endDelayMs: 50 }); // the end a moment after [DONE]: the drain must wait for it
    const events = await collect(adapter().stream(input(), call()));
    assert.equal(
      events
        .filter((e) => e.type === "text")
        .reduce((n, e) => n + (e.type === "text" ? e.text.length : 0), 0),
      long.length,
    );
    await within(settled(1), "the fake to finish or lose the stream");
    assert.equal(fake.served.streamsCompleted, 1);
    assert.equal(fake.served.aborts, 0);
  });

  it("an upstream that keeps the response open after [DONE] is cut off, so it cannot hold the connection", async () => {
    const openai = adapter({ connections: 1 });
    fake.enqueue({ text: "first", endDelayMs: 60_000 }, { text: "second" });
    await collect(openai.stream(input(), call()));
    // The pool's only connection is still draining the first response: the second stream needs it back.
    const events = await within(
      collect(openai.stream(input(), call())),
      "the second stream to get the connection",
      10_000,
    );
    assert.ok(events.some((e) => e.type === "text" && e.text.includes("second")));
    await fake.waitForAbort(0);
    assert.equal(fake.served.aborts, 1);
  });

  it("a consumer that stops reading releases the upstream connection", async () => {
    fake.enqueue({ text: "one two three four", hangAfterEvents: 3 });
    for await (const event of adapter().stream(input(), call())) if (event.type === "text") break;
    await fake.waitForAbort(0);
    assert.equal(fake.served.streamsCompleted, 0);
  });

  it("connection refused and reset are unavailable", async () => {
    const closed = await startOpenAIFake();
    const url = closed.url;
    await closed.close();
    const refused = await upstreamError(() => adapter({}, url).generate(input(), call()));
    assert.equal(refused.kind, "unavailable");
    fake.enqueue({ kind: "reset" });
    const reset = await upstreamError(() => adapter().generate(input(), call()));
    assert.equal(reset.kind, "unavailable");
  });
});

describe("OpenAIAdapter: error events inside a stream", () => {
  let server: Server;
  let url: string;
  let events: string[];
  beforeEach(async () => {
    events = [];
    server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (const event of events) res.write(`data: ${event}\n\n`);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const chunk = (content: string) =>
    JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: null }] });
  const run = async (): Promise<UpstreamError> => {
    const adapter = new OpenAIAdapter({
      name: "vllm",
      baseUrl: url,
      apiKey: undefined,
      quirks: "vllm",
      connections: 1,
      connectTimeoutMs: 2000,
      healthPath: undefined,
    });
    try {
      return await upstreamError(() => collect(adapter.stream(input(), call())));
    } finally {
      await adapter.close();
    }
  };

  it("vLLM's {object: error} with an HTTP code classifies by that code and keeps afterFirstToken", async () => {
    events = [
      chunk("Hi"),
      JSON.stringify({
        object: "error",
        message: "Rate limited by scheduler",
        type: "TooManyRequests",
        param: null,
        code: 429,
      }),
    ];
    const error = await run();
    assert.equal(error.kind, "rate_limited");
    assert.equal(error.afterFirstToken, true);
    assert.equal(error.message, "vllm sent an error mid-stream (429)");
  });

  it("OpenAI's {error: {...}} without a status code is unavailable; before any content afterFirstToken is false", async () => {
    events = [
      JSON.stringify({ error: { message: "The server had an error", type: "server_error", code: null } }),
    ];
    const error = await run();
    assert.equal(error.kind, "unavailable");
    assert.equal(error.afterFirstToken, false);
  });

  it("a stream without [DONE] is unavailable; an event that is not JSON is a protocol error", async () => {
    events = [chunk("Hi")];
    const cut = await run();
    assert.equal(cut.kind, "unavailable");
    assert.equal(cut.afterFirstToken, true);
    events = ["{not json"];
    assert.equal((await run()).kind, "protocol");
  });

  it("skips a bare empty `data:` event between chunks instead of failing the stream", async () => {
    events = [chunk("Hi"), "", chunk(" there"), "", "[DONE]"];
    const adapter = new OpenAIAdapter({
      name: "vllm",
      baseUrl: url,
      apiKey: undefined,
      quirks: "vllm",
      connections: 1,
      connectTimeoutMs: 2000,
      healthPath: undefined,
    });
    try {
      const out = await collect(adapter.stream(input(), call()));
      const text = out.flatMap((e) => (e.type === "text" ? [e.text] : [])).join("");
      assert.equal(text, "Hi there");
    } finally {
      await adapter.close();
    }
  });
});
