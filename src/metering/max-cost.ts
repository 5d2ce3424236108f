import type { Price } from "../config/schema.ts";
import type { PriceTable, TokenCounts } from "./price-table.ts";

/** Tiers a provider may serve at whatever was asked ("auto" may mean the project's priority tier). */
const PRICED_TIERS = [undefined, "flex", "priority"] as const;

/**
 * The most a request can cost, in micro-USD, for a budget reservation: its input estimate and max
 * output, each in its dearest class (input as plain input, 5-minute or one-hour cache writes —
 * Anthropic bills those up to 2× — output as plain output or reasoning), at the dearest tier, on the
 * dearest of the priced targets. Unpriced targets (undefined) add nothing.
 */
export function maxCostMicroUsd(
  table: PriceTable,
  prices: readonly (Price | undefined)[],
  estimate: { inputTokens: number; outputTokens: number },
): number {
  const { inputTokens, outputTokens } = estimate;
  const shapes: TokenCounts[] = [];
  for (const writes of [0, inputTokens])
    for (const oneHour of writes === 0 ? [0] : [0, writes])
      for (const reasoningTokens of [0, outputTokens])
        shapes.push({
          inputTokens,
          outputTokens,
          cachedInputTokens: 0,
          cacheWriteTokens: writes,
          cacheWrite1hTokens: oneHour,
          reasoningTokens,
        });
  let max = 0;
  for (const price of prices) {
    if (!price) continue;
    for (const tier of PRICED_TIERS)
      for (const usage of shapes) max = Math.max(max, table.costMicroUsd(price, usage, tier));
  }
  return max;
}
