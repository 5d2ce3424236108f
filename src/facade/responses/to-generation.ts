import { create, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type ContentPart,
  ContentPartSchema,
  ImageDetail,
  type MessageSchema,
  ResponseFormatType,
  Role,
  ToolCallSchema,
  ToolChoiceMode,
} from "../../../gen/switchyard/v1/generation_pb.ts";
import { GenerateRequestSchema } from "../../../gen/switchyard/v1/inference_service_pb.ts";
import type { MediaLimits } from "../../api/content-parts.ts";
import { toGenerationRequest } from "../../api/validate.ts";
import type { GenerationRequest } from "../../pipeline/pipeline.ts";
import { isDataUrl, parseDataUrl } from "../openai/data-url.ts";
import { invalidParam } from "../openai/errors.ts";
import type { ResolvedModel } from "../openai/model-mapping.ts";
import { reasoningOf, serviceTierOf } from "../openai/request-options.ts";
import { reasoningPartOf } from "./reasoning-item.ts";
import type { InputItem, InputPart, ResponsesBody } from "./responses-request.ts";

type WireMessage = MessageInitShape<typeof MessageSchema>;
type WirePart = ContentPart;
type PartInit = MessageInitShape<typeof ContentPartSchema>;

const ROLE = {
  user: Role.USER,
  assistant: Role.ASSISTANT,
  system: Role.SYSTEM,
  developer: Role.SYSTEM, // OpenAI's newer name for the system role; the neutral API has one
} as const;
const DETAIL = { auto: ImageDetail.AUTO, low: ImageDetail.LOW, high: ImageDetail.HIGH } as const;

/**
 * The Responses body as the neutral request, through the same conversion and checks as the gRPC
 * API (api/validate.ts), so every front door refuses the same inputs.
 */
export function toGeneration(
  body: ResponsesBody,
  target: ResolvedModel,
  media?: MediaLimits,
): GenerationRequest {
  const instructions = body.instructions ? [{ role: Role.SYSTEM, content: [text(body.instructions)] }] : [];
  const wire = create(GenerateRequestSchema, {
    workload: target.workload,
    model: target.requestedModel,
    messages: [...instructions, ...messagesOf(body.input)],
    tools: body.tools.map((t) => ({
      name: t.name,
      description: t.description ?? "",
      ...(t.parameters ? { parameters: t.parameters as JsonObject } : {}),
      strict: t.strict === true,
    })),
    ...toolChoiceOf(body.tool_choice),
    ...(body.parallel_tool_calls != null ? { parallelToolCalls: body.parallel_tool_calls } : {}),
    sampling: {
      ...(body.max_output_tokens != null ? { maxOutputTokens: body.max_output_tokens } : {}),
      ...(body.temperature != null ? { temperature: body.temperature } : {}),
      ...(body.top_p != null ? { topP: body.top_p } : {}),
    },
    ...reasoningOptionsOf(body),
    ...responseFormatOf(body),
    ...(wantsLogprobs(body) ? { logprobs: true, topLogprobs: body.top_logprobs ?? 0 } : {}),
    endUserId: body.safety_identifier ?? body.user ?? "",
    // OpenAI's metadata is stored with the request at the provider; routing rules may match it too.
    metadata: body.metadata ?? {},
    providerMetadata: body.metadata ?? {},
    promptCacheKey: body.prompt_cache_key ?? "",
    serviceTier: serviceTierOf(body.service_tier),
  });
  return toGenerationRequest(wire, media);
}

export function wantsLogprobs(body: ResponsesBody): boolean {
  return body.include?.includes("message.output_text.logprobs") === true;
}

function toolChoiceOf(choice: ResponsesBody["tool_choice"]) {
  if (choice == null) return {};
  if (typeof choice === "object")
    return { toolChoice: { choice: { case: "functionName", value: choice.name } } } as const;
  const mode = { auto: ToolChoiceMode.AUTO, none: ToolChoiceMode.NONE, required: ToolChoiceMode.REQUIRED }[
    choice
  ];
  return { toolChoice: { choice: { case: "mode", value: mode } } } as const;
}

