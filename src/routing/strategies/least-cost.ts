import type { CompiledTarget } from "../../config/compile.ts";
import type { StrategyInput } from "../strategy.ts";

/**
 * Cheapest first, by the request's estimated cost on each target (price table ×
 * estimated tokens). Targets without a configured price go last, in config order;
 * ties keep config order.
 */
export function leastCost(input: StrategyInput): CompiledTarget[] {
  const cost = (t: CompiledTarget) => input.costOf(t) ?? Number.POSITIVE_INFINITY;
  return input.targets
    .map((target, index) => ({ target, index, cost: cost(target) }))
    .sort((a, b) => a.cost - b.cost || a.index - b.index)
    .map((x) => x.target);
}
