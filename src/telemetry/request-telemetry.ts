import { type Span, SpanStatusCode } from "@opentelemetry/api";
import type { RequestContext } from "../api/request-context.ts";
import type { CompiledTarget } from "../config/compile.ts";
import type { UpstreamError } from "../errors/upstream-error.ts";
import type { Outcome } from "../pipeline/outcome.ts";
import { bounded } from "./bounded.ts";
import type { Logger } from "./logger.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { ATTR, extractContext, injectHeaders, startClientSpan, startServerSpan } from "./tracing.ts";

export type AttemptObserver = {
  /** Trace headers to forward upstream (trusted backends only). */
  headers: Record<string, string> | undefined;
  end(outcome: "success" | "failed" | "failed_after_commit", failure?: UpstreamError): void;
};

/** The workload label of a request whose workload no route of the config names. */
export const OTHER_WORKLOAD = "other";

/**
 * Everything the gateway tells operators about one request, written once:
 * the server span (and a client span per attempt), the metrics, and the one
 * request log line — all from the same RequestContext, so they agree.
 * Metric labels take config values only (a workload no route names is
 * `other`; backends and models are the config's targets), so no caller, with
 * or without a key, can add a series; client strings in the log line and span
 * are cut to MAX_CLIENT_STRING (bounded.ts).
 */
export class RequestTelemetry {
  readonly #metrics: GatewayMetrics | undefined;
  readonly #logger: Logger;
  readonly #configured: (workload: string) => boolean;

  /** `configured`: whether a route of the current config serves this workload (read per request). */
  constructor(
    metrics: GatewayMetrics | undefined,
    logger: Logger,
    configured: (workload: string) => boolean = () => false,
  ) {
    this.#metrics = metrics;
    this.#logger = logger;
    this.#configured = configured;
  }

