import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import type { LedgerStore, UsageRecord } from "../store/store.ts";
import { checkUsageRecord, MAX_END_USER_ID, MAX_SERVICE_TIER } from "../store/validate.ts";
import { bounded } from "../telemetry/bounded.ts";
import {
  dispatchLine,
  finalLine,
  type JournalEntry,
  parseJournalLine,
  releaseLine,
  settleJournal,
} from "./journal-lines.ts";

export type LedgerWriterLogger = {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
};

export type LedgerWriterOptions = {
  store: LedgerStore;
  /** Append-only journal file; undefined = no crash safety (records wait in memory only). */
  journalPath: string | undefined;
  /** Records per store.record() call; reaching it also triggers a write at once. Default 100. */
  batchSize?: number;
  /** Longest a record waits in memory before a write is attempted. Default 1000 ms. */
  flushIntervalMs?: number;
  /** fdatasync the journal after every line: survives power loss too, at one disk sync per request. */
  fdatasync?: boolean;
  /** Backoff between retries of a failed write: base doubling up to max. Default 100 ms .. 30 s. */
  retry?: { baseMs?: number; maxMs?: number };
  logger?: LedgerWriterLogger;
};

const NOOP_LOGGER: LedgerWriterLogger = { warn: () => {}, error: () => {} };

/** Coerces the counters to what every store accepts, so one bad record can never block the queue forever. */
function sanitize(record: UsageRecord): { record: UsageRecord; fixed: string[] } {
  const fixed: string[] = [];
  const count = (name: string, v: number): number => {
    const n = Number.isFinite(v) ? Math.max(0, Math.round(v)) : 0;
    if (n !== v) fixed.push(name);
    return Math.min(n, Number.MAX_SAFE_INTEGER);
  };
  const time = record.time instanceof Date && !Number.isNaN(record.time.getTime()) ? record.time : new Date();
  if (time !== record.time) fixed.push("time");
  const accuracy = record.accuracy === "exact" ? "exact" : "estimated";
  if (accuracy !== record.accuracy) fixed.push("accuracy");
  const text = (name: string, v: string | null, max: number): string | null => {
    const t = typeof v === "string" ? bounded(v, max) : null;
    if (t !== v) fixed.push(name);
    return t;
  };
  // A part above its whole (one-hour writes above all writes: a provider quirk) is capped to it.
  const cap = (name: string, part: number, whole: number): number => {
    if (part > whole) fixed.push(name);
    return Math.min(part, whole);
  };
  const cacheWriteTokens = count("cacheWriteTokens", record.cacheWriteTokens);
  const clean: UsageRecord = {
    ...record,
    time: new Date(time.getTime()),
    inputTokens: count("inputTokens", record.inputTokens),
    outputTokens: count("outputTokens", record.outputTokens),
    cachedInputTokens: count("cachedInputTokens", record.cachedInputTokens),
    cacheWriteTokens,
    cacheWrite1hTokens: cap(
      "cacheWrite1hTokens",
      count("cacheWrite1hTokens", record.cacheWrite1hTokens),
      cacheWriteTokens,
    ),
    reasoningTokens: count("reasoningTokens", record.reasoningTokens),
    audioInputTokens: count("audioInputTokens", record.audioInputTokens),
    imageInputTokens: count("imageInputTokens", record.imageInputTokens),
    endUserId: text("endUserId", record.endUserId, MAX_END_USER_ID),
    serviceTier: text("serviceTier", record.serviceTier, MAX_SERVICE_TIER),
    costMicroUsd: record.costMicroUsd === null ? null : count("costMicroUsd", record.costMicroUsd),
    accuracy,
    attempts: count("attempts", record.attempts),
    latencyMs: count("latencyMs", record.latencyMs),
    ttftMs: record.ttftMs === null ? null : count("ttftMs", record.ttftMs),
  };
  checkUsageRecord(clean); // what coercion cannot fix (e.g. an empty requestId) throws here
  return { record: clean, fixed };
}

