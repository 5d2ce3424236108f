import type { DatabaseSync } from "node:sqlite";
import { StoreConflictError } from "../store.ts";

/** Runs `fn` in one IMMEDIATE transaction (write lock up front, so no upgrade deadlock under concurrency). */
export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = fn();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

const UNIQUE = /UNIQUE constraint failed: \w+\.(\w+)|PRIMARY KEY/;

/** Turns a UNIQUE / PRIMARY KEY violation into a StoreConflictError naming the field; rethrows anything else. */
export function rethrowConflict(error: unknown, entity: string, idColumn: string): never {
  const errcode = (error as { errcode?: unknown }).errcode;
  // 2067 = SQLITE_CONSTRAINT_UNIQUE, 1555 = SQLITE_CONSTRAINT_PRIMARYKEY
  if (error instanceof Error && (errcode === 2067 || errcode === 1555)) {
    const column = UNIQUE.exec(error.message)?.[1] ?? idColumn;
    throw new StoreConflictError(entity, column);
  }
  throw error;
}

export const toMs = (d: Date | null): number | null => (d ? d.getTime() : null);
export const fromMs = (ms: unknown): Date | null =>
  ms === null || ms === undefined ? null : new Date(Number(ms));

/** Pragmas every connection to a Switchyard database file uses (the main one and the ledger writer thread's). */
export function configureConnection(db: DatabaseSync): void {
  db.exec("PRAGMA journal_mode = WAL");
  // FULL: a commit is on disk before it returns, so the ledger writer may then drop its journal lines.
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA foreign_keys = ON");
}