  /** The request's workload as a metric label: a configured route's name, else `other`. */
  #workload(ctx: RequestContext): string {
    return this.#configured(ctx.workload) ? ctx.workload : OTHER_WORKLOAD;
  }

  begin(
    ctx: RequestContext,
    incoming: { forEach(fn: (value: string, key: string) => void): void },
    name: string,
  ): void {
    ctx.span = startServerSpan(name, extractContext(incoming));
    ctx.span.setAttributes({
      [ATTR.requestId]: ctx.id,
      [ATTR.workload]: bounded(ctx.workload),
      [ATTR.protocol]: ctx.protocol,
    });
    this.#metrics?.inFlight.add(1, { operation: ctx.operation });
  }

  /**
   * A call the overload guard refused at the front door, before its body (so its workload) was read:
   * counted in requests and rejections like any refusal, without a span or log line per call (under
   * overload those would cost the most; the guard logs when shedding starts and stops).
   */
  refusedUnread(operation: RequestContext["operation"], reason: "overloaded"): void {
    const m = this.#metrics;
    if (!m) return;
    m.rejections.add(1, { reason, workload: "" });
    m.requests.add(1, { workload: "", backend: "", model: "", operation, status: reason });
  }

  /**
   * A call that ended while its body was still arriving (its deadline passed, the caller left, the
   * body was too large, shutdown): never a request context, so never a request line. One bounded line
   * (path, protocol operation, fixed reason) and the request counter, so it is not silently lost.
   */
  endedUnread(operation: RequestContext["operation"], reason: string, path: string): void {
    this.#logger.info({ path: bounded(path), operation, reason }, "request ended before it was read");
    this.#metrics?.requests.add(1, { workload: "", backend: "", model: "", operation, status: reason });
  }

  attempt(ctx: RequestContext, target: CompiledTarget, attempt: number): AttemptObserver {
    const backend = target.backend;
    const span = ctx.span ? startClientSpan(`${operationName(ctx)} ${target.model}`, ctx.span) : undefined;
    span?.setAttributes({
      [ATTR.operation]: operationName(ctx),
      [ATTR.provider]: backend.type,
      [ATTR.requestModel]: target.model,
      [ATTR.backend]: backend.name,
      [ATTR.attempt]: attempt,
      [ATTR.breakerState]: backend.state.breaker.state,
    });
    const trusted = backend.config.trusted === true;
    return {
      headers: span && trusted ? injectHeaders(span) : undefined,
      end: (outcome, failure) => {
        this.#metrics?.attempts.add(1, { backend: backend.name, model: target.model, outcome });
        if (!span) return;
        span.setAttribute(ATTR.committed, outcome !== "failed");
        if (failure) {
          span.setAttribute(ATTR.errorKind, failure.kind);
          span.setStatus({ code: SpanStatusCode.ERROR, message: failure.kind });
        }
        span.end();
      },
    };
  }

  /** A content event went to the caller: time to first token, then gaps between events. */
  content(ctx: RequestContext, now = performance.now()): void {
    const attrs = { workload: this.#workload(ctx), backend: ctx.decision.servedBy?.backend ?? "" };
    if (ctx.timing.firstContentAt === undefined) {
      ctx.timing.firstContentAt = now;
      this.#metrics?.ttft.record(now - ctx.timing.start, attrs);
    } else if (ctx.timing.lastContentAt !== undefined) {
      this.#metrics?.interTokenGap.record(now - ctx.timing.lastContentAt, attrs);
    }
    ctx.timing.lastContentAt = now;
  }

  /** Ends the request: log line, span, metrics. Exactly once per request. */
  finish(ctx: RequestContext, outcome: Outcome): { totalMs: number; upstreamMs: number } {
    const d = ctx.decision;
    const { status, failure } = outcome;
    const totalMs = performance.now() - ctx.timing.start;
    const upstreamMs = ctx.timing.upstreamMs;
    const overheadMs = Math.max(0, totalMs - upstreamMs);
    const usage = ctx.usage;
    const served = d.servedBy;

    // The line is built only when it will be written (at level warn it would be thrown away).
    if (status === "internal" || this.#logger.isLevelEnabled("info")) {
      const line = {
        requestId: ctx.id,
        keyId: ctx.principal?.keyId,
        team: ctx.principal?.team,
        protocol: ctx.protocol,
        operation: ctx.operation,
        workload: bounded(ctx.workload),
        route: d.route || undefined,
        variant: d.variant,
        strategy: d.strategy || undefined,
        backend: served?.backend,
        model: served?.model,
        attempts: d.attempts.length,
        attemptDetails: d.attempts.length > 0 ? d.attempts : undefined,
        skipped: d.skipped.length > 0 ? d.skipped : undefined,
        committed: ctx.operation === "generate_stream" ? d.committed : undefined,
        cached: d.cached || undefined,
        // Rule ids and actions only (config names and detector ids), never what matched.
        policyActions: d.policyActions.length > 0 ? d.policyActions : undefined,
        status,
        ttftMs:
          ctx.timing.firstContentAt === undefined
            ? undefined
            : round(ctx.timing.firstContentAt - ctx.timing.start),
        latencyMs: round(totalMs),
        upstreamMs: round(upstreamMs),
        overheadMs: round(overheadMs),
        inputTokens: usage?.inputTokens,
        outputTokens: usage?.outputTokens,
        cachedInputTokens: usage?.cachedInputTokens || undefined,
        // The finer classes only when the provider reported some: the line stays short otherwise.
        reasoningTokens: usage?.reasoningTokens || undefined,
        cacheWriteTokens: usage?.cacheWriteTokens || undefined,
        serviceTier: usage?.serviceTier,
        costMicroUsd: usage?.costMicroUsd,
        usageAccuracy: usage?.accuracy,
      };
      if (status === "internal") this.#logger.error({ ...line, err: failure }, "request failed unexpectedly");
      else this.#logger.info(line, "request");
    }

    const span = ctx.span;
    if (span) {
      span.setAttributes({
        [ATTR.operation]: operationName(ctx),
        [ATTR.route]: d.route,
        [ATTR.strategy]: d.strategy,
        [ATTR.attempts]: d.attempts.length,
        [ATTR.status]: status,
        [ATTR.committed]: d.committed,
      });
      if (d.variant) span.setAttribute(ATTR.variant, d.variant);
      if (served) {
        span.setAttributes({
          [ATTR.backend]: served.backend,
          [ATTR.responseModel]: ctx.servedModel ?? served.model,
        });
        span.setAttribute(ATTR.requestModel, bounded(ctx.requestedModel) || served.model);
      }
      if (served) span.setAttribute(ATTR.provider, served.provider);
      if (usage) {
        span.setAttributes({
          [ATTR.inputTokens]: usage.inputTokens,
          [ATTR.outputTokens]: usage.outputTokens,
        });
        if (usage.costMicroUsd !== undefined) span.setAttribute(ATTR.costMicroUsd, usage.costMicroUsd);
      }
      if (ctx.finishReason) span.setAttribute(ATTR.finishReasons, [ctx.finishReason]);
      if (failure !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: status });
      span.end();
    }

    const m = this.#metrics;
    if (m) {
      const workload = this.#workload(ctx);
      const labels = {
        workload,
        backend: served?.backend ?? "",
        model: served?.model ?? "",
        operation: ctx.operation,
        status,
      };
      m.inFlight.add(-1, { operation: ctx.operation });
      m.requests.add(1, labels);
      m.duration.record(totalMs, labels);
      m.overhead.record(overheadMs, { workload, operation: ctx.operation });
      if (usage && served) {
        const at = { workload, backend: served.backend, model: served.model };
        m.tokens.add(usage.inputTokens, { ...at, direction: "input" });
        m.tokens.add(usage.outputTokens, { ...at, direction: "output" });
        if (usage.costMicroUsd !== undefined) m.cost.add(usage.costMicroUsd, at);
      }
      if (served && d.attempts.length > 1) m.fallbacks.add(1, { workload, backend: served.backend });
      if (REJECTIONS.has(status)) m.rejections.add(1, { reason: status, workload });
    }
    return { totalMs, upstreamMs };
  }
}

/** Refusals by a policy (not failures of a backend), counted in switchyard_rejections_total. */
const REJECTIONS = new Set([
  "unauthenticated",
  "permission_denied",
  "rate_limited",
  "request_exceeds_limit",
  "budget_exhausted",
  "limits_unavailable",
  "overloaded",
]);

function operationName(ctx: RequestContext): string {
  return ctx.operation === "embed" ? "embeddings" : "chat";
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

export type { Span };
