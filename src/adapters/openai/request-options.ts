import type { GenerateInput, ReasoningOptions } from "../adapter.ts";
import { refuseField } from "./content.ts";
import type { QuirkProfile } from "./quirks.ts";

type Effort = NonNullable<ReasoningOptions["effort"]>;

/**
 * Chat Completions takes no reasoning token budget, only `reasoning_effort`: a budget alone becomes the
 * nearest effort. The bounds sit between the budgets other providers' presets use for each level
 * (≈2k low, ≈8k medium, ≈32k high), on a log scale: √(2k·8k) = 4096, √(8k·32k) = 16384.
 */
export function effortForBudget(budgetTokens: number): Effort {
  if (budgetTokens <= 4096) return "low";
  if (budgetTokens <= 16_384) return "medium";
  return "high";
}

/**
 * The request options beyond messages, tools and sampling, written into `body` as the server's row
 * (quirks.ts) allows: a hint the server has no field for is left out; logprobs, which would change what
 * the answer carries, are refused where the server cannot return them.
 */
export function writeRequestOptions(
  body: Record<string, unknown>,
  input: GenerateInput,
  profile: QuirkProfile,
) {
  const reasoning = input.reasoning;
  // An effort wins over a budget; `includeText` has no field (servers that return reasoning text always do).
  const effort =
    reasoning?.effort ??
    (reasoning?.budgetTokens !== undefined ? effortForBudget(reasoning.budgetTokens) : undefined);
  if (effort !== undefined) body.reasoning_effort = effort;
  if (input.parallelToolCalls !== undefined && input.tools.length > 0) {
    // OpenAI answers 400 to parallel_tool_calls without tools.
    body.parallel_tool_calls = input.parallelToolCalls;
  }
  if (input.logprobs !== undefined) {
    if (!profile.logprobs) refuseField("logprobs", "this backend returns no log probabilities");
    body.logprobs = true;
    if (input.logprobs.top > 0) body.top_logprobs = input.logprobs.top;
  }
  if (input.promptCacheKey !== undefined && profile.promptCacheKey)
    body.prompt_cache_key = input.promptCacheKey;
  if (input.endUserId && profile.endUserField !== undefined) body[profile.endUserField] = input.endUserId;
  const metadata = input.providerMetadata;
  if (metadata !== undefined && profile.metadata && Object.keys(metadata).length > 0)
    body.metadata = metadata;
  const tier = input.serviceTier === undefined ? undefined : profile.serviceTiers[input.serviceTier];
  if (tier !== undefined) body.service_tier = tier;
}
