#!/usr/bin/env node
import { KEYS_HELP, keysCommand } from "./cli/keys.ts";
import { parseCommand, usageError } from "./cli/parse.ts";
import { SPEND_HELP, spendCommand } from "./cli/spend.ts";
import { ConfigError } from "./config/config-error.ts";
import { type LoadedConfig, loadConfigFile } from "./config/load.ts";

const HELP = `switchyard — gRPC-first AI inference gateway

Usage:
  switchyard serve --config FILE [--port N]   run the gateway (port 0 picks a free port)
  switchyard check-config FILE                 validate a config and print its compiled routes
  switchyard keys generate|create|list|revoke  manage API keys in the configured store (keys --help)
  switchyard spend --config FILE [...]         usage and cost from the ledger as CSV or JSON (spend --help)
  switchyard help [keys|spend]                 this text (also --help, -h), or a command's

The config is YAML; secrets are referenced as \${ENV_VAR}. See docs/config.md.
Signals: SIGHUP reloads the config (so does saving the file); SIGTERM/SIGINT drain and exit 0.
`;

/** `switchyard help <topic>`; the main text covers serve and check-config. */
const TOPICS: Record<string, string> = {
  keys: KEYS_HELP,
  spend: SPEND_HELP,
  serve: HELP,
  "check-config": HELP,
  help: HELP,
};

async function main(argv: string[]): Promise<number> {
  const io = { out: process.stdout, err: process.stderr };
  if (argv[0] === "keys") return keysCommand(argv.slice(1), io.out, io.err);
  if (argv[0] === "spend") return spendCommand(argv.slice(1), io.out, io.err);
  const parsed = parseCommand(
    "switchyard",
    HELP,
    {
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: "string", short: "c" },
        port: { type: "string", short: "p" },
        help: { type: "boolean", short: "h" },
      },
    },
    io,
  );
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (command === undefined) return usageError("switchyard", "missing command", HELP, io);
  if (command === "help") {
    const text = rest[0] === undefined ? HELP : TOPICS[rest[0]];
    if (text === undefined)
      return usageError("switchyard", `no help for "${rest[0]?.slice(0, 40)}"`, HELP, io);
    io.out.write(text);
    return 0;
  }
  if (command === "check-config") return checkConfig(rest[0] ?? values.config);
  if (command === "serve") return serve(values.config, values.port);
  return usageError("switchyard", `unknown command "${command.slice(0, 40)}"`, HELP, io);
}

function load(file: string | undefined): LoadedConfig | undefined {
  if (!file) {
    process.stderr.write("missing config file: pass --config FILE\n");
    return undefined;
  }
  try {
    return loadConfigFile(file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return undefined;
  }
}

async function checkConfig(file: string | undefined): Promise<number> {
  const loaded = load(file);
  if (!loaded) return 1;
  // Loaded on demand: `--help` and the key and spend commands need none of the gateway.
  const { compileConfig } = await import("./config/compile.ts");
  const { createLogger } = await import("./telemetry/logger.ts");
  const { compiled } = compileConfig(loaded, process.env, createLogger("silent"));
  const lines = [`${file}: valid`, "backends:"];
  for (const b of compiled.backends.values()) {
    lines.push(`  ${b.name}: ${b.description}${b.disabledReason ? ` — DISABLED (${b.disabledReason})` : ""}`);
  }
  lines.push("routes:");
  for (const r of compiled.routes.values()) {
    lines.push(
      `  ${r.workload}: [${[...r.operations].join(", ")}] ${r.strategy}, max ${r.retry.maxAttempts} attempts, ` +
        `total timeout ${r.timeouts.totalMs} ms`,
    );
    const list = (targets: typeof r.targets, indent: string) => {
      for (const [i, t] of targets.entries()) {
        const state = t.backend.adapter ? "" : " (disabled)";
        lines.push(
          `${indent}${i + 1}. ${t.backend.name} / ${t.model}${t.alias ? ` as "${t.alias}"` : ""}${state}`,
        );
      }
    };
    list(r.targets, "    ");
    for (const v of r.variants) {
      lines.push(`    variant ${v.name} when ${JSON.stringify(v.when)}: ${v.strategy}`);
      list(v.targets, "      ");
    }
  }
  for (const b of compiled.backends.values()) {
    b.state.close();
    void b.adapter?.close().catch(() => {});
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

async function serve(file: string | undefined, portFlag: string | undefined): Promise<number> {
  const loaded = load(file);
  if (!loaded || !file) return 1;
  let port: number | undefined;
  if (portFlag !== undefined) {
    port = Number(portFlag);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      process.stderr.write(`--port: "${portFlag}" is not a port number (0-65535)\n`);
      return 2;
    }
  }
  const [{ watchConfig }, { startGateway }, { createLogger, logDestination }, { setupTelemetry }] =
    await Promise.all([
      import("./config/watch.ts"),
      import("./server/gateway.ts"),
      import("./telemetry/logger.ts"),
      import("./telemetry/otel-sdk.ts"),
    ]);
  const logger = createLogger(loaded.config.log.level, logDestination(loaded.config.log.destination));
  const sdk = setupTelemetry(loaded.config.telemetry, process.env);
  const gateway = await startGateway({
    loaded,
    env: process.env,
    logger,
    ...(port !== undefined ? { port } : {}),
    ...(sdk.prometheus ? { prometheus: sdk.prometheus } : {}),
    configFile: file,
  });
  const stopWatching = watchConfig(gateway.config, file);

  for (const b of gateway.config.current.backends.values()) {
    if (b.adapter)
      logger.info({ backend: b.name, type: b.type }, `backend ${b.name}: enabled (${b.description})`);
    else logger.warn({ backend: b.name, type: b.type }, `backend ${b.name}: disabled — ${b.disabledReason}`);
  }
  for (const r of gateway.config.current.routes.values()) {
    const serving = r.targets.filter((t) => t.backend.adapter).map((t) => `${t.backend.name}/${t.model}`);
    logger.info(
      { workload: r.workload, targets: serving },
      `route ${r.workload} → ${serving.join(" → ") || "no enabled backend"}`,
    );
  }
  const scheme = loaded.config.server.tls ? "https" : "http";
  logger.info(
    { host: gateway.host, port: gateway.port, tls: Boolean(loaded.config.server.tls) },
    `Switchyard listening on ${scheme}://${gateway.host}:${gateway.port} (gRPC, gRPC-Web, Connect)`,
  );

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, "stop signal received");
      resolve();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  stopWatching();
  await gateway.shutdown();
  await sdk.shutdown(); // flushes buffered spans
  logger.flush(); // pending log lines out before the process exits
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // A config that does not load (keys, spend) is the operator's to fix: its message, no stack trace.
    const text =
      error instanceof ConfigError
        ? error.message
        : `switchyard: fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
    process.stderr.write(`${text}\n`);
    process.exitCode = 1;
  },
);
