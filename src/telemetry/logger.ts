import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger };

/**
 * The process logger: one JSON line per event on stdout (or the given
 * destination). Secrets never reach it by construction (Secret values print
 * as "[redacted]", and every line is built from allowlisted fields); the
 * redact list is a second line of defence for header and key fields logged by
 * mistake. It names top-level paths only: wildcard paths cost ~20 µs per line
 * (measured), which is most of a request's logging cost.
 */
export function createLogger(level: string, destination?: DestinationStream | NodeJS.WritableStream): Logger {
  const options = {
    level,
    base: { service: "switchyard" },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        "authorization",
        "apiKey",
        "key",
        "secret",
        "headers.authorization",
        "err.config.headers.authorization",
      ],
      censor: "[redacted]",
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Bytes gathered before a write, and the longest a line waits for company. */
const BATCH_BYTES = 4096;
const FLUSH_MS = 250;

/**
 * The configured destination: "stdout", "stderr", or a file appended to (created if missing).
 * Writes are asynchronous and batched: lines gather up to 4 KiB (or 250 ms, sonic-boom's periodic
 * flush) per write, because one write per request line cost ~100 µs of CPU here (a thread-pool
 * hand-off each). `logger.flush()` at shutdown, and the process's natural exit, let pending lines out.
 */
export function logDestination(where: string): DestinationStream {
  const options = { minLength: BATCH_BYTES, periodicFlush: FLUSH_MS, sync: false };
  if (where === "stdout") return pino.destination({ dest: 1, ...options });
  if (where === "stderr") return pino.destination({ dest: 2, ...options });
  return pino.destination({ dest: where, mkdir: true, append: true, ...options });
}
