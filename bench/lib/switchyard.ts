import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { type Child, CORES, jsonPort, startProcess } from "./proc.ts";
import { MODELS } from "./wire.ts";

export const ROOT = new URL("../..", import.meta.url).pathname;
const NODE = process.execPath;

/** on: every feature (auth, SQLite, two targets + breaker, limits/budgets/metering when the schema has them). */
export type Variant = "on" | "off";
export type Instance = Child & {
  variant: Variant;
  logLevel: string;
  key: string | undefined;
  config: string;
  notes: string[];
};

type Upstreams = { openai: number; kserve: number };

/** Optional feature sections, included only when the config schema (read at run time) has their keys. */
function optionalSections(dir: string): Record<string, unknown> {
  return {
    limits: {
      store: { type: "memory" },
      rules: [{ scope: "key", requestsPerMinute: 1_000_000_000, tokensPerMinute: 1_000_000_000_000 }],
    },
    budgets: [{ scope: "key", period: "month", limitUsd: 1_000_000_000 }],
    metering: { journalPath: join(dir, "ledger.journal") },
  };
}

/** Top-level keys of Switchyard's config schema as the code stands right now. */
export async function schemaKeys(): Promise<Set<string>> {
  try {
    const mod = (await import(join(ROOT, "src/config/schema.ts"))) as { configSchema?: { shape?: object } };
    return new Set(Object.keys(mod.configSchema?.shape ?? {}));
  } catch {
    return new Set();
  }
}

export function buildConfig(
  variant: Variant,
  logLevel: string,
  up: Upstreams,
  dir: string,
  keys: Set<string>,
) {
  const fake = (name: string) => ({
    type: "openai",
    baseUrl: `http://127.0.0.1:${up.openai}/v1`,
    connections: 1024,
    ...(variant === "on"
      ? { breaker: { volumeThreshold: 20, errorThresholdPercentage: 50, resetTimeoutMs: 5000 } }
      : {}),
    _name: name,
  });
  const targets = (model: string) =>
    variant === "on"
      ? [
          { backend: "fake-a", model },
          { backend: "fake-b", model },
        ]
      : [{ backend: "fake-a", model }];
  const backends: Record<string, unknown> = { "fake-a": fake("a") };
  if (variant === "on") backends["fake-b"] = fake("b");
  backends.kserve = { type: "kserve", address: `http://127.0.0.1:${up.kserve}`, profile: "vllm" };
  for (const b of Object.values(backends)) delete (b as { _name?: string })._name;
  const price = { input: 0.15, output: 0.6 };
  const config: Record<string, unknown> = {
    server: { host: "127.0.0.1", port: 0, shutdownGraceMs: 2000 },
    log: { level: logLevel },
    auth: variant === "on" ? { enabled: true } : { enabled: false },
    store: variant === "on" ? { type: "sqlite", path: join(dir, "switchyard.db") } : { type: "memory" },
    backends,
    routes: {
      chat: { targets: targets(MODELS.fast) },
      slow: { targets: targets(MODELS.slow) },
      stream: { targets: targets(MODELS.stream) },
      kserve: { targets: [{ backend: "kserve", model: "llama" }] },
    },
    prices: { [MODELS.fast]: price, [MODELS.slow]: price, [MODELS.stream]: price, llama: price },
  };
  if (variant === "off" && keys.has("telemetry")) config.telemetry = { metrics: { enabled: false } };
  const included: string[] = [];
  if (variant === "on") {
    for (const [key, value] of Object.entries(optionalSections(dir))) {
      if (keys.has(key)) {
        config[key] = value;
        included.push(key);
      }
    }
  }
  return { config, included };
}

/** `switchyard check-config`: the gateway's own validation. Undefined when valid, else its message. */
function checkConfig(file: string): string | undefined {
  try {
    execFileSync(NODE, ["src/main.ts", "check-config", file], { cwd: ROOT, stdio: "pipe", timeout: 30_000 });
    return undefined;
  } catch (error) {
    const e = error as { stderr?: Buffer; stdout?: Buffer; message: string };
    return (e.stderr?.toString() || e.stdout?.toString() || e.message).trim().slice(0, 600);
  }
}

/** Writes the config; an optional section the gateway rejects is dropped (and noted), never the whole run. */
export function writeConfig(
  variant: Variant,
  logLevel: string,
  up: Upstreams,
  dir: string,
  keys: Set<string>,
) {
  const file = join(dir, `switchyard-${variant}-${logLevel}.yaml`);
  const { config, included } = buildConfig(variant, logLevel, up, dir, keys);
  const notes: string[] = [];
  let problem: string | undefined;
  for (let i = 0; i <= included.length; i++) {
    writeFileSync(file, stringify(config));
    problem = checkConfig(file);
    if (problem === undefined) break;
    const drop = included.pop();
    if (drop === undefined) break;
    delete config[drop];
    notes.push(
      `config section "${drop}" left out: the gateway rejected it (${problem.split("\n").slice(0, 3).join(" ")})`,
    );
  }
  if (problem !== undefined) throw new Error(`Switchyard rejects the bench config ${file}:\n${problem}`);
  return { file, included, notes };
}

export function generateKey(): string {
  return execFileSync(NODE, ["src/main.ts", "keys", "generate"], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 30_000,
  }).trim();
}

export async function startSwitchyard(
  variant: Variant,
  logLevel: string,
  up: Upstreams,
  dir: string,
  keys: Set<string>,
): Promise<Instance> {
  const { file, included, notes } = writeConfig(variant, logLevel, up, dir, keys);
  const key = variant === "on" ? generateKey() : undefined;
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
  delete env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (key) env.SWITCHYARD_BOOTSTRAP_KEY = key;
  let sawPortLine = false;
  const child = await startProcess({
    name: `switchyard-${variant}-${logLevel}`,
    command: NODE,
    args: ["src/main.ts", "serve", "--config", file, "--port", "0"],
    cwd: ROOT,
    env,
    core: CORES.gateway,
    timeoutMs: 60_000,
    portOf: (line) => {
      const port = jsonPort(line);
      if (port !== undefined) sawPortLine = true;
      return port;
    },
    logFile: join(dir, `switchyard-${variant}-${logLevel}.log`),
    // Below info the start-up line with the port (an info line) is not printed: find the listening socket.
    probeSockets: !["trace", "debug", "info"].includes(logLevel),
  });
  if (!sawPortLine)
    notes.push(
      `log level ${logLevel}: no start-up log line carried the port (it is logged at info); found the listening socket in /proc instead`,
    );
  if (included.length > 0) notes.push(`features on include: ${included.join(", ")}`);
  return Object.assign(child, { variant, logLevel, key, config: file, notes });
}
