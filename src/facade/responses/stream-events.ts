import type {
  FinishReason,
  ReasoningBlock,
  ReasoningDelta,
  ServiceTier,
  TokenLogprob,
} from "../../adapters/adapter.ts";
import type { MeteredUsage } from "../../metering/meter.ts";
import { newReasoningId, reasoningItemOf } from "./reasoning-item.ts";
import {
  callIdOf,
  functionCallItem,
  itemId,
  logprobsOf,
  messageItem,
  outputTextPart,
  statusOf,
  usageOf,
} from "./response-object.ts";

export type ResponsesEvent = { type: string } & Record<string, unknown>;

type OpenItem =
  | { kind: "message"; key: 0; id: string; text: string; logprobs: TokenLogprob[] }
  | { kind: "reasoning"; key: number; id: string; block: ReasoningBlock; summaryOpen: boolean }
  | { kind: "function_call"; key: number; id: string; callId: string; name: string; args: string };

/**
 * Neutral stream events → the Responses event sequence: response.created and response.in_progress
 * before the first item, then per output item output_item.added, its parts and deltas and their
 * .done events, output_item.done; at the end response.completed (or response.incomplete) with the
 * whole response. Every event carries a sequence_number, counted from 0.
 */
export class ResponsesEventBuilder {
  readonly #envelope: (status: string) => Record<string, unknown>;
  readonly #logprobs: boolean;
  #seq = 0;
  #started = false;
  #open: OpenItem | undefined;
  readonly #output: Record<string, unknown>[] = [];
  #reason: FinishReason = "stop";
  #tier: ServiceTier | undefined;

  /** `envelope`: the response object without output and usage, in a status. */
  constructor(envelope: (status: string, tier?: ServiceTier) => Record<string, unknown>, logprobs: boolean) {
    this.#envelope = (status) => envelope(status, this.#tier);
    this.#logprobs = logprobs;
  }

