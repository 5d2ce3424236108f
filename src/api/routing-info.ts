import type { MessageInitShape } from "@bufbuild/protobuf";
import { FinishReason } from "../../gen/switchyard/v1/generation_pb.ts";
import {
  AttemptOutcome,
  PolicyActionKind,
  PolicyStage,
  type RoutingInfoSchema,
} from "../../gen/switchyard/v1/routing_pb.ts";
import { UsageAccuracy, type UsageSchema } from "../../gen/switchyard/v1/usage_pb.ts";
import type { FinishReason as InternalFinish } from "../adapters/adapter.ts";
import type { MeteredUsage } from "../metering/meter.ts";
import type { RateLimitInfo } from "../policy/rate-limit.ts";
import type { Decision } from "./request-context.ts";

/** Why the serving backend served, in words, e.g. "priority: served by echo after openai failed (unavailable)". */
export function reasonOf(d: Decision): string {
  const failed = d.attempts.filter((a) => a.outcome !== "success");
  const parts = [`${d.variant ? `variant ${d.variant}, ` : ""}${d.strategy || "priority"}: `];
  parts.push(
    failed.length === 0
      ? "first eligible target"
      : `fallback after ${failed.map((a) => `${a.backend} failed (${a.errorKind})`).join(", ")}`,
  );
  if (d.downgradedFrom) {
    parts.push(`; downgraded from ${d.downgradedFrom.route} (budget ${d.downgradedFrom.budget} used up)`);
  }
  if (d.cached) parts.push("; answered from the response cache");
  if (d.skipped.length > 0)
    parts.push(`; skipped ${d.skipped.map((s) => `${s.backend} (${s.reason})`).join(", ")}`);
  return parts.join("");
}

const ACTION = {
  blocked: PolicyActionKind.BLOCKED,
  masked: PolicyActionKind.MASKED,
  flagged: PolicyActionKind.FLAGGED,
  denied: PolicyActionKind.DENIED,
  capped: PolicyActionKind.CAPPED,
  required: PolicyActionKind.REQUIRED,
} as const;
const STAGE = { input: PolicyStage.INPUT, output: PolicyStage.OUTPUT, request: PolicyStage.REQUEST } as const;

const OUTCOME = {
  success: AttemptOutcome.SUCCESS,
  failed: AttemptOutcome.FAILED,
  failed_after_commit: AttemptOutcome.FAILED_AFTER_COMMIT,
} as const;

export function routingInfo(
  d: Decision,
  servedModel: string | undefined,
): MessageInitShape<typeof RoutingInfoSchema> {
  return {
    route: d.route,
    backend: d.servedBy?.backend ?? "",
    model: servedModel ?? d.servedBy?.model ?? "",
    attempts: d.attempts.length,
    strategy: d.strategy,
    variant: d.variant ?? "",
    reason: reasonOf(d),
    attemptDetails: d.attempts.map((a) => ({
      backend: a.backend,
      model: a.model,
      outcome: OUTCOME[a.outcome],
      errorKind: a.errorKind ?? "",
      durationMs: a.durationMs,
    })),
    cached: d.cached,
    policyActions: d.policyActions.map((a) => ({
      policy: a.policy,
      rule: a.rule,
      action: ACTION[a.action],
      stage: STAGE[a.stage],
    })),
  };
}

export function usageInfo(u: MeteredUsage): MessageInitShape<typeof UsageSchema> {
  return {
    inputTokens: u.inputTokens,
    outputTokens: u.outputTokens,
    cachedInputTokens: u.cachedInputTokens,
    // The finer classes only when the provider reported them: set means exact, unset unknown.
    ...(u.reasoningTokens !== undefined ? { reasoningTokens: u.reasoningTokens } : {}),
    ...(u.cacheWriteTokens !== undefined ? { cacheWriteTokens: u.cacheWriteTokens } : {}),
    ...(u.cacheWrite1hTokens !== undefined ? { cacheWrite1hTokens: u.cacheWrite1hTokens } : {}),
    ...(u.audioInputTokens !== undefined ? { audioInputTokens: u.audioInputTokens } : {}),
    ...(u.imageInputTokens !== undefined ? { imageInputTokens: u.imageInputTokens } : {}),
    accuracy: u.accuracy === "exact" ? UsageAccuracy.EXACT : UsageAccuracy.ESTIMATED,
    ...(u.costMicroUsd !== undefined ? { costMicroUsd: BigInt(u.costMicroUsd) } : {}),
  };
}

export const FINISH: Record<InternalFinish, FinishReason> = {
  stop: FinishReason.STOP,
  length: FinishReason.LENGTH,
  tool_calls: FinishReason.TOOL_CALLS,
  content_filter: FinishReason.CONTENT_FILTER,
  other: FinishReason.OTHER,
};

/** Characters Node's HTTP layers refuse in a header value (they would fail the whole response). */
const NOT_HEADER_SAFE = /[^\t\x20-\x7e\x80-\xff]/g;

/** An upstream-supplied value (the served model name) made sendable as a header. */
function headerSafe(value: string): string {
  return value.replace(NOT_HEADER_SAFE, "?");
}

/** Routing and usage as trailers, so plain gRPC tooling (grpcurl, buf curl -v) sees them. */
export function setRoutingTrailers(
  trailers: Headers,
  d: Decision,
  servedModel: string | undefined,
  usage: MeteredUsage | undefined,
): void {
  if (d.route) trailers.set("x-switchyard-route", d.route);
  trailers.set("x-switchyard-attempts", String(d.attempts.length));
  if (d.servedBy) {
    trailers.set("x-switchyard-backend", d.servedBy.backend);
    trailers.set("x-switchyard-model", headerSafe(servedModel ?? d.servedBy.model));
  }
  if (usage) {
    if (usage.costMicroUsd !== undefined)
      trailers.set("x-switchyard-cost-micro-usd", String(usage.costMicroUsd));
    trailers.set("x-switchyard-input-tokens", String(usage.inputTokens));
    trailers.set("x-switchyard-output-tokens", String(usage.outputTokens));
    trailers.set("x-switchyard-usage-accuracy", usage.accuracy);
  }
}

/** x-ratelimit-* metadata: the tightest request and token buckets after this request's admission. */
export function setRateLimitHeaders(headers: Headers, info: RateLimitInfo | undefined): void {
  for (const kind of ["requests", "tokens"] as const) {
    const b = info?.[kind];
    if (!b) continue;
    headers.set(`x-ratelimit-limit-${kind}`, String(b.limit));
    headers.set(`x-ratelimit-remaining-${kind}`, String(b.remaining));
    headers.set(`x-ratelimit-reset-${kind}`, `${(b.resetMs / 1000).toFixed(3)}s`);
  }
}
