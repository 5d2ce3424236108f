import type { Price } from "../config/schema.ts";

/**
 * Public list prices in USD per million tokens for common hosted models, as
 * published by the providers (checked 2026-11). Used for cost tracking and the
 * least-cost strategy unless `metering.defaultPrices: false`; any `prices`
 * entry in the config overrides these. Verify against your contract before
 * billing anyone: providers change prices and negotiated rates differ.
 */
export const DEFAULT_PRICES: Record<string, Price> = {
  // OpenAI
  "gpt-4o": { input: 2.5, cachedInput: 1.25, output: 10, perRequest: 0 },
  "gpt-4o-mini": { input: 0.15, cachedInput: 0.075, output: 0.6, perRequest: 0 },
  "gpt-4.1": { input: 2, cachedInput: 0.5, output: 8, perRequest: 0 },
  "gpt-4.1-mini": { input: 0.4, cachedInput: 0.1, output: 1.6, perRequest: 0 },
  "gpt-4.1-nano": { input: 0.1, cachedInput: 0.025, output: 0.4, perRequest: 0 },
  "text-embedding-3-small": { input: 0.02, output: 0, perRequest: 0 },
  "text-embedding-3-large": { input: 0.13, output: 0, perRequest: 0 },
  // Anthropic (cached input = cache reads)
  "claude-opus-4-1": { input: 15, cachedInput: 1.5, output: 75, perRequest: 0 },
  "claude-sonnet-4-5": { input: 3, cachedInput: 0.3, output: 15, perRequest: 0 },
  "claude-haiku-4-5": { input: 1, cachedInput: 0.1, output: 5, perRequest: 0 },
  // Mistral
  "mistral-large-latest": { input: 2, output: 6, perRequest: 0 },
  "mistral-small-latest": { input: 0.1, output: 0.3, perRequest: 0 },
  "mistral-embed": { input: 0.1, output: 0, perRequest: 0 },
  // Google Gemini
  "gemini-2.5-pro": { input: 1.25, cachedInput: 0.31, output: 10, perRequest: 0 },
  "gemini-2.5-flash": { input: 0.3, cachedInput: 0.075, output: 2.5, perRequest: 0 },
  "gemini-embedding-001": { input: 0.15, output: 0, perRequest: 0 },
};
