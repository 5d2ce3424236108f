import { UpstreamError, type UpstreamErrorKind } from "../../errors/upstream-error.ts";
import { kindForHttpStatus, parseRetryAfter } from "../../upstream/classify.ts";
import { readErrorBody } from "../../upstream/http-body.ts";
import type { HttpResponse } from "../../upstream/http-pool.ts";

/** Anthropic's `error.type` values whose meaning does not depend on the HTTP status. */
const KIND_OF_ERROR_TYPE: Record<string, UpstreamErrorKind> = {
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

type WireError = { type?: string; error?: { type?: string; message?: string } };

/**
 * Reads an Anthropic error response (`{"type":"error","error":{"type","message"},"request_id"}`) into an
 * UpstreamError. The status table decides; the body only refines statuses the table cannot tell apart
 * (billing_error is a 402 about our account). Only the error type is kept: the provider's message can
 * quote the prompt or part of our key.
 */
export async function errorFromResponse(backend: string, response: HttpResponse): Promise<UpstreamError> {
  const text = await readErrorBody(response);
  const { type } = parseError(text);
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
  const { type } = parseError(data);
  const kind = KIND_OF_ERROR_TYPE[type] ?? "unavailable";
  return new UpstreamError(kind, `${backend} sent an error mid-stream${describe(type)}`, {
    afterFirstToken,
  });
}

function parseError(text: string): { type: string; message: string } {
  try {
    const parsed = JSON.parse(text) as WireError;
    return { type: parsed.error?.type ?? "", message: parsed.error?.message ?? "" };
  } catch {
    return { type: "", message: "" }; // a proxy's HTML page, say: the status alone classifies it
  }
}

/** Only the error type: provider messages are not passed on (they can quote the prompt, or part of the key). */
function describe(type: string): string {
  return type ? ` (${type})` : "";
}
