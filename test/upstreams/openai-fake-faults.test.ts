// The OpenAI fake's scripted faults, validation and wire layout (compared with the recorded streams).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, it } from "node:test";
import OpenAI, { APIConnectionError, APIUserAbortError, AuthenticationError, NotFoundError } from "openai";
import { type OpenAIFake, startOpenAIFake } from "./openai-fake.ts";

const messages = [{ role: "user" as const, content: "hello there" }];

function sdk(fake: OpenAIFake, apiKey = "sk-test"): OpenAI {
  return new OpenAI({ apiKey, baseURL: `${fake.url}/v1`, maxRetries: 0 });
}

async function post(fake: OpenAIFake, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${fake.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function errorOf(text: string): Record<string, unknown> {
  return (JSON.parse(text) as { error: Record<string, unknown> }).error;
}

/** `data:` payloads of a raw SSE body, with per-response values replaced by placeholders. */
function normalizedEvents(raw: string): unknown[] {
  assert.ok(raw.endsWith("data: [DONE]\n\n"));
  return raw
    .slice(0, -2)
    .split("\n\n")
    .map((event) => {
      assert.match(event, /^data: /);
      const data = event.slice("data: ".length);
      if (data === "[DONE]") return data;
      const chunk = JSON.parse(data) as Record<string, unknown>;
      for (const key of ["id", "created", "model", "system_fingerprint", "obfuscation"]) {
        if (key in chunk) chunk[key] = `<${key}>`;
      }
      return chunk;
    });
}

function recorded(file: string): string {
  return readFileSync(new URL(`../fixtures/openai/${file}`, import.meta.url), "utf8");
}

describe("OpenAI fake: faults, validation and wire layout", () => {
  let fake: OpenAIFake;
  beforeEach(async () => {
    fake = await startOpenAIFake();
  });
  afterEach(async () => {
    await fake.close();
  });

  it("streams text with include_usage in the same layout as the recorded stream", async () => {
    fake.enqueue({ usage: { prompt_tokens: 11, completion_tokens: 3 } });
    const res = await post(fake, "/v1/chat/completions", {
      model: "gpt-4o-mini",
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.deepEqual(normalizedEvents(res.text), normalizedEvents(recorded("chat-stream-include-usage.sse")));
  });

  it("streams a tool call in the same layout as the recorded stream", async () => {
    const call = { id: "call_Xk2pQ9rT4vW7yZ1aB3cD5eF6", name: "get_weather", arguments: '{"city":"Paris"}' };
    fake.enqueue({ toolCalls: [call] });
    const res = await post(fake, "/v1/chat/completions", { model: "gpt-4o-mini", messages, stream: true });
    assert.deepEqual(normalizedEvents(res.text), normalizedEvents(recorded("chat-stream-tool-calls.sse")));
  });

  it("omits the obfuscation field when stream_options.include_obfuscation is false", async () => {
    const res = await post(fake, "/v1/chat/completions", {
      model: "gpt-4o-mini",
      messages,
      stream: true,
      stream_options: { include_obfuscation: false },
    });
    assert.doesNotMatch(res.text, /obfuscation/);
  });

  it("cuts the connection after N events without [DONE], not counted as a client abort", async () => {
    fake.enqueue({ text: "one two three four", cutAfterEvents: 3 });
    const stream = await sdk(fake).chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    let text = "";
    await assert.rejects(async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    });
    assert.equal(text, "one two");
    assert.equal(fake.requests[0]?.aborted, false);
    assert.equal(fake.requests[0]?.completed, false);
    assert.deepEqual(fake.served, {
      requests: 1,
      completionTokens: 2,
      promptTokens: 2,
      streamsCompleted: 0,
      aborts: 0,
    });
  });

  it("hangs after N events with the socket open until the client gives up", async () => {
    fake.enqueue({ text: "a b c", hangAfterEvents: 2 });
    const controller = new AbortController();
    const stream = await sdk(fake).chat.completions.create(
      { model: "gpt-4o-mini", messages, stream: true },
      { signal: controller.signal },
    );
    const iterator = stream[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value?.choices[0]?.delta.role, "assistant");
    assert.equal((await iterator.next()).value?.choices[0]?.delta.content, "a");
    assert.ok(fake.openSockets() >= 1);
    controller.abort();
    await fake.waitForAbort(0);
    assert.equal(fake.served.completionTokens, 1);
    assert.equal(fake.served.aborts, 1);
  });

  it("resets the connection before headers, then keeps serving", async () => {
    fake.enqueue({ kind: "reset" });
    const client = sdk(fake);
    await assert.rejects(
      client.chat.completions.create({ model: "gpt-4o-mini", messages }),
      APIConnectionError,
    );
    const ok = await client.chat.completions.create({ model: "gpt-4o-mini", messages });
    assert.equal(ok.choices[0]?.message.content, "Hello from fake");
    assert.equal(fake.requests.length, 2);
    assert.equal(fake.requests[0]?.aborted, false);
  });

  for (const script of [{ kind: "hang" as const }, { text: "late", delayMs: 60_000 }]) {
    it(`records a client abort while the fake ${"kind" in script ? "hangs" : "delays headers"}`, async () => {
      fake.enqueue(script);
      const controller = new AbortController();
      const pending = sdk(fake).chat.completions.create(
        { model: "gpt-4o-mini", messages },
        { signal: controller.signal },
      );
      await fake.waitForRequests(1);
      controller.abort();
      await assert.rejects(pending, APIUserAbortError);
      await fake.waitForAbort(0);
      assert.equal(fake.served.completionTokens, 0);
    });
  }

  it("uses setDefault (a script or a function of the request) once the queue is empty", async () => {
    fake.setDefault((req) => ({ text: `echo ${(req.body as { model: string }).model}` }));
    fake.enqueue({ text: "queued first" });
    const client = sdk(fake);
    const first = await client.chat.completions.create({ model: "m-1", messages });
    const second = await client.chat.completions.create({ model: "m-2", messages });
    assert.equal(first.choices[0]?.message.content, "queued first");
    assert.equal(second.choices[0]?.message.content, "echo m-2");
    fake.setDefault({ kind: "error", status: 404, fixture: "model_not_found" });
    await assert.rejects(client.chat.completions.create({ model: "m-3", messages }), NotFoundError);
    assert.throws(() => fake.enqueue({ kind: "error", status: 500, fixture: "no_such_fixture" }));
  });

  it("checks the API key when asked to, without consuming scripts", async () => {
    const guarded = await startOpenAIFake({ requireApiKey: "sk-right" });
    try {
      guarded.enqueue({ text: "kept for the right key" });
      await assert.rejects(
        sdk(guarded, "sk-wrong").chat.completions.create({ model: "gpt-4o-mini", messages }),
        (err: unknown) => err instanceof AuthenticationError && err.code === "invalid_api_key",
      );
      const missing = await post(guarded, "/v1/chat/completions", { model: "gpt-4o-mini", messages });
      assert.equal(missing.status, 401);
      assert.match(String(errorOf(missing.text).message), /^You didn't provide an API key/);
      const ok = await sdk(guarded, "sk-right").chat.completions.create({ model: "gpt-4o-mini", messages });
      assert.equal(ok.choices[0]?.message.content, "kept for the right key");
      assert.equal(guarded.requests.length, 3);
    } finally {
      await guarded.close();
    }
  });

  it("rejects malformed requests with OpenAI's 400/404 bodies", async () => {
    const badJson = await post(fake, "/v1/chat/completions", "{not json");
    assert.equal(badJson.status, 400);
    assert.match(String(errorOf(badJson.text).message), /^We could not parse the JSON body/);
    assert.equal(fake.requests[0]?.body, "{not json");
    const noMessages = await post(fake, "/v1/chat/completions", { model: "gpt-4o-mini" });
    assert.deepEqual(
      [noMessages.status, errorOf(noMessages.text).param, errorOf(noMessages.text).code],
      [400, "messages", "missing_required_parameter"],
    );
    const noModel = await post(fake, "/v1/chat/completions", { messages });
    assert.equal(errorOf(noModel.text).message, "you must provide a model parameter");
    const badInput = await post(fake, "/v1/embeddings", { model: "text-embedding-3-small", input: [{}] });
    assert.match(String(errorOf(badInput.text).message), /'\$\.input' is invalid/);
    const unknown = await post(fake, "/v1/nope", {});
    assert.deepEqual([unknown.status, errorOf(unknown.text).message], [404, "Invalid URL (POST /v1/nope)"]);
    assert.match(unknown.text, /^\{\n {4}"error"/);
  });

  it("lists and retrieves models", async () => {
    const client = sdk(fake);
    const ids = [];
    for await (const model of client.models.list()) ids.push(model.id);
    assert.ok(ids.includes("gpt-4o-mini") && ids.includes("text-embedding-3-small"));
    assert.equal((await client.models.retrieve("gpt-4o")).owned_by, "system");
    await assert.rejects(client.models.retrieve("gpt-nope"), NotFoundError);
  });

  it("tracks open sockets and destroys them on close", async () => {
    await sdk(fake).chat.completions.create({ model: "gpt-4o-mini", messages });
    assert.ok(fake.openSockets() >= 1, "the SDK keeps its connection alive");
    await fake.close();
    assert.equal(fake.openSockets(), 0);
  });
});
