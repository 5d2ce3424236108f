import type { UsageRecord } from "../store/store.ts";

/**
 * The ledger journal's line format. One JSON object a line, three kinds:
 * - a final record: the UsageRecord itself (the format journals had before dispatch lines existed);
 * - `{"dispatched": UsageRecord}`: written when a request's first upstream attempt starts, holding the
 *   row to write should the process die before the final record: status "interrupted", usage estimated;
 * - `{"released": requestId}`: a dispatched request that settled without reaching an upstream.
 * A final record supersedes the dispatch of its request; replaying a journal is idempotent by request id.
 */

/** Status of the ledger row of a request whose gateway died while it was in flight. */
export const INTERRUPTED_STATUS = "interrupted";

export type JournalEntry =
  | { kind: "final"; record: UsageRecord }
  | { kind: "dispatched"; record: UsageRecord }
  | { kind: "released"; requestId: string };

export const finalLine = (record: UsageRecord): string => JSON.stringify(record);
export const dispatchLine = (record: UsageRecord): string => JSON.stringify({ dispatched: record });
export const releaseLine = (requestId: string): string => JSON.stringify({ released: requestId });

type RawRecord = UsageRecord & { time: string };

/** One journal line; undefined for a torn or foreign line. `revive` checks and coerces a record. */
export function parseJournalLine(
  line: string,
  revive: (raw: RawRecord) => UsageRecord,
): JournalEntry | undefined {
  try {
    const raw = JSON.parse(line) as unknown;
    if (typeof raw !== "object" || raw === null) return undefined;
    if ("released" in raw) {
      return typeof raw.released === "string" ? { kind: "released", requestId: raw.released } : undefined;
    }
    const dispatched = "dispatched" in raw;
    const body = (dispatched ? raw.dispatched : raw) as RawRecord | null;
    if (typeof body !== "object" || body === null || typeof body.requestId !== "string") return undefined;
    return { kind: dispatched ? "dispatched" : "final", record: revive(body) };
  } catch {
    return undefined;
  }
}

/**
 * What a journal settles to: every final record once, then one interrupted row for each dispatch that
 * has neither a final record nor a release. A request never yields two rows, whatever the line order.
 */
export function settleJournal(entries: readonly JournalEntry[]): UsageRecord[] {
  const finals = new Map<string, UsageRecord>();
  const open = new Map<string, UsageRecord>();
  const released = new Set<string>();
  for (const entry of entries) {
    if (entry.kind === "released") released.add(entry.requestId);
    else if (entry.kind === "final") {
      if (!finals.has(entry.record.requestId)) finals.set(entry.record.requestId, entry.record);
    } else if (!open.has(entry.record.requestId)) open.set(entry.record.requestId, entry.record);
  }
  const rows = [...finals.values()];
  for (const [id, record] of open) if (!finals.has(id) && !released.has(id)) rows.push(record);
  return rows;
}
