import { UpstreamError } from "../../errors/upstream-error.ts";
import type {
  FinishReason,
  GenerateInput,
  GenerateOutput,
  ReasoningBlock,
  ServiceTier,
  ToolCall,
  ToolChoice,
  ToolSpec,
} from "../adapter.ts";
import { type Block, cacheControlOf, checkCacheBreakpoints, systemOf, toWireTurns } from "./content.ts";
import { invalidArgument } from "./errors.ts";
import { reasoningBlockOf, thinkingPlanOf } from "./reasoning.ts";
import { serviceTierOf, usageOf, type WireUsage } from "./usage.ts";

export type { WireUsage } from "./usage.ts";

/** The `anthropic-version` values a backend may pin. */
export type AnthropicApiVersion = "2023-06-01" | "2026-10-21";

export type MessagesRequestOptions = {
  name: string;
  apiVersion: AnthropicApiVersion;
  /** Sent as `max_tokens` (which Anthropic requires) when the caller gave no output cap. */
  defaultMaxTokens: number;
};

/** Wire shapes of Anthropic's Messages API, as much as we read. */
export type WireContentBlock = {
  type?: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  thinking?: string;
  signature?: string;
  data?: string;
};
export type WireMessage = {
  id?: string;
  model?: string;
  content?: WireContentBlock[];
  stop_reason?: string | null;
  usage?: WireUsage;
};

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

/**
 * What Anthropic cannot carry is refused before any call, naming the field (routing skips Anthropic for
 * these by capability; this is the backstop). `prompt_cache_key`, `seed` and provider metadata other than
 * the end user have no Anthropic counterpart and are not sent (its cache is keyed by the prompt prefix).
 */
function refuseUncarried(input: GenerateInput): void {
  if (input.logprobs !== undefined)
    throw invalidArgument("logprobs: Anthropic does not return log probabilities");
  const tier = input.serviceTier;
  if (tier === "flex" || tier === "priority") {
    throw invalidArgument(
      `service_tier ${tier}: Anthropic's tiers are auto (priority capacity where the account has it) and default`,
    );
  }
}

/** Neutral tier → Anthropic's: "auto" may use priority capacity where the account has it. */
function serviceTierField(tier: ServiceTier | undefined): string | undefined {
  if (tier === "default") return "standard_only";
  if (tier === "auto") return "auto";
  return undefined;
}

export function toMessagesRequest(
  input: GenerateInput,
  stream: boolean,
  options: MessagesRequestOptions,
): Record<string, unknown> {
  refuseUncarried(input);
  const formatTool = formatToolOf(input);
  if (formatTool && input.tools.length > 0) {
    throw new UpstreamError(
      "bad_request",
      `${options.name}: a JSON response format cannot be combined with tools on an Anthropic backend`,
    );
  }
  const plan = thinkingPlanOf(input.reasoning, input.sampling.maxOutputTokens, options.defaultMaxTokens);
  if (plan.thinking) refuseForcedTools(input, formatTool !== undefined);
  const messages = toWireTurns(input.messages, options.name);
  const body: Record<string, unknown> = { model: input.model, max_tokens: plan.maxTokens, messages };
  const system = systemOf(input.messages);
  if (system !== undefined) body.system = system;
  if (plan.thinking) body.thinking = plan.thinking;
  // Thinking accepts no sampling changes (the API rejects temperature other than 1 with it): none are sent.
  else Object.assign(body, samplingFields(input, options.apiVersion));
  const stop = input.sampling.stop;
  if (stop !== undefined && stop.length > 0) body.stop_sequences = stop;
  if (formatTool) {
    body.tools = [{ name: formatTool.name, input_schema: formatTool.schema }];
    body.tool_choice = { type: "tool", name: formatTool.name };
  } else if (input.tools.length > 0) {
    body.tools = input.tools.map(toolOf);
    // tool_choice without tools is an invalid_request_error, so it only travels with them.
    const choice = toolChoiceOf(input.toolChoice, input.parallelToolCalls);
    if (choice !== undefined) body.tool_choice = choice;
  }
  if (input.endUserId) body.metadata = { user_id: input.endUserId };
  const tier = serviceTierField(input.serviceTier);
  if (tier !== undefined) body.service_tier = tier;
  if (stream) body.stream = true;
  checkCacheBreakpoints({ tools: body.tools, system: body.system, messages });
  return body;
}

/** Thinking cannot be combined with a forced tool (Anthropic: "Thinking may not be enabled when tool_choice forces tool use"). */
function refuseForcedTools(input: GenerateInput, formatTool: boolean): void {
  if (formatTool) {
    throw invalidArgument(
      "reasoning with a JSON response format: Anthropic emulates the format with a forced tool, which thinking does not allow",
    );
  }
  const choice = input.toolChoice;
  if (
    input.tools.length > 0 &&
    choice !== undefined &&
    ("function" in choice || choice.mode === "required")
  ) {
    throw invalidArgument(
      "reasoning with a forced tool_choice: Anthropic allows only auto or none while thinking",
    );
  }
}

/** `strict` is not sent: strict tool use depends on the model at Anthropic, so tools stay best effort. */
function toolOf(t: ToolSpec): Block {
  const tool: Block = { name: t.name };
  if (t.description) tool.description = t.description;
  tool.input_schema = t.parameters ?? { type: "object", properties: {} };
  if (t.cache) tool.cache_control = cacheControlOf(t.cache);
  return tool;
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

/** `parallelToolCalls: false` → `disable_parallel_tool_use` (on auto when no choice was given; "none" has none). */
function toolChoiceOf(choice: ToolChoice | undefined, parallel: boolean | undefined): Block | undefined {
  let wire: Block | undefined;
  if (choice === undefined) wire = undefined;
  else if ("function" in choice) wire = { type: "tool", name: choice.function };
  else if (choice.mode === "required") wire = { type: "any" };
  else wire = { type: choice.mode };
  if (parallel !== false || wire?.type === "none") return wire;
  return { ...(wire ?? { type: "auto" }), disable_parallel_tool_use: true };
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

export function fromMessage(
  wire: WireMessage,
  requestedModel: string,
  formatTool: FormatTool | undefined,
): GenerateOutput {
  let text = "";
  let formatAnswer: string | undefined;
  const toolCalls: ToolCall[] = [];
  const reasoning: ReasoningBlock[] = [];
  for (const block of wire.content ?? []) {
    if (block.type === "text") text += block.text ?? "";
    const thought = reasoningBlockOf(block);
    if (thought) reasoning.push(thought);
    if (block.type !== "tool_use") continue; // server-tool blocks carry no answer for us
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
  const tier = serviceTierOf(wire.usage);
  const reason = finishReasonOf(wire.stop_reason);
  return {
    text: formatAnswer ?? text,
    toolCalls,
    // The forced format tool is how the answer arrives, not a call the caller must run.
    finishReason: formatAnswer !== undefined && reason === "tool_calls" ? "stop" : reason,
    model: wire.model ?? requestedModel,
    ...(usage ? { usage } : {}),
    ...(reasoning.length > 0 ? { reasoning } : {}),
    ...(tier ? { serviceTier: tier } : {}),
  };
}
