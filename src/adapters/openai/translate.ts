import type { AdapterEvent, FinishReason, GenerateInput, GenerateOutput, ToolCall } from "../adapter.ts";
import { toWireMessages } from "./content.ts";
import { type MaxTokensField, maxTokensFieldFor, type QuirkProfile } from "./quirks.ts";
import { writeRequestOptions } from "./request-options.ts";
import {
  logprobsOf,
  reasoningBlocksOf,
  reasoningFieldOf,
  serviceTierOf,
  splitContent,
  usageOf,
  type WireContent,
  type WireLogprobs,
  type WireReasoningFields,
  type WireUsage,
} from "./response.ts";
import { alnum9ToolIds } from "./tool-ids.ts";

/** Wire shapes of OpenAI's Chat Completions API, as much as we read. */
type WireToolCall = {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
};
type WireMessage = WireReasoningFields & { content?: WireContent; tool_calls?: WireToolCall[] | null };
type WireChoice = {
  message?: WireMessage;
  delta?: WireMessage;
  finish_reason?: string | null;
  logprobs?: WireLogprobs;
};
export type WireCompletion = {
  model?: string;
  choices?: WireChoice[];
  usage?: WireUsage | null;
  service_tier?: string | null;
};

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
    messages: toWireMessages(input.messages, profile, toolId),
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
  writeRequestOptions(body, input, profile);
  if (stream) {
    body.stream = true;
    if (profile.streamUsageOption) body.stream_options = { include_usage: true };
  }
  return body;
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

export function fromCompletion(
  wire: WireCompletion,
  requestedModel: string,
  profile: QuirkProfile,
): GenerateOutput {
  const choice = wire.choices?.[0];
  const message = choice?.message;
  const toolCalls: ToolCall[] = (message?.tool_calls ?? []).map((c) => ({
    id: c.id ?? "",
    name: c.function?.name ?? "",
    arguments: c.function?.arguments ?? "",
  }));
  const usage = usageOf(wire.usage);
  const { text, thinking } = splitContent(message?.content);
  const reasoning = reasoningBlocksOf(message, thinking, profile.reasoningProvider);
  const logprobs = logprobsOf(choice?.logprobs);
  const serviceTier = serviceTierOf(wire.service_tier, wire.usage?.service_tier);
  return {
    text,
    toolCalls,
    finishReason: finishReasonOf(choice?.finish_reason),
    model: wire.model ?? requestedModel,
    ...(usage ? { usage } : {}),
    ...(reasoning.length > 0 ? { reasoning } : {}),
    ...(logprobs ? { logprobs } : {}),
    ...(serviceTier ? { serviceTier } : {}),
  };
}

/**
 * Events of one `chat.completion.chunk`. Reasoning is one block (index 0) per answer: a reasoning field
 * (vLLM, Ollama, llama-server) or Mistral `thinking` chunks, in `profile.reasoningProvider`'s name.
 */
export function* eventsOfChunk(chunk: WireCompletion, profile: QuirkProfile): Generator<AdapterEvent> {
  const provider = profile.reasoningProvider;
  for (const choice of chunk.choices ?? []) {
    const delta = choice.delta;
    const reasoningText = reasoningFieldOf(delta);
    if (reasoningText !== undefined) yield { type: "reasoning", index: 0, provider, text: reasoningText };
    const { text, thinking } = splitContent(delta?.content);
    for (const piece of thinking) {
      yield {
        type: "reasoning",
        index: 0,
        provider,
        ...(piece.text ? { text: piece.text } : {}),
        ...(piece.signature !== undefined ? { signature: piece.signature } : {}),
      };
    }
    if (text) {
      const logprobs = logprobsOf(choice.logprobs);
      yield { type: "text", text, ...(logprobs ? { logprobs } : {}) };
    }
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
      const serviceTier = serviceTierOf(chunk.service_tier, chunk.usage?.service_tier);
      yield {
        type: "finish",
        reason: finishReasonOf(choice.finish_reason),
        ...modelOf(chunk),
        ...(serviceTier ? { serviceTier } : {}),
      };
    }
  }
  const usage = usageOf(chunk.usage);
  if (usage) yield { type: "usage", usage };
}

function modelOf(chunk: WireCompletion): { model?: string } {
  return chunk.model ? { model: chunk.model } : {};
}
