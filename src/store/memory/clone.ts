import type { ApiKeyRecord, AuditEvent, UsageRecord } from "../store.ts";

/** Deep copies, so callers can never mutate what the memory store holds (as with a real database). */

const date = (d: Date): Date => new Date(d.getTime());
const maybeDate = (d: Date | null): Date | null => (d ? date(d) : null);

export const cloneKey = (k: ApiKeyRecord): ApiKeyRecord => ({
  ...k,
  roles: [...k.roles],
  workloads: [...k.workloads],
  models: [...k.models],
  createdAt: date(k.createdAt),
  expiresAt: maybeDate(k.expiresAt),
  revokedAt: maybeDate(k.revokedAt),
});

export const cloneAudit = (e: AuditEvent): AuditEvent => ({
  ...e,
  time: date(e.time),
  details: { ...e.details },
});

export const cloneUsage = (r: UsageRecord): UsageRecord => ({ ...r, time: date(r.time) });
