import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { GatewayError } from "../../errors/gateway-error.ts";

/** The gateway serves HTTP/1.1 and h2c on one port: handlers take either request type. */
export type HttpRequest = IncomingMessage | Http2ServerRequest;

/** Thrown by readBodyCapped when the body is larger than allowed; the caller renders it in its protocol. */
export class BodyTooLargeError extends Error {
  readonly maxBytes: number;
  constructor(maxBytes: number) {
    super(`request body is larger than the limit of ${maxBytes} bytes (server.limits.maxRequestBytes)`);
    this.maxBytes = maxBytes;
  }
}

/**
 * Reads the request body, counting bytes as they arrive: past `maxBytes` (or
 * a larger declared content-length) it rejects at once with BodyTooLargeError
 * and drains the rest without buffering it. Rejects with `cancelled` when the
 * caller goes away mid-body, and with the signal's reason when `signal` aborts
 * first (the call's deadline: a slow upload must not hold the call past it).
 */
export function readBodyCapped(req: HttpRequest, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    discardRest(req, maxBytes);
    return Promise.reject(new BodyTooLargeError(maxBytes));
  }
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onGone);
      req.off("close", onGone);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      cleanup();
      chunks.length = 0;
      discardRest(req, maxBytes);
      reject(signal?.reason);
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
      reject(new BodyTooLargeError(maxBytes));
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onGone = () => {
      cleanup();
      reject(new GatewayError("cancelled", "the caller went away while sending the request"));
    };
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onGone);
    req.once("close", onGone);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Most bytes dropped after an early refusal before the connection is cut. */
const DRAIN_CAP_BYTES = 64 * 1024 * 1024;

/**
 * After an early 413 (or a deadline that passed mid-upload), keep reading and dropping (never buffering) what the
 * client still sends: HTTP clients such as undici (fetch, the OpenAI SDK)
 * report a connection error instead of the 413 when the connection closes
 * while they upload. A client sending past a generous cap is cut off.
 */
export function discardRest(req: HttpRequest, maxBytes: number): void {
  const cap = Math.max(DRAIN_CAP_BYTES, 4 * maxBytes);
  let dropped = 0;
  req.on("data", (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > cap) req.destroy();
  });
  req.on("error", () => {}); // a reset while draining is expected, not a failure
  req.resume();
}
