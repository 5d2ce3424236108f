import { setTimeout as sleep } from "node:timers/promises";
import type { AdapterCall } from "../adapters/adapter.ts";
import type { RequestContext } from "../api/request-context.ts";
import type { CompiledTarget } from "../config/compile.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { UpstreamError } from "../errors/upstream-error.ts";
import { classifyNetworkError } from "../upstream/classify.ts";
import { fullJitterMs } from "./backoff.ts";
import { BreakerOpenError } from "./breaker.ts";
import type { Deadline } from "./deadline.ts";
import type { Plan } from "./router.ts";

/** Markers the attempt loop adds to the upstream's own events. */
export type Marker =
  | { type: "attempt"; attempt: number; backend: string; model: string; previousError: string }
  | { type: "commit"; attempt: number; backend: string; model: string };

/** Opens one attempt: an iterator of the upstream's events (a unary call is one event). */
export type AttemptSource<E> = (target: CompiledTarget, call: AdapterCall) => AsyncIterator<E>;

export type LoopOptions<E> = {
  /** Whether an event is output the caller sees: the first one commits the attempt. */
  isContent: (event: E) => boolean;
  /** Streams get the TTFT and idle timeouts; unary calls only the attempt's share of the deadline. */
  streaming: boolean;
  random?: () => number;
};

/**
 * The attempt loop. Targets in the plan's order; a failure before the first
 * content event moves to the next (a failover), and once every target was
 * tried, round again while attempts remain (a retry: backoff with full jitter,
 * and only within the backend's retry budget). Per attempt: the breaker
 * covers connect → first event; an attempt with a successor gets at most
 * `attemptShare` of the remaining time (streams: also ≤ ttftMs) to its first
 * event, then (streams) ≤ streamIdleMs between events. A backend that sent
 * Retry-After is skipped until then while another can serve; if none can, we
 * wait — unless the wait would pass the deadline. After commit a failure ends
 * the request (stream_interrupted), never a silent truncation.
 */
export async function* attemptLoop<E>(
  ctx: RequestContext,
  plan: Plan,
  deadline: Deadline,
  source: AttemptSource<E>,
  options: LoopOptions<E>,
): AsyncGenerator<E | Marker> {
  const { retry, timeouts } = plan.route;
  const random = options.random ?? Math.random;
  const decision = ctx.decision;
  const failures: UpstreamError[] = [];
  const tried = new Map<string, UpstreamError | undefined>(); // backend → its last failure in this request
  let attempts = 0;
  let retries = 0;
  let outOfTime = false;

  while (attempts < retry.maxAttempts) {
    let attemptedThisRound = false;
    let soonestCoolDown = Number.POSITIVE_INFINITY;
    for (const target of plan.ordered) {
      if (attempts >= retry.maxAttempts) break;
      stopIfAborted(ctx, deadline); // a caller gone (or out of time) before an attempt gets none
      const backend = target.backend;
      const now = Date.now();
      if (backend.state.coolDownUntil > now) {
        soonestCoolDown = Math.min(soonestCoolDown, backend.state.coolDownUntil);
        skip(ctx, target, `rate limited for ${backend.state.coolDownUntil - now} ms more (Retry-After)`);
        continue;
      }
      if (!backend.state.breaker.admits) {
        skip(ctx, target, `circuit ${backend.state.breaker.state.replace("_", "-")}`);
        continue;
      }
      const isRetry = tried.has(backend.name);
      const last = tried.get(backend.name);
      if (last && !last.retryable) {
        skip(ctx, target, `not retried after ${last.kind} failure`);
        continue;
      }
      const release = backend.state.retryBudget.begin(isRetry);
      if (!release) {
        skip(ctx, target, "retry budget exhausted");
        continue;
      }
      try {
        if (isRetry) {
          const wait = fullJitterMs(retries, retry.backoffBaseMs, retry.backoffMaxMs, random);
          if (wait >= deadline.remainingMs()) {
            outOfTime = true;
            break;
          }
          await pause(wait, deadline, ctx);
          retries++;
        }
        attempts++;
        attemptedThisRound = true;
        tried.set(backend.name, undefined);
        const hasSuccessor = attempts < retry.maxAttempts;
        yield {
          type: "attempt",
          attempt: attempts,
          backend: backend.name,
          model: target.model,
          previousError: failures.at(-1)?.message ?? "",
        };
        const ttftMs = options.streaming ? timeouts.ttftMs : Number.POSITIVE_INFINITY;
        const shareMs = deadline.remainingMs() * (hasSuccessor ? timeouts.attemptShare : 1);
        const outcome = yield* runAttempt(ctx, target, deadline, source, options, {
          attempt: attempts,
          firstEventMs: Math.max(1, Math.min(ttftMs, shareMs)),
          endsAtDeadline: !hasSuccessor && shareMs <= ttftMs,
          idleMs: timeouts.streamIdleMs,
        });
        if (outcome === "success") return;
        tried.set(backend.name, outcome);
        failures.push(outcome);
      } finally {
        release();
      }
    }
    if (attemptedThisRound) continue;
    // Nothing could be tried this round: wait out a Retry-After if it ends in time, else give up.
    const wait = soonestCoolDown - Date.now();
    if (Number.isFinite(soonestCoolDown) && wait < deadline.remainingMs()) {
      await pause(wait, deadline, ctx);
      continue;
    }
    if (Number.isFinite(soonestCoolDown) && failures.length === 0) {
      throw new GatewayError(
        "upstream_rate_limited",
        "every backend asked to hold off past the request's deadline",
        {
          retryAfterMs: wait,
        },
      );
    }
    break;
  }
  // Stopped because the next try could not fit in the time left, and every try timed out: that is
  // the deadline's doing, whatever the backoff jitter happened to be.
  if (outOfTime && failures.every((f) => f.kind === "timeout")) {
    throw new GatewayError(
      "deadline_exceeded",
      `no time left for another attempt before the deadline (${attempts} timed out)`,
    );
  }
  throw finalError(failures, decision.skipped.length > 0);
}

