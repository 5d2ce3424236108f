import { UpstreamError } from "../../errors/upstream-error.ts";
import type { ChatMessage, ContentPart, ReasoningBlock } from "../adapter.ts";
import { PROVIDER, toWirePart } from "./parts.ts";

type Json = Record<string, unknown>;

/**
 * An assistant message → the parts of a Gemini `model` turn, thought signatures back in place.
 *
 * Gemini returns an opaque `thoughtSignature` on the part it belongs to: on a thought summary
 * (`thought: true`), on a text part, or on a functionCall part (Gemini 3 refuses a later turn
 * whose function call lacks it). The neutral message keeps text, reasoning and tool calls apart,
 * so the adapter reads each signature into a ReasoningBlock of provider "gemini" (reasoning.ts):
 *   - a thought summary: `text` and `signature` → sent back as the same thought part;
 *   - a signature of a function call: empty `text`, `id` = the tool call's id → set on that call;
 *   - a signature of answer text: empty `text`, no `id` → set on the last text part of the turn
 *     (where Gemini puts it), else on the first call without one.
 * Reasoning of other providers, and Gemini reasoning without a signature, carries nothing Gemini
 * can use and is dropped.
 */
export function modelParts(message: ChatMessage): Json[] {
  const parts: Json[] = [];
  const loose: string[] = [];
  const byCall = new Map<string, string>();
  for (const part of message.parts ?? textParts(message.content)) {
    if (part.type !== "reasoning") {
      const wire = toWirePart(part);
      if (wire && wire.text !== "") parts.push(wire); // an empty text part is refused
      continue;
    }
    if (!isOwnSigned(part)) continue;
    if (part.text !== "") parts.push({ text: part.text, thought: true, thoughtSignature: part.signature });
    else if (part.id !== undefined) byCall.set(part.id, part.signature);
    else loose.push(part.signature);
  }
  const calls: Json[] = [];
  for (const call of message.toolCalls ?? []) {
    const wire: Json = { functionCall: { name: call.name, args: argumentsObject(call.arguments) } };
    const signature = byCall.get(call.id);
    if (signature !== undefined) wire.thoughtSignature = signature;
    calls.push(wire);
  }
  for (const signature of loose) {
    const target =
      parts.findLast((p) => typeof p.text === "string" && p.thought !== true && !p.thoughtSignature) ??
      calls.find((p) => !p.thoughtSignature);
    if (target) target.thoughtSignature = signature;
  }
  return [...parts, ...calls];
}

function isOwnSigned(part: ReasoningBlock): part is ReasoningBlock & { signature: string } {
  return part.provider === PROVIDER && typeof part.signature === "string" && part.signature !== "";
}

function textParts(content: string): ContentPart[] {
  return content === "" ? [] : [{ type: "text", text: content }];
}

function argumentsObject(args: string): Json {
  if (args.trim() === "") return {};
  try {
    const parsed: unknown = JSON.parse(args);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as Json;
  } catch {
    // reported below
  }
  throw new UpstreamError("bad_request", "an assistant tool call's arguments are not a JSON object");
}
