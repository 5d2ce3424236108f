import type { ServiceTier, TokenUsage } from "../adapter.ts";

/** Anthropic's usage object, as much as we read (message, message_start and message_delta share it). */
export type WireUsage = {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  /** Cache writes split by TTL; their sum is cache_creation_input_tokens. */
  cache_creation?: {
    ephemeral_5m_input_tokens?: number | null;
    ephemeral_1h_input_tokens?: number | null;
  } | null;
  output_tokens_details?: { thinking_tokens?: number | null } | null;
  /** "standard" | "priority" | "batch": the capacity that served. */
  service_tier?: string | null;
};

/**
 * Anthropic reports cache reads and writes apart from `input_tokens`; the neutral input counts all input,
 * so they are added back. Each optional class is set only when Anthropic reported it (so it is exact).
 */
export function usageOf(usage: WireUsage | undefined): TokenUsage | undefined {
  if (!usage || typeof usage.input_tokens !== "number") return undefined;
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  const cacheWrite = usage.cache_creation_input_tokens;
  const write1h = usage.cache_creation?.ephemeral_1h_input_tokens;
  const thinking = usage.output_tokens_details?.thinking_tokens;
  return {
    inputTokens: usage.input_tokens + cacheRead + (cacheWrite ?? 0),
    outputTokens: usage.output_tokens ?? 0,
    cachedInputTokens: cacheRead,
    ...(typeof thinking === "number" ? { reasoningTokens: thinking } : {}),
    ...(typeof cacheWrite === "number" ? { cacheWriteTokens: cacheWrite } : {}),
    ...(typeof write1h === "number" ? { cacheWrite1hTokens: write1h } : {}),
  };
}

/** The tier that served: "batch" (and anything added later) has no neutral counterpart and is left out. */
export function serviceTierOf(usage: WireUsage | undefined): ServiceTier | undefined {
  if (usage?.service_tier === "standard") return "default";
  if (usage?.service_tier === "priority") return "priority";
  return undefined;
}
