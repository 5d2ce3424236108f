import type { Adapter } from "../adapters/adapter.ts";
import { createAdapter, describeBackend } from "../adapters/registry.ts";
import { DEFAULT_PRICES } from "../metering/default-prices.ts";
import { PriceTable } from "../metering/price-table.ts";
import { BackendState } from "../routing/backend-state.ts";
import { type Capabilities, capabilitiesOf, withOverrides } from "../routing/capabilities.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { LoadedConfig } from "./load.ts";
import type { BackendConfig, Config, RouteConfig, Strategy } from "./schema.ts";

export type Operation = "generate" | "embed";

export type CompiledBackend = {
  name: string;
  type: BackendConfig["type"];
  config: BackendConfig;
  /** Undefined when the backend is disabled. */
  adapter: Adapter | undefined;
  disabledReason: string | undefined;
  description: string;
  capabilities: Capabilities;
  /** Breaker, retry budget, cool-down, health, latency: kept while the definition is unchanged. */
  state: BackendState;
  /** Equal fingerprints mean an unchanged definition, so a reload keeps adapter and state. */
  fingerprint: string;
};

export type CompiledTarget = {
  backend: CompiledBackend;
  model: string;
  alias: string | undefined;
  weight: number;
  contextWindow: number | undefined;
  /** The backend's capabilities with this target's (model's) overrides. */
  capabilities: Capabilities;
};

export type CompiledVariant = {
  name: string;
  when: RouteConfig["variants"][number]["when"];
  strategy: Strategy;
  targets: readonly CompiledTarget[];
};

export type CompiledRoute = {
  workload: string;
  description: string;
  operations: ReadonlySet<Operation>;
  targets: readonly CompiledTarget[];
  strategy: Strategy;
  variants: readonly CompiledVariant[];
  retry: RouteConfig["retry"];
  timeouts: RouteConfig["timeouts"];
  budgetDowngrade: string | undefined;
};

/** The runtime form of a config: swapped atomically on reload, read once per request. */
export type CompiledConfig = {
  generation: number;
  loaded: LoadedConfig;
  backends: ReadonlyMap<string, CompiledBackend>;
  routes: ReadonlyMap<string, CompiledRoute>;
  prices: PriceTable;
};

export type Compilation = {
  compiled: CompiledConfig;
  /** Backends of the previous config that this one no longer uses: close them once in-flight calls end. */
  retired: CompiledBackend[];
};

export function compileConfig(
  loaded: LoadedConfig,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  previous?: CompiledConfig,
): Compilation {
  const { config } = loaded;
  const budget = {
    percent: config.routing.retryBudgetPercent,
    minConcurrent: config.routing.minRetryConcurrency,
  };
  const backends = new Map<string, CompiledBackend>();
  const reused = new Set<CompiledBackend>();
  for (const [name, backendConfig] of Object.entries(config.backends)) {
    const disabledReason = loaded.disabled.get(name);
    const fingerprint = JSON.stringify({ backendConfig, disabledReason, budget });
    const old = previous?.backends.get(name);
    if (old && old.fingerprint === fingerprint) {
      backends.set(name, old);
      reused.add(old);
      continue;
    }
    backends.set(name, {
      name,
      type: backendConfig.type,
      config: backendConfig,
      adapter: disabledReason === undefined ? createAdapter(name, backendConfig, env) : undefined,
      disabledReason,
      description: describeBackend(backendConfig),
      capabilities: capabilitiesOf(backendConfig),
      state: new BackendState(name, backendConfig, budget, logger),
      fingerprint,
    });
  }

  const targetsOf = (targets: RouteConfig["targets"]): CompiledTarget[] =>
    targets.map((t) => ({
      backend: backends.get(t.backend)!,
      model: t.model,
      alias: t.alias,
      weight: t.weight,
      contextWindow: t.contextWindow,
      capabilities: withOverrides(backends.get(t.backend)!.capabilities, t.capabilities),
    }));
  const routes = new Map<string, CompiledRoute>();
  for (const [workload, route] of Object.entries(config.routes)) {
    routes.set(workload, {
      workload,
      description: route.description,
      operations: new Set(route.operations),
      targets: targetsOf(route.targets),
      strategy: route.strategy,
      variants: route.variants.map((v) => ({
        name: v.name,
        when: v.when,
        strategy: v.strategy ?? route.strategy,
        targets: targetsOf(v.targets),
      })),
      retry: route.retry,
      timeouts: route.timeouts,
      budgetDowngrade: route.budgetDowngrade,
    });
  }

  const retired = [...(previous?.backends.values() ?? [])].filter((b) => !reused.has(b));
  return {
    compiled: {
      generation: (previous?.generation ?? 0) + 1,
      loaded,
      backends,
      routes,
      prices: new PriceTable({ ...(config.metering.defaultPrices ? DEFAULT_PRICES : {}), ...config.prices }),
    },
    retired,
  };
}

export type { Config };
