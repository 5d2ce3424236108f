// Anthropic error responses for the fake: byte-exact fixtures (test/fixtures/anthropic/<name>.http) and the
// serializer for errors the fake generates itself (validation, auth, unknown routes).
import { readFileSync } from "node:fs";
import type { ErrorScript } from "./anthropic-fake.ts";
import { requestId } from "./anthropic-wire.ts";

export const ANTHROPIC_ERROR_FIXTURES = [
  "invalid_request_error",
  "authentication_error",
  "permission_error",
  "not_found_error",
  "request_too_large",
  "rate_limit_error",
  "api_error",
  "overloaded_error",
] as const;
export type AnthropicErrorFixtureName = (typeof ANTHROPIC_ERROR_FIXTURES)[number];

/** A recorded HTTP response: status, headers (lower-case names) and the exact body bytes. */
export type HttpFixture = { status: number; headers: Record<string, string>; body: Buffer };

const FIXTURE_DIR = new URL("../fixtures/anthropic/", import.meta.url);
const cache = new Map<string, HttpFixture>();

/** The fixture used when an ErrorScript gives neither `fixture` nor `body`. */
const FIXTURE_FOR_STATUS: Record<number, AnthropicErrorFixtureName> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

export function isErrorFixtureName(name: string): name is AnthropicErrorFixtureName {
  return (ANTHROPIC_ERROR_FIXTURES as readonly string[]).includes(name);
}

/** Reads `test/fixtures/anthropic/<name>.http`: status line, headers, blank line, body bytes. */
export function loadAnthropicFixture(name: string): HttpFixture {
  const cached = cache.get(name);
  if (cached) return cached;
  const raw = readFileSync(new URL(`${name}.http`, FIXTURE_DIR));
  const headEnd = raw.indexOf("\n\n");
  if (headEnd === -1) throw new Error(`fixture ${name}.http has no blank line after the headers`);
  const [statusLine = "", ...lines] = raw.subarray(0, headEnd).toString("latin1").split("\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!Number.isInteger(status)) throw new Error(`fixture ${name}.http: bad status line ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const fixture = { status, headers, body: raw.subarray(headEnd + 2) };
  cache.set(name, fixture);
  return fixture;
}

/** Serializes an error the way api.anthropic.com does: compact JSON, no trailing newline. */
export function anthropicErrorBody(type: string, message: string, id: string = requestId()): string {
  return JSON.stringify({ type: "error", error: { type, message }, request_id: id });
}

/** An ErrorScript serving a fixture with its recorded status and headers, plus optional extras. */
export function anthropicError(
  name: AnthropicErrorFixtureName,
  extra: { headers?: Record<string, string>; delayMs?: number } = {},
): ErrorScript {
  return { kind: "error", status: loadAnthropicFixture(name).status, fixture: name, ...extra };
}

export type ErrorResponse = { status: number; headers: Record<string, string>; body: Buffer | string };

/** Resolves an ErrorScript to status, headers and body. Script headers and body win over the fixture's. */
export function errorResponse(script: ErrorScript): ErrorResponse {
  const name = script.fixture ?? (script.body === undefined ? FIXTURE_FOR_STATUS[script.status] : undefined);
  const encode = (body: unknown): Buffer | string =>
    typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  if (name !== undefined) {
    const fixture = loadAnthropicFixture(name);
    return {
      status: script.status,
      headers: { ...fixture.headers, ...script.headers },
      body: script.body === undefined ? fixture.body : encode(script.body),
    };
  }
  const id = requestId();
  const type = script.status >= 500 ? "api_error" : "invalid_request_error";
  return {
    status: script.status,
    headers: { "content-type": "application/json", "request-id": id, ...script.headers },
    body:
      script.body === undefined
        ? anthropicErrorBody(type, `Fake upstream error (HTTP ${script.status}).`, id)
        : encode(script.body),
  };
}
