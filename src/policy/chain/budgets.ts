import type { CompiledConfig } from "../../config/compile.ts";
import { maxCostMicroUsd } from "../../metering/max-cost.ts";
import { type Plan, planRoute, type RequestFacts } from "../../routing/router.ts";
import type { Logger } from "../../telemetry/logger.ts";
import { type BudgetPolicy, budgetExhaustedError } from "../budget.ts";
import type { Policy } from "./policy.ts";

/**
 * Spend budgets (budget.ts): admission reserves the request's maximum cost over the planned targets;
 * a used-up budget refuses — or, when the route names a `budgetDowngrade`, re-plans the request on
 * that cheaper workload. Settlement releases the reservation for the actual cost, in the background.
 */
export function budgets(budget: BudgetPolicy, logger: Logger): Policy {
  return {
    name: "budgets",
    async admit(x) {
      const ctx = x.ctx;
      let plan = x.plan!;
      let result = await budget.admit(ctx.principal, plan.route.workload, maxCost(x.config, plan, x.facts));
      const downgrade = plan.route.budgetDowngrade;
      if ("exhausted" in result && downgrade !== undefined) {
        ctx.decision.downgradedFrom = { route: plan.route.workload, budget: result.exhausted };
        plan = planRoute(x.config, { ...x.facts, workload: downgrade, requestedModel: "" }, ctx.decision);
        x.plan = plan;
        result = await budget.admit(ctx.principal, plan.route.workload, maxCost(x.config, plan, x.facts));
      }
      if ("exhausted" in result) throw budgetExhaustedError(result.exhausted, result.remainingMicroUsd);
      const reservation = result.reservation;
      return {
        settle(outcome) {
          budget
            .settle(reservation, outcome.usage?.costMicroUsd ?? 0)
            .catch((error: unknown) =>
              logger.error({ err: error, requestId: ctx.id }, "budget settlement failed"),
            );
        },
      };
    },
  };
}

/** The most this request can cost on any planned target (see maxCostMicroUsd). */
function maxCost(config: CompiledConfig, plan: Plan, facts: RequestFacts): number {
  const prices = plan.ordered.map((t) => config.prices.priceOf(t.backend.name, t.model));
  return maxCostMicroUsd(config.prices, prices, facts.estimate);
}
