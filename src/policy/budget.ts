import type { Config } from "../config/schema.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import type { BudgetSpec, BudgetStore } from "../limits/budget-store.ts";
import { budgetExpiry, type CalendarWindow, windowOf } from "../limits/calendar-window.ts";
import type { Principal } from "./principal.ts";

type BudgetRule = Config["budgets"][number];

export type BudgetReservation = { specs: BudgetSpec[] };

/**
 * Spend budgets per key, team and workload over calendar windows. Admission
 * reserves the request's maximum cost in every matching budget at once, so
 * concurrent requests cannot overshoot beyond what is in flight; settlement
 * releases the reservation and records the actual cost.
 */
export class BudgetPolicy {
  readonly #store: BudgetStore;
  readonly #rules: () => readonly BudgetRule[];
  readonly #now: () => Date;
  /** The current window per period and time zone, reused until it ends (computing one is costly). */
  readonly #windows = new Map<string, CalendarWindow>();

  /** `rules` is read per request, so a config reload changes budgets at once (spend so far stays). */
  constructor(store: BudgetStore, rules: () => readonly BudgetRule[], now: () => Date = () => new Date()) {
    this.#store = store;
    this.#rules = rules;
    this.#now = now;
  }

  get active(): boolean {
    return this.#rules().length > 0;
  }

  /**
   * Reserves `maxCostMicroUsd`. Returns the reservation, or `exhausted` (the budget that is
   * used up) so the caller can downgrade; throws only when the store is unreachable and closed.
   */
  async admit(
    principal: Principal | undefined,
    workload: string,
    maxCostMicroUsd: number,
  ): Promise<{ reservation: BudgetReservation } | { exhausted: string; remainingMicroUsd: number }> {
    const now = this.#now();
    const specs: BudgetSpec[] = [];
    for (const rule of this.#rules()) {
      const id = rule.scope === "key" ? principal?.keyId : rule.scope === "team" ? principal?.team : workload;
      if (id === undefined || (rule.match !== "*" && rule.match !== id)) continue;
      const window = this.#windowOf(rule.period, now, rule.timezone);
      specs.push({
        key: `${rule.scope}:${id}:${rule.period}:${window.id}`,
        limitMicroUsd: Math.round(rule.limitUsd * 1e6),
        amountMicroUsd: Math.max(0, Math.round(maxCostMicroUsd)),
        expiresAt: budgetExpiry(window),
      });
    }
    if (specs.length === 0) return { reservation: { specs } };
    const result = await this.#store.reserve(specs);
    if (result.ok) return { reservation: { specs } };
    if (result.unavailable) {
      throw new GatewayError("limits_unavailable", "the budget store is unreachable (failure mode: closed)");
    }
    return { exhausted: result.exhausted, remainingMicroUsd: result.remainingMicroUsd };
  }

  #windowOf(period: BudgetRule["period"], now: Date, timezone: string): CalendarWindow {
    const key = `${period}|${timezone}`;
    const cached = this.#windows.get(key);
    if (cached && now >= cached.start && now < cached.end) return cached;
    const window = windowOf(period, now, timezone);
    this.#windows.set(key, window);
    return window;
  }

  async settle(reservation: BudgetReservation, actualMicroUsd: number): Promise<void> {
    if (reservation.specs.length === 0) return;
    await this.#store.settle(
      reservation.specs.map((s) => ({
        key: s.key,
        reservedMicroUsd: s.amountMicroUsd,
        actualMicroUsd: Math.max(0, Math.round(actualMicroUsd)),
        expiresAt: s.expiresAt,
      })),
    );
  }
}

export function budgetExhaustedError(exhausted: string, remainingMicroUsd: number): GatewayError {
  const [scope, id, period, window] = exhausted.split(":");
  return new GatewayError(
    "budget_exhausted",
    `the ${period} budget of ${scope} ${id} is used up for ${window} (remaining ${(remainingMicroUsd / 1e6).toFixed(6)} USD)`,
  );
}
