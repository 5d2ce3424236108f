import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HttpTarget } from "./jobs.ts";
import { CORES, hasTaskset, which } from "./proc.ts";

let wrkPath: string | null | undefined;
/** wrk (apt-get install wrk) is used for HTTP/1.1 peak throughput when it is on PATH; the bench never installs it. */
export function wrkAvailable(): boolean {
  if (process.env.BENCH_LOADGEN === "node") return false;
  if (wrkPath === undefined) wrkPath = which("wrk");
  return wrkPath !== null;
}

const long = (text: string) => `[==[${text}]==]`;

/** A Lua script that sends the target's request and counts answers that are not 200 with the expected text. */
export function wrkScript(target: HttpTarget): string {
  const headers = Object.entries(target.headers)
    .map(([k, v]) => `wrk.headers[ ${long(k)} ] = ${long(v)}`)
    .join("\n");
  return `wrk.method = "POST"
wrk.body = ${long(target.body)}
${headers}
local threads = {}
function setup(thread) table.insert(threads, thread) end
bad = 0
function response(status, headers, body)
  if status ~= 200 or not string.find(body, ${long(target.expect)}, 1, true) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format("BENCH_RESULT %d %d %d %d %.3f %.3f\\n", summary.requests, b,
    e.connect + e.read + e.write + e.timeout, summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
`;
}

export type WrkResult = {
  rps: number;
  errors: number;
  errorKinds: Record<string, number>;
  latency: { p50: number; p99: number };
};

export function parseWrk(output: string): WrkResult {
  const m = /BENCH_RESULT (\d+) (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)/.exec(output);
  if (!m) throw new Error(`unexpected wrk output: ${output.slice(0, 300)}`);
  const [requests, bad, socket, durationUs, p50, p99] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const errorKinds: Record<string, number> = {};
  if (bad) errorKinds.bad_answer = bad;
  if (socket) errorKinds.socket = socket;
  return {
    rps: (requests - bad) / (durationUs / 1e6),
    errors: bad + socket,
    errorKinds,
    latency: { p50, p99 },
  };
}

export async function runWrk(
  target: HttpTarget,
  connections: number,
  durationMs: number,
): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), "bench-wrk-"));
  const script = join(dir, "request.lua");
  writeFileSync(script, wrkScript(target));
  const args = [
    "-t1",
    `-c${connections}`,
    `-d${Math.max(1, Math.round(durationMs / 1000))}s`,
    "-s",
    script,
    `${target.origin}${target.path}`,
  ];
  const [command, argv] = hasTaskset()
    ? ["taskset", ["-c", String(CORES.loadgen), "wrk", ...args]]
    : ["wrk", args];
  let output: string;
  try {
    output = await new Promise<string>((resolve, reject) => {
      execFile(command, argv as string[], { timeout: durationMs + 30_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`wrk failed: ${stderr || error.message}`)) : resolve(stdout),
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return parseWrk(output);
}
