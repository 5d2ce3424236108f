import type { RequestContext } from "../api/request-context.ts";
import type { CompiledTarget } from "../config/compile.ts";
import type { LedgerWriter } from "../metering/ledger-writer.ts";
import { interruptedRecordOf, usageRecordOf } from "../metering/usage-record.ts";
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

  /**
   * The first upstream attempt is about to start: journal the row this request leaves should the
   * process die before it settles (one append per request; the final record supersedes it).
   */
  dispatched(
    ctx: RequestContext,
    admission: Admission,
    target: CompiledTarget,
    estimate: { inputTokens: number; outputTokens: number },
  ): void {
    if (this.#ledger === undefined) return;
    const usage = { ...estimate, cachedInputTokens: 0 };
    const price = admission.config.prices.priceOf(target.backend.name, target.model);
    const cost = price ? admission.config.prices.costMicroUsd(price, usage) : undefined;
    const metered = {
      ...usage,
      accuracy: "estimated" as const,
      ...(cost === undefined ? {} : { costMicroUsd: cost }),
    };
    this.#ledger.dispatch(interruptedRecordOf(ctx, target, metered));
  }

  async settle(ctx: RequestContext, admission: Admission, failure: unknown): Promise<void> {
    const usage = ctx.usage;
    if (ctx.decision.attempts.length > 0) this.#ledger?.append(usageRecordOf(ctx, failure));
    else this.#ledger?.release(ctx.id);
    const fail = (what: string) => (error: unknown) =>
      this.#logger.error({ err: error, requestId: ctx.id }, `${what} settlement failed`);
    if (admission.rate) void this.#rateLimits.settle(admission.rate, usage).catch(fail("rate limit"));
    if (admission.budget)
      void this.#budgets.settle(admission.budget, usage?.costMicroUsd ?? 0).catch(fail("budget"));
  }
}
