import { Writable } from "node:stream";
import type { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { parseConfig } from "../../src/config/load.ts";
import { type Gateway, startGateway } from "../../src/server/gateway.ts";
import { createLogger } from "../../src/telemetry/logger.ts";

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export type TestGateway = {
  gateway: Gateway;
  url: string;
  /** Every log line written so far, parsed. */
  logs: LogLine[];
  /** Raw log text, for canary-secret checks. */
  logText(): string;
  stop(): Promise<void>;
};

/** Starts an in-process gateway on a free loopback port from config text, capturing its logs. */
export async function startTestGateway(
  yaml: string,
  env: NodeJS.ProcessEnv = {},
  options: { prometheus?: PrometheusExporter } = {},
): Promise<TestGateway> {
  const loaded = parseConfig(yaml, "test-config", env);
  // Test files run in parallel on few cores, where the event loop often lags past the default 50 ms:
  // shedding is off unless a test configures it (the overload tests do).
  if (!yaml.includes("maxEventLoopLagMs")) loaded.config.server.limits.maxEventLoopLagMs = 0;
  const logs: LogLine[] = [];
  let raw = "";
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw += chunk.toString("utf8");
      for (const line of chunk.toString("utf8").split("\n"))
        if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const logger = createLogger("debug", sink);
  const gateway = await startGateway({ loaded, env, logger, port: 0, ...options });
  return {
    gateway,
    url: `http://127.0.0.1:${gateway.port}`,
    logs,
    logText: () => raw,
    stop: async () => {
      await gateway.shutdown(1000);
    },
  };
}

/**
 * A minimal valid config around the given backends and routes blocks (YAML, already indented):
 * in-memory store, auth off unless `extra` turns it on (tests of access control do).
 */
export function configYaml(
  backends: string,
  routes: string,
  server = "",
  extra = "auth: { enabled: false }\n",
): string {
  return `server:\n  host: 127.0.0.1\n  port: 0\n${server}store: { type: memory }\n${extra}backends:\n${backends}\nroutes:\n${routes}\n`;
}
