import type { FinishReason, ReasoningBlock, ReasoningDelta, ServiceTier } from "../../adapters/adapter.ts";
import type { MeteredUsage } from "../../metering/meter.ts";
import { stopReasonOf, toolUseId, usageOf } from "./messages-response.ts";
import { signatureOf } from "./reasoning-signature.ts";

export type AnthropicEvent = { type: string } & Record<string, unknown>;

type OpenBlock = { kind: "thinking" | "text" | "tool_use"; key: number; reasoning?: ReasoningBlock };

/**
 * Neutral stream events → Anthropic's event sequence: message_start and a ping before the first
 * block, then per block content_block_start, its deltas (text_delta, thinking_delta and a
 * signature_delta before it stops, input_json_delta) and content_block_stop, in order; at the end
 * message_delta with the stop reason and the whole message's usage, then message_stop.
 */
export class StreamEventBuilder {
  readonly #id: string;
  readonly #inputEstimate: number;
  #started = false;
  #next = 0;
  #open: OpenBlock | undefined;
  #reason: FinishReason = "stop";
  #tier: ServiceTier | undefined;

  /** `inputEstimate`: the input tokens message_start reports (exact ones follow in message_delta). */
  constructor(id: string, inputEstimate: number) {
    this.#id = id;
    this.#inputEstimate = inputEstimate;
  }

  text(text: string, model: string): AnthropicEvent[] {
    const out = this.#switchTo("text", 0, model, () => ({ type: "text", text: "" }));
    if (text !== "") out.push(this.#delta({ type: "text_delta", text }));
    return out;
  }

  reasoning(delta: ReasoningDelta, model: string): AnthropicEvent[] {
    const out: AnthropicEvent[] = [];
    if (this.#open?.kind !== "thinking" || this.#open.key !== delta.index) {
      out.push(...this.#begin(model), ...this.#close());
      const reasoning: ReasoningBlock = { text: "", provider: delta.provider };
      this.#open = { kind: "thinking", key: delta.index, reasoning };
      if (delta.redacted) {
        // A redacted block is opaque and arrives whole: it starts (and stops) with its data.
        Object.assign(reasoning, pieceOf(delta), { redacted: true });
        out.push(this.#blockStart({ type: "redacted_thinking", data: signatureOf(reasoning) }));
        out.push(...this.#close());
        return out;
      }
      out.push(this.#blockStart({ type: "thinking", thinking: "", signature: "" }));
    }
    const block = this.#open!.reasoning!;
    if (delta.text) {
      block.text += delta.text;
      out.push(this.#delta({ type: "thinking_delta", thinking: delta.text }));
    }
    Object.assign(block, pieceOf(delta));
    return out;
  }

  toolCall(
    delta: { index: number; id?: string; name?: string; argumentsDelta: string },
    model: string,
  ): AnthropicEvent[] {
    const out = this.#switchTo("tool_use", delta.index, model, () => ({
      type: "tool_use",
      id: toolUseId(delta.id),
      name: delta.name ?? "",
      input: {},
    }));
    if (delta.argumentsDelta !== "")
      out.push(this.#delta({ type: "input_json_delta", partial_json: delta.argumentsDelta }));
    return out;
  }

  finish(reason: FinishReason, tier: ServiceTier | undefined): void {
    this.#reason = reason;
    if (tier) this.#tier = tier;
  }

  /** The end of a complete stream: the open block stops, then message_delta and message_stop. */
  end(usage: MeteredUsage, model: string): AnthropicEvent[] {
    return [
      ...this.#begin(model),
      ...this.#close(),
      {
        type: "message_delta",
        delta: { stop_reason: stopReasonOf(this.#reason), stop_sequence: null },
        usage: usageOf(usage, this.#tier),
      },
      { type: "message_stop" },
    ];
  }

  #switchTo(
    kind: "text" | "tool_use",
    key: number,
    model: string,
    start: () => Record<string, unknown>,
  ): AnthropicEvent[] {
    const out = this.#begin(model);
    if (this.#open?.kind === kind && this.#open.key === key) return out;
    out.push(...this.#close());
    this.#open = { kind, key };
    out.push(this.#blockStart(start()));
    return out;
  }

  #begin(model: string): AnthropicEvent[] {
    if (this.#started) return [];
    this.#started = true;
    const usage = usageOf({
      inputTokens: this.#inputEstimate,
      outputTokens: 0,
      cachedInputTokens: 0,
      accuracy: "estimated",
    });
    return [
      {
        type: "message_start",
        message: {
          id: this.#id,
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage,
        },
      },
      { type: "ping" },
    ];
  }

  #close(): AnthropicEvent[] {
    const open = this.#open;
    if (!open) return [];
    this.#open = undefined;
    const index = this.#next++;
    const out: AnthropicEvent[] = [];
    if (open.kind === "thinking" && !open.reasoning!.redacted)
      out.push({
        type: "content_block_delta",
        index,
        delta: { type: "signature_delta", signature: signatureOf(open.reasoning!) },
      });
    out.push({ type: "content_block_stop", index });
    return out;
  }

  #blockStart(block: Record<string, unknown>): AnthropicEvent {
    return { type: "content_block_start", index: this.#next, content_block: block };
  }

  #delta(delta: Record<string, unknown>): AnthropicEvent {
    return { type: "content_block_delta", index: this.#next, delta };
  }
}

/** The fields of a reasoning delta that complete its block (set only when present). */
function pieceOf(d: ReasoningDelta): Partial<ReasoningBlock> {
  return {
    ...(d.signature ? { signature: d.signature } : {}),
    ...(d.encryptedContent ? { encryptedContent: d.encryptedContent } : {}),
    ...(d.id ? { id: d.id } : {}),
  };
}
