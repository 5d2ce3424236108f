// Wire shapes for the OpenAI fake: chat.completion, chat.completion.chunk streams, embeddings, models.
import { randomBytes, randomInt } from "node:crypto";
import { logprobEntry, logprobsObject, type ReasoningField } from "./openai-extras.ts";
import type { ChatScript, EmbeddingScript } from "./openai-fake.ts";
import type { SseEvent } from "./sse.ts";

export const SYSTEM_FINGERPRINT = "fp_560af6e559";
export const DEFAULT_TEXT = "Hello from fake";
export const DEFAULT_EMBEDDING_DIMS = 8;
export const MODELS = [
  { id: "gpt-4o-mini", object: "model", created: 1721172741, owned_by: "system" },
  { id: "gpt-4o", object: "model", created: 1715367049, owned_by: "system" },
  { id: "text-embedding-3-small", object: "model", created: 1705948997, owned_by: "system" },
] as const;

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
export function randomAlnum(length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += ALNUM[randomInt(ALNUM.length)];
  return out;
}

export function requestId(): string {
  return `req_${randomBytes(16).toString("hex")}`;
}

/** Headers api.openai.com sends on every successful response (values are plausible, not live). */
export function successHeaders(contentType: string, startedAt: number): Record<string, string> {
  return {
    "content-type": contentType,
    "x-request-id": requestId(),
    "openai-organization": "user-fake0rg",
    "openai-processing-ms": String(Math.max(1, Date.now() - startedAt)),
    "openai-version": "2020-10-01",
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-remaining-requests": "9999",
    "x-ratelimit-reset-requests": "6ms",
    "x-ratelimit-limit-tokens": "30000000",
    "x-ratelimit-remaining-tokens": "29999990",
    "x-ratelimit-reset-tokens": "0s",
  };
}

export type Usage = {
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens?: number;
  /** Of completion_tokens (default: one per reasoning delta). */
  reasoning_tokens?: number;
  /** Of prompt_tokens. */
  audio_tokens?: number;
  /** Of prompt_tokens, written to the cache (reported only when scripted, as for explicit breakpoints). */
  cache_write_tokens?: number;
};
type Json = Record<string, unknown>;

export type ChatPlan = {
  model: string;
  content: string | null;
  chunks: string[];
  toolCalls: { id: string; name: string; arguments: string; pieces: string[] }[];
  finishReason: string;
  usage: Usage;
  /** Reasoning text deltas, streamed before the content; where they go (`thinking`: Mistral chunks). */
  reasoning?: string[];
  reasoningField?: ReasoningField | "thinking";
  /** Set when the request asked `logprobs: true`: one entry per content delta. */
  logprobs?: { top: number } | undefined;
  /** Tier reported in the response (undefined: none reported). */
  serviceTier?: string | undefined;
};

function countWords(text: string): number {
  return text.split(/\s+/).filter((w) => w.length > 0).length;
}

/** Words in all message contents (string content, or the `text` of content parts). */
export function promptWords(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let words = 0;
  for (const m of messages) {
    const content: unknown = (m as Json | null)?.content;
    if (typeof content === "string") words += countWords(content);
    else if (Array.isArray(content)) {
      for (const part of content) {
        const text: unknown = (part as Json | null)?.text;
        if (typeof text === "string") words += countWords(text);
      }
    }
  }
  return words;
}

/** Each message's role and text (string content, or its text parts joined), for a raw-text engine prompt. */
export function messageTexts(messages: unknown): { role: string; content: string }[] {
  if (!Array.isArray(messages)) return [];
  return messages.map((m: Json | null) => {
    const content: unknown = m?.content;
    const text = Array.isArray(content)
      ? content.map((part: Json | null) => (typeof part?.text === "string" ? part.text : "")).join("")
      : typeof content === "string"
        ? content
        : "";
    return { role: typeof m?.role === "string" ? m.role : "user", content: text };
  });
}

/** "Hello from fake" → ["Hello", " from", " fake"]; joining the pieces gives the text back. */
export function splitWords(text: string): string[] {
  return text.split(/(?<=\S)(?=\s)/).filter((piece) => piece.length > 0);
}

/** Tool-call arguments as streamed: 2+ fragments of at most 16 chars (nothing for ""; 1 for one char). */
export function splitArguments(args: string): string[] {
  if (args.length === 0) return [];
  const n = Math.min(args.length, Math.max(2, Math.ceil(args.length / 16)));
  const size = Math.ceil(args.length / n);
  const pieces: string[] = [];
  for (let i = 0; i < args.length; i += size) pieces.push(args.slice(i, i + size));
  return pieces;
}

/** An id the way api.openai.com makes them: `call_` and 24 alphanumerics. */
export function openAIToolCallId(): string {
  return `call_${randomAlnum(24)}`;
}

