import { createHash, randomBytes } from "node:crypto";
import type { ApiKeyRecord, AuditEvent, UsageRecord } from "../../src/store/store.ts";

/** Record builders for the store tests; every field set, overridable. */

export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** A fresh secret that looks like a real key and is easy to grep for in dumps. */
export const newSecret = (): string => `sy_live_CANARY${randomBytes(16).toString("hex")}`;

let counter = 0;
const next = (): string => (++counter).toString(16).padStart(16, "0");

export function makeKey(overrides: Partial<ApiKeyRecord> & { secret?: string } = {}): ApiKeyRecord {
  const { secret = newSecret(), ...rest } = overrides;
  return {
    id: `key_${next()}`,
    prefix: secret.slice(0, 12),
    digest: sha256(secret),
    name: "test key",
    team: "search",
    roles: ["developer"],
    workloads: ["chat", "embed"],
    models: ["*"],
    createdAt: new Date("2025-01-10T12:00:00.000Z"),
    createdBy: "key_bootstrap00000000",
    expiresAt: null,
    revokedAt: null,
    ...rest,
  };
}

export function makeAudit(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: `aud_${next()}`,
    time: new Date("2025-01-10T12:00:00.000Z"),
    requestId: `req_${next()}`,
    actorKeyId: "key_actor00000000001",
    action: "keys.create",
    target: "key_target0000000001",
    outcome: "allowed",
    details: { name: "ci", scopes: 2, admin: false },
    ...overrides,
  };
}

export function makeUsage(overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    requestId: `req_${next()}`,
    time: new Date("2025-01-10T12:00:00.000Z"),
    keyId: "key_a",
    team: "search",
    workload: "chat",
    route: "chat-default",
    backend: "openai",
    model: "gpt-4o-mini",
    protocol: "grpc",
    operation: "generate",
    status: "ok",
    inputTokens: 10,
    outputTokens: 20,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    cacheWrite1hTokens: 0,
    reasoningTokens: 0,
    audioInputTokens: 0,
    imageInputTokens: 0,
    costMicroUsd: 100,
    accuracy: "exact",
    attempts: 1,
    latencyMs: 250,
    ttftMs: 80,
    endUserId: null,
    serviceTier: null,
    ...overrides,
  };
}
