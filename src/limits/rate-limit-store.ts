/**
 * Token buckets for requests and tokens per minute. A request reserves its
 * estimate at admission (`take`) and settles to what it actually used
 * (`adjust`) when it ends. Implemented in memory (one process) and in Redis
 * (many replicas sharing one limit).
 */

/** Capacity = `limitPerMinute`; refills continuously at `limitPerMinute` per 60 s. */
export type BucketSpec = { key: string; limitPerMinute: number; amount: number };

export type TakeResult =
  | {
      ok: true;
      /** Whole tokens left per bucket key after the take (debt shows as 0). */
      remaining: Record<string, number>;
      /** Time until the most-drained bucket is full again. */
      resetMs: number;
    }
  | {
      ok: false;
      /** Time until every bucket holds enough; 0 (meaningless) when `tooLarge` or `unavailable`. */
      retryAfterMs: number;
      /** The bucket that blocked the take (the one with the longest wait, or the one too small). */
      exhausted: string;
      remaining: Record<string, number>;
      resetMs: number;
      /** The amount exceeds the bucket's capacity: retrying can never succeed. */
      tooLarge?: true;
      /** The backing store failed and the failure mode is "closed" (see failure-mode.ts). */
      unavailable?: true;
    };

export interface RateLimitStore {
  /** All-or-nothing across the buckets (atomic): either every bucket is charged or none is. */
  take(buckets: BucketSpec[]): Promise<TakeResult>;
  /**
   * Settles a bucket: a negative delta refunds (never above capacity), a positive
   * delta charges extra and may leave the bucket in debt, delaying later takes.
   * Never rejects a request; only the backing store can fail.
   */
  adjust(key: string, limitPerMinute: number, delta: number): Promise<void>;
  close(): Promise<void>;
}

/** Refill rate in tokens per millisecond. */
export const ratePerMs = (limitPerMinute: number): number => limitPerMinute / 60_000;
