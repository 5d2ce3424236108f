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

export type ModalityCount = { modality: string; tokenCount: number };

export type Usage = {
  promptTokenCount: number;
  candidatesTokenCount: number;
  cachedContentTokenCount?: number;
  thoughtsTokenCount?: number;
  /** Default: every prompt token as TEXT. */
  promptTokensDetails?: ModalityCount[];
};

export type Thought = { text: string; signature?: string };
/** One decoding step of logprobsResult: the chosen token and the top candidates. */
export type LogprobStep = {
  chosen: { token: string; logProbability: number };
  top: { token: string; logProbability: number }[];
};

export type GeneratePlan = {
  modelVersion: string;
  responseId: string;
  /** Thought summaries: sent only when the request asked for includeThoughts. */
  thoughts: Thought[];
  pieces: string[];
  /** Put on the last text part (Gemini 3 signs the last part of an answer without calls). */
  textSignature: string | undefined;
  calls: { name: string; args: Json; thoughtSignature?: string }[];
  /** One step per text piece, when the request asked for responseLogprobs. */
  logprobs: LogprobStep[] | undefined;
  finishReason: string | null;
  blockReason: string | undefined;
  usage: Usage;
};

function countWords(text: string): number {
  return text.split(/\s+/).filter((w) => w.length > 0).length;
}

/**
 * The fake's token counts of media parts, by modality: 258 per image and per document (one page),
 * like Gemini's fixed per-image and per-page counts; audio 1 per 1,000 bytes (the real API counts
 * 32 per second, which the fake cannot measure).
 */
export const IMAGE_TOKENS = 258;
export const DOCUMENT_TOKENS = 258;
export function audioTokens(base64: string): number {
  return Math.max(1, Math.ceil(Buffer.from(base64, "base64").length / 1000));
}

function mediaModality(mime: string): "IMAGE" | "AUDIO" | "VIDEO" | "DOCUMENT" {
  if (mime.startsWith("image/")) return "IMAGE";
  if (mime.startsWith("audio/")) return "AUDIO";
  if (mime.startsWith("video/")) return "VIDEO";
  return "DOCUMENT";
}

/** The fake's prompt tokens by modality: words of text parts, the counts above for media. */
export function promptDetails(body: Json): ModalityCount[] {
  const contents = Array.isArray(body.contents) ? body.contents : [];
  const system = body.systemInstruction ?? body.system_instruction;
  const counts = new Map<string, number>([["TEXT", 0]]);
  const add = (modality: string, n: number) => counts.set(modality, (counts.get(modality) ?? 0) + n);
  for (const content of [...contents, system]) {
    const parts: unknown = (content as Json | null | undefined)?.parts;
    for (const part of Array.isArray(parts) ? (parts as Json[]) : []) {
      if (part.thought === true) continue; // thoughts sent back are not prompt
      if (typeof part.text === "string") add("TEXT", countWords(part.text));
      const inline = (part.inlineData ?? part.inline_data) as Json | undefined;
      const file = (part.fileData ?? part.file_data) as Json | undefined;
      const media = inline ?? file;
      if (media === undefined) continue;
      const modality = mediaModality(String(media.mimeType ?? media.mime_type));
      const size = inline && modality === "AUDIO" ? audioTokens(String(inline.data)) : IMAGE_TOKENS;
      add(modality, modality === "DOCUMENT" ? DOCUMENT_TOKENS : size);
    }
  }
  return [...counts]
    .filter(([m, n]) => m === "TEXT" || n > 0)
    .map(([modality, tokenCount]) => ({ modality, tokenCount }));
}

/** Words in the text parts of `contents` and `systemInstruction`: the fake's prompt token count for text. */
export function promptWords(body: Json): number {
  return promptDetails(body).find((d) => d.modality === "TEXT")?.tokenCount ?? 0;
}

/** The fake's log probability of a piece: a function of its position, so tests can predict it. */
export function logprobStep(piece: string, index: number, top: number): LogprobStep {
  const logProbability = -Math.round((0.05 + index * 0.1) * 1e6) / 1e6;
  const alternatives = Array.from({ length: Math.max(0, top - 1) }, (_, k) => ({
    token: `${piece.trim()}~${k + 1}`,
    logProbability: Math.round((logProbability - (k + 1)) * 1e6) / 1e6,
  }));
  const chosen = { token: piece, logProbability };
  return { chosen, top: top > 0 ? [chosen, ...alternatives] : [] };
}

function thinkingOf(body: Json): Json {
  const config = (body.generationConfig ?? body.generation_config) as Json | undefined;
  return ((config?.thinkingConfig ?? config?.thinking_config) as Json | undefined) ?? {};
}

