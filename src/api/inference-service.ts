import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { FinishReason } from "../../gen/switchyard/v1/generation_pb.ts";
import {
  type InferenceService,
  Operation as WireOperation,
} from "../../gen/switchyard/v1/inference_service_pb.ts";
import type { ServiceTier } from "../adapters/adapter.ts";
import type { CompiledConfig } from "../config/compile.ts";
import { toConnectError } from "../errors/to-connect-error.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import type { Principal } from "../policy/principal.ts";
import { allows } from "../policy/rbac.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { RequestTelemetry } from "../telemetry/request-telemetry.ts";
import { WIRE_TIER, wireLogprobs, wireReasoning, wireReasoningDelta } from "./output-parts.ts";
import { ADMITTED, createRequestContext, type RequestContext } from "./request-context.ts";
import { RequestLifecycle } from "./request-lifecycle.ts";
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
    const life = new RequestLifecycle(
      ctx,
      deps.telemetry,
      context.requestHeader,
      `${context.service.typeName}/${context.method.name}`,
    );
    context.responseHeader.set("x-request-id", ctx.id);
    return life;
  };

  /** Ends the request (log line, span, metrics) and sets the timing trailer; returns the timing value. */
  const finish = (life: RequestLifecycle, trailers: Headers, failure: unknown) => {
    setRateLimitHeaders(trailers, life.ctx.rateLimit);
    const timing = life.end(failure);
    trailers.set("server-timing", timing);
    return timing;
  };

  const fail = (life: RequestLifecycle, error: unknown) => {
    const ctx = life.ctx;
    const out = toConnectError(error, ctx.id);
    setRoutingTrailers(out.metadata, ctx.decision, undefined, ctx.usage);
    finish(life, out.metadata, error);
    return out;
  };

  // Each handler ends its lifecycle in `finally` as well: a stream whose caller stops reading is
  // returned at a `yield`, where neither the success nor the error path runs.
  return {
    async generate(req, context) {
      const life = begin(context, "generate", req);
      const ctx = life.ctx;
      try {
        await deps.pipeline.authenticate(ctx, "inference.generate");
        const { output, usage } = await deps.pipeline.generate(
          ctx,
          toGenerationRequest(req, deps.config().loaded.config.server.limits.media),
        );
        setRoutingTrailers(context.responseTrailer, ctx.decision, output.model, usage);
        // Unary: headers leave with the response, so timing and limits can be headers as well.
        context.responseHeader.set("server-timing", finish(life, context.responseTrailer, undefined));
        setRateLimitHeaders(context.responseHeader, ctx.rateLimit);
        return {
          requestId: ctx.id,
          text: output.text,
          toolCalls: output.toolCalls,
          finishReason: FINISH[output.finishReason],
          usage: usageInfo(usage),
          routing: routingInfo(ctx.decision, output.model),
          ...(output.reasoning ? { reasoning: output.reasoning.map(wireReasoning) } : {}),
          ...(output.logprobs ? { logprobs: wireLogprobs(output.logprobs) } : {}),
          ...(output.serviceTier ? { serviceTier: WIRE_TIER[output.serviceTier] } : {}),
        };
      } catch (error) {
        throw fail(life, error);
      } finally {
        life.close();
      }
    },

    async *generateStream(req, context) {
      const life = begin(context, "generate_stream", req);
      const ctx = life.ctx;
      let finishReason: FinishReason = FinishReason.UNSPECIFIED;
      let serviceTier: ServiceTier | undefined;
      try {
        await deps.pipeline.authenticate(ctx, "inference.generate");
        for await (const event of deps.pipeline.stream(
          ctx,
          toGenerationRequest(req, deps.config().loaded.config.server.limits.media),
        )) {
          switch (event.type) {
            case "text":
              yield {
                event: {
                  case: "textDelta",
                  value: event.logprobs
                    ? { text: event.text, logprobs: wireLogprobs(event.logprobs) }
                    : { text: event.text },
                },
              };
              break;
            case "reasoning":
              yield { event: { case: "reasoningDelta", value: wireReasoningDelta(event) } };
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
              serviceTier = event.serviceTier;
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
                    ...(serviceTier ? { serviceTier: WIRE_TIER[serviceTier] } : {}),
                  },
                },
              };
              break;
          }
        }
        finish(life, context.responseTrailer, undefined);
      } catch (error) {
        throw fail(life, error);
      } finally {
        life.close();
      }
    },

    async embed(req, context) {
      const life = begin(context, "embed", req);
      const ctx = life.ctx;
      try {
        await deps.pipeline.authenticate(ctx, "inference.embed");
        const { output, usage } = await deps.pipeline.embed(ctx, toEmbeddingRequest(req));
        setRoutingTrailers(context.responseTrailer, ctx.decision, output.model, usage);
        context.responseHeader.set("server-timing", finish(life, context.responseTrailer, undefined));
        return {
          requestId: ctx.id,
          embeddings: output.vectors.map((v) => ({ values: Array.from(v) })),
          usage: usageInfo(usage),
          routing: routingInfo(ctx.decision, output.model),
        };
      } catch (error) {
        throw fail(life, error);
      } finally {
        life.close();
      }
    },

    async listModels(_req, context) {
      const life = begin(context, "list_models", { workload: "", model: "" });
      let principal: Principal;
      try {
        await deps.pipeline.authenticate(life.ctx, "inference.list");
        principal = life.ctx.principal!;
        finish(life, context.responseTrailer, undefined);
      } catch (error) {
        throw fail(life, error);
      } finally {
        life.close();
      }
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
