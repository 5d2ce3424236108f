import type { ReasoningBlock } from "../adapters/adapter.ts";
import { invalidParam } from "./openai/errors.ts";

/** The neutral reasoning part a block sent back by a REST client turns into (proto ReasoningPart's fields). */
export type ReasoningInit = {
  text: string;
  provider: string;
  signature: string;
  encryptedContent: string;
  id: string;
  redacted: boolean;
};

/**
 * A REST front door speaks one provider family's format, whose reasoning carries one opaque field
 * (Anthropic's signature or redacted data, OpenAI's encrypted_content). Reasoning another family
 * produced (echo, Gemini, …) is wrapped into that field, so that, sent back unchanged, it returns to
 * its own family with its own signature and id (adapters drop reasoning of another provider). Both
 * families' own values are base64 without ".", so the prefix cannot be mistaken for one.
 */
const PREFIX = "sy1.";

type Wrapped = { p: string; s?: string; e?: string; i?: string; r?: 1 };

export function wrapForeign(block: ReasoningBlock): string {
  const w: Wrapped = { p: block.provider };
  if (block.signature) w.s = block.signature;
  if (block.encryptedContent) w.e = block.encryptedContent;
  if (block.id) w.i = block.id;
  if (block.redacted) w.r = 1;
  return PREFIX + Buffer.from(JSON.stringify(w)).toString("base64url");
}

/**
 * The reasoning part a wrapped value stands for (`text` as the client sent it, emptied for redacted
 * blocks), or undefined when the value is the family's own. A value with the prefix that does not
 * unwrap is refused as the client's mistake, naming `path`.
 */
export function unwrapForeign(opaque: string, text: string, path: string): ReasoningInit | undefined {
  if (!opaque.startsWith(PREFIX)) return undefined;
  let w: Wrapped;
  try {
    w = JSON.parse(Buffer.from(opaque.slice(PREFIX.length), "base64url").toString("utf8")) as Wrapped;
  } catch {
    w = { p: "" };
  }
  if (typeof w !== "object" || w === null || typeof w.p !== "string" || w.p === "")
    throw invalidParam(path, "was not issued by the gateway: send the reasoning back unchanged");
  return {
    text: w.r === 1 ? "" : text,
    provider: w.p,
    signature: typeof w.s === "string" ? w.s : "",
    encryptedContent: typeof w.e === "string" ? w.e : "",
    id: typeof w.i === "string" ? w.i : "",
    redacted: w.r === 1,
  };
}
