import type { Config } from "../config/schema.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import type { BucketSpec, RateLimitStore } from "../limits/rate-limit-store.ts";
import { ALL_TOKENS, countedTokens, type TokenCounting, tokenBucketKind } from "../limits/token-count.ts";
import type { TokenCounts } from "../metering/price-table.ts";
import type { Principal } from "./principal.ts";

type Rule = Config["limits"]["rules"][number];

/** What admission charged each token bucket (as its rule counts tokens), so settlement can true it up. */
export type RateReservation = {
  tokenBuckets: { key: string; limit: number; counting: TokenCounting; reserved: number }[];
};

/** The admission estimate: the prompt and the most output the request may produce. */
export type TokenEstimate = { inputTokens: number; outputTokens: number };

/** Remaining/reset figures of the tightest buckets, sent on every response (x-ratelimit-*). */
export type RateLimitInfo = {
  requests?: { limit: number; remaining: number; resetMs: number };
  tokens?: { limit: number; remaining: number; resetMs: number };
};

/**
 * Requests and tokens per minute, per key, team and workload (token buckets).
 * Admission takes 1 request and the request's token estimate (input estimate
 * + max output, as each rule counts tokens) from every matching bucket at
 * once — all or nothing — and settlement charges or refunds the difference to
 * the actual tokens of the classes the rule counts.
 */
export class RateLimitPolicy {
  readonly #store: RateLimitStore;
  readonly #rules: () => readonly Rule[];

  /** `rules` is read per request, so a config reload changes limits at once (the store stays). */
  constructor(store: RateLimitStore, rules: () => readonly Rule[]) {
    this.#store = store;
    this.#rules = rules;
  }

  get active(): boolean {
    return this.#rules().length > 0;
  }

  async admit(
    principal: Principal | undefined,
    workload: string,
    estimate: TokenEstimate,
  ): Promise<{ reservation: RateReservation; info: RateLimitInfo }> {
    const buckets: BucketSpec[] = [];
    const tokenBuckets: RateReservation["tokenBuckets"] = [];
    const limits = new Map<string, { kind: "requests" | "tokens"; limit: number }>();
    for (const rule of this.#rules()) {
      const id = rule.scope === "key" ? principal?.keyId : rule.scope === "team" ? principal?.team : workload;
      if (id === undefined || (rule.match !== "*" && rule.match !== id)) continue;
      const base = `${rule.scope}:${id}`;
      if (rule.requestsPerMinute !== undefined) {
        const key = `rpm:${base}`;
        buckets.push({ key, limitPerMinute: rule.requestsPerMinute, amount: 1 });
        tighter(limits, key, "requests", rule.requestsPerMinute);
      }
      if (rule.tokensPerMinute !== undefined) {
        const counting = rule.tokens ?? ALL_TOKENS;
        const key = `${tokenBucketKind(counting)}:${base}`;
        const amount = countedTokens(counting, { ...estimate, cachedInputTokens: 0 });
        buckets.push({ key, limitPerMinute: rule.tokensPerMinute, amount });
        tokenBuckets.push({ key, limit: rule.tokensPerMinute, counting, reserved: amount });
        tighter(limits, key, "tokens", rule.tokensPerMinute);
      }
    }
    if (buckets.length === 0) return { reservation: { tokenBuckets }, info: {} };
    const result = await this.#store.take(tightest(buckets, (b) => b.limitPerMinute));
    const info = infoOf(result.remaining, result.resetMs, limits);
    if (!result.ok) {
      if (result.unavailable) {
        throw new GatewayError(
          "limits_unavailable",
          "the rate-limit store is unreachable (failure mode: closed)",
        );
      }
      const what = describe(result.exhausted);
      if (result.tooLarge) {
        const needs = buckets.find((b) => b.key === result.exhausted)?.amount;
        throw new GatewayError(
          "request_exceeds_limit",
          `this request needs ~${needs} tokens, more than ${what} allows (${limits.get(result.exhausted)?.limit} per minute)`,
        );
      }
      throw new GatewayError(
        "rate_limited",
        `${what} reached; retry in ${Math.ceil(result.retryAfterMs)} ms`,
        {
          retryAfterMs: result.retryAfterMs,
        },
      );
    }
    return { reservation: { tokenBuckets: tightest(tokenBuckets, (b) => b.limit) }, info };
  }

  /**
   * Charges (or refunds) each bucket the difference between the actual tokens it counts and what it
   * reserved; no usage (nothing was served) refunds the whole reservation.
   */
  async settle(reservation: RateReservation, actual: TokenCounts | undefined): Promise<void> {
    await Promise.all(
      reservation.tokenBuckets.map((b) => {
        const delta = (actual ? countedTokens(b.counting, actual) : 0) - b.reserved;
        return delta === 0 ? undefined : this.#store.adjust(b.key, b.limit, delta);
      }),
    );
  }
}

/** The limit a shared bucket is taken at (the tighter rule's, as `tightest` takes it) is the one reported. */
function tighter(
  limits: Map<string, { kind: "requests" | "tokens"; limit: number }>,
  key: string,
  kind: "requests" | "tokens",
  limit: number,
): void {
  const seen = limits.get(key);
  if (!seen || limit < seen.limit) limits.set(key, { kind, limit });
}

/**
 * Two rules for the same scope and id (and token counting) share one bucket, at the tighter limit:
 * it is taken once, and (for its reservation) settled once.
 */
function tightest<T extends { key: string }>(items: readonly T[], limitOf: (item: T) => number): T[] {
  const byKey = new Map<string, T>();
  for (const item of items) {
    const seen = byKey.get(item.key);
    if (!seen || limitOf(item) < limitOf(seen)) byKey.set(item.key, item);
  }
  return [...byKey.values()];
}

function describe(bucket: string): string {
  const [kind, scope, ...id] = bucket.split(":");
  const what = kind === "rpm" ? "requests-per-minute limit" : "tokens-per-minute limit";
  // (kind is "tpm", or "tpm/…" naming the counted classes: the message stays about the limit.)
  return `the ${scope} ${id.join(":")} ${what}`;
}

function infoOf(
  remaining: Record<string, number>,
  resetMs: number,
  limits: Map<string, { kind: "requests" | "tokens"; limit: number }>,
): RateLimitInfo {
  const info: RateLimitInfo = {};
  for (const [key, left] of Object.entries(remaining)) {
    const spec = limits.get(key);
    if (!spec) continue;
    const current = info[spec.kind];
    if (!current || left < current.remaining)
      info[spec.kind] = { limit: spec.limit, remaining: left, resetMs };
  }
  return info;
}
