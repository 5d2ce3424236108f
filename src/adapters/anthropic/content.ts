import { UpstreamError } from "../../errors/upstream-error.ts";
import type {
  CacheBreakpoint,
  ChatMessage,
  ContentPart,
  DocumentSource,
  ImageSource,
  ToolCall,
} from "../adapter.ts";
import { invalidArgument } from "./errors.ts";
import { thinkingBlockOf } from "./reasoning.ts";

export type Block = Record<string, unknown>;
export type WireTurn = { role: "user" | "assistant"; content: string | Block[] };

/** Base64 image types Anthropic accepts. */
const IMAGE_MEDIA_TYPES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);

/** Anthropic's one cache type. "5m" is its default TTL and travels as given; no TTL, none sent. */
export function cacheControlOf(cache: CacheBreakpoint): Block {
  return cache.ttl ? { type: "ephemeral", ttl: cache.ttl } : { type: "ephemeral" };
}

function withCache(block: Block, cache: CacheBreakpoint | undefined): Block {
  return cache ? { ...block, cache_control: cacheControlOf(cache) } : block;
}

/**
 * The top-level `system`: a string (system messages joined) unless a breakpoint is set on a system message or
 * part, which only text blocks can carry. System content is text only on Anthropic.
 */
export function systemOf(messages: ChatMessage[]): string | Block[] | undefined {
  const blocks: Block[] = [];
  messages.forEach((m, i) => {
    if (m.role !== "system") return;
    const own = m.parts
      ? m.parts.flatMap((part, j) => systemPart(part, `messages[${i}].parts[${j}]`))
      : m.content === ""
        ? []
        : [{ type: "text", text: m.content }];
    blocks.push(...cacheLast(own, m.cache, `messages[${i}]`));
  });
  if (blocks.length === 0) return undefined;
  if (blocks.some((b) => b.cache_control !== undefined)) return blocks;
  return blocks.map((b) => b.text).join("\n\n");
}

function systemPart(part: ContentPart, where: string): Block[] {
  if (part.type === "reasoning") return [];
  if (part.type !== "text")
    throw invalidArgument(`${where}: an Anthropic system prompt takes text only, not ${part.type}`);
  return part.text === "" ? [] : [withCache({ type: "text", text: part.text }, part.cache)];
}

/** A message-level breakpoint goes on the message's last block. */
function cacheLast(blocks: Block[], cache: CacheBreakpoint | undefined, where: string): Block[] {
  if (!cache) return blocks;
  const last = blocks.at(-1);
  if (last === undefined || last.type === "thinking" || last.type === "redacted_thinking") {
    throw invalidArgument(`${where}: a cache breakpoint needs a text, media or tool block to sit on`);
  }
  return [...blocks.slice(0, -1), withCache(last, cache)];
}

/**
 * System messages go to the top-level `system` field; tool results become `tool_result` blocks of a user
 * turn; consecutive turns of one role are merged (tool results must sit together, and first, in the user
 * turn right after the assistant's `tool_use` blocks).
 */
export function toWireTurns(messages: ChatMessage[], backend: string): WireTurn[] {
  const turns: WireTurn[] = [];
  const push = (role: WireTurn["role"], content: string | Block[]): void => {
    const last = turns.at(-1);
    if (last?.role !== role) {
      turns.push({ role, content });
      return;
    }
    last.content = [...asBlocks(last.content), ...asBlocks(content)];
  };
  messages.forEach((m, i) => {
    if (m.role === "system") return;
    if (m.role === "user") push("user", userContent(m, i));
    else if (m.role === "tool") push("user", [toolResultBlock(m, i, backend)]);
    else push("assistant", assistantContent(m, i, backend));
  });
  return turns;
}

function asBlocks(content: string | Block[]): Block[] {
  if (typeof content !== "string") return content;
  return content === "" ? [] : [{ type: "text", text: content }];
}

/** Plain text stays a string (the common case builds no block array). */
function userContent(m: ChatMessage, i: number): string | Block[] {
  if (!m.parts && !m.cache) return m.content;
  return cacheLast(mediaBlocks(m, i), m.cache, `messages[${i}]`);
}

/** Text, image and document parts in order; reasoning parts do not belong to user turns or tool results. */
function mediaBlocks(m: ChatMessage, i: number): Block[] {
  if (!m.parts) return asBlocks(m.content);
  return m.parts.flatMap((part, j) => {
    const block = mediaBlock(part, `messages[${i}].parts[${j}]`);
    return block ? [block] : [];
  });
}

function mediaBlock(part: ContentPart, where: string): Block | undefined {
  switch (part.type) {
    case "text":
      // Anthropic rejects empty text blocks; an empty part carries nothing.
      return part.text === "" ? undefined : withCache({ type: "text", text: part.text }, part.cache);
    case "image":
      return withCache({ type: "image", source: imageSource(part.source, where) }, part.cache);
    case "document": {
      const title = part.title ?? part.filename; // Anthropic has no file name: it is the best title there is
      const block: Block = { type: "document", source: documentSource(part.source, where) };
      if (title !== undefined) block.title = title;
      return withCache(block, part.cache);
    }
    case "audio":
      // Routing skips Anthropic for audio (capabilities); this is the backstop.
      throw invalidArgument(`${where}: Anthropic takes no audio input`);
    case "reasoning":
      return undefined;
  }
}

function base64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
}

