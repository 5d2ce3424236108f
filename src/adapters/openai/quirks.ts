/**
 * Per-server differences of OpenAI-compatible APIs, as data. One translator (translate.ts) reads this
 * table instead of forking per server; a backend picks its row with `quirks` in the config.
 */

import type { AudioFormat, ServiceTier } from "../adapter.ts";

export const QUIRK_PROFILES = ["openai", "vllm", "ollama", "llama-server", "mistral"] as const;
export type QuirkProfileName = (typeof QUIRK_PROFILES)[number];

export type MaxTokensField = "max_tokens" | "max_completion_tokens";

/** How a PDF (or other binary document) travels: OpenAI's `file` part, Mistral's `document_url`, or not at all. */
export type DocumentPart = "file" | "document_url" | "none";

export type QuirkProfile = {
  /**
   * Output-cap field when the backend config names none. "by-model": OpenAI's reasoning models (o-series,
   * gpt-5) reject `max_tokens`, while many OpenAI-compatible servers know only `max_tokens`.
   */
  maxTokensField: MaxTokensField | "by-model";
  /** Mistral calls the sampling seed `random_seed` and rejects `seed` as an extra field. */
  seedField: "seed" | "random_seed";
  /** Wire value of "the model must call some tool". */
  toolChoiceRequired: "required" | "any";
  /** "alnum9": the server rejects tool-call ids that are not exactly 9 of [A-Za-z0-9] (Mistral). */
  toolCallIds: "any" | "alnum9";
  /**
   * Ask for usage in a last stream chunk (`stream_options.include_usage`). Servers that predate it ignore
   * the field (old Ollama: no usage, the gateway estimates); Mistral rejects it and sends usage anyway.
   */
  streamUsageOption: boolean;
  /**
   * Field carrying the end-user id: OpenAI deprecated `user` for `safety_identifier`; the self-hosted
   * servers know only `user`; Mistral rejects both (undefined: not sent).
   */
  endUserField: "safety_identifier" | "user" | undefined;
  /** `name` on system/user/assistant messages (Mistral accepts it only on tool messages). */
  participantNames: boolean;
  /** base64 little-endian float32 is a quarter of the JSON size; only where the server is known to honour it. */
  embeddingEncoding: "base64" | "float";
  /** Field carrying the requested embedding size. */
  dimensionsField: "dimensions" | "output_dimension";
  /** Audio formats `input_audio` parts may carry; an audio part in another format is refused. */
  audioFormats: readonly AudioFormat[];
  /** `input_audio` as `{data, format}` (OpenAI) or as the bare base64 string (Mistral, which sniffs the format). */
  audioPart: "object" | "base64";
  documents: DocumentPart;
  /**
   * Images in a tool result: "inline" as parts of the tool message (Mistral), or "user-message": OpenAI
   * takes only text parts on tool messages, so the images follow the tool results in a user message.
   */
  toolImages: "inline" | "user-message";
  /** Send `logprobs`/`top_logprobs`; false: a request asking for them is refused (the answer would lack them). */
  logprobs: boolean;
  /** Send `prompt_cache_key` (servers without it cache prefixes on their own and would ignore it). */
  promptCacheKey: boolean;
  /**
   * Send `metadata`. OpenAI answers 400 to `metadata` without `store: true`, and storing the conversation
   * at the provider is a retention choice the gateway does not make for the caller: not sent there.
   */
  metadata: boolean;
  /** Wire value of each requested service tier; a tier without one is not sent (the server's default applies). */
  serviceTiers: Readonly<Partial<Record<ServiceTier, string>>>;
  /** Family that produced reasoning this server returns, and that may receive it back (ReasoningBlock.provider). */
  reasoningProvider: "openai" | "mistral";
  /**
   * Send reasoning blocks of `reasoningProvider` back as `thinking` chunks of assistant messages (Mistral).
   * Chat Completions has no field for OpenAI's encrypted reasoning, and vLLM / llama-server / Ollama chat
   * templates strip earlier reasoning, so the other rows drop reasoning blocks.
   */
  thinkingChunks: boolean;
};

/** What OpenAI's API does; the self-hosted OpenAI-compatible servers differ from it in a field or two. */
const OPENAI: QuirkProfile = {
  maxTokensField: "by-model",
  seedField: "seed",
  toolChoiceRequired: "required",
  toolCallIds: "any",
  streamUsageOption: true,
  endUserField: "safety_identifier",
  participantNames: true,
  embeddingEncoding: "base64",
  dimensionsField: "dimensions",
  audioFormats: ["wav", "mp3"],
  audioPart: "object",
  documents: "file",
  toolImages: "user-message",
  logprobs: true,
  promptCacheKey: true,
  metadata: false,
  serviceTiers: { auto: "auto", default: "default", flex: "flex", priority: "priority" },
  reasoningProvider: "openai",
  thinkingChunks: false,
};

/**
 * What the self-hosted servers share: no tiers, cache keys (they cache prefixes on their own) or metadata;
 * `user` as the end-user field; reasoning_effort, parallel_tool_calls and logprobs are sent (each server's
 * OpenAI-compatible docs list them; a model without reasoning ignores the effort).
 */
const SELF_HOSTED: QuirkProfile = {
  ...OPENAI,
  maxTokensField: "max_tokens",
  endUserField: "user",
  promptCacheKey: false,
  serviceTiers: {},
};

export const QUIRKS: Readonly<Record<QuirkProfileName, Readonly<QuirkProfile>>> = {
  openai: OPENAI,
  // vLLM decodes any audio its backend reads; it has no `file` part (PDFs are refused), logprobs yes.
  vllm: { ...SELF_HOSTED, audioFormats: ["wav", "mp3", "flac", "ogg"], documents: "none" },
  // Ollama's /v1 takes text and image parts only (its compatibility docs: no audio, no files).
  ollama: { ...SELF_HOSTED, embeddingEncoding: "float", audioFormats: [], documents: "none" },
  // llama-server (mtmd) takes image_url and wav/mp3 input_audio; no `file` part.
  "llama-server": { ...SELF_HOSTED, embeddingEncoding: "float", documents: "none" },
  // La Plateforme: no logprobs; `service_tier` is auto | standard_only; audio is bare base64 (no format).
  mistral: {
    maxTokensField: "max_tokens",
    seedField: "random_seed",
    toolChoiceRequired: "any",
    toolCallIds: "alnum9",
    streamUsageOption: false,
    endUserField: undefined,
    participantNames: false,
    embeddingEncoding: "float",
    dimensionsField: "output_dimension",
    audioFormats: ["wav", "mp3", "flac", "ogg"],
    audioPart: "base64",
    documents: "document_url",
    toolImages: "inline",
    logprobs: false,
    promptCacheKey: true,
    metadata: true,
    serviceTiers: { auto: "auto", default: "standard_only" },
    reasoningProvider: "mistral",
    thinkingChunks: true,
  },
};

/** o1, o3-mini, o4-mini-2025-04-16, gpt-5, gpt-5.1-mini … (optionally behind an "openai/" prefix). */
const REASONING_MODEL = /^(?:openai\/)?(?:o\d+(?:$|-)|gpt-5)/i;

/** The output-cap field for one request: the backend's configured field wins over the profile's default. */
export function maxTokensFieldFor(
  profile: QuirkProfile,
  configured: MaxTokensField | undefined,
  model: string,
): MaxTokensField {
  if (configured !== undefined) return configured;
  if (profile.maxTokensField !== "by-model") return profile.maxTokensField;
  return REASONING_MODEL.test(model) ? "max_completion_tokens" : "max_tokens";
}
