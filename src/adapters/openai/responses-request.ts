import type { ChatMessage, ContentPart, GenerateInput, ReasoningBlock } from "../adapter.ts";
import { refuseField } from "./content.ts";
import { maxTokensFieldFor, QUIRKS } from "./quirks.ts";
import { effortForBudget } from "./request-options.ts";

/**
 * Request bodies of OpenAI's Responses API (POST /responses), the `api: responses` mode of the OpenAI
 * backend. Unlike Chat Completions, it carries OpenAI's encrypted reasoning: reasoning items the model
 * produced are sent back unchanged before the assistant turn they belong to, so a multi-turn reasoning
 * conversation keeps its reasoning state without the provider storing anything.
 */

type WireItem = Record<string, unknown>;

const SERVICE_TIERS = { auto: "auto", default: "default", flex: "flex", priority: "priority" } as const;

function base64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
}

function dataUrl(mediaType: string, data: Uint8Array): string {
  return `data:${mediaType};base64,${base64(data)}`;
}

/** A reasoning block OpenAI can read back: one it produced, with its item id and encrypted state. */
function isReturnableReasoning(part: ContentPart): boolean {
  return (
    part.type === "reasoning" &&
    part.provider === "openai" &&
    part.id !== undefined &&
    part.encryptedContent !== undefined
  );
}

function reasoningItem(block: ReasoningBlock): WireItem {
  return {
    type: "reasoning",
    id: block.id,
    encrypted_content: block.encryptedContent,
    summary: block.text ? [{ type: "summary_text", text: block.text }] : [],
  };
}

/**
 * OpenAI's reasoning models reason whether asked or not; quirks.ts knows them by name (they are the ones
 * taking max_completion_tokens).
 */
function isReasoningModel(model: string): boolean {
  return maxTokensFieldFor(QUIRKS.openai, undefined, model) === "max_completion_tokens";
}

/** True when the request sends reasoning items back (their encrypted content must then be asked for again). */
function sendsReasoningBack(messages: readonly ChatMessage[]): boolean {
  return messages.some((m) => m.role === "assistant" && (m.parts ?? []).some(isReturnableReasoning));
}

/** An input content part of a user message or tool output; a part Responses cannot take is refused. */
function inputPart(part: ContentPart, m: ChatMessage, field: string): WireItem | undefined {
  switch (part.type) {
    case "text":
      return { type: "input_text", text: part.text };
    case "image": {
      if (m.role !== "user" && m.role !== "tool")
        refuseField(field, `an image cannot be sent in a ${m.role} message`);
      const url = "url" in part.source ? part.source.url : dataUrl(part.source.mediaType, part.source.data);
      // `detail` is required on the wire; "auto" is what the API assumes otherwise.
      return { type: "input_image", image_url: url, detail: part.detail ?? "auto" };
    }
    case "audio":
      return refuseField(field, "the OpenAI Responses API takes no audio input");
    case "document": {
      const source = part.source;
      if ("text" in source) {
        return { type: "input_text", text: part.title ? `${part.title}\n\n${source.text}` : source.text };
      }
      if (m.role !== "user" && m.role !== "tool")
        refuseField(field, "a document is taken only in user messages and tool results");
      if ("url" in source) return { type: "input_file", file_url: source.url };
      const filename = part.filename ?? part.title;
      return {
        type: "input_file",
        file_data: dataUrl(source.mediaType, source.data),
        // OpenAI asks a filename with file_data; one from the media type when the caller gave none.
        filename: filename ?? `document.${source.mediaType.split("/")[1] ?? "bin"}`,
      };
    }
    case "reasoning":
      return undefined; // only assistant turns carry reasoning back (assistantItems)
  }
}

function inputParts(m: ChatMessage, i: number): WireItem[] {
  if (m.parts === undefined) return [{ type: "input_text", text: m.content }];
  return m.parts.flatMap((part, j): WireItem[] => {
    const wire = inputPart(part, m, `messages[${i}].parts[${j}]`);
    return wire === undefined ? [] : [wire];
  });
}

/** An assistant turn: its reasoning items first, unchanged, then its text, then its function calls. */
function assistantItems(m: ChatMessage, i: number): WireItem[] {
  const items: WireItem[] = [];
  let text = m.content;
  if (m.parts !== undefined) {
    text = "";
    m.parts.forEach((part, j) => {
      if (part.type === "reasoning") {
        // Another family's reasoning (or one without OpenAI's encrypted state) cannot be read back: dropped.
        if (isReturnableReasoning(part)) items.push(reasoningItem(part));
      } else if (part.type === "text") text += part.text;
      else {
        // Media cannot be an assistant's output.
        refuseField(
          `messages[${i}].parts[${j}]`,
          `a ${part.type} part cannot be sent in an assistant message`,
        );
      }
    });
  }
  if (text !== "") {
    items.push({ type: "message", role: "assistant", content: [{ type: "output_text", text }] });
  }
  for (const c of m.toolCalls ?? []) {
    items.push({ type: "function_call", call_id: c.id, name: c.name, arguments: c.arguments });
  }
  return items;
}

