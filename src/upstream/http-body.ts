import { UpstreamError } from "../errors/upstream-error.ts";
import { classifyNetworkError } from "./classify.ts";
import type { HttpResponse } from "./http-pool.ts";

const MAX_ERROR_BODY = 64 * 1024;

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
