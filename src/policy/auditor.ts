import { randomUUID } from "node:crypto";
import type { AuditEvent, AuditStore } from "../store/store.ts";
import { bounded } from "../telemetry/bounded.ts";
import type { Logger } from "../telemetry/logger.ts";

export type AuditInput = Omit<AuditEvent, "id" | "time">;

/**
 * The append-only audit trail: every admin mutation and every denied request.
 * Each event goes to the store and, as a structured line, to the log. Events
 * carry key ids and names only — never key material, prompts or outputs.
 * The target and string details may come from the caller (a workload, a key
 * name), even before authentication: they are cut to MAX_CLIENT_STRING here,
 * so no caller can write large rows into the append-only trail.
 */
export class Auditor {
  readonly #store: AuditStore;
  readonly #logger: Logger;

  constructor(store: AuditStore, logger: Logger) {
    this.#store = store;
    this.#logger = logger;
  }

  /** Admin mutations await the write: the change is not acknowledged before it is audited. */
  async record(input: AuditInput): Promise<AuditEvent> {
    const event: AuditEvent = {
      ...input,
      target: bounded(input.target),
      details: boundedDetails(input.details),
      id: `aud_${randomUUID()}`,
      time: new Date(),
    };
    this.#logger.info(
      { audit: { ...event, time: event.time.toISOString() } },
      `audit ${event.action} ${event.outcome}`,
    );
    await this.#store.append(event);
    return event;
  }

  /** Denials must not slow the rejection down; a failed write is logged, never thrown at the caller. */
  recordSoon(input: AuditInput): void {
    this.record(input).catch((error: unknown) => {
      this.#logger.error({ err: error, action: input.action }, "audit write failed");
    });
  }
}

function boundedDetails(details: AuditEvent["details"]): AuditEvent["details"] {
  const out: AuditEvent["details"] = {};
  for (const [key, value] of Object.entries(details))
    out[key] = typeof value === "string" ? bounded(value) : value;
  return out;
}