function imageSource(source: ImageSource, where: string): Block {
  if ("url" in source) return { type: "url", url: source.url };
  if (!IMAGE_MEDIA_TYPES.has(source.mediaType)) {
    throw invalidArgument(
      `${where}: Anthropic takes JPEG, PNG, GIF or WebP images, not ${boundedType(source.mediaType)}`,
    );
  }
  return { type: "base64", media_type: source.mediaType, data: base64(source.data) };
}

/** PDFs as base64 or URL; plain text as a text source (bytes read as UTF-8). */
function documentSource(source: DocumentSource, where: string): Block {
  if ("url" in source) return { type: "url", url: source.url };
  if ("text" in source) return { type: "text", media_type: "text/plain", data: source.text };
  if (source.mediaType === "application/pdf") {
    return { type: "base64", media_type: "application/pdf", data: base64(source.data) };
  }
  if (source.mediaType === "text/plain") {
    return { type: "text", media_type: "text/plain", data: Buffer.from(source.data).toString("utf8") };
  }
  throw invalidArgument(
    `${where}: Anthropic takes PDF or plain-text documents, not ${boundedType(source.mediaType)}`,
  );
}

/** A media type is caller input: only a well-formed, short one is quoted back. */
function boundedType(mediaType: string): string {
  return /^[\w.+-]{1,40}\/[\w.+-]{1,60}$/.test(mediaType) ? mediaType : "that media type";
}

/** A tool result carries text, images and documents; its message-level breakpoint goes on the block itself. */
function toolResultBlock(m: ChatMessage, i: number, backend: string): Block {
  if (!m.toolCallId) {
    throw new UpstreamError("bad_request", `${backend}: a tool message has no tool call id`);
  }
  const content = m.parts ? mediaBlocks(m, i) : m.content;
  return withCache({ type: "tool_result", tool_use_id: m.toolCallId, content }, m.cache);
}

/**
 * Anthropic thinking goes back first, exactly as received (the API checks its signature), then text, then
 * tool_use blocks. Reasoning of other providers is dropped; media cannot be in an assistant turn.
 */
function assistantContent(m: ChatMessage, i: number, backend: string): string | Block[] {
  const calls = m.toolCalls ?? [];
  if (!m.parts && !m.cache && calls.length === 0) return m.content;
  const blocks: Block[] = m.parts
    ? m.parts.flatMap((part, j) => assistantPart(part, `messages[${i}].parts[${j}]`))
    : asBlocks(m.content);
  blocks.push(...calls.map((c) => toolUseBlock(c, backend)));
  // Only other providers' reasoning: what is left is the plain text, as without parts.
  if (blocks.length === 0 && !m.cache) return m.content;
  return cacheLast(blocks, m.cache, `messages[${i}]`);
}

function assistantPart(part: ContentPart, where: string): Block[] {
  if (part.type === "reasoning") {
    const block = thinkingBlockOf(part, where);
    return block ? [block] : [];
  }
  if (part.type !== "text") {
    throw invalidArgument(
      `${where}: Anthropic takes ${part.type} parts in user and tool messages, not from the assistant`,
    );
  }
  return part.text === "" ? [] : [withCache({ type: "text", text: part.text }, part.cache)];
}

function toolUseBlock(call: ToolCall, backend: string): Block {
  let input: unknown = {};
  if (call.arguments.trim() !== "") {
    try {
      input = JSON.parse(call.arguments);
    } catch {
      input = undefined;
    }
  }
  // Anthropic takes the input as an object, not a string: arguments that are not a JSON object cannot travel.
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new UpstreamError(
      "bad_request",
      `${backend}: arguments of tool call ${call.id} are not a JSON object`,
    );
  }
  return { type: "tool_use", id: call.id, name: call.name, input };
}

/** Anthropic's limit on `cache_control` markers per request, counted over tools, system and messages. */
export const MAX_CACHE_BREAKPOINTS = 4;

type Marked = { cache_control?: { ttl?: string } };

/**
 * The TTL of each marker of a request body, in the order Anthropic processes them (tools, system, messages;
 * a tool result's own marker after those inside it). Not a walk of the whole body: a tool's schema or a tool
 * call's input may well have a `cache_control` key.
 */
function cacheTtlsOf(body: { tools?: unknown; system?: unknown; messages: WireTurn[] }): string[] {
  const ttls: string[] = [];
  const visit = (blocks: unknown): void => {
    if (!Array.isArray(blocks)) return;
    for (const block of blocks as (Block & Marked)[]) {
      if (block.type === "tool_result") visit(block.content);
      if (block.cache_control) ttls.push(block.cache_control.ttl ?? "5m");
    }
  };
  visit(body.tools);
  visit(body.system);
  for (const turn of body.messages) visit(turn.content);
  return ttls;
}

/**
 * Anthropic takes at most four breakpoints, and no one-hour breakpoint after a five-minute one (the longer
 * lived prefix must be the shorter one's prefix): both are refused here, naming the rule, instead of at the API.
 */
export function checkCacheBreakpoints(body: {
  tools?: unknown;
  system?: unknown;
  messages: WireTurn[];
}): void {
  const ttls = cacheTtlsOf(body);
  if (ttls.length > MAX_CACHE_BREAKPOINTS) {
    throw invalidArgument(
      `Anthropic takes at most ${MAX_CACHE_BREAKPOINTS} cache breakpoints per request; this one sets ${ttls.length}`,
    );
  }
  const first5m = ttls.indexOf("5m");
  if (first5m !== -1 && ttls.lastIndexOf("1h") > first5m) {
    throw invalidArgument(
      "Anthropic needs one-hour cache breakpoints before five-minute ones (in the order tools, system, messages)",
    );
  }
}
