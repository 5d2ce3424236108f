// Gemini API error responses for the fake: byte-exact fixtures (test/fixtures/gemini/<name>.http) and the
// serializer for google.rpc.Status errors the fake generates itself (validation, auth, routes).
import { readFileSync } from "node:fs";
import type { HttpFixture } from "./openai-errors.ts";

export const GEMINI_ERROR_FIXTURES = [
  "invalid_argument",
  "api_key_invalid",
  "permission_denied",
  "not_found",
  "resource_exhausted",
  "internal",
  "unavailable",
  "deadline_exceeded",
] as const;
export type GeminiErrorFixtureName = (typeof GEMINI_ERROR_FIXTURES)[number];

const FIXTURE_DIR = new URL("../fixtures/gemini/", import.meta.url);
const cache = new Map<string, HttpFixture>();

/** The fixture used when an error script gives neither `fixture` nor `body`. */
const FIXTURE_FOR_STATUS: Record<number, GeminiErrorFixtureName> = {
  400: "invalid_argument",
  403: "permission_denied",
  404: "not_found",
  429: "resource_exhausted",
  500: "internal",
  503: "unavailable",
  504: "deadline_exceeded",
};

/** The canonical google.rpc.Code name the Gemini API puts in `error.status` for an HTTP status. */
const STATUS_NAME: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ABORTED",
  429: "RESOURCE_EXHAUSTED",
  499: "CANCELLED",
  500: "INTERNAL",
  501: "NOT_IMPLEMENTED",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

export function isGeminiErrorFixtureName(name: string): name is GeminiErrorFixtureName {
  return (GEMINI_ERROR_FIXTURES as readonly string[]).includes(name);
}

/** Reads `test/fixtures/gemini/<name>.<ext>` as raw bytes. */
export function readGeminiFixture(file: string): Buffer {
  return readFileSync(new URL(file, FIXTURE_DIR));
}

/** Parses `<name>.http`: status line, headers, blank line, body bytes (trailing newline included). */
export function loadGeminiHttpFixture(name: string): HttpFixture {
  const cached = cache.get(name);
  if (cached) return cached;
  const raw = readGeminiFixture(`${name}.http`);
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

/** Splits a recorded `.sse` stream into its events, each with its own terminator bytes. */
export function loadGeminiSseFixture(name: string): string[] {
  const text = readGeminiFixture(`${name}.sse`).toString("utf8");
  return text.split(/(?<=\r\n\r\n|\n\n)/).filter((event) => event.trim() !== "");
}

/** A google.rpc.Status body the way the Gemini API writes one: 2-space indented JSON and a newline. */
export function googleErrorBody(code: number, message: string, details?: unknown[]): string {
  const error: Record<string, unknown> = { code, message, status: STATUS_NAME[code] ?? "UNKNOWN" };
  if (details !== undefined) error.details = details;
  return `${JSON.stringify({ error }, null, 2)}\n`;
}

export type GeminiErrorResponse = { status: number; headers: Record<string, string>; body: Buffer | string };

/** Resolves an error script; script headers and body win over the fixture's. */
export function geminiErrorResponse(script: {
  status: number;
  fixture?: GeminiErrorFixtureName | undefined;
  body?: unknown;
  headers?: Record<string, string> | undefined;
}): GeminiErrorResponse {
  const name = script.fixture ?? (script.body === undefined ? FIXTURE_FOR_STATUS[script.status] : undefined);
  const base = name === undefined ? undefined : loadGeminiHttpFixture(name);
  const body =
    script.body === undefined
      ? (base?.body ?? googleErrorBody(script.status, `Fake upstream error (HTTP ${script.status}).`))
      : encodeBody(script.body);
  return {
    status: script.status,
    headers: {
      ...(base?.headers ?? { "content-type": "application/json; charset=UTF-8" }),
      ...script.headers,
    },
    body,
  };
}

function encodeBody(body: unknown): Buffer | string {
  if (typeof body === "string" || Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body);
  return `${JSON.stringify(body, null, 2)}\n`;
}
