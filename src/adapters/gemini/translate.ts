import { UpstreamError } from "../../errors/upstream-error.ts";
import type {
  ChatMessage,
  FinishReason,
  GenerateInput,
  GenerateOutput,
  TokenUsage,
  ToolCall,
} from "../adapter.ts";

/** Wire shapes of the Gemini API (v1beta GenerateContentResponse), as much as we read. */
export type WirePart = {
  text?: string;
  /** A thought summary (only with includeThoughts): never part of the answer. */
  thought?: boolean;
  functionCall?: { name?: string; args?: Record<string, unknown> | null };
};
export type WireCandidate = {
  content?: { role?: string; parts?: WirePart[] };
  finishReason?: string;
};
export type WireUsage = {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  cachedContentTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
};
export type WireResponse = {
  candidates?: WireCandidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: WireUsage;
  modelVersion?: string;
  responseId?: string;
};

type Json = Record<string, unknown>;

/**
 * The resource path of a model: "gemini-2.5-flash" and "models/gemini-2.5-flash" both give
 * "/models/gemini-2.5-flash"; "tunedModels/x" stays a tuned model. Segments are URL-encoded.
 */
export function modelPath(model: string): string {
  const resource =
    model.startsWith("models/") || model.startsWith("tunedModels/") ? model : `models/${model}`;
  return `/${resource.split("/").map(encodeURIComponent).join("/")}`;
}

/** `{model}` as the `model` field of a batchEmbedContents sub-request wants it. */
export function modelName(model: string): string {
  return modelPath(model).slice(1);
}

/** Gemini has no tool-call ids: we number the calls of one response and map them back by position. */
export function toolCallId(index: number): string {
  return `call_${index}`;
}

export function toGenerateRequest(input: GenerateInput): Json {
  const body: Json = {};
  const system = input.messages.filter((m) => m.role === "system" && m.content !== "");
  body.contents = toContents(input.messages);
  if (system.length > 0) body.systemInstruction = { parts: system.map((m) => ({ text: m.content })) };
  const generationConfig = toGenerationConfig(input);
  if (input.tools.length > 0) {
    body.tools = [
      {
        functionDeclarations: input.tools.map((t) => ({
          name: t.name,
          ...(t.description ? { description: t.description } : {}),
          // parametersJsonSchema takes JSON Schema as clients write it; the older `parameters` field is an
          // OpenAPI subset that rejects common keys such as additionalProperties or $schema.
          ...(t.parameters ? { parametersJsonSchema: t.parameters } : {}),
        })),
      },
    ];
    if (input.toolChoice !== undefined) body.toolConfig = { functionCallingConfig: toCallingConfig(input) };
  }
  if (Object.keys(generationConfig).length > 0) body.generationConfig = generationConfig;
  return body;
}

function toCallingConfig(input: GenerateInput): Json {
  const choice = input.toolChoice;
  if (choice === undefined) return {};
  if ("function" in choice) return { mode: "ANY", allowedFunctionNames: [choice.function] };
  return { mode: choice.mode === "required" ? "ANY" : choice.mode === "none" ? "NONE" : "AUTO" };
}

function toGenerationConfig(input: GenerateInput): Json {
  const config: Json = {};
  const s = input.sampling;
  if (s.maxOutputTokens !== undefined) config.maxOutputTokens = s.maxOutputTokens;
  if (s.temperature !== undefined) config.temperature = s.temperature;
  if (s.topP !== undefined) config.topP = s.topP;
  if (s.stop !== undefined && s.stop.length > 0) config.stopSequences = s.stop;
  if (s.seed !== undefined) config.seed = s.seed;
  const format = input.responseFormat;
  if (format?.type === "json_object" || format?.type === "json_schema") {
    config.responseMimeType = "application/json";
  }
  // responseJsonSchema accepts full JSON Schema; responseSchema is the narrower OpenAPI subset.
  if (format?.type === "json_schema") config.responseJsonSchema = format.schema;
  return config;
}

type WireContent = { role: "user" | "model"; parts: Json[] };

