import type { LedgerWriter } from "../../metering/ledger-writer.ts";
import { interruptedRecordOf, usageRecordOf } from "../../metering/usage-record.ts";
import type { Policy } from "./policy.ts";

/**
 * The ledger. As the first upstream attempt starts it journals the row the request leaves should the
 * process die before it settles (the admission estimate, priced at that target); at settlement it
 * appends the one record of a request that reached an upstream or was answered from the cache
 * (journaled synchronously, stored in the background), or drops the journaled row of one that did not.
 * First in the chain, so it settles last: it records what every other policy decided.
 */
export function metering(ledger: LedgerWriter): Policy {
  return {
    name: "metering",
    admit(x) {
      const ctx = x.ctx;
      return {
        dispatched(target) {
          const usage = { ...x.facts.estimate, cachedInputTokens: 0 };
          const price = x.config.prices.priceOf(target.backend.name, target.model);
          const cost = price ? x.config.prices.costMicroUsd(price, usage) : undefined;
          const metered = {
            ...usage,
            accuracy: "estimated" as const,
            ...(cost === undefined ? {} : { costMicroUsd: cost }),
          };
          ledger.dispatch(interruptedRecordOf(ctx, target, metered));
        },
        settle(outcome) {
          if (ctx.decision.attempts.length > 0 || outcome.cached) ledger.append(usageRecordOf(ctx, outcome));
          else ledger.release(ctx.id);
        },
      };
    },
  };
}
