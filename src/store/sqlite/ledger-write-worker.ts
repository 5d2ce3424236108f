import { DatabaseSync } from "node:sqlite";
import { parentPort, workerData } from "node:worker_threads";
import { type LedgerRowValues, prepareLedgerInsert } from "./ledger-insert.ts";
import { configureConnection } from "./sqlite-util.ts";

/**
 * Body of the ledger writer thread: its own connection to the database file, so a batch commit
 * (an fsync with synchronous = FULL, milliseconds on a busy disk) never blocks the event loop that
 * serves requests. Messages are handled one at a time, in order.
 */
export type LedgerWriteRequest = { id: number /** LedgerRowValues[] as JSON */; rows: string };
export type LedgerWriteReply = { id: number; inserted: number } | { id: number; error: string };

const { path, busyTimeoutMs } = workerData as { path: string; busyTimeoutMs: number };
const db = new DatabaseSync(path, { timeout: busyTimeoutMs });
configureConnection(db);
const write = prepareLedgerInsert(db);

parentPort?.on("message", ({ id, rows }: LedgerWriteRequest) => {
  let reply: LedgerWriteReply;
  try {
    reply = { id, inserted: write(JSON.parse(rows) as LedgerRowValues[]) };
  } catch (error) {
    reply = { id, error: error instanceof Error ? error.message : String(error) };
  }
  parentPort?.postMessage(reply);
});