  text(text: string, logprobs: TokenLogprob[] | undefined): ResponsesEvent[] {
    const out = this.#begin();
    let open = this.#open;
    if (open?.kind !== "message") {
      out.push(...this.#close());
      open = { kind: "message", key: 0, id: itemId("msg"), text: "", logprobs: [] };
      this.#open = open;
      out.push(
        this.#item("response.output_item.added", {
          item: messageItem(open.id, "", undefined, "in_progress"),
        }),
      );
      out.push(
        this.#item("response.content_part.added", {
          item_id: open.id,
          content_index: 0,
          part: outputTextPart("", this.#logprobs ? [] : undefined),
        }),
      );
    }
    if (text === "") return out;
    open.text += text;
    if (logprobs) open.logprobs.push(...logprobs);
    out.push(
      this.#item("response.output_text.delta", {
        item_id: open.id,
        content_index: 0,
        delta: text,
        logprobs: this.#logprobs ? logprobsOf(logprobs ?? []) : [],
      }),
    );
    return out;
  }

  reasoning(delta: ReasoningDelta): ResponsesEvent[] {
    const out = this.#begin();
    let open = this.#open;
    if (open?.kind !== "reasoning" || open.key !== delta.index) {
      out.push(...this.#close());
      open = {
        kind: "reasoning",
        key: delta.index,
        id: newReasoningId(),
        block: { text: "", provider: delta.provider },
        summaryOpen: false,
      };
      this.#open = open;
      out.push(
        this.#item("response.output_item.added", { item: { id: open.id, type: "reasoning", summary: [] } }),
      );
    }
    const block = open.block;
    if (delta.text) {
      if (!open.summaryOpen) {
        open.summaryOpen = true;
        out.push(
          this.#item("response.reasoning_summary_part.added", {
            item_id: open.id,
            summary_index: 0,
            part: { type: "summary_text", text: "" },
          }),
        );
      }
      block.text += delta.text;
      out.push(
        this.#item("response.reasoning_summary_text.delta", {
          item_id: open.id,
          summary_index: 0,
          delta: delta.text,
        }),
      );
    }
    if (delta.signature) block.signature = delta.signature;
    if (delta.encryptedContent) block.encryptedContent = delta.encryptedContent;
    if (delta.id) block.id = delta.id;
    if (delta.redacted) block.redacted = true;
    return out;
  }

  toolCall(delta: { index: number; id?: string; name?: string; argumentsDelta: string }): ResponsesEvent[] {
    const out = this.#begin();
    let open = this.#open;
    if (open?.kind !== "function_call" || open.key !== delta.index) {
      out.push(...this.#close());
      open = {
        kind: "function_call",
        key: delta.index,
        id: itemId("fc"),
        callId: callIdOf(delta.id),
        name: delta.name ?? "",
        args: "",
      };
      this.#open = open;
      out.push(
        this.#item("response.output_item.added", {
          item: functionCallItem(open.id, open.callId, open.name, "", "in_progress"),
        }),
      );
    }
    if (delta.argumentsDelta === "") return out;
    open.args += delta.argumentsDelta;
    out.push(
      this.#item("response.function_call_arguments.delta", {
        item_id: open.id,
        delta: delta.argumentsDelta,
      }),
    );
    return out;
  }

  finish(reason: FinishReason, tier: ServiceTier | undefined): void {
    this.#reason = reason;
    if (tier) this.#tier = tier;
  }

  /** The end of a complete stream: the open item is done, then response.completed or .incomplete. */
  end(usage: MeteredUsage): ResponsesEvent[] {
    const out = this.#begin();
    out.push(...this.#close());
    // An answer with no output at all still has its (empty) message, as the unary response does.
    if (this.#output.length === 0) {
      out.push(...this.text("", undefined), ...this.#close());
    }
    const { status, incomplete_details } = statusOf(this.#reason);
    const response = {
      ...this.#envelope(status),
      incomplete_details,
      completed_at: Math.floor(Date.now() / 1000),
      output: this.#output,
      usage: usageOf(usage),
    };
    out.push(
      this.#event(status === "completed" ? "response.completed" : "response.incomplete", { response }),
    );
    return out;
  }

  /** A failure after output began: an error event, then response.failed with what was produced. */
  fail(code: string, message: string): ResponsesEvent[] {
    const out = [this.#event("error", { code, message, param: null })];
    out.push(
      this.#event("response.failed", {
        response: { ...this.#envelope("failed"), error: { code, message }, output: this.#output },
      }),
    );
    return out;
  }

  #begin(): ResponsesEvent[] {
    if (this.#started) return [];
    this.#started = true;
    return [
      this.#event("response.created", { response: this.#envelope("in_progress") }),
      this.#event("response.in_progress", { response: this.#envelope("in_progress") }),
    ];
  }

  #close(): ResponsesEvent[] {
    const open = this.#open;
    if (!open) return [];
    this.#open = undefined;
    const output_index = this.#output.length;
    const out: ResponsesEvent[] = [];
    let item: Record<string, unknown>;
    switch (open.kind) {
      case "message": {
        const logprobs = this.#logprobs ? logprobsOf(open.logprobs) : undefined;
        out.push(
          this.#at(output_index, "response.output_text.done", {
            item_id: open.id,
            content_index: 0,
            text: open.text,
            logprobs: logprobs ?? [],
          }),
          this.#at(output_index, "response.content_part.done", {
            item_id: open.id,
            content_index: 0,
            part: outputTextPart(open.text, logprobs),
          }),
        );
        item = messageItem(open.id, open.text, logprobs);
        break;
      }
      case "reasoning": {
        item = reasoningItemOf(open.block, open.id);
        if (open.summaryOpen)
          out.push(
            this.#at(output_index, "response.reasoning_summary_text.done", {
              item_id: open.id,
              summary_index: 0,
              text: open.block.text,
            }),
            this.#at(output_index, "response.reasoning_summary_part.done", {
              item_id: open.id,
              summary_index: 0,
              part: { type: "summary_text", text: open.block.text },
            }),
          );
        break;
      }
      case "function_call":
        out.push(
          this.#at(output_index, "response.function_call_arguments.done", {
            item_id: open.id,
            name: open.name,
            arguments: open.args,
          }),
        );
        item = functionCallItem(open.id, open.callId, open.name, open.args);
        break;
    }
    out.push(this.#at(output_index, "response.output_item.done", { item }));
    this.#output.push(item);
    return out;
  }

  /** An event of the response as a whole. */
  #event(type: string, fields: Record<string, unknown>): ResponsesEvent {
    return { type, sequence_number: this.#seq++, ...fields };
  }

  /** An event about the item being built (its index is the next in the output). */
  #item(type: string, fields: Record<string, unknown>): ResponsesEvent {
    return this.#at(this.#output.length, type, fields);
  }

  #at(output_index: number, type: string, fields: Record<string, unknown>): ResponsesEvent {
    return { type, sequence_number: this.#seq++, output_index, ...fields };
  }
}
