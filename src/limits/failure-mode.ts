import type { BudgetSpec, BudgetStore, ReserveResult, Settlement } from "./budget-store.ts";
import { LimitSpecError } from "./limit-spec-error.ts";
import type { BucketSpec, RateLimitStore, TakeResult } from "./rate-limit-store.ts";

/**
 * What admission does when the shared store (Redis) fails or times out:
 * "open" lets the request through unmetered (availability over enforcement),
 * "closed" rejects it as unavailable (enforcement over availability).
 */
export type FailureMode = "open" | "closed";

const isRateLimitStore = (store: RateLimitStore | BudgetStore): store is RateLimitStore => "take" in store;

/**
 * Wraps a store so its failures become decisions. Admission (`take`,
 * `reserve`) answers per `mode`; settlement (`adjust`, `settle`) never rejects
 * — the usage is lost, which `onError` lets the caller count. `onError` is
 * called once per failed call. A `LimitSpecError` is the caller's bug, not an
 * outage, and propagates unchanged; so do failures of `usage` (a read for
 * reports, with no sensible default) and `close`.
 */
export function withFailureMode<T extends RateLimitStore | BudgetStore>(
  store: T,
  mode: FailureMode,
  onError: (error: unknown) => void,
): T {
  const report = (error: unknown): void => {
    if (error instanceof LimitSpecError) throw error;
    onError(error);
  };
  if (isRateLimitStore(store)) {
    const wrapped: RateLimitStore = {
      async take(buckets: BucketSpec[]): Promise<TakeResult> {
        try {
          return await store.take(buckets);
        } catch (error) {
          report(error);
          if (mode === "open") return { ok: true, remaining: {}, resetMs: 0 };
          const exhausted = buckets[0]?.key ?? "";
          return { ok: false, unavailable: true, retryAfterMs: 0, exhausted, remaining: {}, resetMs: 0 };
        }
      },
      async adjust(key: string, limitPerMinute: number, delta: number): Promise<void> {
        try {
          await store.adjust(key, limitPerMinute, delta);
        } catch (error) {
          report(error);
        }
      },
      close: () => store.close(),
    };
    return wrapped as T;
  }
  const budgets = store as BudgetStore;
  const wrapped: BudgetStore = {
    async reserve(specs: BudgetSpec[]): Promise<ReserveResult> {
      try {
        return await budgets.reserve(specs);
      } catch (error) {
        report(error);
        if (mode === "open") return { ok: true };
        return { ok: false, unavailable: true, exhausted: specs[0]?.key ?? "", remainingMicroUsd: 0 };
      }
    },
    async settle(entries: Settlement[]): Promise<void> {
      try {
        await budgets.settle(entries);
      } catch (error) {
        report(error);
      }
    },
    usage: (key: string) => budgets.usage(key),
    close: () => budgets.close(),
  };
  return wrapped as T;
}
