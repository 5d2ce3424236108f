// Mistral's dialect of the OpenAI fake (`startOpenAIFake({ dialect: "mistral" })`): the checks La Plateforme
// makes before a model runs (unknown fields are 422 `extra_forbidden`, `seed` among them; `tool_choice` is
// auto/none/any; tool-call ids are exactly 9 alphanumerics, else 400 code 3280), its error bodies
// (test/fixtures/mistral/*.http, see the README there) and its embeddings shape.
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { dialectHeaders } from "./openai-dialects.ts";
import { type ErrorResponse, loadHttpFixture } from "./openai-errors.ts";
import type { EmbeddingScript, ErrorScript } from "./openai-fake.ts";
import { isObject, type Json, type Route } from "./openai-http.ts";
import { DEFAULT_EMBEDDING_DIMS, embeddingInputs, embeddingVector } from "./openai-wire.ts";

export const MISTRAL_ERROR_FIXTURES = [
  "unauthorized",
  "rate_limited",
  "capacity_exceeded",
  "invalid_tool_call_id",
  "extra_forbidden",
  "extra_forbidden_2024",
] as const;
export type MistralErrorFixtureName = (typeof MISTRAL_ERROR_FIXTURES)[number];

const FIXTURE_DIR = new URL("../fixtures/mistral/", import.meta.url);
const FIXTURE_FOR_STATUS: Record<number, MistralErrorFixtureName> = {
  400: "invalid_tool_call_id",
  401: "unauthorized",
  422: "extra_forbidden",
  429: "rate_limited",
};

export function isMistralFixtureName(name: string): name is MistralErrorFixtureName {
  return (MISTRAL_ERROR_FIXTURES as readonly string[]).includes(name);
}

export function loadMistralFixture(name: MistralErrorFixtureName) {
  return loadHttpFixture(name, FIXTURE_DIR);
}

/** An ErrorScript serving a Mistral fixture with its recorded status and headers. */
export function mistralError(
  name: MistralErrorFixtureName,
  extra: { headers?: Record<string, string>; delayMs?: number } = {},
): ErrorScript {
  return { kind: "error", status: loadMistralFixture(name).status, fixture: name, ...extra };
}

/** Mistral's error object, compact as La Plateforme sends it. */
export function mistralErrorBody(message: unknown, type: string, code: string | null = null): string {
  return JSON.stringify({ object: "error", message, type, param: null, code });
}

/** A pydantic validation entry, `input` included as FastAPI echoes it. */
type Issue = { type: string; loc: (string | number)[]; msg: string; input?: unknown; ctx?: Json };

function validationResponse(issues: Issue[]): ErrorResponse {
  const body = {
    object: "Error",
    detail: issues,
    message: issues,
    type: "invalid_request_error",
    code: 3001,
  };
  return { status: 422, headers: dialectHeaders("mistral", "application/json"), body: JSON.stringify(body) };
}

function fixtureResponse(name: MistralErrorFixtureName): ErrorResponse {
  const fixture = loadMistralFixture(name);
  return { status: fixture.status, headers: fixture.headers, body: fixture.body };
}

/** Resolves an ErrorScript in the Mistral dialect. Script headers and body win over the fixture's. */
export function mistralErrorResponse(script: ErrorScript): ErrorResponse {
  const name = script.fixture ?? (script.body === undefined ? FIXTURE_FOR_STATUS[script.status] : undefined);
  const base =
    name !== undefined && isMistralFixtureName(name)
      ? fixtureResponse(name)
      : {
          status: script.status,
          headers: dialectHeaders("mistral", "application/json"),
          body: mistralErrorBody(
            `Fake upstream error (HTTP ${script.status}).`,
            script.status >= 500 ? "internal_server_error" : "invalid_request_error",
          ),
        };
  const body = script.body;
  return {
    status: script.status,
    headers: { ...base.headers, ...script.headers },
    body:
      body === undefined
        ? base.body
        : typeof body === "string" || Buffer.isBuffer(body)
          ? body
          : JSON.stringify(body),
  };
}

