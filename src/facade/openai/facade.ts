import { randomUUID } from "node:crypto";
import { createRequestContext, type RequestContext } from "../../api/request-context.ts";
import { RequestLifecycle } from "../../api/request-lifecycle.ts";
import type { CompiledConfig, Operation } from "../../config/compile.ts";
import type { Pipeline } from "../../pipeline/pipeline.ts";
import { callerGone } from "../../server/http/caller-gone.ts";
import { requestHeaders } from "../../server/http/request-headers.ts";
import type { Logger } from "../../telemetry/logger.ts";
import type { RequestTelemetry } from "../../telemetry/request-telemetry.ts";
import { chatCompletions } from "./chat-completions.ts";
import { parseChatBody, wantsStream } from "./chat-request.ts";
import { embeddings, parseEmbeddingsBody } from "./embeddings.ts";
import { OpenAIRequestError, renderError } from "./errors.ts";
import { Exchange } from "./exchange.ts";
import {
  callerTimeoutMs,
  type HttpRequest,
  type HttpResponse,
  parseJsonObject,
  readBody,
  sendJson,
} from "./http-io.ts";
import { type ResolvedModel, resolveModel } from "./model-mapping.ts";
import { ALLOW_ALL, findModel, listModels, type ModelFilter } from "./models.ts";

export type OpenAIFacadeDeps = {
  pipeline: Pipeline;
  config: () => CompiledConfig;
  logger: Logger;
  telemetry: RequestTelemetry;
  /** server.limits.maxRequestBytes: larger bodies get a 413 as soon as the limit is passed. */
  maxRequestBytes: number;
  /**
   * Access-control seam: runs first in every operation, before validation or model errors are shown,
   * and may throw `unauthenticated` (401). Default: none (the pipeline still authorizes each call).
   */
  authenticate?: (ctx: RequestContext) => Promise<void>;
  /** Which workloads and models a caller sees in /v1/models (the access-control seam; default: all). */
  filter?: ModelFilter;
};

/** Serves one request whose path starts with /v1/. */
export type OpenAIFacade = (req: HttpRequest, res: HttpResponse) => void;

/** A POST operation: how to read its body, which operation it is, and how to answer it. */
type PostOperation<B> = {
  span: string;
  kind: Operation;
  parse(raw: unknown): B;
  operation(raw: unknown): RequestContext["operation"];
  model(body: B): string;
  run(ex: Exchange, body: B, target: ResolvedModel): Promise<void>;
};

/**
 * The OpenAI-compatible REST API (chat completions, embeddings, models) over
 * the same pipeline, telemetry and errors as the gRPC API: OpenAI SDK code
 * switches to the gateway by changing its base URL. See docs/openai-facade.md.
 */
