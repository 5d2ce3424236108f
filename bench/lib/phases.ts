import type { Arm, Delay } from "./arms.ts";
import type { CapacityResult } from "./capacity.ts";
import { arm, type Ctx } from "./context.ts";
import { REFUSED } from "./jobs.ts";
import { alive, cpuMicros, rssBytes } from "./proc.ts";
import { type Spread, type Summary, spread } from "./stats.ts";
import { runWrk, wrkAvailable } from "./wrk.ts";

export type RoundSample = {
  p50: number;
  p99: number;
  n: number;
  errors: number;
  errorKinds: Record<string, number>;
  cpuUsPerReq: number | undefined;
};
export type LatencyArm = {
  rounds: RoundSample[];
  p50: Spread;
  p99: Spread;
  addedP50: Spread | undefined;
  addedP99: Spread | undefined;
  cpuUsPerReq: Spread | undefined;
  errors: number;
};

const runnable = (ctx: Ctx) => ctx.arms.filter((a) => !a.unavailable && a.unary);
const cpuOf = (a: Arm) => (a.pid !== undefined ? cpuMicros(a.pid) : undefined);
const fmt = (ms: number) => (Number.isFinite(ms) ? ms.toFixed(3) : "n/a");

/** Concurrency 1, arms interleaved in rounds after a warm-up; CPU per request of each gateway from /proc. */
export async function latencyRounds(ctx: Ctx): Promise<Record<string, LatencyArm>> {
  const arms = runnable(ctx);
  const once = async (a: Arm, durationMs: number): Promise<RoundSample> => {
    const before = cpuOf(a);
    const r = await ctx.lg.run({
      type: "closed",
      target: (a.unary as (d: Delay) => never)("fast"),
      concurrency: 1,
      durationMs,
      maxRequests: 1_000_000,
      timeoutMs: ctx.timeoutMs,
    });
    const after = cpuOf(a);
    const requests = r.ok + r.errors + 1; // + the untimed first call
    return {
      p50: r.latency.p50,
      p99: r.latency.p99,
      n: r.ok,
      errors: r.errors,
      errorKinds: r.errorKinds,
      cpuUsPerReq: before !== undefined && after !== undefined ? (after - before) / requests : undefined,
    };
  };
  ctx.log(`latency: warm-up, ${arms.length} arms × ${ctx.mode.warmMs} ms`);
  for (const a of arms) await once(a, ctx.mode.warmMs);
  const rounds = new Map<string, RoundSample[]>(arms.map((a) => [a.id, []]));
  for (let i = 0; i < ctx.mode.rounds; i++) {
    const line: string[] = [];
    for (const a of arms) {
      const s = await once(a, ctx.mode.roundMs);
      rounds.get(a.id)?.push(s);
      line.push(`${a.id} ${fmt(s.p50)}${s.errors ? ` (${s.errors} err)` : ""}`);
    }
    ctx.log(`latency round ${i + 1}/${ctx.mode.rounds} p50 ms: ${line.join(", ")}`);
  }
  const out: Record<string, LatencyArm> = {};
  for (const a of arms) {
    const mine = rounds.get(a.id) ?? [];
    const base = a.baseline ? rounds.get(a.baseline) : undefined;
    const added = (pick: (s: RoundSample) => number) =>
      base ? spread(mine.map((s, i) => pick(s) - pick(base[i] as RoundSample))) : undefined;
    const cpu = mine.map((s) => s.cpuUsPerReq).filter((v): v is number => v !== undefined);
    out[a.id] = {
      rounds: mine,
      p50: spread(mine.map((s) => s.p50)),
      p99: spread(mine.map((s) => s.p99)),
      addedP50: added((s) => s.p50),
      addedP99: added((s) => s.p99),
      cpuUsPerReq: cpu.length > 0 ? spread(cpu) : undefined,
      errors: mine.reduce((n, s) => n + s.errors, 0),
    };
  }
  return out;
}

