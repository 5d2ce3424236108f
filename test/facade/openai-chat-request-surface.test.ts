import assert from "node:assert/strict";
import { test } from "node:test";
import type OpenAI from "openai";
import {
  AudioFormat,
  CacheTtl,
  type ContentPart,
  ImageDetail,
  ReasoningEffort,
  ServiceTier,
} from "../../gen/switchyard/v1/generation_pb.ts";
import { parseChatBody, toWireRequest } from "../../src/facade/openai/chat-request.ts";
import { OpenAIRequestError } from "../../src/facade/openai/errors.ts";

// The facade's request side: OpenAI JSON (typed as the official SDK sends it) → the proto
// GenerateRequest a gRPC client would send for the same call, and OpenAI-style 400s naming the field.

type Body = OpenAI.Chat.ChatCompletionCreateParams & Record<string, unknown>;
const target = { workload: "chat", requestedModel: "" };
const wire = (body: Body) => toWireRequest(parseChatBody(body), target);
const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");
const PDF = Buffer.from("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "latin1");
const WAV = Buffer.from("RIFF$\0\0\0WAVEfmt ", "latin1");

function chat(content: OpenAI.Chat.ChatCompletionContentPart[], extra: Partial<Body> = {}): Body {
  return { model: "switchyard/chat", messages: [{ role: "user", content }], ...extra };
}

/** The 400 a body gets: its param and message, as the SDK would show them. */
function refusal(body: unknown): { param: string | null; message: string } {
  try {
    parseChatBody(body);
  } catch (error) {
    assert.ok(error instanceof OpenAIRequestError, String(error));
    assert.equal(error.reason, "invalid_argument");
    return { param: error.param, message: error.message };
  }
  assert.fail("expected a 400");
}

function part(parts: ContentPart[], i: number) {
  const p = parts[i];
  assert.ok(p, `part ${i}`);
  return p;
}

test("image_url by https URL keeps the URL (never fetched) and the detail", () => {
  const req = wire(
    chat([
      { type: "text", text: "what is in it?" },
      { type: "image_url", image_url: { url: "https://example.com/cat.png", detail: "high" } },
    ]),
  );
  const parts = req.messages[0]!.content;
  assert.deepEqual(part(parts, 0).part, { case: "text", value: "what is in it?" });
  const image = part(parts, 1).part;
  assert.equal(image.case, "image");
  assert.deepEqual(image.value.source, { case: "url", value: "https://example.com/cat.png" });
  assert.equal(image.value.detail, ImageDetail.HIGH);
  assert.equal(image.value.mediaType, "");
});

test("image_url as a data: URL becomes the bytes and the media type; no detail is unspecified", () => {
  const url = `data:IMAGE/PNG;base64,${PNG.toString("base64")}`;
  const image = part(wire(chat([{ type: "image_url", image_url: { url } }])).messages[0]!.content, 0).part;
  assert.equal(image.case, "image");
  assert.equal(image.value.source.case, "data");
  assert.deepEqual(Buffer.from(image.value.source.value as Uint8Array), PNG);
  assert.equal(image.value.mediaType, "image/png");
  assert.equal(image.value.detail, ImageDetail.UNSPECIFIED);
});

test("input_audio becomes the decoded bytes and the format, for each format the proto has", () => {
  const formats = {
    wav: AudioFormat.WAV,
    mp3: AudioFormat.MP3,
    flac: AudioFormat.FLAC,
    ogg: AudioFormat.OGG,
  };
  for (const [format, expected] of Object.entries(formats)) {
    const body = chat([
      { type: "input_audio", input_audio: { data: WAV.toString("base64"), format: format as "wav" } },
    ]);
    const audio = part(wire(body).messages[0]!.content, 0).part;
    assert.equal(audio.case, "audio");
    assert.deepEqual(Buffer.from(audio.value.data), WAV);
    assert.equal(audio.value.format, expected);
  }
});

test("a file part with file_data becomes a document with its bytes, media type and filename", () => {
  const body = chat([
    {
      type: "file",
      file: { file_data: `data:application/pdf;base64,${PDF.toString("base64")}`, filename: "q3.pdf" },
    },
    { type: "text", text: "summarize" },
  ]);
  const doc = part(wire(body).messages[0]!.content, 0).part;
  assert.equal(doc.case, "document");
  assert.equal(doc.value.source.case, "data");
  assert.deepEqual(Buffer.from(doc.value.source.value as Uint8Array), PDF);
  assert.equal(doc.value.mediaType, "application/pdf");
  assert.equal(doc.value.filename, "q3.pdf");
});

test("a text document of any text/* type is a document too", () => {
  const md = Buffer.from("# Notes\n- one\n").toString("base64");
  const body = chat([
    { type: "file", file: { file_data: `data:text/markdown;base64,${md}`, filename: "n.md" } },
  ]);
  const doc = part(wire(body).messages[0]!.content, 0).part;
  assert.equal(doc.case, "document");
  assert.equal(doc.value.mediaType, "text/markdown");
});

test("a tool result may carry text and an image; a message of only an image is valid", () => {
  const url = `data:image/jpeg;base64,${PNG.toString("base64")}`;
  const req = wire({
    model: "switchyard/chat",
    messages: [
      { role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/a.jpg" } }] },
      { role: "assistant", content: null, tool_calls: [shot] },
      {
        role: "tool",
        tool_call_id: "call_1",
        content: [{ type: "text", text: "screenshot:" }, { type: "image_url", image_url: { url } } as never],
      },
    ],
  });
  assert.equal(req.messages[1]!.content.length, 0);
  const tool = req.messages[2]!;
  assert.equal(tool.toolCallId, "call_1");
  assert.deepEqual(
    tool.content.map((p) => p.part.case),
    ["text", "image"],
  );
});
const shot = { id: "call_1", type: "function" as const, function: { name: "screenshot", arguments: "{}" } };

test("an assistant turn's refusal part is sent back as its text", () => {
  const req = wire({
    model: "switchyard/chat",
    messages: [
      { role: "user", content: "x" },
      { role: "assistant", content: [{ type: "refusal", refusal: "I can't help with that." }] },
      { role: "user", content: "ok" },
    ],
  });
  assert.deepEqual(req.messages[1]!.content[0]!.part, { case: "text", value: "I can't help with that." });
});

test("bad media is a 400 naming the field as OpenAI does", () => {
  const image = (url: string, extra: object = {}) =>
    chat([
      { type: "text", text: "x" },
      { type: "image_url", image_url: { url, ...extra } },
    ]);
  const p = "messages[0].content[1].image_url";
  const cases: [unknown, string, RegExp][] = [
    [image("data:image/png;base64,not base64!"), `${p}.url`, /not valid base64/],
    [image("data:image/png;base64,"), `${p}.url`, /is empty/],
    [image("data:image/png,rawbytes"), `${p}.url`, /not a valid base64 data URL/],
    [image("data:;base64,AAAA"), `${p}.url`, /not a valid base64 data URL/],
    [
      image(`data:image/tiff;base64,${PNG.toString("base64")}`),
      `${p}.url`,
      /image\/tiff is not a supported image type/,
    ],
    [image("file:///etc/passwd"), `${p}.url`, /http\(s\) URL or a base64 data: URL/],
    [image("https://example.com/a.png", { detail: "ultra" }), `${p}.detail`, /"auto", "low" or "high"/],
    [chat([{ type: "image_url" } as never]), "messages[0].content[0].image_url", /is required/],
    [
      chat([{ type: "image_url", image_url: { url: 7 } } as never]),
      "messages[0].content[0].image_url.url",
      /expected string/,
    ],
    [
      chat([{ type: "input_audio", input_audio: { data: "UklGRg=", format: "wav" } }]),
      "messages[0].content[0].input_audio.data",
      /not valid base64/,
    ],
    [
      chat([{ type: "input_audio", input_audio: { data: "UklGRg==", format: "aac" } } as never]),
      "messages[0].content[0].input_audio.format",
      /"wav", "mp3", "flac" or "ogg"/,
    ],
    [
      chat([{ type: "file", file: { file_id: "file-123" } }]),
      "messages[0].content[0].file.file_id",
      /^messages\[0\]\.content\[0\]\.file\.file_id: file_id is not supported; send file_data/,
    ],
    [
      chat([{ type: "file", file: { file_data: PDF.toString("base64"), filename: "a.pdf" } }]),
      "messages[0].content[0].file.file_data",
      /expected a base64 data: URL/,
    ],
    [
      chat([{ type: "file", file: { file_data: "data:application/zip;base64,UEsDBA==" } }]),
      "messages[0].content[0].file.file_data",
      /application\/zip is not a supported document type/,
    ],
    [chat([{ type: "file", file: {} }]), "messages[0].content[0].file.file_data", /is required/],
    [
      chat([{ type: "video", video: {} } as never]),
      "messages[0].content[0].type",
      /unknown content part type "video"/,
    ],
    [
      {
        model: "m",
        messages: [
          { role: "system", content: [{ type: "image_url", image_url: { url: "https://x.test/a.png" } }] },
        ],
      },
      "messages[0].content[0].type",
      /"image_url" parts are not allowed in system messages \(text only\)/,
    ],
    [
      {
        model: "m",
        messages: [
          {
            role: "tool",
            tool_call_id: "c",
            content: [{ type: "input_audio", input_audio: { data: "", format: "wav" } }],
          },
        ],
      },
      "messages[0].content[0].type",
      /not allowed in tool messages \(text, image_url only\)/,
    ],
  ];
  for (const [body, param, message] of cases) {
    const got = refusal(body);
    assert.equal(got.param, param, got.message);
    assert.match(got.message, message);
    assert.ok(got.message.startsWith(`${param}: `), got.message);
  }
});

test("a caller's long part type is cut short in the error message", () => {
  const got = refusal(chat([{ type: "x".repeat(5000) } as never]));
  assert.ok(got.message.length < 200, got.message);
});

test("reasoning_effort: every value of the SDK's ReasoningEffort maps to the nearest neutral level", () => {
  const cases: [NonNullable<OpenAI.ReasoningEffort>, ReasoningEffort | undefined][] = [
    ["none", undefined],
    ["minimal", ReasoningEffort.LOW],
    ["low", ReasoningEffort.LOW],
    ["medium", ReasoningEffort.MEDIUM],
    ["high", ReasoningEffort.HIGH],
    ["xhigh", ReasoningEffort.HIGH],
    ["max", ReasoningEffort.HIGH],
  ];
  for (const [effort, expected] of cases) {
    const req = wire({ model: "m", messages: [{ role: "user", content: "x" }], reasoning_effort: effort });
    assert.equal(req.reasoning?.effort, expected, effort);
    if (req.reasoning) assert.equal(req.reasoning.includeText, false);
  }
  assert.equal(wire({ model: "m", messages: [{ role: "user", content: "x" }] }).reasoning, undefined);
  const bad = refusal({
    model: "m",
    messages: [{ role: "user", content: "x" }],
    reasoning_effort: "extreme",
  });
  assert.equal(bad.param, "reasoning_effort");
});

test("include_reasoning asks for the reasoning text; it needs an effort", () => {
  const base = { model: "m", messages: [{ role: "user" as const, content: "x" }], include_reasoning: true };
  const r = wire({ ...base, reasoning_effort: "high" }).reasoning;
  assert.equal(r?.effort, ReasoningEffort.HIGH);
  assert.equal(r?.includeText, true);
  for (const body of [base, { ...base, reasoning_effort: "none" }]) {
    const got = refusal(body);
    assert.equal(got.param, "include_reasoning");
    assert.match(got.message, /needs reasoning_effort/);
  }
  assert.equal(wire({ ...base, include_reasoning: false }).reasoning, undefined);
});

test("parameters reach the proto: parallel_tool_calls, prompt_cache_key, logprobs, stop, seed, tier, end user", () => {
  const req = wire({
    model: "m",
    messages: [{ role: "user", content: "x" }],
    tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
    parallel_tool_calls: false,
    prompt_cache_key: "tenant-42/support",
    logprobs: true,
    top_logprobs: 5,
    stop: "END",
    seed: 7,
    service_tier: "flex",
    user: "legacy-user",
    safety_identifier: "hashed-user-1",
  });
  assert.equal(req.parallelToolCalls, false);
  assert.equal(req.promptCacheKey, "tenant-42/support");
  assert.equal(req.logprobs, true);
  assert.equal(req.topLogprobs, 5);
  assert.deepEqual(req.sampling?.stop, ["END"]);
  assert.equal(req.sampling?.seed, 7n);
  assert.equal(req.serviceTier, ServiceTier.FLEX);
  assert.equal(req.endUserId, "hashed-user-1", "safety_identifier wins over user");
  assert.equal(req.n, 0, "n = 1 is the proto's default (0 means 1)");

  const plain = wire({ model: "m", messages: [{ role: "user", content: "x" }], stop: ["a", "b"], user: "u" });
  assert.equal(plain.parallelToolCalls, undefined, "unset stays unset: the provider's default");
  assert.equal(plain.logprobs, false);
  assert.equal(plain.serviceTier, ServiceTier.UNSPECIFIED);
  assert.deepEqual(plain.sampling?.stop, ["a", "b"]);
  assert.equal(plain.endUserId, "u");
  assert.equal(
    wire({ model: "m", messages: [{ role: "user", content: "x" }], parallel_tool_calls: true })
      .parallelToolCalls,
    true,
  );
  for (const [tier, expected] of [
    ["auto", ServiceTier.AUTO],
    ["default", ServiceTier.DEFAULT],
    ["priority", ServiceTier.PRIORITY],
  ] as const) {
    assert.equal(
      wire({ model: "m", messages: [{ role: "user", content: "x" }], service_tier: tier }).serviceTier,
      expected,
    );
  }
});

test("logprobs, n, service_tier out of range: a 400 with OpenAI's param", () => {
  const m = [{ role: "user", content: "x" }];
  const cases: [unknown, string, RegExp][] = [
    [{ model: "m", messages: m, logprobs: true, top_logprobs: 21 }, "top_logprobs", /at most 20/],
    [{ model: "m", messages: m, logprobs: true, top_logprobs: -1 }, "top_logprobs", /at least 0/],
    [{ model: "m", messages: m, top_logprobs: 3 }, "top_logprobs", /needs logprobs: true/],
    [{ model: "m", messages: m, logprobs: false, top_logprobs: 3 }, "top_logprobs", /needs logprobs: true/],
    [{ model: "m", messages: m, n: 2 }, "n", /only n = 1/],
    [
      { model: "m", messages: m, service_tier: "scale" },
      "service_tier",
      /"auto", "default", "flex" or "priority"/,
    ],
    [{ model: "m", messages: m, stop: ["a", "b", "c", "d", "e"] }, "stop", /at most 4/],
    [
      { model: "m", messages: m, prompt_cache_options: { mode: "explicit" } },
      "prompt_cache_options",
      /prompt_cache_breakpoint/,
    ],
  ];
  for (const [body, param, message] of cases) {
    const got = refusal(body);
    assert.equal(got.param, param, got.message);
    assert.match(got.message, message);
  }
});

test("metadata goes to the provider (and stays routing metadata), within OpenAI's bounds", () => {
  const metadata = { team: "search", ticket: "T-1" };
  const req = wire({ model: "m", messages: [{ role: "user", content: "x" }], metadata });
  assert.deepEqual({ ...req.providerMetadata }, metadata);
  assert.deepEqual({ ...req.metadata }, metadata);

  const m = [{ role: "user" as const, content: "x" }];
  const sixteen = Object.fromEntries(
    Array.from({ length: 16 }, (_, i) => [`k${i}`.padEnd(64, "_"), "v".repeat(512)]),
  );
  assert.equal(Object.keys(wire({ model: "m", messages: m, metadata: sixteen }).providerMetadata).length, 16);

  const tooMany = refusal({ model: "m", messages: m, metadata: { ...sixteen, extra: "" } });
  assert.equal(tooMany.param, "metadata");
  assert.match(tooMany.message, /at most 16 keys, got 17/);
  assert.equal(refusal({ model: "m", messages: m, metadata: { "": "v" } }).param, "metadata");
  const longKey = refusal({ model: "m", messages: m, metadata: { ["k".repeat(65)]: "v" } });
  assert.equal(longKey.param, "metadata");
  assert.match(longKey.message, /key too long: at most 64 characters, got 65/);
  const longValue = refusal({ model: "m", messages: m, metadata: { note: "v".repeat(513) } });
  assert.equal(longValue.param, "metadata.note");
  assert.match(longValue.message, /string too long: at most 512 characters, got 513/);
  assert.ok(!longValue.message.includes("vvvv"), "the value is not echoed");
});

test("prompt-cache breakpoints on parts: OpenAI's prompt_cache_breakpoint and cache_control with a TTL", () => {
  const req = wire(
    chat([
      { type: "text", text: "long shared prefix", prompt_cache_breakpoint: { mode: "explicit" } },
      { type: "text", text: "tail", cache_control: { type: "ephemeral", ttl: "1h" } } as never,
      { type: "text", text: "no mark" },
    ]),
  );
  const parts = req.messages[0]!.content;
  assert.equal(parts[0]!.cacheControl?.ttl, CacheTtl.UNSPECIFIED);
  assert.equal(parts[1]!.cacheControl?.ttl, CacheTtl.ONE_HOUR);
  assert.equal(parts[2]!.cacheControl, undefined);
  const bad = refusal(
    chat([{ type: "text", text: "x", cache_control: { type: "ephemeral", ttl: "2h" } } as never]),
  );
  assert.equal(bad.param, "messages[0].content[0].cache_control.ttl");
  const mode = refusal(
    chat([{ type: "text", text: "x", prompt_cache_breakpoint: { mode: "auto" } } as never]),
  );
  assert.equal(mode.param, "messages[0].content[0].prompt_cache_breakpoint.mode");
});

test("a message needs content or tool calls; empty text parts are no content", () => {
  const got = refusal({ model: "m", messages: [{ role: "user", content: [{ type: "text", text: "" }] }] });
  assert.equal(got.param, "messages[0].content");
  assert.match(got.message, /message has no content/);
});

test("a large image decodes (a repeated-group pattern would overflow the stack), and data: URL parameters are allowed", () => {
  const big = Buffer.alloc(12 * 1024 * 1024, 0xab);
  const url = `data:image/webp;name=photo.webp;base64,${big.toString("base64")}`;
  const image = part(wire(chat([{ type: "image_url", image_url: { url } }])).messages[0]!.content, 0).part;
  assert.equal(image.case, "image");
  assert.equal(image.value.mediaType, "image/webp");
  assert.equal((image.value.source.value as Uint8Array).length, big.length);
  assert.ok(Buffer.from(image.value.source.value as Uint8Array).equals(big));
  const bad = refusal(
    chat([{ type: "image_url", image_url: { url: `${url.slice(0, -8)}!${url.slice(-7)}` } }]),
  );
  assert.match(bad.message, /not valid base64/);
});
