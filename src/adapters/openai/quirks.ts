/**
 * Per-server differences of OpenAI-compatible APIs, as data. One translator (translate.ts) reads this
 * table instead of forking per server; a backend picks its row with `quirks` in the config.
 */

export const QUIRK_PROFILES = ["openai", "vllm", "ollama", "llama-server", "mistral"] as const;
export type QuirkProfileName = (typeof QUIRK_PROFILES)[number];

export type MaxTokensField = "max_tokens" | "max_completion_tokens";

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
  /** Forward the end-user id as `user` (Mistral rejects the field). */
  sendUser: boolean;
  /** `name` on system/user/assistant messages (Mistral accepts it only on tool messages). */
  participantNames: boolean;
  /** base64 little-endian float32 is a quarter of the JSON size; only where the server is known to honour it. */
  embeddingEncoding: "base64" | "float";
  /** Field carrying the requested embedding size. */
  dimensionsField: "dimensions" | "output_dimension";
};

/** What OpenAI's API does; the self-hosted OpenAI-compatible servers differ from it in a field or two. */
const OPENAI: QuirkProfile = {
  maxTokensField: "by-model",
  seedField: "seed",
  toolChoiceRequired: "required",
  toolCallIds: "any",
  streamUsageOption: true,
  sendUser: true,
  participantNames: true,
  embeddingEncoding: "base64",
  dimensionsField: "dimensions",
};

export const QUIRKS: Readonly<Record<QuirkProfileName, Readonly<QuirkProfile>>> = {
  openai: OPENAI,
  vllm: { ...OPENAI, maxTokensField: "max_tokens" },
  ollama: { ...OPENAI, maxTokensField: "max_tokens", embeddingEncoding: "float" },
  "llama-server": { ...OPENAI, maxTokensField: "max_tokens", embeddingEncoding: "float" },
  mistral: {
    maxTokensField: "max_tokens",
    seedField: "random_seed",
    toolChoiceRequired: "any",
    toolCallIds: "alnum9",
    streamUsageOption: false,
    sendUser: false,
    participantNames: false,
    embeddingEncoding: "float",
    dimensionsField: "output_dimension",
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
