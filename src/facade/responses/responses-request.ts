import { z } from "zod";
import { invalidParam, OpenAIRequestError } from "../openai/errors.ts";
import { checkMetadata, REASONING_EFFORTS } from "../openai/request-options.ts";
import { parseBody } from "../openai/schema-errors.ts";

const opt = <T extends z.ZodType>(schema: T) => schema.nullable().optional();

const inputText = z.strictObject({ type: z.literal("input_text"), text: z.string() });
const inputImage = z.strictObject({
  type: z.literal("input_image"),
  image_url: opt(z.string()),
  file_id: opt(z.never({ error: "file ids are not supported: send image_url (a URL or a data URL)" })),
  detail: opt(z.enum(["auto", "low", "high"])),
});
const inputFile = z.strictObject({
  type: z.literal("input_file"),
  file_data: opt(z.string()),
  file_url: opt(z.string()),
  filename: opt(z.string()),
  file_id: opt(z.never({ error: "file ids are not supported: send file_data (a data URL) or file_url" })),
});
/** An assistant turn sent back: the SDK's parsed output keeps `parsed` (null) on each part. */
const outputText = z.strictObject({
  type: z.literal("output_text"),
  text: z.string(),
  annotations: opt(z.array(z.unknown())),
  logprobs: opt(z.array(z.unknown())),
  parsed: opt(z.unknown()),
});
const refusal = z.strictObject({ type: z.literal("refusal"), refusal: z.string() });
const part = z.discriminatedUnion("type", [inputText, inputImage, inputFile, outputText, refusal], {
  error: "unknown content type: expected input_text, input_image, input_file, output_text or refusal",
});

const status = opt(z.enum(["in_progress", "completed", "incomplete"]));
const message = z.strictObject({
  type: z.literal("message").optional(),
  role: z.enum(["user", "assistant", "system", "developer"]),
  content: z.union([z.string(), z.array(part)], { error: "expected a string or an array of content parts" }),
  id: opt(z.string()),
  status,
});
const functionCall = z.strictObject({
  type: z.literal("function_call"),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
  id: opt(z.string()),
  status,
  parsed_arguments: opt(z.unknown()),
});
const functionCallOutput = z.strictObject({
  type: z.literal("function_call_output"),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(z.discriminatedUnion("type", [inputText, inputImage, inputFile]))], {
    error: "expected a string or an array of input_text, input_image and input_file parts",
  }),
  id: opt(z.string()),
  status,
});
const reasoning = z.strictObject({
  type: z.literal("reasoning"),
  id: z.string(),
  summary: z.array(z.strictObject({ type: z.literal("summary_text"), text: z.string() })),
  encrypted_content: opt(z.string()),
  content: opt(z.array(z.strictObject({ type: z.literal("reasoning_text"), text: z.string() }))),
  status,
});

/** Items are checked one by one afterwards (parseItems), so an error names the item's own field. */
const ITEM_TYPES = "message, function_call, function_call_output, reasoning";

const functionTool = z.strictObject({
  type: z.literal("function"),
  name: z.string().min(1),
  description: opt(z.string()),
  parameters: opt(z.record(z.string(), z.unknown())),
  strict: opt(z.boolean()),
});

const toolChoice = z.union(
  [
    z.enum(["auto", "none", "required"]),
    z.strictObject({ type: z.literal("function"), name: z.string().min(1) }),
  ],
  { error: 'expected "auto", "none", "required" or {"type": "function", "name": …}' },
);

const format = z.discriminatedUnion(
  "type",
  [
    z.strictObject({ type: z.literal("text") }),
    z.strictObject({ type: z.literal("json_object") }),
    z.strictObject({
      type: z.literal("json_schema"),
      name: z.string().min(1),
      schema: z.record(z.string(), z.unknown()),
      strict: opt(z.boolean()),
      description: opt(z.string()),
    }),
  ],
  { error: 'expected type "text", "json_object" or "json_schema"' },
);

const NOT_YET = "is not supported yet";
/**
 * The Responses request body, strict at every level: a field that cannot be translated to the
 * neutral request is refused with its path (a 400), never dropped. See docs/responses.md.
 */
