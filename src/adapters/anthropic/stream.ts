import { UpstreamError } from "../../errors/upstream-error.ts";
import type { SseEvent } from "../../upstream/sse.ts";
import type { AdapterEvent } from "../adapter.ts";
import { errorFromStreamEvent } from "./errors.ts";
import { reasoningBlockOf } from "./reasoning.ts";
import { type FormatTool, finishReasonOf, type WireContentBlock, type WireMessage } from "./translate.ts";
import { serviceTierOf, usageOf, type WireUsage } from "./usage.ts";

type StreamData = {
  type?: string;
  index?: number;
  message?: WireMessage;
  content_block?: WireContentBlock;
  delta?: {
    type?: string;
    text?: string;
    partial_json?: string;
    thinking?: string;
    signature?: string;
    stop_reason?: string | null;
  };
  usage?: WireUsage;
};

/**
 * Turns the named SSE events of one Messages stream into adapter events. Tool calls are numbered by their
 * ordinal among tool_use blocks (not the content block index, which also counts text and thinking blocks),
 * reasoning blocks by their ordinal among thinking and redacted_thinking blocks. Usage totals are cumulative
 * in Anthropic's events, so they are kept and reported once, after finish.
 */
export class MessageStreamTranslator {
  readonly #backend: string;
  readonly #formatTool: FormatTool | undefined;
  /** Content block index → tool-call ordinal. */
  readonly #toolOrdinals = new Map<number, number>();
  /** Content block index → reasoning-block ordinal. */
  readonly #reasoningOrdinals = new Map<number, number>();
  /** Content blocks of the forced JSON-format tool, whose input is the text answer. */
  readonly #formatBlocks = new Set<number>();
  #usage: WireUsage = {};
  #model: string | undefined;
  #stopReason: string | null | undefined;
  #producedOutput = false;
  #done = false;

  constructor(backend: string, formatTool: FormatTool | undefined) {
    this.#backend = backend;
    this.#formatTool = formatTool;
  }

  /** True once `message_stop` arrived: the stream is complete. */
  get done(): boolean {
    return this.#done;
  }

  /** True once a text, reasoning or tool-call event was produced (a later failure cannot fail over cleanly). */
  get producedOutput(): boolean {
    return this.#producedOutput;
  }

  *push(event: SseEvent): Generator<AdapterEvent> {
    if (event.event === "ping") return;
    if (event.event === "error") {
      throw errorFromStreamEvent(this.#backend, event.data, this.#producedOutput);
    }
    let data: StreamData = {}; // a named event with empty data (`event: message_stop` + `data:`) says it all by name
    try {
      if (event.data !== "") data = JSON.parse(event.data) as StreamData;
    } catch {
      throw new UpstreamError("protocol", `${this.#backend} sent an SSE event that is not JSON`, {
        afterFirstToken: this.#producedOutput,
      });
    }
    for (const out of this.#translate(event.event ?? data.type, data)) {
      if (out.type !== "finish" && out.type !== "usage") this.#producedOutput = true;
      yield out;
    }
  }

  *#translate(name: string | undefined, data: StreamData): Generator<AdapterEvent> {
    switch (name) {
      case "message_start":
        this.#model = data.message?.model;
        this.#mergeUsage(data.message?.usage);
        return;
      case "content_block_start":
        yield* this.#blockStart(data.index ?? 0, data.content_block ?? {});
        return;
      case "content_block_delta":
        yield* this.#blockDelta(data.index ?? 0, data.delta ?? {});
        return;
      case "message_delta":
        this.#stopReason = data.delta?.stop_reason;
        this.#mergeUsage(data.usage);
        return;
      case "message_stop": {
        this.#done = true;
        const tier = serviceTierOf(this.#usage);
        yield {
          type: "finish",
          reason: this.#finishReason(),
          ...(this.#model ? { model: this.#model } : {}),
          ...(tier ? { serviceTier: tier } : {}),
        };
        const usage = usageOf(this.#usage);
        if (usage) yield { type: "usage", usage };
        return;
      }
      default:
        return; // content_block_stop, or an event type added later (allowed within a version)
    }
  }

  *#blockStart(index: number, block: WireContentBlock): Generator<AdapterEvent> {
    if (block.type === "text" && block.text) yield { type: "text", text: block.text };
    const thought = reasoningBlockOf(block);
    if (thought) {
      const ordinal = this.#reasoningOrdinals.size;
      this.#reasoningOrdinals.set(index, ordinal);
      // A redacted block arrives whole at its start; a thinking block opens empty and fills by deltas.
      if (thought.redacted) {
        const encryptedContent = thought.encryptedContent ?? "";
        yield { type: "reasoning", index: ordinal, provider: "anthropic", encryptedContent, redacted: true };
      } else if (thought.text || thought.signature) {
        yield {
          type: "reasoning",
          index: ordinal,
          provider: "anthropic",
          ...(thought.text ? { text: thought.text } : {}),
          ...(thought.signature ? { signature: thought.signature } : {}),
        };
      }
      return;
    }
    if (block.type !== "tool_use") return;
    if (this.#formatTool && block.name === this.#formatTool.name) {
      this.#formatBlocks.add(index);
      return;
    }
    const ordinal = this.#toolOrdinals.size;
    this.#toolOrdinals.set(index, ordinal);
    yield {
      type: "tool_call",
      index: ordinal,
      id: block.id ?? "",
      name: block.name ?? "",
      argumentsDelta: "",
    };
  }

  *#blockDelta(index: number, delta: NonNullable<StreamData["delta"]>): Generator<AdapterEvent> {
    if (delta.type === "text_delta" && delta.text) {
      yield { type: "text", text: delta.text };
      return;
    }
    const reasoning = this.#reasoningOrdinals.get(index);
    if (reasoning !== undefined) {
      if (delta.type === "thinking_delta" && delta.thinking) {
        yield { type: "reasoning", index: reasoning, provider: "anthropic", text: delta.thinking };
      } else if (delta.type === "signature_delta" && delta.signature) {
        yield { type: "reasoning", index: reasoning, provider: "anthropic", signature: delta.signature };
      }
      return;
    }
    if (delta.type !== "input_json_delta" || !delta.partial_json) return; // the first piece is "" by design
    if (this.#formatBlocks.has(index)) {
      yield { type: "text", text: delta.partial_json };
      return;
    }
    const ordinal = this.#toolOrdinals.get(index);
    if (ordinal !== undefined)
      yield { type: "tool_call", index: ordinal, argumentsDelta: delta.partial_json };
  }

  /**
   * Later events restate cumulative totals: a present figure replaces the earlier one, never adds (and a
   * null, as message_delta sends for what it does not restate, keeps it).
   */
  #mergeUsage(usage: WireUsage | undefined): void {
    if (!usage) return;
    const merged: Record<string, unknown> = this.#usage;
    for (const [key, value] of Object.entries(usage)) {
      if (value !== null && value !== undefined) merged[key] = value;
    }
  }

  #finishReason() {
    const reason = finishReasonOf(this.#stopReason);
    // Stopped on the forced format tool alone: that is the answer, not a call for the caller to run.
    const answered = this.#formatBlocks.size > 0 && this.#toolOrdinals.size === 0;
    return answered && reason === "tool_calls" ? "stop" : reason;
  }
}
