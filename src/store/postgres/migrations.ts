import type { Pool } from "pg";

/**
 * Versioned schema for the shared PostgreSQL backend. Append new migrations;
 * never edit one that has shipped. `{s}` stands for the quoted schema name:
 * every object is schema-qualified, so nothing depends on search_path (which
 * poolers such as PgBouncer may not pass through).
 */
export const POSTGRES_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: "keys, audit log, usage ledger",
    sql: `
      CREATE TABLE {s}.api_keys (
        id TEXT PRIMARY KEY,
        prefix TEXT NOT NULL,
        digest TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        team TEXT,
        roles TEXT[] NOT NULL,
        workloads TEXT[] NOT NULL,
        models TEXT[] NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        created_by TEXT,
        expires_at TIMESTAMPTZ,
        revoked_at TIMESTAMPTZ
      );
      CREATE INDEX api_keys_created ON {s}.api_keys (created_at DESC);
      CREATE INDEX api_keys_team ON {s}.api_keys (team, created_at DESC);

      CREATE TABLE {s}.audit_events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        occurred_at TIMESTAMPTZ NOT NULL,
        request_id TEXT NOT NULL,
        actor_key_id TEXT,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'denied', 'error')),
        details JSONB NOT NULL
      );
      CREATE INDEX audit_events_time ON {s}.audit_events (occurred_at DESC, seq DESC);
      CREATE INDEX audit_events_actor ON {s}.audit_events (actor_key_id, occurred_at DESC);
      CREATE INDEX audit_events_action ON {s}.audit_events (action, occurred_at DESC);
      -- Append-only in the database too, not just in the API: UPDATE, DELETE and TRUNCATE fail.
      CREATE FUNCTION {s}.audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$;
      CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON {s}.audit_events
        FOR EACH ROW EXECUTE FUNCTION {s}.audit_events_append_only();
      CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON {s}.audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION {s}.audit_events_append_only();

      CREATE TABLE {s}.usage_records (
        request_id TEXT PRIMARY KEY,
        occurred_at TIMESTAMPTZ NOT NULL,
        key_id TEXT,
        team TEXT,
        workload TEXT NOT NULL,
        route TEXT NOT NULL,
        backend TEXT,
        model TEXT,
        protocol TEXT NOT NULL,
        operation TEXT NOT NULL,
        status TEXT NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cached_input_tokens BIGINT NOT NULL,
        cost_micro_usd BIGINT,
        accuracy TEXT NOT NULL CHECK (accuracy IN ('exact', 'estimated')),
        attempts INTEGER NOT NULL,
        latency_ms BIGINT NOT NULL,
        ttft_ms BIGINT
      );
      CREATE INDEX usage_records_time ON {s}.usage_records (occurred_at);
      CREATE INDEX usage_records_key ON {s}.usage_records (key_id, occurred_at);
      CREATE INDEX usage_records_team ON {s}.usage_records (team, occurred_at);
    `,
  },
  {
    version: 2,
    name: "usage ledger: token classes, end user, service tier",
    // Additive, and without a table rewrite (a constant default is stored in the catalog, PostgreSQL
    // 11+): rows written before it read as 0 of each class and no end user or tier.
    sql: `
      ALTER TABLE {s}.usage_records
        ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN reasoning_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN audio_input_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN image_input_tokens BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN end_user_id TEXT,
        ADD COLUMN service_tier TEXT;
    `,
  },
];

/**
 * Applies every pending migration, each in its own transaction, while holding
 * a session advisory lock keyed by the schema: replicas starting together
 * queue on the lock and the later ones find nothing left to do. The lock dies
 * with the connection, so a crashed replica never leaves it held.
 */
export async function migratePostgres(pool: Pool, schema: string): Promise<number[]> {
  const s = `"${schema}"`;
  const lockKey = `switchyard.migrations:${schema}`;
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [lockKey]);
    // Under the lock: concurrent CREATE ... IF NOT EXISTS can still collide in the catalog.
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)`,
    );
    const applied: number[] = [];
    for (const migration of POSTGRES_MIGRATIONS) {
      await client.query("BEGIN");
      const done = await client.query(`SELECT 1 FROM ${s}.schema_migrations WHERE version = $1`, [
        migration.version,
      ]);
      if (done.rowCount === 0) {
        await client.query(migration.sql.replaceAll("{s}", s));
        await client.query(`INSERT INTO ${s}.schema_migrations (version, applied_at) VALUES ($1, now())`, [
          migration.version,
        ]);
        applied.push(migration.version);
      }
      await client.query("COMMIT");
    }
    await client.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [lockKey]);
    client.release();
    return applied;
  } catch (error) {
    // Destroying the connection rolls back the open transaction and releases the lock in one step.
    client.release(true);
    throw error;
  }
}
