// `npm run bench [-- --quick] [-- --soak MINUTES]`: Switchyard against a bare Node proxy and Portkey, on loopback,
// arms interleaved in rounds. Writes bench/results/<timestamp>.json and BENCHMARKS.md. See bench/README.md.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { request } from "undici";
import { buildArms } from "./lib/arm-list.ts";
import { capacity } from "./lib/capacity.ts";
import { type Ctx, MODES } from "./lib/context.ts";
import type { Target } from "./lib/jobs.ts";
import { LoadGenerator } from "./lib/loadgen-client.ts";
import { latencyRounds, overload, peakThroughput, soak, streaming } from "./lib/phases.ts";
import { startPortkey } from "./lib/portkey.ts";
import {
  type Child,
  CORES,
  cpuMicros,
  cpuModel,
  hasTaskset,
  jsonPort,
  loadAverage,
  machineBusyMicros,
  pin,
  rssBytes,
  startProcess,
} from "./lib/proc.ts";
import { armList, markdown, type Results } from "./lib/report.ts";
import { ROOT, schemaKeys, startSwitchyard } from "./lib/switchyard.ts";
import { streamText } from "./lib/wire.ts";
import { wrkAvailable } from "./lib/wrk.ts";

const { values } = parseArgs({
  options: { quick: { type: "boolean", default: false }, soak: { type: "string" } },
});
const mode = MODES[values.quick ? "quick" : "full"];
const soakMinutes =
  values.soak === undefined ? 0 : Math.min(24 * 60, Math.max(0, Math.floor(Number(values.soak))));
