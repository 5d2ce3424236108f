import { GatewayError } from "../../errors/gateway-error.ts";
import { planRoute } from "../../routing/router.ts";
import type { Policy } from "./policy.ts";

/**
 * Picks the route, variant and ordered targets (the router). A deadline that passed on arrival (or
 * while authenticating) is refused here, before limits are charged or an upstream is asked: serving
 * it would bill work nobody waits for. A link of the chain so that what comes before it (rules,
 * guardrails) can refuse or rewrite the request first, and what comes after (limits, budgets, the
 * cache) can read the plan.
 */
export const routing: Policy = {
  name: "routing",
  admit(x) {
    const ctx = x.ctx;
    if (ctx.callerTimeoutMs !== undefined && ctx.startedAt + ctx.callerTimeoutMs <= Date.now())
      throw new GatewayError(
        "deadline_exceeded",
        "the request's deadline had passed before it could be served",
      );
    x.plan = planRoute(x.config, x.facts, ctx.decision);
    return undefined;
  },
};
