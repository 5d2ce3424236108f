import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { BodyTooLargeError, type HttpRequest, readBodyCapped } from "../../server/http/read-body.ts";
import { responseGone, type WritableResponse } from "../../server/http/response-gone.ts";
import { OpenAIRequestError } from "./errors.ts";

export type { HttpRequest };
/** What the facade uses of a response; http.ServerResponse and http2.Http2ServerResponse both have it. */
export interface HttpResponse extends WritableResponse {
  readonly headersSent: boolean;
  readonly writableFinished: boolean;
  /** True while written bytes wait for the caller to take them (its window or socket buffer is full). */
  readonly writableNeedDrain: boolean;
  destroy(): unknown;
  writeHead(status: number, headers: OutgoingHttpHeaders): unknown;
  write(chunk: string): boolean;
  addTrailers(headers: OutgoingHttpHeaders): void;
  end(): unknown;
  on(event: "close" | "drain", listener: () => void): unknown;
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;

/** The request body (JSON only), bounded by `maxBytes`: 415 for another type, 413 past the limit. */
export async function readBody(req: HttpRequest, maxBytes: number): Promise<Buffer> {
  const type = req.headers["content-type"];
  if (type === undefined || !JSON_TYPE.test(type)) {
    throw new OpenAIRequestError(
      "invalid_argument",
      `unsupported content-type ${type === undefined ? "(none)" : JSON.stringify(type.slice(0, 80))}: send application/json`,
      { status: 415 },
    );
  }
  try {
    return await readBodyCapped(req, maxBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) throw new OpenAIRequestError("message_too_large", error.message);
    throw error;
  }
}

/** Strict JSON (UTF-8, a single object), with an error that says where it broke and never echoes the body. */
export function parseJsonObject(bytes: Buffer): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new OpenAIRequestError("invalid_argument", "request body is not valid UTF-8");
  }
  if (text.trim() === "")
    throw new OpenAIRequestError("invalid_argument", "request body is empty: send a JSON object");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new OpenAIRequestError("invalid_argument", `request body is not valid JSON: ${where(text, error)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new OpenAIRequestError("invalid_argument", "request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

/** V8's message may quote part of the input: keep its reason and position (or the one bad character) only. */
function where(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  const token = /^Unexpected token '(.)'/u.exec(message)?.[1];
  if (token !== undefined) return `unexpected character ${JSON.stringify(token)}`;
  const at = /^(.*?)(?: in JSON)? at position (\d+)/.exec(message);
  if (!at) return "unexpected end of input";
  const position = Number(at[2]);
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  const column = position - before.lastIndexOf("\n");
  const reason = at[1]!.charAt(0).toLowerCase() + at[1]!.slice(1);
  return `${reason} at line ${line}, column ${column}`;
}

/** The OpenAI SDKs send their own timeout (whole seconds) in x-stainless-timeout; it bounds the deadline. */
export function callerTimeoutMs(headers: IncomingHttpHeaders): number | undefined {
  const raw = headers["x-stainless-timeout"];
  const seconds = typeof raw === "string" && /^\d{1,7}$/.test(raw) ? Number(raw) : 0;
  return seconds > 0 ? seconds * 1000 : undefined;
}

/** Writes a complete JSON response, unless the response already started or the caller is gone. */
export function sendJson(
  res: HttpResponse,
  status: number,
  headers: Record<string, string>,
  body: unknown,
): void {
  if (res.headersSent || responseGone(res)) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
  });
  res.write(text);
  res.end();
}
