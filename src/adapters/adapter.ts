/**
 * The one interface every provider adapter implements, and the
 * protocol-neutral shapes that flow through it. Nothing here knows which
 * client protocol asked, and nothing above adapters/ knows a provider's wire
 * format.
 */

export type Role = "system" | "user" | "assistant" | "tool";

export type ToolCall = { id: string; name: string; arguments: string };

/** A prompt-cache breakpoint: the prefix up to and including the marked item may be cached. */
export type CacheBreakpoint = { ttl?: "5m" | "1h" };

export type ImageSource = { url: string } | { data: Uint8Array; mediaType: string };
export type DocumentSource = { url: string } | { data: Uint8Array; mediaType: string } | { text: string };
export type AudioFormat = "wav" | "mp3" | "flac" | "ogg";

/**
 * Reasoning a model produced, exactly as its provider returned it. Only a backend of the family
 * that produced it (`provider`) receives it back; other adapters drop it.
 */
export type ReasoningBlock = {
  text: string;
  /** Anthropic thinking signature / Gemini thought signature. */
  signature?: string;
  /** OpenAI encrypted reasoning / Anthropic redacted_thinking data. */
  encryptedContent?: string;
  /** Provider's id of the reasoning item (OpenAI "rs_…"). */
  id?: string;
  provider: string;
  redacted?: boolean;
};

/** One content part of a message, in order. URLs are passed to the provider, never fetched. */
export type ContentPart =
  | { type: "text"; text: string; cache?: CacheBreakpoint }
  | { type: "image"; source: ImageSource; detail?: "auto" | "low" | "high"; cache?: CacheBreakpoint }
  | { type: "audio"; data: Uint8Array; format: AudioFormat; cache?: CacheBreakpoint }
  | {
      type: "document";
      source: DocumentSource;
      title?: string;
      filename?: string;
      cache?: CacheBreakpoint;
    }
  | ({ type: "reasoning" } & ReasoningBlock);

export type ChatMessage = {
  role: Role;
  /** Text content (text parts joined). */
  content: string;
  /**
   * Every part in order, text included — set only when the message carries more than plain text
   * (media, reasoning, a per-part cache breakpoint), so text-only traffic builds no part arrays.
   * When set, adapters translate `parts` and ignore `content`.
   */
  parts?: ContentPart[];
  /** Cache breakpoint after the whole message. */
  cache?: CacheBreakpoint;
  toolCalls?: ToolCall[];
  toolCallId?: string;
  name?: string;
};

export type ToolSpec = {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object. */
  parameters?: Record<string, unknown>;
  strict?: boolean;
  cache?: CacheBreakpoint;
};

export type ReasoningOptions = {
  effort?: "low" | "medium" | "high";
  budgetTokens?: number;
  /** Return reasoning text (or summaries) where the provider can. */
  includeText: boolean;
};

export type ServiceTier = "auto" | "default" | "flex" | "priority";

export type TokenLogprob = {
  token: string;
  logprob: number;
  bytes?: number[];
  topLogprobs: { token: string; logprob: number }[];
};

export type ToolChoice = { mode: "auto" | "none" | "required" } | { function: string };

export type ResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  | { type: "json_schema"; name: string; schema: Record<string, unknown>; strict: boolean };

export type Sampling = {
  maxOutputTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  seed?: number;
};

export type GenerateInput = {
  /** Model id at the backend (already resolved from the route target). */
  model: string;
  messages: ChatMessage[];
  tools: ToolSpec[];
  toolChoice?: ToolChoice;
  sampling: Sampling;
  responseFormat?: ResponseFormat;
  endUserId?: string;
  reasoning?: ReasoningOptions;
  promptCacheKey?: string;
  parallelToolCalls?: boolean;
  /** Asked for: log probabilities with this many alternatives per token (0–20). */
  logprobs?: { top: number };
  /** Forwarded to providers that store request metadata (OpenAI `metadata`). */
  providerMetadata?: Record<string, string>;
  serviceTier?: ServiceTier;
};

export type EmbedInput = { model: string; inputs: string[]; dimensions?: number };

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "other";

/**
 * Token counts of one request. inputTokens counts every input token, cached and cache-written
 * ones included; outputTokens every output token, reasoning included. The optional classes are set
 * only when the provider reported them (so they are exact); each is a part of input or output.
 */
export type TokenUsage = {
  inputTokens: number;
  outputTokens: number;
  /** Input tokens read from the prompt cache. */
  cachedInputTokens: number;
  reasoningTokens?: number;
  /** Input tokens written to the prompt cache, all TTLs. */
  cacheWriteTokens?: number;
  /** Of cacheWriteTokens, those written with a one-hour TTL. */
  cacheWrite1hTokens?: number;
  audioInputTokens?: number;
  imageInputTokens?: number;
};

/** A piece of reasoning block `index`: text appends; the other fields, when set, complete the block. */
export type ReasoningDelta = {
  type: "reasoning";
  index: number;
  provider: string;
  text?: string;
  signature?: string;
  encryptedContent?: string;
  id?: string;
  redacted?: boolean;
};

/** One event of a streamed generation, in provider-neutral form. */
export type AdapterEvent =
  | { type: "text"; text: string; logprobs?: TokenLogprob[] }
  | { type: "tool_call"; index: number; id?: string; name?: string; argumentsDelta: string }
  | ReasoningDelta
  | { type: "usage"; usage: TokenUsage }
  | { type: "finish"; reason: FinishReason; model?: string; serviceTier?: ServiceTier };

export type GenerateOutput = {
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  /** Absent when the provider reported none (the gateway estimates). */
  usage?: TokenUsage;
  /** Model that actually served, as the provider reported it. */
  model: string;
  reasoning?: ReasoningBlock[];
  logprobs?: TokenLogprob[];
  serviceTier?: ServiceTier;
};

export type EmbedOutput = { vectors: Float32Array[]; usage?: TokenUsage; model: string };

/** What one upstream attempt gets from the router. */
export type AdapterCall = {
  /** Aborts on caller cancel, deadline or shutdown force; adapters must stop the upstream at once. */
  signal: AbortSignal;
  /** Absolute deadline (epoch ms) of this attempt. */
  deadline: number;
  /** Trace-context headers (traceparent) to forward; set only for backends marked trusted. */
  headers?: Readonly<Record<string, string>>;
};

export interface Adapter {
  generate(input: GenerateInput, call: AdapterCall): Promise<GenerateOutput>;
  stream(input: GenerateInput, call: AdapterCall): AsyncIterable<AdapterEvent>;
  embed?(input: EmbedInput, call: AdapterCall): Promise<EmbedOutput>;
  /**
   * Start-up check of the backend's own description (e.g. KServe ModelMetadata against the tensor
   * profile). Throws an Error naming what does not match; an Error whose cause is an UpstreamError
   * means the backend could not be reached (checked again on first use).
   */
  verify?(call: AdapterCall, models: readonly string[]): Promise<unknown>;
  /** Active health check (self-hosted servers): true when ready to serve. Must not throw. */
  health?(call: AdapterCall): Promise<boolean>;
  /** Releases connections once in-flight calls are done. */
  close(): Promise<void>;
}
