import type { CompiledConfig, CompiledRoute, CompiledTarget, Operation } from "../../config/compile.ts";
import { GatewayError } from "../../errors/gateway-error.ts";
import { bounded } from "../../telemetry/bounded.ts";

/** The prefix of model names that address a workload. */
export const WORKLOAD_PREFIX = "switchyard/";

/** Where an OpenAI `model` sends the request: a workload, and the model asked of it ("" = the route chooses). */
export type ResolvedModel = { workload: string; requestedModel: string };

/**
 * OpenAI's `model` → workload (and requested model):
 *   switchyard/<workload>          that workload, its route chooses
 *   switchyard/<workload>/<model>  that workload, that model (or alias) requested
 *   <model or alias>               the first route, in config order, with a target (or variant target)
 *                                  of that model or alias — preferring one that serves the operation
 *                                  on an enabled backend, then one that serves the operation
 * Anything else is model_not_found (404). Nothing here reaches an upstream URL, host or path.
 */
export function resolveModel(config: CompiledConfig, model: string, operation: Operation): ResolvedModel {
  if (model.startsWith(WORKLOAD_PREFIX)) {
    const rest = model.slice(WORKLOAD_PREFIX.length);
    const slash = rest.indexOf("/");
    const workload = slash === -1 ? rest : rest.slice(0, slash);
    const requestedModel = slash === -1 ? "" : rest.slice(slash + 1);
    if (!config.routes.has(workload)) {
      const known = [...config.routes.keys()].map((w) => WORKLOAD_PREFIX + w).join(", ");
      // To an OpenAI client `switchyard/<workload>` is a model name: it does not exist, one name throughout.
      throw new GatewayError(
        "model_not_found",
        `The model \`${bounded(model)}\` does not exist: no workload "${bounded(workload)}" (available: ${known || "none"})`,
      );
    }
    if (slash !== -1 && requestedModel === "") {
      throw new GatewayError(
        "model_not_found",
        `The model \`${bounded(model)}\` does not exist: name a model after the workload`,
      );
    }
    return { workload, requestedModel };
  }
  const routes = [...config.routes.values()].filter((route) => servesModel(route, model));
  const route =
    routes.find((r) => r.operations.has(operation) && servesModel(r, model, servable)) ??
    routes.find((r) => r.operations.has(operation)) ??
    routes[0];
  if (!route) {
    throw new GatewayError(
      "model_not_found",
      `The model \`${bounded(model)}\` does not exist: use ${WORKLOAD_PREFIX}<workload> or a model listed by GET /v1/models`,
    );
  }
  return { workload: route.workload, requestedModel: model };
}

/** A target whose backend is enabled (a disabled one, e.g. without its API key, answers 503). */
export const servable = (t: CompiledTarget): boolean => t.backend.adapter !== undefined;

export function servesModel(
  route: CompiledRoute,
  model: string,
  where: (t: CompiledTarget) => boolean = () => true,
): boolean {
  return targetsOf(route).some((t) => (t.model === model || t.alias === model) && where(t));
}

/** A route's targets and its variants' targets, in config order. */
export function targetsOf(route: CompiledRoute) {
  return [...route.targets, ...route.variants.flatMap((v) => v.targets)];
}
