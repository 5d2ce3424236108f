/**
 * The storage contract shared by every backend (memory, SQLite, PostgreSQL):
 * API keys, the append-only audit log and the usage ledger. Backends live in
 * memory/, sqlite/ and postgres/; `open-store.ts` picks one from config.
 */

export type ApiKeyRecord = {
  /** "key_" + 16 random chars; public, safe to log. */
  id: string;
  /** Display prefix of the secret (at most its first 12 chars, e.g. "sy_live_ab12"); safe to show. */
  prefix: string;
  /** Lowercase hex SHA-256 of the full secret. The secret itself is never stored. */
  digest: string;
  name: string;
  team: string | null;
  roles: string[];
  /** Allowed workloads; ["*"] = all. */
  workloads: string[];
  /** Allowed models; ["*"] = all. */
  models: string[];
  createdAt: Date;
  /** Creator key id; null for the bootstrap key. */
  createdBy: string | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
};

export type KeyListFilter = { team?: string; includeRevoked?: boolean };

export interface KeyStore {
  /** Throws StoreConflictError when the id or the digest already exists. */
  create(key: ApiKeyRecord): Promise<void>;
  findByDigest(digest: string): Promise<ApiKeyRecord | undefined>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  /** Newest first; revoked keys only with includeRevoked. Expired keys are listed (they show expiresAt). */
  list(filter: KeyListFilter): Promise<ApiKeyRecord[]>;
  /** False when the key is unknown or already revoked. */
  revoke(id: string, at: Date): Promise<boolean>;
  /** Every key ever created, revoked ones included (zero means "not bootstrapped yet"). */
  count(): Promise<number>;
}

export type AuditOutcome = "allowed" | "denied" | "error";

export type AuditEvent = {
  id: string;
  time: Date;
  requestId: string;
  /** Never key material: a key id or null. */
  actorKeyId: string | null;
  /** e.g. "keys.create", "keys.revoke", "config.reload", "inference.denied". */
  action: string;
  /** e.g. a key id, a workload. */
  target: string;
  outcome: AuditOutcome;
  details: Record<string, string | number | boolean>;
};

export type AuditListFilter = {
  actorKeyId?: string;
  action?: string;
  outcome?: AuditOutcome;
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
  limit: number;
  /** Cursor: only events after this one in newest-first order. An unknown id yields no events. */
  beforeId?: string;
};

/** Append-only by design: there is no update or delete API (the SQL backends also refuse it in triggers). */
export interface AuditStore {
  /** Throws StoreConflictError when the id already exists. */
  append(event: AuditEvent): Promise<void>;
  /** Newest first (by time, then append order); page with beforeId = the last id of the previous page. */
  list(filter: AuditListFilter): Promise<AuditEvent[]>;
}

export type UsageRecord = {
  requestId: string;
  time: Date;
  keyId: string | null;
  team: string | null;
  workload: string;
  route: string;
  backend: string | null;
  model: string | null;
  /** "grpc", "connect", "grpc-web", "openai". */
  protocol: string;
  /** "generate", "generate_stream", "embed". */
  operation: string;
  /** "ok" or the error reason. */
  status: string;
  /** Every input token, cache reads and writes included. */
  inputTokens: number;
  /** Every output token, reasoning included. */
  outputTokens: number;
  /** Of inputTokens, read from the prompt cache. */
  cachedInputTokens: number;
  /** Of inputTokens, written to the prompt cache (all TTLs); of those, cacheWrite1hTokens with a 1h TTL. */
  cacheWriteTokens: number;
  cacheWrite1hTokens: number;
  /** Of outputTokens, spent reasoning. */
  reasoningTokens: number;
  /** Of inputTokens, audio and image tokens. The classes are 0 when the provider reported none. */
  audioInputTokens: number;
  imageInputTokens: number;
  costMicroUsd: number | null;
  accuracy: "exact" | "estimated";
  attempts: number;
  latencyMs: number;
  ttftMs: number | null;
  /** The end user the caller named (at most MAX_END_USER_ID characters), or null. */
  endUserId: string | null;
  /** The service tier the provider reported serving ("auto", "default", "flex", "priority"), or null. */
  serviceTier: string | null;
};

/** day = UTC date "YYYY-MM-DD", hour = UTC "YYYY-MM-DDTHH". */
export type SpendDimension =
  | "key"
  | "team"
  | "workload"
  | "backend"
  | "model"
  | "day"
  | "hour"
  | "end_user"
  | "service_tier";

export type SpendQuery = {
  groupBy: SpendDimension[];
  /** [since, until) */
  since: Date;
  until: Date;
  filter?: {
    keyId?: string;
    team?: string;
    workload?: string;
    backend?: string;
    model?: string;
    /** Only records of these workloads / models (a reader's reach); an empty list matches nothing. */
    workloadIn?: string[];
    modelIn?: string[];
  };
};

/** Only groups with at least one request are returned; an unpriced request adds 0 to costMicroUsd. */
export type SpendRow = {
  group: Record<string, string | null>;
  requests: number;
  /** Of requests, answered from the response cache (ledger status `cached`, cost 0). */
  cachedRequests: number;
  inputTokens: number;
  outputTokens: number;
  costMicroUsd: number;
  /** Sums of the token classes (each a part of inputTokens or outputTokens). */
  cacheReadTokens: number;
  cacheWriteTokens: number;
  cacheWrite1hTokens: number;
  reasoningTokens: number;
  audioInputTokens: number;
  imageInputTokens: number;
};

export interface LedgerStore {
  /** Idempotent by requestId: a replay (or a repeat inside one call) never double-counts. */
  record(records: UsageRecord[]): Promise<{ inserted: number; duplicates: number }>;
  /** Sorted by the group values in groupBy order, nulls first. */
  spend(query: SpendQuery): Promise<SpendRow[]>;
  get(requestId: string): Promise<UsageRecord | undefined>;
}

export interface Store {
  readonly kind: "sqlite" | "postgres" | "memory";
  keys: KeyStore;
  audit: AuditStore;
  ledger: LedgerStore;
  close(): Promise<void>;
}

export type StoreConfig =
  | { type: "sqlite"; path: string }
  | { type: "postgres"; url: string; schema?: string; poolSize?: number }
  | { type: "memory" };

/** A unique id or digest already exists. */
export class StoreConflictError extends Error {
  readonly entity: string;
  readonly field: string;

  constructor(entity: string, field: string) {
    super(`${entity} with this ${field} already exists`);
    this.name = "StoreConflictError";
    this.entity = entity;
    this.field = field;
  }
}