/** endsAtDeadline: the first-event timer is the deadline itself (a last attempt with all the time left). */
type Budget = { attempt: number; firstEventMs: number; endsAtDeadline: boolean; idleMs: number };

/** One shared abort reason: creating a DOMException per abort is costly on the hot path. */
const ABANDONED = new Error("upstream attempt abandoned");

/** One attempt; returns "success", or the failure when another attempt may follow. */
async function* runAttempt<E>(
  ctx: RequestContext,
  target: CompiledTarget,
  deadline: Deadline,
  source: AttemptSource<E>,
  options: LoopOptions<E>,
  budget: Budget,
): AsyncGenerator<E | Marker, "success" | UpstreamError> {
  const backend = target.backend;
  const started = Date.now();
  // The attempt's own signal, also aborted by the request's deadline (a listener: cheaper than AbortSignal.any).
  const attemptTimeout = new AbortController();
  const signal = attemptTimeout.signal;
  const onDeadline = () => attemptTimeout.abort(deadline.signal.reason);
  if (deadline.signal.aborted) onDeadline();
  else deadline.signal.addEventListener("abort", onDeadline, { once: true });
  let timedOut: string | undefined;
  let firstEventLate = false;
  let timer = setTimeout(() => {
    timedOut = `no first event within ${Math.round(budget.firstEventMs)} ms`;
    firstEventLate = true;
    attemptTimeout.abort();
  }, budget.firstEventMs);
  const observer = ctx.telemetry.attempt(ctx, target, budget.attempt);
  const upstream = source(target, {
    signal,
    deadline: deadline.at,
    ...(observer.headers ? { headers: observer.headers } : {}),
  });
  // Time spent waiting on the upstream, so the gateway's own overhead can be told apart.
  const next = async () => {
    const t0 = performance.now();
    try {
      return await upstream.next();
    } finally {
      ctx.timing.upstreamMs += performance.now() - t0;
    }
  };
  let committed = false;
  let ended = false;
  let succeeded = false;
  const end = (outcome: "success" | "failed" | "failed_after_commit", failure?: UpstreamError) => {
    record(ctx, target, started, outcome, failure);
    observer.end(outcome, failure);
    ended = true;
  };
  try {
    const neutral = () => ctx.signal.aborted || deadline.expired;
    let step = await backend.state.breaker.run(next, neutral);
    clearTimeout(timer);
    backend.state.recordLatency(target.model, Date.now() - started);
    while (!step.done) {
      const event = step.value;
      if (!committed && options.isContent(event)) {
        committed = true;
        ctx.decision.committed = true;
        ctx.decision.servedBy = { backend: backend.name, model: target.model, provider: backend.type };
        yield { type: "commit", attempt: budget.attempt, backend: backend.name, model: target.model };
      }
      yield event;
      if (options.streaming) {
        timer = setTimeout(() => {
          timedOut = `stream idle for ${budget.idleMs} ms`;
          attemptTimeout.abort();
        }, budget.idleMs);
      }
      step = await next();
      clearTimeout(timer);
    }
    end("success");
    succeeded = true;
    ctx.decision.servedBy = { backend: backend.name, model: target.model, provider: backend.type };
    return "success";
  } catch (error) {
    let failure =
      error instanceof BreakerOpenError
        ? new UpstreamError("unavailable", error.message)
        : error instanceof UpstreamError
          ? error
          : classifyNetworkError(error, signal);
    if (timedOut !== undefined && !deadline.expired && !ctx.signal.aborted) {
      failure = new UpstreamError("timeout", `${backend.name}: ${timedOut}`);
    }
    end(committed ? "failed_after_commit" : "failed", failure);
    stopIfAborted(ctx, deadline);
    // libuv's cached loop time can fire this timer a millisecond before Date.now() reaches the
    // deadline: a timer that was the deadline is the deadline's doing, not a backend failure.
    if (firstEventLate && budget.endsAtDeadline) throw deadlineExceeded(ctx);
    if (committed) {
      throw new GatewayError(
        "stream_interrupted",
        `stream from ${backend.name} failed after output began: ${failure.message}`,
        {
          cause: failure,
        },
      );
    }
    if (failure.retryAfterMs !== undefined) {
      backend.state.coolDownUntil = Math.max(backend.state.coolDownUntil, Date.now() + failure.retryAfterMs);
    }
    if (!failure.failoverAllowed) throw finalError([failure], false);
    return failure;
  } finally {
    clearTimeout(timer);
    deadline.signal.removeEventListener("abort", onDeadline);
    // An abandoned attempt (caller gone, timed out) must not keep its upstream open. A finished one
    // needs no abort: skipping it saves a DOMException per request on the hot path.
    if (!succeeded) attemptTimeout.abort(ABANDONED);
    if (!ended)
      end(
        committed ? "failed_after_commit" : "failed",
        new UpstreamError("timeout", "abandoned: caller gone"),
      );
    await upstream.return?.();
  }
}

