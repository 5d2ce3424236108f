import type { Arm } from "./arms.ts";
import type { CapacityResult } from "./capacity.ts";
import type { Mode } from "./context.ts";
import type { LatencyArm, OverloadArm, PeakArm, SoakResult, StreamArm } from "./phases.ts";
import type { Spread } from "./stats.ts";

export type Machine = {
  cpu: string;
  cores: number;
  node: string;
  kernel: string;
  date: string;
  pinned: boolean;
  loadTools: string[];
  /** 1/5/15-minute load averages when the run started. */
  loadAverageAtStart: string;
  /** CPU other processes on the machine used while the bench measured, in % of one core (mean). */
  foreignCpuPercent: number | undefined;
  foreignByPhase: Record<string, number>;
};

export type Results = {
  machine: Machine;
  mode: Mode;
  command: string;
  durationS: number;
  arms: { id: string; label: string; unavailable?: string; streamUnavailable?: string }[];
  notes: string[];
  rssStart: Record<string, number>;
  latency: Record<string, LatencyArm>;
  peak: Record<string, PeakArm>;
  capacity: Record<string, { fast?: CapacityResult; slow?: CapacityResult }>;
  streaming: Record<string, StreamArm>;
  overload: Record<string, OverloadArm>;
  soak: SoakResult | undefined;
  upstreamServed: unknown;
};

const ms = (v: number | undefined, digits = 3) =>
  v === undefined || !Number.isFinite(v) ? "n/a" : v.toFixed(digits);
