import type { RequestContext } from "../../api/request-context.ts";
import type { RequestLifecycle } from "../../api/request-lifecycle.ts";
import { setRateLimitHeaders, setRoutingTrailers } from "../../api/routing-info.ts";
import type { MeteredUsage } from "../../metering/meter.ts";
import { PlainHeaders } from "../../server/http/plain-headers.ts";
import { renderError } from "./errors.ts";
import { type HttpResponse, sendJson } from "./http-io.ts";

/**
 * One REST request and its answer: the routing headers, the answer or the
 * error, over the request's lifecycle (log line, span, metrics exactly once —
 * the same owner as the gRPC/Connect handlers'; the facade closes it in a
 * `finally`).
 */
export class Exchange {
  readonly ctx: RequestContext;
  readonly res: HttpResponse;
  readonly life: RequestLifecycle;

  constructor(life: RequestLifecycle, res: HttpResponse) {
    this.ctx = life.ctx;
    this.res = res;
    this.life = life;
  }

  /** Ends the request's telemetry (the first call only); returns the server-timing value. */
  finish(failure: unknown): string {
    return this.life.end(failure);
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
    const timing = this.finish(error); // first: whatever rendering does, the request is ended with its real outcome
    const rendered = renderError(error, this.ctx.id);
    const headers = { ...this.headers(undefined, this.ctx.usage), ...rendered.headers };
    sendJson(this.res, rendered.status, { ...headers, "server-timing": timing }, rendered.body);
  }
}
