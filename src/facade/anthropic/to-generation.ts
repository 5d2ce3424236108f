import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import {
  CacheControlSchema,
  CacheTtl,
  type ContentPart,
  ContentPartSchema,
  type MessageSchema,
  ReasoningEffort,
  ResponseFormatType,
  Role,
  ServiceTier,
  ToolChoiceMode,
} from "../../../gen/switchyard/v1/generation_pb.ts";
import { GenerateRequestSchema } from "../../../gen/switchyard/v1/inference_service_pb.ts";
import type { MediaLimits } from "../../api/content-parts.ts";
import { toGenerationRequest } from "../../api/validate.ts";
import type { GenerationRequest } from "../../pipeline/pipeline.ts";
import { invalidParam } from "../openai/errors.ts";
import type { ResolvedModel } from "../openai/model-mapping.ts";
import type { CacheControlParam, ContentBlockParam, MessageParam, MessagesBody } from "./messages-request.ts";
import { reasoningOf } from "./reasoning-signature.ts";

type WireMessage = MessageInitShape<typeof MessageSchema>;
type WirePart = ContentPart;
type PartInit = MessageInitShape<typeof ContentPartSchema>;

/** What a failed tool's output is prefixed with: the neutral tool message has no error flag. */
export const TOOL_ERROR_PREFIX = "(tool error) ";

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The Messages body as the neutral request, through the same conversion and checks as the gRPC
 * API (api/validate.ts), so every front door refuses the same inputs.
 */
export function toGeneration(
  body: MessagesBody,
  target: ResolvedModel,
  media?: MediaLimits,
): GenerationRequest {
  const choice = body.tool_choice;
  const wire = create(GenerateRequestSchema, {
    workload: target.workload,
    model: target.requestedModel,
    messages: withFinalBreakpoint(
      [...systemOf(body), ...body.messages.flatMap(messagesOf)],
      body.cache_control,
    ),
    tools: (body.tools ?? []).map((t) => ({
      name: t.name,
      description: t.description ?? "",
      parameters: t.input_schema as JsonObject,
      strict: t.strict === true,
      ...cacheOf(t.cache_control),
    })),
    ...(choice == null ? {} : { toolChoice: { choice: toolChoiceOf(choice) } }),
    ...(choice != null && "disable_parallel_tool_use" in choice && choice.disable_parallel_tool_use === true
      ? { parallelToolCalls: false }
      : {}),
    sampling: {
      maxOutputTokens: body.max_tokens,
      stop: body.stop_sequences ?? [],
      ...(body.temperature != null ? { temperature: body.temperature } : {}),
      ...(body.top_p != null ? { topP: body.top_p } : {}),
    },
    ...reasoningOptionsOf(body),
    ...(body.output_config?.format
      ? {
          responseFormat: {
            type: ResponseFormatType.JSON_SCHEMA,
            schemaName: "output",
            schema: body.output_config.format.schema as JsonObject,
          },
        }
      : {}),
    endUserId: body.metadata?.user_id ?? "",
    ...(body.service_tier != null
      ? { serviceTier: body.service_tier === "auto" ? ServiceTier.AUTO : ServiceTier.DEFAULT }
      : {}),
  });
  return toGenerationRequest(wire, media);
}

const EFFORT = {
  low: ReasoningEffort.LOW,
  medium: ReasoningEffort.MEDIUM,
  high: ReasoningEffort.HIGH,
} as const;

/**
 * thinking and output_config.effort as the neutral reasoning options: a budget (enabled), or the
 * effort (adaptive thinking, or effort alone); thinking text is asked for unless display is "omitted"
 * or only an effort was set.
 */
function reasoningOptionsOf(body: MessagesBody) {
  const t = body.thinking;
  const effort = body.output_config?.effort;
  if (t?.type === "enabled") return { reasoning: { budgetTokens: t.budget_tokens, includeText: true } };
  if (effort == null || t?.type === "disabled") return {};
  const includeText = t?.type === "adaptive" && t.display !== "omitted";
  return { reasoning: { effort: EFFORT[effort], includeText } };
}

/** Top-level cache_control (automatic caching) is a breakpoint after the last message. */
function withFinalBreakpoint(
  messages: WireMessage[],
  cache: CacheControlParam | null | undefined,
): WireMessage[] {
  const last = messages.at(-1);
  if (cache && last) Object.assign(last, cacheOf(cache));
  return messages;
}

function toolChoiceOf(choice: NonNullable<MessagesBody["tool_choice"]>) {
  switch (choice.type) {
    case "auto":
      return { case: "mode", value: ToolChoiceMode.AUTO } as const;
    case "any":
      return { case: "mode", value: ToolChoiceMode.REQUIRED } as const;
    case "none":
      return { case: "mode", value: ToolChoiceMode.NONE } as const;
    case "tool":
      return { case: "functionName", value: choice.name } as const;
  }
}

