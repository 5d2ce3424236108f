/**
 * The most characters of a client-sent string (workload, requested model, key name, audit target) that
 * a log line, span attribute, audit row or error message repeats. Without a bound, one unauthenticated
 * call with a 256 KB workload name wrote 256 KB into the log and the append-only audit trail.
 * 128 is far above any real workload or model name (the longest configured model id seen is ~60).
 */
export const MAX_CLIENT_STRING = 128;

/** The marker that ends a cut string, so a reader knows it was cut. */
export const CUT_MARKER = "…";

/** `value` if it fits in `max` characters, else its first `max - 1` and "…" (never half a surrogate pair). */
export function bounded(value: string, max = MAX_CLIENT_STRING): string {
  if (value.length <= max) return value;
  let cut = max - 1;
  const last = value.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--; // a high surrogate whose pair would be cut off
  return value.slice(0, cut) + CUT_MARKER;
}
