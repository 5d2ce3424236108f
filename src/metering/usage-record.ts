import type { RequestContext } from "../api/request-context.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import type { UsageRecord } from "../store/store.ts";

/** The one ledger record of a request that reached an upstream, from its settled context. */
export function usageRecordOf(ctx: RequestContext, failure: unknown): UsageRecord {
  const d = ctx.decision;
  const u = ctx.usage;
  const served = d.servedBy ?? d.attempts.at(-1);
  const status =
    failure === undefined
      ? "ok"
      : failure instanceof GatewayError
        ? failure.reason
        : ctx.signal.aborted
          ? "cancelled"
          : "internal";
  return {
    requestId: ctx.id,
    time: new Date(ctx.startedAt),
    keyId: ctx.principal?.keyId ?? null,
    team: ctx.principal?.team ?? null,
    workload: ctx.workload,
    route: d.route,
    backend: served?.backend ?? null,
    model: served?.model ?? null,
    protocol: ctx.protocol,
    operation: ctx.operation,
    status,
    inputTokens: u?.inputTokens ?? 0,
    outputTokens: u?.outputTokens ?? 0,
    cachedInputTokens: u?.cachedInputTokens ?? 0,
    costMicroUsd: u?.costMicroUsd ?? null,
    accuracy: u?.accuracy ?? "estimated",
    attempts: d.attempts.length,
    latencyMs: Math.round(performance.now() - ctx.timing.start),
    ttftMs:
      ctx.timing.firstContentAt === undefined
        ? null
        : Math.round(ctx.timing.firstContentAt - ctx.timing.start),
  };
}
