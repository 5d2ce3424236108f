import type { JsonObject } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type Message,
  ResponseFormatType,
  ResponseFormatTypeSchema,
  Role,
  type SamplingParams,
  type Tool,
  type ToolChoice,
  ToolChoiceMode,
  ToolChoiceModeSchema,
  type ResponseFormat as WireResponseFormat,
} from "../../gen/switchyard/v1/generation_pb.ts";
import type { EmbedRequest, GenerateRequest } from "../../gen/switchyard/v1/inference_service_pb.ts";
import type {
  ChatMessage,
  ContentPart,
  ToolChoice as InternalToolChoice,
  ResponseFormat,
  Sampling,
  ToolSpec,
} from "../adapters/adapter.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import type { EmbeddingRequest, GenerationRequest } from "../pipeline/pipeline.ts";
import {
  DEFAULT_MEDIA_LIMITS,
  type MediaLimits,
  type MediaTally,
  toCache,
  toContentPart,
} from "./content-parts.ts";
import { requireKnown } from "./enum-check.ts";
import { boundedField, MAX_END_USER, toGenerationOptions } from "./generation-options.ts";

export { requireKnown };

/** GenerateRequest and GenerateStreamRequest share every field. */
export type GenerationFields = Omit<GenerateRequest, "$typeName" | "$unknown">;

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_EMBED_INPUTS = 2048;
/**
 * Twice the widest embedding models served today (4096): a caller's number must not size what the
 * gateway (the echo backend) or an upstream allocates — 2^32-1 would be 16 GiB per input.
 */
const MAX_EMBED_DIMENSIONS = 8192;

const invalid = (message: string) => new GatewayError("invalid_argument", message);

/** Checks a generation request and turns it into the pipeline's protocol-neutral form. */
export function toGenerationRequest(
  req: GenerationFields,
  media: MediaLimits = DEFAULT_MEDIA_LIMITS,
): GenerationRequest {
  requireWorkload(req.workload);
  if (req.messages.length === 0) {
    throw new GatewayError(
      "empty_messages",
      "messages is empty: send at least one message, e.g. a ROLE_USER turn",
    );
  }
  const tools = req.tools.map(toToolSpec);
  const toolChoice = toToolChoice(req.toolChoice, tools);
  const responseFormat = toResponseFormat(req.responseFormat);
  const tally: MediaTally = { bytes: 0, parts: 0 };
  return {
    requestedModel: req.model,
    messages: req.messages.map((m, i) => toChatMessage(m, i, media, tally)),
    tools,
    sampling: toSampling(req.sampling),
    metadata: { ...req.metadata },
    ...(toolChoice ? { toolChoice } : {}),
    ...(responseFormat ? { responseFormat } : {}),
    ...(req.endUserId ? { endUserId: boundedField(req.endUserId, "end_user_id", MAX_END_USER) } : {}),
    ...toGenerationOptions(req, tools.length > 0),
  };
}

export function toEmbeddingRequest(req: EmbedRequest): EmbeddingRequest {
  requireWorkload(req.workload);
  if (req.inputs.length === 0)
    throw new GatewayError("empty_inputs", "inputs is empty: send at least one text");
  if (req.inputs.length > MAX_EMBED_INPUTS) {
    throw invalid(`inputs has ${req.inputs.length} texts; at most ${MAX_EMBED_INPUTS} per call`);
  }
  const empty = req.inputs.indexOf("");
  if (empty !== -1) throw invalid(`inputs[${empty}] is empty: every input needs text`);
  if (req.dimensions !== undefined && (req.dimensions < 1 || req.dimensions > MAX_EMBED_DIMENSIONS))
    throw invalid(`dimensions must be between 1 and ${MAX_EMBED_DIMENSIONS}`);
  return {
    requestedModel: req.model,
    inputs: req.inputs,
    metadata: { ...req.metadata },
    ...(req.dimensions !== undefined ? { dimensions: req.dimensions } : {}),
  };
}

export function requireWorkload(workload: string): void {
  if (workload === "") {
    throw new GatewayError(
      "missing_workload",
      "workload is required: set it to a workload tag (see ListModels)",
    );
  }
}

const ROLES: Record<number, ChatMessage["role"]> = {
  [Role.SYSTEM]: "system",
  [Role.USER]: "user",
  [Role.ASSISTANT]: "assistant",
  [Role.TOOL]: "tool",
};

function toChatMessage(m: Message, i: number, media: MediaLimits, tally: MediaTally): ChatMessage {
  const role = ROLES[m.role];
  if (!role)
    throw invalid(`messages[${i}].role: set a role (ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT or ROLE_TOOL)`);
  let content = "";
  const parts: ContentPart[] = [];
  let plain = true;
  m.content.forEach((wire, j) => {
    const part = toContentPart(wire, role, `messages[${i}].content[${j}]`, media, tally);
    if (part.type === "text") content += part.text;
    if (part.type !== "text" || part.cache) plain = false;
    parts.push(part);
  });
  if (role === "tool" && m.toolCallId === "") {
    throw invalid(`messages[${i}].tool_call_id: a ROLE_TOOL message must name the call it answers`);
  }
  if (content === "" && plain && m.toolCalls.length === 0) {
    throw invalid(
      `messages[${i}].content: message has no content${role === "assistant" ? " and no tool calls" : ""}`,
    );
  }
  const out: ChatMessage = { role, content };
  // Text-only messages carry no parts array: the common case builds nothing extra (adapter.ts).
  if (!plain) out.parts = parts;
  const cache = toCache(m.cacheControl, `messages[${i}].cache_control`);
  if (cache) out.cache = cache;
  if (m.toolCalls.length > 0)
    out.toolCalls = m.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }));
  if (m.toolCallId) out.toolCallId = m.toolCallId;
  if (m.name) out.name = m.name;
  return out;
}

