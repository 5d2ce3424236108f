import type { Logger } from "../telemetry/logger.ts";
import { type CompiledBackend, type CompiledConfig, compileConfig } from "./compile.ts";
import { ConfigError } from "./config-error.ts";
import { type LoadedConfig, loadConfigFile } from "./load.ts";

/**
 * The running config. `current` is swapped in one assignment, so a request
 * sees either the old or the new config, never a mix; requests keep the
 * snapshot they started with. Backends whose definition did not change keep
 * their adapter (connections, and later breaker and latency state).
 */
export class ConfigHolder {
  #current: CompiledConfig;
  readonly #env: NodeJS.ProcessEnv;
  readonly #logger: Logger;
  readonly #listeners: ((config: CompiledConfig) => void)[] = [];

  constructor(loaded: LoadedConfig, env: NodeJS.ProcessEnv, logger: Logger) {
    this.#env = env;
    this.#logger = logger;
    this.#current = compileConfig(loaded, env, logger).compiled;
  }

  get current(): CompiledConfig {
    return this.#current;
  }

  /** Calls `listener` now and after every swap (e.g. to restart health checks). */
  onSwap(listener: (config: CompiledConfig) => void): void {
    this.#listeners.push(listener);
    listener(this.#current);
  }

  /** Loads `file` and swaps it in; an invalid file is logged and the old config keeps serving. */
  reloadFromFile(file: string): boolean {
    return this.reload(file).reloaded;
  }

  reload(file: string): { reloaded: boolean; problems: string[] } {
    let loaded: LoadedConfig;
    try {
      loaded = loadConfigFile(file, this.#env);
    } catch (error) {
      const problems = error instanceof ConfigError ? error.problems : [String(error)];
      this.#logger.error({ file, problems }, "config reload rejected; the previous config keeps serving");
      return { reloaded: false, problems };
    }
    this.swap(loaded);
    return { reloaded: true, problems: [] };
  }

  swap(loaded: LoadedConfig): void {
    const { compiled, retired } = compileConfig(loaded, this.#env, this.#logger, this.#current);
    const before = this.#current.loaded.config.server;
    const after = loaded.config.server;
    if (
      before.port !== after.port ||
      before.host !== after.host ||
      JSON.stringify(before.tls) !== JSON.stringify(after.tls)
    ) {
      this.#logger.warn("server listen settings changed: they take effect on restart only");
    }
    this.#current = compiled;
    for (const listener of this.#listeners) listener(compiled);
    this.#logger.info(
      {
        generation: compiled.generation,
        routes: [...compiled.routes.keys()],
        retiredBackends: retired.map((b) => b.name),
      },
      "config reloaded",
    );
    // Retired adapters finish their in-flight calls (undici's close waits for them) before closing.
    for (const backend of retired) void retire(backend);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#current.backends.values()].map(retire));
  }
}

async function retire(backend: CompiledBackend): Promise<void> {
  backend.state.close();
  await backend.adapter?.close().catch(() => {});
}
