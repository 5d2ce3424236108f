import type { Arm, Delay } from "./arms.ts";
import { arm, type Ctx } from "./context.ts";
import type { LoadResult } from "./jobs.ts";
import type { PeakArm } from "./phases.ts";

const fmt = (ms: number) => (Number.isFinite(ms) ? ms.toFixed(3) : "n/a");

export type CapacityStep = {
  rate: number;
  p99: number;
  /** The direct arm at the same rate, measured just before (a paired baseline, like the rounds). */
  directP99: number;
  addedP99: number;
  errors: number;
  errorKinds: Record<string, number>;
  sendLagP99: number;
  pass: boolean;
  why: string;
};
export type CapacityResult = {
  /** Highest rate that passed (0 when none did). */
  capacity: number;
  /** True when the highest rate tried passed: the capacity is at least this. */
  atLeast: boolean;
  /** At some failing rate the load side (generator or fake upstream) was itself saturated or late. */
  loadgenBound: boolean;
  /** The direct arm's p99 at 200 req/s: the load side's own latency when it is not busy. */
  baseP99: number;
  steps: CapacityStep[];
};

const SLO_ADDED_P99_MS = 10;
const MAX_SEND_LAG_MS = 5;

async function openStep(
  ctx: Ctx,
  a: Arm,
  delay: Delay,
  rate: number,
  durationMs: number,
): Promise<LoadResult> {
  return ctx.lg.run({
    type: "open",
    target: (a.unary as (d: Delay) => ReturnType<NonNullable<Arm["unary"]>>)(delay),
    rate,
    durationMs,
    connections: 256,
    maxInFlight: 4000,
    timeoutMs: 2000,
  });
}

/**
 * Highest request rate with p99 added ≤ 10 ms and no error: the top of the range is tried first, then a
 * bisection. The range comes from the arm's peak throughput (closed loop), so the search is short. Every step
 * runs the direct arm at the same rate first: added = arm p99 − that p99. A rate at which the direct arm itself is
 * more than 10 ms slower than at 200 req/s (or fails) saturates the load side: such a step cannot show the gateway
 * coping, so it does not pass, and the result is flagged.
 */
export async function capacity(
  ctx: Ctx,
  peaks: Record<string, PeakArm>,
): Promise<Record<string, Partial<Record<Delay, CapacityResult>>>> {
  const direct = arm(ctx, "direct");
  if (!direct) return {};
  const label = (delay: Delay) => (delay === "fast" ? "0 ms" : "20±5 ms");
  const base: Record<Delay, number> = { fast: Number.NaN, slow: Number.NaN };
  for (const delay of ["fast", "slow"] as const) {
    // The lower of two runs: the load side's own latency when it is not busy, not a passing hiccup.
    const runs = [
      await openStep(ctx, direct, delay, 200, ctx.mode.capacityStepMs),
      await openStep(ctx, direct, delay, 200, ctx.mode.capacityStepMs),
    ];
    base[delay] = Math.min(...runs.map((r) => r.latency.p99));
    ctx.log(
      `capacity: direct p99 at 200 req/s, ${label(delay)} mock: ${fmt(base[delay])} ms (lower of two runs)`,
    );
  }
  const out: Record<string, Partial<Record<Delay, CapacityResult>>> = {};
  for (const id of ctx.mode.capacityArms) {
    const a = arm(ctx, id);
    if (!a || a.unavailable || !a.unary) continue;
    out[id] = {};
    for (const delay of ["fast", "slow"] as const) {
      const hint =
        delay === "slow" ? (out[id].fast?.capacity ?? 0) || (peaks[id]?.rps ?? 0) : (peaks[id]?.rps ?? 0);
      let hi = Math.max(100, Math.round(hint * 1.2));
      let lo = 0;
      const steps: CapacityStep[] = [];
      const test = async (rate: number) => {
        const d = await openStep(ctx, direct, delay, rate, ctx.mode.capacityStepMs);
        const r = await openStep(ctx, a, delay, rate, ctx.mode.capacityStepMs);
        const addedP99 = r.latency.p99 - d.latency.p99;
        const lag = Math.max(r.sendLag?.p99 ?? 0, d.sendLag?.p99 ?? 0);
        const loadSide = d.errors > 0 || d.latency.p99 - base[delay] > SLO_ADDED_P99_MS;
        const lagNote =
          lag > MAX_SEND_LAG_MS ? ` (load generator lagged: send p99 ${lag.toFixed(1)} ms)` : "";
        const why = loadSide
          ? `load side saturated: direct p99 ${fmt(d.latency.p99)} ms${d.errors ? `, ${d.errors} errors` : ""} at this rate`
          : r.errors > 0
            ? `${r.errors} errors (${Object.keys(r.errorKinds).join(", ")})${lagNote}`
            : addedP99 > SLO_ADDED_P99_MS
              ? `p99 added ${addedP99.toFixed(2)} ms > ${SLO_ADDED_P99_MS}${lagNote}`
              : "ok";
        const step: CapacityStep = {
          rate,
          p99: r.latency.p99,
          directP99: d.latency.p99,
          addedP99,
          errors: r.errors,
          errorKinds: r.errorKinds,
          sendLagP99: lag,
          pass: why === "ok",
          why,
        };
        steps.push(step);
        ctx.log(`capacity ${id} ${label(delay)} mock @ ${rate} req/s: ${why}, p99 ${fmt(r.latency.p99)} ms`);
        return step.pass;
      };
      let atLeast = false;
      if (await test(hi)) {
        lo = hi;
        atLeast = true;
      } else {
        for (let k = 0; k < ctx.mode.capacitySteps && hi - lo > Math.max(10, hi * 0.03); k++) {
          const mid = Math.round((lo + hi) / 2);
          if (await test(mid)) lo = mid;
          else hi = mid;
        }
      }
      out[id][delay] = {
        capacity: lo,
        atLeast,
        loadgenBound: steps.some(
          (s) => !s.pass && (s.why.startsWith("load side") || s.why.includes("lagged")),
        ),
        baseP99: base[delay],
        steps,
      };
    }
  }
  return out;
}
