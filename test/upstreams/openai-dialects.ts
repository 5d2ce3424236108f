// Response shapes of the OpenAI-compatible servers the fake can also speak (`startOpenAIFake({ dialect })`):
// Ollama's /v1 endpoint, llama.cpp's llama-server and Mistral's La Plateforme. They share OpenAI's layout but
// not its details: where streamed usage goes, tool-call deltas, extra fields. Mistral's request checks and
// error bodies live in openai-mistral.ts.
import { randomBytes, randomInt } from "node:crypto";
import { logprobEntry, logprobsObject, thinkingChunk } from "./openai-extras.ts";
import { type ChatPlan, type ChatStreamParts, randomAlnum, requestId, type Usage } from "./openai-wire.ts";
import type { SseEvent } from "./sse.ts";

export type OpenAIDialect = "openai" | "mistral" | "ollama" | "llama-server";
export const OPENAI_DIALECTS: readonly OpenAIDialect[] = ["openai", "mistral", "ollama", "llama-server"];

type Json = Record<string, unknown>;

export type CompatStyle = {
  /**
   * Where a stream reports usage: on the finish chunk whatever was asked (Mistral, llama-server), or never
   * (Ollama before `stream_options` support: the caller has to estimate).
   */
  streamUsage: "finish-chunk" | "none";
  /** llama-server's `timings` object (prompt/predicted counts and speeds) next to usage. */
  timings: boolean;
  /** Tool calls carry `"type": "function"` (Mistral's omit it). */
  toolCallType: boolean;
  /** Fields every chunk and completion carries besides id/object/created/model/choices. */
  extra: Json;
};

export const COMPAT_STYLES: Record<Exclude<OpenAIDialect, "openai">, CompatStyle> = {
  mistral: { streamUsage: "finish-chunk", timings: false, toolCallType: false, extra: {} },
  ollama: {
    streamUsage: "none",
    timings: false,
    toolCallType: true,
    extra: { system_fingerprint: "fp_ollama" },
  },
  "llama-server": {
    streamUsage: "finish-chunk",
    timings: true,
    toolCallType: true,
    extra: { system_fingerprint: "b6115-1d72c8418" },
  },
};

/** Completion ids as each server makes them. */
export function completionId(dialect: OpenAIDialect): string {
  switch (dialect) {
    case "mistral":
      return randomBytes(16).toString("hex");
    case "ollama":
      return `chatcmpl-${randomInt(1000)}`;
    case "llama-server":
      return `chatcmpl-${randomAlnum(32)}`;
    default:
      return `chatcmpl-${randomAlnum(29)}`;
  }
}

/** Tool-call ids as each server makes them (Mistral: exactly 9 alphanumerics). */
export function toolCallIdMaker(dialect: OpenAIDialect): (() => string) | undefined {
  if (dialect === "mistral") return () => randomAlnum(9);
  if (dialect === "ollama") return () => `call_${randomAlnum(8).toLowerCase()}`;
  if (dialect === "llama-server") return () => randomAlnum(32);
  return undefined;
}

/** Headers on a successful response (plausible, not live). */
export function dialectHeaders(dialect: OpenAIDialect, contentType: string): Record<string, string> {
  if (dialect === "mistral") {
    const id = randomUUIDv7ish();
    return {
      "content-type": contentType,
      "mistral-correlation-id": id,
      "x-kong-request-id": id,
      "x-ratelimit-limit-tokens-minute": "500000",
      "x-ratelimit-remaining-tokens-minute": "499980",
      "x-ratelimit-limit-tokens-month": "1000000000",
      "x-ratelimit-remaining-tokens-month": "999999980",
    };
  }
  if (dialect === "llama-server") return { "content-type": contentType, server: "llama.cpp" };
  return { "content-type": contentType, "x-request-id": requestId() };
}

