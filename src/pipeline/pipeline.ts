import type { AdapterEvent, EmbedOutput, GenerateInput, GenerateOutput } from "../adapters/adapter.ts";
import type { RequestContext } from "../api/request-context.ts";
import type { CompiledConfig } from "../config/compile.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { UpstreamError } from "../errors/upstream-error.ts";
import { estimatePromptTokens, estimateTokens, Meter, type MeteredUsage } from "../metering/meter.ts";
import type { AccessControl } from "../policy/access-control.ts";
import type { Permission } from "../policy/rbac.ts";
import { contentNeeds, type Needs } from "../routing/capabilities.ts";
import type { Deadline } from "../routing/deadline.ts";
import { type AttemptSource, attemptLoop, type Marker } from "../routing/fallback.ts";
import type { RequestFacts } from "../routing/router.ts";
import { bounded } from "../telemetry/bounded.ts";
import type { Admission, Admitter } from "./admission.ts";
import type { Settler } from "./settlement.ts";

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
 * handler → policies → router → adapter → upstream, and back. Admission:
 * who is calling and may they (access control), which route and targets
 * (router), then rate limits and budgets. Settlement runs exactly once on
 * every outcome — success, error, cancel, deadline — with the usage settled
 * (exact, or partial and estimated): limits and budgets trued up, one ledger
 * record. Each request reads the config snapshot current when it starts, so
 * a reload never changes a request in flight.
 */
export class Pipeline {
  readonly #access: AccessControl;
  readonly #admitter: Admitter;
  readonly #settler: Settler;
  readonly #overload: { check(): void } | undefined;

  constructor(deps: {
    config: () => CompiledConfig;
    access: AccessControl;
    admitter: Admitter;
    settler: Settler;
    /** Load shedding, checked first: an overloaded gateway refuses before spending anything on the call. */
    overload?: { check(): void };
  }) {
    this.#overload = deps.overload;
    this.#access = deps.access;
    this.#admitter = deps.admitter;
    this.#settler = deps.settler;
  }

