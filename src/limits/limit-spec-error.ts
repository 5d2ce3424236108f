import type { BudgetSpec } from "./budget-store.ts";
import type { BucketSpec } from "./rate-limit-store.ts";

/**
 * A caller passed an impossible spec (negative amount, zero limit, the same key
 * twice). It is a programming error, not an outage, so the failure mode never
 * turns it into "allow" or "unavailable": it always propagates.
 */
export class LimitSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LimitSpecError";
  }
}

function unique(keys: string[]): void {
  const seen = new Set<string>();
  for (const key of keys) {
    if (key === "") throw new LimitSpecError("limit key is empty");
    // One atomic operation reads each key once; a repeated key would be charged from stale state.
    if (seen.has(key)) throw new LimitSpecError(`limit key ${key} given twice`);
    seen.add(key);
  }
}

export function checkLimitPerMinute(key: string, limitPerMinute: number): void {
  if (!Number.isFinite(limitPerMinute) || limitPerMinute <= 0) {
    throw new LimitSpecError(`limitPerMinute of ${key} must be a positive number, got ${limitPerMinute}`);
  }
}

export function checkBuckets(buckets: BucketSpec[]): void {
  unique(buckets.map((b) => b.key));
  for (const b of buckets) {
    checkLimitPerMinute(b.key, b.limitPerMinute);
    if (!Number.isFinite(b.amount) || b.amount < 0) {
      throw new LimitSpecError(`amount of ${b.key} must be a number ≥ 0, got ${b.amount}`);
    }
  }
}

export function checkDelta(key: string, delta: number): void {
  if (!Number.isFinite(delta)) throw new LimitSpecError(`delta of ${key} must be finite, got ${delta}`);
}

export function checkMicroUsd(key: string, what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new LimitSpecError(`${what} of ${key} must be an integer ≥ 0 (micro-USD), got ${value}`);
  }
}

export function checkExpiry(key: string, expiresAt: Date): void {
  if (Number.isNaN(expiresAt.getTime())) throw new LimitSpecError(`expiresAt of ${key} is not a valid date`);
}

export function checkBudgets(budgets: BudgetSpec[]): void {
  unique(budgets.map((b) => b.key));
  for (const b of budgets) {
    checkMicroUsd(b.key, "limitMicroUsd", b.limitMicroUsd);
    checkMicroUsd(b.key, "amountMicroUsd", b.amountMicroUsd);
    checkExpiry(b.key, b.expiresAt);
  }
}

export function checkSettlements(
  entries: { key: string; reservedMicroUsd: number; actualMicroUsd: number; expiresAt: Date }[],
): void {
  unique(entries.map((e) => e.key));
  for (const e of entries) {
    checkMicroUsd(e.key, "reservedMicroUsd", e.reservedMicroUsd);
    checkMicroUsd(e.key, "actualMicroUsd", e.actualMicroUsd);
    checkExpiry(e.key, e.expiresAt);
  }
}
