import type { Decision } from "../api/request-context.ts";
import type { CompiledConfig, CompiledRoute, CompiledTarget, Operation } from "../config/compile.ts";
import { GatewayError } from "../errors/gateway-error.ts";

export type Resolved = { route: CompiledRoute; candidates: CompiledTarget[] };

/**
 * Workload → route → the targets that may serve this request, in strategy
 * order (priority: as listed). Disabled backends are skipped and recorded in
 * the decision; a requested model narrows the targets to those it names.
 */
export function resolveRoute(
  config: CompiledConfig,
  workload: string,
  requestedModel: string,
  operation: Operation,
  decision: Decision,
): Resolved {
  const route = config.routes.get(workload);
  if (!route) {
    const known = [...config.routes.keys()].sort().join(", ");
    throw new GatewayError(
      "unknown_workload",
      `unknown workload "${workload}" (configured: ${known || "none"})`,
    );
  }
  decision.route = route.workload;
  decision.strategy = route.strategy;
  if (!route.operations.has(operation)) {
    throw new GatewayError(
      "operation_not_served",
      `workload "${workload}" does not serve ${operation === "embed" ? "embeddings" : "generation"}`,
    );
  }
  let targets = route.targets;
  if (requestedModel !== "") {
    targets = targets.filter((t) => t.model === requestedModel || t.alias === requestedModel);
    if (targets.length === 0) {
      const names = [...new Set(route.targets.map((t) => t.alias ?? t.model))].join(", ");
      throw new GatewayError(
        "unknown_model",
        `model "${requestedModel}" is not served by workload "${workload}" (available: ${names}; or leave model empty)`,
      );
    }
  }
  const candidates: CompiledTarget[] = [];
  for (const target of targets) {
    if (target.backend.adapter) candidates.push(target);
    else
      decision.skipped.push({
        backend: target.backend.name,
        reason: `disabled: ${target.backend.disabledReason}`,
      });
  }
  if (candidates.length === 0) {
    throw new GatewayError(
      "no_backend_enabled",
      `no enabled backend for workload "${workload}": ${decision.skipped.map((s) => `${s.backend} (${s.reason})`).join("; ")}`,
    );
  }
  return { route, candidates };
}
