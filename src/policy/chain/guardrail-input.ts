import type { ChatMessage } from "../../adapters/adapter.ts";
import { type Detector, type Finding, maskText } from "../../guardrails/detectors.ts";

/** What a detector found in a request's text, and the request's messages with it masked. */
export type InputScan = { findings: Finding[]; masked: ChatMessage[] | undefined };

/**
 * Scans every text a model will read — message content and text parts, tool results included —
 * and builds masked copies only of the messages that had findings (untouched ones are shared).
 */
export function scanMessages(messages: readonly ChatMessage[], detector: Detector): InputScan {
  const findings: Finding[] = [];
  let masked: ChatMessage[] | undefined;
  messages.forEach((m, i) => {
    let changed: ChatMessage | undefined;
    if (m.parts) {
      let parts = m.parts;
      m.parts.forEach((p, j) => {
        if (p.type !== "text") return;
        const found = detector.find(p.text);
        if (found.length === 0) return;
        findings.push(...found);
        if (parts === m.parts) parts = [...m.parts];
        parts[j] = { ...p, text: maskText(p.text, found) };
      });
      if (parts !== m.parts) changed = withParts(m, parts);
    } else if (m.content !== "") {
      const found = detector.find(m.content);
      if (found.length > 0) {
        findings.push(...found);
        changed = { ...m, content: maskText(m.content, found) };
      }
    }
    if (changed) {
      masked ??= [...messages];
      masked[i] = changed;
    }
  });
  return { findings, masked };
}

/** The message with new parts, its `content` (the text parts joined) kept in step. */
export function withParts(m: ChatMessage, parts: NonNullable<ChatMessage["parts"]>): ChatMessage {
  const content = parts.flatMap((p) => (p.type === "text" ? [p.text] : [])).join("");
  return { ...m, parts, content };
}

/** Embedding inputs: the same, over plain strings. */
export function scanTexts(
  texts: readonly string[],
  detector: Detector,
): { findings: Finding[]; masked: string[] | undefined } {
  const findings: Finding[] = [];
  let masked: string[] | undefined;
  texts.forEach((text, i) => {
    const found = detector.find(text);
    if (found.length === 0) return;
    findings.push(...found);
    masked ??= [...texts];
    masked[i] = maskText(text, found);
  });
  return { findings, masked };
}
