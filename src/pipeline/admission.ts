import type { RequestContext } from "../api/request-context.ts";
import type { CompiledConfig } from "../config/compile.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { maxCostMicroUsd } from "../metering/max-cost.ts";
import { type BudgetPolicy, type BudgetReservation, budgetExhaustedError } from "../policy/budget.ts";
import type { RateLimitPolicy, RateReservation } from "../policy/rate-limit.ts";
import { Deadline } from "../routing/deadline.ts";
import { type Plan, planRoute, type RequestFacts } from "../routing/router.ts";

/** Everything admission decided for one request; settlement reads it back. */
export type Admission = {
  config: CompiledConfig;
  plan: Plan;
  deadline: Deadline;
  rate: RateReservation | undefined;
  budget: BudgetReservation | undefined;
};

/**
 * After access control: route planning, then rate limits (requests and the
 * token estimate), then budgets (the request's maximum cost over the planned
 * targets). A budget that is used up rejects the request — or, when the
 * route names a `budgetDowngrade`, re-plans it on that cheaper workload.
 * Whatever admission charged is undone if a later step rejects.
 */
export class Admitter {
  readonly #config: () => CompiledConfig;
  readonly #rateLimits: RateLimitPolicy;
  readonly #budgets: BudgetPolicy;

  constructor(config: () => CompiledConfig, rateLimits: RateLimitPolicy, budgets: BudgetPolicy) {
    this.#config = config;
    this.#rateLimits = rateLimits;
    this.#budgets = budgets;
  }

  async admit(ctx: RequestContext, facts: RequestFacts): Promise<Admission> {
    const config = this.#config();
    // A deadline that passed on arrival (or while authenticating) is refused here, before limits are
    // charged or an upstream is asked: serving it would bill work nobody waits for.
    if (ctx.callerTimeoutMs !== undefined && ctx.startedAt + ctx.callerTimeoutMs <= Date.now())
      throw new GatewayError(
        "deadline_exceeded",
        "the request's deadline had passed before it could be served",
      );
    let plan = planRoute(config, facts, ctx.decision);
    let rate: RateReservation | undefined;
    if (this.#rateLimits.active) {
      const admitted = await this.#rateLimits.admit(ctx.principal, facts.workload, facts.estimate);
      rate = admitted.reservation;
      ctx.rateLimit = admitted.info;
    }
    let budget: BudgetReservation | undefined;
    try {
      if (this.#budgets.active) {
        let result = await this.#budgets.admit(
          ctx.principal,
          plan.route.workload,
          maxCost(config, plan, facts),
        );
        const downgrade = plan.route.budgetDowngrade;
        if ("exhausted" in result && downgrade !== undefined) {
          ctx.decision.downgradedFrom = { route: plan.route.workload, budget: result.exhausted };
          plan = planRoute(config, { ...facts, workload: downgrade, requestedModel: "" }, ctx.decision);
          result = await this.#budgets.admit(
            ctx.principal,
            plan.route.workload,
            maxCost(config, plan, facts),
          );
        }
        if ("exhausted" in result) throw budgetExhaustedError(result.exhausted, result.remainingMicroUsd);
        budget = result.reservation;
      }
    } catch (error) {
      if (rate) void this.#rateLimits.settle(rate, undefined).catch(() => {});
      throw error;
    }
    // The caller's timeout is capped at server.limits.maxTimeoutMs on every front door (the OpenAI
    // facade's x-stainless-timeout included), then by the route's total timeout.
    const callerTimeoutMs =
      ctx.callerTimeoutMs === undefined
        ? undefined
        : Math.min(ctx.callerTimeoutMs, config.loaded.config.server.limits.maxTimeoutMs);
    const deadline = new Deadline(ctx.signal, callerTimeoutMs, plan.route.timeouts.totalMs, ctx.startedAt);
    ctx.deadlineSignal = deadline.signal; // front doors that wait on a slow reader stop waiting at it
    return { config, plan, deadline, rate, budget };
  }
}

/** The most this request can cost on any planned target (see maxCostMicroUsd). */
function maxCost(config: CompiledConfig, plan: Plan, facts: RequestFacts): number {
  const prices = plan.ordered.map((t) => config.prices.priceOf(t.backend.name, t.model));
  return maxCostMicroUsd(config.prices, prices, facts.estimate);
}
