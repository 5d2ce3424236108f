import type { Pool, PoolClient } from "pg";
import { ledgerColumns, ledgerRow, recordOfRow, spendRowOf } from "../ledger-row.ts";
import { sortSpendRows } from "../spend.ts";
import { buildSpendSql, type SpendDialect } from "../spend-sql.ts";
import type { LedgerStore, SpendQuery, SpendRow, UsageRecord } from "../store.ts";
import { checkSpendQuery, checkUsageRecord } from "../validate.ts";
import { textOrNull } from "./pg-util.ts";

type Row = Record<string, unknown>;

const COLUMNS = ledgerColumns("occurred_at");

/** Rows per INSERT statement: well under PostgreSQL's 65535 bind parameters. */
const ROWS_PER_STATEMENT = 500;

const values = (r: UsageRecord): unknown[] => ledgerRow(r, (d) => d);

export class PostgresLedgerStore implements LedgerStore {
  readonly #pool: Pool;
  readonly #table: string;
  readonly #dialect: SpendDialect;

  constructor(pool: Pool, schema: string) {
    this.#pool = pool;
    this.#table = `"${schema}".usage_records`;
    this.#dialect = {
      placeholder: (n) => `$${n}`,
      table: this.#table,
      timeColumn: "occurred_at",
      dayExpression: "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
      hourExpression: `to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24')`,
      timeParam: (time) => time,
    };
  }

  async record(records: UsageRecord[]): Promise<{ inserted: number; duplicates: number }> {
    for (const r of records) checkUsageRecord(r);
    if (records.length === 0) return { inserted: 0, duplicates: 0 };
    if (records.length <= ROWS_PER_STATEMENT) {
      const inserted = await this.#insert(this.#pool, records);
      return { inserted, duplicates: records.length - inserted };
    }
    // Several statements: one transaction, so the batch is all or nothing as in the other backends.
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      let inserted = 0;
      for (let i = 0; i < records.length; i += ROWS_PER_STATEMENT) {
        inserted += await this.#insert(client, records.slice(i, i + ROWS_PER_STATEMENT));
      }
      await client.query("COMMIT");
      client.release();
      return { inserted, duplicates: records.length - inserted };
    } catch (error) {
      client.release(true); // dropping the connection rolls the transaction back
      throw error;
    }
  }

  /** ON CONFLICT DO NOTHING makes a replay a no-op; rowCount counts only the new rows. */
  async #insert(db: Pool | PoolClient, records: UsageRecord[]): Promise<number> {
    const params: unknown[] = [];
    const tuples = records.map((r) => {
      const start = params.length;
      params.push(...values(r));
      return `(${COLUMNS.map((_, i) => `$${start + i + 1}`).join(", ")})`;
    });
    const result = await db.query(
      `INSERT INTO ${this.#table} (${COLUMNS.join(", ")}) VALUES ${tuples.join(", ")}` +
        " ON CONFLICT (request_id) DO NOTHING",
      params,
    );
    return result.rowCount ?? 0;
  }

  async spend(query: SpendQuery): Promise<SpendRow[]> {
    checkSpendQuery(query);
    const { sql, params, dimensions } = buildSpendSql(query, this.#dialect);
    const { rows } = await this.#pool.query(sql, params);
    return sortSpendRows(
      rows.map(
        (row: Row): SpendRow =>
          spendRowOf(Object.fromEntries(dimensions.map((d, i) => [d, textOrNull(row[`g${i}`])])), row),
      ),
      dimensions,
    );
  }

  async get(requestId: string): Promise<UsageRecord | undefined> {
    const { rows } = await this.#pool.query(
      `SELECT ${COLUMNS.join(", ")} FROM ${this.#table} WHERE request_id = $1`,
      [requestId],
    );
    return rows[0] ? recordOfRow(rows[0], "occurred_at", (v) => v as Date) : undefined;
  }
}