function systemOf(body: MessagesBody): WireMessage[] {
  const s = body.system;
  if (s == null || s === "" || (Array.isArray(s) && s.length === 0)) return [];
  const content = typeof s === "string" ? [textPart(s)] : s.map((b) => textPart(b.text, b.cache_control));
  return [{ role: Role.SYSTEM, content }];
}

/**
 * One Anthropic turn as neutral messages. A user turn's tool_result blocks become ROLE_TOOL
 * messages (one per result, in order) and the blocks between them user messages; an assistant
 * turn's tool_use blocks become its tool calls. A cache breakpoint on a tool_use or tool_result
 * block becomes the message's breakpoint (neutral tool calls and results have none of their own).
 */
function messagesOf(m: MessageParam, i: number): WireMessage[] {
  const blocks: ContentBlockParam[] =
    typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content;
  const path = (j: number) => `messages[${i}].content[${j}]`;
  if (m.role === "assistant") {
    const message: WireMessage = { role: Role.ASSISTANT, content: [], toolCalls: [] };
    blocks.forEach((b, j) => {
      if (b.type === "tool_use") {
        message.toolCalls!.push({ id: b.id, name: b.name, arguments: JSON.stringify(b.input) });
        if (b.cache_control) Object.assign(message, cacheOf(b.cache_control));
      } else message.content!.push(partOf(b, path(j)));
    });
    return [message];
  }
  const role = m.role === "system" ? Role.SYSTEM : Role.USER;
  const out: WireMessage[] = [];
  let current: WireMessage | undefined;
  blocks.forEach((b, j) => {
    if (b.type !== "tool_result") {
      if (!current) {
        current = { role, content: [] };
        out.push(current);
      }
      current.content!.push(partOf(b, path(j)));
      return;
    }
    current = undefined;
    const results = typeof b.content === "string" || b.content == null ? [] : b.content;
    const content: WirePart[] =
      typeof b.content === "string"
        ? [textPart(b.content)]
        : results.map((r, k) => partOf(r, `${path(j)}.content[${k}]`));
    if (b.is_error === true) content.unshift(textPart(TOOL_ERROR_PREFIX));
    out.push({ role: Role.TOOL, toolCallId: b.tool_use_id, content, ...cacheOf(b.cache_control) });
  });
  return out;
}

function partOf(b: ContentBlockParam, path: string): WirePart {
  switch (b.type) {
    case "text":
      return textPart(b.text, b.cache_control);
    case "image":
      return wirePart({
        part: {
          case: "image",
          value:
            b.source.type === "url"
              ? { source: { case: "url", value: b.source.url } }
              : {
                  source: { case: "data", value: bytesOf(b.source.data, `${path}.source.data`) },
                  mediaType: b.source.media_type,
                },
        },
        ...cacheOf(b.cache_control),
      });
    case "document": {
      const s = b.source;
      const source =
        s.type === "url"
          ? ({ case: "url", value: s.url } as const)
          : s.type === "text"
            ? ({ case: "text", value: s.data } as const)
            : ({ case: "data", value: bytesOf(s.data, `${path}.source.data`) } as const);
      return wirePart({
        part: {
          case: "document",
          value: { source, mediaType: s.type === "base64" ? s.media_type : "", title: b.title ?? "" },
        },
        ...cacheOf(b.cache_control),
      });
    }
    case "thinking":
      return wirePart({
        part: { case: "reasoning", value: reasoningOf(b.thinking, b.signature, false, `${path}.signature`) },
      });
    case "redacted_thinking":
      return wirePart({ part: { case: "reasoning", value: reasoningOf("", b.data, true, `${path}.data`) } });
    default:
      // messages-request.ts already refused these in this position.
      throw invalidParam(`${path}.type`, `${b.type} blocks are not allowed here`);
  }
}

function wirePart(init: PartInit): WirePart {
  return create(ContentPartSchema, init);
}

function textPart(text: string, cache?: CacheControlParam | null): WirePart {
  return wirePart({ part: { case: "text", value: text }, ...cacheOf(cache) });
}

function cacheOf(c: CacheControlParam | null | undefined) {
  if (!c) return {};
  const ttl =
    c.ttl === "1h" ? CacheTtl.ONE_HOUR : c.ttl === "5m" ? CacheTtl.FIVE_MINUTES : CacheTtl.UNSPECIFIED;
  return { cacheControl: create(CacheControlSchema, { ttl }) };
}

function bytesOf(data: string, path: string): Uint8Array {
  if (data === "" || !BASE64.test(data)) throw invalidParam(path, "expected non-empty base64 data");
  const bytes = Buffer.from(data, "base64");
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}
