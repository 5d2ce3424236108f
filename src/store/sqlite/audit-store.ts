import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { AuditEvent, AuditListFilter, AuditStore } from "../store.ts";
import { checkAuditEvent, checkAuditFilter } from "../validate.ts";
import { rethrowConflict } from "./sqlite-util.ts";

type Row = Record<string, unknown>;

const COLUMNS = "id, time_ms, request_id, actor_key_id, action, target, outcome, details";

function fromRow(row: Row): AuditEvent {
  return {
    id: String(row.id),
    time: new Date(Number(row.time_ms)),
    requestId: String(row.request_id),
    actorKeyId: row.actor_key_id === null ? null : String(row.actor_key_id),
    action: String(row.action),
    target: String(row.target),
    outcome: String(row.outcome) as AuditEvent["outcome"],
    details: JSON.parse(String(row.details)) as AuditEvent["details"],
  };
}

export class SqliteAuditStore implements AuditStore {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  /** One prepared statement per combination of filters used (at most 64), so indexes stay usable. */
  readonly #lists = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#insert = db.prepare(
      "INSERT INTO audit_events (id, time_ms, request_id, actor_key_id, action, target, outcome, details)" +
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
  }

  async append(event: AuditEvent): Promise<void> {
    checkAuditEvent(event);
    try {
      this.#insert.run(
        event.id,
        event.time.getTime(),
        event.requestId,
        event.actorKeyId,
        event.action,
        event.target,
        event.outcome,
        JSON.stringify(event.details),
      );
    } catch (error) {
      rethrowConflict(error, "audit event", "id");
    }
  }

  async list(filter: AuditListFilter): Promise<AuditEvent[]> {
    checkAuditFilter(filter);
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (clause: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      where.push(clause);
      params.push(value);
    };
    add("actor_key_id = ?", filter.actorKeyId);
    add("action = ?", filter.action);
    add("outcome = ?", filter.outcome);
    add("time_ms >= ?", filter.since?.getTime());
    add("time_ms < ?", filter.until?.getTime());
    // Unknown cursor id: the subquery yields NULLs, the comparison is never true, the page is empty.
    add("(time_ms, seq) < (SELECT time_ms, seq FROM audit_events WHERE id = ?)", filter.beforeId);
    const sql =
      `SELECT ${COLUMNS} FROM audit_events` +
      (where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "") +
      " ORDER BY time_ms DESC, seq DESC LIMIT ?";
    let statement = this.#lists.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#lists.set(sql, statement);
    }
    return statement.all(...params, filter.limit).map(fromRow);
  }
}
