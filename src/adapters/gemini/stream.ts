import { UpstreamError } from "../../errors/upstream-error.ts";
import type { AdapterEvent, FinishReason, TokenUsage } from "../adapter.ts";
import { finishReasonOf, logprobsOf, PartReader, usageOf, type WireResponse } from "./response.ts";

/**
 * Turns the chunks of `streamGenerateContent?alt=sse` into adapter events. Gemini sends whole
 * GenerateContentResponse objects: text and thought parts are deltas, a functionCall part is
 * complete (never split), usageMetadata is cumulative (the last one counts), and there is no
 * terminator — only the last chunk's finishReason tells a finished stream from one cut short.
 * Within a chunk, reasoning goes out first (thoughts precede the answer), then text with the
 * chunk's logprobs, then tool calls.
 */
export class GeminiStream {
  readonly #backend: string;
  readonly #parts = new PartReader();
  #usage: TokenUsage | undefined;
  #model: string | undefined;
  #reason: FinishReason | undefined;
  #lastHadFinish = false;
  /** Whether any text, reasoning or tool call went out (a later failure is then after the first token). */
  produced = false;

  constructor(backend: string) {
    this.#backend = backend;
  }

  *events(chunk: WireResponse): Generator<AdapterEvent> {
    const candidate = chunk.candidates?.[0];
    const { reasoning, text, calls } = this.#parts.read(candidate);
    for (const delta of reasoning) {
      this.produced = true;
      yield delta;
    }
    if (text !== "") {
      this.produced = true;
      const logprobs = logprobsOf(candidate?.logprobsResult);
      yield { type: "text", text, ...(logprobs ? { logprobs } : {}) };
    }
    for (const call of calls) {
      this.produced = true;
      yield {
        type: "tool_call",
        index: call.index,
        id: call.id,
        name: call.name,
        argumentsDelta: call.arguments,
      };
    }
    this.#usage = usageOf(chunk.usageMetadata) ?? this.#usage;
    if (chunk.modelVersion) this.#model = chunk.modelVersion;
    const blocked = candidate === undefined && chunk.promptFeedback?.blockReason !== undefined;
    this.#lastHadFinish = blocked || candidate?.finishReason !== undefined;
    if (blocked) this.#reason = "content_filter";
    else if (candidate?.finishReason !== undefined) {
      this.#reason = finishReasonOf(candidate.finishReason, this.#parts.calls > 0);
    }
  }

  /** The closing events once the body has ended; throws when the last chunk did not finish. */
  *end(): Generator<AdapterEvent> {
    if (!this.#lastHadFinish || this.#reason === undefined) {
      throw new UpstreamError("unavailable", `${this.#backend} stream ended without a finishReason`, {
        afterFirstToken: this.produced,
      });
    }
    if (this.#usage) yield { type: "usage", usage: this.#usage };
    yield {
      type: "finish",
      reason: this.#reason,
      ...(this.#model ? { model: this.#model } : {}),
    };
  }
}
