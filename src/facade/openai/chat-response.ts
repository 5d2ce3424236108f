import { randomBytes } from "node:crypto";
import type { FinishReason, GenerateOutput } from "../../adapters/adapter.ts";
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
  prompt_tokens_details: { cached_tokens: number };
};

export function usageOf(u: MeteredUsage): OpenAIUsage {
  return {
    prompt_tokens: u.inputTokens,
    completion_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cachedInputTokens },
  };
}

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
  return {
    id,
    object: "chat.completion",
    created,
    model: output.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: FINISH[output.finishReason] }],
    usage: usageOf(usage),
    system_fingerprint: null,
  };
}

/**
 * Builds the `chat.completion.chunk` stream: a first chunk with the role,
 * content and tool-call deltas (a call's id, type and name on its first
 * piece), one chunk with the finish reason, and with include_usage a last
 * chunk with `choices: []` and the usage (every other chunk then has
 * `"usage": null`), as api.openai.com does.
 */
export class ChunkBuilder {
  readonly #id: string;
  readonly #created: number;
  readonly #includeUsage: boolean;
  #model = "";
  #started = false;
  #finished = false;
  readonly #callIds = new Map<number, string>();

  constructor(id: string, created: number, includeUsage: boolean) {
    this.#id = id;
    this.#created = created;
    this.#includeUsage = includeUsage;
  }

  text(text: string, model: string): Record<string, unknown>[] {
    return [...this.#start(model, ""), this.#chunk({ content: text })];
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
  finish(reason: FinishReason, model: string): Record<string, unknown>[] {
    if (this.#finished) return [];
    this.#finished = true;
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

  #chunk(delta: Record<string, unknown>, finishReason: string | null = null): Record<string, unknown> {
    const chunk: Record<string, unknown> = {
      ...this.#base(),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
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
      system_fingerprint: null,
    };
  }
}
