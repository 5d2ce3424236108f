// Wire shapes for the Anthropic fake: Message objects, the named-event SSE stream, ids and headers.
import type { MessageScript } from "./anthropic-fake.ts";
import { mintRedactedData, mintSignature } from "./anthropic-thinking.ts";
import { isObject } from "./openai-http.ts";
import { promptWords, randomAlnum, splitArguments, splitWords } from "./openai-wire.ts";
import type { SseEvent } from "./sse.ts";

export const DEFAULT_TEXT = "Hello from fake";
export const DEFAULT_MODEL = "claude-sonnet-5-5";

type Json = Record<string, unknown>;

export const messageId = (): string => `msg_01${randomAlnum(22)}`;
export const toolUseId = (): string => `toolu_01${randomAlnum(22)}`;
export const requestId = (): string => `req_011C${randomAlnum(20)}`;

/** Headers api.anthropic.com sends on every successful response (values are plausible, not live). */
export function successHeaders(contentType: string): Record<string, string> {
  const reset = new Date(Date.now() + 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  return {
    "content-type": contentType,
    "request-id": requestId(),
    "anthropic-organization-id": "4d1c7a2e-0b9f-4e6a-8c3d-5f2a1b0e9c7d",
    "anthropic-ratelimit-requests-limit": "4000",
    "anthropic-ratelimit-requests-remaining": "3999",
    "anthropic-ratelimit-requests-reset": reset,
    "anthropic-ratelimit-input-tokens-limit": "2000000",
    "anthropic-ratelimit-input-tokens-remaining": "2000000",
    "anthropic-ratelimit-input-tokens-reset": reset,
    "anthropic-ratelimit-output-tokens-limit": "400000",
    "anthropic-ratelimit-output-tokens-remaining": "400000",
    "anthropic-ratelimit-output-tokens-reset": reset,
    ...(contentType.startsWith("text/event-stream") ? { "cache-control": "no-cache" } : {}),
  };
}

export type Usage = {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  /** Set when the message thinks: reported as output_tokens_details.thinking_tokens. */
  thinking_tokens: number | undefined;
  service_tier: string;
};

export type PlannedThinking =
  | { type: "thinking"; text: string; signature: string; chunks: string[] }
  | { type: "redacted_thinking"; data: string };

export type MessagePlan = {
  model: string;
  thinking: PlannedThinking[];
  /** null: no text block at all (a tool-only answer). */
  text: string | null;
  chunks: string[];
  toolUses: { id: string; name: string; input: Json; pieces: string[] }[];
  stopReason: string;
  stopSequence: string | null;
  usage: Usage;
};

export function planMessage(script: MessageScript, body: Json): MessagePlan {
  const toolUses = (script.toolUses ?? []).map((t) => ({
    id: t.id ?? toolUseId(),
    name: t.name,
    input: t.input,
    pieces: splitArguments(JSON.stringify(t.input)),
  }));
  const chunks = script.chunks ?? (script.text === undefined && toolUses.length > 0 ? [] : null);
  const text = chunks ? chunks.join("") : (script.text ?? DEFAULT_TEXT);
  const deltas = chunks ?? splitWords(text);
  // display "omitted": the block comes back with empty text, its signature covering what is sent back.
  const omitted = isObject(body.thinking) && body.thinking.display === "omitted";
  const thinking: PlannedThinking[] = (script.thinking ?? []).map((t) => {
    if (!("text" in t)) return { type: "redacted_thinking", data: mintRedactedData() };
    const text = omitted ? "" : t.text;
    return { type: "thinking", text, signature: mintSignature(text), chunks: splitWords(text) };
  });
  // The model thought either way: thinking tokens count the scripted text's pieces.
  const thinkingDeltas = (script.thinking ?? []).reduce(
    (n, t) => n + ("text" in t ? splitWords(t.text).length : 0),
    0,
  );
  const outputDefault = thinkingDeltas + deltas.length + toolUses.reduce((n, t) => n + t.pieces.length, 0);
  const system = body.system === undefined ? [] : [{ content: body.system }];
  const u = script.usage ?? {};
  const split = u.cache_creation;
  const cacheWrite =
    u.cache_creation_input_tokens ??
    (split ? split.ephemeral_5m_input_tokens + split.ephemeral_1h_input_tokens : 0);
  return {
    model: script.model ?? (typeof body.model === "string" ? body.model : DEFAULT_MODEL),
    thinking,
    text: text === "" && toolUses.length > 0 ? null : text,
    chunks: deltas,
    toolUses,
    stopReason: script.stopReason ?? (toolUses.length > 0 ? "tool_use" : "end_turn"),
    stopSequence: script.stopSequence ?? null,
    usage: {
      input_tokens: script.usage?.input_tokens ?? promptWords([...system, ...asArray(body.messages)]),
      output_tokens: script.usage?.output_tokens ?? outputDefault,
      cache_creation_input_tokens: cacheWrite,
      cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
      cache_creation: split ?? { ephemeral_5m_input_tokens: cacheWrite, ephemeral_1h_input_tokens: 0 },
      thinking_tokens: u.thinking_tokens ?? (thinking.length > 0 ? thinkingDeltas : undefined),
      service_tier: u.service_tier ?? "standard",
    },
  };
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Present only when the message thought (the recorded streams, without thinking, have none). */
function outputDetails(usage: Usage): Json {
  return usage.thinking_tokens === undefined
    ? {}
    : { output_tokens_details: { thinking_tokens: usage.thinking_tokens } };
}

function usageObject(usage: Usage, outputTokens: number): Json {
  return {
    input_tokens: usage.input_tokens,
    cache_creation_input_tokens: usage.cache_creation_input_tokens,
    cache_read_input_tokens: usage.cache_read_input_tokens,
    cache_creation: usage.cache_creation,
    output_tokens: outputTokens,
    ...outputDetails(usage),
    service_tier: usage.service_tier,
  };
}

function thinkingBlock(t: PlannedThinking): Json {
  return t.type === "thinking"
    ? { type: "thinking", thinking: t.text, signature: t.signature }
    : { type: "redacted_thinking", data: t.data };
}

/** The non-streaming `message` object. */
export function messageResponse(plan: MessagePlan, id: string): Json {
  const content: Json[] = plan.thinking.map(thinkingBlock);
  if (plan.text !== null) content.push({ type: "text", text: plan.text });
  for (const t of plan.toolUses) content.push({ type: "tool_use", id: t.id, name: t.name, input: t.input });
  return {
    model: plan.model,
    id,
    type: "message",
    role: "assistant",
    content,
    stop_reason: plan.stopReason,
    stop_sequence: plan.stopSequence,
    usage: usageObject(plan.usage, plan.usage.output_tokens),
  };
}

export type StreamOptions = {
  /** Interleave a ping after every N events (default: one ping after the first content_block_start). */
  pingEvery?: number | undefined;
  /** Replace the rest of the stream with an `event: error` after N events. */
  error?: { afterEvents: number; type?: string; message?: string } | undefined;
};

function sse(name: string, data: Json, tokens = 0): SseEvent {
  return { text: `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`, tokens };
}
// The API writes this one with a space after the colon, unlike every other event.
const PING: SseEvent = { text: 'event: ping\ndata: {"type": "ping"}\n\n', tokens: 0 };

/** The named events of a streamed message, `message_stop` last. */
export function messageStreamEvents(plan: MessagePlan, id: string, opts: StreamOptions = {}): SseEvent[] {
  const start: Json = {
    ...messageResponse(plan, id),
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: usageObject(plan.usage, 1), // the API counts one output token at message_start
  };
  const blocks: SseEvent[][] = [];
  const delta = (index: number, value: Json, tokens: number) =>
    sse("content_block_delta", { type: "content_block_delta", index, delta: value }, tokens);
  for (const t of plan.thinking) {
    const index = blocks.length;
    if (t.type === "redacted_thinking") {
      // Nothing to stream: the opaque data arrives whole with the block's start.
      blocks.push([
        sse("content_block_start", { type: "content_block_start", index, content_block: thinkingBlock(t) }),
      ]);
      continue;
    }
    blocks.push([
      sse("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "thinking", thinking: "", signature: "" },
      }),
      ...t.chunks.map((thinking) => delta(index, { type: "thinking_delta", thinking }, 1)),
      // The signature comes last, in one piece, just before the block stops.
      delta(index, { type: "signature_delta", signature: t.signature }, 0),
    ]);
  }
  if (plan.text !== null) {
    const index = blocks.length;
    blocks.push([
      sse("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "text", text: "" },
      }),
      ...plan.chunks.map((text) => delta(index, { type: "text_delta", text }, 1)),
    ]);
  }
  for (const t of plan.toolUses) {
    const index = blocks.length;
    const jsonDelta = (partial_json: string, tokens: number) =>
      delta(index, { type: "input_json_delta", partial_json }, tokens);
    const block = { type: "tool_use", id: t.id, name: t.name, input: {} };
    blocks.push([
      sse("content_block_start", { type: "content_block_start", index, content_block: block }),
      jsonDelta("", 0), // the API opens every tool input with an empty piece
      ...t.pieces.map((piece) => jsonDelta(piece, 1)),
    ]);
  }
  const events: SseEvent[] = [sse("message_start", { type: "message_start", message: start })];
  blocks.forEach((block, index) => {
    events.push(...block, sse("content_block_stop", { type: "content_block_stop", index }));
  });
  const { cache_creation_input_tokens, cache_read_input_tokens, input_tokens, output_tokens } = plan.usage;
  events.push(
    sse("message_delta", {
      type: "message_delta",
      delta: { stop_reason: plan.stopReason, stop_sequence: plan.stopSequence },
      // Cumulative totals, restated: output_tokens is the whole message's count, not an increment.
      usage: {
        input_tokens,
        cache_creation_input_tokens,
        cache_read_input_tokens,
        output_tokens,
        ...outputDetails(plan.usage),
      },
    }),
    sse("message_stop", { type: "message_stop" }),
  );
  return withError(withPings(events, opts.pingEvery), opts.error);
}

function withPings(events: SseEvent[], every: number | undefined): SseEvent[] {
  if (every === undefined) {
    const firstBlock = events.findIndex((e) => e.text.startsWith("event: content_block_start"));
    return firstBlock === -1
      ? events
      : [...events.slice(0, firstBlock + 1), PING, ...events.slice(firstBlock + 1)];
  }
  const out: SseEvent[] = [];
  events.forEach((event, i) => {
    out.push(event);
    if (every > 0 && (i + 1) % every === 0 && i < events.length - 1) out.push(PING);
  });
  return out;
}

function withError(events: SseEvent[], error: StreamOptions["error"]): SseEvent[] {
  if (error === undefined) return events;
  const type = error.type ?? "overloaded_error";
  const message = error.message ?? (type === "overloaded_error" ? "Overloaded" : "Internal server error");
  // The documented layout of a mid-stream error (spaces after the colons), after which the API ends the stream.
  const data = `{"type": "error", "error": {"type": ${JSON.stringify(type)}, "message": ${JSON.stringify(message)}}}`;
  return [...events.slice(0, error.afterEvents), { text: `event: error\ndata: ${data}\n\n`, tokens: 0 }];
}
