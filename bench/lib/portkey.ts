import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Child, CORES, freePort, startProcess } from "./proc.ts";

const BENCH = new URL("..", import.meta.url).pathname;
const PACKAGE = join(BENCH, "node_modules/@portkey-ai/gateway");

export type Portkey = { child: Child; version: string } | { unavailable: string };

/** Installs bench/package.json's devDependencies into bench/node_modules when Portkey is missing. */
export function ensurePortkey(log: (line: string) => void): { version: string } | { unavailable: string } {
  if (!existsSync(join(PACKAGE, "package.json"))) {
    log("installing the peer gateway: npm install --prefix bench --no-audit --no-fund");
    const npm = spawnSync("npm", ["install", "--prefix", BENCH, "--no-audit", "--no-fund"], {
      encoding: "utf8",
      timeout: 300_000,
    });
    if (npm.status !== 0 || !existsSync(join(PACKAGE, "package.json"))) {
      const why = (npm.error?.message ?? npm.stderr ?? "").trim().split("\n").slice(-3).join(" ");
      return { unavailable: `npm install of @portkey-ai/gateway failed: ${why || `exit ${npm.status}`}` };
    }
  }
  const pkg = JSON.parse(readFileSync(join(PACKAGE, "package.json"), "utf8")) as {
    version: string;
    bin?: unknown;
  };
  return { version: pkg.version };
}

/** The start command from its package: `bin` (build/start-server.js), a Hono app on @hono/node-server. */
function entry(): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE, "package.json"), "utf8")) as {
    bin?: string | Record<string, string>;
  };
  const bin = typeof pkg.bin === "string" ? pkg.bin : Object.values(pkg.bin ?? {})[0];
  return join(PACKAGE, bin ?? "build/start-server.js");
}

export async function startPortkey(dir: string, log: (line: string) => void): Promise<Portkey> {
  const installed = ensurePortkey(log);
  if ("unavailable" in installed) return installed;
  const port = await freePort();
  try {
    const child = await startProcess({
      name: "portkey",
      command: process.execPath,
      // It listens on every interface unless told otherwise and has no host flag: the preload binds it to
      // 127.0.0.1. --headless: no UI or log-streaming routes (as in a server deployment).
      args: ["--import", join(BENCH, "loopback-only.ts"), entry(), `--port=${port}`, "--headless"],
      cwd: BENCH,
      logFile: join(dir, "portkey.log"),
      core: CORES.gateway,
      timeoutMs: 30_000,
      portOf: (line) => (line.includes("Ready for connections") ? port : undefined),
    });
    return { child, version: installed.version };
  } catch (error) {
    return {
      unavailable: `Portkey ${installed.version} did not start: ${(error as Error).message.slice(0, 300)}`,
    };
  }
}