const sp = (s: Spread | undefined, digits = 3) =>
  !s || !Number.isFinite(s.median)
    ? "n/a"
    : `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0
    ? "n/a"
    : `${(a / b).toFixed(2)}×`;
const mib = (bytes: number | undefined) =>
  bytes === undefined || !Number.isFinite(bytes) ? "n/a" : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const kib = (bytes: number | undefined) =>
  bytes === undefined || !Number.isFinite(bytes) ? "n/a" : `${(bytes / 1024).toFixed(1)} KiB`;
const rps = (v: number | undefined) =>
  v === undefined || !Number.isFinite(v) ? "n/a" : Math.round(v).toString();

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

type Target = { figure: string; target: string; stretch: string; measured: string; met: string };

function verdict(value: number | undefined, target: number, stretch: number, lowerIsBetter: boolean): string {
  if (value === undefined || !Number.isFinite(value)) return "n/a";
  const ok = (limit: number) => (lowerIsBetter ? value <= limit : value >= limit);
  return ok(stretch) ? "met (stretch met)" : ok(target) ? "met" : "not met";
}

function targets(r: Results): Target[] {
  const out: Target[] = [];
  const label = (id: string) => r.arms.find((a) => a.id === id)?.label ?? id;
  for (const id of ["sy-connect", "sy-grpc", "sy-openai"]) {
    const l = r.latency[id];
    const unavailable = r.arms.find((a) => a.id === id)?.unavailable;
    if (unavailable || !l) {
      out.push({
        figure: `${label(id)}: added latency c=1`,
        target: "—",
        stretch: "—",
        measured: "n/a",
        met: `n/a (${unavailable ?? "not measured"})`,
      });
      continue;
    }
    out.push({
      figure: `${label(id)}: added latency p50 at c=1`,
      target: "≤ 0.5 ms",
      stretch: "≤ 0.3 ms",
      measured: `${sp(l.addedP50)} ms`,
      met: verdict(l.addedP50?.median, 0.5, 0.3, true),
    });
    out.push({
      figure: `${label(id)}: added latency p99 at c=1`,
      target: "≤ 1.5 ms",
      stretch: "≤ 1.0 ms",
      measured: `${sp(l.addedP99)} ms`,
      met: verdict(l.addedP99?.median, 1.5, 1.0, true),
    });
    const bare = r.latency.bare?.cpuUsPerReq?.median;
    const cpu = l.cpuUsPerReq?.median;
    const x = cpu !== undefined && bare ? cpu / bare : undefined;
    out.push({
      figure: `${label(id)}: CPU per unary request vs bare proxy`,
      target: "≤ 1.3×",
      stretch: "≤ 1.15×",
      measured: `${ms(cpu, 0)} µs vs ${ms(bare, 0)} µs = ${ratio(cpu, bare)}`,
      met: verdict(x, 1.3, 1.15, true),
    });
  }
  const sy = r.capacity["sy-connect"]?.fast;
  const pk = r.capacity.portkey?.fast;
  const pkNa = r.arms.find((a) => a.id === "portkey")?.unavailable;
  const capRatio = sy && pk && pk.capacity > 0 ? sy.capacity / pk.capacity : undefined;
  out.push({
    figure: "Throughput vs Portkey: capacity (p99 added ≤ 10 ms, no errors), 0 ms mock, Connect",
    target: "≥ 6×",
    stretch: "≥ 10×",
    measured: pkNa
      ? "n/a"
      : `${rps(sy?.capacity)}${sy?.atLeast ? "+" : ""} vs ${rps(pk?.capacity)}${pk?.atLeast ? "+" : ""} req/s = ${ratio(sy?.capacity, pk?.capacity)}`,
    met: pkNa ? `n/a (${pkNa})` : verdict(capRatio, 6, 10, false),
  });
  const syPeak = r.peak["sy-connect"]?.rps;
  const pkPeak = r.peak.portkey?.rps;
  out.push({
    figure: "Throughput vs Portkey: peak (closed loop), Connect",
    target: "≥ 6×",
    stretch: "≥ 10×",
    measured: pkNa ? "n/a" : `${rps(syPeak)} vs ${rps(pkPeak)} req/s = ${ratio(syPeak, pkPeak)}`,
    met: pkNa
      ? `n/a (${pkNa})`
      : verdict(syPeak !== undefined && pkPeak ? syPeak / pkPeak : undefined, 6, 10, false),
  });
  out.push(...streamingTargets(r, label), ...memoryTargets(r));
  return out;
}

function streamingTargets(r: Results, label: (id: string) => string): Target[] {
  const out: Target[] = [];
  for (const id of ["sy-connect", "sy-grpc", "sy-openai"]) {
    const s = r.streaming[id];
    if (!s) continue;
    const refused = s.refused ? `, ${s.refused} refused at start (shed)` : "";
    out.push(
      {
        figure: `${label(id)}: streaming added TTFT p50 (${s.concurrency} streams)`,
        target: "≤ 1 ms",
        stretch: "—",
        measured: `${ms(s.addedTtftP50)} ms`,
        met: verdict(s.addedTtftP50, 1, 1, true).replace(" (stretch met)", ""),
      },
      {
        figure: `${label(id)}: per-chunk added gap p99`,
        target: "≤ 100 µs",
        stretch: "≤ 30 µs",
        measured: `${ms(s.addedGapP99 === undefined ? undefined : s.addedGapP99 * 1000, 0)} µs`,
        met: verdict(s.addedGapP99, 0.1, 0.03, true),
      },
      {
        figure: `${label(id)}: lost or merged frames (streams not intact)`,
        target: "0",
        stretch: "—",
        measured: `${s.broken} of ${s.streams - s.refused} streams${refused}`,
        met: s.broken === 0 ? "met" : "not met",
      },
      {
        figure: `${label(id)}: RSS per open stream`,
        target: "≤ 40 KB",
        stretch: "≤ 25 KB",
        measured: kib(s.rssPerStream),
        met: verdict(s.rssPerStream, 40_000, 25_000, true),
      },
    );
  }
  return out;
}

function memoryTargets(r: Results): Target[] {
  const out: Target[] = [];
  const s = r.soak;
  out.push({
    figure: "Soak at half capacity: RSS growth",
    target: "≤ +10 %",
    stretch: "—",
    measured: s
      ? `${s.minutes} min: ${mib(s.rssBefore)} → ${mib(s.rssAfter)} (${(((s.rssAfter - s.rssBefore) / s.rssBefore) * 100).toFixed(1)} %), ${s.errors} errors`
      : "not run (--soak MINUTES)",
    met: s ? (s.rssAfter <= s.rssBefore * 1.1 && s.errors === 0 ? "met" : "not met") : "n/a",
  });
  const o = r.overload["sy-connect"];
  if (o) {
    out.push(
      {
        figure: `At 2× capacity (${rps(o.rate)} req/s): refusals (429) answered in`,
        target: "< 5 ms",
        stretch: "—",
        measured: o.refused
          ? `${o.refused} refused, p50 ${ms(o.refusedLatency?.p50)} / p99 ${ms(o.refusedLatency?.p99)} ms`
          : "none refused",
        met: o.refused
          ? verdict(o.refusedLatency?.p99, 5, 5, true).replace(" (stretch met)", "")
          : "not met (no shedding)",
      },
      {
        figure: "At 2× capacity: keeps serving",
        target: "serves during and after, no crash",
        stretch: "—",
        measured: `${o.ok} served (p50 ${ms(o.latency.p50)} / p99 ${ms(o.latency.p99)} ms), alive after: ${o.aliveAfter ? "yes" : "no"}, serves after: ${o.servesAfter ? `yes (20 in a row within ${ms(o.recoveredMs, 0)} ms)` : "no (10 s)"}`,
        met: o.ok > 0 && o.aliveAfter && o.servesAfter ? "met" : "not met",
      },
    );
  }
  return out;
}

export function markdown(r: Results): string {
  const label = (id: string) => r.arms.find((a) => a.id === id)?.label ?? id;
  const na = r.arms.filter((a) => a.unavailable || a.streamUnavailable);
  const m = r.machine;
  const parts: string[] = [];
  parts.push(`# Benchmarks

