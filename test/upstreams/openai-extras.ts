// What the OpenAI fake answers beyond text and tool calls: token logprobs (when the request sets
// `logprobs: true`), the service tier it served at, and reasoning text the way self-hosted servers return
// it (`reasoning` / `reasoning_content` fields) or Mistral does (`thinking` content chunks).
import type { OpenAIDialect } from "./openai-dialects.ts";

type Json = Record<string, unknown>;

export type ReasoningField = "reasoning" | "reasoning_content";

/**
 * Where each dialect puts reasoning text: vLLM ≥ 0.11 (served by the `openai` dialect: api.openai.com
 * itself returns none) and Ollama's /v1 use `reasoning`, llama-server `reasoning_content` (DeepSeek's
 * name), Mistral `thinking` chunks inside `content`.
 */
export const REASONING_FIELD: Record<OpenAIDialect, ReasoningField | "thinking"> = {
  openai: "reasoning",
  ollama: "reasoning",
  "llama-server": "reasoning_content",
  mistral: "thinking",
};

/** A deterministic log probability for a token: a test can compute what the fake sent. */
export function fakeLogprob(token: string, rank = 0): number {
  let sum = 0;
  for (const byte of Buffer.from(token)) sum += byte;
  return -((sum % 97) + 1) / 100 - rank;
}

/** One `logprobs.content` entry as OpenAI sends it: the token, its bytes and `top` alternatives. */
export function logprobEntry(token: string, top: number): Json {
  const bytes = (text: string) => [...Buffer.from(text)];
  const alternatives = Array.from({ length: top }, (_, rank) => {
    const alt = rank === 0 ? token : `${token}~${rank}`;
    return { token: alt, logprob: fakeLogprob(token, rank), bytes: bytes(alt) };
  });
  return { token, logprob: fakeLogprob(token), bytes: bytes(token), top_logprobs: alternatives };
}

/** `logprobs` of a choice for these tokens (`null` when the request did not ask). */
export function logprobsObject(tokens: readonly string[], asked: { top: number } | undefined): Json | null {
  if (asked === undefined) return null;
  return { content: tokens.map((t) => logprobEntry(t, asked.top)), refusal: null };
}

/** The request's `logprobs`/`top_logprobs`, as the fake honours them. */
export function logprobsAsked(body: Json): { top: number } | undefined {
  if (body.logprobs !== true) return undefined;
  return { top: typeof body.top_logprobs === "number" ? body.top_logprobs : 0 };
}

/**
 * The tier api.openai.com reports: the one asked for when it is flex or priority (the fake has capacity),
 * "default" for auto, default or nothing.
 */
export function openAIServiceTier(requested: unknown): string {
  return requested === "flex" || requested === "priority" || requested === "scale" ? requested : "default";
}

/** Mistral's `thinking` chunk carrying one piece of reasoning text. */
export function thinkingChunk(text: string): Json {
  return { type: "thinking", thinking: [{ type: "text", text }] };
}

/**
 * The tier each server reports for a request's `service_tier`: api.openai.com always reports one; Mistral
 * reports "standard" in usage when a tier was asked; the self-hosted servers have none.
 */
export const SERVICE_TIER: Record<OpenAIDialect, (requested: unknown) => string | undefined> = {
  openai: openAIServiceTier,
  mistral: (requested) => (requested === undefined ? undefined : "standard"),
  ollama: () => undefined,
  "llama-server": () => undefined,
};
