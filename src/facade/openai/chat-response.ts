import { randomBytes } from "node:crypto";
import type { FinishReason, GenerateOutput, ServiceTier, TokenLogprob } from "../../adapters/adapter.ts";
import type { MeteredUsage } from "../../metering/meter.ts";

/** OpenAI has no "other": a provider's unnamed reason reads as a normal stop. */
const FINISH: Record<FinishReason, string> = {
  stop: "stop",
  length: "length",
  tool_calls: "tool_calls",
  content_filter: "content_filter",
  other: "stop",
};

export type OpenAIUsage = {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number; audio_tokens?: number; cache_write_tokens?: number };
  completion_tokens_details?: {
    reasoning_tokens: number;
    audio_tokens: number;
    accepted_prediction_tokens: number;
    rejected_prediction_tokens: number;
  };
};

/**
 * Usage as api.openai.com reports it. A class the provider did not report is left out rather than
 * shown as 0 (an Anthropic thinking model spends reasoning tokens it does not count apart):
 * `completion_tokens_details` comes, with OpenAI's four fields, when reasoning tokens were
 * reported; the facade never outputs audio or predictions, so those are 0.
 */
export function usageOf(u: MeteredUsage): OpenAIUsage {
  const prompt: OpenAIUsage["prompt_tokens_details"] = { cached_tokens: u.cachedInputTokens };
  if (u.audioInputTokens !== undefined) prompt.audio_tokens = u.audioInputTokens;
  if (u.cacheWriteTokens !== undefined) prompt.cache_write_tokens = u.cacheWriteTokens;
  const out: OpenAIUsage = {
    prompt_tokens: u.inputTokens,
    completion_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    prompt_tokens_details: prompt,
  };
  if (u.reasoningTokens !== undefined) {
    out.completion_tokens_details = {
      reasoning_tokens: u.reasoningTokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    };
  }
  return out;
}

/**
 * `choices[].logprobs` as OpenAI shapes it. `bytes` are the provider's; an alternative's bytes are
 * null (no provider gives them, and a token's text cannot be re-encoded into the bytes of a token
 * that splits a UTF-8 character).
 */
export function logprobsOf(tokens: readonly TokenLogprob[]) {
  return {
    content: tokens.map((t) => ({
      token: t.token,
      logprob: t.logprob,
      bytes: t.bytes ?? null,
      top_logprobs: t.topLogprobs.map((a) => ({ token: a.token, logprob: a.logprob, bytes: null })),
    })),
    refusal: null,
  };
}

/** What the caller asked to get back beyond OpenAI's defaults. */
export type RenderOptions = {
  /**
   * Reasoning text as `reasoning_content` (the field vLLM and DeepSeek use; OpenAI's chat API has
   * no reasoning field). Off by default: the text never mixes into `content`.
   */
  reasoningText: boolean;
};

/** A tool call id for providers that send none; the SDKs need one to reassemble calls. */
function callId(): string {
  return `call_${randomBytes(12).toString("base64url")}`;
}

