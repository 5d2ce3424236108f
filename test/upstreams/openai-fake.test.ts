// Fidelity of the OpenAI fake: the official `openai` SDK must understand everything it serves.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, it } from "node:test";
import OpenAI, {
  type APIError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  RateLimitError,
} from "openai";
import { loadHttpFixture, type OpenAIErrorFixtureName, openAIError } from "./openai-errors.ts";
import { type OpenAIFake, startOpenAIFake } from "./openai-fake.ts";
import { embeddingVector } from "./openai-wire.ts";

const messages = [{ role: "user" as const, content: "Say hello to the nice test" }];

function sdk(fake: OpenAIFake, maxRetries = 0, apiKey = "sk-test"): OpenAI {
  return new OpenAI({ apiKey, baseURL: `${fake.url}/v1`, maxRetries });
}

describe("OpenAI fake, driven by the official openai SDK", () => {
  let fake: OpenAIFake;
  beforeEach(async () => {
    fake = await startOpenAIFake();
  });
  afterEach(async () => {
    await fake.close();
  });

  it("answers a unary chat completion with OpenAI's shape and headers", async () => {
    fake.enqueue({
      text: "Hi there, tester",
      usage: { prompt_tokens: 7, completion_tokens: 4, cached_tokens: 2 },
    });
    const { data, response } = await sdk(fake)
      .chat.completions.create({ model: "gpt-4o-mini", messages })
      .withResponse();
    assert.match(data.id, /^chatcmpl-[A-Za-z0-9]{29}$/);
    assert.equal(data.object, "chat.completion");
    assert.equal(data.model, "gpt-4o-mini");
    assert.deepEqual(data.choices[0]?.message, {
      role: "assistant",
      content: "Hi there, tester",
      refusal: null,
      annotations: [],
    });
    assert.equal(data.choices[0]?.finish_reason, "stop");
    assert.equal(data.choices[0]?.logprobs, null);
    assert.equal(data.usage?.total_tokens, 11);
    assert.equal(data.usage?.prompt_tokens_details?.cached_tokens, 2);
    assert.equal(data.usage?.completion_tokens_details?.reasoning_tokens, 0);
    assert.match(data.system_fingerprint ?? "", /^fp_/);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.match(response.headers.get("x-request-id") ?? "", /^req_[0-9a-f]{32}$/);
    for (const h of ["openai-processing-ms", "x-ratelimit-remaining-requests", "x-ratelimit-reset-tokens"]) {
      assert.ok(response.headers.get(h), `header ${h}`);
    }
    const [recorded] = fake.requests;
    assert.equal(recorded?.method, "POST");
    assert.equal(recorded?.path, "/v1/chat/completions");
    assert.equal(recorded?.headers.authorization, "Bearer sk-test");
    assert.deepEqual((recorded?.body as { messages?: unknown } | undefined)?.messages, messages);
    assert.equal(recorded?.completed, true);
    assert.equal(recorded?.aborted, false);
    assert.deepEqual(fake.served, {
      requests: 1,
      completionTokens: 4,
      promptTokens: 7,
      streamsCompleted: 0,
      aborts: 0,
    });
  });

  it("streams text deltas the SDK assembles back into the script text", async () => {
    fake.enqueue({ text: "The quick brown fox jumps" });
    const stream = await sdk(fake).chat.completions.create({ model: "gpt-4o", messages, stream: true });
    const deltas: string[] = [];
    const finishes: (string | null)[] = [];
    for await (const chunk of stream) {
      assert.equal(chunk.object, "chat.completion.chunk");
      assert.equal("usage" in chunk, false, "no usage key without stream_options.include_usage");
      deltas.push(chunk.choices[0]?.delta.content ?? "");
      finishes.push(chunk.choices[0]?.finish_reason ?? null);
    }
    assert.equal(deltas.join(""), "The quick brown fox jumps");
    assert.deepEqual(deltas.slice(1, -1), ["The", " quick", " brown", " fox", " jumps"]);
    assert.equal(finishes.at(-1), "stop");
    assert.equal(fake.requests[0]?.completed, true);
    assert.equal(fake.served.streamsCompleted, 1);
    assert.equal(fake.served.completionTokens, 5);
    assert.equal(fake.served.promptTokens, 6, "default prompt tokens = words in the messages");
  });

  it("sends usage in a last chunk with empty choices when include_usage is set", async () => {
    fake.enqueue({ chunks: ["a", "b"], usage: { prompt_tokens: 3, completion_tokens: 9 } });
    const stream = await sdk(fake).chat.completions.create({
      model: "gpt-4o-mini",
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    assert.deepEqual(last?.choices, []);
    assert.equal(last?.usage?.prompt_tokens, 3);
    assert.equal(last?.usage?.completion_tokens, 9);
    assert.equal(last?.usage?.total_tokens, 12);
    for (const chunk of chunks.slice(0, -1)) assert.equal(chunk.usage, null);
    assert.equal(chunks.at(-2)?.choices[0]?.finish_reason, "stop");
    assert.equal(fake.served.completionTokens, 9, "a completed stream counts its usage");
  });

  it("fails a stream with an error event that the SDK raises as an APIError carrying that error", async () => {
    const error = { message: "The server had an error", type: "server_error", param: null, code: null };
    fake.enqueue({ chunks: ["a", "b"], streamError: { afterEvents: 2, error } });
    const texts: string[] = [];
    const stream = await sdk(fake).chat.completions.create({ model: "gpt-4o", messages, stream: true });
    const failure = await (async () => {
      for await (const chunk of stream) texts.push(chunk.choices[0]?.delta.content ?? "");
    })().then(
      () => assert.fail("expected an error"),
      (e: unknown) => e as APIError,
    );
    assert.deepEqual(texts, ["", "a"], "the role chunk, then one content chunk");
    assert.equal(failure.message, "The server had an error");
    assert.deepEqual(failure.error, error);
    assert.equal(fake.served.streamsCompleted, 0);
  });

  it("streams tool calls that the SDK's stream helper assembles", async () => {
    const toolCalls = [
      { id: "call_weather1", name: "get_weather", arguments: '{"city":"Paris","unit":"celsius"}' },
      { id: "call_time2", name: "get_time", arguments: '{"tz":"Europe/Paris"}' },
    ];
    fake.enqueue({ toolCalls });
    const stream = sdk(fake).chat.completions.stream({
      model: "gpt-4o-mini",
      messages,
      tools: toolCalls.map((t) => ({
        type: "function" as const,
        function: { name: t.name, parameters: {} },
      })),
    });
    let argumentDeltas = 0;
    stream.on("tool_calls.function.arguments.delta", () => {
      argumentDeltas += 1;
    });
    const completion = await stream.finalChatCompletion();
    const choice = completion.choices[0];
    assert.equal(choice?.finish_reason, "tool_calls");
    assert.equal(choice?.message.content, null);
    assert.deepEqual(
      choice?.message.tool_calls?.map((t) =>
        t.type === "function" ? [t.id, t.function.name, t.function.arguments] : [],
      ),
      toolCalls.map((t) => [t.id, t.name, t.arguments]),
    );
    assert.ok(argumentDeltas >= 4, `arguments arrive in 2+ pieces per call (saw ${argumentDeltas})`);
  });

  it("serves the same deterministic embeddings as base64 (SDK default) and as floats", async () => {
    const client = sdk(fake);
    const input = ["first text", "second text"];
    const viaBase64 = await client.embeddings.create({ model: "text-embedding-3-small", input });
    const viaFloat = await client.embeddings.create({
      model: "text-embedding-3-small",
      input,
      encoding_format: "float",
    });
    const sent = fake.requests[0]?.body as { encoding_format?: string } | undefined;
    assert.equal(sent?.encoding_format, "base64");
    assert.deepEqual(
      viaBase64.data.map((d) => d.embedding),
      viaFloat.data.map((d) => d.embedding),
    );
    assert.deepEqual(viaFloat.data[1]?.embedding, embeddingVector("second text", 8));
    assert.deepEqual(
      viaFloat.data.map((d) => [d.object, d.index]),
      [
        ["embedding", 0],
        ["embedding", 1],
      ],
    );
    assert.equal(viaFloat.object, "list");
    assert.deepEqual(viaFloat.usage, { prompt_tokens: 4, total_tokens: 4 });
    const short = await client.embeddings.create({
      model: "text-embedding-3-small",
      input: [5, 6, 7],
      dimensions: 4,
    });
    assert.equal(short.data[0]?.embedding.length, 4);
    assert.equal(short.usage.prompt_tokens, 3);
    fake.enqueue({ kind: "embedding", dims: 3, usage: { prompt_tokens: 42 } });
    const scripted = await client.embeddings.create({ model: "text-embedding-3-small", input: "x" });
    assert.equal(scripted.data[0]?.embedding.length, 3);
    assert.equal(scripted.usage.prompt_tokens, 42);
  });

  const errorCases: [OpenAIErrorFixtureName, new (...args: never[]) => APIError, string | number | null][] = [
    ["invalid_request_error", BadRequestError, "missing_required_parameter"],
    ["context_length_exceeded", BadRequestError, "context_length_exceeded"],
    ["invalid_api_key", AuthenticationError, "invalid_api_key"],
    ["model_not_found", NotFoundError, "model_not_found"],
    ["rate_limit_exceeded", RateLimitError, "rate_limit_exceeded"],
    ["insufficient_quota", RateLimitError, "insufficient_quota"],
    ["server_error", InternalServerError, null],
    ["overloaded", InternalServerError, null],
    ["service_unavailable", InternalServerError, 503],
  ];
  for (const [name, errorClass, code] of errorCases) {
    it(`raises ${errorClass.name} for the ${name} fixture with code and type intact`, async () => {
      fake.enqueue(openAIError(name));
      const fixture = loadHttpFixture(name);
      const expected = (JSON.parse(fixture.body.toString("utf8")) as { error: Record<string, unknown> })
        .error;
      await assert.rejects(
        sdk(fake).chat.completions.create({ model: "gpt-4o-mini", messages }),
        (err: unknown) => {
          assert.ok(err instanceof errorClass, `got ${String(err)}`);
          assert.equal(err.status, fixture.status);
          assert.equal(err.code, code);
          assert.equal(err.type, expected.type);
          assert.equal(err.param, expected.param);
          assert.deepEqual(err.error, expected);
          return true;
        },
      );
      assert.equal(fake.requests.length, 1);
    });
  }

  it("serves fixture bodies byte for byte, with their recorded headers", async () => {
    fake.enqueue(openAIError("rate_limit_exceeded"));
    const res = await fetch(`${fake.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "gpt-4o-mini", messages }),
    });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "1");
    assert.equal(res.headers.get("retry-after-ms"), "1000");
    const raw = readFileSync(new URL("../fixtures/openai/rate_limit_exceeded.http", import.meta.url), "utf8");
    const body = Buffer.from(await res.arrayBuffer()).toString("utf8");
    assert.ok(raw.endsWith(`\n\n${body}`));
    assert.match(body, /^\{\n {4}"error": \{\n {8}"message": "Rate limit reached/);
  });

  it("lets the SDK retry a 429 after retry-after-ms and then succeed", async () => {
    fake.enqueue(openAIError("rate_limit_exceeded", { headers: { "retry-after-ms": "10" } }), {
      text: "second try",
    });
    const completion = await sdk(fake, 1).chat.completions.create({ model: "gpt-4o-mini", messages });
    assert.equal(completion.choices[0]?.message.content, "second try");
    assert.equal(fake.requests.length, 2);
    assert.equal(fake.requests[1]?.headers["x-stainless-retry-count"], "1");
  });

  it("marks a stream the client aborts during a slow drip as aborted", async () => {
    fake.enqueue({ chunks: Array.from({ length: 50 }, (_, i) => `w${i} `), chunkDelayMs: 20 });
    const controller = new AbortController();
    const stream = await sdk(fake).chat.completions.create(
      { model: "gpt-4o-mini", messages, stream: true },
      { signal: controller.signal },
    );
    const seen: string[] = [];
    // The SDK ends the iteration quietly when its own signal aborts it.
    for await (const chunk of stream) {
      seen.push(chunk.choices[0]?.delta.content ?? "");
      if (seen.length === 3) controller.abort();
    }
    assert.equal(seen.length, 3);
    await fake.waitForAbort(0);
    assert.equal(fake.requests[0]?.aborted, true);
    assert.equal(fake.requests[0]?.completed, false);
    assert.equal(fake.served.aborts, 1);
    assert.equal(fake.served.streamsCompleted, 0);
    assert.ok(fake.served.completionTokens >= 2 && fake.served.completionTokens < 50);
  });
});
