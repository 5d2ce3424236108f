import { GatewayError } from "../errors/gateway-error.ts";
import type { RequestContext } from "./request-context.ts";

/**
 * The one log line per request, written when it ends (after the last streamed
 * chunk). Allowlisted fields only: ids, names, counts, timings — never a key,
 * prompt or output.
 */
export function logRequest(ctx: RequestContext, failure: unknown): void {
  const d = ctx.decision;
  const status = failure === undefined ? "ok" : failure instanceof GatewayError ? failure.reason : "internal";
  const line = {
    requestId: ctx.id,
    operation: ctx.operation,
    workload: ctx.workload,
    route: d.route || undefined,
    variant: d.variant,
    strategy: d.strategy || undefined,
    backend: d.servedBy?.backend,
    model: d.servedBy?.model,
    attempts: d.attempts.length,
    attemptDetails: d.attempts.length > 0 ? d.attempts : undefined,
    skipped: d.skipped.length > 0 ? d.skipped : undefined,
    committed: ctx.operation === "generate_stream" ? d.committed : undefined,
    status,
    latencyMs: Date.now() - ctx.startedAt,
    inputTokens: ctx.usage?.inputTokens,
    outputTokens: ctx.usage?.outputTokens,
    usageAccuracy: ctx.usage?.accuracy,
  };
  if (status === "internal") ctx.logger.error({ ...line, err: failure }, "request failed unexpectedly");
  else ctx.logger.info(line, "request");
}