export type PlanOptions = {
  /** Id for a scripted tool call that names none. */
  toolCallId?: () => string;
  /** Stream each tool call's arguments in one delta (Mistral) instead of fragments. */
  wholeArguments?: boolean;
  /** Where scripted reasoning goes (the dialect's REASONING_FIELD). */
  reasoningField?: ReasoningField | "thinking";
  /** The tier reported for the request's `service_tier` when the script names none. */
  serviceTier?: (requested: unknown) => string | undefined;
  /** The request's logprobs, when the dialect serves them. */
  logprobs?: { top: number } | undefined;
};

export function planChat(script: ChatScript, body: Json, opts: PlanOptions = {}): ChatPlan {
  const newId = opts.toolCallId ?? openAIToolCallId;
  const toolCalls = (script.toolCalls ?? []).map((t) => ({
    id: t.id ?? newId(),
    name: t.name,
    arguments: t.arguments,
    pieces: opts.wholeArguments ? (t.arguments === "" ? [] : [t.arguments]) : splitArguments(t.arguments),
  }));
  const chunks = script.chunks ?? (script.text === undefined && toolCalls.length > 0 ? [] : null);
  const text = chunks ? chunks.join("") : (script.text ?? DEFAULT_TEXT);
  const content = text === "" && toolCalls.length > 0 && script.text === undefined ? null : text;
  const deltas = chunks ?? splitWords(text);
  const reasoning = script.reasoningChunks ?? (script.reasoning ? splitWords(script.reasoning) : []);
  const completionDefault =
    reasoning.length + deltas.length + toolCalls.reduce((n, t) => n + t.pieces.length, 0);
  const serviceTier = script.serviceTier ?? opts.serviceTier?.(body.service_tier);
  return {
    model: script.model ?? (typeof body.model === "string" ? body.model : "gpt-4o-mini"),
    content,
    chunks: deltas,
    toolCalls,
    finishReason: script.finishReason ?? (toolCalls.length > 0 ? "tool_calls" : "stop"),
    usage: script.usage ?? {
      prompt_tokens: promptWords(body.messages),
      completion_tokens: completionDefault,
      ...(reasoning.length > 0 ? { reasoning_tokens: reasoning.length } : {}),
    },
    reasoning,
    reasoningField: script.reasoningField ?? opts.reasoningField ?? "reasoning",
    logprobs: opts.logprobs,
    serviceTier,
  };
}

