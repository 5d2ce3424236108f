import type { AdapterEvent, EmbedOutput, GenerateInput, GenerateOutput } from "../adapters/adapter.ts";
import type { RequestContext } from "../api/request-context.ts";
import type { CompiledConfig } from "../config/compile.ts";
import { UpstreamError } from "../errors/upstream-error.ts";
import { estimatePromptTokens, estimateTokens, Meter, type MeteredUsage } from "../metering/meter.ts";
import type { AccessControl } from "../policy/access-control.ts";
import type { Permission } from "../policy/rbac.ts";
import type { Needs } from "../routing/capabilities.ts";
import { Deadline } from "../routing/deadline.ts";
import { attemptLoop, type Marker } from "../routing/fallback.ts";
import { planRoute, type RequestFacts } from "../routing/router.ts";

/** A generation request after validation, before a route picks the model. */
export type GenerationRequest = Omit<GenerateInput, "model"> & {
  requestedModel: string;
  metadata: Record<string, string>;
};

export type EmbeddingRequest = {
  requestedModel: string;
  inputs: string[];
  dimensions?: number;
  metadata: Record<string, string>;
};

export type GenerateResult = { output: GenerateOutput; usage: MeteredUsage };
export type EmbedResult = { output: EmbedOutput; usage: MeteredUsage };
export type PipelineEvent = AdapterEvent | Marker | { type: "final"; usage: MeteredUsage };

/** Assumed output size for cost estimates and context checks when the caller sets no max. */
const DEFAULT_OUTPUT_ESTIMATE = 512;

/**
 * handler → (policies, later) → router → adapter → upstream, and back. Each
 * request reads the config snapshot current when it starts, so a reload
 * never changes a request in flight. The usage it settles (exact, or partial
 * and estimated) is left on the context for the handler's request log.
 */
export class Pipeline {
  readonly #config: () => CompiledConfig;
  readonly #access: AccessControl;

  constructor(config: () => CompiledConfig, access: AccessControl) {
    this.#config = config;
    this.#access = access;
  }

  async generate(ctx: RequestContext, request: GenerationRequest): Promise<GenerateResult> {
    const meter = new Meter(estimatePromptTokens(request.messages));
    await this.#authorize(ctx, "inference.generate");
    const { plan, deadline, config } = this.#admit(ctx, generationFacts(ctx, request, false));
    try {
      let output: GenerateOutput | undefined;
      const events = attemptLoop(
        ctx,
        plan,
        deadline,
        (target, call) => once(target.backend.adapter!.generate({ ...request, model: target.model }, call)),
        { isContent: () => true, streaming: false },
      );
      for await (const event of events) if ("text" in event && "toolCalls" in event) output = event;
      if (!output) throw new UpstreamError("protocol", "the backend returned no output");
      ctx.telemetry.content(ctx);
      ctx.servedModel = output.model;
      ctx.finishReason = output.finishReason;
      meter.observeOutput(
        output.usage,
        output.text.length + output.toolCalls.reduce((n, c) => n + c.arguments.length, 0),
      );
      ctx.usage = priced(config, ctx, meter.usage());
      return { output, usage: ctx.usage };
    } finally {
      deadline.dispose();
    }
  }

  async *stream(ctx: RequestContext, request: GenerationRequest): AsyncGenerator<PipelineEvent> {
    const meter = new Meter(estimatePromptTokens(request.messages));
    await this.#authorize(ctx, "inference.generate");
    const { plan, deadline, config } = this.#admit(ctx, generationFacts(ctx, request, true));
    try {
      const events = attemptLoop<AdapterEvent>(
        ctx,
        plan,
        deadline,
        (target, call) =>
          target.backend.adapter!.stream({ ...request, model: target.model }, call)[Symbol.asyncIterator](),
        { isContent: (e) => e.type === "text" || e.type === "tool_call", streaming: true },
      );
      for await (const event of events) {
        if (event.type === "text" || event.type === "tool_call") ctx.telemetry.content(ctx);
        else if (event.type === "finish") {
          ctx.finishReason = event.reason;
          if (event.model) ctx.servedModel = event.model;
        }
        if (event.type !== "attempt" && event.type !== "commit") meter.observe(event);
        yield event;
      }
      ctx.usage = priced(config, ctx, meter.usage());
      yield { type: "final", usage: ctx.usage };
    } finally {
      deadline.dispose();
      ctx.usage ??= priced(config, ctx, meter.usage()); // partial usage of a failed or cancelled stream
    }
  }