async function pause(ms: number, deadline: Deadline, ctx: RequestContext): Promise<void> {
  if (ms <= 0) return;
  try {
    await sleep(ms, undefined, { signal: deadline.signal });
  } catch {
    stopIfAborted(ctx, deadline);
  }
}

function skip(ctx: RequestContext, target: CompiledTarget, reason: string): void {
  ctx.decision.skipped.push({ backend: target.backend.name, model: target.model, reason });
}

function stopIfAborted(ctx: RequestContext, deadline: Deadline): void {
  if (deadline.expired) throw deadlineExceeded(ctx);
  if (ctx.signal.aborted) throw new GatewayError("cancelled", "the caller cancelled the request");
}

function deadlineExceeded(ctx: RequestContext): GatewayError {
  return new GatewayError(
    "deadline_exceeded",
    `deadline exceeded after ${ctx.decision.attempts.length} attempt(s)`,
  );
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
function finalError(failures: UpstreamError[], skippedAny: boolean): GatewayError {
  const summary = failures.map((f) => `${f.kind}: ${f.message}`).join("; ");
  if (failures.length === 0) {
    return new GatewayError(
      "upstream_unavailable",
      skippedAny
        ? "no backend could be tried (circuits open or retry budget exhausted)"
        : "no backend could be tried",
    );
  }
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
