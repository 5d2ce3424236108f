import type { RequestContext } from "../../api/request-context.ts";
import { setRateLimitHeaders, setRoutingTrailers } from "../../api/routing-info.ts";
import type { MeteredUsage } from "../../metering/meter.ts";
import { PlainHeaders } from "../../server/http/plain-headers.ts";
import type { RequestTelemetry } from "../../telemetry/request-telemetry.ts";
import { renderError } from "./errors.ts";
import { type HttpResponse, sendJson } from "./http-io.ts";

/**
 * One REST request from `telemetry.begin` to its end: the routing headers,
 * the answer or the error, and `telemetry.finish` (log line, span, metrics)
 * exactly once — the same lifecycle as the gRPC/Connect handler.
 */
export class Exchange {
  readonly ctx: RequestContext;
  readonly res: HttpResponse;
  readonly #telemetry: RequestTelemetry;
  #finished = false;

  constructor(ctx: RequestContext, res: HttpResponse, telemetry: RequestTelemetry) {
    this.ctx = ctx;
    this.res = res;
    this.#telemetry = telemetry;
  }

  /** Ends the request's telemetry once; returns the server-timing value. */
  finish(failure: unknown): string {
    if (this.#finished) return "";
    this.#finished = true;
    const { totalMs, upstreamMs } = this.#telemetry.finish(this.ctx, failure);
    return `gateway;dur=${(totalMs - upstreamMs).toFixed(2)}, upstream;dur=${upstreamMs.toFixed(2)}`;
  }

  /**
   * x-request-id, the routing decision so far (route, attempts, backend, model, usage when known) and
   * the caller's rate-limit buckets (x-ratelimit-*, the names api.openai.com uses).
   */
  headers(servedModel?: string, usage?: MeteredUsage): Record<string, string> {
    const headers = new PlainHeaders();
    headers.set("x-request-id", this.ctx.id);
    setRoutingTrailers(headers, this.ctx.decision, servedModel ?? this.ctx.servedModel, usage);
    setRateLimitHeaders(headers, this.ctx.rateLimit);
    return Object.fromEntries(headers);
  }

  /** A unary success: the log line is written first so server-timing can go in the headers. */
  ok(body: unknown, servedModel?: string, usage?: MeteredUsage): void {
    const timing = this.finish(undefined);
    sendJson(this.res, 200, { ...this.headers(servedModel, usage), "server-timing": timing }, body);
  }

  /** A failure before any output: OpenAI's error body with the catalog's status. */
  fail(error: unknown): void {
    const rendered = renderError(error, this.ctx.id);
    const headers = { ...this.headers(undefined, this.ctx.usage), ...rendered.headers };
    this.finish(error);
    sendJson(this.res, rendered.status, headers, rendered.body);
  }
}
