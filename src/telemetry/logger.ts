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
 * Writes are asynchronous and batched: lines gather up to 4 KiB (or 250 ms) per write, because
 * one write per request line cost ~100 µs of CPU here (a thread-pool hand-off each). `logger.flush()`
 * at shutdown, and the process's natural exit, let pending lines out.
 */
export function logDestination(where: string): DestinationStream {
  const options = { minLength: BATCH_BYTES, sync: false };
  const dest =
    where === "stdout"
      ? pino.destination({ dest: 1, ...options })
      : where === "stderr"
        ? pino.destination({ dest: 2, ...options })
        : pino.destination({ dest: where, mkdir: true, append: true, ...options });
  // Flush on a timer only when something was logged since: an idle gateway does no empty writes.
  let dirty = false;
  const write = dest.write.bind(dest);
  dest.write = (line: string) => {
    dirty = true;
    return write(line);
  };
  const timer = setInterval(() => {
    const state = dest as unknown as { destroyed: boolean; fd: number };
    if (!dirty || state.destroyed || state.fd < 0) return; // fd < 0: a log file still opening
    dirty = false;
    dest.flush();
  }, FLUSH_MS).unref();
  dest.on("close", () => clearInterval(timer));
  return dest;
}
