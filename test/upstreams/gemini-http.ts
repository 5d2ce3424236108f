// Request checks of the Gemini fake: routes, API key, and the validation generativelanguage.googleapis.com
// does before any model runs (JSON, unknown fields, roles, empty parts, embedding batches), answered with
// google.rpc.Status bodies like the real API's.
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  checkGenerationExtras,
  checkPart,
  checkServiceTier,
  checkSignatures,
  type Violation,
} from "./gemini-content-checks.ts";
import { googleErrorBody, loadGeminiHttpFixture } from "./gemini-errors.ts";
import { isObject, type Json, send } from "./openai-http.ts";

export type GeminiMethod =
  | "generateContent"
  | "streamGenerateContent"
  | "embedContent"
  | "batchEmbedContents";
export type GeminiRoute = { method: GeminiMethod; model: string; sse: boolean };

const METHODS = new Set<string>([
  "generateContent",
  "streamGenerateContent",
  "embedContent",
  "batchEmbedContents",
]);
export const MAX_EMBED_BATCH = 100;

const NO_KEY_MESSAGE =
  "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or " +
  "other form of API consumer identity to call this API.";

/** `POST /v1beta/models/{model}:{method}` (or /v1/); anything else is not a route of the fake. */
export function routeOf(method: string, url: URL): GeminiRoute | undefined {
  const match = /^\/v1(?:beta)?\/models\/([^/:]+):([A-Za-z]+)$/.exec(url.pathname);
  if (method !== "POST" || !match?.[1] || !match[2] || !METHODS.has(match[2])) return undefined;
  return {
    method: match[2] as GeminiMethod,
    model: decodeURIComponent(match[1]),
    sse: url.searchParams.get("alt") === "sse",
  };
}

export function sendGoogleError(
  res: ServerResponse,
  code: number,
  message: string,
  details?: unknown[],
): false {
  const headers = { "content-type": "application/json; charset=UTF-8", vary: "Origin, X-Origin, Referer" };
  send(res, code, headers, googleErrorBody(code, message, details));
  return false;
}

