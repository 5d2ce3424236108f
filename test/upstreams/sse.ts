// Server side of Server-Sent Events for the HTTP upstream fakes: writes pre-formatted events with an
// optional slow drip, and can cut the connection (no terminator) or hang (stay open, send nothing) after N.
import type { ServerResponse } from "node:http";
import { setTimeout as delay } from "node:timers/promises";

/** One pre-formatted event (e.g. `data: {...}\n\n`) and how many completion tokens it carries. */
export type SseEvent = { text: string; tokens: number };

export type SseOutcome = "completed" | "cut" | "hung" | "aborted";

export type SseWriteOptions = {
  signal: AbortSignal;
  chunkDelayMs?: number | undefined;
  cutAfterEvents?: number | undefined;
  hangAfterEvents?: number | undefined;
  /** Wait this long after the last event before ending the response (the end marker arrives before the end). */
  endDelayMs?: number | undefined;
  /** Called after each event has been handed to the socket. */
  onEvent?: ((event: SseEvent) => void) | undefined;
  /** Called just before the writer destroys the socket itself (so it is not mistaken for a client abort). */
  onCut?: (() => void) | undefined;
};

/** Sleeps unless the signal fires first; resolves false when aborted. */
export async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function writeFlushed(res: ServerResponse, text: string, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(false);
    signal.addEventListener("abort", onAbort, { once: true });
    res.write(text, (err) => {
      signal.removeEventListener("abort", onAbort);
      resolve(!err);
    });
  });
}

/**
 * Writes `events` in order (headers must already be sent). Each write waits until the bytes reach the
 * socket, so a cut after N events delivers exactly N events first. Ends the response when all are written.
 * `events` may be produced as they are written (an async iterable, e.g. from a live engine): the writer
 * pulls the next one only after the previous one went out, and stops pulling when it stops writing.
 */
export async function writeSse(
  res: ServerResponse,
  events: Iterable<SseEvent> | AsyncIterable<SseEvent>,
  opts: SseWriteOptions,
): Promise<SseOutcome> {
  let i = 0;
  for await (const event of events) {
    // Only reached while an event remains: cutting or hanging after the last one is just completing.
    if (opts.cutAfterEvents !== undefined && i >= opts.cutAfterEvents) {
      opts.onCut?.();
      res.socket?.destroy();
      return "cut";
    }
    if (opts.hangAfterEvents !== undefined && i >= opts.hangAfterEvents) return "hung";
    if (i > 0 && !(await sleep(opts.chunkDelayMs ?? 0, opts.signal))) return "aborted";
    if (opts.signal.aborted || !(await writeFlushed(res, event.text, opts.signal))) return "aborted";
    opts.onEvent?.(event);
    i += 1;
  }
  if (!(await sleep(opts.endDelayMs ?? 0, opts.signal))) return "aborted";
  return new Promise((resolve) => {
    const onAbort = (): void => resolve("aborted");
    opts.signal.addEventListener("abort", onAbort, { once: true });
    res.end(() => {
      opts.signal.removeEventListener("abort", onAbort);
      resolve("completed");
    });
  });
}