Written by \`${r.command}\` (${r.mode.name} mode, ${r.durationS.toFixed(0)} s). See [bench/README.md](bench/README.md) for
what each arm and figure means. Every figure is measured in this one run, next to its baseline from the same run.

**Machine:** ${m.cpu}, ${m.cores} cores, Node ${m.node}, Linux ${m.kernel}, ${m.date}.
Gateways ${m.pinned ? "pinned to core 1, load generator, fake upstreams and the bench itself to core 0 (taskset)" : "not pinned (taskset unavailable)"}.
Load: ${m.loadTools.join("; ")}.
Other processes on the machine: load average ${m.loadAverageAtStart} at the start; while the bench measured, processes not
started by it used ${ms(m.foreignCpuPercent, 0)} % of one core on average (${Object.entries(m.foreignByPhase)
    .map(([k, v]) => `${k} ${v.toFixed(0)} %`)
    .join(", ")}); figures are noisier the higher this is.
Mode: ${r.mode.rounds} rounds of ${r.mode.roundMs} ms per arm after a ${r.mode.warmMs} ms warm-up;
figures are the median of the round medians with the spread (min–max of the round values) in brackets.`);

  parts.push(
    `## Targets (Switchyard with all features on)\n\n${table(
      ["figure", "target", "stretch", "measured", "verdict"],
      targets(r).map((t) => [t.figure, t.target, t.stretch, t.measured, t.met]),
    )}`,
  );

  const direct = r.latency.direct;
  parts.push(`## Latency at concurrency 1 (0 ms mock)

Added latency = arm minus its baseline (direct to the same fake upstream), per round. × baseline compares the arm's p50 with
its baseline's p50.

${table(
  ["arm", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms", "p50 × baseline", "errors"],
  r.arms.map((a) => {
    const l = r.latency[a.id];
    if (!l) return [a.label, "n/a", "n/a", "n/a", "n/a", "n/a", a.unavailable ?? "not measured"];
    const base = a.id === "sy-kserve" ? r.latency["direct-kserve"] : direct;
    return [
      a.label,
      sp(l.p50),
      sp(l.p99),
      sp(l.addedP50),
      sp(l.addedP99),
      a.id === "direct" || a.id === "direct-kserve" ? "baseline" : ratio(l.p50.median, base?.p50.median),
      String(l.errors),
    ];
  }),
)}`);

  const bareCpu = r.latency.bare?.cpuUsPerReq?.median;
  parts.push(`## CPU per request (gateway process, /proc/<pid>/stat utime+stime ÷ requests)

At concurrency 1 in the latency rounds (per round, load-independent), and during the peak-throughput run (batched under load).
Resolution is one clock tick (10 ms) per round, about ${r.mode.name === "quick" ? "1–3" : "0.3–1"} % here.

${table(
  ["arm", "µs/request at c=1", "× bare proxy", `µs/request at c=${r.mode.peakConcurrency}`, "× bare proxy"],
  r.arms
    .filter((a) => r.latency[a.id]?.cpuUsPerReq)
    .map((a) => {
      const c = r.latency[a.id]?.cpuUsPerReq;
      const p = r.peak[a.id]?.cpuUsPerReq;
      return [a.label, sp(c, 1), ratio(c?.median, bareCpu), ms(p, 1), ratio(p, r.peak.bare?.cpuUsPerReq)];
    }),
)}`);

  parts.push(`## Peak throughput (closed loop, c=${r.mode.peakConcurrency}, 0 ms mock, ${r.mode.peakMs} ms)

Gateway CPU near 100 % means the gateway's core was the limit; well below it, the load generator (sharing core 0 with the fake
upstream) was.

${table(
  ["arm", "req/s", "× bare proxy", "× Portkey", "p50 ms", "p99 ms", "gateway CPU %", "errors", "tool"],
  r.arms
    .filter((a) => r.peak[a.id])
    .map((a) => {
      const p = r.peak[a.id] as PeakArm;
      return [
        a.label,
        rps(p.rps),
        ratio(p.rps, r.peak.bare?.rps),
        ratio(p.rps, r.peak.portkey?.rps),
        ms(p.latency.p50),
        ms(p.latency.p99),
        ms(p.gatewayCpuPercent, 0),
        String(p.errors),
        p.tool,
      ];
    }),
)}`);

  const capCell = (c: CapacityResult | undefined) =>
    !c ? "not measured" : `${rps(c.capacity)}${c.atLeast ? "+" : ""}${c.loadgenBound ? " ‡" : ""}`;
  parts.push(`## Capacity (highest open-loop rate with p99 added ≤ 10 ms and zero errors)

Each step runs the direct arm at the same rate just before the arm: added p99 = the arm's p99 minus that paired p99.
Latency counts from each request's scheduled send time (no coordinated omission). A rate at which the direct arm
itself is more than 10 ms slower than at 200 req/s (lower of two runs: ${ms(Object.values(r.capacity)[0]?.fast?.baseP99)} ms at 0 ms,
${ms(Object.values(r.capacity)[0]?.slow?.baseP99)} ms at 20±5 ms) means the load side (generator and fake upstream on
core 0) is saturated: such a step does not pass. Search: 1.2 × the arm's peak throughput first, then
${r.mode.capacitySteps} bisection steps of ${r.mode.capacityStepMs} ms; "+" = the top passed, so the capacity is at
least that; ‡ = some failing step was (also) the load side's doing — saturated, or the generator sent late (send-lag
p99 > 5 ms) — so the gateway's own limit may be higher.

${table(
  ["arm", "0 ms mock req/s", "× bare proxy", "× Portkey", "20±5 ms mock req/s", "× bare proxy", "× Portkey"],
  r.arms
    .filter((a) => r.mode.capacityArms.includes(a.id))
    .map((a) => {
      const c = r.capacity[a.id];
      return [
        a.label,
        capCell(c?.fast),
        ratio(c?.fast?.capacity, r.capacity.bare?.fast?.capacity),
        ratio(c?.fast?.capacity, r.capacity.portkey?.fast?.capacity),
        capCell(c?.slow),
        ratio(c?.slow?.capacity, r.capacity.bare?.slow?.capacity),
        ratio(c?.slow?.capacity, r.capacity.portkey?.slow?.capacity),
      ];
    }),
)}`);

  const ds = r.streaming.direct;
  parts.push(`## Streaming (${r.mode.streams} concurrent streams, 10 chunks 50 ms apart, ${r.mode.streamMs} ms)

Added = arm minus direct at the same concurrency. Intact = every chunk arrived complete and in order and the stream ended
properly. RSS per open stream = (peak RSS during the run − RSS just before) ÷ concurrent streams.

${table(
  [
    "arm",
    "TTFT p50 / p99 ms",
    "added TTFT p50 / p99 ms",
    "gap p50 / p99 ms",
    "added gap p50 / p99 ms",
    "TTFT p50 × direct",
    "intact",
    "refused at start (shed)",
    "errors",
    "RSS per open stream",
  ],
  r.arms
    .filter((a) => r.streaming[a.id] || a.streamUnavailable)
    .map((a) => {
      const s = r.streaming[a.id];
      if (!s) return [a.label, "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a (see below)", "n/a"];
      return [
        a.label,
        `${ms(s.ttft.p50)} / ${ms(s.ttft.p99)}`,
        a.id === "direct" ? "baseline" : `${ms(s.addedTtftP50)} / ${ms(s.addedTtftP99)}`,
        `${ms(s.gap.p50)} / ${ms(s.gap.p99)}`,
        a.id === "direct" ? "baseline" : `${ms(s.addedGapP50)} / ${ms(s.addedGapP99)}`,
        a.id === "direct" ? "baseline" : ratio(s.ttft.p50, ds?.ttft.p50),
        `${s.intact}/${s.streams - (s.refused ?? 0)}`,
        String(s.refused ?? 0),
        s.errors ? JSON.stringify(s.errorKinds) : "0",
        kib(s.rssPerStream),
      ];
    }),
)}`);

  const bareRss = r.rssStart.bare;
  parts.push(`## Memory (RSS)

${table(
  [
    "process",
    "RSS after start-up",
    "× bare proxy",
    "RSS idle before streams",
    "peak RSS during streams",
    "per open stream",
  ],
  Object.entries(r.rssStart).map(([id, rss]) => {
    const s = Object.entries(r.streaming).find(([sid]) => sid === id)?.[1];
    return [label(id), mib(rss), ratio(rss, bareRss), mib(s?.rssIdle), mib(s?.rssPeak), kib(s?.rssPerStream)];
  }),
)}`);

  parts.push(`## At 2× capacity (open loop, 0 ms mock, ${r.mode.overloadMs} ms, 5 s client timeout)

Offered rate = 2 × the larger of the arm's capacity and its peak throughput, from at most 512 connections; the
generator queues what it cannot send (it does not honour retry-after-ms). Latencies count from each request's scheduled
send time, so they include that queue. Refused = answered 429 / RESOURCE_EXHAUSTED (load shedding).

${
  Object.keys(r.overload).length === 0
    ? "Not measured."
    : table(
        [
          "arm",
          "offered req/s",
          "ok",
          "refused (429)",
          "refusal p50 / p99 ms",
          "other errors",
          "p50 / p99 ms (ok)",
          "gateway CPU %",
          "alive after",
          "serves after",
          "RSS after",
        ],
        Object.entries(r.overload).map(([id, o]) => [
          label(id),
          rps(o.rate),
          String(o.ok),
          String(o.refused ?? 0),
          o.refused ? `${ms(o.refusedLatency?.p50)} / ${ms(o.refusedLatency?.p99)}` : "n/a",
          o.errors - (o.refused ?? 0)
            ? `${o.errors - (o.refused ?? 0)} ${JSON.stringify(o.errorKinds)}`
            : "0",
          `${ms(o.latency.p50)} / ${ms(o.latency.p99)}`,
          ms(o.gatewayCpuPercent, 0),
          o.aliveAfter ? "yes" : "NO (crashed)",
          o.servesAfter ? `yes, in ${ms(o.recoveredMs, 0)} ms` : "no (10 s)",
          mib(o.rssAfter),
        ]),
      )
}`);

  parts.push(
    `## Soak\n\n${
      r.soak
        ? `${r.soak.minutes} min at ${rps(r.soak.rate)} req/s (half the 0 ms capacity) on ${label("sy-connect")}: ${r.soak.ok} ok, ` +
          `${r.soak.errors} errors; RSS ${mib(r.soak.rssBefore)} before, ${mib(r.soak.rssAfter)} after ` +
          `(each minute: ${r.soak.rssEachMinute.map((b) => mib(b)).join(", ")}).`
        : "Not run (`npm run bench -- --soak MINUTES`)."
    }`,
  );

  parts.push(
    `## Not available in this run\n\n${
      na.length === 0
        ? "Every arm ran."
        : na
            .map((a) => `- **${a.label}**: ${a.unavailable ?? `streaming n/a: ${a.streamUnavailable}`}`)
            .join("\n")
    }`,
  );

  if (r.notes.length > 0) parts.push(`## Notes\n\n${r.notes.map((n) => `- ${n}`).join("\n")}`);
  return `${parts.join("\n\n")}\n`;
}

export function armList(arms: Arm[]): Results["arms"] {
  return arms.map((a) => ({
    id: a.id,
    label: a.label,
    ...(a.unavailable ? { unavailable: a.unavailable } : {}),
    ...(a.streamUnavailable ? { streamUnavailable: a.streamUnavailable } : {}),
  }));
}
