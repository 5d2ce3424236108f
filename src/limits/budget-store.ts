/**
 * Spending budgets in integer micro-USD per calendar window. A request reserves
 * its maximum possible cost at admission and settles to its actual cost when it
 * ends, so concurrent requests can never spend past the limit together.
 */

export type BudgetSpec = {
  /** One budget in one window, e.g. "team:ml:month:2026-11" (see calendar-window.ts). */
  key: string;
  limitMicroUsd: number;
  amountMicroUsd: number;
  /** When the stored usage may be forgotten: the window's end plus a day. */
  expiresAt: Date;
};

export type Settlement = {
  key: string;
  /** What `reserve` charged; released from `reserved`. */
  reservedMicroUsd: number;
  /** What the request really cost; added to `spent` (may exceed the reservation). */
  actualMicroUsd: number;
  expiresAt: Date;
};

export type ReserveResult =
  | { ok: true }
  | {
      ok: false;
      /** The budget that blocked the reservation. */
      exhausted: string;
      /** What is still reservable in that budget (0 when it is over). */
      remainingMicroUsd: number;
      /** The backing store failed and the failure mode is "closed" (see failure-mode.ts). */
      unavailable?: true;
    };

export type BudgetUsage = { spentMicroUsd: number; reservedMicroUsd: number };

export interface BudgetStore {
  /** Atomic across the budgets: succeeds only if spent + reserved + amount ≤ limit for every one. */
  reserve(budgets: BudgetSpec[]): Promise<ReserveResult>;
  /** Atomic across the entries: reserved -= reservedMicroUsd (not below 0), spent += actualMicroUsd. */
  settle(entries: Settlement[]): Promise<void>;
  /** Zero for a budget never charged (or expired). */
  usage(key: string): Promise<BudgetUsage>;
  close(): Promise<void>;
}
