import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger };

/**
 * The process logger: one JSON line per event on stdout (or the given
 * destination). Secrets never reach it by construction (Secret values print
 * as "[redacted]"); the redact list is a second line of defence for header
 * and key fields that might be logged by mistake.
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
        "*.authorization",
        "*.apiKey",
        "*.headers.authorization",
        "headers.authorization",
        "*.key",
      ],
      censor: "[redacted]",
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** The configured destination: "stdout", "stderr", or a file appended to (created if missing). */
export function logDestination(where: string): DestinationStream {
  if (where === "stdout") return pino.destination(1);
  if (where === "stderr") return pino.destination(2);
  return pino.destination({ dest: where, mkdir: true, append: true, sync: false });
}
