import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { ledgerColumns } from "../ledger-row.ts";
import { inTransaction } from "./sqlite-util.ts";

export const LEDGER_COLUMNS = ledgerColumns("time_ms").join(", ");

/** A ledger row in column order (see ledgerRow), with `time` as epoch milliseconds. */
export type LedgerRowValues = SQLInputValue[];

/**
 * Prepares the idempotent ledger INSERT on `db` and returns a function that writes one batch in one
 * transaction (all or nothing, one fsync) and returns how many rows were new. Shared by the in-thread
 * store and the writer thread so both write exactly the same way.
 */
export function prepareLedgerInsert(db: DatabaseSync): (rows: LedgerRowValues[]) => number {
  const placeholders = LEDGER_COLUMNS.split(",").map(() => "?");
  const insert = db.prepare(
    `INSERT INTO usage_records (${LEDGER_COLUMNS}) VALUES (${placeholders.join(", ")}) ON CONFLICT (request_id) DO NOTHING`,
  );
  return (rows) =>
    inTransaction(db, () => {
      let inserted = 0;
      for (const row of rows) inserted += Number(insert.run(...row).changes);
      return inserted;
    });
}
