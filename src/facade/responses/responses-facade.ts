import { randomUUID } from "node:crypto";
import type { MediaLimits } from "../../api/content-parts.ts";
import { createRequestContext, type RequestContext } from "../../api/request-context.ts";
import { RequestLifecycle } from "../../api/request-lifecycle.ts";
import type { CompiledConfig } from "../../config/compile.ts";
import type { Pipeline } from "../../pipeline/pipeline.ts";
import { callerGone } from "../../server/http/caller-gone.ts";
import { requestHeaders } from "../../server/http/request-headers.ts";
import type { Logger } from "../../telemetry/logger.ts";
import type { RequestTelemetry } from "../../telemetry/request-telemetry.ts";
import { OpenAIRequestError, renderError } from "../openai/errors.ts";
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
import { inputTokens } from "./input-tokens.ts";
import { responses } from "./responses.ts";
import { parseResponsesBody, type ResponsesBody, wantsStream } from "./responses-request.ts";

export type ResponsesFacadeDeps = {
  pipeline: Pipeline;
  config: () => CompiledConfig;
  logger: Logger;
  telemetry: RequestTelemetry;
  /** server.limits.maxRequestBytes: larger bodies get a 413 as soon as the limit is passed. */
  maxRequestBytes: number;
  /** The access-control seam (pipelineAccess): authenticate first, before validation errors are shown. */
  authenticate?: (ctx: RequestContext) => Promise<void>;
};

/** Serves POST /v1/responses and /v1/responses/input_tokens; returns false for any other request. */
export type ResponsesFacade = (req: HttpRequest, res: HttpResponse) => boolean;

type Operation = {
  span: string;
  parse(raw: unknown): ResponsesBody;
  operation(raw: unknown): RequestContext["operation"];
  run(ex: Exchange, body: ResponsesBody, target: ResolvedModel, media: MediaLimits): Promise<void>;
};

/**
 * OpenAI's Responses API over the same pipeline, telemetry and ledger as the gRPC API and the chat
 * facade (whose request plumbing it reuses): OpenAI SDK code and Codex switch to the gateway by
 * changing their base URL. Requests are translated to the neutral request; nothing is stored yet.
 * See docs/responses.md for what is translated and what is refused.
 */
export function responsesFacade(deps: ResponsesFacadeDeps): ResponsesFacade {
  const create: Operation = {
    span: "POST /v1/responses",
    parse: parseResponsesBody,
    operation: (raw) => (wantsStream(raw) ? "generate_stream" : "generate"),
    run: (ex, body, target, media) => responses(ex, deps.pipeline, body, target, media),
  };
  // input_tokens calls no upstream: it is logged as a read-only operation, authorized as generation.
  const count: Operation = {
    span: "POST /v1/responses/input_tokens",
    parse: parseResponsesBody, // the same body; stream and store mean nothing there
    operation: () => "list_models",
    run: (ex, body, target, media) => inputTokens(ex, deps.pipeline, body, target, media),
  };

  /** Body → model → context → answer; a failure at any step is one OpenAI error and one log line. */
  async function post(req: HttpRequest, res: HttpResponse, op: Operation) {
    const signal = callerGone(res).signal;
    let raw: unknown;
    let body: ResponsesBody | undefined;
    let target: ResolvedModel | undefined;
    let failure: unknown;
    try {
      raw = parseJsonObject(await readBody(req, deps.maxRequestBytes));
      body = op.parse(raw);
      target = resolveModel(deps.config(), body.model, "generate");
    } catch (error) {
      failure = error;
    }
    const ctx = createRequestContext({
      operation: op.operation(raw),
      protocol: "openai_responses",
      workload: target?.workload ?? "",
      requestedModel: target?.requestedModel ?? "",
      headers: requestHeaders(req.headers),
      signal,
      callerTimeoutMs: callerTimeoutMs(req.headers),
      logger: deps.logger,
      telemetry: deps.telemetry,
    });
    const ex = new Exchange(new RequestLifecycle(ctx, deps.telemetry, ctx.headers, op.span), res);
    try {
      await deps.authenticate?.(ex.ctx);
      if (body === undefined || target === undefined) throw failure;
      await op.run(ex, body, target, deps.config().loaded.config.server.limits.media);
    } catch (error) {
      ex.fail(error);
    } finally {
      ex.life.close();
    }
  }

  function route(req: HttpRequest, res: HttpResponse): Promise<void> | undefined {
    const path = new URL(req.url ?? "/", "http://gateway.invalid").pathname;
    const op = path === "/v1/responses" ? create : path === "/v1/responses/input_tokens" ? count : undefined;
    if (op) return req.method === "POST" ? post(req, res, op) : refuseMethod(res, req.method ?? "GET", path);
    // GET / DELETE /v1/responses/{id} need stored responses, which are not built yet.
    if (path.startsWith("/v1/responses/")) return notStored(res);
    return undefined;
  }

  return (req, res) => {
    const serve = route(req, res);
    if (!serve) return false;
    serve.catch((error: unknown) => {
      // Every step renders its own failures; reaching here is a bug: answer 500, details in the log.
      const requestId = randomUUID();
      deps.logger.error({ err: error, requestId }, "responses facade failed unexpectedly");
      const rendered = renderError(error, requestId);
      sendJson(res, rendered.status, rendered.headers, rendered.body);
      if (!res.writableEnded) res.end();
    });
    return true;
  };
}

/** Another method on a Responses path (Codex first tries a WebSocket GET): 405, outside any operation. */
async function refuseMethod(res: HttpResponse, method: string, path: string): Promise<void> {
  const error = new OpenAIRequestError("invalid_argument", `${method} is not allowed on ${path}: use POST`, {
    status: 405,
  });
  const { headers, body } = renderError(error, randomUUID());
  sendJson(res, 405, { ...headers, allow: "POST" }, body);
}

async function notStored(res: HttpResponse): Promise<void> {
  const error = new OpenAIRequestError(
    "invalid_argument",
    "stored responses are not supported yet: this gateway keeps no responses (send the conversation in input)",
    { status: 404 },
  );
  const { headers, body } = renderError(error, randomUUID());
  sendJson(res, 404, headers, body);
}