export function usageObject(usage: Usage): Json {
  return {
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    total_tokens: usage.prompt_tokens + usage.completion_tokens,
    prompt_tokens_details: {
      cached_tokens: usage.cached_tokens ?? 0,
      audio_tokens: usage.audio_tokens ?? 0,
      ...(usage.cache_write_tokens !== undefined ? { cache_write_tokens: usage.cache_write_tokens } : {}),
    },
    completion_tokens_details: {
      reasoning_tokens: usage.reasoning_tokens ?? 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

export function chatCompletion(plan: ChatPlan, id: string, created: number): Json {
  const message: Json = { role: "assistant", content: plan.content };
  // Only self-hosted servers (vLLM) return reasoning text; api.openai.com sends none unless scripted.
  if (plan.reasoning && plan.reasoning.length > 0)
    message[plan.reasoningField ?? "reasoning"] = plan.reasoning.join("");
  if (plan.toolCalls.length > 0) {
    message.tool_calls = plan.toolCalls.map((t) => ({
      id: t.id,
      type: "function",
      function: { name: t.name, arguments: t.arguments },
    }));
  }
  message.refusal = null;
  message.annotations = [];
  return {
    id,
    object: "chat.completion",
    created,
    model: plan.model,
    choices: [
      {
        index: 0,
        message,
        logprobs: logprobsObject(plan.chunks, plan.logprobs),
        finish_reason: plan.finishReason,
      },
    ],
    usage: usageObject(plan.usage),
    service_tier: plan.serviceTier ?? "default",
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
}

export type StreamOptions = {
  includeUsage: boolean;
  obfuscation: boolean;
  logprobs?: { top: number } | undefined;
  serviceTier?: string | undefined;
  reasoningField?: ReasoningField | "thinking" | undefined;
};

/**
 * A streamed chat completion in three parts, so a live generation can send its head before the text exists:
 * `start` (the role chunk), one `content` chunk per text delta, `end` (tool calls, finish, usage, [DONE]).
 */
export type ChatStreamParts = {
  start(plan: ChatPlan): SseEvent[];
  content(piece: string, tokens?: number): SseEvent;
  /** One reasoning delta (before the content). */
  reasoning(piece: string): SseEvent;
  end(plan: ChatPlan): SseEvent[];
};

export function chatStreamParts(
  id: string,
  created: number,
  model: string,
  opts: StreamOptions,
): ChatStreamParts {
  const head = {
    id,
    object: "chat.completion.chunk",
    created,
    model,
    service_tier: opts.serviceTier ?? "default",
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
  const event = (choices: Json[], tokens: number, usage: Json | null = null): SseEvent => {
    const chunk: Json = { ...head, choices };
    if (opts.includeUsage) chunk.usage = usage;
    if (opts.obfuscation) chunk.obfuscation = randomAlnum(1 + randomInt(12));
    return { text: `data: ${JSON.stringify(chunk)}\n\n`, tokens };
  };
  const choice = (delta: Json, finish: string | null = null, logprobs: Json | null = null): Json[] => [
    { index: 0, delta, logprobs, finish_reason: finish },
  ];
  const asked = opts.logprobs;
  return {
    start: (plan) => [
      event(choice({ role: "assistant", content: plan.content === null ? null : "", refusal: null }), 0),
    ],
    content: (piece, tokens = 1) =>
      event(
        choice(
          { content: piece },
          null,
          asked ? { content: [logprobEntry(piece, asked.top)], refusal: null } : null,
        ),
        tokens,
      ),
    reasoning: (piece) => event(choice({ [opts.reasoningField ?? "reasoning"]: piece }), 1),
    end(plan) {
      const events: SseEvent[] = [];
      plan.toolCalls.forEach((t, index) => {
        const first = { index, id: t.id, type: "function", function: { name: t.name, arguments: "" } };
        events.push(event(choice({ tool_calls: [first] }), 0));
        for (const piece of t.pieces) {
          events.push(event(choice({ tool_calls: [{ index, function: { arguments: piece } }] }), 1));
        }
      });
      events.push(event(choice({}, plan.finishReason), 0));
      if (opts.includeUsage) events.push(event([], 0, usageObject(plan.usage)));
      events.push({ text: "data: [DONE]\n\n", tokens: 0 });
      return events;
    },
  };
}

/** The `data:` events of a streamed chat completion, `data: [DONE]` last. */
export function chatStreamEvents(
  plan: ChatPlan,
  id: string,
  created: number,
  opts: StreamOptions,
): SseEvent[] {
  const parts = chatStreamParts(id, created, plan.model, {
    ...opts,
    logprobs: plan.logprobs,
    serviceTier: plan.serviceTier,
    reasoningField: plan.reasoningField,
  });
  return [
    ...parts.start(plan),
    ...(plan.reasoning ?? []).map((piece) => parts.reasoning(piece)),
    ...plan.chunks.map((piece) => parts.content(piece)),
    ...parts.end(plan),
  ];
}

type EmbeddingInput = { key: string; tokens: number };

/** Accepts a string, string[], token array (number[]) or number[][]; undefined when invalid. */
export function embeddingInputs(input: unknown): EmbeddingInput[] | undefined {
  const isTokens = (v: unknown): v is number[] => Array.isArray(v) && v.every((n) => Number.isInteger(n));
  if (typeof input === "string") return [{ key: input, tokens: countWords(input) }];
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (isTokens(input)) return [{ key: `tokens:${input.join(",")}`, tokens: input.length }];
  const out: EmbeddingInput[] = [];
  for (const item of input) {
    if (typeof item === "string") out.push({ key: item, tokens: countWords(item) });
    else if (isTokens(item)) out.push({ key: `tokens:${item.join(",")}`, tokens: item.length });
    else return undefined;
  }
  return out;
}

/**
 * Deterministic unit vector (float32 values) seeded by a hash of the text. Like text-embedding-3's
 * `dimensions`, a shorter vector is the longer one truncated and re-normalized.
 */
export function embeddingVector(text: string, dims: number): number[] {
  let seed = 0x811c9dc5;
  for (const byte of Buffer.from(text)) seed = Math.imul(seed ^ byte, 0x01000193) >>> 0;
  const raw: number[] = [];
  for (let i = 0; i < dims; i++) {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    raw.push((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1);
  }
  const norm = Math.hypot(...raw) || 1;
  return raw.map((v) => Math.fround(v / norm));
}

export function float32Base64(vector: number[]): string {
  const buf = Buffer.alloc(vector.length * 4);
  vector.forEach((v, i) => {
    buf.writeFloatLE(v, i * 4);
  });
  return buf.toString("base64");
}

export type EmbeddingsResponse = {
  object: "list";
  data: { object: "embedding"; index: number; embedding: number[] | string }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
};

export function embeddingsResponse(
  script: EmbeddingScript,
  body: Json,
  inputs: EmbeddingInput[],
): EmbeddingsResponse {
  const dims =
    script.dims ??
    (typeof body.dimensions === "number" ? body.dimensions : undefined) ??
    DEFAULT_EMBEDDING_DIMS;
  const base64 = body.encoding_format === "base64";
  const promptTokens = script.usage?.prompt_tokens ?? inputs.reduce((n, i) => n + i.tokens, 0);
  return {
    object: "list",
    data: inputs.map((input, index) => {
      const vector = embeddingVector(input.key, dims);
      return { object: "embedding" as const, index, embedding: base64 ? float32Base64(vector) : vector };
    }),
    model: typeof body.model === "string" ? body.model : "text-embedding-3-small",
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}
