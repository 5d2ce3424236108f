import type { AdapterEvent, ChatMessage, ContentPart, ServiceTier, TokenUsage } from "../adapters/adapter.ts";
import { estimateTokensFor } from "./token-estimate.ts";

export type MeteredUsage = TokenUsage & {
  accuracy: "exact" | "estimated";
  /** Integer micro-USD; undefined when no price is configured for the model that served. */
  costMicroUsd?: number;
  /** The service tier the provider reported serving (it prices the usage); unset when it said none. */
  serviceTier?: ServiceTier;
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
  let tokens = 0;
  for (const m of messages) {
    tokens += estimateTokens(m.content) + 4; // + per-message framing
    if (m.parts) for (const part of m.parts) tokens += estimateMediaTokens(part);
  }
  return tokens;
}

/**
 * Input tokens a media part may cost, erring high: admission reserves limits and budgets from it, and
 * settlement trues them up to the provider's count. An image is priced at the largest tiling the
 * providers bill (Anthropic ~1,600 tokens at 1.15 MP; OpenAI high detail ~1,100); audio at 32 tokens a
 * second (Gemini's rate, above OpenAI's) of 16 kB/s compressed audio; a PDF at a page of text plus
 * its page image per 50 kB; a text document like text. A URL's size is unknown: one image or page.
 */
function estimateMediaTokens(part: ContentPart): number {
  switch (part.type) {
    case "image":
      return IMAGE_TOKENS;
    case "audio":
      return Math.ceil((part.data.length / 16_000) * 32);
    case "document":
      if ("text" in part.source) return estimateTokens(part.source.text);
      if ("url" in part.source) return PDF_PAGE_TOKENS;
      return Math.ceil(part.source.data.length / 50_000) * PDF_PAGE_TOKENS;
    default:
      return 0; // text is in `content`; providers mostly strip reasoning sent back from the input
  }
}

const IMAGE_TOKENS = 1_600;
const PDF_PAGE_TOKENS = 3_000;

/**
 * Observes one request's events and settles its usage: the provider's own
 * figures when it sent them, else an estimate of what was delivered.
 */
export class Meter {
  #reported: TokenUsage | undefined;
  #serviceTier: ServiceTier | undefined;
  readonly #delivered: string[] = [];
  readonly #promptTokens: number;
  firstTokenAt: number | undefined;

  constructor(promptTokens: number) {
    this.#promptTokens = promptTokens;
  }

  observe(event: AdapterEvent, now = Date.now()): void {
    if (event.type === "usage") this.#reported = event.usage;
    else if (event.type === "finish") this.#serviceTier = event.serviceTier ?? this.#serviceTier;
    else if (event.type === "text") this.#deliver(event.text, now);
    else if (event.type === "tool_call") this.#deliver(`${event.name ?? ""}${event.argumentsDelta}`, now);
    // Reasoning is output the provider bills: a stream cut before its usage estimates it too.
    else if (event.type === "reasoning" && event.text) this.#deliver(event.text, now);
  }

  /** For unary calls: the provider's usage if any, the output it produced, the tier that served. */
  observeOutput(usage: TokenUsage | undefined, output: string, serviceTier?: ServiceTier): void {
    if (usage) this.#reported = usage;
    if (serviceTier) this.#serviceTier = serviceTier;
    this.#delivered.push(output);
  }

  /** The provider's usage, or an estimate of what was delivered (with the model's tokenizer when known). */
  usage(model?: string): MeteredUsage {
    const tier = this.#serviceTier ? { serviceTier: this.#serviceTier } : {};
    if (this.#reported) return { ...this.#reported, accuracy: "exact", ...tier };
    return {
      inputTokens: this.#promptTokens,
      outputTokens: estimateTokensFor(this.#delivered.join(""), model),
      cachedInputTokens: 0,
      accuracy: "estimated",
      ...tier,
    };
  }

  #deliver(text: string, now: number): void {
    this.firstTokenAt ??= now;
    this.#delivered.push(text);
  }
}
