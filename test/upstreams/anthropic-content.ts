// What api.anthropic.com checks in the content of a Messages request: block types and sources, thinking
// blocks sent back (signature verified byte for byte), cache_control markers, the thinking configuration
// and what it cannot be combined with, and service_tier. Messages paraphrase the API's own.
import { redactedDataMatches, signatureMatches } from "./anthropic-thinking.ts";
import { isObject, type Json } from "./openai-http.ts";

const DOCS =
  "Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking";
const MAX_CACHE_CONTROL = 4;
const IMAGE_MEDIA_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];
const MESSAGE_BLOCK_TYPES = [
  "text",
  "image",
  "document",
  "search_result",
  "thinking",
  "redacted_thinking",
  "tool_use",
  "tool_result",
  "server_tool_use",
  "web_search_tool_result",
];
const TOOL_RESULT_BLOCK_TYPES = ["text", "image", "document", "search_result"];

function tags(list: string[]): string {
  return list.map((t) => `'${t}'`).join(", ");
}

function blocks(content: unknown): Json[] {
  return Array.isArray(content) ? content.filter(isObject) : [];
}

/** The first problem of the request's content, or undefined. */
export function contentProblem(body: Json): string | undefined {
  return (
    tierProblem(body) ??
    thinkingProblem(body) ??
    cacheProblem(body) ??
    messagesBlockProblem(blocks(body.messages)) ??
    thinkingTurnProblem(body)
  );
}

function tierProblem(body: Json): string | undefined {
  if (
    body.service_tier === undefined ||
    body.service_tier === "auto" ||
    body.service_tier === "standard_only"
  ) {
    return undefined;
  }
  return "service_tier: Input should be 'auto' or 'standard_only'";
}

function thinkingEnabled(body: Json): boolean {
  return isObject(body.thinking) && (body.thinking.type === "enabled" || body.thinking.type === "adaptive");
}

function thinkingProblem(body: Json): string | undefined {
  const thinking = body.thinking;
  if (thinking === undefined) return undefined;
  if (!isObject(thinking)) return "thinking: Input should be a valid dictionary";
  const types = ["adaptive", "disabled", "enabled"];
  if (!types.includes(String(thinking.type))) {
    return `thinking: Input tag '${String(thinking.type)}' found using 'type' does not match any of the expected tags: ${tags(types)}`;
  }
  if (thinking.type === "enabled") {
    const budget = thinking.budget_tokens;
    if (budget === undefined) return "thinking.enabled.budget_tokens: Field required";
    if (!Number.isInteger(budget)) return "thinking.enabled.budget_tokens: Input should be a valid integer";
    if ((budget as number) < 1024) {
      return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024";
    }
    if ((body.max_tokens as number) <= (budget as number)) {
      return `\`max_tokens\` must be greater than \`thinking.budget_tokens\`. ${DOCS}#max-tokens-and-context-window-size`;
    }
  }
  const display = thinking.display;
  if (display !== undefined && display !== null && display !== "summarized" && display !== "omitted") {
    return `thinking.${String(thinking.type)}.display: Input should be 'summarized' or 'omitted'`;
  }
  if (!thinkingEnabled(body)) return undefined;
  if (body.temperature !== undefined && body.temperature !== 1) {
    return `\`temperature\` may only be set to 1 when thinking is enabled. ${DOCS}#feature-compatibility`;
  }
  if (body.top_k !== undefined)
    return `\`top_k\` must be unset when thinking is enabled. ${DOCS}#feature-compatibility`;
  const choice = body.tool_choice;
  if (isObject(choice) && (choice.type === "any" || choice.type === "tool")) {
    return "Thinking may not be enabled when tool_choice forces tool use.";
  }
  return undefined;
}

/**
 * Every block that can carry `cache_control`, in processing order: tools, system blocks, message blocks
 * (a tool result's inner blocks before the tool result itself, whose prefix ends after them).
 */
function cacheCarriers(body: Json): { where: string; block: Json }[] {
  const out: { where: string; block: Json }[] = [];
  for (const [i, block] of blocks(body.tools).entries()) out.push({ where: `tools.${i}`, block });
  for (const [i, block] of blocks(body.system).entries()) out.push({ where: `system.${i}`, block });
  blocks(body.messages).forEach((m, i) => {
    blocks(m.content).forEach((block, j) => {
      blocks(block.content).forEach((inner, k) => {
        out.push({ where: `messages.${i}.content.${j}.content.${k}`, block: inner });
      });
      out.push({ where: `messages.${i}.content.${j}`, block });
    });
  });
  return out;
}

function cacheProblem(body: Json): string | undefined {
  const marked = cacheCarriers(body).filter((c) => c.block.cache_control !== undefined);
  let seen5m = false;
  for (const { where, block } of marked) {
    const control = block.cache_control;
    if (control === null) continue;
    if (!isObject(control) || control.type !== "ephemeral") {
      return `${where}.cache_control.type: Input should be 'ephemeral'`;
    }
    if (control.ttl !== undefined && control.ttl !== "5m" && control.ttl !== "1h") {
      return `${where}.cache_control.ephemeral.ttl: Input should be '5m' or '1h'`;
    }
    if (control.ttl === "1h" && seen5m) {
      return (
        `${where}.cache_control.ttl: a ttl='1h' cache_control block must not come after a ttl='5m' ` +
        "cache_control block. Note that blocks are processed in the following order: `tools`, `system`, `messages`."
      );
    }
    if (control.ttl !== "1h") seen5m = true;
  }
  if (marked.length > MAX_CACHE_CONTROL) {
    return `A maximum of ${MAX_CACHE_CONTROL} blocks with cache_control may be provided. Found ${marked.length}.`;
  }
  return undefined;
}

