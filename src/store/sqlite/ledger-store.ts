import type { DatabaseSync, StatementSync } from "node:sqlite";
import { ledgerRow, recordOfRow, spendRowOf } from "../ledger-row.ts";
import { sortSpendRows } from "../spend.ts";
import { buildSpendSql, type SpendDialect } from "../spend-sql.ts";
import type { LedgerStore, SpendQuery, SpendRow, UsageRecord } from "../store.ts";
import { checkSpendQuery, checkUsageRecord } from "../validate.ts";
import { LEDGER_COLUMNS as COLUMNS, type LedgerRowValues, prepareLedgerInsert } from "./ledger-insert.ts";
import type { LedgerWriteThread } from "./ledger-write-thread.ts";

const DIALECT: SpendDialect = {
  placeholder: () => "?",
  table: "usage_records",
  timeColumn: "time_ms",
  dayExpression: "strftime('%Y-%m-%d', time_ms / 1000, 'unixepoch')",
  hourExpression: "strftime('%Y-%m-%dT%H', time_ms / 1000, 'unixepoch')",
  timeParam: (time) => time.getTime(),
};

const text = (v: unknown): string | null => (v === null ? null : String(v));

export class SqliteLedgerStore implements LedgerStore {
  readonly #db: DatabaseSync;
  readonly #write: (rows: LedgerRowValues[]) => number | Promise<number>;
  readonly #get: StatementSync;
  readonly #spends = new Map<string, StatementSync>();

  /** `thread`: commit batches there instead of on the event loop (file databases). */
  constructor(db: DatabaseSync, thread?: LedgerWriteThread) {
    this.#db = db;
    this.#write = thread ? (rows) => thread.write(rows) : prepareLedgerInsert(db);
    this.#get = db.prepare(`SELECT ${COLUMNS} FROM usage_records WHERE request_id = ?`);
  }

  async record(records: UsageRecord[]): Promise<{ inserted: number; duplicates: number }> {
    for (const r of records) checkUsageRecord(r);
    if (records.length === 0) return { inserted: 0, duplicates: 0 };
    // One transaction per batch: all or nothing, and one fsync instead of one per row.
    const inserted = await this.#write(
      records.map((r) => ledgerRow(r, (d) => d.getTime()) as LedgerRowValues),
    );
    return { inserted, duplicates: records.length - inserted };
  }

  async spend(query: SpendQuery): Promise<SpendRow[]> {
    checkSpendQuery(query);
    const { sql, params, dimensions } = buildSpendSql(query, DIALECT);
    let statement = this.#spends.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#spends.set(sql, statement);
    }
    const rows = statement
      .all(...(params as (string | number)[]))
      .map(
        (row): SpendRow =>
          spendRowOf(Object.fromEntries(dimensions.map((d, i) => [d, text(row[`g${i}`])])), row),
      );
    return sortSpendRows(rows, dimensions);
  }

  async get(requestId: string): Promise<UsageRecord | undefined> {
    const row = this.#get.get(requestId);
    return row ? recordOfRow(row, "time_ms", (v) => new Date(Number(v))) : undefined;
  }
}
