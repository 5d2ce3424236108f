import { StoreConflictError } from "../store.ts";

/** PostgreSQL identifiers we accept for the schema: lowercase so quoting never changes their meaning. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Turns a unique violation (23505) into a StoreConflictError naming the field
 * (one of `uniqueFields` found in the constraint name, else the primary key "id").
 */
export function rethrowConflict(error: unknown, entity: string, uniqueFields: readonly string[] = []): never {
  const e = error as { code?: unknown; constraint?: unknown };
  if (e.code === "23505") {
    const constraint = typeof e.constraint === "string" ? e.constraint : "";
    throw new StoreConflictError(entity, uniqueFields.find((f) => constraint.includes(`_${f}_`)) ?? "id");
  }
  throw error;
}

/** BIGINT and COUNT come back as strings from pg; every value we store fits a double exactly. */
export const num = (v: unknown): number => Number(v);
export const numOrNull = (v: unknown): number | null => (v === null ? null : Number(v));
export const textOrNull = (v: unknown): string | null => (v === null ? null : String(v));