function toolOutput(m: ChatMessage, i: number): WireItem {
  const onlyText = m.parts === undefined || m.parts.every((p) => p.type === "text");
  return {
    type: "function_call_output",
    call_id: m.toolCallId ?? "",
    // Media in a tool result travels in the output itself (a list of input parts).
    output: onlyText ? m.content : inputParts(m, i),
  };
}

/** The request's messages as `instructions` (system messages) and `input` items. */
function toInput(messages: readonly ChatMessage[]): { instructions?: string; input: WireItem[] } {
  const system: string[] = [];
  const input: WireItem[] = [];
  messages.forEach((m, i) => {
    switch (m.role) {
      case "system":
        system.push(m.content);
        return;
      case "user":
        input.push({ type: "message", role: "user", content: inputParts(m, i) });
        return;
      case "assistant":
        input.push(...assistantItems(m, i));
        return;
      case "tool":
        input.push(toolOutput(m, i));
        return;
    }
  });
  return { ...(system.length > 0 ? { instructions: system.join("\n\n") } : {}), input };
}

/** The POST /responses body for one generation. */
export function toResponsesRequest(input: GenerateInput, stream: boolean): Record<string, unknown> {
  const s = input.sampling;
  if (s.stop !== undefined && s.stop.length > 0)
    refuseField("sampling.stop", "the OpenAI Responses API has no stop sequences");
  const body: Record<string, unknown> = { model: input.model, ...toInput(input.messages) };
  // Responses stores conversations by default (30 days); the gateway never makes that retention choice
  // for its callers, so requests are stateless and encrypted reasoning carries the reasoning state.
  body.store = false;
  if (s.maxOutputTokens !== undefined) body.max_output_tokens = s.maxOutputTokens;
  if (s.temperature !== undefined) body.temperature = s.temperature;
  if (s.topP !== undefined) body.top_p = s.topP;
  // `seed` has no field in Responses: a best-effort hint, left out as other unsupported hints are.
  const reasoning = input.reasoning;
  const effort =
    reasoning?.effort ??
    (reasoning?.budgetTokens !== undefined ? effortForBudget(reasoning.budgetTokens) : undefined);
  if (reasoning !== undefined && (effort !== undefined || reasoning.includeText)) {
    body.reasoning = {
      ...(effort !== undefined ? { effort } : {}),
      ...(reasoning.includeText ? { summary: "auto" } : {}),
    };
  }
  const include: string[] = [];
  // Without it, a stateless request gets reasoning items it cannot send back (a bare id is a 404 then).
  if (reasoning !== undefined || isReasoningModel(input.model) || sendsReasoningBack(input.messages)) {
    include.push("reasoning.encrypted_content");
  }
  if (input.logprobs !== undefined) {
    include.push("message.output_text.logprobs");
    body.top_logprobs = input.logprobs.top;
  }
  if (include.length > 0) body.include = include;
  if (input.tools.length > 0) {
    body.tools = input.tools.map((t) => ({
      type: "function",
      name: t.name,
      ...(t.description ? { description: t.description } : {}),
      parameters: t.parameters ?? { type: "object", properties: {} },
      // Responses makes function tools strict unless told otherwise; Chat Completions does not.
      strict: t.strict === true,
    }));
    if (input.parallelToolCalls !== undefined) body.parallel_tool_calls = input.parallelToolCalls;
  }
  const choice = input.toolChoice;
  if (choice !== undefined) {
    body.tool_choice = "mode" in choice ? choice.mode : { type: "function", name: choice.function };
  }
  const format = input.responseFormat;
  if (format?.type === "json_object") body.text = { format: { type: "json_object" } };
  if (format?.type === "json_schema") {
    body.text = {
      format: { type: "json_schema", name: format.name, schema: format.schema, strict: format.strict },
    };
  }
  if (input.promptCacheKey !== undefined) body.prompt_cache_key = input.promptCacheKey;
  if (input.endUserId) body.safety_identifier = input.endUserId;
  // `metadata` is not sent: OpenAI keeps it only with stored responses (as in chat mode).
  if (input.serviceTier !== undefined) body.service_tier = SERVICE_TIERS[input.serviceTier];
  if (stream) body.stream = true;
  return body;
}
