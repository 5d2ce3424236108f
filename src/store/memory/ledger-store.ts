import { emptySpendRow, SPEND_SUMS } from "../ledger-row.ts";
import { dimensionValue, matchesSpend, sortSpendRows, uniqueDimensions } from "../spend.ts";
import type { LedgerStore, SpendQuery, SpendRow, UsageRecord } from "../store.ts";
import { checkSpendQuery, checkUsageRecord } from "../validate.ts";
import { cloneUsage } from "./clone.ts";

export class MemoryLedgerStore implements LedgerStore {
  readonly #records = new Map<string, UsageRecord>();

  async record(records: UsageRecord[]): Promise<{ inserted: number; duplicates: number }> {
    // Validate the whole batch first so a bad record leaves nothing half-written, like a transaction.
    for (const r of records) checkUsageRecord(r);
    let inserted = 0;
    for (const r of records) {
      if (this.#records.has(r.requestId)) continue;
      this.#records.set(r.requestId, cloneUsage(r));
      inserted++;
    }
    return { inserted, duplicates: records.length - inserted };
  }

  async spend(query: SpendQuery): Promise<SpendRow[]> {
    checkSpendQuery(query);
    const dimensions = uniqueDimensions(query.groupBy);
    const rows = new Map<string, SpendRow>();
    for (const r of this.#records.values()) {
      if (!matchesSpend(r, query)) continue;
      const group: Record<string, string | null> = {};
      for (const d of dimensions) group[d] = dimensionValue(r, d);
      const id = JSON.stringify(dimensions.map((d) => group[d]));
      let row = rows.get(id);
      if (!row) {
        row = emptySpendRow(group);
        rows.set(id, row);
      }
      row.requests++;
      if (r.status === "cached") row.cachedRequests++;
      for (const [sum, field] of SPEND_SUMS) row[sum] += r[field];
      row.costMicroUsd += r.costMicroUsd ?? 0;
    }
    return sortSpendRows([...rows.values()], dimensions);
  }

  async get(requestId: string): Promise<UsageRecord | undefined> {
    const r = this.#records.get(requestId);
    return r && cloneUsage(r);
  }
}
