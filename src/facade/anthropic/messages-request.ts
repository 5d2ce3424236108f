import { z } from "zod";
import { invalidParam, OpenAIRequestError } from "../openai/errors.ts";
import { parseBody } from "../openai/schema-errors.ts";

const opt = <T extends z.ZodType>(schema: T) => schema.nullable().optional();

const cacheControl = z.strictObject({
  type: z.literal("ephemeral", { error: 'expected "ephemeral"' }),
  ttl: z.enum(["5m", "1h"]).optional(),
});
const textBlock = z.strictObject({
  type: z.literal("text"),
  text: z.string(),
  cache_control: opt(cacheControl),
  citations: opt(z.array(z.unknown()).max(0, "citations are not supported")),
});
const base64Source = z.strictObject({ type: z.literal("base64"), media_type: z.string(), data: z.string() });
const urlSource = z.strictObject({ type: z.literal("url"), url: z.string() });
const imageBlock = z.strictObject({
  type: z.literal("image"),
  source: z.discriminatedUnion("type", [base64Source, urlSource], {
    error: 'expected source type "base64" or "url" (file ids are not supported)',
  }),
  cache_control: opt(cacheControl),
});
const documentBlock = z.strictObject({
  type: z.literal("document"),
  source: z.discriminatedUnion(
    "type",
    [
      base64Source,
      urlSource,
      z.strictObject({ type: z.literal("text"), media_type: z.literal("text/plain"), data: z.string() }),
    ],
    {
      error: 'expected source type "base64", "url" or "text" (content blocks and file ids are not supported)',
    },
  ),
  title: opt(z.string()),
  citations: opt(z.strictObject({ enabled: z.literal(false, { error: "citations are not supported" }) })),
  cache_control: opt(cacheControl),
});
const toolUseBlock = z.strictObject({
  type: z.literal("tool_use"),
  id: z.string().min(1),
  name: z.string(),
  input: z.record(z.string(), z.unknown()),
  cache_control: opt(cacheControl),
});
const toolResultBlock = z.strictObject({
  type: z.literal("tool_result"),
  tool_use_id: z.string().min(1),
  content: opt(
    z.union([z.string(), z.array(z.discriminatedUnion("type", [textBlock, imageBlock]))], {
      error: "expected a string or an array of text and image blocks",
    }),
  ),
  is_error: opt(z.boolean()),
  cache_control: opt(cacheControl),
});
const thinkingBlock = z.strictObject({
  type: z.literal("thinking"),
  thinking: z.string(),
  signature: z.string(),
});
const redactedThinkingBlock = z.strictObject({ type: z.literal("redacted_thinking"), data: z.string() });

const BLOCK_TYPES = "text, image, document, tool_use, tool_result, thinking, redacted_thinking";
const block = z.discriminatedUnion(
  "type",
  [textBlock, imageBlock, documentBlock, toolUseBlock, toolResultBlock, thinkingBlock, redactedThinkingBlock],
  { error: `unknown content block type: expected one of ${BLOCK_TYPES}` },
);
/** Blocks are checked one by one afterwards (parseBlocks), so an error names the block's own field. */
const message = z.strictObject({
  role: z.enum(["user", "assistant", "system"]),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))], {
    error: "expected a string or an array of content blocks (objects with a type)",
  }),
});
const tool = z.strictObject({
  type: opt(
    z.literal("custom", {
      error:
        "only custom tools (name, description, input_schema) can be served; server tools are not supported",
    }),
  ),
  name: z.string(),
  description: z.string().optional(),
  input_schema: z.looseObject({ type: z.literal("object", { error: 'expected "object"' }) }),
  strict: opt(z.boolean()),
  cache_control: opt(cacheControl),
});
const parallel = { disable_parallel_tool_use: opt(z.boolean()) };
const toolChoice = z.discriminatedUnion(
  "type",
  [
    z.strictObject({ type: z.literal("auto"), ...parallel }),
    z.strictObject({ type: z.literal("any"), ...parallel }),
    z.strictObject({ type: z.literal("tool"), name: z.string(), ...parallel }),
    z.strictObject({ type: z.literal("none") }),
  ],
  { error: 'expected type "auto", "any", "tool" or "none"' },
);
const thinking = z.discriminatedUnion(
  "type",
  [
    z.strictObject({ type: z.literal("enabled"), budget_tokens: z.int() }),
    z.strictObject({ type: z.literal("disabled") }),
    z.strictObject({ type: z.literal("adaptive"), display: opt(z.enum(["summarized", "omitted"])) }),
  ],
  { error: 'expected type "enabled" (with budget_tokens), "adaptive" or "disabled"' },
);
const outputConfig = z.strictObject({
  effort: opt(
    z.enum(["low", "medium", "high"], {
      error: 'expected "low", "medium" or "high" (xhigh and max have no neutral equivalent)',
    }),
  ),
  format: opt(
    z.strictObject({
      type: z.literal("json_schema", { error: 'expected "json_schema"' }),
      schema: z.record(z.string(), z.unknown()),
    }),
  ),
});

