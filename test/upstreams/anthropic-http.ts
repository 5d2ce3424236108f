// The checks api.anthropic.com makes before any model runs (route, API key, version, JSON, parameters,
// tool_use/tool_result pairing), answered with Anthropic's own error bodies. Messages quote the API's.
import type { IncomingMessage, ServerResponse } from "node:http";
import { contentProblem } from "./anthropic-content.ts";
import { anthropicErrorBody, loadAnthropicFixture } from "./anthropic-errors.ts";
import { requestId } from "./anthropic-wire.ts";
import { isObject, type Json, send } from "./openai-http.ts";

export const API_VERSIONS = ["2023-06-01", "2026-10-21"] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];

export function sendAnthropicError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const id = requestId();
  const base = { "content-type": "application/json", "request-id": id };
  send(res, status, { ...base, ...headers }, anthropicErrorBody(type, message, id));
}

/** The key the request carries: `x-api-key` wins over `Authorization: Bearer` (the v1 SDKs send the latter). */
function apiKeyOf(req: IncomingMessage): string | undefined {
  const header = req.headers["x-api-key"];
  if (typeof header === "string") return header;
  const auth = req.headers.authorization;
  return auth?.startsWith("Bearer ") ? auth.slice("Bearer ".length) : undefined;
}

/**
 * What api.anthropic.com checks before any model runs; sends the error and returns the pinned version,
 * or undefined when a check failed.
 */
export function admit(
  res: ServerResponse,
  req: IncomingMessage,
  pathname: string,
  parsed: { body: unknown; badJson: boolean },
  requireApiKey: string | undefined,
): ApiVersion | undefined {
  const invalid = (message: string): undefined => {
    sendAnthropicError(res, 400, "invalid_request_error", message);
    return undefined;
  };
  if (req.method !== "POST" || pathname !== "/v1/messages") {
    sendAnthropicError(res, 404, "not_found_error", "Not Found");
    return undefined;
  }
  if (requireApiKey !== undefined) {
    const key = apiKeyOf(req);
    if (key === undefined) {
      sendAnthropicError(res, 401, "authentication_error", "x-api-key header is required");
      return undefined;
    }
    if (key !== requireApiKey) {
      const fixture = loadAnthropicFixture("authentication_error");
      send(res, fixture.status, fixture.headers, fixture.body);
      return undefined;
    }
  }
  const version = req.headers["anthropic-version"];
  if (version === undefined) return invalid("anthropic-version: header is required");
  if (!(API_VERSIONS as readonly string[]).includes(String(version))) {
    return invalid(`anthropic-version: "${String(version)}" is not a valid version`);
  }
  const pinned = version as ApiVersion;
  const { body } = parsed;
  if (parsed.badJson || !isObject(body)) {
    return invalid(
      "There was an error parsing the body of your request. The request body must be valid JSON.",
    );
  }
  const problem =
    paramProblem(body, pinned) ??
    conversationProblem(body.messages as unknown[], pinned) ??
    contentProblem(body);
  return problem === undefined ? pinned : invalid(problem);
}

function paramProblem(body: Json, version: ApiVersion): string | undefined {
  if (typeof body.model !== "string") return "model: Field required";
  if (body.max_tokens === undefined) return "max_tokens: Field required";
  if (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 0) {
    return "max_tokens: Input should be a valid integer";
  }
  if (!Array.isArray(body.messages)) return "messages: Field required";
  if (body.messages.length === 0) return "messages: at least one message is required";
  if (version === "2026-10-21") {
    // 2026-10-21 removed the sampling parameters: any value, even the default, is rejected.
    for (const field of ["temperature", "top_p", "top_k"]) {
      if (field in body) return `${field}: Extra inputs are not permitted`;
    }
  } else if (body.temperature !== undefined && body.top_p !== undefined) {
    return "`temperature` and `top_p` cannot both be specified for this model. Please use only one.";
  }
  if (body.tool_choice !== undefined && !Array.isArray(body.tools)) {
    return "tool_choice: tool_choice may only be specified while providing tools";
  }
  const choice = body.tool_choice;
  if (isObject(choice) && choice.disable_parallel_tool_use !== undefined) {
    if (choice.type === "none")
      return "tool_choice.none.disable_parallel_tool_use: Extra inputs are not permitted";
    if (typeof choice.disable_parallel_tool_use !== "boolean") {
      return `tool_choice.${String(choice.type)}.disable_parallel_tool_use: Input should be a valid boolean`;
    }
  }
  return undefined;
}

function blocksOf(message: Json): Json[] {
  return Array.isArray(message.content) ? message.content.filter(isObject) : [];
}

/** Roles, and the rule that every tool_use is answered by tool_result blocks in the very next message. */
function conversationProblem(messages: unknown[], version: ApiVersion): string | undefined {
  for (const [i, raw] of messages.entries()) {
    if (!isObject(raw)) return `messages.${i}: Input should be a valid dictionary`;
    const role = raw.role;
    if (role === "system" && version === "2023-06-01") {
      return (
        'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, ' +
        'not "system" as an input message role.'
      );
    }
    if (role !== "user" && role !== "assistant" && role !== "system") {
      return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    }
    const previous = messages[i - 1];
    const offered = new Set(
      isObject(previous) && previous.role === "assistant"
        ? blocksOf(previous)
            .filter((b) => b.type === "tool_use")
            .map((b) => b.id)
        : [],
    );
    for (const [j, block] of blocksOf(raw).entries()) {
      if (block.type === "tool_use" && !isObject(block.input)) {
        return `messages.${i}.content.${j}.tool_use.input: Input should be a valid dictionary`;
      }
      if (block.type === "tool_result" && !offered.has(block.tool_use_id)) {
        return (
          `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ` +
          `${String(block.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` ` +
          "block in the previous message."
        );
      }
    }
    const next = messages[i + 1];
    if (role !== "assistant" || next === undefined) continue;
    const answered = new Set(isObject(next) ? blocksOf(next).map((b) => b.tool_use_id) : []);
    const missing = blocksOf(raw)
      .filter((b) => b.type === "tool_use" && !answered.has(b.id))
      .map((b) => String(b.id));
    if (missing.length > 0) {
      return (
        `messages.${i + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ` +
        `${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in ` +
        "the next message."
      );
    }
  }
  return undefined;
}