const STREAM_CHUNKS = 10;
const started = performance.now();
const log = (line: string) =>
  process.stdout.write(`[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
const NODE = process.execPath;
const dir = mkdtempSync(join(os.tmpdir(), "switchyard-bench-"));
const children: Child[] = [];
let lg: LoadGenerator | undefined;

async function cleanup(): Promise<void> {
  lg?.close();
  await Promise.allSettled(children.map((c) => c.stop()));
  rmSync(dir, { recursive: true, force: true });
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

async function start(name: string, script: string, args: string[], core: number): Promise<Child> {
  const child = await startProcess({
    name,
    command: NODE,
    args: [join(ROOT, "bench", script), ...args],
    cwd: ROOT,
    logFile: join(dir, `${name}.log`),
    core,
    portOf: jsonPort,
  });
  children.push(child);
  return child;
}

/** One request through an arm before measuring it: an arm that cannot answer correctly is n/a, not a failure. */
async function probe(target: Target, stream: boolean): Promise<string | undefined> {
  if (!lg) return "no load generator";
  try {
    if (stream) {
      const r = await lg.run({
        type: "streams",
        target,
        concurrency: 1,
        durationMs: 1,
        maxStreams: 1,
        staggerMs: 0,
        expectText: streamText(STREAM_CHUNKS),
        timeoutMs: 10_000,
      });
      if (r.intact === 1) return undefined;
      const kind = Object.keys(r.errorKinds)[0];
      return kind ? `${kind}: ${r.errorSamples[kind]}` : "the stream did not arrive intact";
    }
    const r = await lg.run({
      type: "closed",
      target,
      concurrency: 1,
      durationMs: 1,
      maxRequests: 1,
      timeoutMs: 10_000,
    });
    if (r.errors === 0 && r.ok > 0) return undefined;
    const kind = Object.keys(r.errorKinds)[0] ?? "no answer";
    return `${kind}: ${r.errorSamples[kind] ?? ""}`.trim();
  } catch (error) {
    return (error as Error).message;
  }
}

function firstErrorLine(file: string): string {
  try {
    return (
      readFileSync(file, "utf8")
        .split("\n")
        .find((l) => /error/i.test(l))
        ?.trim()
        .slice(0, 200) ?? ""
    );
  } catch {
    return "";
  }
}

async function main(): Promise<void> {
  const loadAverageAtStart = loadAverage();
  log(`mode ${mode.name}; scratch dir ${dir}; load average ${loadAverageAtStart}`);
  const pinned = hasTaskset() && pin(process.pid, CORES.loadgen);
  const notes: string[] = [];
  if (!pinned) notes.push("taskset or a second core is missing: processes were not pinned to cores.");

  const fake = await start(
    "fake-upstream",
    "fake-upstream.ts",
    ["--stream-chunks", String(STREAM_CHUNKS), "--stream-gap-ms", "50"],
    CORES.loadgen,
  );
  const kserve = await start("kserve-fake", "kserve-upstream.ts", [], CORES.loadgen);
  const bare = await start(
    "bare-proxy",
    "bare-proxy.ts",
    ["--upstream", `http://127.0.0.1:${fake.port}`],
    CORES.gateway,
  );
  log(`fake upstream :${fake.port}, KServe fake :${kserve.port}, bare proxy :${bare.port}`);

  const keys = await schemaKeys();
  const up = { openai: fake.port, kserve: kserve.port };
  // Started side by side (each validates its config with `switchyard check-config` first).
  const [syOn, syOff, syInfo, pk] = await Promise.all([
    startSwitchyard("on", "warn", up, dir, keys),
    startSwitchyard("off", "warn", up, dir, keys),
    startSwitchyard("on", "info", up, dir, keys),
    startPortkey(dir, log),
  ]);
  children.push(syOn, syOff, syInfo);
  log(
    `Switchyard features on :${syOn.port}, features off :${syOff.port}, features on at log level info :${syInfo.port}`,
  );
  notes.push(...new Set([...syOn.notes, ...syOff.notes, ...syInfo.notes].map((n) => `Switchyard: ${n}`)));
  if ("child" in pk) {
    children.push(pk.child);
    log(`Portkey ${pk.version} :${pk.child.port}`);
  } else log(`Portkey n/a: ${pk.unavailable}`);

  lg = new LoadGenerator();
  const arms = buildArms({ fake, kserve, bare, syOn, syOff, syInfo, pk });
  const fakeOrigin = `http://127.0.0.1:${fake.port}`;

  for (const a of arms) {
    if (a.unavailable || !a.unary) continue;
    const problem = await probe(a.unary("fast"), false);
    if (problem) {
      a.unavailable =
        a.id === "sy-openai" && problem.startsWith("http_404")
          ? `facade absent: POST /v1/chat/completions answered 404 (${problem.slice(9, 120)})`
          : `probe failed: ${problem.slice(0, 300)}`;
      log(`${a.id}: n/a — ${a.unavailable}`);
      continue;
    }
    if (a.stream) {
      const streamProblem = await probe(a.stream(), true);
      if (streamProblem) {
        const hint =
          a.id === "portkey" && "child" in pk ? ` Its log: ${firstErrorLine(pk.child.logFile)}` : "";
        a.streamUnavailable = `probe failed: ${streamProblem.slice(0, 200)}.${hint}`;
        log(`${a.id} streaming: n/a — ${a.streamUnavailable}`);
      }
    }
  }

  const rssStart: Record<string, number> = {};
  for (const [id, c] of [
    ["bare", bare],
    ["sy-connect", syOn],
    ["sy-off", syOff],
    ["sy-info", syInfo],
  ] as const)
    rssStart[id] = rssBytes(c.pid);
  if ("child" in pk) rssStart.portkey = rssBytes(pk.child.pid);

  const ctx: Ctx = { mode, lg, arms, log, timeoutMs: 10_000 };
  const ourCpu = () =>
    [lg?.pid ?? 0, ...children.map((c) => c.pid)].reduce(
      (n, pid) => {
        try {
          return n + cpuMicros(pid);
        } catch {
          return n;
        }
      },
      cpuMicros(process.pid, true),
    );
  const mark = () => ({ wall: performance.now(), machine: machineBusyMicros(), ours: ourCpu() });
  /** CPU that processes the bench did not start used since `from`, in % of one core. */
  const foreignSince = (from: ReturnType<typeof mark>) => {
    const wallUs = (performance.now() - from.wall) * 1000;
    const foreign = machineBusyMicros() - from.machine - (ourCpu() - from.ours);
    return wallUs > 0 ? Math.max(0, (foreign / wallUs) * 100) : 0;
  };
  const foreignByPhase: Record<string, number> = {};
  const phase = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const from = mark();
    try {
      return await run();
    } finally {
      foreignByPhase[name] = foreignSince(from);
    }
  };
  // A shared machine: wait (bounded) for other processes to calm down before measuring, and say so.
  const quietLimitMs = mode.name === "quick" ? 30_000 : 120_000;
  const quietFrom = performance.now();
  for (;;) {
    const from = mark();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const busy = foreignSince(from);
    if (busy <= 25) break;
    if (performance.now() - quietFrom > quietLimitMs) {
      notes.push(
        `Other processes kept the machine busy (${busy.toFixed(0)} % of a core) through a ${quietLimitMs / 1000} s wait; measured anyway.`,
      );
      break;
    }
    log(`waiting for a quieter machine: other processes use ${busy.toFixed(0)} % of a core`);
  }
  const measureFrom = mark();
  const latency = await phase("latency", () => latencyRounds(ctx));
  const peak = await phase("peak", () => peakThroughput(ctx));
  const caps = await phase("capacity", () => capacity(ctx, peak));
  const streams = await phase("streaming", () => streaming(ctx, streamText(STREAM_CHUNKS)));
  const over = await phase("overload", () => overload(ctx, caps, peak));
  const foreignCpuPercent = foreignSince(measureFrom);
  const soakResult =
    soakMinutes > 0
      ? await soak(
          ctx,
          soakMinutes,
          Math.max(
            50,
            Math.round((caps["sy-connect"]?.fast?.capacity || peak["sy-connect"]?.rps || 200) / 2),
          ),
        )
      : undefined;
  let upstreamServed: unknown;
  try {
    upstreamServed = await (await request(`${fakeOrigin}/stats`)).body.json();
  } catch {
    upstreamServed = undefined;
  }
  if ("child" in pk)
    notes.push(
      `Portkey ${pk.version} from npm (bench/package.json), run as \`node build/start-server.js --port=N --headless\`, forwarding to the fake upstream with \`x-portkey-provider: openai\` and \`x-portkey-custom-host\`.`,
    );
  notes.push(
    `Switchyard features on: auth with an API key (SWITCHYARD_BOOTSTRAP_KEY), SQLite store, two targets per route with a breaker, ` +
      `metrics; features off: auth off, memory store, one target, metrics off. Both at log level warn; one more instance at info.`,
  );
  notes.push(
    "Upstream connection pools: Switchyard backends `connections: 1024`, bare proxy 1024, Portkey its default (undici fetch).",
  );

  const results: Results = {
    machine: {
      cpu: cpuModel(),
      cores: os.cpus().length,
      node: process.version,
      kernel: os.release(),
      date: new Date().toISOString(),
      pinned,
      loadAverageAtStart,
      foreignCpuPercent,
      foreignByPhase,
      loadTools: [
        "Node load generator in its own process (bench/loadgen.ts: undici Pool with keep-alive for HTTP/1.1, @grpc/grpc-js for gRPC)",
        wrkAvailable()
          ? "wrk for HTTP/1.1 peak throughput"
          : "wrk not on PATH (Node generator used for peak throughput too)",
        "h2load not used: it cannot see gRPC status trailers, so failed gRPC calls would count as successes",
      ],
    },
    mode,
    command: `npm run bench${values.quick ? " -- --quick" : ""}${soakMinutes ? ` -- --soak ${soakMinutes}` : ""}`,
    durationS: (performance.now() - started) / 1000,
    arms: armList(arms),
    notes,
    rssStart,
    latency,
    peak,
    capacity: caps,
    streaming: streams,
    overload: over,
    soak: soakResult,
    upstreamServed,
  };
  const resultsDir = join(ROOT, "bench/results");
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${results.machine.date.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(ROOT, "BENCHMARKS.md"), markdown(results));
  log(`wrote ${file} and BENCHMARKS.md`);
}

try {
  await main();
} catch (error) {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
} finally {
  await cleanup();
}
