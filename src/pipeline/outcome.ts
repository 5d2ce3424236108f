import { Code, ConnectError } from "@connectrpc/connect";
import type { RequestContext } from "../api/request-context.ts";
import type { Reason } from "../errors/catalog.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import type { MeteredUsage } from "../metering/meter.ts";

/**
 * How one request ended, computed once (at settlement, or by the front door for a request refused
 * before admission) and read by everything that reports it: the ledger row, every policy's settle,
 * the log line, the span and the metrics — so they cannot disagree on a failed request's status.
 */
export type Outcome = {
  status: "ok" | Reason;
  /** The failure as thrown (undefined on success); `status` is what to report. */
  failure: unknown;
  /** Settled usage (exact, or partial and estimated); undefined when nothing was metered. */
  usage: MeteredUsage | undefined;
  /** Served from the response cache: no upstream was asked, nothing is owed upstream. */
  cached: boolean;
};

export function outcomeOf(ctx: RequestContext, failure: unknown): Outcome {
  return { status: statusOf(ctx, failure), failure, usage: ctx.usage, cached: ctx.decision.cached };
}

/**
 * The one status computation. A gateway error is its own reason. Anything else after the caller's
 * signal fired is the caller leaving (cancelled, or deadline_exceeded if its deadline is why), not a
 * fault of ours; anything else is internal.
 */
export function statusOf(ctx: RequestContext, failure: unknown): "ok" | Reason {
  if (failure === undefined) return "ok";
  if (failure instanceof GatewayError) return failure.reason;
  if (!ctx.signal.aborted) return "internal";
  return abandoned(ctx).reason;
}

/**
 * Why a request stopped without a failure of its own. A client whose deadline passes often resets
 * the call a moment before our timer fires, so a call past its caller's deadline is deadline_exceeded
 * whatever reached us first (as routing/deadline.ts decides it).
 */
export function abandoned(ctx: RequestContext, now = Date.now()): GatewayError {
  const reason: unknown = ctx.signal.reason;
  if (reason instanceof GatewayError) return reason;
  const pastDeadline = ctx.callerTimeoutMs !== undefined && now >= ctx.startedAt + ctx.callerTimeoutMs;
  if (pastDeadline || (reason instanceof ConnectError && reason.code === Code.DeadlineExceeded))
    return new GatewayError("deadline_exceeded", "the request's deadline passed");
  return new GatewayError("cancelled", "the caller went away before the request ended");
}