const responsesBodySchema = z.strictObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.looseObject({}))], {
    error: "expected a string or an array of input items",
  }),
  instructions: opt(z.string()),
  tools: opt(z.array(z.looseObject({ type: z.string() }))),
  tool_choice: opt(toolChoice),
  parallel_tool_calls: opt(z.boolean()),
  reasoning: opt(
    z.strictObject({
      effort: opt(z.enum(REASONING_EFFORTS)),
      summary: opt(z.enum(["auto", "concise", "detailed"])),
      generate_summary: opt(z.enum(["auto", "concise", "detailed"])),
    }),
  ),
  text: opt(
    z.strictObject({
      format: opt(format),
      // No neutral field: only the default, which asks nothing, can be translated.
      verbosity: opt(z.literal("medium", { error: 'only "medium" (the default) can be translated' })),
    }),
  ),
  max_output_tokens: opt(z.int().min(1)),
  temperature: opt(z.number().min(0).max(2)),
  top_p: opt(z.number().gt(0).max(1)),
  top_logprobs: opt(z.int().min(0).max(20)),
  include: opt(
    z.array(
      z.enum(["reasoning.encrypted_content", "message.output_text.logprobs"], {
        error: 'only "reasoning.encrypted_content" and "message.output_text.logprobs" can be served',
      }),
    ),
  ),
  prompt_cache_key: opt(z.string()),
  service_tier: opt(z.string()),
  safety_identifier: opt(z.string()),
  user: opt(z.string()),
  metadata: opt(z.record(z.string(), z.string())),
  store: opt(z.boolean()),
  stream: opt(z.boolean()),
  stream_options: opt(z.strictObject({ include_obfuscation: opt(z.boolean()) })),
  truncation: opt(z.literal("disabled", { error: `"auto" truncation ${NOT_YET}` })),
  background: opt(z.literal(false, { error: `background responses ${NOT_YET}` })),
  previous_response_id: opt(
    z.never({ error: "previous_response_id is not supported yet: send the conversation in input" }),
  ),
  conversation: opt(
    z.never({ error: "conversations are not supported yet: send the conversation in input" }),
  ),
  prompt: opt(z.never({ error: "prompt templates are not supported by this gateway" })),
});

type ParsedBody = z.output<typeof responsesBodySchema>;
export type InputPart = z.output<typeof part>;
export type InputItem =
  | ({ type: "message" } & Omit<z.output<typeof message>, "type">)
  | z.output<typeof functionCall>
  | z.output<typeof functionCallOutput>
  | z.output<typeof reasoning>;
export type FunctionTool = z.output<typeof functionTool>;
export type ResponsesBody = Omit<ParsedBody, "input" | "tools"> & {
  input: string | InputItem[];
  tools: FunctionTool[];
};

/** Whether the raw body asks for a stream (known before validation, for the request's operation). */
export function wantsStream(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && (raw as { stream?: unknown }).stream === true;
}

/** A POST /v1/responses body: shape and OpenAI's own rules, named by field path. */
export function parseResponsesBody(raw: unknown): ResponsesBody {
  refuseUnknown(raw);
  const body = parseBody(responsesBodySchema, raw);
  checkMetadata(body.metadata);
  const tools = (body.tools ?? []).map((t, i) => parseTool(t, i));
  const input = typeof body.input === "string" ? body.input : body.input.map(parseItem);
  if (input.length === 0) throw invalidParam("input", "must not be empty");
  const choice = body.tool_choice;
  if (typeof choice === "object" && choice !== null && !tools.some((t) => t.name === choice.name))
    throw invalidParam("tool_choice.name", `"${choice.name.slice(0, 64)}" is not one of the request's tools`);
  return { ...body, input, tools };
}

/** OpenAI's wording for a top-level field it does not know (clients match on it). */
function refuseUnknown(raw: unknown): void {
  if (typeof raw !== "object" || raw === null) return;
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(responsesBodySchema.shape, key))
      throw new OpenAIRequestError("invalid_argument", `Unknown parameter: '${key.slice(0, 64)}'.`, {
        param: key.slice(0, 64),
      });
  }
}

const itemSchemas = {
  message,
  function_call: functionCall,
  function_call_output: functionCallOutput,
  reasoning,
};

function parseItem(raw: Record<string, unknown>, i: number): InputItem {
  const type = raw.type ?? "message";
  if (typeof type !== "string" || !(type in itemSchemas)) {
    const hint = type === "item_reference" ? ` (stored items ${NOT_YET}: send the item itself)` : "";
    throw invalidParam(`input[${i}].type`, `unknown input item type: expected one of ${ITEM_TYPES}${hint}`);
  }
  const item = nested(`input[${i}]`, () => parseBody(itemSchemas[type as keyof typeof itemSchemas], raw));
  return (item.type === undefined ? { ...item, type: "message" } : item) as InputItem;
}

/** Function tools only: the hosted tools run at OpenAI, and nothing here can run them. */
function parseTool(raw: { type: string }, i: number): FunctionTool {
  if (raw.type !== "function")
    throw invalidParam(
      `tools[${i}].type`,
      `"${raw.type.slice(0, 64)}" tools are not supported by this gateway: only function tools can be served`,
    );
  return nested(`tools[${i}]`, () => parseBody(functionTool, raw));
}

/** Re-bases a nested parse's error path onto the item's own path. */
function nested<T>(prefix: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof OpenAIRequestError) || error.param === null) throw error;
    const inner = error.param === "body" ? "" : error.param.startsWith("[") ? error.param : `.${error.param}`;
    throw invalidParam(`${prefix}${inner}`, error.message.slice(error.param.length + 2));
  }
}
