import { UpstreamError, type UpstreamErrorKind } from "../errors/upstream-error.ts";

/**
 * The one table from upstream HTTP status to UpstreamError kind. Provider
 * adapters may refine it from the error body (e.g. OpenAI's insufficient_quota).
 */
export function kindForHttpStatus(status: number): UpstreamErrorKind {
  if (status === 429) return "rate_limited";
  if (status === 401 || status === 403 || status === 404) return "auth"; // gateway credentials or model name: operator's fix
  if (status === 408) return "timeout";
  if (status === 503 || status === 529) return "overloaded";
  if (status === 504) return "timeout";
  if (status >= 500) return "unavailable";
  if (status >= 400) return "bad_request";
  return "protocol";
}

/** `retry-after-ms` (OpenAI, fractional ms) wins over `retry-after` (seconds or an HTTP date). */
export function parseRetryAfter(
  headers: Record<string, string | string[] | undefined>,
  now: number = Date.now(),
): number | undefined {
  const ms = first(headers["retry-after-ms"]);
  if (ms !== undefined) {
    const value = Number.parseFloat(ms);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const after = first(headers["retry-after"]);
  if (after === undefined) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(after)) return Number.parseFloat(after) * 1000;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Turns a thrown network/abort failure into an UpstreamError. An abort caused
 * by our signal is reported as a timeout (deadline) — the router tells a
 * caller cancel apart by looking at the caller's own signal.
 */
export function classifyNetworkError(error: unknown, signal: AbortSignal): UpstreamError {
  if (error instanceof UpstreamError) return error;
  if (signal.aborted)
    return new UpstreamError("timeout", "upstream call aborted (deadline or cancel)", { cause: error });
  const code = (error as { code?: string }).code ?? "";
  const message = code || (error instanceof Error ? error.name : "network error");
  if (code === "UND_ERR_CONNECT_TIMEOUT")
    return new UpstreamError("timeout", `connect timeout`, { cause: error });
  return new UpstreamError("unavailable", `network error: ${message}`, { cause: error });
}
