// Wire shapes of OpenAI's Responses API for the OpenAI fake: the `response` object, its output items
// (reasoning, message, function_call), the named SSE events of a streamed response, and the encrypted
// reasoning the fake issues and later verifies (reasoning-seal in openai-responses-seal.ts).
import { randomBytes } from "node:crypto";
import { logprobEntry } from "./openai-extras.ts";
import type { ChatScript } from "./openai-fake.ts";
import type { ReasoningSeal } from "./openai-responses-seal.ts";
import { DEFAULT_TEXT, openAIToolCallId, splitArguments, splitWords } from "./openai-wire.ts";
import type { SseEvent } from "./sse.ts";

type Json = Record<string, unknown>;

/** o-series and gpt-5 models reason; the others refuse `reasoning` (openai-responses-checks.ts). */
export const RESPONSES_REASONING_MODEL = /^(?:o\d+(?:$|-)|gpt-5)/;

function hexId(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString("hex")}`;
}

function countWords(text: string): number {
  return text.split(/\s+/).filter((w) => w.length > 0).length;
}

/** Words of the instructions and of every text in the input items (the fake's prompt-token count). */
export function responsesPromptWords(body: Json): number {
  let words = typeof body.instructions === "string" ? countWords(body.instructions) : 0;
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) for (const v of value) visit(v);
    else if (typeof value === "object" && value !== null) {
      const record = value as Json;
      if (typeof record.text === "string") words += countWords(record.text);
      if (typeof record.output === "string") words += countWords(record.output);
      if (typeof record.content === "string") words += countWords(record.content);
      if (Array.isArray(record.content)) visit(record.content);
      if (Array.isArray(record.output)) visit(record.output);
    }
  };
  if (typeof body.input === "string") words += countWords(body.input);
  else visit(body.input);
  return words;
}

/** One output item as planned: its complete form and the deltas it streams in. */
export type PlannedItem =
  | { kind: "reasoning"; item: Json; summaries: string[][] }
  | { kind: "message"; item: Json; deltas: string[]; logprobs: Json[] }
  | { kind: "function_call"; item: Json; pieces: string[] };

export type ResponsesPlan = {
  id: string;
  createdAt: number;
  items: PlannedItem[];
  /** The response object without `output`/`usage`/`status` (filled in per event). */
  base: Json;
  usage: Json;
  promptTokens: number;
  completionTokens: number;
  incomplete: boolean;
  serviceTier: string;
};

/**
 * What the fake answers to one request. Scripted `reasoning` becomes one reasoning item (paragraphs
 * separated by a blank line are its summary parts) — for reasoning models only, with summary text only
 * when `reasoning.summary` was asked and encrypted content only when `include` asked for it, as the API does.
 */
export function planResponse(script: ChatScript, body: Json, seal: ReasoningSeal): ResponsesPlan {
  const model = script.model ?? (typeof body.model === "string" ? body.model : "gpt-5-mini");
  const request = (
    typeof body.reasoning === "object" && body.reasoning !== null ? body.reasoning : {}
  ) as Json;
  const include = Array.isArray(body.include) ? body.include : [];
  const items: PlannedItem[] = [];
  let reasoningTokens = 0;
  if (script.reasoning !== undefined && RESPONSES_REASONING_MODEL.test(model)) {
    const parts = script.reasoning.split("\n\n");
    reasoningTokens = parts.reduce((n, p) => n + countWords(p), 0);
    const summaryAsked = typeof request.summary === "string";
    const id = hexId("rs");
    const summary = summaryAsked ? parts.map((text) => ({ type: "summary_text", text })) : [];
    const item: Json = { id, type: "reasoning", summary };
    if (include.includes("reasoning.encrypted_content")) item.encrypted_content = seal.issue(id, parts);
    items.push({ kind: "reasoning", item, summaries: summaryAsked ? parts.map(splitWords) : [] });
  }
  const toolCalls = script.toolCalls ?? [];
  const text = script.text ?? (toolCalls.length > 0 ? "" : DEFAULT_TEXT);
  if (text !== "") {
    const deltas = script.chunks ?? splitWords(text);
    // Log probabilities only when included; one token per delta, as the fake streams them.
    const top = typeof body.top_logprobs === "number" ? body.top_logprobs : 0;
    const logprobs = include.includes("message.output_text.logprobs")
      ? deltas.map((d) => logprobEntry(d, top))
      : [];
    const item = {
      id: hexId("msg"),
      type: "message",
      status: "completed",
      content: [{ type: "output_text", annotations: [], logprobs, text }],
      role: "assistant",
    };
    items.push({ kind: "message", item, deltas, logprobs });
  }
  for (const call of toolCalls) {
    const item = {
      id: hexId("fc"),
      type: "function_call",
      status: "completed",
      arguments: call.arguments,
      call_id: call.id ?? openAIToolCallId(),
      name: call.name,
    };
    items.push({ kind: "function_call", item, pieces: splitArguments(call.arguments) });
  }
  const streamed = items.reduce(
    (n, p) => n + (p.kind === "message" ? p.deltas.length : p.kind === "function_call" ? p.pieces.length : 0),
    0,
  );
  const scripted = script.usage;
  const promptTokens = scripted?.prompt_tokens ?? responsesPromptWords(body);
  const completionTokens = scripted?.completion_tokens ?? reasoningTokens + streamed;
  const usage = {
    input_tokens: promptTokens,
    input_tokens_details: {
      cached_tokens: scripted?.cached_tokens ?? 0,
      ...(scripted?.cache_write_tokens !== undefined
        ? { cache_write_tokens: scripted.cache_write_tokens }
        : {}),
    },
    output_tokens: completionTokens,
    output_tokens_details: { reasoning_tokens: scripted?.reasoning_tokens ?? reasoningTokens },
    total_tokens: promptTokens + completionTokens,
  };
  const tier =
    script.serviceTier ??
    (body.service_tier === "flex" || body.service_tier === "priority" ? body.service_tier : "default");
  const base: Json = {
    id: hexId("resp"),
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: null,
    model,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: null,
    prompt_cache_key: body.prompt_cache_key ?? null,
    reasoning: {
      effort: request.effort ?? (RESPONSES_REASONING_MODEL.test(model) ? "medium" : null),
      summary: request.summary ?? null,
    },
    safety_identifier: body.safety_identifier ?? null,
    service_tier: tier,
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: body.text ?? { format: { type: "text" }, verbosity: "medium" },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    top_logprobs: body.top_logprobs ?? 0,
    top_p: body.top_p ?? 1,
    truncation: "disabled",
    user: null,
    metadata: {},
  };
  return {
    id: base.id as string,
    createdAt: base.created_at as number,
    items,
    base,
    usage,
    promptTokens,
    completionTokens,
    incomplete: script.finishReason === "length",
    serviceTier: tier,
  };
}

function withoutBytes(entry: Json): Json {
  const { bytes: _bytes, top_logprobs, ...rest } = entry;
  const tops = Array.isArray(top_logprobs) ? (top_logprobs as Json[]) : [];
  return { ...rest, top_logprobs: tops.map(({ bytes: _b, ...top }) => top) };
}

function terminalFields(plan: ResponsesPlan): Json {
  return plan.incomplete
    ? { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } }
    : { status: "completed" };
}

/** The whole `response` object of a unary POST /responses. */
export function responseObject(plan: ResponsesPlan): Json {
  return { ...plan.base, ...terminalFields(plan), output: plan.items.map((p) => p.item), usage: plan.usage };
}

/** The named events of a streamed response, each carrying its `sequence_number`; the last is terminal. */
export function responseStreamEvents(plan: ResponsesPlan): SseEvent[] {
  const events: SseEvent[] = [];
  const emit = (type: string, fields: Json, tokens = 0) => {
    const data = { type, ...fields, sequence_number: events.length };
    events.push({ text: `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`, tokens });
  };
  const pending = { ...plan.base, status: "in_progress", output: [], usage: null };
  emit("response.created", { response: pending });
  emit("response.in_progress", { response: pending });
  plan.items.forEach((planned, output_index) => {
    const item = planned.item;
    const item_id = item.id;
    if (planned.kind === "reasoning") {
      emit("response.output_item.added", {
        output_index,
        item: { id: item_id, type: "reasoning", summary: [] },
      });
      planned.summaries.forEach((deltas, summary_index) => {
        const text = deltas.join("");
        const at = { item_id, output_index, summary_index };
        emit("response.reasoning_summary_part.added", { ...at, part: { type: "summary_text", text: "" } });
        for (const delta of deltas) emit("response.reasoning_summary_text.delta", { ...at, delta }, 1);
        emit("response.reasoning_summary_text.done", { ...at, text });
        emit("response.reasoning_summary_part.done", { ...at, part: { type: "summary_text", text } });
      });
    } else if (planned.kind === "message") {
      emit("response.output_item.added", {
        output_index,
        item: { ...item, status: "in_progress", content: [] },
      });
      const at = { item_id, output_index, content_index: 0 };
      const empty = { type: "output_text", annotations: [], logprobs: [], text: "" };
      emit("response.content_part.added", { ...at, part: empty });
      planned.deltas.forEach((delta, k) => {
        // A delta's logprobs carry no bytes (ResponseTextDeltaEvent.Logprob).
        const entry = planned.logprobs[k];
        const logprobs = entry === undefined ? [] : [withoutBytes(entry)];
        emit("response.output_text.delta", { ...at, delta, logprobs }, 1);
      });
      const text = planned.deltas.join("");
      emit("response.output_text.done", { ...at, text, logprobs: planned.logprobs });
      emit("response.content_part.done", { ...at, part: { ...empty, text } });
    } else {
      emit("response.output_item.added", {
        output_index,
        item: { ...item, status: "in_progress", arguments: "" },
      });
      for (const delta of planned.pieces) {
        emit("response.function_call_arguments.delta", { item_id, output_index, delta }, 1);
      }
      emit("response.function_call_arguments.done", { item_id, output_index, arguments: item.arguments });
    }
    emit("response.output_item.done", { output_index, item });
  });
  emit(plan.incomplete ? "response.incomplete" : "response.completed", { response: responseObject(plan) });
  return events;
}

/** A `response.failed` event, as sent when generation fails after the stream began. */
export function responseFailedEvent(plan: ResponsesPlan, sequence: number, error: Json): SseEvent {
  const response = { ...plan.base, status: "failed", error, output: [], usage: null };
  const data = { type: "response.failed", response, sequence_number: sequence };
  return { text: `event: response.failed\ndata: ${JSON.stringify(data)}\n\n`, tokens: 0 };
}
