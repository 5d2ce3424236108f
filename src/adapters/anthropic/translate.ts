import { UpstreamError } from "../../errors/upstream-error.ts";
import type {
  ChatMessage,
  FinishReason,
  GenerateInput,
  GenerateOutput,
  TokenUsage,
  ToolCall,
  ToolChoice,
} from "../adapter.ts";

/** The `anthropic-version` values a backend may pin. */
export type AnthropicApiVersion = "2023-06-01" | "2026-10-21";

export type MessagesRequestOptions = {
  name: string;
  apiVersion: AnthropicApiVersion;
  /** Sent as `max_tokens` (which Anthropic requires) when the caller gave no output cap. */
  defaultMaxTokens: number;
};

/** Wire shapes of Anthropic's Messages API, as much as we read. */
export type WireUsage = {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
};
export type WireContentBlock = { type?: string; text?: string; id?: string; name?: string; input?: unknown };
export type WireMessage = {
  id?: string;
  model?: string;
  content?: WireContentBlock[];
  stop_reason?: string | null;
  usage?: WireUsage;
};

type Block = Record<string, unknown>;
type WireTurn = { role: "user" | "assistant"; content: string | Block[] };

/**
 * JSON-schema (and JSON-object) response formats are emulated with a forced tool: the schema becomes the
 * tool's `input_schema`, `tool_choice` forces it, and the tool's input is handed back as the text answer.
 * This works on every model and both API versions (native `output_config.format` does not), at the cost
 * of not combining with the caller's own tools, which is rejected as bad_request.
 */
export type FormatTool = { name: string; schema: Record<string, unknown> };

export function formatToolOf(input: GenerateInput): FormatTool | undefined {
  const format = input.responseFormat;
  if (format?.type === "json_schema") return { name: format.name, schema: format.schema };
  if (format?.type === "json_object") return { name: "json_response", schema: { type: "object" } };
  return undefined;
}

export function toMessagesRequest(
  input: GenerateInput,
  stream: boolean,
  options: MessagesRequestOptions,
): Record<string, unknown> {
  const formatTool = formatToolOf(input);
  if (formatTool && input.tools.length > 0) {
    throw new UpstreamError(
      "bad_request",
      `${options.name}: a JSON response format cannot be combined with tools on an Anthropic backend`,
    );
  }
  const system = input.messages
    .filter((m) => m.role === "system")
    .map((m) => m.content)
    .filter((text) => text !== "");
  const body: Record<string, unknown> = {
    model: input.model,
    max_tokens: input.sampling.maxOutputTokens ?? options.defaultMaxTokens,
    messages: toWireTurns(input.messages, options.name),
  };
  if (system.length > 0) body.system = system.join("\n\n");
  Object.assign(body, samplingFields(input, options.apiVersion));
  const stop = input.sampling.stop;
  if (stop !== undefined && stop.length > 0) body.stop_sequences = stop;
  if (formatTool) {
    body.tools = [{ name: formatTool.name, input_schema: formatTool.schema }];
    body.tool_choice = { type: "tool", name: formatTool.name };
  } else if (input.tools.length > 0) {
    body.tools = input.tools.map((t) => ({
      name: t.name,
      ...(t.description ? { description: t.description } : {}),
      input_schema: t.parameters ?? { type: "object", properties: {} },
    }));
    // tool_choice without tools is an invalid_request_error, so it only travels with them.
    if (input.toolChoice !== undefined) body.tool_choice = toolChoiceOf(input.toolChoice);
  }
  if (input.endUserId) body.metadata = { user_id: input.endUserId };
  if (stream) body.stream = true;
  return body;
}

/**
 * Sampling knobs differ per pinned version:
 * - 2023-06-01: current models reject `temperature` and `top_p` together ("cannot both be specified for
 *   this model"), so top_p is sent only when no temperature is. Anthropic's range is 0..1 where OpenAI's
 *   is 0..2: a larger temperature is clamped rather than failing a request another backend would serve.
 * - 2026-10-21: the version rejects `temperature`, `top_p` and `top_k` outright (400 "Extra inputs are
 *   not permitted", even at default values; the v1 SDKs dropped them), so neither is sent.
 */
function samplingFields(input: GenerateInput, version: AnthropicApiVersion): Record<string, number> {
  if (version === "2026-10-21") return {};
  const { temperature, topP } = input.sampling;
  if (temperature !== undefined) return { temperature: Math.min(Math.max(temperature, 0), 1) };
  if (topP !== undefined) return { top_p: topP };
  return {};
}

