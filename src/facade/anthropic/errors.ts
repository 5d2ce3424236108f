import { catalog, type Reason } from "../../errors/catalog.ts";
import { GatewayError } from "../../errors/gateway-error.ts";
import { OpenAIRequestError } from "../openai/errors.ts";

/** Anthropic's error object: `{"type": "error", "error": {type, message}}`. */
export type AnthropicErrorBody = { type: "error"; error: { type: string; message: string } };
export type RenderedAnthropicError = {
  status: number;
  headers: Record<string, string>;
  body: AnthropicErrorBody;
};

/**
 * Statuses Anthropic uses differently from the catalog's: it answers its own overload with 529
 * (the SDKs retry it), and has no 499 (a caller that left reads nothing anyway).
 */
const STATUS_OF: Partial<Record<Reason, number>> = { overloaded: 529 };

/** Anthropic's `error.type` for a status (docs.anthropic.com "Errors"); the SDKs pick the class by status. */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 504:
      return "timeout_error";
    case 529:
      return "overloaded_error";
    default:
      return status < 500 ? "invalid_request_error" : "api_error";
  }
}

/** Reasons a retry cannot fix: the SDK is told not to retry (it would for any 5xx). */
const NOT_RETRYABLE = new Set<Reason>(["upstream_misconfigured"]);
const DEFAULT_RETRY_AFTER_MS = 1000;

/**
 * Any failure in Anthropic's error shape with the catalog's status (Anthropic's where it differs),
 * x-request-id and x-switchyard-reason. Unknown failures become a 500 with only the request id.
 */
export function renderAnthropicError(error: unknown, requestId: string): RenderedAnthropicError {
  const headers: Record<string, string> = { "x-request-id": requestId };
  if (!(error instanceof GatewayError)) {
    headers["x-switchyard-reason"] = "internal";
    return {
      status: 500,
      headers,
      body: {
        type: "error",
        error: { type: "api_error", message: `internal error (request id ${requestId})` },
      },
    };
  }
  const reason = error.reason;
  // The shared body reader refuses a wrong content-type with its own REST status (415).
  const status =
    (error instanceof OpenAIRequestError ? error.status : undefined) ??
    STATUS_OF[reason] ??
    catalog[reason].http;
  headers["x-switchyard-reason"] = reason;
  if (status === 429 || status === 529 || error.retryAfterMs !== undefined) {
    const ms = Math.max(0, Math.ceil(error.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS));
    headers["retry-after-ms"] = String(ms);
    headers["retry-after"] = String(Math.ceil(ms / 1000));
  }
  if (NOT_RETRYABLE.has(reason)) headers["x-should-retry"] = "false";
  return {
    status,
    headers,
    body: { type: "error", error: { type: anthropicErrorType(status), message: error.message } },
  };
}
