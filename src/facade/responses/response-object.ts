import { randomBytes } from "node:crypto";
import type { FinishReason, GenerateOutput, ServiceTier, TokenLogprob } from "../../adapters/adapter.ts";
import type { MeteredUsage } from "../../metering/meter.ts";
import { reasoningItemOf } from "./reasoning-item.ts";
import type { ResponsesBody } from "./responses-request.ts";

export type ResponseUsage = {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
};

/** Neutral usage in OpenAI's terms: input counts cached tokens too, output counts reasoning too (as neutral). */
export function usageOf(u: MeteredUsage): ResponseUsage {
  return {
    input_tokens: u.inputTokens,
    input_tokens_details: { cached_tokens: u.cachedInputTokens },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
    total_tokens: u.inputTokens + u.outputTokens,
  };
}

/** A response ends "incomplete" when the output was cut: at max_output_tokens or by a content filter. */
export function statusOf(reason: FinishReason): {
  status: "completed" | "incomplete";
  incomplete_details: { reason: "max_output_tokens" | "content_filter" } | null;
} {
  if (reason === "length")
    return { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } };
  if (reason === "content_filter")
    return { status: "incomplete", incomplete_details: { reason: "content_filter" } };
  return { status: "completed", incomplete_details: null };
}

/** `output_text.logprobs` as the Responses API shapes them (an alternative's bytes are unknown: empty). */
export function logprobsOf(tokens: readonly TokenLogprob[]) {
  return tokens.map((t) => ({
    token: t.token,
    logprob: t.logprob,
    bytes: t.bytes ?? [],
    top_logprobs: t.topLogprobs.map((a) => ({ token: a.token, logprob: a.logprob, bytes: [] })),
  }));
}

export function itemId(prefix: "msg" | "fc"): string {
  return `${prefix}_${randomBytes(16).toString("hex")}`;
}

/** A call id for providers that send none; the client sends it back in its function_call_output. */
export function callIdOf(id: string | undefined): string {
  return id || `call_${randomBytes(12).toString("base64url")}`;
}

/**
 * The request parameters a Response echoes back (the SDK types most of them as required), with
 * OpenAI's defaults where the request left them out. Nothing is stored: `store` is echoed as asked.
 */
export function echoedParams(body: ResponsesBody, tier: ServiceTier | undefined) {
  return {
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    metadata: body.metadata ?? {},
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: null,
    prompt_cache_key: body.prompt_cache_key ?? null,
    reasoning: {
      effort: body.reasoning?.effort ?? null,
      summary: body.reasoning?.summary ?? body.reasoning?.generate_summary ?? null,
    },
    safety_identifier: body.safety_identifier ?? null,
    service_tier: tier ?? body.service_tier ?? "default",
    store: body.store ?? true,
    temperature: body.temperature ?? null,
    text: { format: body.text?.format ?? { type: "text" }, verbosity: body.text?.verbosity ?? "medium" },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools.map((t) => ({
      type: "function",
      name: t.name,
      description: t.description ?? null,
      parameters: t.parameters ?? null,
      strict: t.strict ?? null,
    })),
    top_logprobs: body.top_logprobs ?? 0,
    top_p: body.top_p ?? null,
    truncation: "disabled",
    background: false,
    user: body.user ?? undefined,
  };
}

/** The response envelope around its output; `completed_at` only once it is done. */
export function envelope(
  id: string,
  createdAt: number,
  model: string,
  body: ResponsesBody,
  tier?: ServiceTier,
): Record<string, unknown> {
  return {
    id,
    object: "response",
    created_at: createdAt,
    status: "in_progress",
    error: null,
    incomplete_details: null,
    model,
    output: [],
    usage: null,
    ...echoedParams(body, tier),
  };
}

/** The unary answer, shaped as api.openai.com shapes a `response`. */
export function responseOf(
  id: string,
  createdAt: number,
  body: ResponsesBody,
  output: GenerateOutput,
  usage: MeteredUsage,
  logprobs: boolean,
): Record<string, unknown> {
  const items: Record<string, unknown>[] = (output.reasoning ?? []).map((b) => reasoningItemOf(b));
  if (output.text !== "" || output.toolCalls.length === 0)
    items.push(
      messageItem(itemId("msg"), output.text, logprobs ? logprobsOf(output.logprobs ?? []) : undefined),
    );
  for (const c of output.toolCalls)
    items.push(functionCallItem(itemId("fc"), callIdOf(c.id), c.name, c.arguments));
  return {
    ...envelope(id, createdAt, output.model, body, output.serviceTier),
    ...statusOf(output.finishReason),
    completed_at: Math.floor(Date.now() / 1000),
    output: items,
    usage: usageOf(usage),
  };
}

export function messageItem(
  id: string,
  text: string,
  logprobs: ReturnType<typeof logprobsOf> | undefined,
  status: "completed" | "in_progress" = "completed",
) {
  return {
    id,
    type: "message",
    status,
    role: "assistant",
    content: status === "in_progress" ? [] : [outputTextPart(text, logprobs)],
  };
}

export function outputTextPart(text: string, logprobs: ReturnType<typeof logprobsOf> | undefined) {
  return { type: "output_text", text, annotations: [], ...(logprobs ? { logprobs } : {}) };
}

export function functionCallItem(
  id: string,
  callId: string,
  name: string,
  args: string,
  status: "completed" | "in_progress" = "completed",
) {
  return { id, type: "function_call", status, call_id: callId, name, arguments: args };
}
