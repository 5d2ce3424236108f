// Fidelity of the Anthropic fake: the official `@anthropic-ai/sdk` must understand everything it serves.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, it } from "node:test";
import Anthropic, {
  APIConnectionError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  BadRequestError,
  ContentTooLargeError,
  InternalServerError,
  NotFoundError,
  OverloadedError,
  PermissionDeniedError,
  RateLimitError,
} from "@anthropic-ai/sdk";
import { type AnthropicErrorFixtureName, anthropicError, loadAnthropicFixture } from "./anthropic-errors.ts";
import { type AnthropicFake, startAnthropicFake } from "./anthropic-fake.ts";

const model = "claude-sonnet-5-5";
const messages = [{ role: "user" as const, content: "Say hello to the nice test" }];

function sdk(fake: AnthropicFake, maxRetries = 0): Anthropic {
  return new Anthropic({ apiKey: "sk-ant-test", baseURL: fake.url, maxRetries });
}

describe("Anthropic fake, driven by the official @anthropic-ai/sdk", () => {
  let fake: AnthropicFake;
  beforeEach(async () => {
    fake = await startAnthropicFake({ requireApiKey: "sk-ant-test" });
  });
  afterEach(async () => {
    await fake.close();
  });

  it("answers a unary message with Anthropic's shape, ids and headers", async () => {
    fake.enqueue({ text: "Hi there, tester", usage: { input_tokens: 7, output_tokens: 4 } });
    const { data, response } = await sdk(fake)
      .messages.create({ model, max_tokens: 256, messages, system: "Be brief." })
      .withResponse();
    assert.match(data.id, /^msg_01[A-Za-z0-9]{22}$/);
    assert.equal(data.type, "message");
    assert.equal(data.role, "assistant");
    assert.equal(data.model, model);
    assert.deepEqual(data.content, [{ type: "text", text: "Hi there, tester" }]);
    assert.equal(data.stop_reason, "end_turn");
    assert.equal(data.stop_sequence, null);
    assert.equal(data.usage.input_tokens, 7);
    assert.equal(data.usage.output_tokens, 4);
    assert.equal(data.usage.cache_read_input_tokens, 0);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.match(response.headers.get("request-id") ?? "", /^req_011C[A-Za-z0-9]{20}$/);
    for (const h of ["requests-limit", "requests-remaining", "requests-reset", "output-tokens-remaining"]) {
      assert.ok(response.headers.get(`anthropic-ratelimit-${h}`), `header anthropic-ratelimit-${h}`);
    }
    const [recorded] = fake.requests;
    assert.equal(recorded?.path, "/v1/messages");
    assert.equal(recorded?.headers["anthropic-version"], "2026-10-21", "the v1 SDK pins the new version");
    assert.equal(recorded?.headers.authorization, "Bearer sk-ant-test");
    assert.deepEqual(recorded?.body, { model, max_tokens: 256, messages, system: "Be brief." });
    assert.equal(recorded?.completed, true);
    assert.deepEqual(fake.served, {
      requests: 1,
      inputTokens: 7,
      outputTokens: 4,
      streamsCompleted: 0,
      aborts: 0,
    });
  });

  it("streams text the SDK's MessageStream assembles into the final message", async () => {
    fake.enqueue({ text: "The quick brown fox jumps" });
    const stream = sdk(fake).messages.stream({ model, max_tokens: 256, messages });
    const deltas: string[] = [];
    stream.on("text", (delta) => deltas.push(delta));
    const final = await stream.finalMessage();
    assert.deepEqual(deltas, ["The", " quick", " brown", " fox", " jumps"]);
    assert.deepEqual(final.content, [{ type: "text", text: "The quick brown fox jumps" }]);
    assert.equal(final.stop_reason, "end_turn");
    assert.equal(final.usage.output_tokens, 5, "message_delta's cumulative count replaces message_start's 1");
    assert.equal(final.usage.input_tokens, 6, "default input tokens = words in the messages");
    assert.equal(fake.requests[0]?.completed, true);
    assert.equal((fake.requests[0]?.body as { stream?: boolean } | undefined)?.stream, true);
    assert.equal(fake.served.streamsCompleted, 1);
    assert.equal(fake.served.outputTokens, 5);
  });

  it("streams tool_use input in pieces that the SDK parses back into the scripted objects", async () => {
    const toolUses = [
      { name: "get_weather", input: { city: "Paris", unit: "celsius", days: [1, 2, 3] } },
      { name: "get_time", input: { tz: "Europe/Paris" } },
    ];
    fake.enqueue({ text: "Checking.", toolUses });
    const stream = sdk(fake).messages.stream({
      model,
      max_tokens: 256,
      messages,
      tools: toolUses.map((t) => ({ name: t.name, input_schema: { type: "object" as const } })),
    });
    let jsonPieces = 0;
    stream.on("inputJson", () => {
      jsonPieces += 1;
    });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, "tool_use");
    assert.deepEqual(final.content[0], { type: "text", text: "Checking." });
    const uses = final.content.filter((b) => b.type === "tool_use");
    assert.deepEqual(
      uses.map((b) => [b.name, b.input]),
      toolUses.map((t) => [t.name, t.input]),
    );
    for (const use of uses) assert.match(use.id, /^toolu_01[A-Za-z0-9]{22}$/);
    assert.ok(jsonPieces >= 4, `each input arrives in 2+ pieces (saw ${jsonPieces})`);
  });

  it("reports cache reads and writes apart from input_tokens, unary and streamed", async () => {
    const usage = {
      input_tokens: 12,
      output_tokens: 9,
      cache_read_input_tokens: 2000,
      cache_creation_input_tokens: 300,
    };
    fake.enqueue({ usage }, { usage });
    const unary = await sdk(fake).messages.create({ model, max_tokens: 64, messages });
    const streamed = await sdk(fake).messages.stream({ model, max_tokens: 64, messages }).finalMessage();
    for (const message of [unary, streamed]) {
      assert.equal(message.usage.input_tokens, 12);
      assert.equal(message.usage.output_tokens, 9);
      assert.equal(message.usage.cache_read_input_tokens, 2000);
      assert.equal(message.usage.cache_creation_input_tokens, 300);
    }
  });

  const errorCases: [AnthropicErrorFixtureName, new (...args: never[]) => APIError][] = [
    ["invalid_request_error", BadRequestError],
    ["authentication_error", AuthenticationError],
    ["permission_error", PermissionDeniedError],
    ["not_found_error", NotFoundError],
    ["request_too_large", ContentTooLargeError],
    ["rate_limit_error", RateLimitError],
    ["api_error", InternalServerError],
    ["overloaded_error", OverloadedError],
  ];
  for (const [name, errorClass] of errorCases) {
    it(`raises ${errorClass.name} for the ${name} fixture with type, message and request id intact`, async () => {
      fake.enqueue(anthropicError(name));
      const fixture = loadAnthropicFixture(name);
      const expected = JSON.parse(fixture.body.toString("utf8")) as {
        error: { type: string; message: string };
        request_id: string;
      };
      await assert.rejects(sdk(fake).messages.create({ model, max_tokens: 64, messages }), (err: unknown) => {
        assert.ok(err instanceof errorClass, `got ${String(err)}`);
        assert.equal(err.status, fixture.status);
        assert.equal(err.type, expected.error.type);
        assert.equal(err.apiMessage, expected.error.message);
        assert.equal(err.requestID, expected.request_id);
        assert.deepEqual(err.error, expected);
        return true;
      });
      assert.equal(fake.requests.length, 1);
    });
  }

  it("treats 529 as an overloaded server error the SDK would retry", async () => {
    fake.enqueue(anthropicError("overloaded_error", { headers: { "retry-after-ms": "5" } }), {
      text: "after overload",
    });
    const message = await sdk(fake, 1).messages.create({ model, max_tokens: 64, messages });
    assert.deepEqual(message.content, [{ type: "text", text: "after overload" }]);
    assert.equal(fake.requests.length, 2);
    assert.equal(fake.requests[1]?.headers["x-stainless-retry-count"], "1");
    fake.enqueue(anthropicError("overloaded_error"));
    await assert.rejects(sdk(fake).messages.create({ model, max_tokens: 64, messages }), (err: unknown) => {
      assert.ok(
        err instanceof OverloadedError && err instanceof InternalServerError && err instanceof APIError,
      );
      assert.equal(err.status, 529);
      return true;
    });
  });

  it("serves fixture bodies byte for byte, with their recorded headers", async () => {
    fake.enqueue(anthropicError("rate_limit_error"));
    const res = await fetch(`${fake.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model, max_tokens: 64, messages }),
    });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "7");
    assert.equal(res.headers.get("anthropic-ratelimit-requests-remaining"), "0");
    const raw = readFileSync(new URL("../fixtures/anthropic/rate_limit_error.http", import.meta.url), "utf8");
    const body = await res.text();
    assert.ok(raw.endsWith(`\n\n${body}`));
    assert.match(body, /^\{"type":"error","error":\{"type":"rate_limit_error","message":"This request/);
    assert.equal(res.headers.get("request-id"), (JSON.parse(body) as { request_id: string }).request_id);
  });

  it("sends a mid-stream error event that the SDK raises as an APIError of that type", async () => {
    fake.enqueue({ text: "one two three four", streamError: { afterEvents: 4 } });
    const stream = sdk(fake).messages.stream({ model, max_tokens: 64, messages });
    const deltas: string[] = [];
    stream.on("text", (delta) => deltas.push(delta));
    await assert.rejects(stream.finalMessage(), (err: unknown) => {
      assert.ok(err instanceof APIError, `got ${String(err)}`);
      assert.equal(err.status, undefined, "a mid-stream error has no HTTP status of its own");
      assert.equal(err.type, "overloaded_error");
      assert.equal(err.apiMessage, "Overloaded");
      return true;
    });
    assert.deepEqual(deltas, ["one"], "message_start, block start, ping, one delta, then the error");
    assert.equal(fake.served.streamsCompleted, 0);
  });

  it("marks a stream the client aborts during a slow drip as aborted", async () => {
    fake.enqueue({ chunks: Array.from({ length: 50 }, (_, i) => `w${i} `), chunkDelayMs: 20 });
    const stream = sdk(fake).messages.stream({ model, max_tokens: 64, messages });
    let seen = 0;
    stream.on("text", () => {
      seen += 1;
      if (seen === 3) stream.abort();
    });
    await assert.rejects(stream.finalMessage(), APIUserAbortError);
    await fake.waitForAbort(0);
    assert.equal(fake.requests[0]?.aborted, true);
    assert.equal(fake.requests[0]?.completed, false);
    assert.equal(fake.served.aborts, 1);
    assert.equal(fake.served.streamsCompleted, 0);
    assert.ok(fake.served.outputTokens >= 3 && fake.served.outputTokens < 50);
  });

  it("cuts a stream without message_stop, which the SDK cannot finish, and resets connections", async () => {
    fake.enqueue({ text: "a b c d e f", cutAfterEvents: 5 });
    await assert.rejects(sdk(fake).messages.stream({ model, max_tokens: 64, messages }).finalMessage());
    assert.equal(fake.requests[0]?.aborted, false, "the fake's own cut is not a client abort");
    assert.equal(fake.served.streamsCompleted, 0);
    fake.enqueue({ kind: "reset" });
    await assert.rejects(sdk(fake).messages.create({ model, max_tokens: 64, messages }), APIConnectionError);
  });
});

describe("Anthropic fake: media, thinking and caching, driven by the official @anthropic-ai/sdk", () => {
  let fake: AnthropicFake;
  beforeEach(async () => {
    fake = await startAnthropicFake({ requireApiKey: "sk-ant-test" });
  });
  afterEach(async () => {
    await fake.close();
  });

  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).toString("base64");
  const pdf = Buffer.from("%PDF-1.7 tiny").toString("base64");

  it("accepts image, document, thinking and cache_control requests the SDK sends, and records them verbatim", async () => {
    const params: Anthropic.MessageCreateParamsNonStreaming = {
      model,
      max_tokens: 8192,
      thinking: { type: "enabled", budget_tokens: 4096, display: "summarized" },
      system: [
        { type: "text", text: "You read documents.", cache_control: { type: "ephemeral", ttl: "1h" } },
      ],
      tools: [
        {
          name: "lookup",
          input_schema: { type: "object", properties: {} },
          cache_control: { type: "ephemeral", ttl: "1h" },
        },
      ],
      tool_choice: { type: "auto", disable_parallel_tool_use: true },
      service_tier: "standard_only",
      metadata: { user_id: "user-7" },
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "url", url: "https://example.com/cat.png" } },
            { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
            {
              type: "document",
              source: { type: "base64", media_type: "application/pdf", data: pdf },
              title: "Q3",
            },
            { type: "document", source: { type: "url", url: "https://example.com/a.pdf" } },
            { type: "document", source: { type: "text", media_type: "text/plain", data: "plain words" } },
            { type: "text", text: "Compare them.", cache_control: { type: "ephemeral", ttl: "5m" } },
          ],
        },
      ],
    };
    const message = await sdk(fake).messages.create(params);
    assert.equal(message.stop_reason, "end_turn");
    assert.deepEqual(fake.requests[0]?.body, params);
  });

  it("serves signed thinking that the SDK's stream helper reads as thinking and signature deltas", async () => {
    fake.enqueue({
      thinking: [{ text: "The user wants a greeting." }, { redacted: true }],
      text: "Hello there",
      usage: {
        input_tokens: 20,
        cache_read_input_tokens: 1500,
        cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 400 },
        service_tier: "priority",
      },
    });
    const stream = sdk(fake).messages.stream({
      model,
      max_tokens: 4096,
      thinking: { type: "enabled", budget_tokens: 2048 },
      messages,
    });
    const thinking: string[] = [];
    const signatures: string[] = [];
    stream.on("thinking", (delta) => thinking.push(delta));
    stream.on("signature", (signature) => signatures.push(signature));
    const final = await stream.finalMessage();
    assert.deepEqual(thinking, ["The", " user", " wants", " a", " greeting."]);
    assert.equal(signatures.length, 1);
    const [first, second, third] = final.content;
    assert.deepEqual(first, {
      type: "thinking",
      thinking: "The user wants a greeting.",
      signature: signatures[0],
    });
    assert.equal(second?.type, "redacted_thinking");
    assert.ok(second?.type === "redacted_thinking" && second.data.length > 40, "opaque data arrives whole");
    assert.deepEqual(third, { type: "text", text: "Hello there" });
    assert.equal(final.usage.cache_read_input_tokens, 1500);
    assert.equal(final.usage.cache_creation_input_tokens, 500, "the TTL split sums to the write count");
    assert.deepEqual(final.usage.cache_creation, {
      ephemeral_5m_input_tokens: 100,
      ephemeral_1h_input_tokens: 400,
    });
    assert.equal(final.usage.output_tokens_details?.thinking_tokens, 5);
    assert.equal(final.usage.output_tokens, 7, "thinking and text deltas");
    assert.equal(final.usage.service_tier, "priority");

    fake.enqueue({ thinking: [{ text: "Unary thought." }], text: "Hi" });
    const unary = await sdk(fake).messages.create({
      model,
      max_tokens: 4096,
      thinking: { type: "enabled", budget_tokens: 2048 },
      messages,
    });
    assert.equal(unary.content[0]?.type, "thinking");
    assert.ok(unary.content[0]?.type === "thinking" && unary.content[0].signature.length > 40);
  });

  it("continues a tool conversation only when the thinking block comes back byte for byte", async () => {
    const tools: Anthropic.Tool[] = [
      { name: "get_weather", input_schema: { type: "object", properties: {} } },
    ];
    const thinking = { type: "enabled" as const, budget_tokens: 2048 };
    fake.enqueue({
      thinking: [{ text: "I should call get_weather for Paris." }, { redacted: true }],
      toolUses: [{ name: "get_weather", input: { city: "Paris" } }],
    });
    const first = await sdk(fake)
      .messages.stream({ model, max_tokens: 4096, thinking, tools, messages })
      .finalMessage();
    const toolUse = first.content.find((b) => b.type === "tool_use");
    assert.ok(toolUse?.type === "tool_use");
    const turn = (assistant: Anthropic.ContentBlockParam[]): Anthropic.MessageParam[] => [
      ...messages,
      { role: "assistant", content: assistant },
      { role: "user", content: [{ type: "tool_result", tool_use_id: toolUse.id, content: "18C" }] },
    ];
    const returned = first.content as Anthropic.ContentBlockParam[];
    fake.enqueue({ text: "It is 18C." });
    const next = await sdk(fake).messages.create({
      model,
      max_tokens: 4096,
      thinking,
      tools,
      messages: turn(returned),
    });
    assert.deepEqual(next.content, [{ type: "text", text: "It is 18C." }]);

    const [block, redacted, ...rest] = returned;
    assert.ok(block?.type === "thinking" && redacted?.type === "redacted_thinking");
    const altered: [string, Anthropic.ContentBlockParam[], RegExp][] = [
      [
        "a changed thought",
        [{ ...block, thinking: `${block.thinking} ` }, redacted, ...rest],
        /Invalid `signature` in `thinking` block/,
      ],
      [
        "a changed signature",
        [{ ...block, signature: `${block.signature.slice(0, -4)}AAA=` }, redacted, ...rest],
        /Invalid `signature`/,
      ],
      [
        "changed redacted data",
        [block, { ...redacted, data: `A${redacted.data.slice(1)}` }, ...rest],
        /Invalid `data`/,
      ],
      ["no thinking at all", rest, /must start with a thinking block/],
    ];
    for (const [what, content, message] of altered) {
      await assert.rejects(
        sdk(fake).messages.create({ model, max_tokens: 4096, thinking, tools, messages: turn(content) }),
        (err: unknown) => {
          assert.ok(err instanceof BadRequestError, `${what}: got ${String(err)}`);
          assert.equal(err.type, "invalid_request_error");
          assert.match(err.apiMessage ?? "", message, what);
          return true;
        },
      );
    }
    assert.equal(fake.requests.length, 6);
  });

  it("rejects what the API rejects about thinking, caching, media and tiers, as invalid_request_error", async () => {
    const cached = { type: "text" as const, text: "x", cache_control: { type: "ephemeral" as const } };
    const cases: [Partial<Anthropic.MessageCreateParamsNonStreaming>, RegExp][] = [
      [{ thinking: { type: "enabled", budget_tokens: 512 } }, /greater than or equal to 1024/],
      [
        { max_tokens: 2048, thinking: { type: "enabled", budget_tokens: 2048 } },
        /`max_tokens` must be greater/,
      ],
      [
        {
          thinking: { type: "enabled", budget_tokens: 2048 },
          tools: [{ name: "f", input_schema: { type: "object" } }],
          tool_choice: { type: "any" },
        },
        /tool_choice forces tool use/,
      ],
      [
        { messages: [{ role: "user", content: [cached, cached, cached, cached, cached] }] },
        /A maximum of 4 blocks/,
      ],
      [
        {
          tools: [{ name: "f", input_schema: { type: "object" }, cache_control: { type: "ephemeral" } }],
          system: [{ type: "text", text: "s", cache_control: { type: "ephemeral", ttl: "1h" } }],
        },
        /^system\.0\.cache_control\.ttl: a ttl='1h' cache_control block must not come after a ttl='5m'/,
      ],
      [
        {
          messages: [
            {
              role: "user",
              content: [
                {
                  type: "image",
                  source: { type: "base64", media_type: "image/bmp" as "image/png", data: png },
                },
              ],
            },
          ],
        },
        /media_type: Input should be 'image\/jpeg'/,
      ],
      [{ service_tier: "priority" as "auto" }, /service_tier: Input should be 'auto' or 'standard_only'/],
    ];
    for (const [overrides, message] of cases) {
      await assert.rejects(
        sdk(fake).messages.create({ model, max_tokens: 4096, messages, ...overrides }),
        (err: unknown) => {
          assert.ok(err instanceof BadRequestError, `got ${String(err)}`);
          assert.match(err.apiMessage ?? "", message);
          return true;
        },
      );
    }
    assert.equal(fake.served.inputTokens, 0, "no model ran");
  });
});