const CHAT_FIELDS = new Set([
  "model",
  "temperature",
  "top_p",
  "max_tokens",
  "stream",
  "stop",
  "random_seed",
  "metadata",
  "messages",
  "response_format",
  "tools",
  "tool_choice",
  "presence_penalty",
  "frequency_penalty",
  "n",
  "prediction",
  "parallel_tool_calls",
  "reasoning_effort",
  "prompt_mode",
  "guardrails",
  "prompt_cache_key",
  "service_tier",
  "safe_prompt",
]);
const EMBEDDING_FIELDS = new Set([
  "model",
  "metadata",
  "input",
  "output_dimension",
  "output_dtype",
  "encoding_format",
]);
const MESSAGE_FIELDS: Record<string, Set<string>> = {
  system: new Set(["role", "content"]),
  user: new Set(["role", "content"]),
  assistant: new Set(["role", "content", "tool_calls", "prefix"]),
  tool: new Set(["role", "content", "tool_call_id", "name"]),
};
const TOOL_CHOICES = ["auto", "none", "any"];
const SERVICE_TIERS = ["auto", "standard_only"];
const EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh"];
/** Content chunks by role (the SDK's ContentChunk; system messages take text and thinking only). */
const ALL_CHUNKS = ["text", "image_url", "document_url", "input_audio", "file", "reference", "thinking"];
const CHUNK_TYPES: Record<string, readonly string[]> = {
  system: ["text", "thinking"],
  user: ALL_CHUNKS,
  assistant: ALL_CHUNKS,
  tool: ALL_CHUNKS,
};
/** Each chunk's fields, as pydantic checks them (extra fields are forbidden). */
const CHUNK_FIELDS: Record<string, { required: string[]; optional: string[] }> = {
  text: { required: ["text"], optional: [] },
  image_url: { required: ["image_url"], optional: [] },
  document_url: { required: ["document_url"], optional: ["document_name"] },
  input_audio: { required: ["input_audio"], optional: [] },
  file: { required: ["file_id"], optional: [] },
  reference: { required: ["reference_ids"], optional: [] },
  thinking: { required: ["thinking"], optional: ["signature", "closed"] },
};
const TOOL_CALL_ID = /^[a-zA-Z0-9]{9}$/;

function extraFields(value: Json, allowed: Set<string>, loc: (string | number)[]): Issue[] {
  return Object.keys(value)
    .filter((key) => !allowed.has(key))
    .map((key) => ({
      type: "extra_forbidden",
      loc: [...loc, key],
      msg: "Extra inputs are not permitted",
      input: value[key],
    }));
}

function messageIssues(messages: unknown[]): Issue[] {
  const issues: Issue[] = [];
  messages.forEach((m, i) => {
    const role = isObject(m) && typeof m.role === "string" ? m.role : undefined;
    const allowed = role === undefined ? undefined : MESSAGE_FIELDS[role];
    if (!isObject(m) || role === undefined || allowed === undefined) {
      issues.push({
        type: "union_tag_invalid",
        loc: ["body", "messages", i],
        msg: "Input tag does not match any of the expected tags: 'assistant', 'system', 'tool', 'user'",
        input: m,
      });
      return;
    }
    issues.push(...extraFields(m, allowed, ["body", "messages", i, role]));
    if (Array.isArray(m.content)) issues.push(...chunkIssues(m.content, role, ["body", "messages", i, role]));
  });
  return issues;
}

function chunkIssues(chunks: unknown[], role: string, loc: (string | number)[]): Issue[] {
  const issues: Issue[] = [];
  const allowed = CHUNK_TYPES[role] ?? [];
  chunks.forEach((chunk, j) => {
    const at = [...loc, "content", j];
    const type = isObject(chunk) && typeof chunk.type === "string" ? chunk.type : undefined;
    const fields = type === undefined ? undefined : CHUNK_FIELDS[type];
    if (!isObject(chunk) || type === undefined || fields === undefined || !allowed.includes(type)) {
      issues.push({
        type: "union_tag_invalid",
        loc: at,
        msg: `Input tag '${String(type)}' found using 'type' does not match any of the expected tags: ${allowed.map((t) => `'${t}'`).join(", ")}`,
        input: chunk,
      });
      return;
    }
    for (const name of fields.required) {
      if (chunk[name] === undefined)
        issues.push({ type: "missing", loc: [...at, type, name], msg: "Field required", input: chunk });
    }
    issues.push(
      ...extraFields(chunk, new Set(["type", ...fields.required, ...fields.optional]), [...at, type]),
    );
    if (type === "input_audio" && chunk.input_audio !== undefined && typeof chunk.input_audio !== "string") {
      issues.push({
        type: "string_type",
        loc: [...at, type, "input_audio"],
        msg: "Input should be a valid string",
        input: chunk.input_audio,
      });
    }
  });
  return issues;
}

function enumIssue(body: Json, field: string, allowed: readonly string[]): Issue[] {
  const value = body[field];
  if (value === undefined || value === null || allowed.includes(String(value))) return [];
  const expected = allowed.map((v) => `'${v}'`).join(", ");
  return [
    {
      type: "enum",
      loc: ["body", field],
      msg: `Input should be ${expected}`,
      input: value,
      ctx: { expected },
    },
  ];
}

