import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { LogLine } from "./gateway.ts";
import { INSPECTOR_URL } from "./inspector.ts";

export type GatewayProcess = {
  child: ChildProcess;
  port: number;
  url: string;
  /** Every JSON log line the process wrote to stdout so far. */
  logs: LogLine[];
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** With `inspect`: the DevTools WebSocket address (connectInspector in inspector.ts). */
  inspectorUrl: string | undefined;
};

/**
 * Runs `switchyard serve` as a child process on a free port (the pinned Node, as the npm scripts do),
 * resolving once it logs its port. For what an in-process gateway cannot show: a kill -9, the memory of
 * a whole process. `inspect` opens the inspector on a free loopback port.
 */
export async function spawnGateway(
  configFile: string,
  options: { inspect?: boolean } = {},
): Promise<GatewayProcess> {
  const nodeArgs = options.inspect ? ["--inspect=127.0.0.1:0"] : [];
  const child = spawn(
    process.execPath,
    [...nodeArgs, "src/main.ts", "serve", "--config", configFile, "--port", "0"],
    { stdio: ["ignore", "pipe", options.inspect ? "pipe" : "inherit"] },
  );
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const inspector = Promise.withResolvers<string | undefined>();
  if (child.stderr) {
    createInterface({ input: child.stderr }).on("line", (line) => {
      const url = INSPECTOR_URL.exec(line)?.[1];
      if (url) inspector.resolve(url);
      else if (!line.startsWith("For help, see") && !line.startsWith("Debugger attached"))
        process.stderr.write(`${line}\n`);
    });
  } else inspector.resolve(undefined);
  const logs: LogLine[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        return; // not a log line (a stray print): ignore
      }
      logs.push(parsed);
      if (typeof parsed.port === "number") resolve(parsed.port);
    });
    child.once("exit", (code) => reject(new Error(`gateway exited (${code}) before listening`)));
  });
  const inspectorUrl = await inspector.promise; // printed before the gateway even loads
  return { child, port, url: `http://127.0.0.1:${port}`, logs, exited, inspectorUrl };
}
