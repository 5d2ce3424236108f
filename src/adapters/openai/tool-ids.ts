import { createHash } from "node:crypto";
import type { ChatMessage } from "../adapter.ts";

const ALNUM9 = /^[A-Za-z0-9]{9}$/;
const DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const SPACE = 62n ** 9n;

/** Nine base-62 digits of a SHA-256 digest: stable for the same id, across requests too. */
function alnum9(text: string): string {
  let value = createHash("sha256").update(text).digest().readBigUInt64BE(0) % SPACE;
  let out = "";
  for (let i = 0; i < 9; i++) {
    out = DIGITS.charAt(Number(value % 62n)) + out;
    value /= 62n;
  }
  return out;
}

/**
 * For servers that accept only 9-alphanumeric tool-call ids (Mistral): a mapping that keeps valid ids and
 * rewrites foreign ones (`call_…`, `toolu_…`) deterministically, so an assistant's `tool_calls[].id` and
 * the matching tool message's `tool_call_id` stay paired. Ids the request already uses are never produced
 * for a different foreign id. Nothing maps back: callers only ever see ids the server itself generated.
 */
export function alnum9ToolIds(messages: readonly ChatMessage[]): (id: string) => string {
  const taken = new Set<string>();
  for (const m of messages) {
    for (const c of m.toolCalls ?? []) if (ALNUM9.test(c.id)) taken.add(c.id);
    if (m.toolCallId !== undefined && ALNUM9.test(m.toolCallId)) taken.add(m.toolCallId);
  }
  const rewritten = new Map<string, string>();
  return (id) => {
    if (ALNUM9.test(id)) return id;
    const known = rewritten.get(id);
    if (known !== undefined) return known;
    let out = alnum9(id);
    for (let salt = 1; taken.has(out); salt++) out = alnum9(`${salt}\u0000${id}`);
    taken.add(out);
    rewritten.set(id, out);
    return out;
  };
}
