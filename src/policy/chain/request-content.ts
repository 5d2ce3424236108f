import type { ChatMessage } from "../../adapters/adapter.ts";
import type { CelContentKind } from "../cel-rules.ts";

/** The kinds of content a request carries (text, image, audio, document, tool_result), in first-seen order. */
export function contentKindsOf(messages: readonly ChatMessage[]): CelContentKind[] {
  const kinds = new Set<CelContentKind>();
  for (const m of messages) {
    if (m.role === "tool") kinds.add("tool_result");
    if (!m.parts) {
      if (m.content !== "" && m.role !== "tool") kinds.add("text");
      continue;
    }
    for (const p of m.parts) {
      if (p.type === "text") kinds.add(m.role === "tool" ? "tool_result" : "text");
      else if (p.type === "image" || p.type === "audio" || p.type === "document") kinds.add(p.type);
    }
  }
  return [...kinds];
}

/** How many images a request carries. */
export function imageCount(messages: readonly ChatMessage[]): number {
  let n = 0;
  for (const m of messages) if (m.parts) for (const p of m.parts) if (p.type === "image") n++;
  return n;
}