function toToolSpec(t: Tool, i: number): ToolSpec {
  if (!TOOL_NAME.test(t.name)) throw invalid(`tools[${i}].name: use 1-64 letters, digits, '_' or '-'`);
  const out: ToolSpec = { name: t.name };
  if (t.description) out.description = t.description;
  if (t.parameters) out.parameters = t.parameters as JsonObject;
  if (t.strict) out.strict = true;
  const cache = toCache(t.cacheControl, `tools[${i}].cache_control`);
  if (cache) out.cache = cache;
  return out;
}

function toToolChoice(choice: ToolChoice | undefined, tools: ToolSpec[]): InternalToolChoice | undefined {
  const c = choice?.choice;
  if (!c || c.case === undefined) return undefined;
  if (c.case === "functionName") {
    if (!tools.some((t) => t.name === c.value)) {
      throw invalid(`tool_choice.function_name: "${c.value}" is not one of the request's tools`);
    }
    return { function: c.value };
  }
  requireKnown(ToolChoiceModeSchema, c.value, "tool_choice.mode");
  switch (c.value) {
    case ToolChoiceMode.AUTO:
      return { mode: "auto" };
    case ToolChoiceMode.NONE:
      return { mode: "none" };
    case ToolChoiceMode.REQUIRED:
      if (tools.length === 0)
        throw invalid("tool_choice.mode: TOOL_CHOICE_MODE_REQUIRED needs at least one tool");
      return { mode: "required" };
    default:
      return undefined;
  }
}

function toSampling(s: SamplingParams | undefined): Sampling {
  const out: Sampling = {};
  if (!s) return out;
  if (s.maxOutputTokens !== undefined) {
    if (s.maxOutputTokens < 1) throw invalid("sampling.max_output_tokens must be at least 1");
    out.maxOutputTokens = s.maxOutputTokens;
  }
  if (s.temperature !== undefined) {
    if (!(s.temperature >= 0 && s.temperature <= 2))
      throw invalid("sampling.temperature must be between 0 and 2");
    out.temperature = s.temperature;
  }
  if (s.topP !== undefined) {
    if (!(s.topP > 0 && s.topP <= 1)) throw invalid("sampling.top_p must be greater than 0 and at most 1");
    out.topP = s.topP;
  }
  if (s.stop.length > 4) throw invalid("sampling.stop: at most 4 stop sequences");
  if (s.stop.some((x) => x === "")) throw invalid("sampling.stop: stop sequences must not be empty");
  if (s.stop.length > 0) out.stop = [...s.stop];
  if (s.seed !== undefined) out.seed = Number(s.seed);
  return out;
}

function toResponseFormat(f: WireResponseFormat | undefined): ResponseFormat | undefined {
  if (f) requireKnown(ResponseFormatTypeSchema, f.type, "response_format.type");
  switch (f?.type) {
    case ResponseFormatType.JSON_OBJECT:
      return { type: "json_object" };
    case ResponseFormatType.JSON_SCHEMA:
      if (!f.schema) throw invalid("response_format.schema: RESPONSE_FORMAT_TYPE_JSON_SCHEMA needs a schema");
      if (!TOOL_NAME.test(f.schemaName)) {
        throw invalid("response_format.schema_name: use 1-64 letters, digits, '_' or '-'");
      }
      return { type: "json_schema", name: f.schemaName, schema: f.schema as JsonObject, strict: f.strict };
    default:
      return undefined;
  }
}

// google.protobuf.Timestamp's documented range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

/**
 * A Timestamp from a request as a Date. The binary wire carries any int64 seconds and int32 nanos;
 * outside the range the type allows (and Date can hold), refused as the caller's bad input.
 */
export function timestampToDate(ts: Timestamp, field: string): Date {
  if (ts.seconds < MIN_SECONDS || ts.seconds > MAX_SECONDS)
    throw invalid(`${field}: seconds ${ts.seconds} is outside years 0001-9999`);
  if (ts.nanos < 0 || ts.nanos > 999_999_999)
    throw invalid(`${field}: nanos ${ts.nanos} must be between 0 and 999999999`);
  return timestampDate(ts);
}

/** The longest key name or team a key record takes, and the most workloads or models it lists. */
const MAX_KEY_FIELD = 128;
const MAX_KEY_LIST = 256;

/**
 * A CreateKey request's own strings, bounded: a key record is listed, audited and logged by name, so a
 * 256 KB name would be repeated everywhere (the audit row is cut, the store would keep it whole).
 */
export function checkKeyFields(req: {
  name: string;
  team: string;
  workloads: string[];
  models: string[];
}): void {
  for (const [field, value] of [
    ["name", req.name],
    ["team", req.team],
  ] as const) {
    if (value.length > MAX_KEY_FIELD)
      throw invalid(`${field} is ${value.length} characters long: at most ${MAX_KEY_FIELD}`);
  }
  for (const [field, list] of [
    ["workloads", req.workloads],
    ["models", req.models],
  ] as const) {
    if (list.length > MAX_KEY_LIST)
      throw invalid(`${field} lists ${list.length} names: at most ${MAX_KEY_LIST}`);
    const long = list.findIndex((name) => name.length > MAX_KEY_FIELD);
    if (long >= 0) throw invalid(`${field}[${long}] is longer than ${MAX_KEY_FIELD} characters`);
  }
}
