// The checks api.openai.com makes of a POST /v1/responses body before any model runs, with the status,
// message, param and code it answers them with: parameters, input item and content part types, tool
// outputs without their call, reasoning items without a following item, and encrypted reasoning that is
// not byte for byte what the API issued.
import type { ReasoningSeal } from "./openai-responses-seal.ts";
import { RESPONSES_REASONING_MODEL } from "./openai-responses-wire.ts";

type Json = Record<string, unknown>;
export type ResponsesIssue = { status: number; message: string; param: string | null; code: string | null };

const USER_PARTS = ["input_text", "input_image", "input_file"];
const ASSISTANT_PARTS = ["output_text", "refusal"];

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalidValue(value: unknown, allowed: readonly string[], param: string): ResponsesIssue {
  const list =
    allowed.length === 2
      ? `'${allowed[0]}' and '${allowed[1]}'`
      : `${allowed
          .slice(0, -1)
          .map((a) => `'${a}'`)
          .join(", ")}, and '${allowed.at(-1)}'`;
  return {
    status: 400,
    message: `Invalid value: '${String(value)}'. Supported values are: ${list}.`,
    param,
    code: "invalid_value",
  };
}

function missing(param: string): ResponsesIssue {
  return {
    status: 400,
    message: `Missing required parameter: '${param}'.`,
    param,
    code: "missing_required_parameter",
  };
}

function unsupported(param: string): ResponsesIssue {
  return {
    status: 400,
    message: `Unsupported parameter: '${param}' is not supported with this model.`,
    param,
    code: "unsupported_parameter",
  };
}

/** "gAAA...Rg==": the API names a token by its first and last four characters. */
function shortToken(token: string): string {
  return token.length > 8 ? `${token.slice(0, 4)}...${token.slice(-4)}` : token;
}

function contentIssue(content: unknown, role: string, param: string): ResponsesIssue | undefined {
  if (typeof content === "string") return undefined;
  if (!Array.isArray(content)) return missing(`${param}.content`);
  const allowed = role === "assistant" ? ASSISTANT_PARTS : USER_PARTS;
  for (const [j, part] of content.entries()) {
    const at = `${param}.content[${j}]`;
    if (!isObject(part) || !allowed.includes(String(part.type))) {
      return invalidValue(isObject(part) ? part.type : part, allowed, at);
    }
    if (
      part.type === "input_image" &&
      typeof part.image_url !== "string" &&
      typeof part.file_id !== "string"
    ) {
      return missing(`${at}.image_url`);
    }
    if (
      part.type === "input_file" &&
      typeof part.file_data === "string" &&
      typeof part.filename !== "string"
    ) {
      return missing(`${at}.filename`);
    }
  }
  return undefined;
}

function reasoningIssue(item: Json, index: number, items: unknown[], body: Json, seal: ReasoningSeal) {
  const id = String(item.id);
  if (typeof item.encrypted_content !== "string") {
    // Without store, the API has nothing to look the id up in.
    return body.store === false
      ? {
          status: 404,
          message: `Item with id '${id}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to \`true\`, or remove this item from your input.`,
          param: "input",
          code: null,
        }
      : undefined;
  }
  const opened = seal.open(item.encrypted_content);
  if (opened === undefined || opened.id !== id) {
    return {
      status: 400,
      message: `The encrypted content ${shortToken(item.encrypted_content)} could not be verified.`,
      param: null,
      code: "invalid_encrypted_content",
    };
  }
  if (index === items.length - 1) {
    return {
      status: 400,
      message: `Item '${id}' of type 'reasoning' was provided without its required following item.`,
      param: "input",
      code: null,
    };
  }
  return undefined;
}

/** The first thing api.openai.com would refuse in this request, or undefined. */
export function responsesRequestIssue(body: Json, seal: ReasoningSeal): ResponsesIssue | undefined {
  if (typeof body.model !== "string") return missing("model");
  const reasoningModel = RESPONSES_REASONING_MODEL.test(body.model);
  if (body.reasoning !== undefined && !reasoningModel) return unsupported("reasoning.effort");
  if (reasoningModel && body.temperature !== undefined) return unsupported("temperature");
  if (reasoningModel && body.top_p !== undefined) return unsupported("top_p");
  if (body.input === undefined) return missing("input");
  if (typeof body.input === "string") return undefined;
  if (!Array.isArray(body.input)) return missing("input");
  const items = body.input as unknown[];
  const calls = new Set<string>();
  for (const [i, item] of items.entries()) {
    const param = `input[${i}]`;
    if (!isObject(item)) return missing(param);
    const type = item.type ?? (item.role !== undefined ? "message" : undefined);
    switch (type) {
      case "message": {
        const role = String(item.role);
        if (!["user", "assistant", "system", "developer"].includes(role)) {
          return invalidValue(role, ["user", "assistant", "system", "developer"], `${param}.role`);
        }
        const issue = contentIssue(item.content, role, param);
        if (issue) return issue;
        break;
      }
      case "function_call":
        if (typeof item.call_id !== "string") return missing(`${param}.call_id`);
        calls.add(item.call_id);
        break;
      case "function_call_output":
        if (typeof item.call_id !== "string" || !calls.has(item.call_id)) {
          return {
            status: 400,
            message: `No tool call found for function call output with call_id ${String(item.call_id)}.`,
            param: "input",
            code: null,
          };
        }
        break;
      case "reasoning": {
        const issue = reasoningIssue(item, i, items, body, seal);
        if (issue) return issue;
        break;
      }
      default:
        return invalidValue(
          type,
          ["message", "function_call", "function_call_output", "reasoning"],
          `${param}.type`,
        );
    }
  }
  return undefined;
}
