import type { ReasoningBlock } from "../../adapters/adapter.ts";
import { type ReasoningInit, unwrapForeign, wrapForeign } from "../foreign-reasoning.ts";

/**
 * Reasoning reaches an Anthropic client as `thinking` / `redacted_thinking` blocks, whose
 * signature or data the client must send back unchanged. Anthropic's own blocks pass as they
 * are; another family's are wrapped (foreign-reasoning.ts).
 */
export function thinkingBlockOf(block: ReasoningBlock): Record<string, unknown> {
  const native = block.provider === "anthropic";
  if (block.redacted) {
    const data = native ? (block.encryptedContent ?? "") : wrapForeign(block);
    return { type: "redacted_thinking", data };
  }
  return {
    type: "thinking",
    thinking: block.text,
    signature: native ? (block.signature ?? "") : wrapForeign(block),
  };
}

/** The signature (or redacted data) a stream sends for a finished block. */
export function signatureOf(block: ReasoningBlock): string {
  const out = thinkingBlockOf(block);
  return String(out.type === "thinking" ? out.signature : out.data);
}

/** A thinking block's signature (or a redacted block's data) → the reasoning part it came from. */
export function reasoningOf(text: string, opaque: string, redacted: boolean, path: string): ReasoningInit {
  const foreign = unwrapForeign(opaque, redacted ? "" : text, path);
  if (foreign) return { ...foreign, redacted };
  return redacted
    ? { text: "", provider: "anthropic", signature: "", encryptedContent: opaque, id: "", redacted: true }
    : { text, provider: "anthropic", signature: opaque, encryptedContent: "", id: "", redacted: false };
}
