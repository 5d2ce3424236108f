import type { JsonObject } from "@bufbuild/protobuf";
import {
  type Message,
  ResponseFormatType,
  Role,
  type SamplingParams,
  type Tool,
  type ToolChoice,
  ToolChoiceMode,
  type ResponseFormat as WireResponseFormat,
} from "../../gen/switchyard/v1/generation_pb.ts";
import type { EmbedRequest, GenerateRequest } from "../../gen/switchyard/v1/inference_service_pb.ts";
import type {
  ChatMessage,
  ToolChoice as InternalToolChoice,
  ResponseFormat,
  Sampling,
  ToolSpec,
} from "../adapters/adapter.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import type { EmbeddingRequest, GenerationRequest } from "../pipeline/pipeline.ts";

/** GenerateRequest and GenerateStreamRequest share every field. */
export type GenerationFields = Omit<GenerateRequest, "$typeName" | "$unknown">;

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_EMBED_INPUTS = 2048;

const invalid = (message: string) => new GatewayError("invalid_argument", message);

/** Checks a generation request and turns it into the pipeline's protocol-neutral form. */
export function toGenerationRequest(req: GenerationFields): GenerationRequest {
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
  return {
    requestedModel: req.model,
    messages: req.messages.map(toChatMessage),
    tools,
    sampling: toSampling(req.sampling),
    metadata: { ...req.metadata },
    ...(toolChoice ? { toolChoice } : {}),
    ...(responseFormat ? { responseFormat } : {}),
    ...(req.endUserId ? { endUserId: req.endUserId } : {}),
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
  if (req.dimensions !== undefined && req.dimensions < 1) throw invalid("dimensions must be at least 1");
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

function toChatMessage(m: Message, i: number): ChatMessage {
  const role = ROLES[m.role];
  if (!role)
    throw invalid(`messages[${i}].role: set a role (ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT or ROLE_TOOL)`);
  let content = "";
  m.content.forEach((part, j) => {
    if (part.part.case !== "text")
      throw invalid(`messages[${i}].content[${j}]: empty content part; set text`);
    content += part.part.value;
  });
  if (role === "tool" && m.toolCallId === "") {
    throw invalid(`messages[${i}].tool_call_id: a ROLE_TOOL message must name the call it answers`);
  }
  if (content === "" && m.toolCalls.length === 0) {
    throw invalid(
      `messages[${i}].content: message has no text${role === "assistant" ? " and no tool calls" : ""}`,
    );
  }
  const out: ChatMessage = { role, content };
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
