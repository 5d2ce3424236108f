import type { Price } from "../config/schema.ts";

export type TokenCounts = { inputTokens: number; outputTokens: number; cachedInputTokens: number };

/**
 * Prices in USD per million tokens, looked up by "backend/model" first, then
 * by model id alone. Costs are integer micro-USD (1e-6 USD): a price of
 * $X per million tokens is exactly X micro-USD per token.
 */
export class PriceTable {
  readonly #prices: ReadonlyMap<string, Price>;

  constructor(prices: Record<string, Price>) {
    this.#prices = new Map(Object.entries(prices));
  }

  priceOf(backend: string, model: string): Price | undefined {
    return this.#prices.get(`${backend}/${model}`) ?? this.#prices.get(model);
  }

  /** Cost of actual usage, rounded to whole micro-USD. Cached input uses its own price when set. */
  costMicroUsd(price: Price, usage: TokenCounts): number {
    const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
    const fresh = usage.inputTokens - cached;
    const micro =
      fresh * price.input +
      cached * (price.cachedInput ?? price.input) +
      usage.outputTokens * price.output +
      price.perRequest * 1e6;
    return Math.round(micro);
  }
}
