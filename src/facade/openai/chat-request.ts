import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import { z } from "zod";
import {
  type MessageSchema,
  ResponseFormatType,
  Role,
  ToolChoiceMode,
} from "../../../gen/switchyard/v1/generation_pb.ts";
import { GenerateRequestSchema } from "../../../gen/switchyard/v1/inference_service_pb.ts";
import { toGenerationRequest } from "../../api/validate.ts";
import { GatewayError } from "../../errors/gateway-error.ts";
import type { GenerationRequest } from "../../pipeline/pipeline.ts";
import { invalidParam } from "./errors.ts";
import type { ResolvedModel } from "./model-mapping.ts";
import { parseBody } from "./schema-errors.ts";

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const NAME_RULE = "use 1-64 letters, digits, '_' or '-'";
const opt = <T extends z.ZodType>(schema: T) => schema.nullable().optional();

const contentPart = z.looseObject({ type: z.string() });
const content = z.union([z.string(), z.array(contentPart)], {
  error: "expected string or array of content parts",
});
const toolCall = z.object({
  id: z.string(),
  type: z.literal("function").optional(),
  function: z.object({ name: z.string(), arguments: z.string() }),
});
/** Message objects are not strict: callers send back assistant messages with provider extras. */
const message = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: opt(content),
  name: z.string().optional(),
  tool_calls: opt(z.array(toolCall)),
  tool_call_id: z.string().optional(),
});
const tool = z.object({
  type: z.literal("function", { error: 'only "function" tools are supported' }),
  function: z.object({
    name: z.string(),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: opt(z.boolean()),
  }),
});
const toolChoice = z.union(
  [
    z.enum(["auto", "none", "required"]),
    z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) }),
  ],
  { error: 'expected "auto", "none", "required" or {"type": "function", "function": {"name": …}}' },
);
const responseFormat = z.discriminatedUnion(
  "type",
  [
    z.object({ type: z.literal("text") }),
    z.object({ type: z.literal("json_object") }),
    z.object({
      type: z.literal("json_schema"),
      json_schema: z.object({
        name: z.string(),
        description: z.string().optional(),
        schema: z.record(z.string(), z.unknown()).optional(),
        strict: opt(z.boolean()),
      }),
    }),
  ],
  { error: 'expected type "text", "json_object" or "json_schema"' },
);

/**
 * The request body. Top level is strict (an unknown field is a 400, as at
 * api.openai.com); fields SDKs commonly send are accepted at their defaults
 * (`n`, `logprobs`, penalties…) or ignored when they cannot change the output
 * (`store`, `service_tier`, `parallel_tool_calls`…). See docs/openai-facade.md.
 */
export const chatBodySchema = z.strictObject({
  model: z.string().min(1),
  messages: z.array(message),
  tools: opt(z.array(tool)),
  tool_choice: opt(toolChoice),
  max_tokens: opt(z.int()),
  max_completion_tokens: opt(z.int()),
  temperature: opt(z.number()),
  top_p: opt(z.number()),
  stop: opt(z.union([z.string(), z.array(z.string())], { error: "expected string or array of strings" })),
  seed: opt(z.int()),
  response_format: opt(responseFormat),
  user: z.string().optional(),
  metadata: opt(z.record(z.string(), z.string())),
  stream: opt(z.boolean()),
  stream_options: opt(z.object({ include_usage: opt(z.boolean()), include_obfuscation: opt(z.boolean()) })),
  // Accepted only at their defaults: anything else would silently change the answer.
  n: opt(z.literal(1, { error: "only n = 1 is supported (one choice per request)" })),
  logprobs: opt(z.literal(false, { error: "logprobs are not supported" })),
  top_logprobs: opt(z.null({ error: "logprobs are not supported" })),
  frequency_penalty: opt(z.literal(0, { error: "frequency_penalty is not supported (only 0)" })),
  presence_penalty: opt(z.literal(0, { error: "presence_penalty is not supported (only 0)" })),
  logit_bias: opt(
    z
      .record(z.string(), z.number())
      .refine((v) => Object.keys(v).length === 0, "logit_bias is not supported"),
  ),
  modalities: opt(z.array(z.literal("text", { error: "only text output is supported" }))),
  // Accepted and ignored: they do not change the answer.
  parallel_tool_calls: opt(z.boolean()),
  store: opt(z.boolean()),
  service_tier: opt(z.string()),
  prompt_cache_key: opt(z.string()),
  safety_identifier: opt(z.string()),
});

export type ChatBody = z.output<typeof chatBodySchema>;
type ChatMessage = ChatBody["messages"][number];

/** Whether the raw body asks for a stream (known before validation, for the request's operation). */
export function wantsStream(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && (raw as { stream?: unknown }).stream === true;
}

/**
 * Shape and the gateway's own rules, named by OpenAI's field paths. The
 * rules are those of api/validate.ts, which still runs last (toGeneration),
 * so both front-ends reject the same inputs.
 */
