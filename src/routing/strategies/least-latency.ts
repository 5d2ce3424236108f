import type { CompiledTarget } from "../../config/compile.ts";
import type { StrategyInput } from "../strategy.ts";

/**
 * Power of two choices on smoothed time-to-first-token: pick two targets at
 * random, lead with the faster; the rest follow fastest first. A target with
 * no samples yet counts as fastest, so new or recovered targets get explored.
 */
export function leastLatency(input: StrategyInput): CompiledTarget[] {
  const latency = (t: CompiledTarget) => input.latencyOf(t) ?? 0;
  const targets = [...input.targets];
  if (targets.length <= 1) return targets;
  const i = Math.floor(input.random() * targets.length);
  let j = Math.floor(input.random() * (targets.length - 1));
  if (j >= i) j++;
  const a = targets[i]!;
  const b = targets[j]!;
  const first = latency(b) < latency(a) ? b : a;
  const rest = targets.filter((t) => t !== first).sort((x, y) => latency(x) - latency(y));
  return [first, ...rest];
}
