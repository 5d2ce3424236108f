// Wire shapes for the Gemini fake: GenerateContentResponse (unary and SSE chunks), embeddings, headers.
import { randomBytes } from "node:crypto";
import type { EmbeddingScript, GenerateScript } from "./gemini-fake.ts";
import { embeddingVector, splitWords } from "./openai-wire.ts";
import type { SseEvent } from "./sse.ts";

export const DEFAULT_TEXT = "Hello from fake";
export const DEFAULT_EMBEDDING_DIMS = 8;
export const MID_STREAM_ERROR_MESSAGE =
  "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting";

type Json = Record<string, unknown>;

/**
 * JSON the way Google's front end writes stream chunks: `": "` after a key, a bare `,` between members
 * and elements, no other whitespace. JSON.stringify cannot produce it.
 */
export function googleCompactJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(googleCompactJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const members = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${members.map(([k, v]) => `${JSON.stringify(k)}: ${googleCompactJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Unary bodies are pretty-printed with 2 spaces and end with a newline. */
export function googlePrettyJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Headers generativelanguage.googleapis.com sends on a successful response (values plausible, not live). */
export function successHeaders(contentType: string, startedAt: number): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": contentType,
    vary: "Origin, X-Origin, Referer",
    server: "scaffolding on HTTPServer2",
    "x-xss-protection": "0",
    "x-frame-options": "SAMEORIGIN",
    "x-content-type-options": "nosniff",
    "server-timing": `gfet4t7; dur=${Math.max(1, Date.now() - startedAt)}`,
    "alt-svc": 'h3=":443"; ma=2592000,h3-29=":443"; ma=2592000',
  };
  if (contentType === "text/event-stream") headers["content-disposition"] = "attachment";
  return headers;
}

/** responseId: 22 characters of URL-safe base64, shared by every chunk of one stream. */
export function responseId(): string {
  return randomBytes(16).toString("base64url").slice(0, 22);
}

export type Usage = {
  promptTokenCount: number;
  candidatesTokenCount: number;
  cachedContentTokenCount?: number;
  thoughtsTokenCount?: number;
};

export type GeneratePlan = {
  modelVersion: string;
  responseId: string;
  pieces: string[];
  calls: { name: string; args: Json; thoughtSignature?: string }[];
  finishReason: string | null;
  blockReason: string | undefined;
  usage: Usage;
};

function countWords(text: string): number {
  return text.split(/\s+/).filter((w) => w.length > 0).length;
}

/** Words in the text parts of `contents` and `systemInstruction`: the fake's prompt token count. */
export function promptWords(body: Json): number {
  const contents = Array.isArray(body.contents) ? body.contents : [];
  const system = body.systemInstruction ?? body.system_instruction;
  let words = 0;
  for (const content of [...contents, system]) {
    const parts: unknown = (content as Json | null | undefined)?.parts;
    for (const part of Array.isArray(parts) ? parts : []) {
      const text: unknown = (part as Json | null)?.text;
      if (typeof text === "string") words += countWords(text);
    }
  }
  return words;
}

export function planGenerate(script: GenerateScript, body: Json, model: string): GeneratePlan {
  const calls = script.functionCalls ?? [];
  const text = script.chunks?.join("") ?? script.text ?? (calls.length > 0 ? "" : DEFAULT_TEXT);
  const pieces = script.chunks ?? splitWords(text);
  return {
    modelVersion: script.modelVersion ?? model,
    responseId: responseId(),
    pieces,
    calls,
    finishReason: script.finishReason === undefined ? "STOP" : script.finishReason,
    blockReason: script.blockReason,
    usage: script.usage ?? {
      promptTokenCount: promptWords(body),
      candidatesTokenCount: pieces.length + calls.length,
    },
  };
}

/** Output tokens the upstream bills for the plan: candidates plus thinking. */
export function billedOutput(usage: Usage): number {
  return usage.candidatesTokenCount + (usage.thoughtsTokenCount ?? 0);
}

function usageMetadata(usage: Usage, candidates: number | undefined): Json {
  const thoughts = usage.thoughtsTokenCount ?? 0;
  const meta: Json = { promptTokenCount: usage.promptTokenCount };
  if (candidates !== undefined) meta.candidatesTokenCount = candidates;
  meta.totalTokenCount = usage.promptTokenCount + (candidates ?? 0) + thoughts;
  if (usage.cachedContentTokenCount) meta.cachedContentTokenCount = usage.cachedContentTokenCount;
  meta.promptTokensDetails = [{ modality: "TEXT", tokenCount: usage.promptTokenCount }];
  if (usage.cachedContentTokenCount) {
    meta.cacheTokensDetails = [{ modality: "TEXT", tokenCount: usage.cachedContentTokenCount }];
  }
  if (thoughts > 0) meta.thoughtsTokenCount = thoughts;
  return meta;
}

function functionCallPart(call: GeneratePlan["calls"][number]): Json {
  const part: Json = { functionCall: { name: call.name, args: call.args } };
  if (call.thoughtSignature !== undefined) part.thoughtSignature = call.thoughtSignature;
  return part;
}

function response(plan: GeneratePlan, parts: Json[], finish: string | null, candidates: number): Json {
  if (plan.blockReason !== undefined) {
    // A blocked prompt: no candidates at all, only promptFeedback.
    return {
      promptFeedback: { blockReason: plan.blockReason },
      usageMetadata: usageMetadata(plan.usage, undefined),
      modelVersion: plan.modelVersion,
      responseId: plan.responseId,
    };
  }
  const candidate: Json = { content: { parts, role: "model" } };
  if (finish !== null) candidate.finishReason = finish;
  candidate.index = 0;
  if (finish === "STOP" && parts.some((p) => "functionCall" in p)) {
    candidate.finishMessage = "Model generated function call(s).";
  }
  return {
    candidates: [candidate],
    usageMetadata: usageMetadata(plan.usage, candidates),
    modelVersion: plan.modelVersion,
    responseId: plan.responseId,
  };
}

export function generateContentResponse(plan: GeneratePlan): Json {
  const text = plan.pieces.join("");
  const parts: Json[] = text !== "" || plan.calls.length === 0 ? [{ text }] : [];
  parts.push(...plan.calls.map(functionCallPart));
  return response(plan, parts, plan.finishReason, plan.usage.candidatesTokenCount);
}

/**
 * The chunks of a streamed generation: one per text piece, then one with all function calls (Gemini
 * never splits a call). The last chunk carries finishReason; usageMetadata is cumulative in every chunk.
 */
export function streamChunks(plan: GeneratePlan): Json[] {
  const partsPerChunk: Json[][] = plan.pieces.map((text) => [{ text }]);
  if (plan.calls.length > 0) partsPerChunk.push(plan.calls.map(functionCallPart));
  if (partsPerChunk.length === 0) partsPerChunk.push([{ text: "" }]);
  const final = plan.usage.candidatesTokenCount;
  return partsPerChunk.map((parts, i) => {
    const last = i === partsPerChunk.length - 1;
    return response(plan, parts, last ? plan.finishReason : null, last ? final : Math.min(final, i + 1));
  });
}

/** SSE events (`data: {...}` + CRLF CRLF, or LF LF); each carries the output tokens it adds. */
export function sseEvents(chunks: Json[], usage: Usage, crlf: boolean): SseEvent[] {
  const end = crlf ? "\r\n\r\n" : "\n\n";
  let billed = 0;
  return chunks.map((chunk) => {
    const meta = chunk.usageMetadata as Json | undefined;
    const candidates = typeof meta?.candidatesTokenCount === "number" ? meta.candidatesTokenCount : 0;
    // Thinking happens before the first token: the first chunk bills it.
    const total = candidates + (usage.thoughtsTokenCount ?? 0);
    const tokens = total - billed;
    billed = total;
    return { text: `data: ${googleCompactJson(chunk)}${end}`, tokens };
  });
}

export function midStreamErrorEvent(crlf: boolean): SseEvent {
  const error = { error: { code: 500, message: MID_STREAM_ERROR_MESSAGE, status: "INTERNAL" } };
  return { text: `data: ${googleCompactJson(error)}${crlf ? "\r\n\r\n" : "\n\n"}`, tokens: 0 };
}

function dimsOf(script: EmbeddingScript, request: Json): number {
  const requested = request.outputDimensionality ?? request.output_dimensionality;
  return script.dims ?? (typeof requested === "number" ? requested : DEFAULT_EMBEDDING_DIMS);
}

/** The text of an embed request's content (its text parts joined), or undefined when it has none. */
export function contentText(request: Json): string | undefined {
  const parts: unknown = (request.content as Json | undefined)?.parts;
  if (!Array.isArray(parts) || parts.length === 0) return undefined;
  return parts.map((p) => ((p as Json | null)?.text as string | undefined) ?? "").join("");
}

export function embedContentResponse(script: EmbeddingScript, request: Json): Json {
  return { embedding: { values: embeddingVector(contentText(request) ?? "", dimsOf(script, request)) } };
}

export function batchEmbedContentsResponse(script: EmbeddingScript, requests: Json[]): Json {
  return {
    embeddings: requests.map((r) => ({ values: embeddingVector(contentText(r) ?? "", dimsOf(script, r)) })),
  };
}
