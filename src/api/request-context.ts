import type { MeteredUsage } from "../metering/meter.ts";
import type { Logger } from "../telemetry/logger.ts";

export type AttemptRecord = {
  backend: string;
  model: string;
  outcome: "success" | "failed" | "failed_after_commit";
  errorKind: string | undefined;
  error: string | undefined;
  durationMs: number;
};

/** Why the request went where it went: feeds trailers, the final event, the log line (and later spans and audit). */
export type Decision = {
  route: string;
  /** The route variant whose conditions matched, if any. */
  variant: string | undefined;
  strategy: string;
  /** Targets skipped without an attempt, with why. */
  skipped: { backend: string; model: string; reason: string }[];
  attempts: AttemptRecord[];
  servedBy: { backend: string; model: string } | undefined;
  committed: boolean;
};

export type RequestContext = {
  id: string;
  /** Who is calling; undefined until access control is configured. */
  principal: { keyId: string; team: string | undefined } | undefined;
  operation: "generate" | "generate_stream" | "embed" | "list_models";
  workload: string;
  /** Caller cancel (and the caller's own deadline, as connect enforces it). */
  signal: AbortSignal;
  /** The caller's timeout in ms, if it sent one. */
  callerTimeoutMs: number | undefined;
  startedAt: number;
  logger: Logger;
  decision: Decision;
  /** Settled by the pipeline once an upstream was reached (partial on failure). */
  usage: MeteredUsage | undefined;
};

export function newDecision(): Decision {
  return {
    route: "",
    variant: undefined,
    strategy: "",
    skipped: [],
    attempts: [],
    servedBy: undefined,
    committed: false,
  };
}