function messagesBlockProblem(messages: Json[]): string | undefined {
  for (const [i, m] of messages.entries()) {
    for (const [j, block] of blocks(m.content).entries()) {
      const problem = blockProblem(block, `messages.${i}.content.${j}`, MESSAGE_BLOCK_TYPES, m.role);
      if (problem !== undefined) return problem;
      if (block.type !== "tool_result" || typeof block.content === "string" || block.content === undefined) {
        continue;
      }
      for (const [k, inner] of blocks(block.content).entries()) {
        const where = `messages.${i}.content.${j}.content.${k}`;
        const innerProblem = blockProblem(inner, where, TOOL_RESULT_BLOCK_TYPES, m.role);
        if (innerProblem !== undefined) return innerProblem;
      }
    }
  }
  return undefined;
}

function blockProblem(block: Json, where: string, allowed: string[], role: unknown): string | undefined {
  const type = String(block.type);
  if (!allowed.includes(type)) {
    return `${where}: Input tag '${type}' found using 'type' does not match any of the expected tags: ${tags(allowed)}`;
  }
  switch (type) {
    case "text":
      if (typeof block.text !== "string") return `${where}.text.text: Field required`;
      return block.text === "" ? "messages: text content blocks must be non-empty" : undefined;
    case "image":
      return imageSourceProblem(block.source, `${where}.image.source`);
    case "document":
      return documentSourceProblem(block.source, `${where}.document.source`);
    case "thinking":
    case "redacted_thinking":
      if (role !== "assistant") return `${where}: thinking blocks may only appear in assistant messages`;
      return type === "thinking" ? thinkingBlockProblem(block, where) : redactedBlockProblem(block, where);
    default:
      return undefined;
  }
}

function imageSourceProblem(source: unknown, where: string): string | undefined {
  if (!isObject(source)) return `${where}: Field required`;
  if (source.type === "url")
    return typeof source.url === "string" ? undefined : `${where}.url.url: Field required`;
  if (source.type !== "base64") {
    return `${where}: Input tag '${String(source.type)}' found using 'type' does not match any of the expected tags: 'base64', 'file', 'url'`;
  }
  if (!IMAGE_MEDIA_TYPES.includes(String(source.media_type))) {
    return `${where}.base64.media_type: Input should be ${tags(IMAGE_MEDIA_TYPES)}`;
  }
  return base64Problem(source.data, `${where}.base64.data`);
}

function documentSourceProblem(source: unknown, where: string): string | undefined {
  if (!isObject(source)) return `${where}: Field required`;
  switch (source.type) {
    case "url":
      return typeof source.url === "string" ? undefined : `${where}.url.url: Field required`;
    case "base64":
      if (source.media_type !== "application/pdf")
        return `${where}.base64.media_type: Input should be 'application/pdf'`;
      return base64Problem(source.data, `${where}.base64.data`);
    case "text":
      if (source.media_type !== "text/plain") return `${where}.text.media_type: Input should be 'text/plain'`;
      return typeof source.data === "string" ? undefined : `${where}.text.data: Field required`;
    default:
      return `${where}: Input tag '${String(source.type)}' found using 'type' does not match any of the expected tags: 'base64', 'content', 'file', 'text', 'url'`;
  }
}

function base64Problem(data: unknown, where: string): string | undefined {
  if (typeof data !== "string") return `${where}: Field required`;
  return Buffer.from(data, "base64").toString("base64") === data
    ? undefined
    : `${where}: invalid base64 data`;
}

/** A thinking block sent back must be exactly the one the API issued: text and signature, byte for byte. */
function thinkingBlockProblem(block: Json, where: string): string | undefined {
  if (typeof block.thinking !== "string") return `${where}.thinking.thinking: Field required`;
  if (typeof block.signature !== "string") return `${where}.thinking.signature: Field required`;
  return signatureMatches(block.thinking, block.signature)
    ? undefined
    : `${where}: Invalid \`signature\` in \`thinking\` block`;
}

function redactedBlockProblem(block: Json, where: string): string | undefined {
  if (typeof block.data !== "string") return `${where}.redacted_thinking.data: Field required`;
  return redactedDataMatches(block.data)
    ? undefined
    : `${where}: Invalid \`data\` in \`redacted_thinking\` block`;
}

/**
 * With thinking on, an assistant turn whose tool calls the last user turn answers must start with its
 * thinking block: the model continues that reasoning, so it has to come back.
 */
function thinkingTurnProblem(body: Json): string | undefined {
  if (!thinkingEnabled(body)) return undefined;
  const messages = blocks(body.messages);
  const last = messages.length - 1;
  const answering = blocks(messages[last]?.content).some((b) => b.type === "tool_result");
  const assistant = messages[last - 1];
  if (!answering || assistant?.role !== "assistant") return undefined;
  const first = blocks(assistant.content)[0];
  if (first?.type === "thinking" || first?.type === "redacted_thinking") return undefined;
  return (
    `messages.${last - 1}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found ` +
    `\`${String(first?.type ?? "text")}\`. When \`thinking\` is enabled, a final \`assistant\` message must start ` +
    `with a thinking block (preceding the lastmost set of \`tool_use\` and \`tool_result\` blocks). ${DOCS}`
  );
}
