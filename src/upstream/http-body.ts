import { UpstreamError } from "../errors/upstream-error.ts";
import { classifyNetworkError } from "./classify.ts";
import type { HttpResponse } from "./http-pool.ts";

const MAX_ERROR_BODY = 64 * 1024;

/** After an end marker: how long the rest of the response may take, and how much of it is read, before the cut. */
const DRAIN_MS = 1000;
const DRAIN_BYTES = 64 * 1024;

/**
 * Gives an upstream response body back once the adapter is done with it. A
 * stream read up to its end marker ([DONE], message_stop) is drained: the end
 * of the response follows at once and the connection goes back to the pool,
 * with no abort and no error object built (undici makes one, with a stack
 * trace, for a body destroyed before its end). An upstream that keeps the
 * response open past DRAIN_MS or sends more than DRAIN_BYTES after its marker
 * is cut off, so it cannot hold a pooled connection (or shutdown). Anything
 * else (a failure, a caller who left) is destroyed at once, which aborts the
 * upstream request.
 */
export function releaseBody(response: HttpResponse, complete: boolean): void {
  const body = response.body;
  if (body.destroyed || body.readableEnded) return;
  if (!complete) {
    body.destroy();
    return;
  }
  const cut = () => body.destroy();
  const timer = setTimeout(cut, DRAIN_MS).unref();
  let tail = 0;
  body.on("data", (chunk: Buffer) => {
    tail += chunk.length;
    if (tail > DRAIN_BYTES) cut();
  });
  body.on("error", () => {}); // a cut drain is expected, not a failure
  body.once("close", () => clearTimeout(timer));
  body.resume();
}

/** A success body as JSON; a cut body or non-JSON text becomes a classified UpstreamError. */
export async function readJson(
  backend: string,
  response: HttpResponse,
  signal: AbortSignal,
): Promise<unknown> {
  let text: string;
  try {
    text = await response.body.text();
  } catch (error) {
    throw classifyNetworkError(error, signal);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UpstreamError(
      "protocol",
      `${backend} answered HTTP ${response.status} with a body that is not JSON`,
    );
  }
}

/**
 * An error body as text, at most 64 KiB (a misbehaving proxy cannot make us buffer without bound);
 * the body is always released. A body cut short yields what arrived: the status still classifies it.
 */
export async function readErrorBody(response: HttpResponse): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_ERROR_BODY) break;
      chunks.push(chunk as Buffer);
    }
  } catch {
    // cut short: keep what arrived
  } finally {
    response.body.destroy();
  }
  return Buffer.concat(chunks).toString("utf8");
}
