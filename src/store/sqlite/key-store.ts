import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { ApiKeyRecord, KeyListFilter, KeyStore } from "../store.ts";
import { checkDate, checkKey } from "../validate.ts";
import { fromMs, rethrowConflict, toMs } from "./sqlite-util.ts";

type Row = Record<string, unknown>;

const COLUMNS =
  "id, prefix, digest, name, team, roles, workloads, models, created_at_ms, created_by, expires_at_ms, revoked_at_ms";

function fromRow(row: Row): ApiKeyRecord {
  return {
    id: String(row.id),
    prefix: String(row.prefix),
    digest: String(row.digest),
    name: String(row.name),
    team: row.team === null ? null : String(row.team),
    roles: JSON.parse(String(row.roles)) as string[],
    workloads: JSON.parse(String(row.workloads)) as string[],
    models: JSON.parse(String(row.models)) as string[],
    createdAt: fromMs(row.created_at_ms) as Date,
    createdBy: row.created_by === null ? null : String(row.created_by),
    expiresAt: fromMs(row.expires_at_ms),
    revokedAt: fromMs(row.revoked_at_ms),
  };
}

export class SqliteKeyStore implements KeyStore {
  readonly #insert: StatementSync;
  readonly #byDigest: StatementSync;
  readonly #byId: StatementSync;
  readonly #list: StatementSync;
  readonly #revoke: StatementSync;
  readonly #count: StatementSync;

  constructor(db: DatabaseSync) {
    this.#insert = db.prepare(
      `INSERT INTO api_keys (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#byDigest = db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE digest = ?`);
    this.#byId = db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?`);
    // A NULL parameter means "no filter", so one prepared statement serves every combination.
    this.#list = db.prepare(
      `SELECT ${COLUMNS} FROM api_keys WHERE (?1 IS NULL OR team = ?1) AND (?2 = 1 OR revoked_at_ms IS NULL)` +
        " ORDER BY created_at_ms DESC, id DESC",
    );
    this.#revoke = db.prepare("UPDATE api_keys SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL");
    this.#count = db.prepare("SELECT COUNT(*) AS n FROM api_keys");
  }

  async create(key: ApiKeyRecord): Promise<void> {
    checkKey(key);
    try {
      this.#insert.run(
        key.id,
        key.prefix,
        key.digest,
        key.name,
        key.team,
        JSON.stringify(key.roles),
        JSON.stringify(key.workloads),
        JSON.stringify(key.models),
        key.createdAt.getTime(),
        key.createdBy,
        toMs(key.expiresAt),
        toMs(key.revokedAt),
      );
    } catch (error) {
      rethrowConflict(error, "api key", "id");
    }
  }

  async findByDigest(digest: string): Promise<ApiKeyRecord | undefined> {
    const row = this.#byDigest.get(digest);
    return row ? fromRow(row) : undefined;
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const row = this.#byId.get(id);
    return row ? fromRow(row) : undefined;
  }

  async list(filter: KeyListFilter): Promise<ApiKeyRecord[]> {
    return this.#list.all(filter.team ?? null, filter.includeRevoked ? 1 : 0).map(fromRow);
  }

  async revoke(id: string, at: Date): Promise<boolean> {
    checkDate(at, "revokedAt");
    return Number(this.#revoke.run(at.getTime(), id).changes) > 0;
  }

  async count(): Promise<number> {
    return Number(this.#count.get()?.n ?? 0);
  }
}
