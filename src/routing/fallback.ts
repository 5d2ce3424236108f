import type { AdapterCall, AdapterEvent } from "../adapters/adapter.ts";
import type { RequestContext } from "../api/request-context.ts";
import type { CompiledTarget } from "../config/compile.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { UpstreamError } from "../errors/upstream-error.ts";
import { classifyNetworkError } from "../upstream/classify.ts";
import type { Deadline } from "./deadline.ts";

/** Stream events as the pipeline passes them up: adapter events plus attempt and commit markers. */
export type RoutedEvent =
  | AdapterEvent
  | { type: "attempt"; attempt: number; backend: string; model: string; previousError: string }
  | { type: "commit"; attempt: number; backend: string; model: string };

/**
 * Unary attempt loop: targets in order; a failure that another backend might
 * not have (anything but the caller's own bad input) moves to the next one.
 */
export async function attemptUnary<T>(
  ctx: RequestContext,
  targets: readonly CompiledTarget[],
  deadline: Deadline,
  attempt: (target: CompiledTarget, call: AdapterCall) => Promise<T>,
): Promise<{ value: T; target: CompiledTarget }> {
  const failures: UpstreamError[] = [];
  for (const target of targets) {
    const started = Date.now();
    try {
      const value = await attempt(target, { signal: deadline.signal, deadline: deadline.at });
      record(ctx, target, started, "success");
      ctx.decision.servedBy = { backend: target.backend.name, model: target.model };
      return { value, target };
    } catch (error) {
      const failure = asUpstreamError(error, deadline);
      record(ctx, target, started, "failed", failure);
      stopIfAborted(ctx, deadline);
      if (!failure.failoverAllowed) throw finalError([failure]);
      failures.push(failure);
    }
  }
  throw finalError(failures);
}

/**
 * Streaming attempt loop with the commit rule: until the first content event
 * (text or tool call) is passed up, any failure moves to the next target;
 * after it, a failure ends the stream with stream_interrupted. Leaving the
 * loop early (caller cancel) closes the upstream iterator, which aborts it.
 */
export async function* attemptStream(
  ctx: RequestContext,
  targets: readonly CompiledTarget[],
  deadline: Deadline,
  open: (target: CompiledTarget, call: AdapterCall) => AsyncIterable<AdapterEvent>,
): AsyncGenerator<RoutedEvent> {
  const failures: UpstreamError[] = [];
  for (const [i, target] of targets.entries()) {
    const attempt = i + 1;
    const backend = target.backend.name;
    const previousError = failures.at(-1)?.message ?? "";
    yield { type: "attempt", attempt, backend, model: target.model, previousError };
    const started = Date.now();
    const upstream = open(target, { signal: deadline.signal, deadline: deadline.at })[Symbol.asyncIterator]();
    let committed = false;
    try {
      for (let next = await upstream.next(); !next.done; next = await upstream.next()) {
        const event = next.value;
        if (!committed && (event.type === "text" || event.type === "tool_call")) {
          committed = true;
          ctx.decision.committed = true;
          ctx.decision.servedBy = { backend, model: target.model };
          yield { type: "commit", attempt, backend, model: target.model };
        }
        yield event;
      }
      record(ctx, target, started, "success");
      ctx.decision.servedBy = { backend, model: target.model };
      return;
    } catch (error) {
      const failure = asUpstreamError(error, deadline);
      record(ctx, target, started, committed ? "failed_after_commit" : "failed", failure);
      stopIfAborted(ctx, deadline);
      if (committed) {
        throw new GatewayError(
          "stream_interrupted",
          `stream from ${backend} failed after output began: ${failure.message}`,
          {
            cause: failure,
          },
        );
      }
      if (!failure.failoverAllowed) throw finalError([failure]);
      failures.push(failure);
    } finally {
      await upstream.return?.();
    }
  }
  throw finalError(failures);
}

function asUpstreamError(error: unknown, deadline: Deadline): UpstreamError {
  if (error instanceof UpstreamError) return error;
  if (error instanceof GatewayError) throw error;
  return classifyNetworkError(error, deadline.signal);
}

function stopIfAborted(ctx: RequestContext, deadline: Deadline): void {
  if (deadline.expired) {
    throw new GatewayError(
      "deadline_exceeded",
      `deadline exceeded after ${ctx.decision.attempts.length} attempt(s)`,
    );
  }
  if (ctx.signal.aborted) throw new GatewayError("cancelled", "the caller cancelled the request");
}

function record(
  ctx: RequestContext,
  target: CompiledTarget,
  started: number,
  outcome: "success" | "failed" | "failed_after_commit",
  failure?: UpstreamError,
): void {
  ctx.decision.attempts.push({
    backend: target.backend.name,
    model: target.model,
    outcome,
    errorKind: failure?.kind,
    error: failure?.message,
    durationMs: Date.now() - started,
  });
}

/** The caller's error once no target could serve. */
function finalError(failures: UpstreamError[]): GatewayError {
  const summary = failures.map((f) => `${f.kind}: ${f.message}`).join("; ");
  if (failures.length === 0) return new GatewayError("upstream_unavailable", "no backend could be tried");
  if (failures.some((f) => f.kind === "bad_request")) {
    return new GatewayError("upstream_rejected_request", `the backend rejected the request: ${summary}`);
  }
  if (failures.every((f) => f.kind === "rate_limited")) {
    const waits = failures.map((f) => f.retryAfterMs).filter((w): w is number => w !== undefined);
    return new GatewayError("upstream_rate_limited", `every backend is rate limited: ${summary}`, {
      ...(waits.length > 0 ? { retryAfterMs: Math.min(...waits) } : {}),
    });
  }
  if (failures.every((f) => f.kind === "auth")) {
    return new GatewayError(
      "upstream_misconfigured",
      `backend configuration error (operator must fix): ${summary}`,
    );
  }
  return new GatewayError("upstream_unavailable", `every backend failed: ${summary}`);
}
