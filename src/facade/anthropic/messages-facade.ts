import { randomUUID } from "node:crypto";
import type { MediaLimits } from "../../api/content-parts.ts";
import { createRequestContext, type RequestContext } from "../../api/request-context.ts";
import { RequestLifecycle } from "../../api/request-lifecycle.ts";
import type { CompiledConfig } from "../../config/compile.ts";
import type { Pipeline } from "../../pipeline/pipeline.ts";
import { callerGone } from "../../server/http/caller-gone.ts";
import type { Logger } from "../../telemetry/logger.ts";
import type { RequestTelemetry } from "../../telemetry/request-telemetry.ts";
import { OpenAIRequestError } from "../openai/errors.ts";
import { Exchange } from "../openai/exchange.ts";
import {
  callerTimeoutMs,
  type HttpRequest,
  type HttpResponse,
  parseJsonObject,
  readBody,
  sendJson,
} from "../openai/http-io.ts";
import { type ResolvedModel, resolveModel } from "../openai/model-mapping.ts";
import { ALLOW_ALL, type ModelFilter } from "../openai/models.ts";
import { anthropicRequestHeaders } from "./api-key-header.ts";
import { countTokens } from "./count-tokens.ts";
import { renderAnthropicError } from "./errors.ts";
import { messages } from "./messages.ts";
import {
  type MessagesBody,
  parseCountTokensBody,
  parseMessagesBody,
  wantsStream,
} from "./messages-request.ts";
import { anthropicModel, anthropicModelList } from "./models.ts";

export type MessagesFacadeDeps = {
  pipeline: Pipeline;
  config: () => CompiledConfig;
  logger: Logger;
  telemetry: RequestTelemetry;
  /** server.limits.maxRequestBytes: larger bodies get a 413 as soon as the limit is passed. */
  maxRequestBytes: number;
  /** The access-control seam (pipelineAccess): authenticate first, before validation errors are shown. */
  authenticate?: (ctx: RequestContext) => Promise<void>;
  /** Which workloads and models a caller sees in /v1/models (default: all). */
  filter?: ModelFilter;
};

/**
 * Serves POST /v1/messages and /v1/messages/count_tokens, and GET /v1/models(/{id}) asked with
 * `anthropic-version`; returns false for any other request (the OpenAI facade's then).
 */
export type MessagesFacade = (req: HttpRequest, res: HttpResponse) => boolean;

type Operation = {
  span: string;
  parse(raw: unknown): MessagesBody;
  operation(raw: unknown): RequestContext["operation"];
  run(ex: Exchange, body: MessagesBody, target: ResolvedModel, media: MediaLimits): Promise<void>;
};

/**
 * Anthropic's Messages API over the same pipeline, telemetry and ledger as the gRPC API and the
 * OpenAI facade (whose request plumbing it reuses): Anthropic SDK code and Claude Code switch to
 * the gateway by changing their base URL. Requests are translated to the neutral request; see
 * docs/anthropic-messages.md for what is translated and what is refused.
 */
