import type { RequestContext } from "../api/request-context.ts";
import type { CompiledConfig } from "../config/compile.ts";
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
    let plan = planRoute(config, facts, ctx.decision);
    let rate: RateReservation | undefined;
    if (this.#rateLimits.active) {
      const tokens = facts.estimate.inputTokens + facts.estimate.outputTokens;
      const admitted = await this.#rateLimits.admit(ctx.principal, facts.workload, tokens);
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
      if (rate) void this.#rateLimits.settle(rate, 0).catch(() => {});
      throw error;
    }
    const deadline = new Deadline(
      ctx.signal,
      ctx.callerTimeoutMs,
      plan.route.timeouts.totalMs,
      ctx.startedAt,
    );
    return { config, plan, deadline, rate, budget };
  }
}

/** The most this request can cost on any planned target (input estimate + max output), in micro-USD. */
function maxCost(config: CompiledConfig, plan: Plan, facts: RequestFacts): number {
  let max = 0;
  for (const t of plan.ordered) {
    const price = config.prices.priceOf(t.backend.name, t.model);
    if (!price) continue;
    const usage = { ...facts.estimate, cachedInputTokens: 0 };
    max = Math.max(max, config.prices.costMicroUsd(price, usage));
  }
  return max;
}
