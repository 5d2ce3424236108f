import type { IncomingHttpHeaders } from "node:http";
import { requestHeaders } from "../../server/http/request-headers.ts";

/**
 * The caller's headers for the request context, with Anthropic's `x-api-key` read as the
 * Switchyard key: the authenticator reads `authorization: Bearer`, so an x-api-key is presented
 * to it that way. When both are sent, `authorization` wins (it is what every other front door reads).
 */
export function anthropicRequestHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = requestHeaders(raw);
  const key = headers.get("x-api-key")?.trim();
  if (key && !headers.has("authorization")) headers.set("authorization", `Bearer ${key}`);
  return headers;
}
