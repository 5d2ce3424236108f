import type { Decision } from "../api/request-context.ts";
import type { CompiledConfig, CompiledRoute, CompiledTarget, CompiledVariant } from "../config/compile.ts";
import type { Strategy as StrategyName } from "../config/schema.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { allows } from "../policy/rbac.ts";
import { bounded } from "../telemetry/bounded.ts";
import { missingCapability, type Needs } from "./capabilities.ts";
import { strategies } from "./strategy.ts";

/** What routing looks at in a request (nothing protocol-specific). */
export type RequestFacts = {
  workload: string;
  requestedModel: string;
  metadata: Readonly<Record<string, string>>;
  team: string | undefined;
  keyId: string | undefined;
  needs: Needs;
  estimate: { inputTokens: number; outputTokens: number };
  /** Models the caller's key may use ("*" = all); targets with other models are never chosen. */
  allowedModels: readonly string[];
  /** A variant a policy rule picked by name (the route's own conditions decide when it has none by that name). */
  variant?: string;
};

export type Plan = {
  route: CompiledRoute;
  variant: string | undefined;
  strategy: StrategyName;
  /** Eligible targets in the order to try them. */
  ordered: CompiledTarget[];
};

/**
 * Workload → route → variant (first whose conditions hold) → targets that
 * may serve this request → the strategy's order. Every target left out is
 * recorded in the decision with why. Breaker and cool-down are checked later,
 * per attempt, since they change while the request runs.
 */
export function planRoute(
  config: CompiledConfig,
  facts: RequestFacts,
  decision: Decision,
  random: () => number = Math.random,
): Plan {
  const route = config.routes.get(facts.workload);
  if (!route) {
    const known = [...config.routes.keys()].sort().join(", ");
    throw new GatewayError(
      "unknown_workload",
      `unknown workload "${bounded(facts.workload)}" (configured: ${known || "none"})`,
    );
  }
  decision.route = route.workload;
  if (!route.operations.has(facts.needs.operation)) {
    const what = facts.needs.operation === "embed" ? "embeddings" : "generation";
    throw new GatewayError("operation_not_served", `workload "${facts.workload}" does not serve ${what}`);
  }
  const variant =
    (facts.variant === undefined ? undefined : route.variants.find((v) => v.name === facts.variant)) ??
    route.variants.find((v) => matches(v, facts));
  const strategy = variant?.strategy ?? route.strategy;
  decision.variant = variant?.name;
  decision.strategy = strategy;

  let targets = variant?.targets ?? route.targets;
  if (facts.requestedModel !== "") {
    targets = targets.filter((t) => t.model === facts.requestedModel || t.alias === facts.requestedModel);
    if (targets.length === 0) {
      const names = [...new Set((variant?.targets ?? route.targets).map((t) => t.alias ?? t.model))].join(
        ", ",
      );
      throw new GatewayError(
        "model_not_found",
        `model "${bounded(facts.requestedModel)}" is not served by workload "${facts.workload}" (available: ${names}; or leave model empty)`,
      );
    }
  }

  const permitted = targets.filter(
    (t) =>
      allows(facts.allowedModels, t.model) || (t.alias !== undefined && allows(facts.allowedModels, t.alias)),
  );
  if (permitted.length === 0) {
    throw new GatewayError(
      "permission_denied",
      `this key may not use any model of workload "${facts.workload}" (allowed: ${facts.allowedModels.join(", ")})`,
    );
  }
  for (const t of targets) {
    if (!permitted.includes(t))
      decision.skipped.push({
        backend: t.backend.name,
        model: t.model,
        reason: "model not allowed for this key",
      });
  }
  targets = permitted;
  const eligible: CompiledTarget[] = [];
  let unfit = 0;
  for (const target of targets) {
    const reason = ineligibility(target, facts);
    if (reason === undefined) eligible.push(target);
    else {
      if (reason.unfit) unfit++;
      decision.skipped.push({ backend: target.backend.name, model: target.model, reason: reason.text });
    }
  }
  if (eligible.length === 0) {
    const why = decision.skipped.map((s) => `${s.backend}/${s.model} (${s.reason})`).join("; ");
    if (unfit === targets.length) {
      throw new GatewayError(
        "no_capable_target",
        `no target of workload "${facts.workload}" can serve this request: ${why}`,
      );
    }
    throw new GatewayError(
      "no_backend_enabled",
      `no enabled backend for workload "${facts.workload}": ${why}`,
    );
  }

  const ordered = strategies[strategy]({
    targets: eligible,
    estimate: facts.estimate,
    random,
    latencyOf: (t) => t.backend.state.latencyOf(t.model),
    costOf: (t) => {
      const price = config.prices.priceOf(t.backend.name, t.model);
      if (!price) return undefined;
      const usage = { ...facts.estimate, cachedInputTokens: 0 };
      return config.prices.costMicroUsd(price, usage);
    },
  });
  return { route, variant: variant?.name, strategy, ordered };
}

function matches(variant: CompiledVariant, facts: RequestFacts): boolean {
  const w = variant.when;
  if (w.team !== undefined && w.team !== facts.team) return false;
  if (w.keyId !== undefined && w.keyId !== facts.keyId) return false;
  if (w.model !== undefined && w.model !== facts.requestedModel) return false;
  if (w.minInputTokens !== undefined && facts.estimate.inputTokens < w.minInputTokens) return false;
  for (const [key, value] of Object.entries(w.metadata ?? {}))
    if (facts.metadata[key] !== value) return false;
  return true;
}

/** Why a target cannot take this request; `unfit` marks reasons of the request's shape, not the backend's state. */
function ineligibility(
  target: CompiledTarget,
  facts: RequestFacts,
): { text: string; unfit: boolean } | undefined {
  const backend = target.backend;
  if (!backend.adapter) return { text: `disabled: ${backend.disabledReason}`, unfit: false };
  const missing = missingCapability(target.capabilities, facts.needs);
  if (missing) return { text: missing, unfit: true };
  if (target.contextWindow !== undefined && facts.needs.contextTokens > target.contextWindow) {
    return {
      text: `context window ${target.contextWindow} < ${facts.needs.contextTokens} tokens needed`,
      unfit: true,
    };
  }
  if (backend.state.misconfiguredReason)
    return { text: `misconfigured: ${backend.state.misconfiguredReason}`, unfit: false };
  if (!backend.state.healthy)
    return { text: `unhealthy: ${backend.state.unhealthyReason ?? "failed check"}`, unfit: false };
  return undefined;
}