  async embed(ctx: RequestContext, request: EmbeddingRequest): Promise<EmbedResult> {
    const inputTokens = request.inputs.reduce((n, text) => n + estimateTokens(text), 0);
    const needs: Needs = {
      operation: "embed",
      streaming: false,
      tools: false,
      jsonSchema: false,
      contextTokens: 0,
    };
    const { plan, deadline, config } = this.#admit(ctx, {
      ...principalFacts(ctx),
      workload: ctx.workload,
      requestedModel: request.requestedModel,
      metadata: request.metadata,
      needs,
      estimate: { inputTokens, outputTokens: 0 },
    });
    try {
      let output: EmbedOutput | undefined;
      const events = attemptLoop(
        ctx,
        plan,
        deadline,
        (target, call) => {
          const adapter = target.backend.adapter!;
          if (!adapter.embed) {
            return once(
              Promise.reject(new UpstreamError("bad_request", `${target.backend.name} cannot embed`)),
            );
          }
          const input = { model: target.model, inputs: request.inputs };
          return once(
            adapter.embed(
              request.dimensions === undefined ? input : { ...input, dimensions: request.dimensions },
              call,
            ),
          );
        },
        { isContent: () => true, streaming: false },
      );
      for await (const event of events) if ("vectors" in event) output = event;
      if (!output) throw new UpstreamError("protocol", "the backend returned no embeddings");
      ctx.telemetry.content(ctx);
      ctx.servedModel = output.model;
      const usage = priced(
        config,
        ctx,
        output.usage
          ? { ...output.usage, accuracy: "exact" }
          : { inputTokens, outputTokens: 0, cachedInputTokens: 0, accuracy: "estimated" },
      );
      ctx.usage = usage;
      return { output, usage };
    } finally {
      deadline.dispose();
    }
  }

  /**
   * Who is calling, and may they do this? Front-ends call it first (so an unauthenticated caller
   * learns nothing from validation errors); the pipeline calls it again, which is then a no-op.
   */
  async authenticate(ctx: RequestContext, permission: Permission): Promise<void> {
    ctx.principal ??= await this.#access.admit(ctx, permission, ctx.workload);
  }

  /** Authentication, then: may this key use this workload (and requested model)? */
  async #authorize(ctx: RequestContext, permission: Permission): Promise<void> {
    await this.authenticate(ctx, permission);
    this.#access.checkScope(ctx, ctx.principal!, permission, ctx.workload, ctx.requestedModel);
  }

  /** Route planning and the request deadline; throws catalog errors to reject. */
  #admit(ctx: RequestContext, facts: RequestFacts) {
    const config = this.#config();
    const plan = planRoute(config, facts, ctx.decision);
    const deadline = new Deadline(
      ctx.signal,
      ctx.callerTimeoutMs,
      plan.route.timeouts.totalMs,
      ctx.startedAt,
    );
    return { plan, deadline, config };
  }
}

/** Adds the cost of the usage at the serving target's price, when one is configured. */
function priced(config: CompiledConfig, ctx: RequestContext, usage: MeteredUsage): MeteredUsage {
  const served = ctx.decision.servedBy;
  const price = served && config.prices.priceOf(served.backend, served.model);
  return price ? { ...usage, costMicroUsd: config.prices.costMicroUsd(price, usage) } : usage;
}

function principalFacts(ctx: RequestContext) {
  return {
    team: ctx.principal?.team,
    keyId: ctx.principal?.keyId,
    allowedModels: ctx.principal?.models ?? ["*"],
  };
}

function generationFacts(ctx: RequestContext, request: GenerationRequest, streaming: boolean): RequestFacts {
  const inputTokens = estimatePromptTokens(request.messages);
  const outputTokens = request.sampling.maxOutputTokens ?? DEFAULT_OUTPUT_ESTIMATE;
  const format = request.responseFormat?.type;
  return {
    ...principalFacts(ctx),
    workload: ctx.workload,
    requestedModel: request.requestedModel,
    metadata: request.metadata,
    needs: {
      operation: "generate",
      streaming,
      tools: request.tools.length > 0,
      jsonSchema: format === "json_schema" || format === "json_object",
      contextTokens: inputTokens + (request.sampling.maxOutputTokens ?? 0),
    },
    estimate: { inputTokens, outputTokens },
  };
}

/** A unary upstream call as a one-event iterator, so unary and streaming share the attempt loop. */
async function* once<T>(result: Promise<T>): AsyncGenerator<T> {
  yield await result;
}
