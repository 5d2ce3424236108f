// HTTP plumbing for the OpenAI fake: body parsing, sending, and the checks api.openai.com makes before any
// model runs (API key, route, JSON, required parameters), answered with OpenAI's own error bodies.
import type { IncomingMessage, ServerResponse } from "node:http";
import { chatRequestIssue } from "./openai-checks.ts";
import { loadHttpFixture, openAIErrorBody } from "./openai-errors.ts";
import { embeddingInputs, requestId } from "./openai-wire.ts";

export type Json = Record<string, unknown>;
export type Route = "chat" | "embeddings" | "models" | "model";

const NO_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer " +
  "auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're " +
  "accessing the API from your browser and are prompted for a username and password. You can obtain an API " +
  "key from https://platform.openai.com/account/api-keys.";
const BAD_JSON_MESSAGE =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP " +
  "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you " +
  "have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";

const MISSING_INPUT_MESSAGE = "Missing required parameter: 'input'.";
const BAD_INPUT_MESSAGE =
  "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.";

export function routeOf(method: string, path: string): Route | undefined {
  if (method === "POST" && path === "/v1/chat/completions") return "chat";
  if (method === "POST" && path === "/v1/embeddings") return "embeddings";
  if (method === "GET" && path === "/v1/models") return "models";
  if (method === "GET" && path.startsWith("/v1/models/")) return "model";
  return undefined;
}

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: string | Buffer,
): void {
  if (res.destroyed) return;
  res.writeHead(status, { ...headers, "content-length": String(Buffer.byteLength(body)) });
  res.end(body);
}

export function sendError(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  const base = { "content-type": "application/json; charset=utf-8", "x-request-id": requestId() };
  send(res, status, { ...base, ...headers }, body);
}

export function sendFixture(res: ServerResponse, name: "invalid_api_key" | "invalid_request_error"): void {
  const fixture = loadHttpFixture(name);
  send(res, fixture.status, fixture.headers, fixture.body);
}

export async function readBody(req: IncomingMessage): Promise<{ body: unknown; badJson: boolean }> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.length === 0) return { body: undefined, badJson: false };
  try {
    return { body: JSON.parse(text), badJson: false };
  } catch {
    return { body: text, badJson: true };
  }
}

/** What api.openai.com checks before any model runs; sends the error and returns false if one fails. */
export function admit(
  res: ServerResponse,
  req: IncomingMessage,
  route: Route | undefined,
  parsed: { body: unknown; badJson: boolean },
  requireApiKey: string | undefined,
  /** api.openai.com's own checks of content parts and parameters (openai-checks.ts). */
  openAIChecks = false,
): boolean {
  const invalid = (
    status: number,
    message: string,
    param: string | null = null,
    code: string | null = null,
  ) => {
    sendError(res, status, openAIErrorBody(message, "invalid_request_error", param, code));
    return false;
  };
  if (requireApiKey !== undefined) {
    const auth = req.headers.authorization;
    if (auth === undefined) return invalid(401, NO_KEY_MESSAGE);
    if (auth !== `Bearer ${requireApiKey}`) {
      sendFixture(res, "invalid_api_key");
      return false;
    }
  }
  if (route === undefined) return invalid(404, `Invalid URL (${req.method} ${req.url?.split("?")[0]})`);
  if (route !== "chat" && route !== "embeddings") return true;
  const { body } = parsed;
  if (parsed.badJson || !isObject(body)) return invalid(400, BAD_JSON_MESSAGE);
  if (route === "chat" && !Array.isArray(body.messages)) {
    sendFixture(res, "invalid_request_error");
    return false;
  }
  if (typeof body.model !== "string") return invalid(400, "you must provide a model parameter");
  if (route === "chat" && openAIChecks) {
    const issue = chatRequestIssue(body);
    if (issue) return invalid(400, issue.message, issue.param, issue.code);
  }
  if (route === "embeddings" && embeddingInputs(body.input) === undefined) {
    return body.input === undefined
      ? invalid(400, MISSING_INPUT_MESSAGE, "input", "missing_required_parameter")
      : invalid(400, BAD_INPUT_MESSAGE);
  }
  return true;
}
