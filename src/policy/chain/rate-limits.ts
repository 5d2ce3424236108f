import type { Logger } from "../../telemetry/logger.ts";
import type { RateLimitPolicy } from "../rate-limit.ts";
import type { Policy } from "./policy.ts";

/**
 * Requests and tokens per minute (rate-limit.ts): admission takes the request and its token
 * estimate; settlement trues the buckets up to the actual tokens (a refused or failed request that
 * metered nothing gives its estimate back). Stores settle in the background: never a delay.
 */
export function rateLimits(limits: RateLimitPolicy, logger: Logger): Policy {
  return {
    name: "rate_limits",
    async admit(x) {
      const ctx = x.ctx;
      const admitted = await limits.admit(ctx.principal, x.facts.workload, x.facts.estimate);
      ctx.rateLimit = admitted.info;
      const reservation = admitted.reservation;
      return {
        settle(outcome) {
          limits
            .settle(reservation, outcome.usage)
            .catch((error: unknown) =>
              logger.error({ err: error, requestId: ctx.id }, "rate limit settlement failed"),
            );
        },
      };
    },
  };
}
