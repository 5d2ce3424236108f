import { randomUUID } from "node:crypto";
import { createContextKey } from "@connectrpc/connect";
import type { Span } from "@opentelemetry/api";
import type { MeteredUsage } from "../metering/meter.ts";
import type { Outcome } from "../pipeline/outcome.ts";
import type { Principal } from "../policy/principal.ts";
import type { RateLimitInfo } from "../policy/rate-limit.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { RequestTelemetry } from "../telemetry/request-telemetry.ts";

/** Set on a call the overload guard already let in at the front door (before its body was read), so it is not drawn again. */
export const ADMITTED = createContextKey(false, { description: "admitted by the overload guard" });

export type AttemptRecord = {
  backend: string;
  model: string;
  outcome: "success" | "failed" | "failed_after_commit";
  errorKind: string | undefined;
  error: string | undefined;
  durationMs: number;
};

/**
 * What a policy did to a request, for the routing info, the log line, the audit log and metrics:
 * the rule's id (config text, never the matched content) and the action taken.
 */
export type PolicyAction = {
  policy: string;
  rule: string;
  action: "blocked" | "masked" | "flagged" | "denied" | "capped" | "required";
  stage: "input" | "output" | "request";
};

/** Why the request went where it went: feeds trailers, the final event, the log line (and later spans and audit). */
export type Decision = {
  route: string;
  /** The route variant whose conditions matched, if any. */
  variant: string | undefined;
  strategy: string;
  /** Targets skipped without an attempt, with why. */
  skipped: { backend: string; model: string; reason: string }[];
  attempts: AttemptRecord[];
  /** The target that served (committed); `provider` is its backend type. */
  servedBy: { backend: string; model: string; provider: string } | undefined;
  committed: boolean;
  /** Set when a used-up budget moved the request to the route's budgetDowngrade workload. */
  downgradedFrom?: { route: string; budget: string };
  /** Answered from the response cache (no upstream asked). */
  cached: boolean;
  /** Guardrail blocks and masks, rule denials and caps, in the order they happened. */
  policyActions: PolicyAction[];
};

export type RequestContext = {
  id: string;
  /** Who is calling; set by authentication (the first policy). */
  principal: Principal | undefined;
  /** True when the front door already passed the call through load shedding. */
  admitted: boolean;
  /** The caller's request headers (metadata). Never logged: they carry the API key. */
  headers: Headers;
  operation: "generate" | "generate_stream" | "embed" | "list_models";
  /** Client protocol: "grpc", "grpc_web", "connect" or "openai" (for logs and the ledger only). */
  protocol: string;
  workload: string;
  /** The model the caller asked for ("" = the route chooses). */
  requestedModel: string;
  /** The end user the caller named (end_user_id / user), for the ledger; unbounded here. */
  endUserId?: string | undefined;
  /** Caller cancel (and the caller's own deadline, as connect enforces it). */
  signal: AbortSignal;
  /** The caller's timeout in ms, if it sent one. */
  callerTimeoutMs: number | undefined;
  /** Aborts once the request's deadline passes (or the caller goes away); set at admission. */
  deadlineSignal: AbortSignal | undefined;
  startedAt: number;
  logger: Logger;
  decision: Decision;
  /** Settled by the pipeline once an upstream was reached (partial on failure). */
  usage: MeteredUsage | undefined;
  /** Model the provider reported serving, and the finish reason, once known. */
  servedModel: string | undefined;
  finishReason: string | undefined;
  telemetry: RequestTelemetry;
  span: Span | undefined;
  /** Remaining/reset of the tightest rate-limit buckets, for the x-ratelimit-* response metadata. */
  rateLimit: RateLimitInfo | undefined;
  /** True once settlement ran (it runs exactly once). */
  settled: boolean;
  /** How the request ended, computed once at settlement (outcome.ts); the log line reads it. */
  outcome: Outcome | undefined;
  /** performance.now() marks; upstreamMs sums the time spent waiting on upstreams. */
  timing: {
    start: number;
    upstreamMs: number;
    firstContentAt: number | undefined;
    lastContentAt: number | undefined;
  };
};

export function newDecision(): Decision {
  return {
    route: "",
    variant: undefined,
    strategy: "",
    skipped: [],
    attempts: [],
    servedBy: undefined,
    committed: false,
    cached: false,
    policyActions: [],
  };
}

/** A fresh context for one request; a `RequestLifecycle` (request-lifecycle.ts) over it is the caller's next step. */
export function createRequestContext(init: {
  operation: RequestContext["operation"];
  protocol: string;
  workload: string;
  requestedModel: string;
  headers: Headers;
  signal: AbortSignal;
  callerTimeoutMs: number | undefined;
  logger: Logger;
  telemetry: RequestTelemetry;
  admitted?: boolean;
}): RequestContext {
  return {
    ...init,
    admitted: init.admitted ?? false,
    id: randomUUID(),
    principal: undefined,
    deadlineSignal: undefined,
    startedAt: Date.now(),
    decision: newDecision(),
    usage: undefined,
    servedModel: undefined,
    finishReason: undefined,
    span: undefined,
    rateLimit: undefined,
    settled: false,
    outcome: undefined,
    timing: { start: performance.now(), upstreamMs: 0, firstContentAt: undefined, lastContentAt: undefined },
  };
}
