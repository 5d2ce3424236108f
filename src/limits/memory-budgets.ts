import type { BudgetSpec, BudgetStore, BudgetUsage, ReserveResult, Settlement } from "./budget-store.ts";
import { checkBudgets, checkSettlements } from "./limit-spec-error.ts";

type Entry = { spent: number; reserved: number; expiresAt: number };

export type MemoryBudgetsOptions = {
  /** Wall-clock milliseconds (compared with `expiresAt`); `Date.now` by default. */
  now?: () => number;
};

const SWEEP_EVERY = 1024;

/**
 * Budgets for one process. Each call runs to completion before another starts,
 * so the check-and-reserve across several budgets is atomic without locks.
 */
export class MemoryBudgets implements BudgetStore {
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  #ops = 0;

  constructor(options: MemoryBudgetsOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Budgets currently held (expired ones are swept). */
  get size(): number {
    return this.#entries.size;
  }

  async reserve(budgets: BudgetSpec[]): Promise<ReserveResult> {
    checkBudgets(budgets);
    this.#maybeSweep();
    for (const b of budgets) {
      const { spent, reserved } = this.#usage(b.key);
      if (spent + reserved + b.amountMicroUsd > b.limitMicroUsd) {
        return {
          ok: false,
          exhausted: b.key,
          remainingMicroUsd: Math.max(0, b.limitMicroUsd - spent - reserved),
        };
      }
    }
    for (const b of budgets) {
      const entry = this.#entry(b.key, b.expiresAt);
      entry.reserved += b.amountMicroUsd;
    }
    return { ok: true };
  }

  async settle(entries: Settlement[]): Promise<void> {
    checkSettlements(entries);
    for (const e of entries) {
      const entry = this.#entry(e.key, e.expiresAt);
      // Not below zero: a double settle (or one after expiry) must not create headroom.
      entry.reserved = Math.max(0, entry.reserved - e.reservedMicroUsd);
      entry.spent += e.actualMicroUsd;
    }
  }

  async usage(key: string): Promise<BudgetUsage> {
    const { spent, reserved } = this.#usage(key);
    return { spentMicroUsd: spent, reservedMicroUsd: reserved };
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }

  #usage(key: string): { spent: number; reserved: number } {
    const entry = this.#entries.get(key);
    if (!entry || entry.expiresAt <= this.#now()) return { spent: 0, reserved: 0 };
    return entry;
  }

  /** The live entry for `key`, created (or renewed after expiry) as needed; expiry as given last. */
  #entry(key: string, expiresAt: Date): Entry {
    let entry = this.#entries.get(key);
    if (!entry || entry.expiresAt <= this.#now()) {
      entry = { spent: 0, reserved: 0, expiresAt: 0 };
      this.#entries.set(key, entry);
    }
    entry.expiresAt = expiresAt.getTime();
    return entry;
  }

  #maybeSweep(): void {
    if (++this.#ops % SWEEP_EVERY !== 0) return;
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
  }
}
