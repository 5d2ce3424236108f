import { catalog, type Reason } from "../../errors/catalog.ts";
import { GatewayError } from "../../errors/gateway-error.ts";

/**
 * A request the facade rejects itself. It is a GatewayError (so the request
 * log line carries its reason) that also names the offending field, and may
 * carry a status of the REST layer that has no reason of its own (405, 415).
 */
export class OpenAIRequestError extends GatewayError {
  readonly param: string | null;
  readonly status: number | undefined;

  constructor(reason: Reason, message: string, options: { param?: string | null; status?: number } = {}) {
    super(reason, message);
    this.name = "OpenAIRequestError";
    this.param = options.param ?? null;
    this.status = options.status;
  }
}

/** A 400 about one field: the message starts with the field's path, which is also the `param`. */
export function invalidParam(param: string, message: string): OpenAIRequestError {
  return new OpenAIRequestError("invalid_argument", `${param}: ${message}`, { param });
}

export type ErrorObject = { message: string; type: string; param: string | null; code: string | null };
export type ErrorBody = { error: ErrorObject };
export type RenderedError = { status: number; headers: Record<string, string>; body: ErrorBody };

/**
 * OpenAI's `error.type` for a status. The SDKs pick the error class from the
 * status alone; the type is for humans and for code written against
 * api.openai.com (which also uses invalid_request_error for 404 and 413).
 */
export function errorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

/** The request field a reason is about, when the reason alone says so. */
const PARAM_OF: Partial<Record<Reason, string>> = {
  model_not_found: "model",
  unknown_workload: "model",
  missing_workload: "model",
  empty_messages: "messages",
  empty_inputs: "input",
};

/** Reasons a retry cannot fix: the SDK is told not to retry (it would for any 5xx). */
const NOT_RETRYABLE = new Set<Reason>(["upstream_misconfigured"]);

/** Suggested wait on a 429 that carries none of its own. */
const DEFAULT_RETRY_AFTER_MS = 1000;

/**
 * Any failure as OpenAI's error response: `{"error": {message, type, param,
 * code}}` with the catalog's HTTP status. Unknown failures become a 500 with
 * only the request id: their details stay in the log.
 */
export function renderError(error: unknown, requestId: string): RenderedError {
  const headers: Record<string, string> = { "x-request-id": requestId };
  if (!(error instanceof GatewayError)) {
    headers["x-switchyard-reason"] = "internal";
    return {
      status: 500,
      headers,
      body: {
        error: {
          message: `internal error (request id ${requestId})`,
          type: "server_error",
          param: null,
          code: "internal",
        },
      },
    };
  }
  const reason = error.reason;
  const status = (error instanceof OpenAIRequestError ? error.status : undefined) ?? catalog[reason].http;
  headers["x-switchyard-reason"] = reason;
  if (status === 429 || error.retryAfterMs !== undefined) {
    // The SDKs read retry-after-ms first (exact), retry-after (whole seconds) second.
    const ms = Math.max(0, Math.ceil(error.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS));
    headers["retry-after-ms"] = String(ms);
    headers["retry-after"] = String(Math.ceil(ms / 1000));
  }
  if (NOT_RETRYABLE.has(reason)) headers["x-should-retry"] = "false";
  const param = error instanceof OpenAIRequestError ? error.param : (PARAM_OF[reason] ?? null);
  return {
    status,
    headers,
    body: {
      error: { message: error.message, type: errorType(status), param, code: reason },
    },
  };
}
