/**
 * The one interface every provider adapter implements, and the
 * protocol-neutral shapes that flow through it. Nothing here knows which
 * client protocol asked, and nothing above adapters/ knows a provider's wire
 * format.
 */

export type Role = "system" | "user" | "assistant" | "tool";

export type ToolCall = { id: string; name: string; arguments: string };

export type ChatMessage = {
  role: Role;
  /** Text content (content parts joined). */
  content: string;
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
};

export type EmbedInput = { model: string; inputs: string[]; dimensions?: number };

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "other";

export type TokenUsage = { inputTokens: number; outputTokens: number; cachedInputTokens: number };

/** One event of a streamed generation, in provider-neutral form. */
export type AdapterEvent =
  | { type: "text"; text: string }
  | { type: "tool_call"; index: number; id?: string; name?: string; argumentsDelta: string }
  | { type: "usage"; usage: TokenUsage }
  | { type: "finish"; reason: FinishReason; model?: string };

export type GenerateOutput = {
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  /** Absent when the provider reported none (the gateway estimates). */
  usage?: TokenUsage;
  /** Model that actually served, as the provider reported it. */
  model: string;
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
