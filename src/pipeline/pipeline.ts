import type { AdapterEvent, EmbedOutput, GenerateInput, GenerateOutput } from "../adapters/adapter.ts";
import type { RequestContext } from "../api/request-context.ts";
import { outputFromEvents } from "../cache/cache-entry.ts";
import type { CompiledConfig } from "../config/compile.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { UpstreamError } from "../errors/upstream-error.ts";
import { estimatePromptTokens, estimateTokens, Meter, type MeteredUsage } from "../metering/meter.ts";
import type { AccessControl } from "../policy/access-control.ts";
import type { AdmittedChain } from "../policy/chain/chain.ts";
import type { PolicyChains } from "../policy/chain/chains.ts";
import type { Exchange, StreamEvent } from "../policy/chain/policy.ts";
import type { Permission } from "../policy/rbac.ts";
import { contentNeeds, type Needs } from "../routing/capabilities.ts";
import { Deadline } from "../routing/deadline.ts";
import { type AttemptSource, attemptLoop, type Marker } from "../routing/fallback.ts";
import type { Plan, RequestFacts } from "../routing/router.ts";
import { bounded } from "../telemetry/bounded.ts";
import { outcomeOf } from "./outcome.ts";

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
 * handler → policy chain → router → adapter → upstream, and back. Who is
 * calling and may they (access control) comes first; then the route's
 * policy chain (policy/chain/): routing, rate limits, budgets, the ledger
 * and whatever the config adds, each admitting in order and settling exactly
 * once in reverse, on every outcome — success, error, cancel, deadline —
 * with the usage settled (exact, or partial and estimated) and the outcome
 * computed once (outcome.ts). Each request reads the config snapshot current
 * when it starts, so a reload never changes a request in flight.
 */
export class Pipeline {
  readonly #config: () => CompiledConfig;
  readonly #access: AccessControl;
  readonly #chains: PolicyChains;
  readonly #overload: { check(): void } | undefined;

  constructor(deps: {
    config: () => CompiledConfig;
    access: AccessControl;
    chains: PolicyChains;
    /** Load shedding, checked first: an overloaded gateway refuses before spending anything on the call. */
    overload?: { check(): void };
  }) {
    this.#config = deps.config;
    this.#overload = deps.overload;
    this.#access = deps.access;
    this.#chains = deps.chains;
  }

  async generate(ctx: RequestContext, request: GenerationRequest): Promise<GenerateResult> {
    await this.authorize(ctx, "inference.generate");
    ctx.endUserId = request.endUserId || undefined;
    const { x, chain } = await this.#admit(ctx, "generate", request, generationFacts(ctx, request, false));
    const input = x.request as GenerationRequest; // as the policies left it (a cap, a masked prompt)
    const meter = new Meter(estimatePromptTokens(input.messages));
    let deadline: Deadline | undefined;
    let failure: unknown;
    try {
      deadline = this.#deadline(ctx, x);
      let output: GenerateOutput | undefined;
      if (x.answer)
        output = outputFromEvents(x.answer.events, ctx.requestedModel); // a cache hit
      else {
        const events = attemptLoop(
          ctx,
          x.plan!,
          deadline,
          journaled(chain, (target, call) =>
            once(target.backend.adapter!.generate({ ...input, model: target.model }, call)),
          ),
          { isContent: () => true, streaming: false },
        );
        for await (const event of events) if ("text" in event && "toolCalls" in event) output = event;
      }
      if (!output) throw new UpstreamError("protocol", "the backend returned no output");
      // The upstream's word for its model reaches the caller (headers, trailers, body) and spans: bounded.
      output = { ...output, model: bounded(output.model) };
      meter.observeOutput(
        output.usage,
        output.text + output.toolCalls.map((c) => c.name + c.arguments).join(""),
        output.serviceTier,
      );
      ctx.servedModel = output.model;
      ctx.finishReason = output.finishReason;
      output = await chain.output(output); // guardrails on the answer: masked, or refused
      ctx.telemetry.content(ctx);
      ctx.usage = priced(x.config, ctx, meter.usage(servedModelOf(ctx)));
      return { output, usage: ctx.usage };
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      await this.#settle(ctx, x, chain, deadline, meter, failure);
    }
  }