function randomUUIDv7ish(): string {
  const hex = randomBytes(16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function usageOf(usage: Usage, cached: boolean, serviceTier?: string): Json {
  const out: Json = {
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    total_tokens: usage.prompt_tokens + usage.completion_tokens,
  };
  if (cached) out.prompt_tokens_details = { cached_tokens: usage.cached_tokens ?? 0 };
  // Mistral reports the tier it served at inside usage.
  if (serviceTier !== undefined) out.service_tier = serviceTier;
  return out;
}

function timingsOf(usage: Usage): Json {
  return {
    prompt_n: usage.prompt_tokens,
    prompt_ms: 12.5,
    prompt_per_token_ms: 12.5 / Math.max(1, usage.prompt_tokens),
    prompt_per_second: 80,
    predicted_n: usage.completion_tokens,
    predicted_ms: 40.25,
    predicted_per_token_ms: 40.25 / Math.max(1, usage.completion_tokens),
    predicted_per_second: 24.8,
  };
}

function toolCallsOf(plan: ChatPlan, style: CompatStyle): Json[] {
  return plan.toolCalls.map((t, index) => ({
    id: t.id,
    ...(style.toolCallType ? { type: "function" } : {}),
    function: { name: t.name, arguments: t.arguments },
    index,
  }));
}

export function compatCompletion(
  plan: ChatPlan,
  id: string,
  created: number,
  style: CompatStyle,
  dialect: OpenAIDialect,
): Json {
  const message: Json = { role: "assistant", content: plan.content ?? "" };
  const reasoning = (plan.reasoning ?? []).join("");
  if (reasoning !== "") {
    if (plan.reasoningField === "thinking") {
      // Mistral's reasoning models answer content chunks: the thinking first, then the text.
      message.content = [thinkingChunk(reasoning), { type: "text", text: plan.content ?? "" }];
    } else message[plan.reasoningField ?? "reasoning"] = reasoning;
  }
  if (plan.toolCalls.length > 0) message.tool_calls = toolCallsOf(plan, style);
  else if (dialect === "mistral") message.tool_calls = null;
  const out: Json = {
    id,
    object: "chat.completion",
    created,
    model: plan.model,
    choices: [
      {
        index: 0,
        message,
        ...(plan.logprobs ? { logprobs: logprobsObject(plan.chunks, plan.logprobs) } : {}),
        finish_reason: plan.finishReason,
      },
    ],
    usage: usageOf(plan.usage, dialect === "llama-server", plan.serviceTier),
    ...style.extra,
  };
  if (style.timings) out.timings = timingsOf(plan.usage);
  return out;
}

/**
 * The `data:` events of a stream in a compatible server's layout: a role chunk, content deltas, each tool
 * call in one delta with its whole arguments (Mistral, Ollama) or fragments (llama-server), the finish
 * chunk (with usage where the style puts it), `data: [DONE]`. In parts, as openai-wire.ts's chatStreamParts.
 */
export function compatStreamParts(
  id: string,
  created: number,
  model: string,
  style: CompatStyle,
  dialect: OpenAIDialect,
  extras: Pick<ChatPlan, "logprobs" | "reasoningField"> = {},
): ChatStreamParts {
  const head = { id, object: "chat.completion.chunk", created, model, ...style.extra };
  const event = (
    delta: Json,
    finish: string | null,
    tokens: number,
    tail: Json = {},
    logprobs?: Json,
  ): SseEvent => {
    const choice = { index: 0, delta, ...(logprobs ? { logprobs } : {}), finish_reason: finish };
    const chunk = { ...head, choices: [choice], ...tail };
    return { text: `data: ${JSON.stringify(chunk)}\n\n`, tokens };
  };
  const asked = extras.logprobs;
  const field = extras.reasoningField ?? "reasoning";
  return {
    start: () => [event({ role: "assistant", content: "" }, null, 0)],
    content: (piece, tokens = 1) =>
      event(
        { content: piece },
        null,
        tokens,
        {},
        asked ? { content: [logprobEntry(piece, asked.top)], refusal: null } : undefined,
      ),
    reasoning: (piece) =>
      event(field === "thinking" ? { content: [thinkingChunk(piece)] } : { [field]: piece }, null, 1),
    end(plan) {
      const events: SseEvent[] = [];
      const calls = toolCallsOf(plan, style);
      plan.toolCalls.forEach((t, index) => {
        const call = calls[index] ?? {};
        if (dialect === "llama-server") {
          const first = { ...call, function: { name: t.name, arguments: "" } };
          events.push(event({ tool_calls: [first] }, null, 0));
          for (const piece of t.pieces) {
            events.push(event({ tool_calls: [{ index, function: { arguments: piece } }] }, null, 1));
          }
        } else {
          events.push(event({ tool_calls: [call] }, null, t.pieces.length));
        }
      });
      const tail: Json = {};
      if (style.streamUsage === "finish-chunk") {
        tail.usage = usageOf(plan.usage, dialect === "llama-server", plan.serviceTier);
      }
      if (style.timings) tail.timings = timingsOf(plan.usage);
      const finishDelta = dialect === "llama-server" ? {} : { content: "" };
      events.push(event(finishDelta, plan.finishReason, 0, tail));
      events.push({ text: "data: [DONE]\n\n", tokens: 0 });
      return events;
    },
  };
}

export function compatStreamEvents(
  plan: ChatPlan,
  id: string,
  created: number,
  style: CompatStyle,
  dialect: OpenAIDialect,
): SseEvent[] {
  const parts = compatStreamParts(id, created, plan.model, style, dialect, plan);
  return [
    ...parts.start(plan),
    ...(plan.reasoning ?? []).map((piece) => parts.reasoning(piece)),
    ...plan.chunks.map((piece) => parts.content(piece)),
    ...parts.end(plan),
  ];
}
