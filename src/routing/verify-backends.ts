import type { CompiledConfig } from "../config/compile.ts";
import { UpstreamError } from "../errors/upstream-error.ts";
import type { Logger } from "../telemetry/logger.ts";

/**
 * Start-up (and reload) check of backends that can describe themselves, e.g.
 * KServe's ModelMetadata against the configured tensor profile. A mismatch
 * marks the backend misconfigured — routing skips it, saying why — and is
 * logged as an error; an unreachable backend is only a warning (it is checked
 * again on first use, and its breaker and health checks take over).
 */
export async function verifyBackends(
  config: CompiledConfig,
  logger: Logger,
  timeoutMs = 5000,
): Promise<void> {
  const models = new Map<string, Set<string>>();
  for (const route of config.routes.values()) {
    for (const t of [...route.targets, ...route.variants.flatMap((v) => v.targets)]) {
      const set = models.get(t.backend.name) ?? new Set<string>();
      set.add(t.model);
      models.set(t.backend.name, set);
    }
  }
  await Promise.all(
    [...config.backends.values()].map(async (backend) => {
      const adapter = backend.adapter;
      if (!adapter?.verify) return;
      const used = [...(models.get(backend.name) ?? [])];
      try {
        await adapter.verify(
          { signal: AbortSignal.timeout(timeoutMs), deadline: Date.now() + timeoutMs },
          used,
        );
        backend.state.misconfiguredReason = undefined;
        logger.info({ backend: backend.name, models: used }, `backend ${backend.name} verified`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if ((error as Error).cause instanceof UpstreamError || error instanceof UpstreamError) {
          logger.warn(
            { backend: backend.name },
            `backend ${backend.name} could not be verified now: ${message}`,
          );
          return;
        }
        backend.state.misconfiguredReason = message;
        logger.error(
          { backend: backend.name },
          `backend ${backend.name} is misconfigured and will not be used: ${message}`,
        );
      }
    }),
  );
}
