import pg from "pg";
import type { Store } from "../store.ts";
import { PostgresAuditStore } from "./audit-store.ts";
import { PostgresKeyStore } from "./key-store.ts";
import { PostgresLedgerStore } from "./ledger-store.ts";
import { migratePostgres } from "./migrations.ts";
import { SCHEMA_NAME } from "./pg-util.ts";

export type PostgresStoreOptions = { url: string; schema?: string; poolSize?: number };

/**
 * The shared backend: every replica points at the same database, so keys,
 * audit and spend are one view across the fleet. Migrations run under an
 * advisory lock before the store is returned.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const schema = options.schema ?? "public";
  if (!SCHEMA_NAME.test(schema))
    throw new RangeError("postgres schema must be a lowercase identifier ([a-z_][a-z0-9_]*)");
  const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 10 });
  // An idle connection that dies (server restart, network) emits here; without a listener the process
  // would crash. The pool has already discarded it and the next query opens a fresh one.
  pool.on("error", () => {});
  try {
    await migratePostgres(pool, schema);
  } catch (error) {
    await pool.end();
    throw error;
  }
  let closed: Promise<void> | undefined;
  return {
    kind: "postgres",
    keys: new PostgresKeyStore(pool, schema),
    audit: new PostgresAuditStore(pool, schema),
    ledger: new PostgresLedgerStore(pool, schema),
    close: () => {
      closed ??= pool.end();
      return closed;
    },
  };
}
