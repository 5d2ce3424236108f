import type { TokenCounts } from "../metering/price-table.ts";

/**
 * Which tokens a token rate limit counts. `count` picks the totals (input includes cache reads and
 * writes, output includes reasoning); `excludeCacheReads` drops cache reads from the input, for
 * providers whose own rate limits do not count them (Anthropic's input-tokens-per-minute).
 */
export type TokenCounting = { count: readonly ("input" | "output")[]; excludeCacheReads: boolean };

/** What a token limit counted before it was configurable: every input and output token. */
export const ALL_TOKENS: TokenCounting = { count: ["input", "output"], excludeCacheReads: false };

/** The tokens of `usage` the limit counts. An admission estimate has no cache reads: it counts them all. */
export function countedTokens(counting: TokenCounting, usage: TokenCounts): number {
  let n = 0;
  if (counting.count.includes("input")) {
    const reads = counting.excludeCacheReads ? Math.min(usage.cachedInputTokens, usage.inputTokens) : 0;
    n += usage.inputTokens - reads;
  }
  if (counting.count.includes("output")) n += usage.outputTokens;
  return n;
}

/**
 * The bucket kind of a counting: "tpm" for the default, so existing buckets (and their Redis keys)
 * are untouched; else it names what is counted, e.g. "tpm/input-cache_reads", so two rules for one
 * scope that count differently never share a bucket.
 */
export function tokenBucketKind(counting: TokenCounting): string {
  const all = counting.count.includes("input") && counting.count.includes("output");
  if (all && !counting.excludeCacheReads) return "tpm";
  const counted = (["input", "output"] as const).filter((c) => counting.count.includes(c)).join("+");
  return `tpm/${counted}${counting.excludeCacheReads && counting.count.includes("input") ? "-cache_reads" : ""}`;
}
