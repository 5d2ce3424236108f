import {
  type ClosedJob,
  type LoadResult,
  type OpenJob,
  REFUSED,
  type StreamJob,
  type StreamResult,
} from "./jobs.ts";
import { kindOf, type Ops, opsFor } from "./load-ops.ts";
import { Reservoir } from "./stats.ts";

/** Counts errors by kind, keeping one message per kind. */
class Errors {
  readonly kinds: Record<string, number> = {};
  readonly samples: Record<string, string> = {};
  count = 0;

  add(error: unknown): void {
    const { kind, message } = kindOf(error);
    this.count++;
    this.kinds[kind] = (this.kinds[kind] ?? 0) + 1;
    this.samples[kind] ??= message.slice(0, 300);
  }
}

function result(
  ok: number,
  errors: Errors,
  elapsedMs: number,
  lat: Reservoir,
  errLat: Reservoir,
): LoadResult {
  return {
    ok,
    errors: errors.count,
    errorKinds: errors.kinds,
    errorSamples: errors.samples,
    elapsedMs,
    latency: lat.summary(),
    errorLatency: errLat.summary(),
  };
}

export async function runClosed(job: ClosedJob): Promise<LoadResult> {
  const ops = opsFor(job.target, job.concurrency);
  try {
    // One untimed call per connection first, so connection set-up is not in the figures.
    await Promise.allSettled(Array.from({ length: job.concurrency }, () => ops.unary(job.timeoutMs)));
    const lat = new Reservoir();
    const errLat = new Reservoir();
    const errors = new Errors();
    let ok = 0;
    let started = 0;
    const t0 = performance.now();
    const worker = async () => {
      while (started < job.maxRequests && (started === 0 || performance.now() - t0 < job.durationMs)) {
        started++;
        const s = performance.now();
        try {
          await ops.unary(job.timeoutMs);
          lat.add(performance.now() - s);
          ok++;
        } catch (error) {
          errLat.add(performance.now() - s);
          errors.add(error);
        }
      }
    };
    await Promise.all(Array.from({ length: job.concurrency }, worker));
    return result(ok, errors, performance.now() - t0, lat, errLat);
  } finally {
    await ops.close();
  }
}

export async function runOpen(job: OpenJob): Promise<LoadResult> {
  const ops: Ops = opsFor(job.target, job.connections);
  try {
    await Promise.allSettled(
      Array.from({ length: Math.min(job.connections, 64) }, () => ops.unary(job.timeoutMs)),
    );
    const lat = new Reservoir();
    const errLat = new Reservoir();
    const lag = new Reservoir();
    const refusedLat = new Reservoir();
    const errors = new Errors();
    const interval = 1000 / job.rate;
    const total = Math.max(1, Math.floor(job.durationMs / interval));
    let ok = 0;
    let sent = 0;
    let inFlight = 0;
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      const settle = () => {
        if (sent >= total && inFlight === 0) resolve();
      };
      const tick = () => {
        const now = performance.now();
        const due = Math.min(total, Math.floor((now - t0) / interval) + 1);
        while (sent < due) {
          const scheduled = t0 + sent * interval;
          sent++;
          lag.add(now - scheduled);
          if (inFlight >= job.maxInFlight) {
            errors.add({ code: "overflow", message: `more than ${job.maxInFlight} requests unanswered` });
            continue;
          }
          inFlight++;
          ops.unary(job.timeoutMs).then(
            () => {
              lat.add(performance.now() - scheduled);
              ok++;
              inFlight--;
              settle();
            },
            (error: unknown) => {
              errLat.add(performance.now() - scheduled);
              if (REFUSED.has(kindOf(error).kind)) refusedLat.add(performance.now() - scheduled);
              errors.add(error);
              inFlight--;
              settle();
            },
          );
        }
        if (sent < total) setTimeout(tick, 1);
        else settle();
      };
      tick();
    });
    return {
      ...result(ok, errors, performance.now() - t0, lat, errLat),
      sendLag: lag.summary(),
      refusedLatency: refusedLat.summary(),
    };
  } finally {
    await ops.close();
  }
}

export async function runStreams(job: StreamJob): Promise<StreamResult> {
  const ops = opsFor(job.target, job.concurrency);
  try {
    const lat = new Reservoir();
    const errLat = new Reservoir();
    const ttft = new Reservoir();
    const gap = new Reservoir();
    const errors = new Errors();
    let ok = 0;
    let intact = 0;
    let broken = 0;
    let refused = 0;
    let started = 0;
    const t0 = performance.now();
    const worker = async (i: number) => {
      await new Promise((resolve) => setTimeout(resolve, (job.staggerMs * i) / job.concurrency));
      while (started < job.maxStreams && (started === 0 || performance.now() - t0 < job.durationMs)) {
        started++;
        const s = performance.now();
        try {
          const obs = await ops.stream(job.timeoutMs);
          lat.add(performance.now() - s);
          ok++;
          const first = obs.arrivals[0];
          if (first !== undefined) ttft.add(first - obs.startedAt);
          for (let k = 1; k < obs.arrivals.length; k++)
            gap.add((obs.arrivals[k] as number) - (obs.arrivals[k - 1] as number));
          if (obs.complete && obs.text === job.expectText) intact++;
          else {
            broken++;
            errors.add({
              code: obs.complete ? "out_of_order" : "truncated",
              message: `got ${JSON.stringify(obs.text.slice(0, 120))}`,
            });
          }
        } catch (error) {
          errLat.add(performance.now() - s);
          errors.add(error);
          if (REFUSED.has(kindOf(error).kind)) refused++;
          else broken++;
        }
      }
    };
    await Promise.all(Array.from({ length: job.concurrency }, (_, i) => worker(i)));
    return {
      ...result(ok, errors, performance.now() - t0, lat, errLat),
      ttft: ttft.summary(),
      gap: gap.summary(),
      intact,
      broken,
      refused,
    };
  } finally {
    await ops.close();
  }
}
