import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { GatewayError } from "../errors/gateway-error.ts";
import { toConnectError } from "../errors/to-connect-error.ts";

/**
 * For services whose handlers write no request log line of their own (AdminService): a catalog
 * refusal thrown by a helper (e.g. a Timestamp out of range) answers with its own status instead of
 * connect's INTERNAL, and a refused argument is logged with the RPC's path and its reason only
 * (never the message, which may quote what the caller sent).
 */
export function refusalInterceptor(onRefused: (path: string, reason: string) => void): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (error) {
      const out = error instanceof GatewayError ? toConnectError(error, "") : error;
      if (out instanceof ConnectError && out.code === Code.InvalidArgument)
        onRefused(
          `/${req.service.typeName}/${req.method.name}`,
          out.metadata.get("x-switchyard-reason") ?? "invalid_argument",
        );
      throw out;
    }
  };
}