export type PeakArm = {
  tool: string;
  rps: number;
  errors: number;
  errorKinds: Record<string, number>;
  latency: { p50: number; p99: number };
  /** Share of one core the gateway used during the run (100 = one full core: the gateway is the limit). */
  gatewayCpuPercent: number | undefined;
  cpuUsPerReq: number | undefined;
};

/** Closed loop at fixed concurrency: the most each arm serves when nothing else matters. */
export async function peakThroughput(ctx: Ctx): Promise<Record<string, PeakArm>> {
  const out: Record<string, PeakArm> = {};
  for (const a of runnable(ctx)) {
    const target = (a.unary as (d: Delay) => ReturnType<NonNullable<Arm["unary"]>>)("fast");
    const before = cpuOf(a);
    const t0 = performance.now();
    let result: PeakArm | undefined;
    if (target.kind === "http" && wrkAvailable()) {
      try {
        const w = await runWrk(target, ctx.mode.peakConcurrency, ctx.mode.peakMs);
        result = { tool: "wrk", ...w, gatewayCpuPercent: undefined, cpuUsPerReq: undefined };
      } catch (error) {
        ctx.log(
          `peak throughput ${a.id}: ${(error as Error).message.slice(0, 200)}; using the Node generator`,
        );
      }
    }
    if (!result) {
      const r = await ctx.lg.run({
        type: "closed",
        target,
        concurrency: ctx.mode.peakConcurrency,
        durationMs: ctx.mode.peakMs,
        maxRequests: 10_000_000,
        timeoutMs: ctx.timeoutMs,
      });
      result = {
        tool: "node",
        rps: r.ok / (r.elapsedMs / 1000),
        errors: r.errors,
        errorKinds: r.errorKinds,
        latency: { p50: r.latency.p50, p99: r.latency.p99 },
        gatewayCpuPercent: undefined,
        cpuUsPerReq: undefined,
      };
    }
    const after = cpuOf(a);
    if (before !== undefined && after !== undefined) {
      const wallUs = (performance.now() - t0) * 1000;
      result.gatewayCpuPercent = ((after - before) / wallUs) * 100;
      const served = result.rps * ((performance.now() - t0) / 1000);
      result.cpuUsPerReq = served > 0 ? (after - before) / served : undefined;
    }
    out[a.id] = result;
    ctx.log(
      `peak throughput ${a.id}: ${result.rps.toFixed(0)} req/s (${result.tool}, c=${ctx.mode.peakConcurrency})` +
        `${result.gatewayCpuPercent !== undefined ? `, gateway CPU ${result.gatewayCpuPercent.toFixed(0)}%` : ""}` +
        `${result.errors ? `, ${result.errors} errors` : ""}`,
    );
  }
  return out;
}

export type StreamArm = {
  concurrency: number;
  streams: number;
  intact: number;
  broken: number;
  refused: number;
  errors: number;
  errorKinds: Record<string, number>;
  errorSamples: Record<string, string>;
  ttft: Summary;
  gap: Summary;
  addedTtftP50: number | undefined;
  addedTtftP99: number | undefined;
  addedGapP50: number | undefined;
  addedGapP99: number | undefined;
  rssIdle: number | undefined;
  rssPeak: number | undefined;
  rssPerStream: number | undefined;
};