/**
 * The Messages request body, strict at every level: a field that cannot be translated to the
 * neutral request is refused with its path (a 400), never dropped. See docs/anthropic-messages.md.
 */
const messagesBodySchema = z.strictObject({
  model: z.string().min(1),
  max_tokens: z.int(),
  messages: z.array(message),
  system: opt(
    z.union([z.string(), z.array(textBlock)], { error: "expected a string or an array of text blocks" }),
  ),
  tools: opt(z.array(tool)),
  tool_choice: opt(toolChoice),
  thinking: opt(thinking),
  output_config: opt(outputConfig),
  /** Automatic caching: a breakpoint after the last message. */
  cache_control: opt(cacheControl),
  stop_sequences: opt(z.array(z.string())),
  temperature: opt(z.number()),
  top_p: opt(z.number()),
  // No neutral field: sampling it away silently would change the answer.
  top_k: opt(z.never({ error: "top_k is not supported by this gateway: leave it out" })),
  metadata: opt(z.strictObject({ user_id: opt(z.string()) })),
  stream: opt(z.boolean()),
  service_tier: opt(z.enum(["auto", "standard_only"])),
});

type ParsedBody = z.output<typeof messagesBodySchema>;
export type ContentBlockParam = z.output<typeof block>;
export type MessageParam = {
  role: ParsedBody["messages"][number]["role"];
  content: string | ContentBlockParam[];
};
export type MessagesBody = Omit<ParsedBody, "messages"> & { messages: MessageParam[] };
export type CacheControlParam = z.output<typeof cacheControl>;

/** count_tokens takes the same body without max_tokens and stream (both accepted, and ignored). */
const countTokensBodySchema = messagesBodySchema.extend({ max_tokens: opt(z.int()) });

/** Whether the raw body asks for a stream (known before validation, for the request's operation). */
export function wantsStream(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && (raw as { stream?: unknown }).stream === true;
}

/** A POST /v1/messages body, shape and Anthropic's own rules, named by field path. */
export function parseMessagesBody(raw: unknown): MessagesBody {
  // Anthropic's own wording for the most common mistake (the OpenAI habit of leaving it out).
  if (typeof raw === "object" && raw !== null && (raw as { max_tokens?: unknown }).max_tokens === undefined)
    throw invalidParam("max_tokens", "Field required");
  const body = parseBody(messagesBodySchema, raw);
  if (body.max_tokens < 1) throw invalidParam("max_tokens", "must be at least 1");
  return checkBody({ ...body, messages: body.messages.map(parseBlocks) });
}

export function parseCountTokensBody(raw: unknown): MessagesBody {
  const body = parseBody(countTokensBodySchema, raw);
  return checkBody({ ...body, max_tokens: body.max_tokens ?? 1, messages: body.messages.map(parseBlocks) });
}

