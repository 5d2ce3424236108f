import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { FinishReason } from "../../gen/switchyard/v1/generation_pb.ts";
import {
  type InferenceService,
  Operation as WireOperation,
} from "../../gen/switchyard/v1/inference_service_pb.ts";
import type { CompiledConfig } from "../config/compile.ts";
import { toConnectError } from "../errors/to-connect-error.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import type { Principal } from "../policy/principal.ts";
import { allows } from "../policy/rbac.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { RequestTelemetry } from "../telemetry/request-telemetry.ts";
import { ADMITTED, createRequestContext, type RequestContext } from "./request-context.ts";
import { FINISH, routingInfo, setRateLimitHeaders, setRoutingTrailers, usageInfo } from "./routing-info.ts";
import { toEmbeddingRequest, toGenerationRequest } from "./validate.ts";

export type InferenceDeps = {
  pipeline: Pipeline;
  config: () => CompiledConfig;
  logger: Logger;
  telemetry: RequestTelemetry;
};

/** switchyard.v1.InferenceService: validate, build the request context, run the pipeline, answer. */
export function inferenceService(deps: InferenceDeps): ServiceImpl<typeof InferenceService> {
  const begin = (
    context: HandlerContext,
    operation: RequestContext["operation"],
    req: { workload: string; model: string },
  ) => {
    const ctx = createRequestContext({
      operation,
      protocol: context.protocolName,
      workload: req.workload,
      requestedModel: req.model,
      headers: context.requestHeader,
      signal: context.signal,
      callerTimeoutMs: context.timeoutMs(),
      logger: deps.logger,
      telemetry: deps.telemetry,
      admitted: context.values.get(ADMITTED),
    });
    deps.telemetry.begin(ctx, context.requestHeader, `${context.service.typeName}/${context.method.name}`);
    context.responseHeader.set("x-request-id", ctx.id);
    return ctx;
  };

  /** Ends the request (log line, span, metrics) and sets the timing trailer; returns nothing to send. */
  const finish = (ctx: RequestContext, trailers: Headers, failure: unknown) => {
    setRateLimitHeaders(trailers, ctx.rateLimit);
    const { totalMs, upstreamMs } = deps.telemetry.finish(ctx, failure);
    const timing = `gateway;dur=${(totalMs - upstreamMs).toFixed(2)}, upstream;dur=${upstreamMs.toFixed(2)}`;
    trailers.set("server-timing", timing);
    return timing;
  };

  const fail = (ctx: RequestContext, error: unknown) => {
    const out = toConnectError(error, ctx.id);
    setRoutingTrailers(out.metadata, ctx.decision, undefined, ctx.usage);
    finish(ctx, out.metadata, error);
    return out;
  };

  return {
    async generate(req, context) {
      const ctx = begin(context, "generate", req);
      try {
        await deps.pipeline.authenticate(ctx, "inference.generate");
        const { output, usage } = await deps.pipeline.generate(ctx, toGenerationRequest(req));
        setRoutingTrailers(context.responseTrailer, ctx.decision, output.model, usage);
        // Unary: headers leave with the response, so timing and limits can be headers as well.
        context.responseHeader.set("server-timing", finish(ctx, context.responseTrailer, undefined));
        setRateLimitHeaders(context.responseHeader, ctx.rateLimit);
        return {
          requestId: ctx.id,
          text: output.text,
          toolCalls: output.toolCalls,
          finishReason: FINISH[output.finishReason],
          usage: usageInfo(usage),
          routing: routingInfo(ctx.decision, output.model),
        };
      } catch (error) {
        throw fail(ctx, error);
      }
    },

    async *generateStream(req, context) {
      const ctx = begin(context, "generate_stream", req);
      let finishReason: FinishReason = FinishReason.UNSPECIFIED;
      try {
        await deps.pipeline.authenticate(ctx, "inference.generate");
        for await (const event of deps.pipeline.stream(ctx, toGenerationRequest(req))) {
          switch (event.type) {
            case "text":
              yield { event: { case: "textDelta", value: { text: event.text } } };
              break;
            case "tool_call":
              yield {
                event: {
                  case: "toolCallDelta",
                  value: {
                    index: event.index,
                    id: event.id ?? "",
                    name: event.name ?? "",
                    argumentsDelta: event.argumentsDelta,
                  },
                },
              };
              break;
            case "attempt":
              yield { event: { case: "attempt", value: event } };
              break;
            case "commit":
              yield { event: { case: "commit", value: event } };
              break;
            case "finish":
              finishReason = FINISH[event.reason];
              break;
            case "usage":
              break; // settled by the pipeline's meter, sent in the final event
            case "final":
              setRoutingTrailers(context.responseTrailer, ctx.decision, ctx.servedModel, event.usage);
              yield {
                event: {
                  case: "final",
                  value: {
                    requestId: ctx.id,
                    finishReason,
                    usage: usageInfo(event.usage),
                    routing: routingInfo(ctx.decision, ctx.servedModel),
                  },
                },
              };
              break;
          }
        }
        finish(ctx, context.responseTrailer, undefined);
      } catch (error) {
        throw fail(ctx, error);
      }
    },

    async embed(req, context) {
      const ctx = begin(context, "embed", req);
      try {
        await deps.pipeline.authenticate(ctx, "inference.embed");
        const { output, usage } = await deps.pipeline.embed(ctx, toEmbeddingRequest(req));
        setRoutingTrailers(context.responseTrailer, ctx.decision, output.model, usage);
        context.responseHeader.set("server-timing", finish(ctx, context.responseTrailer, undefined));
        return {
          requestId: ctx.id,
          embeddings: output.vectors.map((v) => ({ values: Array.from(v) })),
          usage: usageInfo(usage),
          routing: routingInfo(ctx.decision, output.model),
        };
      } catch (error) {
        throw fail(ctx, error);
      }
    },

    async listModels(_req, context) {
      const ctx = begin(context, "list_models", { workload: "", model: "" });
      let principal: Principal;
      try {
        await deps.pipeline.authenticate(ctx, "inference.list");
        principal = ctx.principal!;
      } catch (error) {
        throw fail(ctx, error);
      }
      finish(ctx, context.responseTrailer, undefined);
      const config = deps.config();
      const workloads = [...config.routes.values()]
        .filter((route) => allows(principal.workloads, route.workload))
        .sort((a, b) => a.workload.localeCompare(b.workload))
        .map((route) => ({
          workload: route.workload,
          description: route.description,
          operations: [...route.operations].map((op) =>
            op === "embed" ? WireOperation.EMBED : WireOperation.GENERATE,
          ),
          models: route.targets
            .filter(
              (t) =>
                allows(principal.models, t.model) ||
                (t.alias !== undefined && allows(principal.models, t.alias)),
            )
            .map((t) => ({
              name: t.alias ?? t.model,
              backend: t.backend.name,
              upstreamModel: t.model,
              enabled: t.backend.adapter !== undefined,
            })),
        }));
      return { workloads };
    },
  };
}
