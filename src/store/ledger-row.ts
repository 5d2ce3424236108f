import type { UsageRecord } from "./store.ts";

/**
 * A usage record's values in ledger column order (request_id … ttft_ms), shared by the SQL
 * backends so their INSERTs cannot drift apart. `time` is how the backend stores a timestamp.
 */
export function ledgerRow<T>(r: UsageRecord, time: (date: Date) => T): unknown[] {
  return [
    r.requestId,
    time(r.time),
    r.keyId,
    r.team,
    r.workload,
    r.route,
    r.backend,
    r.model,
    r.protocol,
    r.operation,
    r.status,
    r.inputTokens,
    r.outputTokens,
    r.cachedInputTokens,
    r.costMicroUsd,
    r.accuracy,
    r.attempts,
    r.latencyMs,
    r.ttftMs,
  ];
}
