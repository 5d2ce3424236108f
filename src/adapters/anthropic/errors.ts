import { UpstreamError, type UpstreamErrorKind } from "../../errors/upstream-error.ts";
import { kindForHttpStatus, parseRetryAfter } from "../../upstream/classify.ts";
import { readErrorBody } from "../../upstream/http-body.ts";
import type { HttpResponse } from "../../upstream/http-pool.ts";
import { knownCode } from "../../upstream/provider-code.ts";

/** Anthropic's `error.type` values whose meaning does not depend on the HTTP status. */
const KIND_OF_ERROR_TYPE: Partial<Record<string, UpstreamErrorKind>> = {
  invalid_request_error: "bad_request",
  request_too_large: "bad_request",
  authentication_error: "auth",
  permission_error: "auth",
  not_found_error: "auth", // our config names a model (or route) the account cannot reach
  billing_error: "auth", // the gateway's account, not the caller's request
  rate_limit_error: "rate_limited",
  timeout_error: "timeout",
  api_error: "unavailable",
  overloaded_error: "overloaded",
};

type WireError = { type?: unknown; error?: { type?: unknown; message?: unknown } };

/**
 * Reads an Anthropic error response (`{"type":"error","error":{"type","message"},"request_id"}`) into an
 * UpstreamError. The status table decides; the body only refines statuses the table cannot tell apart
 * (billing_error is a 402 about our account). Only the error type is kept: the provider's message can
 * quote the prompt or part of our key.
 */
export async function errorFromResponse(backend: string, response: HttpResponse): Promise<UpstreamError> {
  const text = await readErrorBody(response);
  const type = knownCode("anthropic", parseError(text).type) ?? "";
  let kind = kindForHttpStatus(response.status);
  if (type === "billing_error" || type === "overloaded_error") kind = KIND_OF_ERROR_TYPE[type] ?? kind;
  const detail = describe(type);
  return new UpstreamError(kind, `${backend} answered HTTP ${response.status}${detail}`, {
    status: response.status,
    retryAfterMs: parseRetryAfter(response.headers),
  });
}

/** An `event: error` inside a 200 stream (e.g. overloaded_error once generation had started). */
export function errorFromStreamEvent(backend: string, data: string, afterFirstToken: boolean): UpstreamError {
  // Only a known type is looked up (and shown): the table is an object, "constructor" must not match.
  const type = knownCode("anthropic", parseError(data).type) ?? "";
  const kind = KIND_OF_ERROR_TYPE[type] ?? "unavailable";
  return new UpstreamError(kind, `${backend} sent an error mid-stream${describe(type)}`, {
    afterFirstToken,
  });
}

/** The raw `error.type` (unknown until checked against the allowlist); "" when the body is not JSON. */
function parseError(text: string): { type: unknown } {
  try {
    const parsed = JSON.parse(text) as WireError | null;
    return { type: parsed?.error?.type };
  } catch {
    return { type: "" }; // a proxy's HTML page, say: the status alone classifies it
  }
}

/**
 * Only a known error type (src/upstream/provider-code.ts): provider messages, and types it made up, are not
 * passed on (they can quote the prompt, or part of the key).
 */
function describe(type: string): string {
  return type ? ` (${type})` : "";
}

/**
 * A request Anthropic cannot carry, refused before any call. The message names the neutral field and
 * quotes no caller content. An UpstreamError of kind bad_request, like every adapter's refusal: the
 * attempt loop answers it as upstream_rejected_request (INVALID_ARGUMENT / 400), keeps it out of the
 * breaker, and does not retry it (a GatewayError thrown here would read as a network failure).
 */
export function invalidArgument(message: string): UpstreamError {
  return new UpstreamError("bad_request", message);
}
