/**
 * Full-jitter exponential backoff (uniform in [0, min(max, base·2^retry))):
 * spreads retries of many callers instead of synchronising them.
 */
export function fullJitterMs(retry: number, baseMs: number, maxMs: number, random: () => number): number {
  return random() * Math.min(maxMs, baseMs * 2 ** retry);
}