export function planGenerate(script: GenerateScript, body: Json, model: string): GeneratePlan {
  const calls = script.functionCalls ?? [];
  const text = script.chunks?.join("") ?? script.text ?? (calls.length > 0 ? "" : DEFAULT_TEXT);
  const pieces = script.chunks ?? splitWords(text);
  const config = ((body.generationConfig ?? body.generation_config) as Json | undefined) ?? {};
  const wantsLogprobs = (config.responseLogprobs ?? config.response_logprobs) === true;
  const top = typeof config.logprobs === "number" ? config.logprobs : 0;
  const includeThoughts = (thinkingOf(body).includeThoughts ?? thinkingOf(body).include_thoughts) === true;
  const thoughts = script.thoughts ?? [];
  const details = promptDetails(body);
  return {
    modelVersion: script.modelVersion ?? model,
    responseId: responseId(),
    thoughts: includeThoughts ? thoughts : [],
    pieces,
    textSignature: script.textSignature,
    calls,
    logprobs: wantsLogprobs ? pieces.map((piece, i) => logprobStep(piece, i, top)) : undefined,
    finishReason: script.finishReason === undefined ? "STOP" : script.finishReason,
    blockReason: script.blockReason,
    usage: script.usage ?? {
      promptTokenCount: details.reduce((sum, d) => sum + d.tokenCount, 0),
      candidatesTokenCount: pieces.length + calls.length,
      ...(thoughts.length > 0
        ? { thoughtsTokenCount: thoughts.reduce((n, t) => n + countWords(t.text), 0) }
        : {}),
      ...(details.length > 1 ? { promptTokensDetails: details } : {}),
    },
  };
}

/** Every thought signature the plan hands out (the fake accepts only these back). */
export function signaturesOf(plan: GeneratePlan): string[] {
  const all = [
    ...plan.thoughts.map((t) => t.signature),
    plan.textSignature,
    ...plan.calls.map((c) => c.thoughtSignature),
  ];
  return all.filter((s): s is string => s !== undefined);
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
  meta.promptTokensDetails = usage.promptTokensDetails ?? [
    { modality: "TEXT", tokenCount: usage.promptTokenCount },
  ];
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

function thoughtPart(thought: Thought): Json {
  const part: Json = { text: thought.text, thought: true };
  if (thought.signature !== undefined) part.thoughtSignature = thought.signature;
  return part;
}

function textPart(text: string, signature: string | undefined): Json {
  return signature === undefined ? { text } : { text, thoughtSignature: signature };
}

function logprobsResult(steps: LogprobStep[]): Json {
  return {
    topCandidates: steps.map((s) => ({ candidates: s.top })),
    chosenCandidates: steps.map((s) => s.chosen),
  };
}

type ChunkContent = { parts: Json[]; logprobs?: LogprobStep[] };

function response(
  plan: GeneratePlan,
  content: ChunkContent,
  finish: string | null,
  candidates: number | undefined,
): Json {
  if (plan.blockReason !== undefined) {
    // A blocked prompt: no candidates at all, only promptFeedback.
    return {
      promptFeedback: { blockReason: plan.blockReason },
      usageMetadata: usageMetadata(plan.usage, undefined),
      modelVersion: plan.modelVersion,
      responseId: plan.responseId,
    };
  }
  const parts = content.parts;
  const candidate: Json = { content: { parts, role: "model" } };
  if (finish !== null) candidate.finishReason = finish;
  if (content.logprobs !== undefined && content.logprobs.length > 0) {
    const sum = content.logprobs.reduce((n, s) => n + s.chosen.logProbability, 0);
    candidate.avgLogprobs = sum / content.logprobs.length;
    candidate.logprobsResult = logprobsResult(content.logprobs);
  }
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
  const parts: Json[] = plan.thoughts.map(thoughtPart);
  if (text !== "" || plan.calls.length === 0) parts.push(textPart(text, plan.textSignature));
  parts.push(...plan.calls.map(functionCallPart));
  const content: ChunkContent = { parts, ...(plan.logprobs ? { logprobs: plan.logprobs } : {}) };
  return response(plan, content, plan.finishReason, plan.usage.candidatesTokenCount);
}

/**
 * The chunks of a streamed generation: one per thought summary, one per text piece (the last
 * carries the text signature and each its logprobs step), then one with all function calls
 * (Gemini never splits a call). The last chunk carries finishReason; usageMetadata is cumulative
 * in every chunk, thoughts counted from the first.
 */
export function streamChunks(plan: GeneratePlan): Json[] {
  const contents: { content: ChunkContent; candidates: number | undefined }[] = [];
  for (const thought of plan.thoughts)
    contents.push({ content: { parts: [thoughtPart(thought)] }, candidates: undefined });
  const final = plan.usage.candidatesTokenCount;
  plan.pieces.forEach((text, i) => {
    const last = i === plan.pieces.length - 1;
    const step = plan.logprobs?.[i];
    contents.push({
      content: {
        parts: [textPart(text, last ? plan.textSignature : undefined)],
        ...(step ? { logprobs: [step] } : {}),
      },
      candidates: Math.min(final, i + 1),
    });
  });
  if (plan.calls.length > 0)
    contents.push({ content: { parts: plan.calls.map(functionCallPart) }, candidates: final });
  if (contents.length === 0) contents.push({ content: { parts: [{ text: "" }] }, candidates: final });
  return contents.map(({ content, candidates }, i) => {
    const last = i === contents.length - 1;
    return response(plan, content, last ? plan.finishReason : null, last ? final : candidates);
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

/** `data: {"error": status}`; by default the INTERNAL status the API sends when generation fails. */
export function midStreamErrorEvent(
  crlf: boolean,
  status: Json = { code: 500, message: MID_STREAM_ERROR_MESSAGE, status: "INTERNAL" },
): SseEvent {
  return { text: `data: ${googleCompactJson({ error: status })}${crlf ? "\r\n\r\n" : "\n\n"}`, tokens: 0 };
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
