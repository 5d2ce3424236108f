import { randomBytes } from "node:crypto";
import type { ReasoningBlock } from "../../adapters/adapter.ts";
import { type ReasoningInit, unwrapForeign, wrapForeign } from "../foreign-reasoning.ts";

/**
 * Reasoning reaches a Responses client as `reasoning` items, whose `encrypted_content` it sends back
 * unchanged (Codex does, with store: false). OpenAI's own items pass as they are; another family's
 * signature has no field in the item, so it is wrapped into encrypted_content (foreign-reasoning.ts).
 */
export type ReasoningItem = {
  type: "reasoning";
  id: string;
  summary: { type: "summary_text"; text: string }[];
  encrypted_content?: string;
};

export function reasoningItemOf(block: ReasoningBlock, fallbackId = newReasoningId()): ReasoningItem {
  const native = block.provider === "openai";
  const encrypted = native ? block.encryptedContent : wrapForeign(block);
  return {
    type: "reasoning",
    id: (native ? block.id : undefined) || fallbackId,
    summary: block.text ? [{ type: "summary_text", text: block.text }] : [],
    ...(encrypted ? { encrypted_content: encrypted } : {}),
  };
}

export function newReasoningId(): string {
  return `rs_${randomBytes(16).toString("hex")}`;
}

/** A reasoning input item → the neutral reasoning part it came from (summaries joined as paragraphs). */
export function reasoningPartOf(
  item: { id: string; summary: { text: string }[]; encrypted_content?: string | null | undefined },
  path: string,
): ReasoningInit {
  const text = item.summary.map((s) => s.text).join("\n\n");
  const opaque = item.encrypted_content ?? "";
  const foreign = unwrapForeign(opaque, text, `${path}.encrypted_content`);
  if (foreign) return foreign;
  return { text, provider: "openai", signature: "", encryptedContent: opaque, id: item.id, redacted: false };
}
