import type { CacheStore } from "../../cache/cache-store.ts";
import type { CompiledConfig } from "../../config/compile.ts";
import type { GuardrailConfig } from "../../config/policy-schema.ts";
import type { ExternalGuard } from "../../guardrails/external-guard.ts";
import type { LedgerWriter } from "../../metering/ledger-writer.ts";
import type { Logger } from "../../telemetry/logger.ts";
import type { Auditor } from "../auditor.ts";
import type { BudgetPolicy } from "../budget.ts";
import type { RateLimitPolicy } from "../rate-limit.ts";
import { audit } from "./audit.ts";
import { budgets } from "./budgets.ts";
import { celRules } from "./cel.ts";
import { PolicyChain } from "./chain.ts";
import { type CompiledGuardrail, compileGuardrail, type GuardrailCounter, guardrails } from "./guardrails.ts";
import { metering } from "./metering.ts";
import type { Policy } from "./policy.ts";
import { rateLimits } from "./rate-limits.ts";
import { type CacheCounter, responseCache } from "./response-cache.ts";
import { routing } from "./routing.ts";

/** What the chain's policies need that outlives one config: stores, the ledger, the log, counters. */
export type PolicyDeps = {
  rateLimits: RateLimitPolicy;
  budgets: BudgetPolicy;
  ledger: LedgerWriter | undefined;
  auditor?: Auditor | undefined;
  logger: Logger;
  /** The response cache's store (policies.cacheStore), made once at start-up. */
  cacheStore?: CacheStore | undefined;
  cacheMaxEntryBytes?: number;
  /** One client per external guardrail service (url and deadline), kept across reloads. */
  externalGuard?: (external: NonNullable<GuardrailConfig["external"]>) => ExternalGuard;
  onGuardrail?: GuardrailCounter;
  onCache?: CacheCounter;
};

/**
 * The chain of each route, compiled once per config generation (a reload compiles anew; a request
 * keeps the chain of the config it started with). Order, and why:
 *   metering (settles last: records what every other policy decided) → audit →
 *   rules (CEL: may deny, cap max_tokens, require a guardrail, pick a variant) →
 *   guardrails (input checked before anything is charged; output watched) → routing (plan) →
 *   rate limits → budgets (read the plan's prices; may downgrade) → response cache (a hit
 *   answers; what comes after it — the upstream — is skipped).
 * A policy the config does not use is left out, so an unused feature costs nothing per request.
 */
export class PolicyChains {
  readonly #deps: PolicyDeps;
  #generation = -1;
  #byRoute = new Map<string, PolicyChain>();
  #fallback: PolicyChain = new PolicyChain([]);

  constructor(deps: PolicyDeps) {
    this.#deps = deps;
  }

  /** The chain for a request to `workload` (a workload no route names gets the chain of no route). */
  for(config: CompiledConfig, workload: string): PolicyChain {
    if (config.generation !== this.#generation) this.#compile(config);
    return this.#byRoute.get(workload) ?? this.#fallback;
  }

  #compile(config: CompiledConfig): void {
    const c = config.loaded.config;
    const d = this.#deps;
    const compiledGuardrails = c.policies.guardrails.map((g) =>
      compileGuardrail(g, g.external && d.externalGuard ? d.externalGuard(g.external) : undefined),
    );
    const chainOf = (route: string | undefined): PolicyChain => {
      const policies: Policy[] = [];
      if (d.ledger) policies.push(metering(d.ledger));
      // Only guardrails and rules act on requests; without them there is nothing to audit per request.
      const acting = c.policies.guardrails.length > 0 || c.policies.rules.length > 0;
      if (d.auditor && acting) policies.push(audit(d.auditor));
      const applies = (routes: readonly string[]) =>
        routes.includes("*") || (route !== undefined && routes.includes(route));
      const rules = c.policies.rules.filter((r) => applies(r.routes));
      if (rules.length > 0) policies.push(celRules(rules, d.logger));
      const always: CompiledGuardrail[] = [];
      const onRequest: CompiledGuardrail[] = [];
      for (const g of compiledGuardrails) (applies(g.config.routes) ? always : onRequest).push(g);
      const required = new Set(
        rules.flatMap((r) => ("requireGuardrail" in r.action ? [r.action.requireGuardrail] : [])),
      );
      const requirable = onRequest.filter((g) => required.has(g.config.name));
      if (always.length > 0 || requirable.length > 0)
        policies.push(guardrails(always, requirable, d.onGuardrail ?? (() => {})));
      policies.push(routing);
      if (c.limits.rules.length > 0) policies.push(rateLimits(d.rateLimits, d.logger));
      if (c.budgets.length > 0) policies.push(budgets(d.budgets, d.logger));
      const cache = route === undefined ? undefined : c.routes[route]?.cache;
      if (cache && d.cacheStore)
        policies.push(
          responseCache(
            route!,
            cache,
            d.cacheStore,
            d.cacheMaxEntryBytes ?? 1024 * 1024,
            d.onCache ?? (() => {}),
          ),
        );
      return new PolicyChain(policies);
    };
    this.#byRoute = new Map([...config.routes.keys()].map((name) => [name, chainOf(name)]));
    this.#fallback = chainOf(undefined);
    this.#generation = config.generation;
  }
}
