import { UpstreamError, type UpstreamErrorKind } from "../../errors/upstream-error.ts";
import { firstKnownCode } from "../../upstream/provider-code.ts";
import type {
  FinishReason,
  GenerateOutput,
  ReasoningBlock,
  TokenLogprob,
  TokenUsage,
  ToolCall,
} from "../adapter.ts";
import { logprobsOf, serviceTierOf, type WireLogprob } from "./response.ts";

/** Wire shapes of a Responses API `response` object, as much as we read. */
type WireSummary = { type?: string; text?: string };
type WireContentPart = { type?: string; text?: string; refusal?: string; logprobs?: WireLogprob[] | null };
export type WireOutputItem = {
  type?: string;
  id?: string;
  call_id?: string;
  name?: string;
  arguments?: string;
  content?: WireContentPart[] | null;
  summary?: WireSummary[] | null;
  encrypted_content?: string | null;
};
export type WireResponsesUsage = {
  input_tokens?: number;
  output_tokens?: number;
  input_tokens_details?: { cached_tokens?: number; cache_write_tokens?: number } | null;
  output_tokens_details?: { reasoning_tokens?: number } | null;
};
export type WireResponse = {
  model?: string;
  status?: string;
  output?: WireOutputItem[] | null;
  usage?: WireResponsesUsage | null;
  incomplete_details?: { reason?: string } | null;
  error?: { code?: string | null; message?: string } | null;
  service_tier?: string | null;
};

function count(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Token classes as reported; input_tokens include the cached ones and output_tokens the reasoning ones. */
export function responsesUsageOf(usage: WireResponsesUsage | null | undefined): TokenUsage | undefined {
  if (!usage || typeof usage.input_tokens !== "number") return undefined;
  const reasoning = count(usage.output_tokens_details?.reasoning_tokens);
  const cacheWrite = count(usage.input_tokens_details?.cache_write_tokens);
  return {
    inputTokens: usage.input_tokens,
    outputTokens: count(usage.output_tokens) ?? 0,
    cachedInputTokens: count(usage.input_tokens_details?.cached_tokens) ?? 0,
    ...(reasoning !== undefined ? { reasoningTokens: reasoning } : {}),
    ...(cacheWrite !== undefined ? { cacheWriteTokens: cacheWrite } : {}),
  };
}

/** Summary parts of one reasoning item are separate paragraphs; streamed deltas get the same separator. */
export const SUMMARY_SEPARATOR = "\n\n";

export function reasoningBlockOf(item: WireOutputItem): ReasoningBlock {
  const text = (item.summary ?? [])
    .map((s) => (s.type === "summary_text" && typeof s.text === "string" ? s.text : ""))
    .join(SUMMARY_SEPARATOR);
  return {
    text,
    provider: "openai",
    ...(typeof item.id === "string" ? { id: item.id } : {}),
    ...(typeof item.encrypted_content === "string" ? { encryptedContent: item.encrypted_content } : {}),
  };
}

/** Why a response ended: status `incomplete` names its reason; otherwise tool calls or a plain stop. */
export function responsesFinishOf(wire: WireResponse, hasToolCalls: boolean, refused: boolean): FinishReason {
  if (wire.status === "incomplete") {
    const reason = wire.incomplete_details?.reason;
    if (reason === "max_output_tokens") return "length";
    if (reason === "content_filter") return "content_filter";
    return "other";
  }
  if (refused) return "content_filter";
  return hasToolCalls ? "tool_calls" : "stop";
}

export function fromResponse(backend: string, wire: WireResponse, requestedModel: string): GenerateOutput {
  if (wire.status === "failed") throw responsesStreamError(backend, wire.error?.code, false);
  let text = "";
  let refused = false;
  const toolCalls: ToolCall[] = [];
  const reasoning: ReasoningBlock[] = [];
  const logprobs: TokenLogprob[] = [];
  for (const item of wire.output ?? []) {
    if (item.type === "message") {
      for (const part of item.content ?? []) {
        if (part.type === "output_text" && typeof part.text === "string") {
          text += part.text;
          logprobs.push(...(logprobsOf({ content: part.logprobs ?? null }) ?? []));
        }
        if (part.type === "refusal") refused = true;
      }
    } else if (item.type === "function_call") {
      toolCalls.push({ id: item.call_id ?? "", name: item.name ?? "", arguments: item.arguments ?? "" });
    } else if (item.type === "reasoning") {
      reasoning.push(reasoningBlockOf(item));
    }
  }
  const usage = responsesUsageOf(wire.usage);
  const serviceTier = serviceTierOf(wire.service_tier);
  return {
    text,
    toolCalls,
    finishReason: responsesFinishOf(wire, toolCalls.length > 0, refused),
    model: wire.model ?? requestedModel,
    ...(usage ? { usage } : {}),
    ...(reasoning.length > 0 ? { reasoning } : {}),
    ...(logprobs.length > 0 ? { logprobs } : {}),
    ...(serviceTier ? { serviceTier } : {}),
  };
}

/** Kinds of the codes a failed response or an `error` stream event carries (ResponseError['code']). */
const KIND_OF_CODE: Readonly<Record<string, UpstreamErrorKind>> = {
  rate_limit_exceeded: "rate_limited",
  insufficient_quota: "auth",
  server_error: "unavailable",
  engine_overloaded: "overloaded",
  model_overloaded: "overloaded",
  invalid_prompt: "bad_request",
  context_length_exceeded: "bad_request",
  content_policy_violation: "bad_request",
};

/**
 * A `response.failed` or `error` event as an UpstreamError. Only a known provider code is named (never
 * the upstream message); image and input codes are the caller's input, anything else failed upstream.
 */
export function responsesStreamError(
  backend: string,
  code: unknown,
  afterFirstToken: boolean,
): UpstreamError {
  const raw = typeof code === "string" ? code : "";
  const kind =
    (Object.hasOwn(KIND_OF_CODE, raw) ? KIND_OF_CODE[raw] : undefined) ??
    (/image|file|base64|invalid_/.test(raw) ? "bad_request" : "unavailable");
  const said = firstKnownCode("openai", raw);
  return new UpstreamError(kind, `${backend} reported a failed response${said ? ` (${said})` : ""}`, {
    afterFirstToken,
  });
}
