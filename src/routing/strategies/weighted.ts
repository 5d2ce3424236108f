import type { CompiledTarget } from "../../config/compile.ts";
import type { StrategyInput } from "../strategy.ts";

/**
 * Weighted random order without replacement: the first pick is proportional
 * to weight, then the next among the rest, and so on. Zero-weight targets
 * only serve as a last resort, in config order.
 */
export function weighted(input: StrategyInput): CompiledTarget[] {
  const pool = input.targets.filter((t) => t.weight > 0);
  const order: CompiledTarget[] = [];
  while (pool.length > 0) {
    const total = pool.reduce((sum, t) => sum + t.weight, 0);
    let point = input.random() * total;
    let index = pool.findIndex((t) => {
      point -= t.weight;
      return point < 0;
    });
    if (index === -1) index = pool.length - 1; // floating-point remainder
    order.push(...pool.splice(index, 1));
  }
  return [...order, ...input.targets.filter((t) => t.weight <= 0)];
}
