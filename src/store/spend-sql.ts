import { SPEND_SUMS } from "./ledger-row.ts";
import { uniqueDimensions } from "./spend.ts";
import type { SpendDimension, SpendQuery } from "./store.ts";

/** What differs between SQLite and PostgreSQL in the spend query. */
export type SpendDialect = {
  /** Placeholder for the n-th parameter (1-based): "?" or "$n". */
  placeholder(n: number): string;
  /** The (already qualified) usage table. */
  table: string;
  /** The column holding the request time. */
  timeColumn: string;
  /** An expression giving the UTC date "YYYY-MM-DD" of the request time. */
  dayExpression: string;
  /** An expression giving the UTC hour "YYYY-MM-DDTHH" of the request time. */
  hourExpression: string;
  /** The time as the driver wants it bound (epoch ms for SQLite, a Date for PostgreSQL). */
  timeParam(time: Date): unknown;
};

const COLUMNS: Record<Exclude<SpendDimension, "day" | "hour">, string> = {
  key: "key_id",
  team: "team",
  workload: "workload",
  backend: "backend",
  model: "model",
  end_user: "end_user_id",
  service_tier: "service_tier",
};

const FILTER_COLUMNS = {
  keyId: "key_id",
  team: "team",
  workload: "workload",
  backend: "backend",
  model: "model",
} as const;

const LIST_FILTER_COLUMNS = { workloadIn: "workload", modelIn: "model" } as const;

/**
 * Builds the grouped spend query. Every identifier comes from the fixed maps
 * above, never from the caller; values are always bound parameters. The
 * result columns are g0..gN (in `dimensions` order), requests, cost_micro_usd and
 * one sum per SPEND_SUMS column, named as the column.
 */
export function buildSpendSql(
  query: SpendQuery,
  dialect: SpendDialect,
): { sql: string; params: unknown[]; dimensions: SpendDimension[] } {
  const dimensions = uniqueDimensions(query.groupBy);
  const params: unknown[] = [];
  const bind = (value: unknown): string => {
    params.push(value);
    return dialect.placeholder(params.length);
  };
  const expressions = dimensions.map((d) =>
    d === "day" ? dialect.dayExpression : d === "hour" ? dialect.hourExpression : COLUMNS[d],
  );
  const where = [
    `${dialect.timeColumn} >= ${bind(dialect.timeParam(query.since))}`,
    `${dialect.timeColumn} < ${bind(dialect.timeParam(query.until))}`,
  ];
  for (const [field, column] of Object.entries(FILTER_COLUMNS)) {
    const value = query.filter?.[field as keyof typeof FILTER_COLUMNS];
    if (value !== undefined) where.push(`${column} = ${bind(value)}`);
  }
  for (const [field, column] of Object.entries(LIST_FILTER_COLUMNS)) {
    const values = query.filter?.[field as keyof typeof LIST_FILTER_COLUMNS];
    if (values === undefined) continue;
    // An empty reach matches nothing (IN () is not valid SQL).
    where.push(values.length === 0 ? "1 = 0" : `${column} IN (${values.map(bind).join(", ")})`);
  }
  const select = [
    ...expressions.map((e, i) => `${e} AS g${i}`),
    "COUNT(*) AS requests",
    // Answered from the response cache (usage-record.ts CACHED_STATUS): counted apart, cost 0.
    "COALESCE(SUM(CASE WHEN status = 'cached' THEN 1 ELSE 0 END), 0) AS cached_requests",
    ...SPEND_SUMS.map(([, , column]) => `COALESCE(SUM(${column}), 0) AS ${column}`),
    "COALESCE(SUM(cost_micro_usd), 0) AS cost_micro_usd",
  ];
  // HAVING keeps the no-groupBy case consistent: no matching record → no row, like the grouped case.
  const sql =
    `SELECT ${select.join(", ")} FROM ${dialect.table} WHERE ${where.join(" AND ")}` +
    (expressions.length > 0 ? ` GROUP BY ${expressions.join(", ")}` : "") +
    " HAVING COUNT(*) > 0";
  return { sql, params, dimensions };
}
