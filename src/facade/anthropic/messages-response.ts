import { randomBytes } from "node:crypto";
import type { FinishReason, GenerateOutput, ServiceTier } from "../../adapters/adapter.ts";
import type { MeteredUsage } from "../../metering/meter.ts";
import { thinkingBlockOf } from "./reasoning-signature.ts";

/**
 * The neutral finish reason as Anthropic's stop_reason. A stop at a stop sequence reads as
 * end_turn: the neutral answer does not say which sequence (stop_sequence is always null).
 */
const STOP_REASON: Record<FinishReason, string> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  content_filter: "refusal",
  other: "end_turn",
};

export function stopReasonOf(reason: FinishReason): string {
  return STOP_REASON[reason];
}

export type AnthropicUsage = {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  service_tier: "standard" | "priority" | null;
};

/**
 * Neutral usage in Anthropic's terms: its input_tokens are the uncached ones only, the cache
 * reads and writes being counted apart (the neutral inputTokens counts all three).
 */
export function usageOf(u: MeteredUsage, tier?: ServiceTier): AnthropicUsage {
  const read = u.cachedInputTokens;
  const write = u.cacheWriteTokens ?? 0;
  const write1h = u.cacheWrite1hTokens ?? 0;
  return {
    input_tokens: Math.max(0, u.inputTokens - read - write),
    output_tokens: u.outputTokens,
    cache_creation_input_tokens: write,
    cache_read_input_tokens: read,
    cache_creation: { ephemeral_5m_input_tokens: write - write1h, ephemeral_1h_input_tokens: write1h },
    service_tier: tier === undefined ? null : tier === "priority" ? "priority" : "standard",
  };
}

/** A tool_use id for providers that send none; clients send it back in their tool_result. */
export function toolUseId(id: string | undefined): string {
  return id || `toolu_${randomBytes(12).toString("base64url")}`;
}

/** A tool call's arguments as the `input` object Anthropic returns (a provider's broken JSON kept as text). */
export function inputOf(args: string): unknown {
  if (args.trim() === "") return {};
  try {
    return JSON.parse(args);
  } catch {
    return { _raw_arguments: args };
  }
}

/** The unary answer, shaped as api.anthropic.com shapes a `message`. */
export function messageOf(id: string, output: GenerateOutput, usage: MeteredUsage): Record<string, unknown> {
  const content: Record<string, unknown>[] = (output.reasoning ?? []).map(thinkingBlockOf);
  if (output.text !== "" || output.toolCalls.length === 0) content.push({ type: "text", text: output.text });
  for (const c of output.toolCalls)
    content.push({ type: "tool_use", id: toolUseId(c.id), name: c.name, input: inputOf(c.arguments) });
  return {
    id,
    type: "message",
    role: "assistant",
    model: output.model,
    content,
    stop_reason: stopReasonOf(output.finishReason),
    stop_sequence: null,
    usage: usageOf(usage, output.serviceTier),
  };
}
