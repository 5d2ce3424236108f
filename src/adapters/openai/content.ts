import { UpstreamError } from "../../errors/upstream-error.ts";
import type { ChatMessage, ContentPart } from "../adapter.ts";
import type { QuirkProfile } from "./quirks.ts";

type WirePart = Record<string, unknown>;
type WireMessage = Record<string, unknown>;

/**
 * The request's messages as Chat Completions messages. Messages with `parts` become content-part arrays
 * in the server's dialect (quirks.ts); a part the server cannot take is refused before any call, naming
 * the field. Prompt-cache breakpoints are not sent: OpenAI and the OpenAI-compatible servers cache
 * prompt prefixes on their own (OpenAI's explicit `prompt_cache_breakpoint` exists only for gpt-5.6+).
 */
export function toWireMessages(
  messages: readonly ChatMessage[],
  profile: QuirkProfile,
  toolId: (id: string) => string,
): WireMessage[] {
  const out: WireMessage[] = [];
  /** Images of the current run of tool results, sent as one user message after it (OpenAI). */
  let heldImages: WirePart[] = [];
  const flushImages = () => {
    if (heldImages.length === 0) return;
    out.push({ role: "user", content: heldImages });
    heldImages = [];
  };
  messages.forEach((m, i) => {
    if (m.role !== "tool") flushImages();
    const wire: WireMessage = { role: m.role, content: m.content };
    if (m.name && (m.role === "tool" || profile.participantNames)) wire.name = m.name;
    if (m.role === "tool" && m.toolCallId) wire.tool_call_id = toolId(m.toolCallId);
    if (m.parts !== undefined) {
      const parts = m.parts.flatMap((part, j) => wirePart(part, m, profile, `messages[${i}].parts[${j}]`));
      if (m.role === "tool" && profile.toolImages === "user-message") {
        heldImages.push(...parts.filter((p) => p.type === "image_url"));
        const texts = parts.filter((p) => p.type !== "image_url");
        wire.content = texts.length > 0 ? texts : m.content;
      } else {
        wire.content = parts;
      }
    }
    if (m.toolCalls && m.toolCalls.length > 0) {
      wire.tool_calls = m.toolCalls.map((c) => ({
        id: toolId(c.id),
        type: "function",
        function: { name: c.name, arguments: c.arguments },
      }));
      if (wire.content === "" || (Array.isArray(wire.content) && wire.content.length === 0))
        wire.content = null;
    }
    out.push(wire);
  });
  flushImages();
  return out;
}

/** A request this server cannot carry: the caller's input, refused before the call. */
export function refuseField(field: string, what: string): never {
  throw new UpstreamError("bad_request", `${field}: ${what}`, { status: 400 });
}

function base64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
}

function dataUrl(mediaType: string, data: Uint8Array): string {
  return `data:${mediaType};base64,${base64(data)}`;
}

function wirePart(part: ContentPart, m: ChatMessage, profile: QuirkProfile, field: string): WirePart[] {
  switch (part.type) {
    case "text":
      return [{ type: "text", text: part.text }];
    case "image": {
      if (m.role !== "user" && m.role !== "tool")
        refuseField(field, `an image cannot be sent in a ${m.role} message`);
      const url = "url" in part.source ? part.source.url : dataUrl(part.source.mediaType, part.source.data);
      return [{ type: "image_url", image_url: { url, ...(part.detail ? { detail: part.detail } : {}) } }];
    }
    case "audio": {
      if (m.role !== "user") refuseField(field, "audio input is taken only in user messages");
      if (!profile.audioFormats.includes(part.format)) {
        refuseField(`${field}.format`, `this backend takes no ${part.format} audio input`);
      }
      return [
        profile.audioPart === "base64"
          ? { type: "input_audio", input_audio: base64(part.data) }
          : { type: "input_audio", input_audio: { data: base64(part.data), format: part.format } },
      ];
    }
    case "document":
      return [documentPart(part, m, profile, field)];
    case "reasoning":
      // Only the family that produced a block can read it back, and only Mistral has a wire field for
      // it in Chat Completions (a `thinking` chunk); OpenAI's encrypted reasoning has none: dropped.
      if (!profile.thinkingChunks || part.provider !== profile.reasoningProvider || m.role !== "assistant") {
        return [];
      }
      return [
        {
          type: "thinking",
          thinking: [{ type: "text", text: part.text }],
          ...(part.signature !== undefined ? { signature: part.signature } : {}),
        },
      ];
  }
}

function documentPart(
  part: Extract<ContentPart, { type: "document" }>,
  m: ChatMessage,
  profile: QuirkProfile,
  field: string,
): WirePart {
  const source = part.source;
  if ("text" in source) {
    // A text document is text to every server: its title first, so the model can cite it.
    return { type: "text", text: part.title ? `${part.title}\n\n${source.text}` : source.text };
  }
  if (m.role !== "user") refuseField(field, "a document is taken only in user messages");
  const filename = part.filename ?? part.title;
  if (profile.documents === "document_url") {
    const url = "url" in source ? source.url : dataUrl(source.mediaType, source.data);
    return { type: "document_url", document_url: url, ...(filename ? { document_name: filename } : {}) };
  }
  if (profile.documents === "none")
    refuseField(`${field}.source`, "this backend takes no document input but text");
  if ("url" in source) {
    refuseField(`${field}.source.url`, "OpenAI takes documents as bytes or text, not by URL");
  }
  return {
    type: "file",
    file: {
      file_data: dataUrl(source.mediaType, source.data),
      // OpenAI asks a filename with file_data; one from the media type when the caller gave none.
      filename: filename ?? `document.${source.mediaType.split("/")[1] ?? "bin"}`,
    },
  };
}
