import type { Arm } from "./arms.ts";
import type { LoadGenerator } from "./loadgen-client.ts";

/** Durations and sizes of one mode (--quick or full). */
export type Mode = {
  name: "quick" | "full";
  rounds: number;
  warmMs: number;
  roundMs: number;
  peakMs: number;
  peakConcurrency: number;
  capacityStepMs: number;
  capacitySteps: number;
  streams: number;
  streamMs: number;
  overloadMs: number;
  /** Arms whose capacity is searched (ids); the rest are reported as not measured in this mode. */
  capacityArms: string[];
  overloadArms: string[];
};

export const MODES: Record<"quick" | "full", Mode> = {
  quick: {
    name: "quick",
    rounds: 3,
    warmMs: 300,
    roundMs: 600,
    peakMs: 1000,
    peakConcurrency: 32,
    capacityStepMs: 800,
    capacitySteps: 3,
    streams: 200,
    streamMs: 1500,
    overloadMs: 2000,
    capacityArms: ["bare", "sy-connect", "portkey"],
    overloadArms: ["sy-connect"],
  },
  full: {
    name: "full",
    rounds: 6,
    warmMs: 2000,
    roundMs: 3000,
    peakMs: 4000,
    peakConcurrency: 32,
    capacityStepMs: 3000,
    capacitySteps: 5,
    streams: 1000,
    streamMs: 6000,
    overloadMs: 10_000,
    capacityArms: ["bare", "sy-connect", "sy-grpc", "sy-openai", "portkey"],
    overloadArms: ["bare", "sy-connect", "portkey"],
  },
};

export type Ctx = {
  mode: Mode;
  lg: LoadGenerator;
  arms: Arm[];
  log(line: string): void;
  /** Request timeout for every load job. */
  timeoutMs: number;
};

export function arm(ctx: Ctx, id: string): Arm | undefined {
  return ctx.arms.find((a) => a.id === id);
}