/** What a record journaled before the token classes existed lacks: none of them reported. */
const BEFORE_TOKEN_CLASSES = {
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  reasoningTokens: 0,
  audioInputTokens: 0,
  imageInputTokens: 0,
  endUserId: null,
  serviceTier: null,
} as const;

/** A journaled record back to a checked one (throws for what coercion cannot fix). */
const revive = (raw: UsageRecord & { time: string }): UsageRecord =>
  sanitize({ ...BEFORE_TOKEN_CLASSES, ...raw, time: new Date(raw.time) }).record;

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, "utf8");
  let offset = 0;
  while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
}

/**
 * Writes usage records to the ledger without ever making a request wait for
 * the database. append() journals the record synchronously (one JSON line in
 * an append-only file) and queues it; batches go to the store in the
 * background, retried with backoff until they succeed. Because the store is
 * idempotent by requestId, a retry or a replay never double-counts, and the
 * journal is truncated only once everything in it is confirmed written. After
 * a crash, recover() replays the journal: every appended record ends up in the
 * ledger exactly once. One journal file belongs to one process at a time.
 *
 * A request in flight is journaled too: dispatch() appends the row it would
 * leave if the process died now (status "interrupted", estimated usage) when
 * its first upstream attempt starts; its final record supersedes it. So a
 * kill -9 mid-request still leaves one ledger row per request that reached an
 * upstream. Compaction keeps the dispatch lines still in flight (a rewrite
 * renamed over the journal), and rewrites only once the journal is twice their
 * size, so the rewriting costs at most what was appended.
 */
export class LedgerWriter {
  readonly #store: LedgerStore;
  readonly #batchSize: number;
  readonly #intervalMs: number;
  readonly #sync: boolean;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #logger: LedgerWriterLogger;
  readonly #queue: UsageRecord[] = [];
  #fd: number | undefined;
  #path: string | undefined;
  /** Dispatch lines of requests in flight (request id → line): kept across a compaction. */
  readonly #inFlight = new Map<string, string>();
  #inFlightBytes = 0;
  /** Bytes at the head of the journal left by an earlier process: never truncated before recover() replays them. */
  #unrecovered = 0;
  #journalBytes = 0;
  /** A failed journal write may have left half a line: the next line starts with a newline to isolate it. */
  #journalTorn = false;
  #timer: NodeJS.Timeout | undefined;
  #draining: Promise<void> | undefined;
  #recovery: Promise<number> | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;

  constructor(opts: LedgerWriterOptions) {
    this.#store = opts.store;
    this.#batchSize = Math.max(1, opts.batchSize ?? 100);
    this.#intervalMs = Math.max(0, opts.flushIntervalMs ?? 1000);
    this.#sync = opts.fdatasync ?? false;
    this.#retryBaseMs = Math.max(0, opts.retry?.baseMs ?? 100);
    this.#retryMaxMs = Math.max(this.#retryBaseMs, opts.retry?.maxMs ?? 30_000);
    this.#logger = opts.logger ?? NOOP_LOGGER;
    if (opts.journalPath !== undefined) this.#openJournal(opts.journalPath);
  }

  /** Records queued or being written, not yet confirmed by the store. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Synchronous: journals the record, queues it, and returns. Never waits for the store. */
  append(record: UsageRecord): void {
    if (this.#closed) throw new Error("LedgerWriter is closed");
    let clean: UsageRecord;
    try {
      const result = sanitize(record);
      clean = result.record;
      if (result.fixed.length > 0)
        this.#logger.warn(
          { requestId: record.requestId, fields: result.fixed },
          "usage record fields coerced",
        );
    } catch (error) {
      this.#logger.error(
        { requestId: record.requestId, err: String(error) },
        "usage record dropped: invalid",
      );
      return;
    }
    this.#forget(clean.requestId);
    this.#journal(finalLine(clean), clean.requestId);
    this.#queue.push(clean);
    if (this.#queue.length >= this.#batchSize) void this.#startDrain(false);
    else this.#timer ??= setTimeout(() => void this.#startDrain(), this.#intervalMs).unref();
  }

