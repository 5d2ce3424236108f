import type { Adapter } from "../adapters/adapter.ts";
import { createAdapter, describeBackend } from "../adapters/registry.ts";
import type { LoadedConfig } from "./load.ts";
import type { BackendConfig } from "./schema.ts";

export type Operation = "generate" | "embed";

export type CompiledBackend = {
  name: string;
  type: BackendConfig["type"];
  /** Undefined when the backend is disabled. */
  adapter: Adapter | undefined;
  disabledReason: string | undefined;
  description: string;
  /** Equal fingerprints mean an unchanged definition, so a reload keeps its adapter (and pool). */
  fingerprint: string;
};

export type CompiledTarget = { backend: CompiledBackend; model: string; alias: string | undefined };

export type CompiledRoute = {
  workload: string;
  description: string;
  operations: ReadonlySet<Operation>;
  targets: readonly CompiledTarget[];
  totalTimeoutMs: number;
  strategy: "priority";
};

/** The runtime form of a config: swapped atomically on reload, read once per request. */
export type CompiledConfig = {
  generation: number;
  loaded: LoadedConfig;
  backends: ReadonlyMap<string, CompiledBackend>;
  routes: ReadonlyMap<string, CompiledRoute>;
};

export type Compilation = {
  compiled: CompiledConfig;
  /** Backends of the previous config that this one no longer uses: close them once in-flight calls end. */
  retired: CompiledBackend[];
};

export function compileConfig(
  loaded: LoadedConfig,
  env: NodeJS.ProcessEnv,
  previous?: CompiledConfig,
): Compilation {
  const backends = new Map<string, CompiledBackend>();
  const reused = new Set<CompiledBackend>();
  for (const [name, config] of Object.entries(loaded.config.backends)) {
    const disabledReason = loaded.disabled.get(name);
    const fingerprint = JSON.stringify({ config, disabledReason });
    const old = previous?.backends.get(name);
    if (old && old.fingerprint === fingerprint) {
      backends.set(name, old);
      reused.add(old);
      continue;
    }
    backends.set(name, {
      name,
      type: config.type,
      adapter: disabledReason === undefined ? createAdapter(name, config, env) : undefined,
      disabledReason,
      description: describeBackend(config),
      fingerprint,
    });
  }

  const routes = new Map<string, CompiledRoute>();
  for (const [workload, route] of Object.entries(loaded.config.routes)) {
    routes.set(workload, {
      workload,
      description: route.description,
      operations: new Set(route.operations),
      targets: route.targets.map((t) => ({
        backend: backends.get(t.backend)!,
        model: t.model,
        alias: t.alias,
      })),
      totalTimeoutMs: route.timeouts.totalMs,
      strategy: "priority",
    });
  }

  const retired = [...(previous?.backends.values() ?? [])].filter((b) => !reused.has(b));
  return {
    compiled: { generation: (previous?.generation ?? 0) + 1, loaded, backends, routes },
    retired,
  };
}