  async *stream(ctx: RequestContext, request: GenerationRequest): AsyncGenerator<PipelineEvent> {
    await this.authorize(ctx, "inference.generate");
    ctx.endUserId = request.endUserId || undefined;
    const { x, chain } = await this.#admit(ctx, "generate", request, generationFacts(ctx, request, true));
    const input = x.request as GenerationRequest;
    const meter = new Meter(estimatePromptTokens(input.messages));
    let deadline: Deadline | undefined;
    let failure: unknown;
    try {
      deadline = this.#deadline(ctx, x);
      const upstream = x.answer
        ? replay(x.answer.events) // a cache hit: the stored events, as the upstream sent them
        : attemptLoop<AdapterEvent>(
            ctx,
            x.plan!,
            deadline,
            journaled(chain, (target, call) =>
              target.backend.adapter!.stream({ ...input, model: target.model }, call)[Symbol.asyncIterator](),
            ),
            // Reasoning is output the caller sees: once it has left, failing over would repeat it.
            {
              isContent: (e) => e.type === "text" || e.type === "tool_call" || e.type === "reasoning",
              streaming: true,
            },
          );
      // The meter counts what the upstream sent; the caller gets what the policies let through.
      const watched = chain.watchesStream;
      const toCaller = watched ? chain.stream(observed(upstream, ctx, meter)) : upstream;
      for await (const event of toCaller) {
        if (event.type === "text" || event.type === "tool_call" || event.type === "reasoning")
          ctx.telemetry.content(ctx);
        if (!watched) observe(event, ctx, meter);
        yield event;
      }
      ctx.usage = priced(x.config, ctx, meter.usage(servedModelOf(ctx)));
      // Settled (ledger journaled) before the final event leaves: nothing acknowledged is lost.
      await this.#settle(ctx, x, chain, deadline, meter, undefined);
      yield { type: "final", usage: ctx.usage };
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      // A consumer that stops early (caller cancel, or a deadline that passed while the caller was
      // not reading) arrives here without an error.
      await this.#settle(ctx, x, chain, deadline, meter, streamFailure(ctx, deadline, failure));
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
    const { x, chain } = await this.#admit(ctx, "embed", request, {
      ...principalFacts(ctx),
      workload: ctx.workload,
      requestedModel: request.requestedModel,
      metadata: request.metadata,
      needs,
      estimate: { inputTokens, outputTokens: 0 },
    });
    const input = x.request as EmbeddingRequest;
    const meter = new Meter(inputTokens);
    let deadline: Deadline | undefined;
    let failure: unknown;
    try {
      deadline = this.#deadline(ctx, x);
      let output: EmbedOutput | undefined;
      const events = attemptLoop(
        ctx,
        x.plan!,
        deadline,
        journaled(chain, (target, call) => {
          const adapter = target.backend.adapter!;
          if (!adapter.embed) {
            return once(
              Promise.reject(new UpstreamError("bad_request", `${target.backend.name} cannot embed`)),
            );
          }
          const embedInput = { model: target.model, inputs: input.inputs };
          return once(
            adapter.embed(
              input.dimensions === undefined ? embedInput : { ...embedInput, dimensions: input.dimensions },
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
      const usage = priced(x.config, ctx, meter.usage(servedModelOf(ctx)));
      ctx.usage = usage;
      return { output, usage };
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      await this.#settle(ctx, x, chain, deadline, meter, failure);
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

  /** Authenticates the caller and checks its key's scope for ctx's workload and model (denials audited). */
  async authorize(ctx: RequestContext, permission: Permission): Promise<void> {
    await this.authenticate(ctx, permission);
    this.#access.checkScope(ctx, ctx.principal!, permission, ctx.workload, ctx.requestedModel);
  }

  /** The route's policy chain, admitting the request (a refusal throws, already settled). */
  async #admit(
    ctx: RequestContext,
    kind: Exchange["kind"],
    request: GenerationRequest | EmbeddingRequest,
    facts: RequestFacts,
  ): Promise<{ x: Exchange; chain: AdmittedChain }> {
    const config = this.#config();
    const x: Exchange = {
      ctx,
      config,
      kind,
      request,
      facts,
      plan: undefined,
      answer: undefined,
      requiredGuardrails: [],
    };
    const chain = await this.#chains.for(config, ctx.workload).admit(x, ctx.logger);
    return { x, chain };
  }

  /**
   * The request's deadline: the caller's timeout, capped at server.limits.maxTimeoutMs on every front
   * door (the OpenAI facade's x-stainless-timeout included), then by the route's total timeout.
   */
  #deadline(ctx: RequestContext, x: Exchange): Deadline {
    const plan: Plan = x.plan!;
    const callerTimeoutMs =
      ctx.callerTimeoutMs === undefined
        ? undefined
        : Math.min(ctx.callerTimeoutMs, x.config.loaded.config.server.limits.maxTimeoutMs);
    const deadline = new Deadline(ctx.signal, callerTimeoutMs, plan.route.timeouts.totalMs, ctx.startedAt);
    ctx.deadlineSignal = deadline.signal; // front doors that wait on a slow reader stop waiting at it
    return deadline;
  }

  /** Exactly once per admitted request, whatever the outcome: the outcome, then the chain's settles. */
  async #settle(
    ctx: RequestContext,
    x: Exchange,
    chain: AdmittedChain,
    deadline: Deadline | undefined,
    meter: Meter,
    failure: unknown,
  ): Promise<void> {
    if (ctx.settled) return;
    ctx.settled = true;
    deadline?.dispose();
    ctx.usage ??= priced(x.config, ctx, meter.usage(servedModelOf(ctx))); // partial usage of a failure
    ctx.outcome = outcomeOf(ctx, failure);
    await chain.settle(ctx.outcome);
  }
}

/**
 * The attempt source, telling the chain (the ledger's journal) as the first attempt starts, before
 * any upstream I/O, so a crash from then on still leaves the request's row. Later attempts add nothing.
 */
function journaled<E>(chain: AdmittedChain, source: AttemptSource<E>): AttemptSource<E> {
  let first = true;
  return (target, call) => {
    if (first) {
      first = false;
      chain.dispatched(target);
    }
    return source(target, call);
  };
}

/** What the context and the meter take from each streamed event the upstream sent. */
function observe(event: StreamEvent, ctx: RequestContext, meter: Meter): void {
  if (event.type === "attempt" || event.type === "commit") return;
  if (event.type === "finish") {
    ctx.finishReason = event.reason;
    if (event.model) ctx.servedModel = bounded(event.model);
  }
  meter.observe(event);
}

async function* replay(events: readonly AdapterEvent[]): AsyncGenerator<StreamEvent> {
  yield* events;
}

async function* observed(
  events: AsyncIterable<StreamEvent>,
  ctx: RequestContext,
  meter: Meter,
): AsyncGenerator<StreamEvent> {
  for await (const event of events) {
    observe(event, ctx, meter);
    yield event;
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
function streamFailure(ctx: RequestContext, deadline: Deadline | undefined, failure: unknown): unknown {
  if (failure instanceof GatewayError) return failure;
  if (failure === undefined && ctx.settled) return undefined;
  if (deadline?.expired)
    return new GatewayError("deadline_exceeded", "the deadline passed before the stream was delivered");
  return failure ?? new Error("cancelled: the caller stopped reading");
}

/** Adds the cost of the usage at the serving target's price (at the tier that served), when one is configured. */
function priced(config: CompiledConfig, ctx: RequestContext, usage: MeteredUsage): MeteredUsage {
  if (ctx.decision.cached) return { ...usage, costMicroUsd: 0 }; // nothing is owed upstream for a hit
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