/** N concurrent streams per arm: TTFT, gaps between chunks, every chunk complete and in order, memory. */
export async function streaming(ctx: Ctx, expectText: string): Promise<Record<string, StreamArm>> {
  const out: Record<string, StreamArm> = {};
  const arms = ctx.arms.filter((a) => !a.unavailable && a.stream && !a.streamUnavailable);
  for (const a of arms) {
    const target = (a.stream as () => ReturnType<NonNullable<Arm["stream"]>>)();
    // Warm-up, not measured, at the full concurrency: the first arm to stream through a gateway process would
    // otherwise pay its JIT warm-up and the growth of its connection pools to N streams, the arms after it not.
    await ctx.lg.run({
      type: "streams",
      target,
      concurrency: ctx.mode.streams,
      durationMs: 600, // past the stagger, so every slot starts one stream
      maxStreams: ctx.mode.streams,
      staggerMs: 500,
      expectText,
      timeoutMs: 30_000,
    });
    const idle = a.pid !== undefined ? rssBytes(a.pid) : undefined;
    let peak = idle;
    const sampler =
      a.pid !== undefined
        ? setInterval(() => {
            const now = rssBytes(a.pid as number);
            if (Number.isFinite(now)) peak = Math.max(peak ?? 0, now);
          }, 100)
        : undefined;
    const r = await ctx.lg
      .run({
        type: "streams",
        target,
        concurrency: ctx.mode.streams,
        durationMs: ctx.mode.streamMs,
        maxStreams: 10_000_000,
        staggerMs: 500,
        expectText,
        timeoutMs: 30_000,
      })
      .finally(() => clearInterval(sampler));
    const d = out.direct;
    const base = a.id === "direct" ? undefined : d;
    out[a.id] = {
      concurrency: ctx.mode.streams,
      streams: r.ok + r.errors,
      intact: r.intact,
      broken: r.broken,
      refused: r.refused,
      errors: r.errors,
      errorKinds: r.errorKinds,
      errorSamples: r.errorSamples,
      ttft: r.ttft,
      gap: r.gap,
      addedTtftP50: base ? r.ttft.p50 - base.ttft.p50 : undefined,
      addedTtftP99: base ? r.ttft.p99 - base.ttft.p99 : undefined,
      addedGapP50: base ? r.gap.p50 - base.gap.p50 : undefined,
      addedGapP99: base ? r.gap.p99 - base.gap.p99 : undefined,
      rssIdle: idle,
      rssPeak: peak,
      rssPerStream:
        idle !== undefined && peak !== undefined ? Math.max(0, peak - idle) / ctx.mode.streams : undefined,
    };
    ctx.log(
      `streams ${a.id} ×${ctx.mode.streams}: TTFT p50 ${fmt(r.ttft.p50)} p99 ${fmt(r.ttft.p99)} ms, gap p99 ${fmt(r.gap.p99)} ms, ` +
        `${r.intact}/${r.ok + r.errors - r.refused} intact${r.refused ? `, ${r.refused} refused` : ""}` +
        `${r.errors ? `, errors ${JSON.stringify(r.errorKinds)}` : ""}`,
    );
  }
  return out;
}

export type OverloadArm = {
  rate: number;
  ok: number;
  errors: number;
  errorKinds: Record<string, number>;
  errorSamples: Record<string, string>;
  latency: Summary;
  errorLatency: Summary;
  /** Refused up front (load shedding): 429 / RESOURCE_EXHAUSTED. */
  refused: number;
  refusedLatency: Summary | undefined;
  /** The gateway's CPU over the step (sending and draining): well under 100 % means the load side was the limit. */
  gatewayCpuPercent: number;
  aliveAfter: boolean;
  servesAfter: boolean;
  /** From the step's end to 20 calls in a row answered. */
  recoveredMs: number | undefined;
  rssAfter: number | undefined;
};

