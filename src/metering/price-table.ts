import type { ServiceTier, TokenUsage } from "../adapters/adapter.ts";
import type { Price, TierPrice } from "../config/schema.ts";

/** Token counts to price: the three totals, and any finer class the provider reported. */
export type TokenCounts = Pick<TokenUsage, "inputTokens" | "outputTokens" | "cachedInputTokens"> &
  Partial<Omit<TokenUsage, "inputTokens" | "outputTokens" | "cachedInputTokens">>;

/** The disjoint classes a usage is billed by: each token is in exactly one. */
export type BilledTokens = {
  input: number;
  cacheRead: number;
  cacheWrite: number;
  cacheWrite1h: number;
  audioInput: number;
  imageInput: number;
  output: number;
  reasoning: number;
};

/** Integer pico-USD (1e-12 USD) per token of each class, and per request: exact integer arithmetic. */
type Rates = Record<keyof BilledTokens | "perRequest", bigint>;

const PICO_PER_MICRO = 1_000_000n;

/**
 * Splits a provider's counts into disjoint classes, each token once. Input holds cache reads, cache
 * writes (the 1h ones a part of them), audio and image tokens; what is left is uncached text input.
 * Output holds reasoning. A class larger than what is left of its total (a provider quirk) is capped,
 * so a token is never billed twice. Audio and image tokens are counted as uncached.
 */
export function billedTokens(u: TokenCounts): BilledTokens {
  const whole = (n: number | undefined) =>
    n !== undefined && Number.isFinite(n) ? Math.max(0, Math.trunc(n)) : 0;
  let input = whole(u.inputTokens);
  const take = (n: number | undefined) => {
    const part = Math.min(whole(n), input);
    input -= part;
    return part;
  };
  const cacheRead = take(u.cachedInputTokens);
  const writes = take(u.cacheWriteTokens);
  const cacheWrite1h = Math.min(whole(u.cacheWrite1hTokens), writes);
  const audioInput = take(u.audioInputTokens);
  const imageInput = take(u.imageInputTokens);
  const output = whole(u.outputTokens);
  const reasoning = Math.min(whole(u.reasoningTokens), output);
  return {
    input,
    cacheRead,
    cacheWrite: writes - cacheWrite1h,
    cacheWrite1h,
    audioInput,
    imageInput,
    output: output - reasoning,
    reasoning,
  };
}

/** USD per million tokens → pico-USD per token (a price has at most 6 decimals that count). */
const pico = (usdPerMillion: number): bigint => BigInt(Math.round(usdPerMillion * 1e6));

/**
 * The per-class rates of a price at a served tier: the base fallbacks applied first, then a tier's
 * own rate where it sets one, else the base rate × its multiplier.
 */
function ratesOf(price: Price, tier: TierPrice | undefined): Rates {
  const m = tier?.multiplier ?? 1;
  const rate = (own: number | undefined, base: number) => pico(own ?? base * m);
  const cacheRead = price.cacheRead ?? price.cachedInput ?? price.input;
  const cacheWrite = price.cacheWrite ?? price.input;
  return {
    input: rate(tier?.input, price.input),
    output: rate(tier?.output, price.output),
    cacheRead: rate(tier?.cacheRead ?? tier?.cachedInput, cacheRead),
    cacheWrite: rate(tier?.cacheWrite, cacheWrite),
    cacheWrite1h: rate(tier?.cacheWrite1h, price.cacheWrite1h ?? cacheWrite),
    reasoning: rate(tier?.reasoning, price.reasoning ?? price.output),
    audioInput: rate(tier?.audioInput, price.audioInput ?? price.input),
    imageInput: rate(tier?.imageInput, price.imageInput ?? price.input),
    // perRequest is USD, not per million: 1e12 pico-USD per USD.
    perRequest: BigInt(Math.round((tier?.perRequest ?? price.perRequest * m) * 1e12)),
  };
}

/**
 * Prices in USD per million tokens, looked up by "backend/model" first, then
 * by model id alone. Costs are integer micro-USD (1e-6 USD): a price of
 * $X per million tokens is exactly X micro-USD per token. Every class is
 * priced from the provider's own counts, in integer pico-USD, and the
 * request's total rounded once (half up) to micro-USD: no float drift, so a
 * sum of ledger rows is reproducible from the counts and the price list.
 */
export class PriceTable {
  readonly #prices: ReadonlyMap<string, Price>;
  /** Rates compiled once per price and tier (prices live as long as their config generation). */
  readonly #rates = new WeakMap<Price, Map<string, Rates>>();

  constructor(prices: Record<string, Price>) {
    this.#prices = new Map(Object.entries(prices));
  }

  priceOf(backend: string, model: string): Price | undefined {
    return this.#prices.get(`${backend}/${model}`) ?? this.#prices.get(model);
  }

  /** Cost of actual usage at the tier that served (the base price unless that tier has its own). */
  costMicroUsd(price: Price, usage: TokenCounts, tier?: ServiceTier): number {
    const rates = this.#ratesAt(price, tier);
    const billed = billedTokens(usage);
    let total = rates.perRequest;
    for (const [cls, tokens] of Object.entries(billed) as [keyof BilledTokens, number][]) {
      total += BigInt(tokens) * rates[cls];
    }
    return Number((total + PICO_PER_MICRO / 2n) / PICO_PER_MICRO);
  }

  #ratesAt(price: Price, tier: ServiceTier | undefined): Rates {
    const tierPrice = tier === "flex" || tier === "priority" ? price.serviceTiers?.[tier] : undefined;
    const key = tierPrice ? (tier as string) : "";
    let byTier = this.#rates.get(price);
    if (!byTier) {
      byTier = new Map();
      this.#rates.set(price, byTier);
    }
    let rates = byTier.get(key);
    if (!rates) {
      rates = ratesOf(price, tierPrice);
      byTier.set(key, rates);
    }
    return rates;
  }
}
