import type { AdapterEvent, GenerateOutput } from "../../adapters/adapter.ts";
import type { RequestContext } from "../../api/request-context.ts";
import type { CompiledConfig, CompiledTarget } from "../../config/compile.ts";
import type { Outcome } from "../../pipeline/outcome.ts";
import type { EmbeddingRequest, GenerationRequest } from "../../pipeline/pipeline.ts";
import type { Marker } from "../../routing/fallback.ts";
import type { Plan, RequestFacts } from "../../routing/router.ts";

/** What flows from the attempt loop to the caller: the upstream's events and the loop's markers. */
export type StreamEvent = AdapterEvent | Marker;

/**
 * One request as the policy chain sees it. Admission may rewrite `request` and `facts` (a CEL cap on
 * max_tokens, a masked prompt), set `plan` (routing; a budget downgrade re-plans) or `answer` (a
 * cache hit: no upstream is asked and the policies after it do not run).
 */
export type Exchange = {
  readonly ctx: RequestContext;
  readonly config: CompiledConfig;
  readonly kind: "generate" | "embed";
  request: GenerationRequest | EmbeddingRequest;
  facts: RequestFacts;
  plan: Plan | undefined;
  answer: { events: readonly AdapterEvent[] } | undefined;
  /** Guardrails a policy rule requires for this request (by name), beyond the route's own. */
  requiredGuardrails: readonly string[];
};

/** What one admitted policy does for the rest of one request. Every member is optional. */
export type PolicyRun = {
  /** The first upstream attempt is about to start (before any upstream I/O). */
  dispatched?(target: CompiledTarget): void;
  /**
   * Streamed events on their way to the caller: returns the stream to pass on (masked, held back,
   * or ending with a GatewayError). Markers must pass through untouched.
   */
  stream?(events: AsyncIterable<StreamEvent>): AsyncIterable<StreamEvent>;
  /** A unary answer on its way to the caller: returns it (masked) or throws a GatewayError. */
  output?(output: GenerateOutput): GenerateOutput | Promise<GenerateOutput>;
  /** Exactly once per admitted request, whatever the outcome, in reverse admission order. */
  settle?(outcome: Outcome): void | Promise<void>;
};

/**
 * A policy of the chain (envoy's filter chain, in phases): `admit` runs in chain order and refuses
 * by throwing a GatewayError; what it returns is that request's run, settled in reverse order.
 * Policies are built per config generation, so everything that depends only on the config is done
 * once; per request only what depends on the request.
 */
export type Policy = {
  readonly name: string;
  admit(x: Exchange): PolicyRun | undefined | Promise<PolicyRun | undefined>;
};
