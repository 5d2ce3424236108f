import type { Pool } from "pg";
import type { AuditEvent, AuditListFilter, AuditStore } from "../store.ts";
import { checkAuditEvent, checkAuditFilter } from "../validate.ts";
import { rethrowConflict, textOrNull } from "./pg-util.ts";

type Row = Record<string, unknown>;

const COLUMNS = "id, occurred_at, request_id, actor_key_id, action, target, outcome, details";

function fromRow(row: Row): AuditEvent {
  return {
    id: String(row.id),
    time: row.occurred_at as Date,
    requestId: String(row.request_id),
    actorKeyId: textOrNull(row.actor_key_id),
    action: String(row.action),
    target: String(row.target),
    outcome: String(row.outcome) as AuditEvent["outcome"],
    details: row.details as AuditEvent["details"],
  };
}

export class PostgresAuditStore implements AuditStore {
  readonly #pool: Pool;
  readonly #table: string;

  constructor(pool: Pool, schema: string) {
    this.#pool = pool;
    this.#table = `"${schema}".audit_events`;
  }

  async append(event: AuditEvent): Promise<void> {
    checkAuditEvent(event);
    try {
      await this.#pool.query(
        `INSERT INTO ${this.#table} (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          event.id,
          event.time,
          event.requestId,
          event.actorKeyId,
          event.action,
          event.target,
          event.outcome,
          JSON.stringify(event.details),
        ],
      );
    } catch (error) {
      rethrowConflict(error, "audit event");
    }
  }

  async list(filter: AuditListFilter): Promise<AuditEvent[]> {
    checkAuditFilter(filter);
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: (p: string) => string, value: unknown): void => {
      if (value === undefined) return;
      params.push(value);
      where.push(clause(`$${params.length}`));
    };
    add((p) => `actor_key_id = ${p}`, filter.actorKeyId);
    add((p) => `action = ${p}`, filter.action);
    add((p) => `outcome = ${p}`, filter.outcome);
    add((p) => `occurred_at >= ${p}`, filter.since);
    add((p) => `occurred_at < ${p}`, filter.until);
    // Unknown cursor id: the subquery yields NULLs, the comparison is never true, the page is empty.
    add(
      (p) => `(occurred_at, seq) < (SELECT occurred_at, seq FROM ${this.#table} WHERE id = ${p})`,
      filter.beforeId,
    );
    params.push(filter.limit);
    const { rows } = await this.#pool.query(
      `SELECT ${COLUMNS} FROM ${this.#table}` +
        (where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "") +
        ` ORDER BY occurred_at DESC, seq DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(fromRow);
  }
}