/** reasoning.effort (OpenAI's levels onto the neutral three); a summary asks for the reasoning text. */
function reasoningOptionsOf(body: ResponsesBody) {
  const r = body.reasoning;
  if (r == null || r.effort === "none") return {};
  const summary = (r.summary ?? r.generate_summary) != null;
  const effort = r.effort ?? (summary ? "medium" : undefined);
  const reasoning = reasoningOf(effort, summary);
  return reasoning ? { reasoning } : {};
}

function responseFormatOf(body: ResponsesBody) {
  const f = body.text?.format;
  if (f == null || f.type === "text") return {};
  if (f.type === "json_object") return { responseFormat: { type: ResponseFormatType.JSON_OBJECT } };
  return {
    responseFormat: {
      type: ResponseFormatType.JSON_SCHEMA,
      schemaName: f.name,
      schema: f.schema as JsonObject,
      strict: f.strict === true,
    },
  };
}

/**
 * Input items as neutral messages. An assistant turn arrives as several items in a row (reasoning,
 * message, function_call…): they become one assistant message with its parts and tool calls, as the
 * neutral API and every provider have it; any other item ends that turn.
 */
function messagesOf(input: string | InputItem[]): WireMessage[] {
  if (typeof input === "string") return [{ role: Role.USER, content: [text(input)] }];
  const out: WireMessage[] = [];
  let turn: WireMessage | undefined;
  const assistant = () => {
    if (!turn) {
      turn = { role: Role.ASSISTANT, content: [], toolCalls: [] };
      out.push(turn);
    }
    return turn;
  };
  input.forEach((item, i) => {
    const path = `input[${i}]`;
    switch (item.type) {
      case "reasoning":
        assistant().content!.push(wire({ part: { case: "reasoning", value: reasoningPartOf(item, path) } }));
        return;
      case "function_call":
        assistant().toolCalls!.push(
          create(ToolCallSchema, { id: item.call_id, name: item.name, arguments: item.arguments }),
        );
        return;
      case "function_call_output":
        turn = undefined;
        out.push({
          role: Role.TOOL,
          toolCallId: item.call_id,
          content:
            typeof item.output === "string"
              ? [text(item.output)]
              : item.output.map((p, j) => partOf(p, `${path}.output[${j}]`)),
        });
        return;
      case "message": {
        const parts =
          typeof item.content === "string"
            ? [text(item.content)]
            : item.content.map((p, j) => partOf(p, `${path}.content[${j}]`));
        if (item.role === "assistant") {
          assistant().content!.push(...parts);
          return;
        }
        turn = undefined;
        out.push({ role: ROLE[item.role], content: parts });
        return;
      }
    }
  });
  return out;
}

function partOf(p: InputPart, path: string): WirePart {
  return wire(partInitOf(p, path));
}

function partInitOf(p: InputPart, path: string): PartInit {
  switch (p.type) {
    case "input_text":
    case "output_text":
      return { part: { case: "text", value: p.text } };
    case "refusal":
      return { part: { case: "text", value: p.refusal } };
    case "input_image": {
      if (p.image_url == null) throw invalidParam(`${path}.image_url`, "is required");
      const detail = p.detail ? { detail: DETAIL[p.detail] } : {};
      if (!isDataUrl(p.image_url))
        return { part: { case: "image", value: { source: { case: "url", value: p.image_url }, ...detail } } };
      const { mediaType, data } = parseDataUrl(p.image_url, `${path}.image_url`);
      return {
        part: { case: "image", value: { source: { case: "data", value: data }, mediaType, ...detail } },
      };
    }
    case "input_file": {
      const filename = p.filename ?? "";
      if (p.file_data != null) {
        const { mediaType, data } = parseDataUrl(p.file_data, `${path}.file_data`);
        return {
          part: { case: "document", value: { source: { case: "data", value: data }, mediaType, filename } },
        };
      }
      if (p.file_url != null)
        return {
          part: { case: "document", value: { source: { case: "url", value: p.file_url }, filename } },
        };
      throw invalidParam(`${path}.file_data`, "is required (a data URL), or file_url");
    }
  }
}

function wire(init: PartInit): WirePart {
  return create(ContentPartSchema, init);
}

function text(value: string): WirePart {
  return wire({ part: { case: "text", value } });
}
