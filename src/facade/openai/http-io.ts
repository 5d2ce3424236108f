import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { GatewayError } from "../../errors/gateway-error.ts";
import { OpenAIRequestError } from "./errors.ts";

/** The gateway serves HTTP/1.1 and h2c on one port: the facade takes either. */
export type HttpRequest = IncomingMessage | Http2ServerRequest;
/** What the facade uses of a response; http.ServerResponse and http2.Http2ServerResponse both have it. */
export interface HttpResponse {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  readonly writableFinished: boolean;
  writeHead(status: number, headers: OutgoingHttpHeaders): unknown;
  write(chunk: string): boolean;
  end(): unknown;
  on(event: "close" | "drain", listener: () => void): unknown;
  once(event: "close" | "drain", listener: () => void): unknown;
  off(event: "close" | "drain", listener: () => void): unknown;
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;

/**
 * Reads the request body, counting bytes as they arrive: past `maxBytes` it
 * rejects at once (413) without buffering the rest. Rejects with `cancelled`
 * when the caller goes away mid-body.
 */
export function readBody(req: HttpRequest, maxBytes: number): Promise<Buffer> {
  const type = req.headers["content-type"];
  if (type === undefined || !JSON_TYPE.test(type)) {
    return Promise.reject(
      new OpenAIRequestError(
        "invalid_argument",
        `unsupported content-type ${type === undefined ? "(none)" : JSON.stringify(type.slice(0, 80))}: send application/json`,
        { status: 415 },
      ),
    );
  }
  const tooLarge = () =>
    new OpenAIRequestError(
      "message_too_large",
      `request body is larger than the limit of ${maxBytes} bytes (server.limits.maxRequestBytes)`,
    );
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    discardRest(req, maxBytes);
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onGone);
      req.off("close", onGone);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      cleanup();
      chunks.length = 0;
      discardRest(req, maxBytes);
      reject(tooLarge());
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onGone = () => {
      cleanup();
      reject(new GatewayError("cancelled", "the caller went away while sending the request"));
    };
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onGone);
    req.once("close", onGone);
  });
}

/** Most bytes dropped after an early 413 before the connection is cut. */
const DRAIN_CAP_BYTES = 64 * 1024 * 1024;

/**
 * After an early 413, keep reading and dropping (never buffering) what the
 * client still sends: HTTP clients such as undici (fetch, the OpenAI SDK)
 * report a connection error instead of the 413 when the connection closes
 * while they upload. A client sending past a generous cap is cut off.
 */
function discardRest(req: HttpRequest, maxBytes: number): void {
  const cap = Math.max(DRAIN_CAP_BYTES, 4 * maxBytes);
  let dropped = 0;
  req.on("data", (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > cap) req.destroy();
  });
  req.on("error", () => {}); // a reset while draining is expected, not a failure
  req.resume();
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

/** The caller's headers as a Headers object (HTTP/2 pseudo-headers left out). */
export function requestHeaders(raw: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (name.startsWith(":") || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      try {
        out.append(name, v);
      } catch {
        // a value Headers refuses (Node accepted it); routing and auth never need it
      }
    }
  }
  return out;
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
  if (res.headersSent || res.destroyed || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
  });
  res.write(text);
  res.end();
}
