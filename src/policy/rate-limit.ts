import type { Config } from "../config/schema.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import type { BucketSpec, RateLimitStore } from "../limits/rate-limit-store.ts";
import type { Principal } from "./principal.ts";

type Rule = Config["limits"]["rules"][number];

/** What admission charged, so settlement can true it up. */
export type RateReservation = { tokenBuckets: { key: string; limit: number }[]; reservedTokens: number };

/** Remaining/reset figures of the tightest buckets, sent on every response (x-ratelimit-*). */
export type RateLimitInfo = {
  requests?: { limit: number; remaining: number; resetMs: number };
  tokens?: { limit: number; remaining: number; resetMs: number };
};

/**
 * Requests and tokens per minute, per key, team and workload (token buckets).
 * Admission takes 1 request and the request's token estimate (input estimate
 * + max output) from every matching bucket at once — all or nothing — and
 * settlement charges or refunds the difference to the actual tokens.
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
    tokens: number,
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
        limits.set(key, { kind: "requests", limit: rule.requestsPerMinute });
      }
      if (rule.tokensPerMinute !== undefined) {
        const key = `tpm:${base}`;
        buckets.push({ key, limitPerMinute: rule.tokensPerMinute, amount: tokens });
        tokenBuckets.push({ key, limit: rule.tokensPerMinute });
        limits.set(key, { kind: "tokens", limit: rule.tokensPerMinute });
      }
    }
    if (buckets.length === 0) return { reservation: { tokenBuckets, reservedTokens: 0 }, info: {} };
    const result = await this.#store.take(dedupe(buckets));
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
        throw new GatewayError(
          "request_exceeds_limit",
          `this request needs ~${tokens} tokens, more than ${what} allows (${limits.get(result.exhausted)?.limit} per minute)`,
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
    return { reservation: { tokenBuckets, reservedTokens: tokens }, info };
  }

  /** Charges (or refunds) the difference between the actual tokens and the reservation. */
  async settle(reservation: RateReservation, actualTokens: number): Promise<void> {
    const delta = actualTokens - reservation.reservedTokens;
    if (delta === 0) return;
    await Promise.all(reservation.tokenBuckets.map((b) => this.#store.adjust(b.key, b.limit, delta)));
  }
}

/** Two rules for the same scope and id share one bucket; the tighter limit wins. */
function dedupe(buckets: BucketSpec[]): BucketSpec[] {
  const byKey = new Map<string, BucketSpec>();
  for (const b of buckets) {
    const seen = byKey.get(b.key);
    if (!seen || b.limitPerMinute < seen.limitPerMinute) byKey.set(b.key, b);
  }
  return [...byKey.values()];
}

function describe(bucket: string): string {
  const [kind, scope, ...id] = bucket.split(":");
  const what = kind === "rpm" ? "requests-per-minute limit" : "tokens-per-minute limit";
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
