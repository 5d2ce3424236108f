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

/**
 * The configured destination: "stdout", "stderr", or a file appended to (created if missing).
 * Writes are asynchronous (no write syscall per request on the hot path); `logger.flush()` at
 * shutdown, and the process's natural exit, let pending lines out.
 */
export function logDestination(where: string): DestinationStream {
  if (where === "stdout") return pino.destination({ dest: 1, sync: false });
  if (where === "stderr") return pino.destination({ dest: 2, sync: false });
  return pino.destination({ dest: where, mkdir: true, append: true, sync: false });
}
