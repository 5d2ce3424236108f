import { UpstreamError } from "../../errors/upstream-error.ts";
import type {
  FinishReason,
  GenerateOutput,
  ReasoningBlock,
  ReasoningDelta,
  TokenLogprob,
  TokenUsage,
  ToolCall,
} from "../adapter.ts";
import { PROVIDER } from "./parts.ts";

/** Wire shapes of the Gemini API (v1beta GenerateContentResponse), as much as we read. */
export type WirePart = {
  text?: string;
  /** A thought summary (only with includeThoughts): never part of the answer. */
  thought?: boolean;
  /** Opaque state of the model's thinking, to be sent back on the same part next turn. */
  thoughtSignature?: string;
  functionCall?: { name?: string; args?: Record<string, unknown> | null };
};
type WireLogprob = { token?: string; logProbability?: number };
export type WireLogprobs = {
  chosenCandidates?: WireLogprob[];
  topCandidates?: { candidates?: WireLogprob[] }[];
};
export type WireCandidate = {
  content?: { role?: string; parts?: WirePart[] };
  finishReason?: string;
  logprobsResult?: WireLogprobs;
};
type ModalityCount = { modality?: string; tokenCount?: number };
export type WireUsage = {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  cachedContentTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
  promptTokensDetails?: ModalityCount[];
};
export type WireResponse = {
  candidates?: WireCandidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: WireUsage;
  modelVersion?: string;
  responseId?: string;
};

/** Gemini has no tool-call ids: we number the calls of one response and map them back by position. */
export function toolCallId(index: number): string {
  return `call_${index}`;
}

const FILTERED = new Set([
  "SAFETY",
  "RECITATION",
  "BLOCKLIST",
  "PROHIBITED_CONTENT",
  "SPII",
  "IMAGE_SAFETY",
  "IMAGE_PROHIBITED_CONTENT",
]);

export function finishReasonOf(reason: string | undefined, hasToolCalls: boolean): FinishReason {
  // Gemini says STOP after function calls; callers expect tool_calls.
  if (hasToolCalls) return "tool_calls";
  if (reason === "STOP") return "stop";
  if (reason === "MAX_TOKENS") return "length";
  if (reason !== undefined && FILTERED.has(reason)) return "content_filter";
  return "other";
}

export function usageOf(usage: WireUsage | undefined): TokenUsage | undefined {
  if (!usage || typeof usage.promptTokenCount !== "number") return undefined;
  const out: TokenUsage = {
    // Tool-use prompt tokens (built-in tools' results fed back) are billed as input.
    inputTokens: usage.promptTokenCount + (usage.toolUsePromptTokenCount ?? 0),
    // candidatesTokenCount excludes thinking; thinking is billed as output, so neutral output includes it.
    outputTokens: (usage.candidatesTokenCount ?? 0) + (usage.thoughtsTokenCount ?? 0),
    cachedInputTokens: usage.cachedContentTokenCount ?? 0,
  };
  if (typeof usage.thoughtsTokenCount === "number") out.reasoningTokens = usage.thoughtsTokenCount;
  const audio = modalityCount(usage.promptTokensDetails, "AUDIO");
  if (audio !== undefined) out.audioInputTokens = audio;
  const image = modalityCount(usage.promptTokensDetails, "IMAGE");
  if (image !== undefined) out.imageInputTokens = image;
  return out;
}

function modalityCount(details: ModalityCount[] | undefined, modality: string): number | undefined {
  const entry = details?.find((d) => d.modality === modality);
  return entry ? (entry.tokenCount ?? 0) : undefined;
}

/** logprobsResult → one TokenLogprob per decoding step, with that step's top alternatives. */
export function logprobsOf(result: WireLogprobs | undefined): TokenLogprob[] | undefined {
  const chosen = result?.chosenCandidates;
  if (!chosen || chosen.length === 0) return undefined;
  return chosen.map((c, i) => ({
    token: c.token ?? "",
    logprob: c.logProbability ?? 0,
    topLogprobs: (result.topCandidates?.[i]?.candidates ?? []).map((t) => ({
      token: t.token ?? "",
      logprob: t.logProbability ?? 0,
    })),
  }));
}