/** Twice the measured capacity (0 ms mock), open loop: what callers see, and whether the gateway survives. */
export async function overload(
  ctx: Ctx,
  caps: Record<string, Partial<Record<Delay, CapacityResult>>>,
  peaks: Record<string, PeakArm>,
): Promise<Record<string, OverloadArm>> {
  const out: Record<string, OverloadArm> = {};
  for (const id of ctx.mode.overloadArms) {
    const a = arm(ctx, id);
    if (!a || a.unavailable || !a.unary || a.pid === undefined) continue;
    // The larger of the two: the latency-bound capacity can sit far below the rate that saturates the gateway.
    const cap = Math.max(caps[id]?.fast?.capacity ?? 0, peaks[id]?.rps ?? 0);
    if (!cap) continue;
    const rate = Math.round(cap * 2);
    const cpuBefore = cpuMicros(a.pid);
    const wallBefore = performance.now();
    const r = await ctx.lg.run({
      type: "open",
      target: a.unary("fast"),
      rate,
      durationMs: ctx.mode.overloadMs,
      connections: 512,
      maxInFlight: 20_000,
      timeoutMs: 5000,
    });
    const gatewayCpuPercent =
      ((cpuMicros(a.pid) - cpuBefore) / ((performance.now() - wallBefore) * 1000)) * 100;
    const isAlive = alive(a.pid);
    // Serves after = 20 calls in a row answered, within 10 s of the step's end (a shedding gateway needs a moment
    // to see that the overload is over); recoveredMs = how long that took.
    let serves = false;
    const probeStart = performance.now();
    while (isAlive && !serves && performance.now() - probeStart < 10_000) {
      const probe = await ctx.lg.run({
        type: "closed",
        target: a.unary("fast"),
        concurrency: 1,
        durationMs: 5000, // the 20 calls, not the clock, end the probe
        maxRequests: 20,
        timeoutMs: 5000,
      });
      serves = probe.ok === 20 && probe.errors === 0;
      if (!serves) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const recoveredMs = serves ? performance.now() - probeStart : undefined;
    out[id] = {
      rate,
      ok: r.ok,
      errors: r.errors,
      errorKinds: r.errorKinds,
      errorSamples: r.errorSamples,
      latency: r.latency,
      errorLatency: r.errorLatency,
      refused: Object.entries(r.errorKinds)
        .filter(([kind]) => REFUSED.has(kind))
        .reduce((n, [, count]) => n + count, 0),
      gatewayCpuPercent,
      refusedLatency: r.refusedLatency,
      aliveAfter: isAlive,
      servesAfter: serves,
      recoveredMs,
      rssAfter: isAlive ? rssBytes(a.pid) : undefined,
    };
    ctx.log(
      `overload ${id} @ ${rate} req/s (2× ${Math.round(cap)}): ${r.ok} ok, ${r.errors} errors ${JSON.stringify(r.errorKinds)}, ` +
        `p99 ${fmt(r.latency.p99)} ms, gateway CPU ${gatewayCpuPercent.toFixed(0)}%, alive after: ${isAlive}, serves after: ${serves}${recoveredMs !== undefined ? ` (in ${recoveredMs.toFixed(0)} ms)` : ""}`,
    );
  }
  return out;
}

export type SoakResult = {
  minutes: number;
  rate: number;
  ok: number;
  errors: number;
  rssBefore: number;
  rssAfter: number;
  rssEachMinute: number[];
};

/** `--soak MINUTES`: Switchyard (features on) at half its capacity, memory before and after. */
export async function soak(ctx: Ctx, minutes: number, rate: number): Promise<SoakResult | undefined> {
  const a = arm(ctx, "sy-connect");
  if (!a?.unary || a.pid === undefined) return undefined;
  const rssBefore = rssBytes(a.pid);
  const each: number[] = [];
  let ok = 0;
  let errors = 0;
  for (let m = 0; m < minutes; m++) {
    const r = await ctx.lg.run({
      type: "open",
      target: a.unary("fast"),
      rate,
      durationMs: 60_000,
      connections: 256,
      maxInFlight: 4000,
      timeoutMs: 5000,
    });
    ok += r.ok;
    errors += r.errors;
    each.push(rssBytes(a.pid));
    ctx.log(
      `soak minute ${m + 1}/${minutes}: ${r.ok} ok, ${r.errors} errors, RSS ${((each.at(-1) ?? 0) / 2 ** 20).toFixed(1)} MiB`,
    );
  }
  return { minutes, rate, ok, errors, rssBefore, rssAfter: rssBytes(a.pid), rssEachMinute: each };
}
