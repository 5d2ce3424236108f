// The Anthropic adapter's request surface against the Anthropic fake: images, documents, tool results with
// media, cache breakpoints, parallel tool use, service tier, and what Anthropic cannot carry (refused before
// any call, naming the field). The fake validates every block the way the API does.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { AnthropicAdapter } from "../../src/adapters/anthropic/index.ts";
import {
  anthropicAdapter,
  bodyOf,
  call,
  collect,
  input,
  KEY,
  refusal,
} from "../upstreams/anthropic-adapter-harness.ts";
import { type AnthropicFake, startAnthropicFake } from "../upstreams/anthropic-fake.ts";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff]);
const PDF = new TextEncoder().encode("%PDF-1.7 tiny report");

describe("AnthropicAdapter request surface against the Anthropic fake", () => {
  let fake: AnthropicFake;
  let adapters: AnthropicAdapter[];
  const adapter = (): AnthropicAdapter => {
    const created = anthropicAdapter(fake);
    adapters.push(created);
    return created;
  };
  const sent = (index = 0) => bodyOf(fake, index);

  beforeEach(async () => {
    fake = await startAnthropicFake({ requireApiKey: KEY });
    adapters = [];
  });
  afterEach(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await fake.close();
  });

  it("sends images by URL and by bytes, a PDF by bytes and URL, and a text document, in part order", async () => {
    // A view into a larger buffer: only the view's bytes may be encoded.
    const backing = new Uint8Array([1, 2, ...PDF, 3]);
    const pdfView = backing.subarray(2, 2 + PDF.length);
    await adapter().generate(
      input({
        messages: [
          {
            role: "user",
            content: "Compare these.",
            parts: [
              { type: "text", text: "Compare these." },
              { type: "image", source: { url: "https://example.com/cat.jpg" }, detail: "high" },
              { type: "image", source: { data: PNG, mediaType: "image/png" } },
              {
                type: "document",
                source: { data: pdfView, mediaType: "application/pdf" },
                title: "Q3 report",
              },
              { type: "document", source: { url: "https://example.com/spec.pdf" }, filename: "spec.pdf" },
              { type: "document", source: { text: "Plain notes." } },
              {
                type: "document",
                source: { data: new TextEncoder().encode("héllo"), mediaType: "text/plain" },
              },
            ],
          },
        ],
      }),
      call(),
    );
    assert.deepEqual(sent().messages, [
      {
        role: "user",
        content: [
          { type: "text", text: "Compare these." },
          { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
          {
            type: "image",
            source: { type: "base64", media_type: "image/png", data: Buffer.from(PNG).toString("base64") },
          },
          {
            type: "document",
            source: {
              type: "base64",
              media_type: "application/pdf",
              data: Buffer.from(PDF).toString("base64"),
            },
            title: "Q3 report",
          },
          {
            type: "document",
            source: { type: "url", url: "https://example.com/spec.pdf" },
            title: "spec.pdf",
          },
          { type: "document", source: { type: "text", media_type: "text/plain", data: "Plain notes." } },
          { type: "document", source: { type: "text", media_type: "text/plain", data: "héllo" } },
        ],
      },
    ]);
  });

  it("carries text and images inside a tool result, with the message's breakpoint on the tool_result", async () => {
    await adapter().generate(
      input({
        messages: [
          { role: "user", content: "Screenshot the page." },
          {
            role: "assistant",
            content: "",
            toolCalls: [{ id: "toolu_01shot", name: "screenshot", arguments: "{}" }],
          },
          {
            role: "tool",
            content: "Here it is.",
            toolCallId: "toolu_01shot",
            cache: { ttl: "1h" },
            parts: [
              { type: "text", text: "Here it is." },
              { type: "image", source: { data: PNG, mediaType: "image/png" } },
              { type: "reasoning", provider: "anthropic", text: "not for a tool", signature: "x" },
            ],
          },
        ],
        tools: [{ name: "screenshot" }],
      }),
      call(),
    );
    assert.deepEqual((sent().messages as unknown[])[2], {
      role: "user",
      content: [
        {
          type: "tool_result",
          tool_use_id: "toolu_01shot",
          content: [
            { type: "text", text: "Here it is." },
            {
              type: "image",
              source: { type: "base64", media_type: "image/png", data: Buffer.from(PNG).toString("base64") },
            },
          ],
          cache_control: { type: "ephemeral", ttl: "1h" },
        },
      ],
    });
  });

  it("puts cache breakpoints on parts, messages, tools and the system prompt (as blocks), TTL as given", async () => {
    await adapter().generate(
      input({
        messages: [
          { role: "system", content: "You are terse." },
          { role: "system", content: "Long shared rules.", cache: { ttl: "1h" } },
          {
            role: "user",
            content: "Big document. Question?",
            parts: [
              { type: "text", text: "Big document.", cache: { ttl: "5m" } },
              { type: "text", text: "Question?" },
            ],
          },
          { role: "assistant", content: "An answer." },
          { role: "user", content: "Follow-up.", cache: {} },
        ],
        tools: [
          // strict is not sent: Anthropic's strict tool use is model-dependent, so it stays best effort.
          { name: "search", description: "Search", cache: { ttl: "1h" }, strict: true },
          { name: "fetch" },
        ],
      }),
      call(),
    );
    assert.deepEqual(sent().system, [
      { type: "text", text: "You are terse." },
      { type: "text", text: "Long shared rules.", cache_control: { type: "ephemeral", ttl: "1h" } },
    ]);
    assert.deepEqual(sent().messages, [
      {
        role: "user",
        content: [
          { type: "text", text: "Big document.", cache_control: { type: "ephemeral", ttl: "5m" } },
          { type: "text", text: "Question?" },
        ],
      },
      { role: "assistant", content: "An answer." },
      { role: "user", content: [{ type: "text", text: "Follow-up.", cache_control: { type: "ephemeral" } }] },
    ]);
    assert.deepEqual(sent().tools, [
      {
        name: "search",
        description: "Search",
        input_schema: { type: "object", properties: {} },
        cache_control: { type: "ephemeral", ttl: "1h" },
      },
      { name: "fetch", input_schema: { type: "object", properties: {} } },
    ]);
  });

  it("keeps the system prompt a string without breakpoints; refuses a fifth breakpoint and a 1h after a 5m", async () => {
    await adapter().generate(
      input({
        messages: [
          { role: "system", content: "One.", parts: [{ type: "text", text: "One." }] },
          { role: "system", content: "Two." },
          { role: "user", content: "Hi" },
        ],
      }),
      call(),
    );
    assert.equal(sent().system, "One.\n\nTwo.");
    const cache = { ttl: "5m" as const };
    const error = await refusal(
      adapter().generate(
        input({
          messages: [
            { role: "system", content: "S", cache },
            { role: "user", content: "a", cache },
            { role: "assistant", content: "b", cache },
            { role: "user", content: "c", cache },
          ],
          tools: [{ name: "t", cache }],
        }),
        call(),
      ),
    );
    assert.equal(error.kind, "bad_request");
    assert.match(error.message, /at most 4 cache breakpoints per request; this one sets 5/);
    // Tools come first in Anthropic's order: a 5-minute tool breakpoint before a 1-hour system one is refused.
    const misordered = await refusal(
      adapter().generate(
        input({
          messages: [
            { role: "system", content: "S", cache: { ttl: "1h" } },
            { role: "user", content: "a" },
          ],
          tools: [{ name: "t", cache: {} }],
        }),
        call(),
      ),
    );
    assert.equal(misordered.kind, "bad_request");
    assert.match(misordered.message, /one-hour cache breakpoints before five-minute ones/);
    assert.equal(fake.requests.length, 1);
  });

  it("sends parallel_tool_calls false as disable_parallel_tool_use, on the choice given or on auto", async () => {
    const tools = [{ name: "get_time" }];
    await adapter().generate(input({ tools, parallelToolCalls: false }), call());
    await adapter().generate(
      input({ tools, parallelToolCalls: false, toolChoice: { mode: "required" } }),
      call(),
    );
    await adapter().generate(
      input({ tools, parallelToolCalls: false, toolChoice: { function: "get_time" } }),
      call(),
    );
    await adapter().generate(
      input({ tools, parallelToolCalls: false, toolChoice: { mode: "none" } }),
      call(),
    );
    await adapter().generate(input({ tools, parallelToolCalls: true }), call());
    assert.deepEqual(
      fake.requests.map((r) => (r.body as { tool_choice?: unknown }).tool_choice),
      [
        { type: "auto", disable_parallel_tool_use: true },
        { type: "any", disable_parallel_tool_use: true },
        { type: "tool", name: "get_time", disable_parallel_tool_use: true },
        { type: "none" }, // the API takes no such flag on none
        undefined,
      ],
    );
  });

  it("maps service tiers, forwards the end user and stop sequences, and ignores what Anthropic has no field for", async () => {
    await adapter().generate(
      input({
        serviceTier: "default",
        endUserId: "user-9",
        sampling: { stop: ["###"], seed: 7 },
        promptCacheKey: "tenant-1",
        providerMetadata: { team: "search" },
      }),
      call(),
    );
    await collect(adapter().stream(input({ serviceTier: "auto" }), call()));
    assert.deepEqual(sent(0), {
      model: "claude-sonnet-5-5",
      max_tokens: 4096,
      messages: [{ role: "user", content: "Hello there" }],
      stop_sequences: ["###"],
      metadata: { user_id: "user-9" },
      service_tier: "standard_only",
    });
    assert.equal(sent(1).service_tier, "auto");
  });

  it("refuses what Anthropic cannot carry with bad_request naming the field, without calling it", async () => {
    const cases: [Parameters<typeof input>[0], RegExp][] = [
      [
        {
          messages: [
            { role: "user", content: "hi" },
            {
              role: "user",
              content: "listen",
              parts: [{ type: "audio", data: new Uint8Array([1, 2]), format: "wav" }],
            },
          ],
        },
        /^messages\[1\]\.parts\[0\]: Anthropic takes no audio input$/,
      ],
      [
        {
          messages: [
            {
              role: "user",
              content: "",
              parts: [{ type: "image", source: { data: PNG, mediaType: "image/bmp" } }],
            },
          ],
        },
        /^messages\[0\]\.parts\[0\]: Anthropic takes JPEG, PNG, GIF or WebP images, not image\/bmp$/,
      ],
      [
        {
          messages: [
            {
              role: "user",
              content: "",
              parts: [{ type: "document", source: { data: PDF, mediaType: "application/msword" } }],
            },
          ],
        },
        /^messages\[0\]\.parts\[0\]: Anthropic takes PDF or plain-text documents/,
      ],
      [
        {
          messages: [
            { role: "user", content: "hi" },
            {
              role: "assistant",
              content: "",
              parts: [{ type: "image", source: { url: "https://example.com/x.png" } }],
            },
          ],
        },
        /^messages\[1\]\.parts\[0\]: Anthropic takes image parts in user and tool messages/,
      ],
      [
        {
          messages: [
            {
              role: "system",
              content: "",
              parts: [{ type: "image", source: { url: "https://e.com/x.png" } }],
            },
            { role: "user", content: "hi" },
          ],
        },
        /^messages\[0\]\.parts\[0\]: an Anthropic system prompt takes text only/,
      ],
      [{ logprobs: { top: 3 } }, /^logprobs: Anthropic does not return log probabilities$/],
      [{ serviceTier: "flex" }, /^service_tier flex:/],
      [{ serviceTier: "priority" }, /^service_tier priority:/],
    ];
    for (const [overrides, message] of cases) {
      for (const run of [
        () => adapter().generate(input(overrides), call()),
        () => collect(adapter().stream(input(overrides), call())),
      ]) {
        const error = await refusal(run());
        assert.equal(error.kind, "bad_request");
        assert.match(error.message, message);
      }
    }
    assert.equal(fake.requests.length, 0);
  });
});