function toContents(messages: ChatMessage[]): WireContent[] {
  const contents: WireContent[] = [];
  // Consecutive tool results share one user turn: Gemini wants as many functionResponse parts in
  // it as the model turn before had functionCall parts.
  let toolTurn: WireContent | undefined;
  messages.forEach((m, i) => {
    if (m.role === "tool") {
      const part = { functionResponse: { name: toolNameOf(messages, i), response: toolResponse(m.content) } };
      if (toolTurn) toolTurn.parts.push(part);
      else {
        toolTurn = { role: "user", parts: [part] };
        contents.push(toolTurn);
      }
      return;
    }
    toolTurn = undefined;
    if (m.role === "user") contents.push({ role: "user", parts: [{ text: m.content }] });
    if (m.role === "assistant") {
      const parts: Json[] = m.content === "" ? [] : [{ text: m.content }];
      for (const call of m.toolCalls ?? []) {
        parts.push({ functionCall: { name: call.name, args: argumentsObject(call.arguments) } });
      }
      if (parts.length > 0) contents.push({ role: "model", parts }); // an empty turn would be rejected
    }
  });
  return contents;
}

/** The function name of a tool result: from the nearest earlier assistant call with its id. */
function toolNameOf(messages: ChatMessage[], index: number): string {
  const message = messages[index];
  const id = message?.toolCallId;
  if (id !== undefined) {
    for (let i = index - 1; i >= 0; i--) {
      const call = messages[i]?.toolCalls?.find((c) => c.id === id);
      if (call) return call.name;
    }
  }
  if (message?.name) return message.name;
  throw new UpstreamError("bad_request", "a tool result refers to no earlier tool call of the conversation");
}

/** functionResponse.response must be an object: a JSON object result as is, anything else as `output`. */
function toolResponse(content: string): Json {
  try {
    const parsed: unknown = JSON.parse(content);
    if (isObject(parsed)) return parsed;
    return { output: parsed };
  } catch {
    return { output: content };
  }
}

function argumentsObject(args: string): Json {
  if (args.trim() === "") return {};
  try {
    const parsed: unknown = JSON.parse(args);
    if (isObject(parsed)) return parsed;
  } catch {
    // reported below
  }
  throw new UpstreamError("bad_request", "an assistant tool call's arguments are not a JSON object");
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const FILTERED = new Set([
  "SAFETY",
  "RECITATION",
  "BLOCKLIST",
  "PROHIBITED_CONTENT",
  "SPII",
  "IMAGE_SAFETY",
  "IMAGE_PROHIBITED_CONTENT",
]);

export function finishReasonOf(reason: string | undefined, hasToolCalls: boolean): FinishReason {
  // Gemini says STOP after function calls; callers expect tool_calls.
  if (hasToolCalls) return "tool_calls";
  if (reason === "STOP") return "stop";
  if (reason === "MAX_TOKENS") return "length";
  if (reason !== undefined && FILTERED.has(reason)) return "content_filter";
  return "other";
}

export function usageOf(usage: WireUsage | undefined): TokenUsage | undefined {
  if (!usage || typeof usage.promptTokenCount !== "number") return undefined;
  return {
    // Tool-use prompt tokens (built-in tools' results fed back) are billed as input.
    inputTokens: usage.promptTokenCount + (usage.toolUsePromptTokenCount ?? 0),
    // Thinking tokens are billed as output.
    outputTokens: (usage.candidatesTokenCount ?? 0) + (usage.thoughtsTokenCount ?? 0),
    cachedInputTokens: usage.cachedContentTokenCount ?? 0,
  };
}

/** Text and function calls of a candidate's parts; thought summaries are left out. */
export function partsOf(candidate: WireCandidate | undefined): {
  text: string;
  calls: { name: string; arguments: string }[];
} {
  let text = "";
  const calls: { name: string; arguments: string }[] = [];
  for (const part of candidate?.content?.parts ?? []) {
    if (typeof part.text === "string" && part.thought !== true) text += part.text;
    if (part.functionCall) {
      calls.push({
        name: part.functionCall.name ?? "",
        arguments: JSON.stringify(part.functionCall.args ?? {}),
      });
    }
  }
  return { text, calls };
}

export function fromResponse(backend: string, wire: WireResponse, requestedModel: string): GenerateOutput {
  const candidate = wire.candidates?.[0];
  const blocked = wire.promptFeedback?.blockReason;
  if (candidate === undefined && blocked === undefined) {
    throw new UpstreamError("protocol", `${backend} answered without a candidate`);
  }
  const { text, calls } = partsOf(candidate);
  const toolCalls: ToolCall[] = calls.map((c, i) => ({ id: toolCallId(i), ...c }));
  const usage = usageOf(wire.usageMetadata);
  return {
    text,
    toolCalls,
    // A blocked prompt has no candidate, only promptFeedback.blockReason.
    finishReason: candidate ? finishReasonOf(candidate.finishReason, calls.length > 0) : "content_filter",
    model: wire.modelVersion ?? requestedModel,
    ...(usage ? { usage } : {}),
  };
}
