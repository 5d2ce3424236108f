import { create, type JsonObject } from "@bufbuild/protobuf";
import { z } from "zod";
import { ResponseFormatType, Role, ToolChoiceMode } from "../../../gen/switchyard/v1/generation_pb.ts";
import {
  type GenerateRequest,
  GenerateRequestSchema,
} from "../../../gen/switchyard/v1/inference_service_pb.ts";
import { toGenerationRequest } from "../../api/validate.ts";
import { GatewayError } from "../../errors/gateway-error.ts";
import type { GenerationRequest } from "../../pipeline/pipeline.ts";
import { toWireParts, type WirePart } from "./content-parts.ts";
import { invalidParam } from "./errors.ts";
import type { ResolvedModel } from "./model-mapping.ts";
import {
  checkMetadata,
  MAX_TOP_LOGPROBS,
  REASONING_EFFORTS,
  reasoningOf,
  serviceTierOf,
} from "./request-options.ts";
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
 * (`n`, penalties…) or ignored when they cannot change the output (`store`).
 * See docs/openai-facade.md and docs/api-openai-facade.md.
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
  safety_identifier: opt(z.string()),
  metadata: opt(z.record(z.string(), z.string())),
  stream: opt(z.boolean()),
  stream_options: opt(z.object({ include_usage: opt(z.boolean()), include_obfuscation: opt(z.boolean()) })),
  reasoning_effort: opt(
    z.enum(REASONING_EFFORTS, {
      error: `expected one of ${REASONING_EFFORTS.map((e) => `"${e}"`).join(", ")}`,
    }),
  ),
  /** Switchyard's extension: return reasoning text as `reasoning_content` (OpenAI's chat API has none). */
  include_reasoning: opt(z.boolean()),
  parallel_tool_calls: opt(z.boolean()),
  prompt_cache_key: opt(z.string()),
  service_tier: opt(z.string()),
  logprobs: opt(z.boolean()),
  top_logprobs: opt(z.int().min(0).max(MAX_TOP_LOGPROBS)),
  // Accepted only at their defaults: anything else would silently change the answer.
  n: opt(z.literal(1, { error: "only n = 1 is supported (one choice per request)" })),
  frequency_penalty: opt(z.literal(0, { error: "frequency_penalty is not supported (only 0)" })),
  presence_penalty: opt(z.literal(0, { error: "presence_penalty is not supported (only 0)" })),
  logit_bias: opt(
    z
      .record(z.string(), z.number())
      .refine((v) => Object.keys(v).length === 0, "logit_bias is not supported"),
  ),
  modalities: opt(z.array(z.literal("text", { error: "only text output is supported" }))),
  // Accepted and ignored: they do not change the answer.
  store: opt(z.boolean()),
});

/** A valid body, with each message's content already converted (media decoded once). */
export type ChatBody = ChatFields & { readonly contentParts: readonly WirePart[][] };
type ChatFields = z.output<typeof chatBodySchema>;
type ChatMessage = ChatFields["messages"][number];

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
  const contentParts = body.messages.map(checkMessage);
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
  if (body.top_logprobs != null && body.logprobs !== true) {
    throw invalidParam("top_logprobs", "needs logprobs: true");
  }
  serviceTierOf(body.service_tier);
  reasoningOf(body.reasoning_effort, body.include_reasoning === true);
  checkMetadata(body.metadata);
  return { ...body, contentParts };
}

/** Whether reasoning text goes back to the caller (as `reasoning_content`). */
export function wantsReasoningText(body: ChatBody): boolean {
  return body.include_reasoning === true;
}

function checkMessage(m: ChatMessage, i: number): WirePart[] {
  const parts = toWireParts(m.role, m.content, i);
  if (m.role === "tool" && !m.tool_call_id) {
    throw invalidParam(`messages[${i}].tool_call_id`, "a tool message must name the call it answers");
  }
  const hasContent = parts.some((p) => p.part?.case !== "text" || p.part.value !== "");
  if (!hasContent && (m.tool_calls ?? []).length === 0) {
    throw invalidParam(
      `messages[${i}].content`,
      `message has no content${m.role === "assistant" ? " and no tool calls" : ""}`,
    );
  }
  return parts;
}

function maxTokens(body: ChatFields): { value: number; param: string } | undefined {
  if (body.max_completion_tokens != null)
    return { value: body.max_completion_tokens, param: "max_completion_tokens" };
  if (body.max_tokens != null) return { value: body.max_tokens, param: "max_tokens" };
  return undefined;
}

function stopOf(body: ChatFields): string[] {
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
  return toGenerationRequest(toWireRequest(body, target));
}

/** The body as the gRPC API's GenerateRequest: what a gRPC client would send for the same call. */
export function toWireRequest(body: ChatBody, target: ResolvedModel): GenerateRequest {
  const tools = body.tools ?? [];
  const max = maxTokens(body);
  const choice = body.tool_choice;
  const format = body.response_format;
  const reasoning = reasoningOf(body.reasoning_effort, wantsReasoningText(body));
  return create(GenerateRequestSchema, {
    workload: target.workload,
    model: target.requestedModel,
    messages: body.messages.map((m, i) => ({
      role: ROLE[m.role],
      content: body.contentParts[i] ?? [],
      toolCalls: (m.tool_calls ?? []).map((c) => ({
        id: c.id,
        name: c.function.name,
        arguments: c.function.arguments,
      })),
      toolCallId: m.tool_call_id ?? "",
      name: m.name ?? "",
    })),
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
      stop: stopOf(body),
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
    // safety_identifier replaces user at OpenAI; either names the end user, the newer one wins.
    endUserId: body.safety_identifier ?? body.user ?? "",
    // OpenAI's metadata is stored with the request at the provider; routing rules may match it too.
    metadata: body.metadata ?? {},
    providerMetadata: body.metadata ?? {},
    ...(reasoning ? { reasoning } : {}),
    promptCacheKey: body.prompt_cache_key ?? "",
    ...(body.parallel_tool_calls != null ? { parallelToolCalls: body.parallel_tool_calls } : {}),
    logprobs: body.logprobs === true,
    topLogprobs: body.top_logprobs ?? 0,
    serviceTier: serviceTierOf(body.service_tier),
  });
}

const MODE = {
  auto: ToolChoiceMode.AUTO,
  none: ToolChoiceMode.NONE,
  required: ToolChoiceMode.REQUIRED,
} as const;
