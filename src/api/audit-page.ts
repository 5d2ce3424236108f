import type { AuditEvent, AuditListFilter, AuditStore } from "../store/store.ts";

/** A team-scoped read scans the newest-first log in chunks, at most this many per page asked. */
const SCAN_CHUNK = 500;
const SCAN_CHUNKS = 20;

/**
 * One page of audit events, newest first, and the cursor for the next page ("" at the end). With
 * `actors`, only events by those keys (a team-scoped reader sees what its team's keys did): the log
 * is scanned in chunks, and a page cut short by the scan bound still carries a cursor to go on from.
 */
export async function auditPage(
  store: AuditStore,
  filter: Omit<AuditListFilter, "limit">,
  limit: number,
  actors?: ReadonlySet<string>,
): Promise<{ events: AuditEvent[]; next: string }> {
  if (!actors) {
    const events = await store.list({ ...filter, limit: limit + 1 });
    const page = events.slice(0, limit);
    return { events: page, next: events.length > limit ? (page.at(-1)?.id ?? "") : "" };
  }
  const page: AuditEvent[] = [];
  let cursor = filter.beforeId;
  for (let chunkNo = 0; chunkNo < SCAN_CHUNKS; chunkNo++) {
    const { beforeId: _, ...rest } = filter;
    const chunk = await store.list({
      ...rest,
      limit: SCAN_CHUNK,
      ...(cursor !== undefined ? { beforeId: cursor } : {}),
    });
    for (const event of chunk) {
      if (event.actorKeyId !== null && actors.has(event.actorKeyId)) {
        if (page.length === limit) return { events: page, next: page.at(-1)!.id };
        page.push(event);
      }
      cursor = event.id;
    }
    if (chunk.length < SCAN_CHUNK) return { events: page, next: "" };
  }
  return { events: page, next: cursor ?? "" };
}
