import {
  ReasoningEffort,
  ReasoningEffortSchema,
  ServiceTierSchema,
  type ReasoningOptions as WireReasoning,
  ServiceTier as WireServiceTier,
} from "../../gen/switchyard/v1/generation_pb.ts";
import type { GenerateRequest } from "../../gen/switchyard/v1/inference_service_pb.ts";
import type { GenerateInput, ReasoningOptions, ServiceTier } from "../adapters/adapter.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { requireKnown } from "./enum-check.ts";

/** The request-level options (GenerateRequest fields 10–17; GenerateStreamRequest has the same). */
type OptionFields = Pick<
  GenerateRequest,
  | "reasoning"
  | "promptCacheKey"
  | "parallelToolCalls"
  | "logprobs"
  | "topLogprobs"
  | "n"
  | "providerMetadata"
  | "serviceTier"
>;

type Options = Pick<
  GenerateInput,
  "reasoning" | "promptCacheKey" | "parallelToolCalls" | "logprobs" | "providerMetadata" | "serviceTier"
>;

export const MAX_END_USER = 256;
const MAX_CACHE_KEY = 256;
/** OpenAI's own bounds on `metadata`, the strictest provider that stores it. */
const MAX_METADATA_KEYS = 16;
const MAX_METADATA_KEY = 64;
const MAX_METADATA_VALUE = 512;
const MAX_TOP_LOGPROBS = 20;
const MAX_BUDGET_TOKENS = 1_000_000;

const EFFORT = {
  [ReasoningEffort.LOW]: "low",
  [ReasoningEffort.MEDIUM]: "medium",
  [ReasoningEffort.HIGH]: "high",
} as const;
const TIER: Record<number, ServiceTier> = {
  [WireServiceTier.AUTO]: "auto",
  [WireServiceTier.DEFAULT]: "default",
  [WireServiceTier.FLEX]: "flex",
  [WireServiceTier.PRIORITY]: "priority",
};

const invalid = (message: string) => new GatewayError("invalid_argument", message);

/** A caller's free-form string that is stored or forwarded, refused beyond `max` characters. */
export function boundedField(value: string, field: string, max: number): string {
  if (value.length > max) throw invalid(`${field} is ${value.length} characters long: at most ${max}`);
  return value;
}

/** Checks the request-level options and returns only those set, so unset ones build nothing. */
export function toGenerationOptions(req: OptionFields, hasTools: boolean): Options {
  const out: Options = {};
  const reasoning = toReasoning(req.reasoning);
  if (reasoning) out.reasoning = reasoning;
  if (req.promptCacheKey)
    out.promptCacheKey = boundedField(req.promptCacheKey, "prompt_cache_key", MAX_CACHE_KEY);
  // Providers refuse parallel_tool_calls without tools; with none it says nothing, so it is dropped.
  if (req.parallelToolCalls !== undefined && hasTools) out.parallelToolCalls = req.parallelToolCalls;
  if (req.topLogprobs > MAX_TOP_LOGPROBS)
    throw invalid(`top_logprobs is ${req.topLogprobs}: at most ${MAX_TOP_LOGPROBS}`);
  if (req.topLogprobs > 0 && !req.logprobs) throw invalid("top_logprobs needs logprobs set to true");
  if (req.logprobs) out.logprobs = { top: req.topLogprobs };
  if (req.n > 1)
    throw invalid(
      `n is ${req.n}: the gateway returns one choice per request (send n = 1, or several requests)`,
    );
  const metadata = Object.entries(req.providerMetadata);
  if (metadata.length > 0) {
    if (metadata.length > MAX_METADATA_KEYS)
      throw invalid(`provider_metadata has ${metadata.length} keys: at most ${MAX_METADATA_KEYS}`);
    for (const [key, value] of metadata) {
      if (key.length > MAX_METADATA_KEY || key === "")
        throw invalid(`provider_metadata: keys must be 1-${MAX_METADATA_KEY} characters`);
      boundedField(value, `provider_metadata["${key}"]`, MAX_METADATA_VALUE);
    }
    out.providerMetadata = Object.fromEntries(metadata);
  }
  requireKnown(ServiceTierSchema, req.serviceTier, "service_tier");
  const tier = TIER[req.serviceTier];
  if (tier) out.serviceTier = tier;
  return out;
}

function toReasoning(r: WireReasoning | undefined): ReasoningOptions | undefined {
  if (!r) return undefined;
  requireKnown(ReasoningEffortSchema, r.effort, "reasoning.effort");
  const effort = EFFORT[r.effort as keyof typeof EFFORT];
  if (r.budgetTokens !== undefined && (r.budgetTokens < 1 || r.budgetTokens > MAX_BUDGET_TOKENS))
    throw invalid(`reasoning.budget_tokens must be between 1 and ${MAX_BUDGET_TOKENS}`);
  if (!effort && r.budgetTokens === undefined)
    throw invalid("reasoning: set effort (REASONING_EFFORT_LOW, _MEDIUM or _HIGH) or budget_tokens");
  return {
    includeText: r.includeText,
    ...(effort ? { effort } : {}),
    ...(r.budgetTokens !== undefined ? { budgetTokens: r.budgetTokens } : {}),
  };
}