export function openAIFacade(deps: OpenAIFacadeDeps): OpenAIFacade {
  const created = Math.floor(Date.now() / 1000);
  const filter = deps.filter ?? ALLOW_ALL;
  const chat: PostOperation<ReturnType<typeof parseChatBody>> = {
    span: "POST /v1/chat/completions",
    kind: "generate",
    parse: parseChatBody,
    operation: (raw) => (wantsStream(raw) ? "generate_stream" : "generate"),
    model: (body) => body.model,
    run: (ex, body, target) => chatCompletions(ex, deps.pipeline, body, target),
  };
  const embed: PostOperation<ReturnType<typeof parseEmbeddingsBody>> = {
    span: "POST /v1/embeddings",
    kind: "embed",
    parse: parseEmbeddingsBody,
    operation: () => "embed",
    model: (body) => body.model,
    run: (ex, body, target) => embeddings(ex, deps.pipeline, body, target),
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
      protocol: "openai",
      workload: target?.workload ?? "",
      requestedModel: target?.requestedModel ?? "",
      headers: requestHeaders(req.headers),
      signal,
      callerTimeoutMs: callerTimeoutMs(req.headers),
      logger: deps.logger,
      telemetry: deps.telemetry,
    });
    return new Exchange(new RequestLifecycle(ctx, deps.telemetry, ctx.headers, span), res);
  };

  /** Body → model → context → answer; a failure at any step is one error response and one log line. */
  async function post<B>(req: HttpRequest, res: HttpResponse, signal: AbortSignal, op: PostOperation<B>) {
    let raw: unknown;
    let body: B | undefined;
    let target: ResolvedModel | undefined;
    let failure: unknown;
    try {
      raw = parseJsonObject(await readBody(req, deps.maxRequestBytes));
      body = op.parse(raw);
      target = resolveModel(deps.config(), op.model(body), op.kind);
    } catch (error) {
      failure = error;
    }
    const ex = begin(req, res, signal, op.span, op.operation(raw), target);
    try {
      await deps.authenticate?.(ex.ctx);
      if (body === undefined || target === undefined) throw failure;
      await op.run(ex, body, target);
    } catch (error) {
      ex.fail(error);
    } finally {
      ex.life.close(); // ended above on every path but a bug's; never without its line
    }
  }

  async function models(req: HttpRequest, res: HttpResponse, signal: AbortSignal, id: string | undefined) {
    const ex = begin(
      req,
      res,
      signal,
      id === undefined ? "GET /v1/models" : "GET /v1/models/{id}",
      "list_models",
      undefined,
    );
    try {
      await deps.authenticate?.(ex.ctx);
      const visible = await filter(ex.ctx);
      const config = deps.config();
      ex.ok(
        id === undefined
          ? { object: "list", data: listModels(config, visible, created) }
          : findModel(config, visible, id, created),
      );
    } catch (error) {
      ex.fail(error);
    } finally {
      ex.life.close();
    }
  }

  async function dispatch(req: HttpRequest, res: HttpResponse): Promise<void> {
    const signal = callerGone(res).signal;
    const method = req.method ?? "GET";
    const path = new URL(req.url ?? "/", "http://gateway.invalid").pathname;
    const only = (allowed: string, serve: () => Promise<void>) =>
      method === allowed ? serve() : refuse(res, method, path, 405, allowed);
    if (path === "/v1/chat/completions") return only("POST", () => post(req, res, signal, chat));
    if (path === "/v1/embeddings") return only("POST", () => post(req, res, signal, embed));
    if (path === "/v1/models") return only("GET", () => models(req, res, signal, undefined));
    if (path.startsWith("/v1/models/")) {
      const id = decodePathSegment(path.slice("/v1/models/".length));
      return only("GET", () => models(req, res, signal, id));
    }
    return refuse(res, method, path, 404);
  }

  return (req, res) => {
    dispatch(req, res).catch((error: unknown) => {
      // Every step renders its own failures; reaching here is a bug: answer 500, keep the details in the log.
      const requestId = randomUUID();
      deps.logger.error({ err: error, requestId }, "openai facade failed unexpectedly");
      const rendered = renderError(error, requestId);
      sendJson(res, rendered.status, rendered.headers, rendered.body);
      if (!res.writableEnded) res.end();
    });
  };
}

/** An unknown path (404) or method (405), answered as OpenAI does, outside any operation (no log line). */
async function refuse(res: HttpResponse, method: string, path: string, status: 404 | 405, allowed?: string) {
  const error = new OpenAIRequestError(
    "invalid_argument",
    status === 404
      ? `Invalid URL (${method} ${path})`
      : `${method} is not allowed on ${path}: use ${allowed}`,
    { status },
  );
  const { headers, body } = renderError(error, randomUUID());
  delete headers["x-switchyard-reason"]; // not a gateway reason: the request never reached an operation
  if (allowed) headers.allow = allowed;
  body.error.code = status === 404 ? "unknown_url" : "method_not_allowed";
  sendJson(res, status, headers, body);
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
