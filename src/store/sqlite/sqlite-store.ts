import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Store } from "../store.ts";
import { SqliteAuditStore } from "./audit-store.ts";
import { SqliteKeyStore } from "./key-store.ts";
import { SqliteLedgerStore } from "./ledger-store.ts";
import { migrateSqlite } from "./migrations.ts";

/** How long a statement waits for another process's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * The embedded backend: one file, one process writing at a time (WAL lets
 * readers proceed meanwhile). node:sqlite is synchronous, so every call runs
 * on the event loop; statements are prepared once and reused.
 */
export function openSqliteStore(path: string): Store {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS, enableForeignKeyConstraints: true });
  try {
    db.exec("PRAGMA journal_mode = WAL");
    // FULL: a commit is on disk before it returns, so the ledger writer may then drop its journal lines.
    db.exec("PRAGMA synchronous = FULL");
    db.exec("PRAGMA foreign_keys = ON");
    migrateSqlite(db);
    return {
      kind: "sqlite",
      keys: new SqliteKeyStore(db),
      audit: new SqliteAuditStore(db),
      ledger: new SqliteLedgerStore(db),
      close: async () => {
        if (db.isOpen) db.close();
      },
    };
  } catch (error) {
    db.close();
    throw error;
  }
}
