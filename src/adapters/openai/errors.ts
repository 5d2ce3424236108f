import { UpstreamError } from "../../errors/upstream-error.ts";
import { kindForHttpStatus, parseRetryAfter } from "../../upstream/classify.ts";
import type { HttpResponse } from "../../upstream/http-pool.ts";

const MAX_ERROR_BODY = 64 * 1024;

/**
 * Reads an OpenAI-style error response ({"error": {message, type, code}}) into
 * an UpstreamError. The provider's message is kept for the operator's logs;
 * it is bounded and never includes our request (so no secret or prompt).
 */
export async function errorFromResponse(backend: string, response: HttpResponse): Promise<UpstreamError> {
  const text = await readBounded(response);
  let type = "";
  let code = "";
  let message = "";
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string; type?: string; code?: string | null } };
    type = parsed.error?.type ?? "";
    code = parsed.error?.code ?? "";
    message = parsed.error?.message ?? "";
  } catch {
    // Not JSON (a proxy's HTML page, say): the status alone classifies it.
  }
  let kind = kindForHttpStatus(response.status);
  // insufficient_quota is a billing problem of the gateway's account, not a transient limit.
  if (response.status === 429 && (code === "insufficient_quota" || type === "insufficient_quota"))
    kind = "auth";
  // Auth errors can quote part of our key ("Incorrect API key provided: sk-ab***"): keep only the code.
  const shown = kind === "auth" ? "" : message.slice(0, 200);
  const detail = [code || type, shown].filter(Boolean).join(": ");
  return new UpstreamError(
    kind,
    `${backend} answered HTTP ${response.status}${detail ? ` (${detail})` : ""}`,
    {
      status: response.status,
      retryAfterMs: parseRetryAfter(response.headers),
    },
  );
}

async function readBounded(response: HttpResponse): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_ERROR_BODY) break;
      chunks.push(chunk as Buffer);
    }
  } catch {
    // A body cut short still classifies by status.
  } finally {
    response.body.destroy();
  }
  return Buffer.concat(chunks).toString("utf8");
}