  /**
   * Synchronous: journals the row a request leaves if the process dies before its final record
   * (an "interrupted" status, estimated usage). Call once, as its first upstream attempt starts;
   * append() of its final record, or release(), supersedes it. Without a journal, a no-op.
   */
  dispatch(record: UsageRecord): void {
    if (this.#fd === undefined || this.#closed) return;
    let clean: UsageRecord;
    try {
      clean = sanitize(record).record;
    } catch (error) {
      this.#logger.error({ requestId: record.requestId, err: String(error) }, "dispatch record dropped");
      return;
    }
    const line = dispatchLine(clean);
    this.#forget(clean.requestId);
    this.#inFlight.set(clean.requestId, line);
    this.#inFlightBytes += Buffer.byteLength(line) + 1;
    this.#journal(line, clean.requestId);
  }

  /** A dispatched request that settles with no ledger row (no upstream was reached after all). */
  release(requestId: string): void {
    if (this.#forget(requestId) && !this.#closed) this.#journal(releaseLine(requestId), requestId);
  }

  /** Resolves once every record appended before the call is in the store (retrying as long as it takes). */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#draining) await this.#startDrain();
  }

  /**
   * Call once at start-up: replays the journal lines an earlier process left
   * (idempotent by requestId) and returns how many were new to the store.
   * Torn or unreadable lines, e.g. the last one written during a crash, are skipped with a warning.
   */
  recover(): Promise<number> {
    this.#recovery ??= this.#replay().finally(() => this.#compactIfIdle());
    return this.#recovery;
  }

  /** Flushes, compacts the journal and closes it. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#recovery) await this.#recovery;
      while (this.#queue.length > 0 || this.#draining) await this.#startDrain();
      // Synchronous from the loop's last check on: no append can slip in before the file is closed.
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#closed = true;
      this.#compactIfIdle();
      if (this.#fd !== undefined) closeSync(this.#fd);
      this.#fd = undefined;
    })();
    return this.#closing;
  }

  #openJournal(path: string): void {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, "a+", 0o600); // usage data: readable by the gateway only
    this.#fd = fd;
    this.#path = path;
    let size = fstatSync(fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      // A crash mid-line left a fragment: end it, or our first line would be glued to it and lost.
      if (last[0] !== 0x0a) {
        writeAll(fd, "\n");
        size += 1;
      }
    }
    this.#unrecovered = size;
    this.#journalBytes = size;
  }

  /** Drops a request's dispatch line from the in-flight set; true when there was one. */
  #forget(requestId: string): boolean {
    const line = this.#inFlight.get(requestId);
    if (line === undefined) return false;
    this.#inFlight.delete(requestId);
    this.#inFlightBytes -= Buffer.byteLength(line) + 1;
    return true;
  }

