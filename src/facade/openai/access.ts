import type { RequestContext } from "../../api/request-context.ts";
import type { Pipeline } from "../../pipeline/pipeline.ts";
import { allows, type Permission } from "../../policy/rbac.ts";
import type { ModelFilter } from "./models.ts";

const PERMISSION: Record<RequestContext["operation"], Permission> = {
  generate: "inference.generate",
  generate_stream: "inference.generate",
  embed: "inference.embed",
  list_models: "inference.list",
};

/**
 * The facade's access-control seams filled from the pipeline's access
 * control, as the gRPC handler uses it: authenticate first (so an
 * unauthenticated caller learns nothing from validation errors), and show in
 * /v1/models only the workloads and models the caller's key allows.
 */
export function pipelineAccess(pipeline: Pipeline): {
  authenticate: (ctx: RequestContext) => Promise<void>;
  filter: ModelFilter;
} {
  return {
    authenticate: (ctx) => pipeline.authenticate(ctx, PERMISSION[ctx.operation]),
    filter: (ctx) => {
      const principal = ctx.principal;
      if (!principal) return { workload: () => false, model: () => false };
      return {
        workload: (name) => allows(principal.workloads, name),
        model: (name) => allows(principal.models, name),
      };
    },
  };
}
