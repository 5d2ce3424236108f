// Fidelity of the OpenAI fake's Mistral dialect: the official `@mistralai/mistralai` SDK must understand
// everything it serves, and the fake must refuse what La Plateforme refuses (extra fields such as `seed`,
// `tool_choice: "required"`, tool-call ids that are not 9 alphanumerics) with Mistral's own error bodies.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Mistral } from "@mistralai/mistralai";
import { HTTPValidationError, SDKError } from "@mistralai/mistralai/models/errors";
import { type OpenAIFake, startOpenAIFake } from "./openai-fake.ts";
import {
  loadMistralFixture,
  MISTRAL_ERROR_FIXTURES,
  type MistralErrorFixtureName,
  mistralError,
} from "./openai-mistral.ts";
import { embeddingVector } from "./openai-wire.ts";

const KEY = "mistral-test-key";
const model = "mistral-small-latest";
const user = (content: string) => ({ role: "user" as const, content });

/** Posts a raw JSON body (for fields the SDK itself would never send). */
async function post(
  fake: OpenAIFake,
  path: string,
  body: unknown,
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${fake.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

/** Runs `run` and returns the SDK error it throws. */
async function sdkError<T extends Error>(
  type: new (...args: never[]) => T,
  run: () => Promise<unknown>,
): Promise<T> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

describe("OpenAI fake in the Mistral dialect, driven by the official @mistralai/mistralai SDK", () => {
  let fake: OpenAIFake;
  let client: Mistral;
  beforeEach(async () => {
    fake = await startOpenAIFake({ dialect: "mistral", requireApiKey: KEY });
    client = new Mistral({ apiKey: KEY, serverURL: fake.url });
  });
  afterEach(async () => {
    await fake.close();
  });

  it("answers chat.complete in Mistral's shape; random_seed, max_tokens and tool_choice any pass", async () => {
    fake.enqueue({ text: "Bonjour, testeur", usage: { prompt_tokens: 9, completion_tokens: 3 } });
    const result = await client.chat.complete({
      model,
      messages: [{ role: "system", content: "Be brief." }, user("Say hello")],
      randomSeed: 42,
      maxTokens: 20,
      temperature: 0.2,
      tools: [
        { type: "function", function: { name: "noop", parameters: { type: "object", properties: {} } } },
      ],
      toolChoice: "any",
    });
    assert.match(result.id, /^[0-9a-f]{32}$/);
    assert.equal(result.object, "chat.completion");
    assert.equal(result.model, model);
    assert.deepEqual(result.usage, { promptTokens: 9, completionTokens: 3, totalTokens: 12 });
    assert.deepEqual(result.choices, [
      {
        index: 0,
        message: { role: "assistant", content: "Bonjour, testeur", toolCalls: null, prefix: false },
        finishReason: "stop",
      },
    ]);
    const [recorded] = fake.requests;
    assert.equal(recorded?.path, "/v1/chat/completions");
    assert.equal(recorded?.headers.authorization, `Bearer ${KEY}`);
    const body = recorded?.body as Record<string, unknown>;
    assert.equal(body.random_seed, 42);
    assert.equal(body.max_tokens, 20);
    assert.equal(body.tool_choice, "any");
    assert.deepEqual(fake.served, {
      requests: 1,
      completionTokens: 3,
      promptTokens: 9,
      streamsCompleted: 0,
      aborts: 0,
    });
  });

  it("streams deltas with usage on the finish chunk and no stream_options", async () => {
    fake.enqueue({ text: "The quick brown fox", usage: { prompt_tokens: 5, completion_tokens: 4 } });
    const stream = await client.chat.stream({ model, messages: [user("Tell me about foxes")] });
    const deltas: string[] = [];
    const finishes: (string | null)[] = [];
    const usages: unknown[] = [];
    for await (const event of stream) {
      const choice = event.data.choices[0];
      if (typeof choice?.delta.content === "string") deltas.push(choice.delta.content);
      finishes.push(choice?.finishReason ?? null);
      if (event.data.usage) usages.push(event.data.usage);
    }
    assert.equal(deltas.join(""), "The quick brown fox");
    assert.deepEqual(finishes.filter(Boolean), ["stop"]);
    assert.equal(finishes.at(-1), "stop", "usage rides on the finish chunk, not a chunk of its own");
    assert.deepEqual(usages, [{ promptTokens: 5, completionTokens: 4, totalTokens: 9 }]);
    assert.equal((fake.requests[0]?.body as { stream?: unknown } | undefined)?.stream, true);
    assert.equal(fake.requests[0]?.headers.accept, "text/event-stream");
    assert.equal(fake.served.streamsCompleted, 1);
    assert.equal(fake.served.completionTokens, 4);
  });

  it("makes 9-alphanumeric tool-call ids, streams each call whole, and accepts them on the next turn", async () => {
    const calls = [
      { name: "get_weather", arguments: '{"city":"Paris","unit":"celsius"}' },
      { name: "get_time", arguments: '{"tz":"Europe/Paris"}' },
    ];
    fake.enqueue({ toolCalls: calls }, { toolCalls: calls });
    const unary = await client.chat.complete({ model, messages: [user("Weather and time in Paris?")] });
    const message = unary.choices[0]?.message;
    assert.equal(unary.choices[0]?.finishReason, "tool_calls");
    assert.deepEqual(
      message?.toolCalls?.map((c) => [c.function.name, c.function.arguments]),
      calls.map((c) => [c.name, c.arguments]),
    );
    for (const c of message?.toolCalls ?? []) assert.match(c.id ?? "", /^[A-Za-z0-9]{9}$/);

    const deltas: { id: string | undefined; arguments: unknown }[] = [];
    for await (const event of await client.chat.stream({ model, messages: [user("Again")] })) {
      for (const c of event.data.choices[0]?.delta.toolCalls ?? []) {
        deltas.push({ id: c.id, arguments: c.function.arguments });
      }
    }
    assert.deepEqual(
      deltas.map((d) => d.arguments),
      calls.map((c) => c.arguments),
      "one delta per call, arguments whole",
    );
    for (const d of deltas) assert.match(d.id ?? "", /^[A-Za-z0-9]{9}$/);

    const first = message?.toolCalls?.[0];
    assert.ok(first?.id);
    const next = await client.chat.complete({
      model,
      messages: [
        user("Weather in Paris?"),
        { role: "assistant", content: "", toolCalls: [first] },
        { role: "tool", content: '{"temp":18}', toolCallId: first.id, name: "get_weather" },
      ],
    });
    assert.equal(next.choices[0]?.message?.content, "Hello from fake");
  });

  it("refuses a foreign tool-call id (assistant or tool message) with 400 code 3280", async () => {
    for (const [toolCalls, toolCallId] of [
      [[{ id: "call_abc123def", function: { name: "f", arguments: "{}" } }], "AbCdEf123"],
      [[{ id: "AbCdEf123", function: { name: "f", arguments: "{}" } }], "toolu_01XyZ"],
    ] as const) {
      const error = await sdkError(SDKError, () =>
        client.chat.complete({
          model,
          messages: [
            user("hi"),
            { role: "assistant", content: "", toolCalls: [...toolCalls] },
            { role: "tool", content: "1", toolCallId },
          ],
        }),
      );
      assert.equal(error.statusCode, 400);
      const bad = toolCalls[0].id === "AbCdEf123" ? toolCallId : toolCalls[0].id;
      assert.deepEqual(JSON.parse(error.body), {
        object: "error",
        message: `Tool call id was ${bad} but must be a-z, A-Z, 0-9, with a length of 9.`,
        type: "invalid_function_call",
        param: null,
        code: "3280",
        raw_status_code: 400,
      });
    }
    assert.equal(fake.served.completionTokens, 0, "a refused request runs no model");
  });

  it("refuses tool_choice required with a 422 HTTPValidationError naming the field", async () => {
    const error = await sdkError(HTTPValidationError, () =>
      client.chat.complete({ model, messages: [user("hi")], toolChoice: "required" }),
    );
    assert.equal(error.statusCode, 422);
    assert.deepEqual(
      error.detail?.map((d) => [d.loc, d.type, d.msg]),
      [[["body", "tool_choice"], "enum", "Input should be 'auto', 'none' or 'any'"]],
    );
  });

  it("refuses OpenAI-only fields as extra_forbidden: seed, user, stream_options, a user message's name", async () => {
    const { status, json } = await post(fake, "/v1/chat/completions", {
      model,
      messages: [{ role: "user", content: "hi", name: "alice" }],
      seed: 7,
      user: "end-user-1",
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 5,
    });
    assert.equal(status, 422);
    const body = json as { object: string; detail: { type: string; loc: unknown[] }[]; code: number };
    assert.equal(body.object, "Error");
    assert.equal(body.code, 3001);
    assert.deepEqual(
      body.detail.map((d) => [d.type, d.loc.join(".")]),
      [
        ["extra_forbidden", "body.seed"],
        ["extra_forbidden", "body.user"],
        ["extra_forbidden", "body.stream_options"],
        ["extra_forbidden", "body.max_completion_tokens"],
        ["extra_forbidden", "body.messages.0.user.name"],
      ],
    );
    const ok = await post(fake, "/v1/chat/completions", { model, messages: [user("hi")], random_seed: 7 });
    assert.equal(ok.status, 200);
  });

  it("embeds with floats, output_dimension and Mistral's usage; refuses OpenAI's `dimensions`", async () => {
    const result = await client.embeddings.create({
      model: "mistral-embed",
      inputs: ["alpha beta", "gamma"],
    });
    assert.match(result.id, /^embd-[0-9a-f]{32}$/);
    assert.equal(result.model, "mistral-embed");
    assert.deepEqual(result.usage, { promptTokens: 3, completionTokens: 0, totalTokens: 3 });
    assert.deepEqual(
      result.data.map((d) => [d.index, d.embedding]),
      [
        [0, embeddingVector("alpha beta", 8)],
        [1, embeddingVector("gamma", 8)],
      ],
    );
    const small = await client.embeddings.create({
      model: "mistral-embed",
      inputs: "solo",
      outputDimension: 4,
    });
    assert.deepEqual(small.data[0]?.embedding, embeddingVector("solo", 4));
    const refused = await post(fake, "/v1/embeddings", { model: "mistral-embed", input: "x", dimensions: 4 });
    assert.equal(refused.status, 422);
    assert.deepEqual(
      (refused.json as { detail: { loc: unknown[] }[] }).detail.map((d) => d.loc),
      [["body", "dimensions"]],
    );
  });

  it("answers a wrong key with the gateway's 401 body", async () => {
    const stranger = new Mistral({ apiKey: "wrong", serverURL: fake.url });
    const error = await sdkError(SDKError, () => stranger.chat.complete({ model, messages: [user("hi")] }));
    assert.equal(error.statusCode, 401);
    assert.equal(error.body, loadMistralFixture("unauthorized").body.toString("utf8"));
    assert.equal(fake.served.completionTokens, 0);
  });

  for (const name of MISTRAL_ERROR_FIXTURES) {
    it(`serves the ${name} fixture byte for byte, as the SDK's error class for its status`, async () => {
      const fixture = loadMistralFixture(name as MistralErrorFixtureName);
      fake.enqueue(mistralError(name));
      const type = fixture.status === 422 ? HTTPValidationError : SDKError;
      const error = await sdkError<Error & { statusCode: number; body: string }>(type, () =>
        client.chat.complete({ model, messages: [user("hi")] }),
      );
      assert.equal(error.statusCode, fixture.status);
      assert.equal(error.body, fixture.body.toString("utf8"));
      if (error instanceof HTTPValidationError) {
        // The current shape repeats the pydantic entries at the top level; the 2024 shape nests them in message.
        assert.equal(error.detail?.length, name === "extra_forbidden" ? 1 : undefined);
      }
    });
  }

  it("still cuts a stream on request: the SDK sees the connection drop, the fake counts no completion", async () => {
    fake.enqueue({ text: "one two three four", cutAfterEvents: 2 });
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const event of await client.chat.stream({ model, messages: [user("count")] })) {
        const content = event.data.choices[0]?.delta.content;
        if (typeof content === "string") seen.push(content);
      }
    });
    assert.deepEqual(seen, ["", "one"]);
    assert.equal(fake.served.streamsCompleted, 0);
  });
});