  #journal(text: string, requestId: string): void {
    if (this.#fd === undefined) return;
    const line = `${this.#journalTorn ? "\n" : ""}${text}\n`;
    try {
      writeAll(this.#fd, line);
      if (this.#sync) fdatasyncSync(this.#fd);
      this.#journalTorn = false;
      this.#journalBytes += Buffer.byteLength(line);
    } catch (error) {
      this.#journalTorn = true;
      this.#logger.error(
        { requestId, err: String(error) },
        "ledger journal write failed: record held in memory only until written",
      );
    }
  }

  /** `all` false: write full batches only, the rest waits for the timer (no trickle of tiny batches). */
  #startDrain(all = true): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#draining ??= this.#drain(all).finally(() => {
      this.#draining = undefined;
      // Records appended while the last batch settled must not wait for another append to be picked up.
      if (this.#queue.length > 0 && !this.#closed)
        this.#timer ??= setTimeout(() => void this.#startDrain(), this.#intervalMs).unref();
    });
    return this.#draining;
  }

  async #drain(all: boolean): Promise<void> {
    while (this.#queue.length >= (all ? 1 : this.#batchSize)) {
      // The batch leaves the queue only once the store confirmed it: a failure keeps it for the retry.
      const batch = this.#queue.slice(0, this.#batchSize);
      await this.#write(batch);
      this.#queue.splice(0, batch.length);
    }
    this.#compactIfIdle();
  }

  /** Retries until the store accepts the batch; idempotency makes a retry after a lost reply harmless. */
  async #write(batch: UsageRecord[]): Promise<{ inserted: number; duplicates: number }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#store.record(batch);
      } catch (error) {
        const delayMs = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** Math.min(attempt - 1, 30));
        const log = { err: String(error), attempt, records: batch.length, retryInMs: delayMs };
        if (attempt < 5) this.#logger.warn(log, "ledger write failed; retrying");
        else this.#logger.error(log, "ledger write still failing; records kept and retried");
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  async #replay(): Promise<number> {
    const fd = this.#fd;
    if (fd === undefined || this.#unrecovered === 0) return 0;
    const bytes = Buffer.alloc(this.#unrecovered);
    let read = 0;
    while (read < bytes.length) {
      const n = readSync(fd, bytes, read, bytes.length - read, read);
      if (n === 0) break;
      read += n;
    }
    const entries: JournalEntry[] = [];
    let skipped = 0;
    for (const line of bytes.subarray(0, read).toString("utf8").split("\n")) {
      if (line.trim() === "") continue;
      const entry = parseJournalLine(line, revive);
      if (entry) entries.push(entry);
      else skipped++;
    }
    if (skipped > 0)
      this.#logger.warn({ skipped }, "ledger journal: skipped unreadable lines (a write torn by a crash)");
    // Requests that were in flight when the earlier process died become "interrupted" rows here.
    const records = settleJournal(entries);
    let replayed = 0;
    for (let i = 0; i < records.length; i += this.#batchSize) {
      replayed += (await this.#write(records.slice(i, i + this.#batchSize))).inserted;
    }
    this.#unrecovered = 0;
    return replayed;
  }

  /**
   * Once every final record in the journal is confirmed written (nothing queued or unreplayed), the
   * journal shrinks to the dispatch lines of requests still in flight: truncated when there are none,
   * else rewritten beside it and renamed over it (atomic: a crash leaves the old or the new file whole).
   */
  #compactIfIdle(): void {
    if (this.#fd === undefined || this.#journalBytes === 0) return;
    if (this.#queue.length > 0 || this.#unrecovered > 0) return;
    try {
      if (this.#inFlight.size === 0) {
        ftruncateSync(this.#fd, 0);
        this.#journalBytes = 0;
        this.#journalTorn = false;
      } else if (this.#journalBytes > 2 * this.#inFlightBytes) this.#rewrite(this.#fd, this.#path!);
    } catch (error) {
      this.#logger.warn({ err: String(error) }, "ledger journal compaction failed; it will be retried");
    }
  }

  #rewrite(oldFd: number, path: string): void {
    const temp = `${path}.compact`;
    const fd = openSync(temp, "w", 0o600);
    let text = "";
    for (const line of this.#inFlight.values()) text += `${line}\n`;
    try {
      writeAll(fd, text);
      if (this.#sync) fdatasyncSync(fd);
      renameSync(temp, path);
    } catch (error) {
      closeSync(fd);
      try {
        unlinkSync(temp);
      } catch {}
      throw error;
    }
    if (this.#sync) syncDirectory(dirname(path));
    this.#fd = fd;
    closeSync(oldFd);
    this.#journalBytes = Buffer.byteLength(text);
    this.#journalTorn = false;
  }
}

/** Makes a rename durable across power loss (the directory entry itself is synced). */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