/** What one chunk (or a whole unary response) says, in order of kind. */
export type CandidateRead = {
  reasoning: ReasoningDelta[];
  text: string;
  calls: (ToolCall & { index: number })[];
};

/**
 * Reads candidates' parts, in order, across the chunks of one response: numbers tool calls and
 * reasoning blocks, and keeps a streamed thought summary in one block until another part (or its
 * signature) ends it. Every thoughtSignature becomes reasoning of provider "gemini" (model-turn.ts
 * says how each kind goes back).
 */
export class PartReader {
  #calls = 0;
  #blocks = 0;
  #openThought: number | undefined;

  read(candidate: WireCandidate | undefined): CandidateRead {
    const read: CandidateRead = { reasoning: [], text: "", calls: [] };
    for (const part of candidate?.content?.parts ?? []) {
      const signature = part.thoughtSignature || undefined;
      if (part.thought === true) {
        const text = part.text ?? "";
        if (text === "" && signature === undefined) continue;
        const index = this.#openThought ?? this.#blocks++;
        this.#openThought = signature === undefined ? index : undefined;
        read.reasoning.push(delta(index, { ...(text ? { text } : {}), ...(signature ? { signature } : {}) }));
        continue;
      }
      this.#openThought = undefined;
      if (typeof part.text === "string") {
        read.text += part.text;
        if (signature) read.reasoning.push(delta(this.#blocks++, { signature }));
      }
      if (part.functionCall) {
        const index = this.#calls++;
        const id = toolCallId(index);
        read.calls.push({
          index,
          id,
          name: part.functionCall.name ?? "",
          arguments: JSON.stringify(part.functionCall.args ?? {}),
        });
        if (signature) read.reasoning.push(delta(this.#blocks++, { signature, id }));
      }
    }
    return read;
  }

  get calls(): number {
    return this.#calls;
  }
}

function delta(index: number, fields: Omit<ReasoningDelta, "type" | "index" | "provider">): ReasoningDelta {
  return { type: "reasoning", index, provider: PROVIDER, ...fields };
}

/** The blocks the deltas of one response add up to. */
export function blocksOf(deltas: ReasoningDelta[]): ReasoningBlock[] {
  const blocks: ReasoningBlock[] = [];
  for (const d of deltas) {
    const block = blocks[d.index] ?? { provider: d.provider, text: "" };
    blocks[d.index] = block;
    if (d.text) block.text += d.text;
    if (d.signature !== undefined) block.signature = d.signature;
    if (d.id !== undefined) block.id = d.id;
  }
  return blocks;
}

export function fromResponse(backend: string, wire: WireResponse, requestedModel: string): GenerateOutput {
  const candidate = wire.candidates?.[0];
  const blocked = wire.promptFeedback?.blockReason;
  if (candidate === undefined && blocked === undefined) {
    throw new UpstreamError("protocol", `${backend} answered without a candidate`);
  }
  const { text, calls, reasoning } = new PartReader().read(candidate);
  const usage = usageOf(wire.usageMetadata);
  const logprobs = logprobsOf(candidate?.logprobsResult);
  return {
    text,
    toolCalls: calls.map(({ id, name, arguments: args }) => ({ id, name, arguments: args })),
    // A blocked prompt has no candidate, only promptFeedback.blockReason.
    finishReason: candidate ? finishReasonOf(candidate.finishReason, calls.length > 0) : "content_filter",
    model: wire.modelVersion ?? requestedModel,
    ...(usage ? { usage } : {}),
    ...(reasoning.length > 0 ? { reasoning: blocksOf(reasoning) } : {}),
    ...(logprobs ? { logprobs } : {}),
  };
}
