import type { RequestContext } from "../api/request-context.ts";
import type { LedgerWriter } from "../metering/ledger-writer.ts";
import { usageRecordOf } from "../metering/usage-record.ts";
import type { BudgetPolicy } from "../policy/budget.ts";
import type { RateLimitPolicy } from "../policy/rate-limit.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { Admission } from "./admission.ts";

/**
 * The end of every admitted request, run once: one ledger record when an
 * upstream was reached (journaled synchronously, written to the store in the
 * background), token buckets trued up to the actual tokens, the budget
 * reservation released for the actual cost. Limit stores settle in the
 * background: they never delay the response.
 */
export class Settler {
  readonly #rateLimits: RateLimitPolicy;
  readonly #budgets: BudgetPolicy;
  readonly #ledger: LedgerWriter | undefined;
  readonly #logger: Logger;

  constructor(deps: {
    rateLimits: RateLimitPolicy;
    budgets: BudgetPolicy;
    ledger: LedgerWriter | undefined;
    logger: Logger;
  }) {
    this.#rateLimits = deps.rateLimits;
    this.#budgets = deps.budgets;
    this.#ledger = deps.ledger;
    this.#logger = deps.logger;
  }

  async settle(ctx: RequestContext, admission: Admission, failure: unknown): Promise<void> {
    const usage = ctx.usage;
    if (ctx.decision.attempts.length > 0) this.#ledger?.append(usageRecordOf(ctx, failure));
    const tokens = usage ? usage.inputTokens + usage.outputTokens : 0;
    const fail = (what: string) => (error: unknown) =>
      this.#logger.error({ err: error, requestId: ctx.id }, `${what} settlement failed`);
    if (admission.rate) void this.#rateLimits.settle(admission.rate, tokens).catch(fail("rate limit"));
    if (admission.budget)
      void this.#budgets.settle(admission.budget, usage?.costMicroUsd ?? 0).catch(fail("budget"));
  }
}