function invalid(res: ServerResponse, message: string, field?: string): false {
  const violation = field === undefined ? { description: message } : { field, description: message };
  const details = [{ "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [violation] }];
  return sendGoogleError(res, 400, message, details);
}

/** Google's front end answers an unknown path with an HTML page, not JSON. */
function sendNotFoundPage(res: ServerResponse, path: string): false {
  const html =
    `<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n` +
    `  <p><b>404.</b> <ins>That’s an error.</ins>\n  <p>The requested URL <code>${path}</code> was not found ` +
    "on this server.  <ins>That’s all we know.</ins>\n";
  send(res, 404, { "content-type": "text/html; charset=UTF-8" }, html);
  return false;
}

/** Both spellings proto JSON accepts: lowerCamel and the original snake_case. */
function names(...camel: string[]): Set<string> {
  return new Set(camel.flatMap((n) => [n, n.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]));
}
const REQUEST_FIELDS = names(
  "model",
  "contents",
  "systemInstruction",
  "tools",
  "toolConfig",
  "safetySettings",
  "generationConfig",
  "cachedContent",
  "serviceTier",
);
const GENERATION_FIELDS = names(
  "stopSequences",
  "responseMimeType",
  "responseSchema",
  "responseJsonSchema",
  "responseModalities",
  "candidateCount",
  "maxOutputTokens",
  "temperature",
  "topP",
  "topK",
  "seed",
  "presencePenalty",
  "frequencyPenalty",
  "responseLogprobs",
  "logprobs",
  "enableEnhancedCivicAnswers",
  "speechConfig",
  "thinkingConfig",
  "imageConfig",
  "mediaResolution",
);

function unknownField(object: Json, allowed: Set<string>): string | undefined {
  return Object.keys(object).find((key) => !allowed.has(key));
}

function violated(res: ServerResponse, violation: Violation | undefined): boolean {
  return violation === undefined || invalid(res, violation.message, violation.field);
}

function checkGenerate(res: ServerResponse, route: GeminiRoute, body: Json, issued: Set<string>): boolean {
  const unknown = unknownField(body, REQUEST_FIELDS);
  if (unknown !== undefined)
    return invalid(res, `Invalid JSON payload received. Unknown name "${unknown}": Cannot find field.`);
  const config = body.generationConfig ?? body.generation_config;
  if (isObject(config)) {
    const bad = unknownField(config, GENERATION_FIELDS);
    if (bad !== undefined) {
      const message = `Invalid JSON payload received. Unknown name "${bad}" at 'generation_config': Cannot find field.`;
      return invalid(res, message, "generation_config");
    }
    if ("responseSchema" in config && "responseJsonSchema" in config) {
      return invalid(
        res,
        "* GenerateContentRequest.generation_config: response_schema and response_json_schema are mutually exclusive\n",
      );
    }
    if (!violated(res, checkGenerationExtras(config))) return false;
  }
  if (!violated(res, checkServiceTier(body.serviceTier ?? body.service_tier))) return false;
  const contents = body.contents;
  if (!Array.isArray(contents) || contents.length === 0) {
    return invalid(res, "* GenerateContentRequest.contents: contents is not specified\n");
  }
  for (const [i, content] of contents.entries()) {
    const role: unknown = (content as Json | null)?.role;
    if (role !== undefined && role !== "user" && role !== "model") {
      return invalid(res, "Please use a valid role: user, model.");
    }
    const parts: unknown = (content as Json | null)?.parts;
    if (!Array.isArray(parts) || parts.length === 0) {
      return invalid(
        res,
        `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`,
      );
    }
    for (const [p, part] of parts.entries()) {
      if (!violated(res, checkPart(part, `contents[${i}].parts[${p}]`))) return false;
    }
  }
  if (!violated(res, checkSignatures(route.model, contents, issued))) return false;
  for (const [t, tool] of (Array.isArray(body.tools) ? body.tools : []).entries()) {
    const declarations: unknown = (tool as Json | null)?.functionDeclarations;
    for (const [d, decl] of (Array.isArray(declarations) ? declarations : []).entries()) {
      if (isObject(decl) && "parameters" in decl && "parametersJsonSchema" in decl) {
        return invalid(
          res,
          `* GenerateContentRequest.tools[${t}].function_declarations[${d}]: parameters and parameters_json_schema are mutually exclusive\n`,
        );
      }
    }
  }
  return true;
}

function checkEmbed(res: ServerResponse, route: GeminiRoute, body: Json): boolean {
  if (route.method === "embedContent") {
    return isObject(body.content)
      ? true
      : invalid(res, "* EmbedContentRequest.content: content is not specified\n");
  }
  const requests = body.requests;
  if (!Array.isArray(requests) || requests.length === 0) {
    return invalid(res, "* BatchEmbedContentsRequest.requests: requests is not specified\n");
  }
  if (requests.length > MAX_EMBED_BATCH) {
    return invalid(
      res,
      `* BatchEmbedContentsRequest.requests: at most ${MAX_EMBED_BATCH} requests can be in one batch\n`,
    );
  }
  for (const [i, request] of requests.entries()) {
    if (!isObject(request) || request.model !== `models/${route.model}`) {
      return invalid(
        res,
        `* BatchEmbedContentsRequest.requests[${i}].model: model must be models/${route.model}, the model of the batch\n`,
      );
    }
    if (!isObject(request.content)) {
      return invalid(res, `* BatchEmbedContentsRequest.requests[${i}].content: content is not specified\n`);
    }
  }
  return true;
}

/** What the API checks before any model runs; sends the error and returns false if one fails. */
export function admit(
  res: ServerResponse,
  req: IncomingMessage,
  url: URL,
  route: GeminiRoute | undefined,
  parsed: { body: unknown; badJson: boolean },
  requireApiKey: string | undefined,
  /** Thought signatures this fake has handed out (any other one is refused). */
  issued: Set<string>,
): boolean {
  if (route === undefined) return sendNotFoundPage(res, url.pathname);
  if (requireApiKey !== undefined) {
    const key = req.headers["x-goog-api-key"] ?? url.searchParams.get("key") ?? undefined;
    if (key === undefined) return sendGoogleError(res, 403, NO_KEY_MESSAGE);
    if (key !== requireApiKey) {
      const fixture = loadGeminiHttpFixture("api_key_invalid");
      send(res, fixture.status, fixture.headers, fixture.body);
      return false;
    }
  }
  if (parsed.badJson || !isObject(parsed.body)) {
    return invalid(res, "Invalid JSON payload received. Unexpected token.\n");
  }
  const body = parsed.body;
  return route.method === "generateContent" || route.method === "streamGenerateContent"
    ? checkGenerate(res, route, body, issued)
    : checkEmbed(res, route, body);
}
