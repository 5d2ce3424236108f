import type { RequestContext } from "../../api/request-context.ts";
import type { CompiledConfig } from "../../config/compile.ts";
import { GatewayError } from "../../errors/gateway-error.ts";
import { bounded } from "../../telemetry/bounded.ts";
import { servable, servesModel, targetsOf, WORKLOAD_PREFIX } from "./model-mapping.ts";

/** What one caller may see in /v1/models. */
export type ModelVisibility = { workload(name: string): boolean; model(name: string): boolean };

/**
 * The seam for access control: which workloads and models this caller may
 * use. It may authenticate (and throw `unauthenticated`, rendered as 401).
 * The default shows everything.
 */
export type ModelFilter = (ctx: RequestContext) => ModelVisibility | Promise<ModelVisibility>;

export const ALLOW_ALL: ModelFilter = () => ({ workload: () => true, model: () => true });

export type ModelObject = { id: string; object: "model"; created: number; owned_by: "switchyard" };

const entry = (id: string, created: number): ModelObject => ({
  id,
  object: "model",
  created,
  owned_by: "switchyard",
});

/**
 * Every name the `model` field accepts and can serve, in config order: `switchyard/<workload>`
 * per workload, then its targets' aliases and model ids (variants' too). Targets on a disabled
 * backend are left out, and a workload with no other: they would answer 503, which the OpenAI
 * SDKs retry, and clients take a listed model as usable.
 */
export function listModels(config: CompiledConfig, visible: ModelVisibility, created: number): ModelObject[] {
  const ids = new Set<string>();
  for (const route of config.routes.values()) {
    const targets = targetsOf(route).filter(servable);
    if (!visible.workload(route.workload) || targets.length === 0) continue;
    ids.add(WORKLOAD_PREFIX + route.workload);
    for (const target of targets) {
      for (const name of [target.alias, target.model]) {
        if (name !== undefined && visible.model(name)) ids.add(name);
      }
    }
  }
  return [...ids].map((id) => entry(id, created));
}

/** GET /v1/models/{id}: a listed name, or `switchyard/<workload>/<model>` that the workload serves. */
export function findModel(
  config: CompiledConfig,
  visible: ModelVisibility,
  id: string,
  created: number,
): ModelObject {
  if (listModels(config, visible, created).some((m) => m.id === id)) return entry(id, created);
  if (id.startsWith(WORKLOAD_PREFIX)) {
    const [workload = "", ...rest] = id.slice(WORKLOAD_PREFIX.length).split("/");
    const model = rest.join("/");
    const route = config.routes.get(workload);
    if (
      route &&
      model &&
      visible.workload(workload) &&
      visible.model(model) &&
      servesModel(route, model, servable)
    ) {
      return entry(id, created);
    }
  }
  throw new GatewayError(
    "model_not_found",
    `The model \`${bounded(id)}\` does not exist or you do not have access to it.`,
  );
}
