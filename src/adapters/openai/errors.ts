import { UpstreamError, type UpstreamErrorKind } from "../../errors/upstream-error.ts";
import { kindForHttpStatus, parseRetryAfter } from "../../upstream/classify.ts";
import { readErrorBody } from "../../upstream/http-body.ts";
import type { HttpResponse } from "../../upstream/http-pool.ts";
import { firstKnownCode } from "../../upstream/provider-code.ts";
import { describeRateLimit, parseRateLimitHeaders, resetHintMs } from "./rate-limit.ts";

/** What an error body said, whichever compatible server wrote it. */
export type ErrorDetail = { type: string; code: string; message: string };

/**
 * Reads the error bodies OpenAI-compatible servers send:
 * - OpenAI, Ollama, llama-server, newer vLLM: `{"error": {message, type, code}}` (code may be a number);
 * - Mistral, older vLLM: `{"object": "error", message, type, param, code}`, where a 422's `message` can be
 *   a validation object `{"detail": [...]}`, a JSON string of one, or the `detail` array itself;
 * - FastAPI/pydantic validation and gateways in front: `{"detail": [...] | "..."}`, `{"message": "..."}`.
 * Validation entries are shown as `loc: msg`, never with their `input` (that may be the prompt).
 */
export function parseErrorBody(text: string): ErrorDetail {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { type: "", code: "", message: "" }; // a proxy's HTML page, say: the status alone classifies it
  }
  if (!isRecord(parsed)) return { type: "", code: "", message: "" };
  const inner = isRecord(parsed.error) ? parsed.error : parsed;
  return {
    type: scalar(inner.type),
    code: scalar(inner.code),
    message: messageOf(inner.message) || messageOf(parsed.detail) || scalar(parsed.error),
  };
}

function messageOf(value: unknown): string {
  if (typeof value === "string") {
    // Some Mistral 422s carry the validation object serialized as a string.
    if (value.startsWith("{") || value.startsWith("[")) {
      try {
        return messageOf(JSON.parse(value)) || value;
      } catch {
        return value;
      }
    }
    return value;
  }
  if (Array.isArray(value)) return value.map(validationEntry).filter(Boolean).join("; ");
  if (isRecord(value)) return messageOf(value.detail) || scalar(value.message);
  return "";
}

function validationEntry(entry: unknown): string {
  if (!isRecord(entry)) return typeof entry === "string" ? entry : "";
  const loc = Array.isArray(entry.loc) ? entry.loc.map(String).join(".") : "";
  const msg = scalar(entry.msg);
  return loc && msg ? `${loc}: ${msg}` : msg || loc;
}

function scalar(value: unknown): string {
  return typeof value === "string" || typeof value === "number" ? String(value) : "";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Status table, refined by what the body says. */
export function kindOf(status: number, detail: ErrorDetail): UpstreamErrorKind {
  const kind = kindForHttpStatus(status);
  if (status !== 429) return kind;
  // insufficient_quota is a billing problem of the gateway's account, not a transient limit.
  if (detail.code === "insufficient_quota" || detail.type === "insufficient_quota") return "auth";
  // Mistral answers 429 when a model's shared capacity (not our allowance) is exhausted.
  if (/service_tier_capacity|capacity exceeded/i.test(`${detail.type} ${detail.message}`))
    return "overloaded";
  return kind;
}

/**
 * The provider's code or type, when it is a known one (src/upstream/provider-code.ts). Never its message,
 * nor a code it made up: both can quote the prompt or the key it was sent.
 */
function shownCode(detail: ErrorDetail): string | undefined {
  return firstKnownCode("openai", detail.code, detail.type);
}

/**
 * Reads an error response into an UpstreamError. Only a known provider code/type is kept, so the message
 * never includes our request (no secret or prompt). A 429 without `retry-after` takes its wait from the
 * rate-limit reset headers, and its message names what is left (numbers only).
 */
export async function errorFromResponse(backend: string, response: HttpResponse): Promise<UpstreamError> {
  const detail = parseErrorBody(await readErrorBody(response));
  const kind = kindOf(response.status, detail);
  const said = shownCode(detail);
  let retryAfterMs = parseRetryAfter(response.headers);
  let limits = "";
  if (kind === "rate_limited") {
    const state = parseRateLimitHeaders(response.headers);
    retryAfterMs ??= resetHintMs(state);
    limits = describeRateLimit(state);
  }
  const message =
    `${backend} answered HTTP ${response.status}` +
    (said ? ` (${said})` : "") +
    (limits ? ` [rate limit: ${limits}]` : "");
  return new UpstreamError(kind, message, { status: response.status, retryAfterMs });
}

/**
 * An error event inside a stream (`{"error": {...}}`, or vLLM's and Mistral's `{"object": "error", ...}`).
 * A numeric code that is an HTTP status classifies it; otherwise the stream failed upstream.
 */
export function midStreamError(backend: string, chunk: Record<string, unknown>, afterFirstToken: boolean) {
  const detail = parseErrorBody(JSON.stringify(chunk));
  const status = Number(detail.code);
  const kind =
    Number.isInteger(status) && status >= 400 && status < 600 ? kindOf(status, detail) : "unavailable";
  const said = shownCode(detail);
  return new UpstreamError(kind, `${backend} sent an error mid-stream${said ? ` (${said})` : ""}`, {
    afterFirstToken,
  });
}
