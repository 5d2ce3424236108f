/** Latency summary in milliseconds; `n` is the number of samples it was computed from. */
export type Summary = { n: number; p50: number; p90: number; p99: number; max: number; mean: number };

export const EMPTY: Summary = {
  n: 0,
  p50: Number.NaN,
  p90: Number.NaN,
  p99: Number.NaN,
  max: Number.NaN,
  mean: Number.NaN,
};

/** Nearest-rank percentile of an ascending array (q in 0..1). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export function summarize(samples: ArrayLike<number>): Summary {
  if (samples.length === 0) return EMPTY;
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    n: sorted.length,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] as number,
    mean: sum / sorted.length,
  };
}

export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = Math.floor(finite.length / 2);
  return finite.length % 2 === 1
    ? (finite[mid] as number)
    : ((finite[mid - 1] as number) + (finite[mid] as number)) / 2;
}

/** Median of per-round values and their spread (min–max), the form every figure is reported in. */
export type Spread = { median: number; min: number; max: number; rounds: number };

export function spread(values: readonly number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, rounds: 0 };
  return {
    median: median(finite),
    min: Math.min(...finite),
    max: Math.max(...finite),
    rounds: finite.length,
  };
}

/** Collects latencies without unbounded growth: keeps every sample up to `cap`, then a uniform reservoir. */
export class Reservoir {
  readonly #cap: number;
  readonly #samples: number[] = [];
  #seen = 0;

  constructor(cap = 200_000) {
    this.#cap = cap;
  }

  add(value: number): void {
    this.#seen++;
    if (this.#samples.length < this.#cap) this.#samples.push(value);
    else {
      const slot = Math.floor(Math.random() * this.#seen);
      if (slot < this.#cap) this.#samples[slot] = value;
    }
  }

  get seen(): number {
    return this.#seen;
  }

  summary(): Summary {
    return summarize(this.#samples);
  }
}
