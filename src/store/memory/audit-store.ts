import type { AuditEvent, AuditListFilter, AuditStore } from "../store.ts";
import { StoreConflictError } from "../store.ts";
import { checkAuditEvent, checkAuditFilter } from "../validate.ts";
import { cloneAudit } from "./clone.ts";

type Entry = { seq: number; event: AuditEvent };

/** Newest first = time descending, then append order descending (same order as the SQL backends). */
const newestFirst = (a: Entry, b: Entry): number =>
  b.event.time.getTime() - a.event.time.getTime() || b.seq - a.seq;

export class MemoryAuditStore implements AuditStore {
  readonly #entries: Entry[] = [];
  readonly #byId = new Map<string, Entry>();

  async append(event: AuditEvent): Promise<void> {
    checkAuditEvent(event);
    if (this.#byId.has(event.id)) throw new StoreConflictError("audit event", "id");
    const entry = { seq: this.#entries.length + 1, event: cloneAudit(event) };
    this.#entries.push(entry);
    this.#byId.set(event.id, entry);
  }

  async list(filter: AuditListFilter): Promise<AuditEvent[]> {
    checkAuditFilter(filter);
    let cursor: Entry | undefined;
    if (filter.beforeId !== undefined) {
      cursor = this.#byId.get(filter.beforeId);
      if (!cursor) return [];
    }
    const since = filter.since?.getTime();
    const until = filter.until?.getTime();
    return this.#entries
      .filter(({ event: e }) => {
        const t = e.time.getTime();
        return (
          (filter.actorKeyId === undefined || e.actorKeyId === filter.actorKeyId) &&
          (filter.action === undefined || e.action === filter.action) &&
          (filter.outcome === undefined || e.outcome === filter.outcome) &&
          (since === undefined || t >= since) &&
          (until === undefined || t < until)
        );
      })
      .filter((entry) => !cursor || newestFirst(cursor, entry) < 0)
      .sort(newestFirst)
      .slice(0, filter.limit)
      .map((entry) => cloneAudit(entry.event));
  }
}
