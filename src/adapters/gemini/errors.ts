import { UpstreamError, type UpstreamErrorKind } from "../../errors/upstream-error.ts";
import { boundedRetryAfter, kindForHttpStatus, parseRetryAfter } from "../../upstream/classify.ts";
import { readErrorBody } from "../../upstream/http-body.ts";
import type { HttpResponse } from "../../upstream/http-pool.ts";
import { knownCode } from "../../upstream/provider-code.ts";

/** A google.rpc.Status as the Gemini API sends it: {"error": {code, message, status, details}}. */
export type WireStatus = {
  code?: number;
  message?: string;
  status?: string;
  /** google.rpc detail messages (ErrorInfo, RetryInfo, QuotaFailure, Help, ...), each with "@type". */
  details?: Record<string, unknown>[];
};

const RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo";
const ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo";
/** ErrorInfo reasons that mean the gateway's key is at fault, even when the status is 400. */
const KEY_REASONS = new Set(["API_KEY_INVALID", "API_KEY_EXPIRED"]);

/**
 * Reads a Gemini error response into an UpstreamError. Only a known status and ErrorInfo reason are
 * kept: the provider's message (and any value it made up) can quote the prompt or part of the key.
 */
export async function errorFromResponse(backend: string, response: HttpResponse): Promise<UpstreamError> {
  const error = parseStatus(await readErrorBody(response));
  const kind = kindOf(response.status, error);
  return new UpstreamError(kind, `${backend} answered HTTP ${response.status}${describe(error)}`, {
    status: response.status,
    retryAfterMs: parseRetryAfter(response.headers) ?? retryDelayOf(error),
  });
}

/** An `{"error": ...}` object sent as an SSE event after the stream had started. */
export function midStreamError(backend: string, error: WireStatus, afterFirstToken: boolean): UpstreamError {
  const kind: UpstreamErrorKind = "unavailable";
  return new UpstreamError(kind, `${backend} sent an error mid-stream${describe(error)}`, {
    afterFirstToken,
    retryAfterMs: retryDelayOf(error),
  });
}

function kindOf(status: number, error: WireStatus | undefined): UpstreamErrorKind {
  const reason = reasonOf(error);
  if (status === 400) {
    if ((reason !== undefined && KEY_REASONS.has(reason)) || error?.message?.includes("API key not valid")) {
      return "auth";
    }
    // e.g. "User location is not supported for the API use": the operator's setup, not the request.
    if (error?.status === "FAILED_PRECONDITION") return "auth";
  }
  return kindForHttpStatus(status);
}

/**
 * Known status and reason only (src/upstream/provider-code.ts): provider messages, and values it made up,
 * are not passed on (they can quote the prompt, or part of the key).
 */
function describe(error: WireStatus | undefined): string {
  if (error === undefined) return "";
  const status = knownCode("google-status", error.status);
  const reason = knownCode("google-reason", reasonOf(error));
  const code = [status, reason].filter(Boolean).join("/");
  return code ? ` (${code})` : "";
}

function reasonOf(error: WireStatus | undefined): string | undefined {
  const reason = detailOf(error, ERROR_INFO)?.reason;
  return typeof reason === "string" ? reason : undefined;
}

function detailOf(error: WireStatus | undefined, type: string): Record<string, unknown> | undefined {
  return error?.details?.find((d) => d["@type"] === type);
}

/** RetryInfo.retryDelay is a protobuf Duration in JSON: "13s", "1.5s", "0.250s". */
export function retryDelayOf(error: WireStatus | undefined): number | undefined {
  const delay = detailOf(error, RETRY_INFO)?.retryDelay;
  const match = typeof delay === "string" ? /^\s*(\d+(?:\.\d+)?)s\s*$/.exec(delay) : null;
  return match?.[1] === undefined
    ? undefined
    : boundedRetryAfter(Math.ceil(Number.parseFloat(match[1]) * 1000));
}

export function parseStatus(text: string): WireStatus | undefined {
  try {
    return statusOf(JSON.parse(text));
  } catch {
    return undefined; // not JSON (a proxy's HTML page, say): the status alone classifies it
  }
}

/** The google.rpc.Status inside `{"error": {...}}`, keeping only fields of the expected types. */
export function statusOf(value: unknown): WireStatus | undefined {
  const error = isObject(value) ? value.error : undefined;
  if (!isObject(error)) return undefined;
  return {
    ...(typeof error.code === "number" ? { code: error.code } : {}),
    ...(typeof error.message === "string" ? { message: error.message } : {}),
    ...(typeof error.status === "string" ? { status: error.status } : {}),
    ...(Array.isArray(error.details) ? { details: error.details.filter(isObject) } : {}),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
