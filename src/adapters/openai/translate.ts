import type {
  AdapterEvent,
  ChatMessage,
  FinishReason,
  GenerateInput,
  GenerateOutput,
  TokenUsage,
  ToolCall,
} from "../adapter.ts";
import { type MaxTokensField, maxTokensFieldFor, type QuirkProfile } from "./quirks.ts";
import { alnum9ToolIds } from "./tool-ids.ts";

/** Wire shapes of OpenAI's Chat Completions API, as much as we read. */
type WireToolCall = {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
};
type WireUsage = {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
};
type WireChoice = {
  message?: { content?: string | null; tool_calls?: WireToolCall[] | null };
  delta?: { content?: string | null; tool_calls?: WireToolCall[] | null };
  finish_reason?: string | null;
};
export type WireCompletion = { model?: string; choices?: WireChoice[]; usage?: WireUsage | null };

export type ChatRequestOptions = {
  profile: QuirkProfile;
  /** The backend's configured output-cap field; the profile's default applies when absent. */
  maxTokensField?: MaxTokensField | undefined;
};

/** The Chat Completions request body, shaped by the server's quirk profile. */
export function toChatRequest(input: GenerateInput, stream: boolean, options: ChatRequestOptions) {
  const { profile } = options;
  const toolId = profile.toolCallIds === "alnum9" ? alnum9ToolIds(input.messages) : (id: string) => id;
  const body: Record<string, unknown> = {
    model: input.model,
    messages: input.messages.map((m) => toWireMessage(m, profile, toolId)),
  };
  const s = input.sampling;
  if (s.maxOutputTokens !== undefined) {
    body[maxTokensFieldFor(profile, options.maxTokensField, input.model)] = s.maxOutputTokens;
  }
  if (s.temperature !== undefined) body.temperature = s.temperature;
  if (s.topP !== undefined) body.top_p = s.topP;
  if (s.stop !== undefined && s.stop.length > 0) body.stop = s.stop;
  if (s.seed !== undefined) body[profile.seedField] = s.seed;
  if (input.tools.length > 0) {
    body.tools = input.tools.map((t) => ({
      type: "function",
      function: {
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        parameters: t.parameters ?? { type: "object", properties: {} },
        ...(t.strict ? { strict: true } : {}),
      },
    }));
  }
  const choice = input.toolChoice;
  if (choice !== undefined) {
    if (!("mode" in choice)) body.tool_choice = { type: "function", function: { name: choice.function } };
    else body.tool_choice = choice.mode === "required" ? profile.toolChoiceRequired : choice.mode;
  }
  const format = input.responseFormat;
  if (format?.type === "json_object") body.response_format = { type: "json_object" };
  if (format?.type === "json_schema") {
    body.response_format = {
      type: "json_schema",
      json_schema: { name: format.name, schema: format.schema, strict: format.strict },
    };
  }
  if (input.endUserId && profile.sendUser) body.user = input.endUserId;
  if (stream) {
    body.stream = true;
    if (profile.streamUsageOption) body.stream_options = { include_usage: true };
  }
  return body;
}

function toWireMessage(
  m: ChatMessage,
  profile: QuirkProfile,
  toolId: (id: string) => string,
): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.role, content: m.content };
  if (m.name && (m.role === "tool" || profile.participantNames)) out.name = m.name;
  if (m.role === "tool" && m.toolCallId) out.tool_call_id = toolId(m.toolCallId);
  if (m.toolCalls && m.toolCalls.length > 0) {
    out.tool_calls = m.toolCalls.map((c) => ({
      id: toolId(c.id),
      type: "function",
      function: { name: c.name, arguments: c.arguments },
    }));
    if (m.content === "") out.content = null;
  }
  return out;
}

export function finishReasonOf(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case "stop":
      return "stop";
    case "length":
    case "model_length": // Mistral: the model's context is full
      return "length";
    case "tool_calls":
    case "function_call":
      return "tool_calls";
    case "content_filter":
      return "content_filter";
    default:
      return "other";
  }
}

export function usageOf(usage: WireUsage | null | undefined): TokenUsage | undefined {
  if (!usage || typeof usage.prompt_tokens !== "number") return undefined;
  return {
    inputTokens: usage.prompt_tokens,
    outputTokens: usage.completion_tokens ?? 0,
    cachedInputTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
  };
}

export function fromCompletion(wire: WireCompletion, requestedModel: string): GenerateOutput {
  const choice = wire.choices?.[0];
  const toolCalls: ToolCall[] = (choice?.message?.tool_calls ?? []).map((c) => ({
    id: c.id ?? "",
    name: c.function?.name ?? "",
    arguments: c.function?.arguments ?? "",
  }));
  const usage = usageOf(wire.usage);
  return {
    text: choice?.message?.content ?? "",
    toolCalls,
    finishReason: finishReasonOf(choice?.finish_reason),
    model: wire.model ?? requestedModel,
    ...(usage ? { usage } : {}),
  };
}

/** Events of one `chat.completion.chunk`. */
export function* eventsOfChunk(chunk: WireCompletion): Generator<AdapterEvent> {
  for (const choice of chunk.choices ?? []) {
    const delta = choice.delta;
    if (delta?.content) yield { type: "text", text: delta.content };
    for (const call of delta?.tool_calls ?? []) {
      yield {
        type: "tool_call",
        index: call.index ?? 0,
        ...(call.id ? { id: call.id } : {}),
        ...(call.function?.name ? { name: call.function.name } : {}),
        argumentsDelta: call.function?.arguments ?? "",
      };
    }
    if (choice.finish_reason) {
      yield { type: "finish", reason: finishReasonOf(choice.finish_reason), ...modelOf(chunk) };
    }
  }
  const usage = usageOf(chunk.usage);
  if (usage) yield { type: "usage", usage };
}

function modelOf(chunk: WireCompletion): { model?: string } {
  return chunk.model ? { model: chunk.model } : {};
}
