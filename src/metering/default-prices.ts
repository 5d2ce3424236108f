import type { Price } from "../config/schema.ts";

/**
 * Public list prices in USD per million tokens for common hosted models, from the providers' pricing
 * pages (OpenAI platform pricing, Anthropic's Claude pricing with its prompt-caching table, Mistral
 * and Google AI pricing), checked 2026-12-04. Used for cost tracking and the least-cost strategy
 * unless `metering.defaultPrices: false`; any `prices` entry in the config overrides a whole entry.
 * Verify against your contract before billing anyone: providers change prices and negotiated rates
 * differ. Unset classes fall back (cacheRead, cacheWrite, audio and image input → input; reasoning →
 * output), which is how these providers bill them unless listed here.
 */

/** OpenAI's flex tier: half the standard rates (the Batch API's), on the models that offer it. */
const OPENAI_FLEX = { multiplier: 0.5 };

/** Anthropic bills cache writes at 1.25× input (5-minute TTL) or 2× (one hour), reads at 0.1×. */
const claude = (input: number, output: number): Price => ({
  input,
  output,
  cacheRead: input / 10,
  cacheWrite: input * 1.25,
  cacheWrite1h: input * 2,
  perRequest: 0,
});

export const DEFAULT_PRICES: Record<string, Price> = {
  // OpenAI: cached input = cache reads; reasoning tokens are billed as output.
  "gpt-4o": { input: 2.5, cacheRead: 1.25, output: 10, perRequest: 0 },
  "gpt-4o-mini": { input: 0.15, cacheRead: 0.075, output: 0.6, perRequest: 0 },
  "gpt-4.1": { input: 2, cacheRead: 0.5, output: 8, perRequest: 0 },
  "gpt-4.1-mini": { input: 0.4, cacheRead: 0.1, output: 1.6, perRequest: 0 },
  "gpt-4.1-nano": { input: 0.1, cacheRead: 0.025, output: 0.4, perRequest: 0 },
  "gpt-5": {
    input: 1.25,
    cacheRead: 0.125,
    output: 10,
    perRequest: 0,
    serviceTiers: { flex: OPENAI_FLEX, priority: { multiplier: 2 } },
  },
  "gpt-5-mini": {
    input: 0.25,
    cacheRead: 0.025,
    output: 2,
    perRequest: 0,
    serviceTiers: { flex: OPENAI_FLEX, priority: { multiplier: 1.8 } },
  },
  "gpt-5-nano": {
    input: 0.05,
    cacheRead: 0.005,
    output: 0.4,
    perRequest: 0,
    serviceTiers: { flex: OPENAI_FLEX },
  },
  "o4-mini": {
    input: 1.1,
    cacheRead: 0.275,
    output: 4.4,
    perRequest: 0,
    serviceTiers: { flex: OPENAI_FLEX },
  },
  "text-embedding-3-small": { input: 0.02, output: 0, perRequest: 0 },
  "text-embedding-3-large": { input: 0.13, output: 0, perRequest: 0 },
  // Anthropic (prompts up to 200K tokens)
  "claude-opus-4-5": claude(5, 25),
  "claude-opus-4-1": claude(15, 75),
  "claude-sonnet-4-5": claude(3, 15),
  "claude-haiku-4-5": claude(1, 5),
  // Mistral: no cache or reasoning tiers; the -latest aliases move, so check their current target.
  "mistral-large-latest": { input: 2, output: 6, perRequest: 0 },
  "mistral-small-latest": { input: 0.1, output: 0.3, perRequest: 0 },
  "mistral-embed": { input: 0.1, output: 0, perRequest: 0 },
  // Google Gemini (prompts up to 200K tokens): audio input has its own rate on Flash.
  "gemini-2.5-pro": { input: 1.25, cacheRead: 0.125, output: 10, perRequest: 0 },
  "gemini-2.5-flash": { input: 0.3, cacheRead: 0.03, audioInput: 1, output: 2.5, perRequest: 0 },
  "gemini-embedding-001": { input: 0.15, output: 0, perRequest: 0 },
};
