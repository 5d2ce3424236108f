import { randomUUID } from "node:crypto";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { FinishReason } from "../../gen/switchyard/v1/generation_pb.ts";
import {
  type InferenceService,
  Operation as WireOperation,
} from "../../gen/switchyard/v1/inference_service_pb.ts";
import type { CompiledConfig } from "../config/compile.ts";
import { toConnectError } from "../errors/to-connect-error.ts";
import type { Pipeline } from "../pipeline/pipeline.ts";
import type { Logger } from "../telemetry/logger.ts";
import { newDecision, type RequestContext } from "./request-context.ts";
import { logRequest } from "./request-log.ts";
import { FINISH, routingInfo, setRoutingTrailers, usageInfo } from "./routing-info.ts";
import { toEmbeddingRequest, toGenerationRequest } from "./validate.ts";

export type InferenceDeps = { pipeline: Pipeline; config: () => CompiledConfig; logger: Logger };

/** switchyard.v1.InferenceService: validate, build the request context, run the pipeline, answer. */
export function inferenceService(deps: InferenceDeps): ServiceImpl<typeof InferenceService> {
  const contextOf = (context: HandlerContext, operation: RequestContext["operation"], workload: string) => {
    const ctx: RequestContext = {
      id: randomUUID(),
      principal: undefined,
      operation,
      workload,
      signal: context.signal,
      callerTimeoutMs: context.timeoutMs(),
      startedAt: Date.now(),
      logger: deps.logger,
      decision: newDecision(),
      usage: undefined,
    };
    context.responseHeader.set("x-request-id", ctx.id);
    return ctx;
  };

  const fail = (ctx: RequestContext, error: unknown) => {
    logRequest(ctx, error);
    const out = toConnectError(error, ctx.id);
    setRoutingTrailers(out.metadata, ctx.decision, undefined, ctx.usage);
    return out;
  };

  return {
    async generate(req, context) {
      const ctx = contextOf(context, "generate", req.workload);
      try {
        const { output, usage } = await deps.pipeline.generate(ctx, toGenerationRequest(req));
        setRoutingTrailers(context.responseTrailer, ctx.decision, output.model, usage);
        logRequest(ctx, undefined);
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
      const ctx = contextOf(context, "generate_stream", req.workload);
      let servedModel: string | undefined;
      let finishReason: FinishReason = FinishReason.UNSPECIFIED;
      try {
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
              servedModel = event.model;
              finishReason = FINISH[event.reason];
              break;
            case "usage":
              break; // settled by the pipeline's meter, sent in the final event
            case "final": {
              setRoutingTrailers(context.responseTrailer, ctx.decision, servedModel, event.usage);
              yield {
                event: {
                  case: "final",
                  value: {
                    requestId: ctx.id,
                    finishReason,
                    usage: usageInfo(event.usage),
                    routing: routingInfo(ctx.decision, servedModel),
                  },
                },
              };
              break;
            }
          }
        }
        logRequest(ctx, undefined);
      } catch (error) {
        throw fail(ctx, error);
      }
    },

    async embed(req, context) {
      const ctx = contextOf(context, "embed", req.workload);
      try {
        const { output, usage } = await deps.pipeline.embed(ctx, toEmbeddingRequest(req));
        setRoutingTrailers(context.responseTrailer, ctx.decision, output.model, usage);
        logRequest(ctx, undefined);
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

    async listModels() {
      const config = deps.config();
      const workloads = [...config.routes.values()]
        .sort((a, b) => a.workload.localeCompare(b.workload))
        .map((route) => ({
          workload: route.workload,
          description: route.description,
          operations: [...route.operations].map((op) =>
            op === "embed" ? WireOperation.EMBED : WireOperation.GENERATE,
          ),
          models: route.targets.map((t) => ({
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
