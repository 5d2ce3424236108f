import { abandoned, outcomeOf } from "../pipeline/outcome.ts";
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
    // An admitted request's outcome was computed once at settlement (the ledger has it); a request
    // refused before that (authentication, validation) has its outcome computed here, the same way.
    const outcome = this.ctx.outcome ?? outcomeOf(this.ctx, failure);
    const { totalMs, upstreamMs } = this.#telemetry.finish(this.ctx, outcome);
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
