import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Store } from "../store.ts";
import { SqliteAuditStore } from "./audit-store.ts";
import { SqliteKeyStore } from "./key-store.ts";
import { SqliteLedgerStore } from "./ledger-store.ts";
import { LedgerWriteThread } from "./ledger-write-thread.ts";
import { migrateSqlite } from "./migrations.ts";
import { configureConnection } from "./sqlite-util.ts";

/** How long a statement waits for another process's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * The embedded backend: one file, one process writing at a time (WAL lets
 * readers proceed meanwhile). node:sqlite is synchronous: key, audit and spend
 * calls run on the event loop (rare, small), while ledger batches, written on
 * every flush, commit on a writer thread; statements are prepared once.
 */
export function openSqliteStore(path: string): Store {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS, enableForeignKeyConstraints: true });
  try {
    configureConnection(db);
    migrateSqlite(db);
    // Ledger batches commit on their own thread (a file database only: ":memory:" is per connection).
    const writer = path === ":memory:" ? undefined : new LedgerWriteThread(path, BUSY_TIMEOUT_MS);
    return {
      kind: "sqlite",
      keys: new SqliteKeyStore(db),
      audit: new SqliteAuditStore(db),
      ledger: new SqliteLedgerStore(db, writer),
      close: async () => {
        await writer?.close();
        if (db.isOpen) db.close();
      },
    };
  } catch (error) {
    db.close();
    throw error;
  }
}
