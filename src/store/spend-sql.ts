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
  /** The time as the driver wants it bound (epoch ms for SQLite, a Date for PostgreSQL). */
  timeParam(time: Date): unknown;
};

const COLUMNS: Record<Exclude<SpendDimension, "day">, string> = {
  key: "key_id",
  team: "team",
  workload: "workload",
  backend: "backend",
  model: "model",
};

const FILTER_COLUMNS = {
  keyId: "key_id",
  team: "team",
  workload: "workload",
  backend: "backend",
  model: "model",
} as const;

/**
 * Builds the grouped spend query. Every identifier comes from the fixed maps
 * above, never from the caller; values are always bound parameters. The
 * result columns are g0..gN (in `dimensions` order) and the four aggregates.
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
  const expressions = dimensions.map((d) => (d === "day" ? dialect.dayExpression : COLUMNS[d]));
  const where = [
    `${dialect.timeColumn} >= ${bind(dialect.timeParam(query.since))}`,
    `${dialect.timeColumn} < ${bind(dialect.timeParam(query.until))}`,
  ];
  for (const [field, column] of Object.entries(FILTER_COLUMNS)) {
    const value = query.filter?.[field as keyof typeof FILTER_COLUMNS];
    if (value !== undefined) where.push(`${column} = ${bind(value)}`);
  }
  const select = [
    ...expressions.map((e, i) => `${e} AS g${i}`),
    "COUNT(*) AS requests",
    "COALESCE(SUM(input_tokens), 0) AS input_tokens",
    "COALESCE(SUM(output_tokens), 0) AS output_tokens",
    "COALESCE(SUM(cost_micro_usd), 0) AS cost_micro_usd",
  ];
  // HAVING keeps the no-groupBy case consistent: no matching record → no row, like the grouped case.
  const sql =
    `SELECT ${select.join(", ")} FROM ${dialect.table} WHERE ${where.join(" AND ")}` +
    (expressions.length > 0 ? ` GROUP BY ${expressions.join(", ")}` : "") +
    " HAVING COUNT(*) > 0";
  return { sql, params, dimensions };
}
