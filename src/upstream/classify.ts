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

/**
 * The longest wait an upstream may ask for (5 minutes): a backend's cool-down and the delay we pass
 * on to callers follow it, so `retry-after: 1e12` must not park a backend for good (health checks
 * and the breaker take over past this).
 */
export const MAX_UPSTREAM_RETRY_AFTER_MS = 300_000;

/** An upstream's wait in ms, bounded to [0, MAX_UPSTREAM_RETRY_AFTER_MS]; anything else is no wait. */
export function boundedRetryAfter(ms: number | undefined): number | undefined {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return undefined;
  return Math.min(ms, MAX_UPSTREAM_RETRY_AFTER_MS);
}

/** `retry-after-ms` (OpenAI, fractional ms) wins over `retry-after` (seconds or an HTTP date); bounded. */
export function parseRetryAfter(
  headers: Record<string, string | string[] | undefined>,
  now: number = Date.now(),
): number | undefined {
  const ms = first(headers["retry-after-ms"]);
  if (ms !== undefined) {
    const value = boundedRetryAfter(Number.parseFloat(ms));
    if (value !== undefined) return value;
  }
  const after = first(headers["retry-after"]);
  if (after === undefined) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(after)) return boundedRetryAfter(Number.parseFloat(after) * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : boundedRetryAfter(Math.max(0, date - now));
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
  const raw = (error as { code?: unknown } | undefined)?.code;
  // Node and undici codes (ECONNRESET, UND_ERR_SOCKET) only: the name of an error class says enough otherwise.
  const code = typeof raw === "string" && /^[A-Z][A-Z0-9_]{0,39}$/.test(raw) ? raw : "";
  const message = code || (error instanceof Error ? boundedName(error.name) : "network error");
  if (code === "UND_ERR_CONNECT_TIMEOUT")
    return new UpstreamError("timeout", `connect timeout`, { cause: error });
  return new UpstreamError("unavailable", `network error: ${message}`, { cause: error });
}

function boundedName(name: string): string {
  return /^[A-Za-z][A-Za-z0-9_]{0,39}$/.test(name) ? name : "Error";
}