export function messagesFacade(deps: MessagesFacadeDeps): MessagesFacade {
  const create: Operation = {
    span: "POST /v1/messages",
    parse: parseMessagesBody,
    operation: (raw) => (wantsStream(raw) ? "generate_stream" : "generate"),
    run: (ex, body, target, media) => messages(ex, deps.pipeline, body, target, media),
  };
  // count_tokens calls no upstream: it is logged as a read-only operation, authorized as generation.
  const count: Operation = {
    span: "POST /v1/messages/count_tokens",
    parse: parseCountTokensBody,
    operation: () => "list_models",
    run: (ex, body, target, media) => countTokens(ex, deps.pipeline, body, target, media),
  };

  const begin = (
    req: HttpRequest,
    res: HttpResponse,
    signal: AbortSignal,
    span: string,
    operation: RequestContext["operation"],
    target: ResolvedModel | undefined,
  ) => {
    const ctx = createRequestContext({
      operation,
      protocol: "anthropic",
      workload: target?.workload ?? "",
      requestedModel: target?.requestedModel ?? "",
      headers: anthropicRequestHeaders(req.headers),
      signal,
      callerTimeoutMs: callerTimeoutMs(req.headers),
      logger: deps.logger,
      telemetry: deps.telemetry,
    });
    return new Exchange(new RequestLifecycle(ctx, deps.telemetry, ctx.headers, span), res);
  };

  /** GET /v1/models(/{id}) asked by an Anthropic client: the names the key may use, Anthropic's shape. */
  async function models(req: HttpRequest, res: HttpResponse, url: URL, id: string | undefined) {
    const signal = callerGone(res).signal;
    const span = id === undefined ? "GET /v1/models" : "GET /v1/models/{id}";
    const ex = begin(req, res, signal, span, "list_models", undefined);
    try {
      await deps.authenticate?.(ex.ctx);
      const visible = await filter(ex.ctx);
      const config = deps.config();
      ex.ok(
        id === undefined
          ? anthropicModelList(config, visible, createdAt, url.searchParams)
          : anthropicModel(config, visible, id, createdAt),
      );
    } catch (error) {
      fail(ex, error);
    } finally {
      ex.life.close();
    }
  }

  /** Body → model → context → answer; a failure at any step is one Anthropic error and one log line. */
  async function post(req: HttpRequest, res: HttpResponse, op: Operation) {
    const signal = callerGone(res).signal;
    let raw: unknown;
    let body: MessagesBody | undefined;
    let target: ResolvedModel | undefined;
    let failure: unknown;
    try {
      raw = parseJsonObject(await readBody(req, deps.maxRequestBytes));
      body = op.parse(raw);
      target = resolveModel(deps.config(), body.model, "generate");
    } catch (error) {
      failure = error;
    }
    const ex = begin(req, res, signal, op.span, op.operation(raw), target);
    try {
      await deps.authenticate?.(ex.ctx);
      if (body === undefined || target === undefined) throw failure;
      await op.run(ex, body, target, deps.config().loaded.config.server.limits.media);
    } catch (error) {
      fail(ex, error);
    } finally {
      ex.life.close();
    }
  }

  const createdAt = new Date().toISOString();
  const filter = deps.filter ?? ALLOW_ALL;

  /** The serving for this request, or undefined when it is not the Messages API's. */
  function route(req: HttpRequest, res: HttpResponse): Promise<void> | undefined {
    const url = new URL(req.url ?? "/", "http://gateway.invalid");
    const path = url.pathname;
    const method = req.method ?? "GET";
    const op = path === "/v1/messages" ? create : path === "/v1/messages/count_tokens" ? count : undefined;
    if (op) return method === "POST" ? post(req, res, op) : refuseMethod(res, method, path);
    // /v1/models is shared with the OpenAI facade: the Anthropic SDKs always send anthropic-version.
    if (method !== "GET" || req.headers["anthropic-version"] === undefined) return undefined;
    if (path === "/v1/models") return models(req, res, url, undefined);
    if (path.startsWith("/v1/models/"))
      return models(req, res, url, decodeSegment(path.slice("/v1/models/".length)));
    return undefined;
  }

  return (req, res) => {
    const serve = route(req, res);
    if (!serve) return false;
    serve.catch((error: unknown) => {
      // Every step renders its own failures; reaching here is a bug: answer 500, details in the log.
      const requestId = randomUUID();
      deps.logger.error({ err: error, requestId }, "anthropic messages facade failed unexpectedly");
      const rendered = renderAnthropicError(error, requestId);
      sendJson(res, rendered.status, rendered.headers, rendered.body);
      if (!res.writableEnded) res.end();
    });
    return true;
  };
}

/** A failure before any output: Anthropic's error body, the routing headers, server-timing. */
function fail(ex: Exchange, error: unknown): void {
  const timing = ex.finish(error);
  const rendered = renderAnthropicError(error, ex.ctx.id);
  const headers = { ...ex.headers(undefined, ex.ctx.usage), ...rendered.headers, "server-timing": timing };
  sendJson(ex.res, rendered.status, headers, rendered.body);
}

/** Another method on a Messages path: 405, outside any operation (no log line). */
async function refuseMethod(res: HttpResponse, method: string, path: string): Promise<void> {
  const error = new OpenAIRequestError("invalid_argument", `${method} is not allowed on ${path}: use POST`, {
    status: 405,
  });
  const { headers, body } = renderAnthropicError(error, randomUUID());
  sendJson(res, 405, { ...headers, allow: "POST" }, body);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