/** The unary answer, shaped as api.openai.com shapes `chat.completion`. */
export function chatCompletion(
  id: string,
  created: number,
  output: GenerateOutput,
  usage: MeteredUsage,
  options: RenderOptions,
): Record<string, unknown> {
  const toolCalls = output.toolCalls.map((c) => ({
    id: c.id || callId(),
    type: "function",
    function: { name: c.name, arguments: c.arguments },
  }));
  const message: Record<string, unknown> = {
    role: "assistant",
    content: output.text === "" && toolCalls.length > 0 ? null : output.text,
    refusal: null,
    annotations: [],
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const reasoning = (output.reasoning ?? []).map((b) => b.text).join("");
  if (options.reasoningText && reasoning !== "") message.reasoning_content = reasoning;
  const logprobs = output.logprobs ? logprobsOf(output.logprobs) : null;
  return {
    id,
    object: "chat.completion",
    created,
    model: output.model,
    choices: [{ index: 0, message, logprobs, finish_reason: FINISH[output.finishReason] }],
    usage: usageOf(usage),
    ...(output.serviceTier ? { service_tier: output.serviceTier } : {}),
    system_fingerprint: null,
  };
}

/**
 * Builds the `chat.completion.chunk` stream: a first chunk with the role,
 * content and tool-call deltas (a call's id, type and name on its first
 * piece), one chunk with the finish reason, and with include_usage a last
 * chunk with `choices: []` and the usage (every other chunk then has
 * `"usage": null`), as api.openai.com does. Logprobs ride on their text's
 * chunk; reasoning text (when asked) comes as `reasoning_content` deltas,
 * never in `content`; the service tier, known at the finish, is on the finish
 * chunk and the ones after it.
 */
export class ChunkBuilder {
  readonly #id: string;
  readonly #created: number;
  readonly #includeUsage: boolean;
  readonly #options: RenderOptions;
  #model = "";
  #serviceTier: ServiceTier | undefined;
  #started = false;
  #finished = false;
  readonly #callIds = new Map<number, string>();

  constructor(id: string, created: number, includeUsage: boolean, options: RenderOptions) {
    this.#id = id;
    this.#created = created;
    this.#includeUsage = includeUsage;
    this.#options = options;
  }

  text(text: string, model: string, logprobs?: readonly TokenLogprob[]): Record<string, unknown>[] {
    const start = this.#start(model, "");
    return [...start, this.#chunk({ content: text }, null, logprobs ? logprobsOf(logprobs) : null)];
  }

  /** A piece of reasoning text: a `reasoning_content` delta when the caller asked, else nothing. */
  reasoning(text: string | undefined, model: string): Record<string, unknown>[] {
    if (!this.#options.reasoningText || !text) return [];
    return [...this.#start(model, ""), this.#chunk({ reasoning_content: text })];
  }

  toolCall(
    delta: { index: number; id?: string; name?: string; argumentsDelta: string },
    model: string,
  ): Record<string, unknown>[] {
    const first = !this.#callIds.has(delta.index);
    const piece: Record<string, unknown> = { index: delta.index };
    if (first) {
      const id = delta.id || callId();
      this.#callIds.set(delta.index, id);
      piece.id = id;
      piece.type = "function";
      piece.function = { name: delta.name ?? "", arguments: delta.argumentsDelta };
    } else {
      piece.function = { arguments: delta.argumentsDelta };
    }
    return [...this.#start(model, null), this.#chunk({ tool_calls: [piece] })];
  }

  /** The finish chunk (once); also the role chunk if nothing came before it. */
  finish(reason: FinishReason, model: string, serviceTier?: ServiceTier): Record<string, unknown>[] {
    if (this.#finished) return [];
    this.#finished = true;
    this.#serviceTier = serviceTier;
    return [...this.#start(model, ""), this.#chunk({}, FINISH[reason])];
  }

  /** Whatever a complete stream still owes: finish if no finish event came, then the usage chunk if asked. */
  end(usage: MeteredUsage, model: string): Record<string, unknown>[] {
    const out = this.finish("stop", model);
    if (this.#includeUsage) {
      out.push({ ...this.#base(), choices: [], usage: usageOf(usage) });
    }
    return out;
  }

  #start(model: string, content: string | null): Record<string, unknown>[] {
    if (this.#started) return [];
    this.#started = true;
    this.#model = model;
    return [this.#chunk({ role: "assistant", content, refusal: null })];
  }

  #chunk(
    delta: Record<string, unknown>,
    finishReason: string | null = null,
    logprobs: ReturnType<typeof logprobsOf> | null = null,
  ): Record<string, unknown> {
    const chunk: Record<string, unknown> = {
      ...this.#base(),
      choices: [{ index: 0, delta, logprobs, finish_reason: finishReason }],
    };
    if (this.#includeUsage) chunk.usage = null;
    return chunk;
  }

  #base() {
    return {
      id: this.#id,
      object: "chat.completion.chunk",
      created: this.#created,
      model: this.#model,
      ...(this.#serviceTier ? { service_tier: this.#serviceTier } : {}),
      system_fingerprint: null,
    };
  }
}
