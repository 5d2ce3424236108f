// The checks api.openai.com makes on a chat request's content parts and newer parameters before any
// model runs, each failing with OpenAI's 400 `invalid_request_error` naming the parameter: part types by
// role (images only in user messages, tool results text only), input_audio formats, file parts,
// reasoning_effort, logprobs, parallel_tool_calls, metadata (only with `store: true`) and service_tier.
import { isObject, type Json } from "./openai-http.ts";

export type ChatIssue = { message: string; param: string | null; code: string | null };

const PART_TYPES: Record<string, readonly string[]> = {
  user: ["text", "image_url", "input_audio", "file"],
  system: ["text"],
  developer: ["text"],
  assistant: ["text", "refusal"],
  tool: ["text"],
};
const AUDIO_FORMATS = ["wav", "mp3"];
const DETAILS = ["auto", "low", "high"];
const EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh", "max"];
const TIERS = ["auto", "default", "flex", "scale", "priority"];

function quoted(values: readonly string[]): string {
  const list = values.map((v) => `'${v}'`);
  return list.length < 2 ? list.join("") : `${list.slice(0, -1).join(", ")} and ${list.at(-1)}`;
}

function invalidValue(param: string, value: unknown, allowed: readonly string[]): ChatIssue {
  return {
    message: `Invalid value: '${String(value)}'. Supported values are: ${quoted(allowed)}.`,
    param,
    code: "invalid_value",
  };
}

function missingParam(param: string): ChatIssue {
  return { message: `Missing required parameter: '${param}'.`, param, code: "missing_required_parameter" };
}

function partIssue(part: unknown, role: string, at: string, messageAt: string): ChatIssue | undefined {
  if (!isObject(part) || typeof part.type !== "string") return missingParam(`${at}.type`);
  const allowed = PART_TYPES[role] ?? ["text"];
  if (!allowed.includes(part.type)) {
    if (part.type === "image_url") {
      return {
        message: `Invalid '${messageAt}'. Image URLs are only allowed for messages with role 'user', but this message with role '${role}' contains an image URL.`,
        param: messageAt,
        code: "invalid_value",
      };
    }
    return invalidValue(`${at}.type`, part.type, allowed);
  }
  switch (part.type) {
    case "text":
      return typeof part.text === "string" ? undefined : missingParam(`${at}.text`);
    case "image_url": {
      const image = part.image_url;
      if (!isObject(image) || typeof image.url !== "string") return missingParam(`${at}.image_url.url`);
      if (image.detail !== undefined && !DETAILS.includes(String(image.detail))) {
        return invalidValue(`${at}.image_url.detail`, image.detail, DETAILS);
      }
      return undefined;
    }
    case "input_audio": {
      const audio = part.input_audio;
      if (!isObject(audio) || typeof audio.data !== "string") return missingParam(`${at}.input_audio.data`);
      if (!AUDIO_FORMATS.includes(String(audio.format))) {
        return invalidValue(`${at}.input_audio.format`, audio.format, AUDIO_FORMATS);
      }
      return undefined;
    }
    case "file": {
      const file = part.file;
      if (!isObject(file) || (file.file_data === undefined && file.file_id === undefined)) {
        return missingParam(`${at}.file.file_data`);
      }
      if (file.file_data !== undefined && typeof file.filename !== "string") {
        return missingParam(`${at}.file.filename`);
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

function messageIssue(m: unknown, i: number): ChatIssue | undefined {
  if (!isObject(m)) return undefined;
  const role = typeof m.role === "string" ? m.role : "user";
  if (!Array.isArray(m.content)) return undefined;
  for (const [j, part] of m.content.entries()) {
    const issue = partIssue(part, role, `messages[${i}].content[${j}]`, `messages[${i}]`);
    if (issue) return issue;
  }
  return undefined;
}

/** The first problem api.openai.com reports for this chat request, if any. */
export function chatRequestIssue(body: Json): ChatIssue | undefined {
  if (Array.isArray(body.messages)) {
    for (const [i, m] of body.messages.entries()) {
      const issue = messageIssue(m, i);
      if (issue) return issue;
    }
  }
  if (body.reasoning_effort !== undefined && !EFFORTS.includes(String(body.reasoning_effort))) {
    return invalidValue("reasoning_effort", body.reasoning_effort, EFFORTS);
  }
  if (body.top_logprobs !== undefined) {
    const top = body.top_logprobs;
    if (!Number.isInteger(top) || (top as number) < 0 || (top as number) > 20) {
      return {
        message: `Invalid 'top_logprobs': integer above maximum value. Expected a value <= 20, but got ${String(top)} instead.`,
        param: "top_logprobs",
        code: "integer_above_max_value",
      };
    }
    if (body.logprobs !== true) {
      return {
        message:
          "Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.",
        param: "top_logprobs",
        code: null,
      };
    }
  }
  const tools = Array.isArray(body.tools) && body.tools.length > 0;
  if (body.parallel_tool_calls !== undefined && !tools) {
    return {
      message:
        "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.",
      param: "parallel_tool_calls",
      code: null,
    };
  }
  if (body.metadata !== undefined && body.metadata !== null && body.store !== true) {
    return {
      message: "The 'metadata' parameter is only allowed when 'store' is enabled.",
      param: "metadata",
      code: null,
    };
  }
  if (
    body.service_tier !== undefined &&
    body.service_tier !== null &&
    !TIERS.includes(String(body.service_tier))
  ) {
    return invalidValue("service_tier", body.service_tier, TIERS);
  }
  return undefined;
}
