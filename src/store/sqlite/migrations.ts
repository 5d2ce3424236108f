import type { DatabaseSync } from "node:sqlite";

/**
 * Versioned schema for the embedded SQLite backend. Append new migrations;
 * never edit one that has shipped. Times are INTEGER epoch milliseconds (UTC),
 * string lists and audit details are JSON text.
 */
export const SQLITE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: "keys, audit log, usage ledger",
    sql: `
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        prefix TEXT NOT NULL,
        digest TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        team TEXT,
        roles TEXT NOT NULL,
        workloads TEXT NOT NULL,
        models TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        created_by TEXT,
        expires_at_ms INTEGER,
        revoked_at_ms INTEGER
      ) STRICT;
      CREATE INDEX api_keys_created ON api_keys (created_at_ms DESC, id DESC);
      CREATE INDEX api_keys_team ON api_keys (team, created_at_ms DESC);

      CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        time_ms INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        actor_key_id TEXT,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('allowed', 'denied', 'error')),
        details TEXT NOT NULL
      ) STRICT;
      CREATE INDEX audit_events_time ON audit_events (time_ms DESC, seq DESC);
      CREATE INDEX audit_events_actor ON audit_events (actor_key_id, time_ms DESC);
      CREATE INDEX audit_events_action ON audit_events (action, time_ms DESC);
      -- Append-only in the database too, not just in the API: UPDATE and DELETE fail.
      CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
      CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;

      CREATE TABLE usage_records (
        request_id TEXT PRIMARY KEY,
        time_ms INTEGER NOT NULL,
        key_id TEXT,
        team TEXT,
        workload TEXT NOT NULL,
        route TEXT NOT NULL,
        backend TEXT,
        model TEXT,
        protocol TEXT NOT NULL,
        operation TEXT NOT NULL,
        status TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cached_input_tokens INTEGER NOT NULL,
        cost_micro_usd INTEGER,
        accuracy TEXT NOT NULL CHECK (accuracy IN ('exact', 'estimated')),
        attempts INTEGER NOT NULL,
        latency_ms INTEGER NOT NULL,
        ttft_ms INTEGER
      ) STRICT;
      CREATE INDEX usage_records_time ON usage_records (time_ms);
      CREATE INDEX usage_records_key ON usage_records (key_id, time_ms);
      CREATE INDEX usage_records_team ON usage_records (team, time_ms);
    `,
  },
  {
    version: 2,
    name: "usage ledger: token classes, end user, service tier",
    // Additive: rows written before it read as 0 of each class (unknown then) and no end user or tier.
    sql: `
      ALTER TABLE usage_records ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE usage_records ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE usage_records ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE usage_records ADD COLUMN audio_input_tokens INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE usage_records ADD COLUMN image_input_tokens INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE usage_records ADD COLUMN end_user_id TEXT;
      ALTER TABLE usage_records ADD COLUMN service_tier TEXT;
    `,
  },
];

/**
 * Applies every pending migration, each in its own IMMEDIATE transaction: the
 * write lock is taken before the version check, so two processes opening the
 * same file at once serialize (busy_timeout) and the second finds nothing to do.
 */
export function migrateSqlite(db: DatabaseSync): number[] {
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) STRICT",
  );
  const isApplied = db.prepare("SELECT 1 AS applied FROM schema_migrations WHERE version = ?");
  const markApplied = db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
  const applied: number[] = [];
  for (const migration of SQLITE_MIGRATIONS) {
    db.exec("BEGIN IMMEDIATE");
    try {
      if (!isApplied.get(migration.version)) {
        db.exec(migration.sql);
        markApplied.run(migration.version, new Date().toISOString());
        applied.push(migration.version);
      }
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }
  return applied;
}
