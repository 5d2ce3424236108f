/**
 * Bounds retries to one backend so an outage does not multiply its load:
 * concurrent retry attempts ≤ max(minConcurrent, percent% of its active
 * attempts). A first attempt at a backend (including a failover to it) is
 * not a retry; trying a backend again within the same request is.
 */
export class RetryBudget {
  #active = 0;
  #retries = 0;
  readonly #percent: number;
  readonly #min: number;

  constructor(percent: number, minConcurrent: number) {
    this.#percent = percent;
    this.#min = minConcurrent;
  }

  /** Starts an attempt; returns its release function, or undefined when a retry is over budget. */
  begin(isRetry: boolean): (() => void) | undefined {
    if (isRetry && this.#retries >= Math.max(this.#min, (this.#percent / 100) * this.#active))
      return undefined;
    this.#active++;
    if (isRetry) this.#retries++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      if (isRetry) this.#retries--;
    };
  }

  get active(): number {
    return this.#active;
  }
}
