import type { SpendDimension, SpendQuery, SpendRow, UsageRecord } from "./store.ts";

/** Helpers every backend uses so spend reports group, name and sort identically. */

export const SPEND_DIMENSIONS: readonly SpendDimension[] = [
  "key",
  "team",
  "workload",
  "backend",
  "model",
  "day",
  "hour",
  "end_user",
  "service_tier",
];

/** groupBy without repeats, in the caller's order (a repeated dimension would add nothing). */
export function uniqueDimensions(groupBy: readonly SpendDimension[]): SpendDimension[] {
  const seen = new Set<SpendDimension>();
  for (const dimension of groupBy) {
    if (!SPEND_DIMENSIONS.includes(dimension)) throw new RangeError(`unknown spend dimension ${dimension}`);
    seen.add(dimension);
  }
  return [...seen];
}

/** The UTC calendar date "YYYY-MM-DD". */
export function utcDay(time: Date): string {
  return time.toISOString().slice(0, 10);
}

/** The UTC hour "YYYY-MM-DDTHH". */
export function utcHour(time: Date): string {
  return time.toISOString().slice(0, 13);
}

export function dimensionValue(record: UsageRecord, dimension: SpendDimension): string | null {
  switch (dimension) {
    case "key":
      return record.keyId;
    case "team":
      return record.team;
    case "workload":
      return record.workload;
    case "backend":
      return record.backend;
    case "model":
      return record.model;
    case "day":
      return utcDay(record.time);
    case "hour":
      return utcHour(record.time);
    case "end_user":
      return record.endUserId;
    case "service_tier":
      return record.serviceTier;
  }
}

/** True when the record falls in [since, until) and matches every filter field that is set. */
export function matchesSpend(record: UsageRecord, query: SpendQuery): boolean {
  const t = record.time.getTime();
  if (t < query.since.getTime() || t >= query.until.getTime()) return false;
  const f = query.filter;
  if (!f) return true;
  return (
    (f.keyId === undefined || record.keyId === f.keyId) &&
    (f.team === undefined || record.team === f.team) &&
    (f.workload === undefined || record.workload === f.workload) &&
    (f.backend === undefined || record.backend === f.backend) &&
    (f.model === undefined || record.model === f.model) &&
    (f.workloadIn === undefined || f.workloadIn.includes(record.workload)) &&
    (f.modelIn === undefined || (record.model !== null && f.modelIn.includes(record.model)))
  );
}

function compareValues(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/**
 * Sorted in JavaScript rather than in SQL: database collations differ (and
 * PostgreSQL's depends on the locale), and every backend must agree.
 */
export function sortSpendRows(rows: SpendRow[], dimensions: readonly SpendDimension[]): SpendRow[] {
  return rows.sort((x, y) => {
    for (const d of dimensions) {
      const c = compareValues(x.group[d] ?? null, y.group[d] ?? null);
      if (c !== 0) return c;
    }
    return 0;
  });
}
