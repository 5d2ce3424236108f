import type {
  AdapterEvent,
  FinishReason,
  GenerateOutput,
  ReasoningBlock,
  TokenLogprob,
  ToolCall,
} from "../adapters/adapter.ts";
import { validEvent } from "./entry-shape.ts";

/**
 * One cached answer: a stream's events in order, usage and finish included, so a hit replays to a
 * streaming caller exactly and a unary caller gets `outputFromEvents(events)`.
 */
export type CachedResponse = { events: AdapterEvent[]; storedAt: number };

/** Bumped when the encoding changes: an entry of another version decodes as a miss. */
const ENCODING_VERSION = 1;

/** The events a stream of `output` would have had: text, tool calls, reasoning, usage, finish. */
export function entryFromOutput(output: GenerateOutput): AdapterEvent[] {
  const events: AdapterEvent[] = [];
  output.reasoning?.forEach((block, index) => {
    events.push({ ...block, type: "reasoning", index });
  });
  if (output.text !== "" || output.logprobs)
    events.push(
      output.logprobs
        ? { type: "text", text: output.text, logprobs: output.logprobs }
        : { type: "text", text: output.text },
    );
  output.toolCalls.forEach((call, index) => {
    events.push({ type: "tool_call", index, id: call.id, name: call.name, argumentsDelta: call.arguments });
  });
  if (output.usage) events.push({ type: "usage", usage: output.usage });
  events.push({
    type: "finish",
    reason: output.finishReason,
    model: output.model,
    ...(output.serviceTier ? { serviceTier: output.serviceTier } : {}),
  });
  return events;
}

/**
 * Assembles events into one output: text and logprobs concatenated, tool calls and reasoning
 * blocks by index (in index order; text and arguments concatenated, id and name as well, since
 * a provider may split them), the last usage and the last finish. `model` falls back to
 * `fallbackModel` when no finish event named one.
 */
export function outputFromEvents(events: readonly AdapterEvent[], fallbackModel = ""): GenerateOutput {
  let text = "";
  let logprobs: TokenLogprob[] | undefined;
  const calls = new Map<number, ToolCall>();
  const blocks = new Map<number, ReasoningBlock>();
  let usage: GenerateOutput["usage"];
  let finish:
    | { reason: FinishReason; model?: string; serviceTier?: GenerateOutput["serviceTier"] }
    | undefined;
  for (const e of events) {
    if (e.type === "text") {
      text += e.text;
      if (e.logprobs) logprobs = [...(logprobs ?? []), ...e.logprobs];
    } else if (e.type === "tool_call") {
      const call = calls.get(e.index) ?? { id: "", name: "", arguments: "" };
      call.id += e.id ?? "";
      call.name += e.name ?? "";
      call.arguments += e.argumentsDelta;
      calls.set(e.index, call);
    } else if (e.type === "reasoning") {
      const block = blocks.get(e.index) ?? { text: "", provider: e.provider };
      block.text += e.text ?? "";
      if (e.signature !== undefined) block.signature = e.signature;
      if (e.encryptedContent !== undefined) block.encryptedContent = e.encryptedContent;
      if (e.id !== undefined) block.id = e.id;
      if (e.redacted !== undefined) block.redacted = e.redacted;
      blocks.set(e.index, block);
    } else if (e.type === "usage") usage = e.usage;
    else finish = e;
  }
  const byIndex = <T>(m: Map<number, T>): T[] =>
    [...m.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  const output: GenerateOutput = {
    text,
    toolCalls: byIndex(calls),
    finishReason: finish?.reason ?? "other",
    model: finish?.model ?? fallbackModel,
  };
  if (usage) output.usage = usage;
  if (blocks.size > 0) output.reasoning = byIndex(blocks);
  if (logprobs) output.logprobs = logprobs;
  if (finish?.serviceTier) output.serviceTier = finish.serviceTier;
  return output;
}

/**
 * JSON, versioned. The neutral event types hold no byte arrays today (TokenLogprob.bytes is a
 * number[]), so nothing needs base64; decodeEntry rejects anything that is not a known event shape.
 */
export function encodeEntry(entry: CachedResponse): Buffer {
  return Buffer.from(JSON.stringify({ v: ENCODING_VERSION, storedAt: entry.storedAt, events: entry.events }));
}

/** The entry, or undefined for anything malformed or of another version. Never throws. */
export function decodeEntry(buf: Uint8Array | string): CachedResponse | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      typeof buf === "string"
        ? buf
        : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString("utf8"),
    );
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const { v, storedAt, events } = parsed as Record<string, unknown>;
  if (v !== ENCODING_VERSION || typeof storedAt !== "number" || !Number.isFinite(storedAt)) return undefined;
  if (!Array.isArray(events)) return undefined;
  const out: AdapterEvent[] = [];
  for (const e of events) {
    const event = validEvent(e);
    if (!event) return undefined;
    out.push(event);
  }
  return { events: out, storedAt };
}

/** What an entry costs to hold: the length of its encoding, the same figure Redis stores. */
export function entryBytes(entry: CachedResponse): number {
  return encodeEntry(entry).byteLength;
}
