import type { RequestContext } from "../api/request-context.ts";
import type { CompiledTarget } from "../config/compile.ts";
import type { Outcome } from "../pipeline/outcome.ts";
import type { UsageRecord } from "../store/store.ts";
import { MAX_END_USER_ID, MAX_SERVICE_TIER } from "../store/validate.ts";
import { bounded } from "../telemetry/bounded.ts";
import { INTERRUPTED_STATUS } from "./journal-lines.ts";
import type { MeteredUsage } from "./meter.ts";

/** The ledger status of a request answered from the response cache (the outcome itself is ok). */
export const CACHED_STATUS = "cached";

/** The one ledger record of a request that reached an upstream (or the cache), from its outcome. */
export function usageRecordOf(ctx: RequestContext, outcome: Outcome): UsageRecord {
  const d = ctx.decision;
  const u = outcome.usage;
  const served = d.servedBy ?? d.attempts.at(-1);
  const status = outcome.cached && outcome.status === "ok" ? CACHED_STATUS : outcome.status;
  return {
    ...whoAndWhat(ctx),
    backend: served?.backend ?? null,
    model: served?.model ?? null,
    status,
    ...tokenClasses(u),
    costMicroUsd: u?.costMicroUsd ?? null,
    accuracy: u?.accuracy ?? "estimated",
    attempts: d.attempts.length,
    latencyMs: Math.round(performance.now() - ctx.timing.start),
    ttftMs:
      ctx.timing.firstContentAt === undefined
        ? null
        : Math.round(ctx.timing.firstContentAt - ctx.timing.start),
    serviceTier: u?.serviceTier === undefined ? null : bounded(u.serviceTier, MAX_SERVICE_TIER),
  };
}

/** Each token class as the provider reported it (0 for a class it did not report). */
function tokenClasses(u: MeteredUsage | undefined) {
  return {
    inputTokens: u?.inputTokens ?? 0,
    outputTokens: u?.outputTokens ?? 0,
    cachedInputTokens: u?.cachedInputTokens ?? 0,
    cacheWriteTokens: u?.cacheWriteTokens ?? 0,
    cacheWrite1hTokens: u?.cacheWrite1hTokens ?? 0,
    reasoningTokens: u?.reasoningTokens ?? 0,
    audioInputTokens: u?.audioInputTokens ?? 0,
    imageInputTokens: u?.imageInputTokens ?? 0,
  };
}

/**
 * The row a request leaves if the gateway dies while it is in flight, built as its first attempt
 * starts: the target of that attempt, and the admission estimate (input estimate + the output it
 * may produce: max output tokens, 512 when unset), priced at that target. Latency is unknown (0).
 */
export function interruptedRecordOf(
  ctx: RequestContext,
  target: CompiledTarget,
  estimate: MeteredUsage,
): UsageRecord {
  return {
    ...whoAndWhat(ctx),
    backend: target.backend.name,
    model: target.model,
    status: INTERRUPTED_STATUS,
    ...tokenClasses(estimate),
    costMicroUsd: estimate.costMicroUsd ?? null,
    accuracy: "estimated",
    attempts: 1,
    latencyMs: 0,
    ttftMs: null,
    serviceTier: null,
  };
}

/**
 * The fields every row of a request shares, whatever its outcome: who asked (the end user it named,
 * bounded like every client string), for what, over which protocol.
 */
function whoAndWhat(ctx: RequestContext) {
  return {
    requestId: ctx.id,
    time: new Date(ctx.startedAt),
    keyId: ctx.principal?.keyId ?? null,
    team: ctx.principal?.team ?? null,
    workload: ctx.workload,
    route: ctx.decision.route,
    protocol: ctx.protocol,
    operation: ctx.operation,
    endUserId: ctx.endUserId ? bounded(ctx.endUserId, MAX_END_USER_ID) : null,
  };
}