/** The first tool-call id in the conversation that Mistral refuses, if any. */
function badToolCallId(messages: unknown[]): string | undefined {
  for (const m of messages) {
    if (!isObject(m)) continue;
    const ids: unknown[] = [];
    if (Array.isArray(m.tool_calls)) for (const c of m.tool_calls) if (isObject(c)) ids.push(c.id);
    if (m.role === "tool" && m.tool_call_id !== undefined) ids.push(m.tool_call_id);
    for (const id of ids) if (typeof id !== "string" || !TOOL_CALL_ID.test(id)) return String(id);
  }
  return undefined;
}

function missing(body: Json, field: string): Issue[] {
  return body[field] === undefined
    ? [{ type: "missing", loc: ["body", field], msg: "Field required", input: body }]
    : [];
}

/** What La Plateforme checks before any model runs; the error response when a check fails. */
export function mistralRejection(
  req: IncomingMessage,
  route: Route | undefined,
  parsed: { body: unknown; badJson: boolean },
  requireApiKey: string | undefined,
): ErrorResponse | undefined {
  if (requireApiKey !== undefined && req.headers.authorization !== `Bearer ${requireApiKey}`) {
    return fixtureResponse("unauthorized");
  }
  if (route === undefined) {
    return { status: 404, headers: { "content-type": "application/json" }, body: '{"detail":"Not Found"}' };
  }
  if (route !== "chat" && route !== "embeddings") return undefined;
  if (parsed.badJson || !isObject(parsed.body)) {
    return validationResponse([
      { type: "json_invalid", loc: ["body", 0], msg: "JSON decode error", input: {} },
    ]);
  }
  const body = parsed.body;
  if (route === "embeddings") {
    const issues = [
      ...missing(body, "model"),
      ...missing(body, "input"),
      ...extraFields(body, EMBEDDING_FIELDS, ["body"]),
    ];
    const input = body.input;
    const strings =
      typeof input === "string" || (Array.isArray(input) && input.every((v) => typeof v === "string"));
    if (input !== undefined && !strings) {
      issues.push({
        type: "string_type",
        loc: ["body", "input"],
        msg: "Input should be a valid string",
        input,
      });
    }
    return issues.length > 0 ? validationResponse(issues) : undefined;
  }
  const issues = [
    ...missing(body, "model"),
    ...missing(body, "messages"),
    ...extraFields(body, CHAT_FIELDS, ["body"]),
  ];
  if (Array.isArray(body.messages)) issues.push(...messageIssues(body.messages));
  issues.push(
    ...enumIssue(body, "service_tier", SERVICE_TIERS),
    ...enumIssue(body, "reasoning_effort", EFFORTS),
  );
  const choice = body.tool_choice;
  if (typeof choice === "string" && !TOOL_CHOICES.includes(choice)) {
    issues.push({
      type: "enum",
      loc: ["body", "tool_choice"],
      msg: "Input should be 'auto', 'none' or 'any'",
      input: choice,
      ctx: { expected: "'auto', 'none' or 'any'" },
    });
  }
  if (issues.length > 0) return validationResponse(issues);
  const badId = Array.isArray(body.messages) ? badToolCallId(body.messages) : undefined;
  if (badId !== undefined) {
    const message = `Tool call id was ${badId} but must be a-z, A-Z, 0-9, with a length of 9.`;
    const error = {
      object: "error",
      message,
      type: "invalid_function_call",
      param: null,
      code: "3280",
      raw_status_code: 400,
    };
    return {
      status: 400,
      headers: dialectHeaders("mistral", "application/json"),
      body: JSON.stringify(error),
    };
  }
  return undefined;
}

type MistralEmbeddings = Json & {
  usage: { prompt_tokens: number; total_tokens: number; completion_tokens: number };
};

/** Mistral's embeddings response: an `embd-` id, floats only, usage with `completion_tokens: 0`. */
export function mistralEmbeddings(script: EmbeddingScript, body: Json): MistralEmbeddings {
  const inputs = embeddingInputs(body.input) ?? [];
  const dims =
    script.dims ??
    (typeof body.output_dimension === "number" ? body.output_dimension : DEFAULT_EMBEDDING_DIMS);
  const promptTokens = script.usage?.prompt_tokens ?? inputs.reduce((n, i) => n + i.tokens, 0);
  return {
    id: `embd-${randomBytes(16).toString("hex")}`,
    object: "list",
    data: inputs.map((input, index) => ({
      object: "embedding",
      embedding: embeddingVector(input.key, dims),
      index,
    })),
    model: typeof body.model === "string" ? body.model : "mistral-embed",
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens, completion_tokens: 0 },
  };
}
