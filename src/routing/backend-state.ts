import type { BackendConfig } from "../config/schema.ts";
import type { Logger } from "../telemetry/logger.ts";
import { Breaker } from "./breaker.ts";
import { Ewma } from "./ewma.ts";
import { RetryBudget } from "./retry-budget.ts";

/**
 * What the router learns about a backend while serving: breaker, retry
 * budget, rate-limit cool-down, active health and per-model latency. It lives
 * as long as the backend's definition is unchanged, across config reloads.
 */
export class BackendState {
  readonly breaker: Breaker;
  readonly retryBudget: RetryBudget;
  /** Until when (epoch ms) the backend asked us to hold off (Retry-After). */
  coolDownUntil = 0;
  /** Result of the last active health check; true when none is configured. */
  healthy = true;
  unhealthyReason: string | undefined;
  /** Set when the start-up check found the backend's models do not match its config (e.g. tensor names). */
  misconfiguredReason: string | undefined;
  readonly #latency = new Map<string, Ewma>();

  constructor(
    name: string,
    config: BackendConfig,
    budget: { percent: number; minConcurrent: number },
    logger: Logger,
  ) {
    this.breaker = new Breaker(name, config.breaker, logger);
    this.retryBudget = new RetryBudget(budget.percent, budget.minConcurrent);
  }

  /** Smoothed time to first token of a model on this backend, in ms. */
  latencyOf(model: string): number | undefined {
    return this.#latency.get(model)?.value;
  }

  recordLatency(model: string, ms: number): void {
    let ewma = this.#latency.get(model);
    if (!ewma) {
      ewma = new Ewma();
      this.#latency.set(model, ewma);
    }
    ewma.update(ms);
  }

  close(): void {
    this.breaker.shutdown();
  }
}