export function parseChatBody(raw: unknown): ChatBody {
  const body = parseBody(chatBodySchema, raw);
  if (body.messages.length === 0) {
    throw new GatewayError("empty_messages", "messages: send at least one message, e.g. a user turn");
  }
  body.messages.forEach(checkMessage);
  const tools = body.tools ?? [];
  tools.forEach((t, i) => {
    if (!TOOL_NAME.test(t.function.name)) throw invalidParam(`tools[${i}].function.name`, NAME_RULE);
  });
  const choice = body.tool_choice;
  if (
    typeof choice === "object" &&
    choice !== null &&
    !tools.some((t) => t.function.name === choice.function.name)
  ) {
    throw invalidParam(
      "tool_choice.function.name",
      `"${choice.function.name}" is not one of the request's tools`,
    );
  }
  if (choice === "required" && tools.length === 0)
    throw invalidParam("tool_choice", '"required" needs at least one tool');
  const max = maxTokens(body);
  if (max && max.value < 1) throw invalidParam(max.param, "must be at least 1");
  if (body.temperature != null && !(body.temperature >= 0 && body.temperature <= 2)) {
    throw invalidParam("temperature", "must be between 0 and 2");
  }
  if (body.top_p != null && !(body.top_p > 0 && body.top_p <= 1)) {
    throw invalidParam("top_p", "must be greater than 0 and at most 1");
  }
  const stop = stopOf(body);
  if (stop.length > 4) throw invalidParam("stop", "at most 4 stop sequences");
  if (stop.some((s) => s === "")) throw invalidParam("stop", "stop sequences must not be empty");
  const format = body.response_format;
  if (format?.type === "json_schema") {
    if (!format.json_schema.schema) throw invalidParam("response_format.json_schema.schema", "is required");
    if (!TOOL_NAME.test(format.json_schema.name))
      throw invalidParam("response_format.json_schema.name", NAME_RULE);
  }
  return body;
}

function checkMessage(m: ChatMessage, i: number): void {
  const text = textOf(m, i);
  if (m.role === "tool" && !m.tool_call_id) {
    throw invalidParam(`messages[${i}].tool_call_id`, "a tool message must name the call it answers");
  }
  if (text === "" && (m.tool_calls ?? []).length === 0) {
    throw invalidParam(
      `messages[${i}].content`,
      `message has no text${m.role === "assistant" ? " and no tool calls" : ""}`,
    );
  }
}

/** The message's text: a string, or its text parts joined (other part types are refused). */
function textOf(m: ChatMessage, i: number): string {
  if (m.content == null || typeof m.content === "string") return m.content ?? "";
  return m.content
    .map((part, j) => {
      if (part.type === "text" && typeof part.text === "string") return part.text;
      const path = `messages[${i}].content[${j}]`;
      if (part.type === "text") throw invalidParam(`${path}.text`, "expected string");
      throw invalidParam(`${path}.type`, `"${part.type}" content parts are not supported (text only)`);
    })
    .join("");
}

function maxTokens(body: ChatBody): { value: number; param: string } | undefined {
  if (body.max_completion_tokens != null)
    return { value: body.max_completion_tokens, param: "max_completion_tokens" };
  if (body.max_tokens != null) return { value: body.max_tokens, param: "max_tokens" };
  return undefined;
}

function stopOf(body: ChatBody): string[] {
  if (body.stop == null) return [];
  return typeof body.stop === "string" ? [body.stop] : body.stop;
}

const ROLE = {
  system: Role.SYSTEM,
  developer: Role.SYSTEM,
  user: Role.USER,
  assistant: Role.ASSISTANT,
  tool: Role.TOOL,
};

/**
 * The protocol-neutral request, through the same conversion and checks as
 * the gRPC API (api/validate.ts), so both front-ends agree by construction.
 */
export function toGeneration(body: ChatBody, target: ResolvedModel): GenerationRequest {
  const tools = body.tools ?? [];
  const max = maxTokens(body);
  const stop = stopOf(body);
  const choice = body.tool_choice;
  const format = body.response_format;
  const wire = create(GenerateRequestSchema, {
    workload: target.workload,
    model: target.requestedModel,
    messages: body.messages.map(
      (m, i): MessageInitShape<typeof MessageSchema> => ({
        role: ROLE[m.role],
        content: [{ part: { case: "text", value: textOf(m, i) } }],
        toolCalls: (m.tool_calls ?? []).map((c) => ({
          id: c.id,
          name: c.function.name,
          arguments: c.function.arguments,
        })),
        toolCallId: m.tool_call_id ?? "",
        name: m.name ?? "",
      }),
    ),
    tools: tools.map((t) => ({
      name: t.function.name,
      description: t.function.description ?? "",
      strict: t.function.strict === true,
      ...(t.function.parameters ? { parameters: t.function.parameters as JsonObject } : {}),
    })),
    ...(choice == null
      ? {}
      : typeof choice === "string"
        ? { toolChoice: { choice: { case: "mode", value: MODE[choice] } } }
        : { toolChoice: { choice: { case: "functionName", value: choice.function.name } } }),
    sampling: {
      stop,
      ...(max ? { maxOutputTokens: max.value } : {}),
      ...(body.temperature != null ? { temperature: body.temperature } : {}),
      ...(body.top_p != null ? { topP: body.top_p } : {}),
      ...(body.seed != null ? { seed: BigInt(body.seed) } : {}),
    },
    ...(format?.type === "json_object" ? { responseFormat: { type: ResponseFormatType.JSON_OBJECT } } : {}),
    ...(format?.type === "json_schema"
      ? {
          responseFormat: {
            type: ResponseFormatType.JSON_SCHEMA,
            schemaName: format.json_schema.name,
            strict: format.json_schema.strict === true,
            ...(format.json_schema.schema ? { schema: format.json_schema.schema as JsonObject } : {}),
          },
        }
      : {}),
    endUserId: body.user ?? "",
    metadata: body.metadata ?? {},
  });
  return toGenerationRequest(wire);
}

const MODE = {
  auto: ToolChoiceMode.AUTO,
  none: ToolChoiceMode.NONE,
  required: ToolChoiceMode.REQUIRED,
} as const;
