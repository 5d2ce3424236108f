// OpenAI error responses for the fake: byte-exact fixtures (test/fixtures/openai/<name>.http) and the
// serializer for errors the fake generates itself (validation, auth, unknown routes).
import { readFileSync } from "node:fs";
import type { ErrorScript } from "./openai-fake.ts";

export const OPENAI_ERROR_FIXTURES = [
  "invalid_request_error",
  "context_length_exceeded",
  "invalid_api_key",
  "model_not_found",
  "rate_limit_exceeded",
  "insufficient_quota",
  "server_error",
  "overloaded",
  "service_unavailable",
] as const;
export type OpenAIErrorFixtureName = (typeof OPENAI_ERROR_FIXTURES)[number];

/** A recorded HTTP response: status, headers (lower-case names) and the exact body bytes. */
export type HttpFixture = { status: number; headers: Record<string, string>; body: Buffer };

const FIXTURE_DIR = new URL("../fixtures/openai/", import.meta.url);
const cache = new Map<string, HttpFixture>();

/** The fixture used when an ErrorScript gives neither `fixture` nor `body`. */
const FIXTURE_FOR_STATUS: Record<number, OpenAIErrorFixtureName> = {
  400: "invalid_request_error",
  401: "invalid_api_key",
  404: "model_not_found",
  429: "rate_limit_exceeded",
  500: "server_error",
  503: "overloaded",
};

export function isErrorFixtureName(name: string): name is OpenAIErrorFixtureName {
  return (OPENAI_ERROR_FIXTURES as readonly string[]).includes(name);
}

/**
 * Reads `test/fixtures/openai/<name>.http` (or `<name>.http` under `dir`): status line, headers, blank line,
 * body bytes.
 */
export function loadHttpFixture(name: string, dir: URL = FIXTURE_DIR): HttpFixture {
  const key = new URL(`${name}.http`, dir).href;
  const cached = cache.get(key);
  if (cached) return cached;
  const raw = readFileSync(new URL(`${name}.http`, dir));
  const crlf = raw.indexOf("\r\n\r\n");
  const lf = raw.indexOf("\n\n");
  const [headEnd, sepLen] = crlf !== -1 && (lf === -1 || crlf < lf) ? [crlf, 4] : [lf, 2];
  if (headEnd === -1) throw new Error(`fixture ${name}.http has no blank line after the headers`);
  const [statusLine = "", ...lines] = raw.subarray(0, headEnd).toString("latin1").split(/\r?\n/);
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!Number.isInteger(status)) throw new Error(`fixture ${name}.http: bad status line ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const fixture = { status, headers, body: raw.subarray(headEnd + sepLen) };
  cache.set(key, fixture);
  return fixture;
}

/** Serializes an error the way api.openai.com does: 4-space indented JSON and a trailing newline. */
export function openAIErrorBody(
  message: string,
  type: string,
  param: string | null = null,
  code: string | null = null,
): string {
  return `${JSON.stringify({ error: { message, type, param, code } }, null, 4)}\n`;
}

/** An ErrorScript serving a fixture with its recorded status and headers, plus optional extras. */
export function openAIError(
  name: OpenAIErrorFixtureName,
  extra: { headers?: Record<string, string>; delayMs?: number } = {},
): ErrorScript {
  return { kind: "error", status: loadHttpFixture(name).status, fixture: name, ...extra };
}

export type ErrorResponse = { status: number; headers: Record<string, string>; body: Buffer | string };

function encodeBody(body: unknown): Buffer | string {
  if (typeof body === "string" || Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body);
  return `${JSON.stringify(body, null, 4)}\n`;
}

/** Resolves an ErrorScript to status, headers and body. Script headers and body win over the fixture's. */
export function errorResponse(script: ErrorScript): ErrorResponse {
  const name = script.fixture ?? (script.body === undefined ? FIXTURE_FOR_STATUS[script.status] : undefined);
  if (name !== undefined) {
    const fixture = loadHttpFixture(name);
    return {
      status: script.status,
      headers: { ...fixture.headers, ...script.headers },
      body: script.body === undefined ? fixture.body : encodeBody(script.body),
    };
  }
  const type = script.status >= 500 ? "server_error" : "invalid_request_error";
  return {
    status: script.status,
    headers: { "content-type": "application/json; charset=utf-8", ...script.headers },
    body:
      script.body === undefined
        ? openAIErrorBody(`Fake upstream error (HTTP ${script.status}).`, type)
        : encodeBody(script.body),
  };
}
