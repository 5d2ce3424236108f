import type { CompiledTarget } from "../config/compile.ts";
import type { Strategy as StrategyName } from "../config/schema.ts";
import { leastCost } from "./strategies/least-cost.ts";
import { leastLatency } from "./strategies/least-latency.ts";
import { priority } from "./strategies/priority.ts";
import { weighted } from "./strategies/weighted.ts";

/** Everything a strategy may look at. Strategies are pure: no I/O, randomness only through `random`. */
export type StrategyInput = {
  /** Eligible targets, in config order. */
  targets: readonly CompiledTarget[];
  /** Estimated tokens of this request, for cost. */
  estimate: { inputTokens: number; outputTokens: number };
  /** Uniform in [0, 1). */
  random: () => number;
  /** Smoothed time to first token (ms) of a target, undefined when it has no samples yet. */
  latencyOf: (target: CompiledTarget) => number | undefined;
  /** Estimated cost (USD) of this request on a target, undefined when no price is configured. */
  costOf: (target: CompiledTarget) => number | undefined;
};

/** Orders the eligible targets: the first is tried first, the rest are the fallback order. */
export type Strategy = (input: StrategyInput) => CompiledTarget[];

export const strategies: Record<StrategyName, Strategy> = {
  priority,
  weighted,
  "least-latency": leastLatency,
  "least-cost": leastCost,
};
