import { TOKEN_CLASS_FIELDS } from "./ledger-row.ts";
import type { ApiKeyRecord, AuditEvent, AuditListFilter, SpendQuery, UsageRecord } from "./store.ts";

/**
 * Input checks shared by every backend, so that memory, SQLite and PostgreSQL
 * accept and refuse exactly the same records. They throw RangeError: a caller
 * bug, never a condition to retry.
 */

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** The display prefix is at most the first 12 chars of the secret: never enough to use it. */
export const MAX_PREFIX_LENGTH = 12;
/** The most characters of an end user id (a client string) a ledger row keeps. */
export const MAX_END_USER_ID = 128;
/** Service tiers are provider words (auto, default, flex, priority): short. */
export const MAX_SERVICE_TIER = 32;

export function checkDate(value: Date, what: string): void {
  if (!(value instanceof Date) || Number.isNaN(value.getTime()))
    throw new RangeError(`${what} is not a valid date`);
}

function count(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${what} must be a non-negative integer`);
}

/** Guards against the secret being passed where its digest or its display prefix belongs. */
export function checkKey(key: ApiKeyRecord): void {
  if (!SHA256_HEX.test(key.digest)) throw new RangeError("key digest must be a lowercase hex SHA-256");
  if (key.prefix.length > MAX_PREFIX_LENGTH)
    throw new RangeError(`key prefix must be at most ${MAX_PREFIX_LENGTH} characters`);
  if (key.id.length === 0) throw new RangeError("key id must not be empty");
  checkDate(key.createdAt, "createdAt");
  if (key.expiresAt) checkDate(key.expiresAt, "expiresAt");
  if (key.revokedAt) checkDate(key.revokedAt, "revokedAt");
}

export function checkAuditEvent(event: AuditEvent): void {
  if (event.id.length === 0) throw new RangeError("audit event id must not be empty");
  checkDate(event.time, "audit event time");
  if (!["allowed", "denied", "error"].includes(event.outcome)) throw new RangeError("unknown audit outcome");
  for (const [name, value] of Object.entries(event.details)) {
    const type = typeof value;
    if (type !== "string" && type !== "number" && type !== "boolean")
      throw new RangeError(`audit detail ${name} must be a string, number or boolean`);
    if (type === "number" && !Number.isFinite(value))
      throw new RangeError(`audit detail ${name} is not finite`);
  }
}

export function checkAuditFilter(filter: AuditListFilter): void {
  count(filter.limit, "limit");
  if (filter.since) checkDate(filter.since, "since");
  if (filter.until) checkDate(filter.until, "until");
}

/** Integers everywhere so every backend stores the same value (PostgreSQL INTEGER refuses fractions). */
export function checkUsageRecord(record: UsageRecord): void {
  if (typeof record.requestId !== "string" || record.requestId.length === 0)
    throw new RangeError("usage record requestId must be a non-empty string");
  for (const field of ["workload", "route", "protocol", "operation", "status"] as const) {
    if (typeof record[field] !== "string") throw new RangeError(`usage record ${field} must be a string`);
  }
  for (const field of ["keyId", "team", "backend", "model", "endUserId", "serviceTier"] as const) {
    const value = record[field];
    if (value !== null && typeof value !== "string")
      throw new RangeError(`usage record ${field} must be a string or null`);
  }
  if (record.endUserId !== null && record.endUserId.length > MAX_END_USER_ID)
    throw new RangeError(`usage record endUserId must be at most ${MAX_END_USER_ID} characters`);
  if (record.serviceTier !== null && record.serviceTier.length > MAX_SERVICE_TIER)
    throw new RangeError(`usage record serviceTier must be at most ${MAX_SERVICE_TIER} characters`);
  checkDate(record.time, "usage record time");
  count(record.inputTokens, "inputTokens");
  count(record.outputTokens, "outputTokens");
  for (const field of TOKEN_CLASS_FIELDS) count(record[field], field);
  if (record.cacheWrite1hTokens > record.cacheWriteTokens)
    throw new RangeError("usage record cacheWrite1hTokens must not exceed cacheWriteTokens");
  count(record.attempts, "attempts");
  count(record.latencyMs, "latencyMs");
  if (record.ttftMs !== null) count(record.ttftMs, "ttftMs");
  if (record.costMicroUsd !== null) count(record.costMicroUsd, "costMicroUsd");
  if (record.accuracy !== "exact" && record.accuracy !== "estimated")
    throw new RangeError("unknown accuracy");
}

export function checkSpendQuery(query: SpendQuery): void {
  checkDate(query.since, "since");
  checkDate(query.until, "until");
}
