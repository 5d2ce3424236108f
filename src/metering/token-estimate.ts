import { countTokens } from "gpt-tokenizer";

/**
 * Token counts where the provider reported none: OpenAI's own tokenizer
 * (o200k_base, via gpt-tokenizer) for OpenAI models, and otherwise the
 * documented heuristic of ~4 characters per token (docs/metering.md).
 * Always marked "estimated" wherever shown.
 */
export function estimateTokensFor(text: string, model: string | undefined): number {
  if (text.length === 0) return 0;
  if (model !== undefined && /^(gpt-|o\d|text-embedding-|chatgpt)/.test(model)) return countTokens(text);
  return Math.ceil(text.length / 4);
}
