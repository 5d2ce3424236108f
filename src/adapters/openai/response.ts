import type { ReasoningBlock, ServiceTier, TokenLogprob, TokenUsage } from "../adapter.ts";

/** Wire shapes of what Chat Completions servers answer beyond text and tool calls, as much as we read. */
export type WireUsage = {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: {
    cached_tokens?: number;
    audio_tokens?: number;
    cache_write_tokens?: number;
  } | null;
  completion_tokens_details?: { reasoning_tokens?: number } | null;
  /** Mistral reports the tier it served at inside usage ("standard" | "priority"). */
  service_tier?: string | null;
};
type WireTopLogprob = { token?: string; logprob?: number };
export type WireLogprob = WireTopLogprob & {
  bytes?: number[] | null;
  top_logprobs?: WireTopLogprob[] | null;
};
export type WireLogprobs = { content?: WireLogprob[] | null } | null;
/** A content chunk: Mistral's `text` and `thinking` (magistral models), nested as Mistral nests them. */
type WireChunk = { type?: string; text?: string; thinking?: WireChunk[] | string; signature?: string | null };
/** `content` as a string (OpenAI, most servers) or as chunks (Mistral reasoning models). */
export type WireContent = string | WireChunk[] | null | undefined;
/** A message or delta's reasoning text: vLLM ≥ 0.11 and Ollama `reasoning`, DeepSeek-style `reasoning_content`. */
export type WireReasoningFields = { reasoning?: string | null; reasoning_content?: string | null };

function count(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * Token classes as reported; an optional class is set only when the server sent its count (a reported 0
 * included: it is exact). OpenAI's prompt_tokens include the cached and audio ones, and its
 * completion_tokens the reasoning ones, as TokenUsage counts them.
 */
export function usageOf(usage: WireUsage | null | undefined): TokenUsage | undefined {
  if (!usage || typeof usage.prompt_tokens !== "number") return undefined;
  const input = usage.prompt_tokens_details;
  const reasoning = count(usage.completion_tokens_details?.reasoning_tokens);
  const audio = count(input?.audio_tokens);
  const cacheWrite = count(input?.cache_write_tokens);
  return {
    inputTokens: usage.prompt_tokens,
    outputTokens: usage.completion_tokens ?? 0,
    cachedInputTokens: count(input?.cached_tokens) ?? 0,
    ...(reasoning !== undefined ? { reasoningTokens: reasoning } : {}),
    ...(cacheWrite !== undefined ? { cacheWriteTokens: cacheWrite } : {}),
    ...(audio !== undefined ? { audioInputTokens: audio } : {}),
  };
}

const TIERS: Readonly<Record<string, ServiceTier>> = {
  auto: "auto",
  default: "default",
  flex: "flex",
  priority: "priority",
  standard: "default", // Mistral's name for its default tier
};

/** The tier the server says it served at; tiers with no neutral name (OpenAI's "scale") are left out. */
export function serviceTierOf(...reported: (string | null | undefined)[]): ServiceTier | undefined {
  for (const tier of reported) if (typeof tier === "string" && Object.hasOwn(TIERS, tier)) return TIERS[tier];
  return undefined;
}

export function logprobsOf(wire: WireLogprobs | undefined): TokenLogprob[] | undefined {
  const content = wire?.content;
  if (!Array.isArray(content) || content.length === 0) return undefined;
  return content.map((entry) => ({
    token: entry.token ?? "",
    logprob: entry.logprob ?? 0,
    ...(Array.isArray(entry.bytes) ? { bytes: entry.bytes } : {}),
    topLogprobs: (entry.top_logprobs ?? []).map((top) => ({
      token: top.token ?? "",
      logprob: top.logprob ?? 0,
    })),
  }));
}

/** Text of a `thinking` chunk: its nested text chunks joined (a plain string from older servers). */
function thinkingText(thinking: WireChunk["thinking"]): string {
  if (typeof thinking === "string") return thinking;
  return (thinking ?? [])
    .map((c) => (c.type === "text" && typeof c.text === "string" ? c.text : ""))
    .join("");
}

/** A content value split into its answer text and reasoning pieces (Mistral `thinking` chunks). */
export function splitContent(content: WireContent): {
  text: string;
  thinking: { text: string; signature?: string }[];
} {
  if (typeof content === "string") return { text: content, thinking: [] };
  if (!Array.isArray(content)) return { text: "", thinking: [] };
  let text = "";
  const thinking: { text: string; signature?: string }[] = [];
  for (const chunk of content) {
    if (chunk.type === "text" && typeof chunk.text === "string") text += chunk.text;
    else if (chunk.type === "thinking") {
      thinking.push({
        text: thinkingText(chunk.thinking),
        ...(typeof chunk.signature === "string" ? { signature: chunk.signature } : {}),
      });
    }
  }
  return { text, thinking };
}

/** Reasoning text in the message's own field, if the server sent one. */
export function reasoningFieldOf(fields: WireReasoningFields | undefined): string | undefined {
  const text = fields?.reasoning_content ?? fields?.reasoning;
  return typeof text === "string" && text.length > 0 ? text : undefined;
}

/** The reasoning blocks of a whole message: the reasoning field, then thinking chunks merged into one. */
export function reasoningBlocksOf(
  fields: WireReasoningFields | undefined,
  thinking: readonly { text: string; signature?: string }[],
  provider: string,
): ReasoningBlock[] {
  const field = reasoningFieldOf(fields);
  if (field !== undefined) return [{ text: field, provider }];
  if (thinking.length === 0) return [];
  const signature = thinking.findLast((t) => t.signature !== undefined)?.signature;
  return [
    {
      text: thinking.map((t) => t.text).join(""),
      provider,
      ...(signature !== undefined ? { signature } : {}),
    },
  ];
}
