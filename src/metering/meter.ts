import type { AdapterEvent, ChatMessage, TokenUsage } from "../adapters/adapter.ts";
import { estimateTokensFor } from "./token-estimate.ts";

export type MeteredUsage = TokenUsage & {
  accuracy: "exact" | "estimated";
  /** Integer micro-USD; undefined when no price is configured for the model that served. */
  costMicroUsd?: number;
};

/**
 * Estimate used when a provider reports no usage (e.g. a stream cut before
 * its usage chunk): ~4 characters per token, the common rule of thumb for
 * English text with BPE tokenizers. Marked "estimated" wherever it is shown.
 */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / 4);
}

export function estimatePromptTokens(messages: readonly ChatMessage[]): number {
  return messages.reduce((n, m) => n + estimateTokens(m.content) + 4, 0); // + per-message framing
}

/**
 * Observes one request's events and settles its usage: the provider's own
 * figures when it sent them, else an estimate of what was delivered.
 */
export class Meter {
  #reported: TokenUsage | undefined;
  readonly #delivered: string[] = [];
  readonly #promptTokens: number;
  firstTokenAt: number | undefined;

  constructor(promptTokens: number) {
    this.#promptTokens = promptTokens;
  }

  observe(event: AdapterEvent, now = Date.now()): void {
    if (event.type === "usage") this.#reported = event.usage;
    else if (event.type === "text") this.#deliver(event.text, now);
    else if (event.type === "tool_call") this.#deliver(`${event.name ?? ""}${event.argumentsDelta}`, now);
  }

  /** For unary calls: the provider's usage if any, and the output it produced. */
  observeOutput(usage: TokenUsage | undefined, output: string): void {
    if (usage) this.#reported = usage;
    this.#delivered.push(output);
  }

  /** The provider's usage, or an estimate of what was delivered (with the model's tokenizer when known). */
  usage(model?: string): MeteredUsage {
    if (this.#reported) return { ...this.#reported, accuracy: "exact" };
    return {
      inputTokens: this.#promptTokens,
      outputTokens: estimateTokensFor(this.#delivered.join(""), model),
      cachedInputTokens: 0,
      accuracy: "estimated",
    };
  }

  #deliver(text: string, now: number): void {
    this.firstTokenAt ??= now;
    this.#delivered.push(text);
  }
}