/** A message's content blocks, each against its type's strict schema, errors named by full path. */
function parseBlocks(m: ParsedBody["messages"][number], i: number): MessageParam {
  if (typeof m.content === "string") return { role: m.role, content: m.content };
  return {
    role: m.role,
    content: m.content.map((b, j) => {
      try {
        return parseBody(block, b);
      } catch (error) {
        if (!(error instanceof OpenAIRequestError) || error.param === null) throw error;
        const inner =
          error.param === "body" ? "" : error.param.startsWith("[") ? error.param : `.${error.param}`;
        const why = error.message.slice(error.param.length + 2);
        throw invalidParam(`messages[${i}].content[${j}]${inner}`, why);
      }
    }),
  };
}

function checkBody(body: MessagesBody): MessagesBody {
  if (body.messages.length === 0) throw invalidParam("messages", "at least one message is required");
  if (body.temperature != null && !(body.temperature >= 0 && body.temperature <= 1))
    throw invalidParam("temperature", "must be between 0 and 1");
  if (body.top_p != null && !(body.top_p > 0 && body.top_p <= 1))
    throw invalidParam("top_p", "must be greater than 0 and at most 1");
  const stop = body.stop_sequences ?? [];
  if (stop.length > 4) throw invalidParam("stop_sequences", "at most 4 stop sequences can be translated");
  if (stop.some((s) => s === "")) throw invalidParam("stop_sequences", "stop sequences must not be empty");
  const t = body.thinking;
  if (t?.type === "adaptive" && body.output_config?.effort == null)
    throw invalidParam(
      "thinking",
      'adaptive thinking needs output_config.effort ("low", "medium" or "high")',
    );
  if (t?.type === "enabled") {
    if (t.budget_tokens < 1024) throw invalidParam("thinking.budget_tokens", "must be at least 1024");
    if (t.budget_tokens >= body.max_tokens)
      throw invalidParam("thinking.budget_tokens", "must be less than max_tokens");
  }
  const choice = body.tool_choice;
  const tools = body.tools ?? [];
  if (choice?.type === "tool" && !tools.some((x) => x.name === choice.name))
    throw invalidParam("tool_choice.name", `"${choice.name.slice(0, 64)}" is not one of the request's tools`);
  if (choice?.type === "any" && tools.length === 0)
    throw invalidParam("tool_choice", '"any" needs at least one tool');
  if (Array.isArray(body.system))
    body.system.forEach((b, j) => {
      if (b.text === "") throw invalidParam(`system[${j}].text`, "text content blocks must be non-empty");
    });
  body.messages.forEach((m, i) => {
    if (typeof m.content === "string") {
      if (m.content === "") throw invalidParam(`messages[${i}].content`, "must not be empty");
      return;
    }
    if (m.content.length === 0) throw invalidParam(`messages[${i}].content`, "must have at least one block");
    m.content.forEach((b, j) => {
      checkBlock(m.role, b, `messages[${i}].content[${j}]`);
    });
  });
  return body;
}

/** Which blocks each role may carry, as Anthropic allows them. */
const ALLOWED: Record<MessageParam["role"], ReadonlySet<string>> = {
  user: new Set(["text", "image", "document", "tool_result"]),
  assistant: new Set(["text", "tool_use", "thinking", "redacted_thinking"]),
  system: new Set(["text"]),
};

function checkBlock(role: MessageParam["role"], b: ContentBlockParam, path: string): void {
  if (!ALLOWED[role].has(b.type))
    throw invalidParam(`${path}.type`, `${b.type} blocks are not allowed in a ${role} turn`);
  if (b.type === "text" && b.text === "")
    throw invalidParam(`${path}.text`, "text content blocks must be non-empty");
  if (b.type === "tool_result") {
    const c = b.content;
    if (b.is_error !== true && (c == null || c === "" || (Array.isArray(c) && c.length === 0)))
      throw invalidParam(
        `${path}.content`,
        "an empty tool_result cannot be translated: send the tool's output",
      );
  }
}
