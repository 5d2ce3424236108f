import type { CompiledTarget } from "../../config/compile.ts";
import type { StrategyInput } from "../strategy.ts";

/** An ordered fallback chain: targets as listed in the config. */
export function priority(input: StrategyInput): CompiledTarget[] {
  return [...input.targets];
}
