/**
 * OpenAI-style rate-limit headers (`x-ratelimit-remaining-requests`, `x-ratelimit-reset-tokens`, …), as sent
 * by api.openai.com, Azure, Groq, Together and others. They say how much is left and when it refills, which
 * is a retry hint for a 429 that carries no `retry-after`.
 */
export type RateLimitState = {
  remainingRequests?: number;
  remainingTokens?: number;
  /** Time until the request allowance is full again. */
  resetRequestsMs?: number;
  resetTokensMs?: number;
};

type Headers = Record<string, string | string[] | undefined>;

const UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 1e-3,
  µs: 1e-3,
  ns: 1e-6,
};
const DURATION = /^(?:\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|ns))+$/;
const PART = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g;

/** "6m0s", "1.5s", "120ms", "1h2m3s" (Go durations, as OpenAI sends them) or bare seconds ("20"). */
export function parseResetDuration(value: string): number | undefined {
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number.parseFloat(text) * 1000;
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART))
    total += Number.parseFloat(amount ?? "0") * (UNIT_MS[unit ?? ""] ?? 0);
  return total;
}

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function count(headers: Headers, name: string): number | undefined {
  const value = header(headers, name);
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number.parseInt(value, 10);
}

function duration(headers: Headers, name: string): number | undefined {
  const value = header(headers, name);
  return value === undefined ? undefined : parseResetDuration(value);
}

export function parseRateLimitHeaders(headers: Headers): RateLimitState {
  const state: RateLimitState = {};
  const remainingRequests = count(headers, "x-ratelimit-remaining-requests");
  const remainingTokens = count(headers, "x-ratelimit-remaining-tokens");
  const resetRequestsMs = duration(headers, "x-ratelimit-reset-requests");
  const resetTokensMs = duration(headers, "x-ratelimit-reset-tokens");
  if (remainingRequests !== undefined) state.remainingRequests = remainingRequests;
  if (remainingTokens !== undefined) state.remainingTokens = remainingTokens;
  if (resetRequestsMs !== undefined) state.resetRequestsMs = resetRequestsMs;
  if (resetTokensMs !== undefined) state.resetTokensMs = resetTokensMs;
  return state;
}

/**
 * The wait a 429 implies when it has no `retry-after`: the reset of the exhausted allowance (both, if both
 * are), else the longest reset reported (a request larger than the remaining tokens is refused with
 * tokens left). Undefined when the server reported no reset at all.
 */
export function resetHintMs(state: RateLimitState): number | undefined {
  const exhausted: number[] = [];
  if (state.remainingRequests === 0 && state.resetRequestsMs !== undefined)
    exhausted.push(state.resetRequestsMs);
  if (state.remainingTokens === 0 && state.resetTokensMs !== undefined) exhausted.push(state.resetTokensMs);
  const candidates =
    exhausted.length > 0
      ? exhausted
      : [state.resetRequestsMs, state.resetTokensMs].filter((v): v is number => v !== undefined);
  return candidates.length > 0 ? Math.max(...candidates) : undefined;
}

/** "requests 0 left, reset 120ms; tokens 5000 left, reset 2s" for the operator's log line. */
export function describeRateLimit(state: RateLimitState): string {
  const part = (what: string, left: number | undefined, reset: number | undefined): string | undefined => {
    if (left === undefined && reset === undefined) return undefined;
    const pieces = [
      left === undefined ? undefined : `${left} left`,
      reset === undefined ? undefined : `reset ${reset}ms`,
    ];
    return `${what} ${pieces.filter(Boolean).join(", ")}`;
  };
  return [
    part("requests", state.remainingRequests, state.resetRequestsMs),
    part("tokens", state.remainingTokens, state.resetTokensMs),
  ]
    .filter(Boolean)
    .join("; ");
}
