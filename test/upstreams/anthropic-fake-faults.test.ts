// The Anthropic fake's request validation (per pinned version), wire layout (compared with the recorded
// streams) and scripted faults, checked over plain HTTP.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, it } from "node:test";
import { type AnthropicFake, startAnthropicFake } from "./anthropic-fake.ts";

const model = "claude-sonnet-5-5";
const messages = [{ role: "user", content: "hello there" }];

async function post(
  fake: AnthropicFake,
  body: unknown,
  headers: Record<string, string> = { "anthropic-version": "2023-06-01" },
  path = "/v1/messages",
) {
  const res = await fetch(`${fake.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": "sk-ant-test", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function errorOf(text: string): { type: string; message: string } {
  const parsed = JSON.parse(text) as { type: string; error: { type: string; message: string } };
  assert.equal(parsed.type, "error");
  return parsed.error;
}

/** Events of a raw SSE body as [name, data], deltas of one block joined, per-response ids as placeholders. */
function normalizedEvents(raw: string): [string, unknown][] {
  assert.ok(raw.endsWith("\n\n"));
  const out: [string, Record<string, unknown>][] = [];
  for (const event of raw.slice(0, -2).split("\n\n")) {
    const match = /^event: (\w+)\ndata: (.*)$/s.exec(event);
    assert.ok(match, `malformed event: ${event}`);
    const [, name = "", json = ""] = match;
    const data = JSON.parse(json) as Record<string, unknown>;
    const message = data.message as Record<string, unknown> | undefined;
    if (message) message.id = "<id>";
    const delta = data.delta as { type?: string; text?: string; partial_json?: string } | undefined;
    const last = out.at(-1)?.[1] as typeof data | undefined;
    const lastDelta = last?.delta as typeof delta;
    if (name === "content_block_delta" && last?.index === data.index && lastDelta?.type === delta?.type) {
      if (lastDelta && delta?.text !== undefined) lastDelta.text += delta.text;
      if (lastDelta && delta?.partial_json !== undefined) lastDelta.partial_json += delta.partial_json;
      continue;
    }
    out.push([name, data]);
  }
  return out;
}

function recorded(file: string): string {
  return readFileSync(new URL(`../fixtures/anthropic/${file}`, import.meta.url), "utf8");
}

describe("Anthropic fake: validation, wire layout and faults", () => {
  let fake: AnthropicFake;
  beforeEach(async () => {
    fake = await startAnthropicFake({ requireApiKey: "sk-ant-test" });
  });
  afterEach(async () => {
    await fake.close();
  });

  it("streams text in the same layout as the recorded stream", async () => {
    fake.enqueue({ usage: { input_tokens: 12 } });
    const res = await post(fake, { model, max_tokens: 64, messages, stream: true });
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.match(res.text, /\nevent: ping\ndata: \{"type": "ping"\}\n\n/);
    assert.deepEqual(normalizedEvents(res.text), normalizedEvents(recorded("message-stream-text.sse")));
  });

  it("streams a text block then a tool_use block in the same layout as the recorded stream", async () => {
    fake.enqueue({
      chunks: ["Let me check", " the weather."],
      toolUses: [
        {
          id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
          name: "get_weather",
          input: { city: "Paris", unit: "celsius" },
        },
      ],
      usage: { input_tokens: 472, output_tokens: 89 },
    });
    const res = await post(fake, { model, max_tokens: 64, messages, stream: true });
    assert.deepEqual(normalizedEvents(res.text), normalizedEvents(recorded("message-stream-tool-use.sse")));
  });

  it("interleaves pings when asked and ends a mid-stream error after the error event", async () => {
    fake.enqueue(
      { text: "a b", pingEvery: 1 },
      { text: "a b c", streamError: { afterEvents: 2, type: "api_error" } },
    );
    const pinged = normalizedEvents(
      (await post(fake, { model, max_tokens: 8, messages, stream: true })).text,
    );
    const names = pinged.map(([name]) => name);
    assert.equal(names.filter((n) => n === "ping").length, (names.length - 1) / 2);
    assert.equal(names.at(-1), "message_stop");
    const failed = normalizedEvents(
      (await post(fake, { model, max_tokens: 8, messages, stream: true })).text,
    );
    assert.deepEqual(
      failed.map(([name]) => name),
      ["message_start", "content_block_start", "error"],
    );
    assert.deepEqual(failed[2]?.[1], {
      type: "error",
      error: { type: "api_error", message: "Internal server error" },
    });
  });

  it("checks the API key: x-api-key or Authorization Bearer, x-api-key first", async () => {
    const body = { model, max_tokens: 8, messages };
    const bearer = await post(fake, body, { "anthropic-version": "2023-06-01", "x-api-key": "" });
    assert.equal(bearer.status, 401, "an empty x-api-key is still the key that counts");
    const missing = await fetch(`${fake.url}/v1/messages`, {
      method: "POST",
      headers: { "anthropic-version": "2023-06-01" },
      body: JSON.stringify(body),
    });
    assert.equal(missing.status, 401);
    assert.deepEqual(errorOf(await missing.text()), {
      type: "authentication_error",
      message: "x-api-key header is required",
    });
    const viaBearer = await fetch(`${fake.url}/v1/messages`, {
      method: "POST",
      headers: { "anthropic-version": "2023-06-01", authorization: "Bearer sk-ant-test" },
      body: JSON.stringify(body),
    });
    assert.equal(viaBearer.status, 200);
    await viaBearer.text();
    const wrong = await post(fake, body, { "anthropic-version": "2023-06-01", "x-api-key": "sk-ant-wrong" });
    assert.equal(wrong.status, 401);
    assert.equal(errorOf(wrong.text).message, "invalid x-api-key");
  });

  const invalid: [string, Record<string, unknown>, string, RegExp][] = [
    ["a missing max_tokens", { model, messages }, "2023-06-01", /^max_tokens: Field required$/],
    ["a missing model", { max_tokens: 8, messages }, "2023-06-01", /^model: Field required$/],
    ["empty messages", { model, max_tokens: 8, messages: [] }, "2023-06-01", /at least one message/],
    [
      "a system role inside messages (2023-06-01)",
      { model, max_tokens: 8, messages: [{ role: "system", content: "be nice" }, ...messages] },
      "2023-06-01",
      /^messages: Unexpected role "system"\. The Messages API accepts a top-level `system` parameter/,
    ],
    [
      "temperature with top_p (2023-06-01)",
      { model, max_tokens: 8, messages, temperature: 0.5, top_p: 0.9 },
      "2023-06-01",
      /^`temperature` and `top_p` cannot both be specified for this model/,
    ],
    [
      "any temperature (2026-10-21)",
      { model, max_tokens: 8, messages, temperature: 1 },
      "2026-10-21",
      /^temperature: Extra inputs are not permitted$/,
    ],
    [
      "a tool_result without a tool_use before it",
      {
        model,
        max_tokens: 8,
        messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_x" }] }],
      },
      "2023-06-01",
      /^messages\.0\.content\.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_x\./,
    ],
    [
      "a tool_use the next message does not answer",
      {
        model,
        max_tokens: 8,
        messages: [
          ...messages,
          { role: "assistant", content: [{ type: "tool_use", id: "toolu_a", name: "f", input: {} }] },
          { role: "user", content: "never mind" },
        ],
      },
      "2023-06-01",
      /^messages\.2: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_a\./,
    ],
  ];
  for (const [what, body, version, message] of invalid) {
    it(`rejects ${what} with invalid_request_error`, async () => {
      const res = await post(fake, body, { "anthropic-version": version });
      assert.equal(res.status, 400);
      const error = errorOf(res.text);
      assert.equal(error.type, "invalid_request_error");
      assert.match(error.message, message);
      assert.equal(fake.served.inputTokens, 0, "nothing was generated");
    });
  }

  it("accepts what each version allows: a lone temperature on 2023-06-01, a system message on 2026-10-21", async () => {
    const old = await post(fake, { model, max_tokens: 8, messages, temperature: 0.2 });
    assert.equal(old.status, 200, old.text);
    const system = [{ role: "system", content: "be nice" }, ...messages];
    const current = await post(
      fake,
      { model, max_tokens: 8, messages: system },
      { "anthropic-version": "2026-10-21" },
    );
    assert.equal(current.status, 200, current.text);
    const missing = await post(fake, { model, max_tokens: 8, messages }, {});
    assert.equal(errorOf(missing.text).message, "anthropic-version: header is required");
    const unknown = await post(
      fake,
      { model, max_tokens: 8, messages },
      { "anthropic-version": "2024-01-01" },
    );
    assert.equal(unknown.status, 400);
    const route = await post(fake, { model, max_tokens: 8, messages }, undefined, "/v1/complete");
    assert.equal(route.status, 404);
    assert.equal(errorOf(route.text).type, "not_found_error");
  });

  it("hangs after N events with the socket open until the client gives up", async () => {
    fake.enqueue({ text: "a b c d", hangAfterEvents: 3 });
    const controller = new AbortController();
    const res = await fetch(`${fake.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model, max_tokens: 8, messages, stream: true }),
      signal: controller.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while ((text.match(/\n\n/g) ?? []).length < 3) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    }
    assert.deepEqual(
      [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]),
      ["message_start", "content_block_start", "ping"],
    );
    controller.abort();
    await fake.waitForAbort(0);
    assert.equal(fake.requests[0]?.completed, false);
  });

  it("on 2023-06-01, rejects sampling changes and top_k with thinking, and thinking blocks outside assistant turns", async () => {
    const thinking = { type: "enabled", budget_tokens: 1024 };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ thinking, temperature: 0.5 }, /^`temperature` may only be set to 1 when thinking is enabled/],
      [{ thinking, top_k: 5 }, /^`top_k` must be unset when thinking is enabled/],
      [{ thinking: { type: "enabled", budget_tokens: 1024, display: "full" } }, /display: Input should be/],
      [
        { messages: [{ role: "user", content: [{ type: "thinking", thinking: "x", signature: "AAAA" }] }] },
        /thinking blocks may only appear in assistant messages/,
      ],
      [
        { messages: [{ role: "user", content: [{ type: "text", text: "" }] }] },
        /text content blocks must be non-empty/,
      ],
      [{ messages: [{ role: "user", content: [{ type: "audio", data: "AAAA" }] }] }, /Input tag 'audio'/],
    ];
    for (const [overrides, message] of cases) {
      const res = await post(fake, { model, max_tokens: 4096, messages, ...overrides });
      assert.equal(res.status, 400);
      const error = errorOf(res.text);
      assert.equal(error.type, "invalid_request_error");
      assert.match(error.message, message);
    }
    const ok = await post(fake, { model, max_tokens: 4096, messages, thinking, temperature: 1 });
    assert.equal(ok.status, 200, "temperature 1 is allowed with thinking");
  });
});
