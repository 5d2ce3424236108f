import { UpstreamError } from "../../errors/upstream-error.ts";
import type { ChatMessage, GenerateInput, ServiceTier } from "../adapter.ts";
import { modelParts } from "./model-turn.ts";
import { mediaPart, toWirePart } from "./parts.ts";
import { thinkingConfig } from "./thinking.ts";

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

/**
 * GenerateInput → GenerateContentRequest. Fields with no Gemini counterpart are left out, each
 * harmless: cache breakpoints and promptCacheKey (Gemini caches repeated prefixes implicitly),
 * endUserId and providerMetadata (generateContent stores neither), parallelToolCalls (Gemini has
 * no switch; the model may still return several calls, which callers handle anyway).
 */
export function toGenerateRequest(input: GenerateInput): Json {
  const body: Json = {};
  const system = input.messages.filter((m) => m.role === "system").flatMap(userParts);
  body.contents = toContents(input.messages);
  if (system.length > 0) body.systemInstruction = { parts: system };
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
  const tier = wireServiceTier(input.serviceTier);
  if (tier !== undefined) body.serviceTier = tier;
  return body;
}

/** Gemini's tiers (a top-level request field, spelled as @google/genai sends it); "auto" = the default. */
function wireServiceTier(tier: ServiceTier | undefined): string | undefined {
  if (tier === "flex" || tier === "priority") return tier;
  if (tier === "default") return "standard";
  return undefined;
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
  if (input.logprobs !== undefined) {
    config.responseLogprobs = true;
    if (input.logprobs.top > 0) config.logprobs = input.logprobs.top;
  }
  const thinking = thinkingConfig(input);
  if (thinking) config.thinkingConfig = thinking;
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
      const part = { functionResponse: toolResult(m, toolNameOf(messages, i)) };
      if (toolTurn) toolTurn.parts.push(part);
      else {
        toolTurn = { role: "user", parts: [part] };
        contents.push(toolTurn);
      }
      return;
    }
    toolTurn = undefined;
    if (m.role === "user") {
      const parts = userParts(m);
      if (parts.length > 0) contents.push({ role: "user", parts });
    }
    if (m.role === "assistant") {
      const parts = modelParts(m);
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

/** A user or system message's parts; plain text stays one text part (empty text only for a user turn). */
function userParts(m: ChatMessage): Json[] {
  if (m.parts === undefined) return m.role === "system" && m.content === "" ? [] : [{ text: m.content }];
  return m.parts.flatMap((p): Json[] => {
    const wire = toWirePart(p);
    return wire ? [wire] : [];
  });
}

/**
 * A tool result: its text as `response`, its images as functionResponse.parts (inline bytes or a
 * file URI), where Gemini takes media returned by a function.
 */
function toolResult(m: ChatMessage, name: string): Json {
  const result: Json = { name, response: toolResponse(m.content) };
  const media = (m.parts ?? []).flatMap((p) =>
    p.type === "image" ? [mediaPart(p.source, "image/jpeg")] : [],
  );
  if (media.length > 0) result.parts = media;
  return result;
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

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
