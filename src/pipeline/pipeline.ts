import type { EmbedOutput, GenerateInput, GenerateOutput } from "../adapters/adapter.ts";
import type { RequestContext } from "../api/request-context.ts";
import type { CompiledConfig, Operation } from "../config/compile.ts";
import { UpstreamError } from "../errors/upstream-error.ts";
import { estimatePromptTokens, estimateTokens, Meter, type MeteredUsage } from "../metering/meter.ts";
import { Deadline } from "../routing/deadline.ts";
import { attemptStream, attemptUnary, type RoutedEvent } from "../routing/fallback.ts";
import { resolveRoute } from "../routing/resolve-route.ts";

/** A generation request after validation, before a route picks the model. */
export type GenerationRequest = Omit<GenerateInput, "model"> & {
  requestedModel: string;
  metadata: Record<string, string>;
};

export type EmbeddingRequest = { requestedModel: string; inputs: string[]; dimensions?: number };

export type GenerateResult = { output: GenerateOutput; usage: MeteredUsage };
export type EmbedResult = { output: EmbedOutput; usage: MeteredUsage };
export type PipelineEvent = RoutedEvent | { type: "final"; usage: MeteredUsage };

/**
 * handler → (policies, later) → router → adapter → upstream, and back. Each
 * request reads the config snapshot current when it starts, so a reload
 * never changes a request in flight. The usage it settles (exact, or partial
 * and estimated) is left on the context for the handler's request log.
 */
export class Pipeline {
  readonly #config: () => CompiledConfig;

  constructor(config: () => CompiledConfig) {
    this.#config = config;
  }

  async generate(ctx: RequestContext, request: GenerationRequest): Promise<GenerateResult> {
    const { candidates, deadline } = this.#admit(ctx, request.requestedModel, "generate");
    const meter = new Meter(estimatePromptTokens(request.messages));
    try {
      const { value } = await attemptUnary(ctx, candidates, deadline, (target, call) =>
        target.backend.adapter!.generate({ ...request, model: target.model }, call),
      );
      meter.observeOutput(
        value.usage,
        value.text.length + value.toolCalls.reduce((n, c) => n + c.arguments.length, 0),
      );
      ctx.usage = meter.usage();
      return { output: value, usage: ctx.usage };
    } finally {
      deadline.dispose();
    }
  }

  async *stream(ctx: RequestContext, request: GenerationRequest): AsyncGenerator<PipelineEvent> {
    const { candidates, deadline } = this.#admit(ctx, request.requestedModel, "generate");
    const meter = new Meter(estimatePromptTokens(request.messages));
    try {
      const events = attemptStream(ctx, candidates, deadline, (target, call) =>
        target.backend.adapter!.stream({ ...request, model: target.model }, call),
      );
      for await (const event of events) {
        if (event.type !== "attempt" && event.type !== "commit") meter.observe(event);
        yield event;
      }
      ctx.usage = meter.usage();
      yield { type: "final", usage: ctx.usage };
    } finally {
      deadline.dispose();
      ctx.usage ??= meter.usage(); // partial usage of a failed or cancelled stream
    }
  }

  async embed(ctx: RequestContext, request: EmbeddingRequest): Promise<EmbedResult> {
    const { candidates, deadline } = this.#admit(ctx, request.requestedModel, "embed");
    try {
      const { value } = await attemptUnary(ctx, candidates, deadline, (target, call) => {
        const adapter = target.backend.adapter!;
        if (!adapter.embed) {
          throw new UpstreamError(
            "bad_request",
            `backend ${target.backend.name} (${target.backend.type}) cannot embed`,
          );
        }
        const input = { model: target.model, inputs: request.inputs };
        return adapter.embed(
          request.dimensions === undefined ? input : { ...input, dimensions: request.dimensions },
          call,
        );
      });
      const usage: MeteredUsage = value.usage
        ? { ...value.usage, accuracy: "exact" }
        : {
            inputTokens: request.inputs.reduce((n, text) => n + estimateTokens(text), 0),
            outputTokens: 0,
            cachedInputTokens: 0,
            accuracy: "estimated",
          };
      ctx.usage = usage;
      return { output: value, usage };
    } finally {
      deadline.dispose();
    }
  }

  /** Route resolution and the request deadline; throws catalog errors to reject. */
  #admit(ctx: RequestContext, requestedModel: string, operation: Operation) {
    const { route, candidates } = resolveRoute(
      this.#config(),
      ctx.workload,
      requestedModel,
      operation,
      ctx.decision,
    );
    const deadline = new Deadline(ctx.signal, ctx.callerTimeoutMs, route.totalTimeoutMs, ctx.startedAt);
    return { route, candidates, deadline };
  }
}
