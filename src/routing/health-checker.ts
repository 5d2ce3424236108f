import type { CompiledConfig } from "../config/compile.ts";
import type { Logger } from "../telemetry/logger.ts";

/**
 * Active health checks for backends that configure `healthCheck` and whose
 * adapter can check (self-hosted servers: HTTP path, ServerReady/ModelReady).
 * A failed check marks the backend unhealthy, so routing skips it until a
 * later check passes; the breaker is the passive half of the same idea.
 */
export class HealthChecker {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** (Re)starts checks for the config's backends; call after every reload. */
  watch(config: CompiledConfig): void {
    this.stop();
    for (const backend of config.backends.values()) {
      const check = backend.config.healthCheck;
      const adapter = backend.adapter;
      if (!check || !adapter?.health) continue;
      const run = async () => {
        const signal = AbortSignal.timeout(check.timeoutMs);
        const healthy = await adapter.health!({ signal, deadline: Date.now() + check.timeoutMs }).catch(
          () => false,
        );
        const state = backend.state;
        if (healthy !== state.healthy) {
          this.#logger[healthy ? "info" : "warn"](
            { backend: backend.name, healthy },
            `backend ${backend.name} is ${healthy ? "healthy again" : "unhealthy: failed its active health check"}`,
          );
        }
        state.healthy = healthy;
        state.unhealthyReason = healthy ? undefined : "failed its active health check";
      };
      void run();
      const timer = setInterval(() => void run(), check.intervalMs);
      timer.unref();
      this.#timers.set(backend.name, timer);
    }
  }

  stop(): void {
    for (const timer of this.#timers.values()) clearInterval(timer);
    this.#timers.clear();
  }
}
