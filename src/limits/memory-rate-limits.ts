import { checkBuckets, checkDelta, checkLimitPerMinute } from "./limit-spec-error.ts";
import { type BucketSpec, type RateLimitStore, ratePerMs, type TakeResult } from "./rate-limit-store.ts";

type Bucket = { tokens: number; at: number };

export type MemoryRateLimitsOptions = {
  /** Milliseconds from any fixed origin; monotonic by default. Tests inject their own. */
  now?: () => number;
};

// Float refill may land a hair below a whole amount after exactly retryAfterMs; that counts as enough.
const EPSILON = 1e-9;

// Full buckets are indistinguishable from absent ones, so they are dropped now and then.
const SWEEP_EVERY = 1024;

/**
 * Token buckets for one process. JavaScript runs each call to completion, so a
 * take across several buckets is atomic without locks.
 */
export class MemoryRateLimits implements RateLimitStore {
  readonly #buckets = new Map<string, Bucket & { limit: number }>();
  readonly #now: () => number;
  #ops = 0;

  constructor(options: MemoryRateLimitsOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
  }

  /** Buckets currently held (full, idle ones are swept). */
  get size(): number {
    return this.#buckets.size;
  }

  async take(buckets: BucketSpec[]): Promise<TakeResult> {
    checkBuckets(buckets);
    const now = this.#now();
    this.#maybeSweep(now);
    const tokens = buckets.map((b) => this.#current(b.key, b.limitPerMinute, now));

    let blocker: { key: string; wait: number; tooLarge: boolean } | undefined;
    for (const [i, b] of buckets.entries()) {
      if (b.amount > b.limitPerMinute) {
        if (!blocker?.tooLarge) blocker = { key: b.key, wait: 0, tooLarge: true };
        continue;
      }
      const have = tokens[i]!;
      if (have + EPSILON >= b.amount || blocker?.tooLarge) continue;
      const wait = Math.max(1, (b.amount - have - EPSILON) / ratePerMs(b.limitPerMinute));
      if (!blocker || wait > blocker.wait) blocker = { key: b.key, wait, tooLarge: false };
    }

    if (!blocker) {
      buckets.forEach((b, i) => {
        tokens[i] = tokens[i]! - b.amount;
        this.#buckets.set(b.key, { tokens: tokens[i], at: now, limit: b.limitPerMinute });
      });
    }
    const remaining = Object.fromEntries(buckets.map((b, i) => [b.key, Math.max(0, Math.floor(tokens[i]!))]));
    const resetMs = Math.max(
      0,
      ...buckets.map((b, i) => Math.ceil((b.limitPerMinute - tokens[i]!) / ratePerMs(b.limitPerMinute))),
    );
    if (!blocker) return { ok: true, remaining, resetMs };
    return {
      ok: false,
      retryAfterMs: blocker.tooLarge ? 0 : Math.ceil(blocker.wait),
      exhausted: blocker.key,
      remaining,
      resetMs,
      ...(blocker.tooLarge ? { tooLarge: true as const } : {}),
    };
  }

  async adjust(key: string, limitPerMinute: number, delta: number): Promise<void> {
    checkLimitPerMinute(key, limitPerMinute);
    checkDelta(key, delta);
    const now = this.#now();
    // A refund never lifts a bucket above its capacity; an extra charge may push it into debt.
    const tokens = Math.min(limitPerMinute, this.#current(key, limitPerMinute, now) - delta);
    this.#buckets.set(key, { tokens, at: now, limit: limitPerMinute });
  }

  async close(): Promise<void> {
    this.#buckets.clear();
  }

  #current(key: string, limitPerMinute: number, now: number): number {
    const bucket = this.#buckets.get(key);
    if (!bucket) return limitPerMinute;
    const elapsed = Math.max(0, now - bucket.at); // a clock that steps back never drains a bucket
    return Math.min(limitPerMinute, bucket.tokens + elapsed * ratePerMs(limitPerMinute));
  }

  #maybeSweep(now: number): void {
    if (++this.#ops % SWEEP_EVERY !== 0) return;
    for (const [key, bucket] of this.#buckets) {
      if (this.#current(key, bucket.limit, now) >= bucket.limit) this.#buckets.delete(key);
    }
  }
}
