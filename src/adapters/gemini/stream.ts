import { UpstreamError } from "../../errors/upstream-error.ts";
import type { AdapterEvent, FinishReason, TokenUsage } from "../adapter.ts";
import { finishReasonOf, partsOf, toolCallId, usageOf, type WireResponse } from "./translate.ts";

/**
 * Turns the chunks of `streamGenerateContent?alt=sse` into adapter events. Gemini sends whole
 * GenerateContentResponse objects: text parts are deltas, a functionCall part is complete (never
 * split), usageMetadata is cumulative (the last one counts), and there is no terminator — only the
 * last chunk's finishReason tells a finished stream from one cut short.
 */
export class GeminiStream {
  readonly #backend: string;
  #calls = 0;
  #usage: TokenUsage | undefined;
  #model: string | undefined;
  #reason: FinishReason | undefined;
  #lastHadFinish = false;
  /** Whether any text or tool call went out (a later failure is then after the first token). */
  produced = false;

  constructor(backend: string) {
    this.#backend = backend;
  }

  *events(chunk: WireResponse): Generator<AdapterEvent> {
    const candidate = chunk.candidates?.[0];
    const { text, calls } = partsOf(candidate);
    if (text !== "") {
      this.produced = true;
      yield { type: "text", text };
    }
    for (const call of calls) {
      const index = this.#calls++;
      this.produced = true;
      yield {
        type: "tool_call",
        index,
        id: toolCallId(index),
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
      this.#reason = finishReasonOf(candidate.finishReason, this.#calls > 0);
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
    yield { type: "finish", reason: this.#reason, ...(this.#model ? { model: this.#model } : {}) };
  }
}
