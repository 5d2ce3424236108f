import { Code, ConnectError } from "@connectrpc/connect";
import { catalog } from "./catalog.ts";
import { GatewayError } from "./gateway-error.ts";

/**
 * The one place a ConnectError is built. Known failures keep their reason and
 * message; anything else becomes INTERNAL with only the request id, so an
 * unexpected exception never leaks details to the caller.
 */
export function toConnectError(error: unknown, requestId: string): ConnectError {
  if (error instanceof ConnectError) return error; // raised by connect itself (size limits, deadlines)
  if (error instanceof GatewayError) {
    const out = new ConnectError(error.message, catalog[error.reason].code);
    out.metadata.set("x-switchyard-reason", error.reason);
    if (error.retryAfterMs !== undefined) {
      out.metadata.set("retry-after-ms", String(Math.ceil(error.retryAfterMs)));
    }
    return out;
  }
  const out = new ConnectError(`internal error (request id ${requestId})`, Code.Internal);
  out.metadata.set("x-switchyard-reason", "internal");
  return out;
}
