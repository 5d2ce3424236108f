import type { Pool } from "pg";
import type { ApiKeyRecord, KeyListFilter, KeyStore } from "../store.ts";
import { checkDate, checkKey } from "../validate.ts";
import { num, rethrowConflict, textOrNull } from "./pg-util.ts";

type Row = Record<string, unknown>;

const COLUMNS =
  "id, prefix, digest, name, team, roles, workloads, models, created_at, created_by, expires_at, revoked_at";

function fromRow(row: Row): ApiKeyRecord {
  return {
    id: String(row.id),
    prefix: String(row.prefix),
    digest: String(row.digest),
    name: String(row.name),
    team: textOrNull(row.team),
    roles: row.roles as string[],
    workloads: row.workloads as string[],
    models: row.models as string[],
    createdAt: row.created_at as Date,
    createdBy: textOrNull(row.created_by),
    expiresAt: (row.expires_at as Date | null) ?? null,
    revokedAt: (row.revoked_at as Date | null) ?? null,
  };
}

export class PostgresKeyStore implements KeyStore {
  readonly #pool: Pool;
  readonly #table: string;

  constructor(pool: Pool, schema: string) {
    this.#pool = pool;
    this.#table = `"${schema}".api_keys`;
  }

  async create(key: ApiKeyRecord): Promise<void> {
    checkKey(key);
    try {
      await this.#pool.query(
        `INSERT INTO ${this.#table} (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [
          key.id,
          key.prefix,
          key.digest,
          key.name,
          key.team,
          key.roles,
          key.workloads,
          key.models,
          key.createdAt,
          key.createdBy,
          key.expiresAt,
          key.revokedAt,
        ],
      );
    } catch (error) {
      rethrowConflict(error, "api key", ["digest"]);
    }
  }

  async findByDigest(digest: string): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.#pool.query(`SELECT ${COLUMNS} FROM ${this.#table} WHERE digest = $1`, [
      digest,
    ]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const { rows } = await this.#pool.query(`SELECT ${COLUMNS} FROM ${this.#table} WHERE id = $1`, [id]);
    return rows[0] ? fromRow(rows[0]) : undefined;
  }

  async list(filter: KeyListFilter): Promise<ApiKeyRecord[]> {
    // COLLATE "C": byte order for the tie-break, whatever the database locale, as in the other backends.
    const { rows } = await this.#pool.query(
      `SELECT ${COLUMNS} FROM ${this.#table} WHERE ($1::text IS NULL OR team = $1) AND ($2 OR revoked_at IS NULL)` +
        ` ORDER BY created_at DESC, id COLLATE "C" DESC`,
      [filter.team ?? null, filter.includeRevoked === true],
    );
    return rows.map(fromRow);
  }

  async revoke(id: string, at: Date): Promise<boolean> {
    checkDate(at, "revokedAt");
    const result = await this.#pool.query(
      `UPDATE ${this.#table} SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`,
      [at, id],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async count(): Promise<number> {
    const { rows } = await this.#pool.query(`SELECT COUNT(*) AS n FROM ${this.#table}`);
    return num(rows[0]?.n ?? 0);
  }
}
