import { UpstreamError } from "../../errors/upstream-error.ts";
import { classifyNetworkError } from "../../upstream/classify.ts";
import { releaseBody } from "../../upstream/http-body.ts";
import type { HttpResponse } from "../../upstream/http-pool.ts";
import { parseSse } from "../../upstream/sse.ts";
import type { AdapterEvent } from "../adapter.ts";
import { logprobsOf, serviceTierOf, type WireLogprob } from "./response.ts";
import {
  reasoningBlockOf,
  responsesFinishOf,
  responsesStreamError,
  responsesUsageOf,
  SUMMARY_SEPARATOR,
  type WireOutputItem,
  type WireResponse,
} from "./responses-response.ts";

/** The fields of Responses stream events we read (each event's `type` repeats its SSE `event:` name). */
type WireStreamEvent = {
  type?: string;
  output_index?: number;
  summary_index?: number;
  delta?: string;
  /** Of an output_text delta, when `message.output_text.logprobs` was included. */
  logprobs?: WireLogprob[] | null;
  item?: WireOutputItem;
  response?: WireResponse;
  code?: string | null;
  error?: { code?: string | null } | null;
};

/**
 * Translates one Responses stream into adapter events. Output items are numbered by `output_index`;
 * reasoning blocks and tool calls get their own dense indexes in the order their items were added.
 */
export class ResponsesStreamTranslator {
  readonly #backend: string;
  readonly #reasoningIndex = new Map<number, number>();
  /** Summary parts seen per reasoning block, so a new part starts with the separator. */
  readonly #summaryParts = new Map<number, number>();
  readonly #toolIndex = new Map<number, number>();
  #produced = false;
  #ended = false;

  constructor(backend: string) {
    this.#backend = backend;
  }

  /** Some text, reasoning or tool call went out: a failure now cannot be retried unseen. */
  get produced(): boolean {
    return this.#produced;
  }

  /** The terminal event (response.completed / response.incomplete) arrived. */
  get ended(): boolean {
    return this.#ended;
  }

  *eventsOf(event: WireStreamEvent): Generator<AdapterEvent> {
    for (const out of this.#translate(event)) {
      if (out.type === "text" || out.type === "tool_call" || out.type === "reasoning") this.#produced = true;
      yield out;
    }
  }

  #reasoningBlock(outputIndex: number): number {
    let index = this.#reasoningIndex.get(outputIndex);
    if (index === undefined) {
      index = this.#reasoningIndex.size;
      this.#reasoningIndex.set(outputIndex, index);
    }
    return index;
  }

  *#translate(event: WireStreamEvent): Generator<AdapterEvent> {
    const outputIndex = event.output_index ?? 0;
    switch (event.type) {
      case "response.output_item.added": {
        const item = event.item;
        if (item?.type === "reasoning") this.#reasoningBlock(outputIndex);
        if (item?.type === "function_call") {
          const index = this.#toolIndex.size;
          this.#toolIndex.set(outputIndex, index);
          yield {
            type: "tool_call",
            index,
            ...(item.call_id ? { id: item.call_id } : {}),
            ...(item.name ? { name: item.name } : {}),
            argumentsDelta: item.arguments ?? "",
          };
        }
        return;
      }
      case "response.function_call_arguments.delta": {
        const index = this.#toolIndex.get(outputIndex);
        if (index === undefined) {
          throw new UpstreamError("protocol", `${this.#backend} streamed arguments of an unknown call`);
        }
        if (event.delta) yield { type: "tool_call", index, argumentsDelta: event.delta };
        return;
      }
      case "response.output_text.delta": {
        if (!event.delta) return;
        const logprobs = logprobsOf({ content: event.logprobs ?? null });
        yield { type: "text", text: event.delta, ...(logprobs ? { logprobs } : {}) };
        return;
      }
      case "response.reasoning_summary_text.delta": {
        if (!event.delta) return;
        const index = this.#reasoningBlock(outputIndex);
        const part = event.summary_index ?? 0;
        const seen = this.#summaryParts.get(index);
        this.#summaryParts.set(index, part);
        const separator = seen !== undefined && part > seen ? SUMMARY_SEPARATOR : "";
        yield { type: "reasoning", index, provider: "openai", text: separator + event.delta };
        return;
      }
      case "response.output_item.done": {
        const item = event.item;
        if (item?.type !== "reasoning") return;
        const block = reasoningBlockOf(item);
        const index = this.#reasoningBlock(outputIndex);
        if (block.id === undefined && block.encryptedContent === undefined) return;
        yield {
          type: "reasoning",
          index,
          provider: "openai",
          ...(block.id !== undefined ? { id: block.id } : {}),
          ...(block.encryptedContent !== undefined ? { encryptedContent: block.encryptedContent } : {}),
        };
        return;
      }
      case "response.completed":
      case "response.incomplete": {
        const response = event.response ?? {};
        this.#ended = true;
        const usage = responsesUsageOf(response.usage);
        if (usage) yield { type: "usage", usage };
        const serviceTier = serviceTierOf(response.service_tier);
        yield {
          type: "finish",
          reason: responsesFinishOf(response, this.#toolIndex.size > 0, false),
          ...(response.model ? { model: response.model } : {}),
          ...(serviceTier ? { serviceTier } : {}),
        };
        return;
      }
      case "response.failed":
        throw responsesStreamError(this.#backend, event.response?.error?.code, this.#produced);
      case "error":
        throw responsesStreamError(this.#backend, event.code ?? event.error?.code, this.#produced);
      default:
        return; // created, in_progress, content_part / summary_part added and done, …: nothing new
    }
  }
}

/** The adapter events of a streamed POST /responses answer; it must end with a terminal event. */
export async function* responsesStreamEvents(
  backend: string,
  response: HttpResponse,
  signal: AbortSignal,
): AsyncGenerator<AdapterEvent> {
  const translator = new ResponsesStreamTranslator(backend);
  try {
    for await (const event of parseSse(response.body)) {
      let data: unknown;
      try {
        data = JSON.parse(event.data);
      } catch {
        throw new UpstreamError("protocol", `${backend} sent an SSE event that is not JSON`);
      }
      if (data === null || typeof data !== "object" || Array.isArray(data)) {
        throw new UpstreamError("protocol", `${backend} sent an SSE event that is not a JSON object`);
      }
      const wire = data as WireStreamEvent;
      yield* translator.eventsOf(
        wire.type === undefined && event.event !== undefined ? { ...wire, type: event.event } : wire,
      );
      if (translator.ended) break;
    }
  } catch (error) {
    const upstream = classifyNetworkError(error, signal);
    if (translator.produced) upstream.afterFirstToken = true;
    throw upstream;
  } finally {
    releaseBody(response, translator.ended);
  }
  if (!translator.ended) {
    throw new UpstreamError("unavailable", `${backend} stream ended before response.completed`, {
      afterFirstToken: translator.produced,
    });
  }
}
