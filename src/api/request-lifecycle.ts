import { Code, ConnectError } from "@connectrpc/connect";
import { GatewayError } from "../errors/gateway-error.ts";
import type { RequestTelemetry } from "../telemetry/request-telemetry.ts";
import type { RequestContext } from "./request-context.ts";

type HeaderSource = { forEach(fn: (value: string, key: string) => void): void };

/**
 * One request's telemetry from its start at a front door to its end: the
 * server span starts and the in-flight gauge goes up when it is made; the
 * span ends, the request log line is written and the gauge goes down exactly
 * once, on the first `end` — or in the front door's `finally` through
 * `close`, whatever stopped the request (an answer, an error, a caller who
 * stopped reading a stream, a deadline, a bug). Every front door (the
 * InferenceService handlers, also when the fast path serves them, and the
 * OpenAI facade) owns one per request, and this is the only caller of
 * `telemetry.finish`, so none can forget the line or count a request twice.
 */
export class RequestLifecycle {
  readonly ctx: RequestContext;
  readonly #telemetry: RequestTelemetry;
  /** The server-timing value, set once the request ended. */
  #timing: string | undefined;

  constructor(ctx: RequestContext, telemetry: RequestTelemetry, incoming: HeaderSource, spanName: string) {
    this.ctx = ctx;
    this.#telemetry = telemetry;
    telemetry.begin(ctx, incoming, spanName);
  }

  get ended(): boolean {
    return this.#timing !== undefined;
  }

  /**
   * Ends the request (log line, span, in-flight) on the first call; later calls change nothing.
   * Returns the server-timing value (`gateway;dur=…, upstream;dur=…`).
   */
  end(failure: unknown): string {
    if (this.#timing !== undefined) return this.#timing;
    const { totalMs, upstreamMs } = this.#telemetry.finish(this.ctx, outcomeOf(this.ctx, failure));
    this.#timing = `gateway;dur=${(totalMs - upstreamMs).toFixed(2)}, upstream;dur=${upstreamMs.toFixed(2)}`;
    return this.#timing;
  }

  /**
   * For the front door's `finally`: ends a request no other path ended. That happens when the caller
   * stops reading a stream (the handler's generator is returned at a `yield`, so neither its success
   * nor its error path runs): such a request ends as cancelled, or deadline_exceeded if that is why.
   */
  close(): void {
    if (this.#timing === undefined) this.end(abandoned(this.ctx));
  }
}

/**
 * What the log line, span and metrics report. A failure that is not the gateway's own (an abort
 * error, connect's deadline) after the caller's signal fired is the caller's leaving, not a fault of
 * ours: it is reported as cancelled / deadline_exceeded, not as an internal error.
 */
function outcomeOf(ctx: RequestContext, failure: unknown): unknown {
  if (failure === undefined || failure instanceof GatewayError || !ctx.signal.aborted) return failure;
  return abandoned(ctx);
}

/**
 * Why a request stopped without a failure of its own. A client whose deadline passes often resets
 * the call a moment before our timer fires, so a call past its caller's deadline is deadline_exceeded
 * whatever reached us first (as routing/deadline.ts decides it).
 */
function abandoned(ctx: RequestContext, now = Date.now()): GatewayError {
  const reason: unknown = ctx.signal.reason;
  if (reason instanceof GatewayError) return reason;
  const pastDeadline = ctx.callerTimeoutMs !== undefined && now >= ctx.startedAt + ctx.callerTimeoutMs;
  if (pastDeadline || (reason instanceof ConnectError && reason.code === Code.DeadlineExceeded))
    return new GatewayError("deadline_exceeded", "the request's deadline passed");
  return new GatewayError("cancelled", "the caller went away before the request ended");
}
