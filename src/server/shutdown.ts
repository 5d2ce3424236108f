import { HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { HealthStatus } from "./health.ts";
import type { Listener } from "./listen.ts";

/**
 * Graceful stop, in order: report NOT_SERVING (health watchers learn first),
 * stop accepting, let in-flight calls finish for up to `graceMs`, then abort
 * what is left (connect's shutdown signal) and destroy the connections.
 * `tryShutdown`-style waits can hang on a stuck peer, hence the hard bound.
 */
export async function drain(options: {
  logger: Logger;
  graceMs: number;
  health: HealthStatus;
  listener: Listener;
  inFlight: () => number;
  /** Registers a callback for the moment no request is in flight. */
  onIdle: (wake: () => void) => void;
  force: () => void;
  release: () => Promise<void>;
}): Promise<{ forced: boolean }> {
  const { logger, listener } = options;
  options.health.setAll(Status.NOT_SERVING);
  options.health.close();
  listener.stopAccepting();
  logger.info(
    { inFlight: options.inFlight(), graceMs: options.graceMs },
    "shutting down: draining in-flight calls",
  );

  let timer: NodeJS.Timeout | undefined;
  const drained = new Promise<boolean>((resolve) => {
    if (options.inFlight() === 0) resolve(false);
    options.onIdle(() => resolve(false));
  });
  const graceOver = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), options.graceMs);
  });
  const forced = await Promise.race([drained, graceOver]);
  clearTimeout(timer);
  if (forced) {
    logger.warn({ inFlight: options.inFlight() }, "grace period over: cancelling remaining calls");
    options.force();
    await new Promise((resolve) => setTimeout(resolve, 50)); // let aborted handlers write their status
  }
  listener.destroyAll();
  await listener.closed;
  await options.release();
  logger.info({ forced }, "shutdown complete");
  return { forced };
}