  async generate(ctx: RequestContext, request: GenerationRequest): Promise<GenerateResult> {
    await this.authorize(ctx, "inference.generate");
    ctx.endUserId = request.endUserId || undefined;
    const meter = new Meter(estimatePromptTokens(request.messages));
    const facts = generationFacts(ctx, request, false);
    const admission = await this.#admitter.admit(ctx, facts);
    let failure: unknown;
    try {
      let output: GenerateOutput | undefined;
      const events = attemptLoop(
        ctx,
        admission.plan,
        admission.deadline,
        this.#journaled(ctx, admission, facts.estimate, (target, call) =>
          once(target.backend.adapter!.generate({ ...request, model: target.model }, call)),
        ),
        { isContent: () => true, streaming: false },
      );
      for await (const event of events) if ("text" in event && "toolCalls" in event) output = event;
      if (!output) throw new UpstreamError("protocol", "the backend returned no output");
      // The upstream's word for its model reaches the caller (headers, trailers, body) and spans: bounded.
      output = { ...output, model: bounded(output.model) };
      ctx.telemetry.content(ctx);
      ctx.servedModel = output.model;
      ctx.finishReason = output.finishReason;
      meter.observeOutput(
        output.usage,
        output.text + output.toolCalls.map((c) => c.name + c.arguments).join(""),
        output.serviceTier,
      );
      ctx.usage = priced(admission.config, ctx, meter.usage(servedModelOf(ctx)));
      return { output, usage: ctx.usage };
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      await this.#settle(ctx, admission, meter, failure);
    }
  }

  async *stream(ctx: RequestContext, request: GenerationRequest): AsyncGenerator<PipelineEvent> {
    await this.authorize(ctx, "inference.generate");
    ctx.endUserId = request.endUserId || undefined;
    const meter = new Meter(estimatePromptTokens(request.messages));
    const facts = generationFacts(ctx, request, true);
    const admission = await this.#admitter.admit(ctx, facts);
    let failure: unknown;
    try {
      const events = attemptLoop<AdapterEvent>(
        ctx,
        admission.plan,
        admission.deadline,
        this.#journaled(ctx, admission, facts.estimate, (target, call) =>
          target.backend.adapter!.stream({ ...request, model: target.model }, call)[Symbol.asyncIterator](),
        ),
        // Reasoning is output the caller sees: once it has left, failing over would repeat it.
        {
          isContent: (e) => e.type === "text" || e.type === "tool_call" || e.type === "reasoning",
          streaming: true,
        },
      );
      for await (const event of events) {
        if (event.type === "text" || event.type === "tool_call" || event.type === "reasoning")
          ctx.telemetry.content(ctx);
        else if (event.type === "finish") {
          ctx.finishReason = event.reason;
          if (event.model) ctx.servedModel = bounded(event.model);
        }
        if (event.type !== "attempt" && event.type !== "commit") meter.observe(event);
        yield event;
      }
      ctx.usage = priced(admission.config, ctx, meter.usage(servedModelOf(ctx)));
      // Settled (ledger journaled) before the final event leaves: nothing acknowledged is lost.
      await this.#settle(ctx, admission, meter, undefined);
      yield { type: "final", usage: ctx.usage };
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      // A consumer that stops early (caller cancel, or a deadline that passed while the caller was
      // not reading) arrives here without an error.
      await this.#settle(ctx, admission, meter, streamFailure(ctx, admission.deadline, failure));
    }
  }

  async embed(ctx: RequestContext, request: EmbeddingRequest): Promise<EmbedResult> {
    await this.authorize(ctx, "inference.embed");
    const inputTokens = request.inputs.reduce((n, text) => n + estimateTokens(text), 0);
    const needs: Needs = {
      operation: "embed",
      streaming: false,
      tools: false,
      jsonSchema: false,
      contextTokens: 0,
    };
    const estimate = { inputTokens, outputTokens: 0 };
    const admission = await this.#admitter.admit(ctx, {
      ...principalFacts(ctx),
      workload: ctx.workload,
      requestedModel: request.requestedModel,
      metadata: request.metadata,
      needs,
      estimate,
    });
    const meter = new Meter(inputTokens);
    let failure: unknown;
    try {
      let output: EmbedOutput | undefined;
      const events = attemptLoop(
        ctx,
        admission.plan,
        admission.deadline,
        this.#journaled(ctx, admission, estimate, (target, call) => {
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
        }),
        { isContent: () => true, streaming: false },
      );
      for await (const event of events) if ("vectors" in event) output = event;
      if (!output) throw new UpstreamError("protocol", "the backend returned no embeddings");
      output = { ...output, model: bounded(output.model) };
      ctx.telemetry.content(ctx);
      ctx.servedModel = output.model;
      meter.observeOutput(output.usage, "");
      const usage = priced(admission.config, ctx, meter.usage(servedModelOf(ctx)));
      ctx.usage = usage;
      return { output, usage };
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      await this.#settle(ctx, admission, meter, failure);
    }
  }

  /**
   * Who is calling, and may they do this? Front-ends call it first (so an unauthenticated caller
   * learns nothing from validation errors); the pipeline calls it again, which is then a no-op.
   */
  async authenticate(ctx: RequestContext, permission: Permission): Promise<void> {
    if (ctx.principal !== undefined) return;
    if (!ctx.admitted) this.#overload?.check();
    ctx.principal = await this.#access.admit(ctx, permission, ctx.workload);
  }

  /** Authentication, then: may this key use this workload (and requested model)? */
  /** Authenticates the caller and checks its key's scope for ctx's workload and model (denials audited). */
  async authorize(ctx: RequestContext, permission: Permission): Promise<void> {
    await this.authenticate(ctx, permission);
    this.#access.checkScope(ctx, ctx.principal!, permission, ctx.workload, ctx.requestedModel);
  }

  /**
   * The attempt source, journaling the request's dispatch as its first attempt starts (before any
   * upstream I/O), so a crash from then on still leaves its ledger row. Later attempts add nothing.
   */
  #journaled<E>(
    ctx: RequestContext,
    admission: Admission,
    estimate: RequestFacts["estimate"],
    source: AttemptSource<E>,
  ): AttemptSource<E> {
    let first = true;
    return (target, call) => {
      if (first) {
        first = false;
        this.#settler.dispatched(ctx, admission, target, estimate);
      }
      return source(target, call);
    };
  }

  /** Exactly once per admitted request, whatever the outcome. */
  async #settle(ctx: RequestContext, admission: Admission, meter: Meter, failure: unknown): Promise<void> {
    if (ctx.settled) return;
    ctx.settled = true;
    admission.deadline.dispose();
    ctx.usage ??= priced(admission.config, ctx, meter.usage(servedModelOf(ctx))); // partial usage of a failure
    await this.#settler.settle(ctx, admission, failure);
  }
}

/** The model that served: as the provider reported it, else the target's (a cut stream reports none). */
function servedModelOf(ctx: RequestContext): string | undefined {
  return ctx.servedModel ?? ctx.decision.servedBy?.model ?? ctx.decision.attempts.at(-1)?.model;
}

/**
 * What a stream that did not end normally settles as. Once its deadline passed it is a deadline,
 * whatever ended it: a consumer that stopped (the front door gave up on a caller that was not
 * reading) or the front door's own write failing after it reset such a caller.
 */
function streamFailure(ctx: RequestContext, deadline: Deadline, failure: unknown): unknown {
  if (failure instanceof GatewayError) return failure;
  if (failure === undefined && ctx.settled) return undefined;
  if (deadline.expired)
    return new GatewayError("deadline_exceeded", "the deadline passed before the stream was delivered");
  return failure ?? new Error("cancelled: the caller stopped reading");
}

/** Adds the cost of the usage at the serving target's price (at the tier that served), when one is configured. */
function priced(config: CompiledConfig, ctx: RequestContext, usage: MeteredUsage): MeteredUsage {
  const served = ctx.decision.servedBy;
  const price = served && config.prices.priceOf(served.backend, served.model);
  return price
    ? { ...usage, costMicroUsd: config.prices.costMicroUsd(price, usage, usage.serviceTier) }
    : usage;
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
      ...contentNeeds(request),
      contextTokens: inputTokens + (request.sampling.maxOutputTokens ?? 0),
    },
    estimate: { inputTokens, outputTokens },
  };
}

/** A unary upstream call as a one-event iterator, so unary and streaming share the attempt loop. */
async function* once<T>(result: Promise<T>): AsyncGenerator<T> {
  yield await result;
}
