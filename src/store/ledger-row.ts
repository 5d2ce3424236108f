import type { SpendRow, UsageRecord } from "./store.ts";

/**
 * The ledger's columns in order, as [column, record field]; shared by the SQL backends so their
 * INSERTs, SELECTs and row readers cannot drift apart. The columns after ttft_ms came with
 * migration 2 (token classes, end user, service tier): new columns are only ever appended.
 */
export const LEDGER_FIELDS = [
  ["request_id", "requestId"],
  ["time", "time"],
  ["key_id", "keyId"],
  ["team", "team"],
  ["workload", "workload"],
  ["route", "route"],
  ["backend", "backend"],
  ["model", "model"],
  ["protocol", "protocol"],
  ["operation", "operation"],
  ["status", "status"],
  ["input_tokens", "inputTokens"],
  ["output_tokens", "outputTokens"],
  ["cached_input_tokens", "cachedInputTokens"],
  ["cost_micro_usd", "costMicroUsd"],
  ["accuracy", "accuracy"],
  ["attempts", "attempts"],
  ["latency_ms", "latencyMs"],
  ["ttft_ms", "ttftMs"],
  ["cache_write_tokens", "cacheWriteTokens"],
  ["cache_write_1h_tokens", "cacheWrite1hTokens"],
  ["reasoning_tokens", "reasoningTokens"],
  ["audio_input_tokens", "audioInputTokens"],
  ["image_input_tokens", "imageInputTokens"],
  ["end_user_id", "endUserId"],
  ["service_tier", "serviceTier"],
] as const satisfies readonly (readonly [string, keyof UsageRecord])[];

/** The ledger's column names, with the time column named as the backend names it. */
export const ledgerColumns = (timeColumn: string): string[] =>
  LEDGER_FIELDS.map(([column]) => (column === "time" ? timeColumn : column));

/** The token classes a record holds beside its input and output totals. */
export const TOKEN_CLASS_FIELDS = [
  "cachedInputTokens",
  "cacheWriteTokens",
  "cacheWrite1hTokens",
  "reasoningTokens",
  "audioInputTokens",
  "imageInputTokens",
] as const satisfies readonly (keyof UsageRecord)[];

/** What a spend row sums besides requests and cost: [SpendRow field, record field, column]. */
export const SPEND_SUMS = [
  ["inputTokens", "inputTokens", "input_tokens"],
  ["outputTokens", "outputTokens", "output_tokens"],
  ["cacheReadTokens", "cachedInputTokens", "cached_input_tokens"],
  ["cacheWriteTokens", "cacheWriteTokens", "cache_write_tokens"],
  ["cacheWrite1hTokens", "cacheWrite1hTokens", "cache_write_1h_tokens"],
  ["reasoningTokens", "reasoningTokens", "reasoning_tokens"],
  ["audioInputTokens", "audioInputTokens", "audio_input_tokens"],
  ["imageInputTokens", "imageInputTokens", "image_input_tokens"],
] as const satisfies readonly (readonly [keyof SpendRow, keyof UsageRecord, string])[];

/** A spend row with nothing counted yet. */
export function emptySpendRow(group: SpendRow["group"]): SpendRow {
  const row = { group, requests: 0, cachedRequests: 0, costMicroUsd: 0 } as SpendRow;
  for (const [field] of SPEND_SUMS) row[field] = 0;
  return row;
}

/** A spend row from a SQL result row (aliases: requests, cost_micro_usd and the SPEND_SUMS columns). */
export function spendRowOf(group: SpendRow["group"], sql: Record<string, unknown>): SpendRow {
  const row = emptySpendRow(group);
  row.requests = Number(sql.requests);
  row.cachedRequests = Number(sql.cached_requests);
  row.costMicroUsd = Number(sql.cost_micro_usd);
  for (const [field, , column] of SPEND_SUMS) row[field] = Number(sql[column]);
  return row;
}

/** A usage record's values in LEDGER_FIELDS order. `time` is how the backend stores a timestamp. */
export function ledgerRow<T>(r: UsageRecord, time: (date: Date) => T): unknown[] {
  return LEDGER_FIELDS.map(([, field]) => (field === "time" ? time(r.time) : r[field]));
}

const TEXT_FIELDS = new Set<keyof UsageRecord>([
  "requestId",
  "keyId",
  "team",
  "workload",
  "route",
  "backend",
  "model",
  "protocol",
  "operation",
  "status",
  "accuracy",
  "endUserId",
  "serviceTier",
]);

/**
 * A SQL result row (LEDGER_FIELDS columns) back to a record: text and counters by field, NULL as
 * null, the time through `time`. Drivers return BIGINT as text (pg) or bigint: Number() reads both.
 */
export function recordOfRow(
  row: Record<string, unknown>,
  timeColumn: string,
  time: (v: unknown) => Date,
): UsageRecord {
  const record: Record<string, unknown> = {};
  for (const [column, field] of LEDGER_FIELDS) {
    if (field === "time") record.time = time(row[timeColumn]);
    else {
      const v = row[column];
      record[field] = v === null || v === undefined ? null : TEXT_FIELDS.has(field) ? String(v) : Number(v);
    }
  }
  return record as UsageRecord;
}