function toolChoiceOf(choice: ToolChoice): Record<string, unknown> {
  if ("function" in choice) return { type: "tool", name: choice.function };
  if (choice.mode === "required") return { type: "any" };
  return { type: choice.mode };
}

/**
 * System messages go to the top-level `system` field; tool results become `tool_result` blocks of a user
 * turn; consecutive turns of one role are merged (tool results must sit together, and first, in the user
 * turn right after the assistant's `tool_use` blocks).
 */
function toWireTurns(messages: ChatMessage[], backend: string): WireTurn[] {
  const turns: WireTurn[] = [];
  const push = (role: WireTurn["role"], content: string | Block[]): void => {
    const last = turns.at(-1);
    if (last?.role !== role) {
      turns.push({ role, content });
      return;
    }
    last.content = [...asBlocks(last.content), ...asBlocks(content)];
  };
  for (const m of messages) {
    if (m.role === "system") continue;
    if (m.role === "user") push("user", m.content);
    else if (m.role === "tool") push("user", [toolResultBlock(m, backend)]);
    else push("assistant", assistantContent(m, backend));
  }
  return turns;
}

function asBlocks(content: string | Block[]): Block[] {
  if (typeof content !== "string") return content;
  return content === "" ? [] : [{ type: "text", text: content }];
}

function toolResultBlock(m: ChatMessage, backend: string): Block {
  if (!m.toolCallId) {
    throw new UpstreamError("bad_request", `${backend}: a tool message has no tool call id`);
  }
  return { type: "tool_result", tool_use_id: m.toolCallId, content: m.content };
}

function assistantContent(m: ChatMessage, backend: string): string | Block[] {
  const calls = m.toolCalls ?? [];
  if (calls.length === 0) return m.content;
  return [...asBlocks(m.content), ...calls.map((c) => toolUseBlock(c, backend))];
}

function toolUseBlock(call: ToolCall, backend: string): Block {
  let input: unknown = {};
  if (call.arguments.trim() !== "") {
    try {
      input = JSON.parse(call.arguments);
    } catch {
      input = undefined;
    }
  }
  // Anthropic takes the input as an object, not a string: arguments that are not a JSON object cannot travel.
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new UpstreamError(
      "bad_request",
      `${backend}: arguments of tool call ${call.id} are not a JSON object`,
    );
  }
  return { type: "tool_use", id: call.id, name: call.name, input };
}

export function finishReasonOf(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
      return "stop";
    case "max_tokens":
    case "model_context_window_exceeded": // the output was cut by the context window: a length stop too
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    default:
      return "other"; // pause_turn, or a value added later
  }
}

/** Cache reads and writes are input tokens too (Anthropic reports them apart from `input_tokens`). */
export function usageOf(usage: WireUsage | undefined): TokenUsage | undefined {
  if (!usage || typeof usage.input_tokens !== "number") return undefined;
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  return {
    inputTokens: usage.input_tokens + cacheRead + (usage.cache_creation_input_tokens ?? 0),
    outputTokens: usage.output_tokens ?? 0,
    cachedInputTokens: cacheRead,
  };
}

export function fromMessage(
  wire: WireMessage,
  requestedModel: string,
  formatTool: FormatTool | undefined,
): GenerateOutput {
  let text = "";
  let formatAnswer: string | undefined;
  const toolCalls: ToolCall[] = [];
  for (const block of wire.content ?? []) {
    if (block.type === "text") text += block.text ?? "";
    if (block.type !== "tool_use") continue; // thinking and server-tool blocks carry no answer for us
    if (formatTool && block.name === formatTool.name) {
      formatAnswer = JSON.stringify(block.input ?? {});
      continue;
    }
    toolCalls.push({
      id: block.id ?? "",
      name: block.name ?? "",
      arguments: JSON.stringify(block.input ?? {}),
    });
  }
  const usage = usageOf(wire.usage);
  const reason = finishReasonOf(wire.stop_reason);
  return {
    text: formatAnswer ?? text,
    toolCalls,
    // The forced format tool is how the answer arrives, not a call the caller must run.
    finishReason: formatAnswer !== undefined && reason === "tool_calls" ? "stop" : reason,
    model: wire.model ?? requestedModel,
    ...(usage ? { usage } : {}),
  };
}
