import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import type { LedgerStore, UsageRecord } from "../store/store.ts";
import { checkUsageRecord } from "../store/validate.ts";

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
  const clean: UsageRecord = {
    ...record,
    time: new Date(time.getTime()),
    inputTokens: count("inputTokens", record.inputTokens),
    outputTokens: count("outputTokens", record.outputTokens),
    cachedInputTokens: count("cachedInputTokens", record.cachedInputTokens),
    costMicroUsd: record.costMicroUsd === null ? null : count("costMicroUsd", record.costMicroUsd),
    accuracy,
    attempts: count("attempts", record.attempts),
    latencyMs: count("latencyMs", record.latencyMs),
    ttftMs: record.ttftMs === null ? null : count("ttftMs", record.ttftMs),
  };
  checkUsageRecord(clean); // what coercion cannot fix (e.g. an empty requestId) throws here
  return { record: clean, fixed };
}

/** One journal line back to a record; undefined for a torn or foreign line. */
function parseLine(line: string): UsageRecord | undefined {
  try {
    const raw = JSON.parse(line) as UsageRecord & { time: string };
    if (typeof raw !== "object" || raw === null || typeof raw.requestId !== "string") return undefined;
    return sanitize({ ...raw, time: new Date(raw.time) }).record;
  } catch {
    return undefined;
  }
}

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
    this.#journal(clean);
    this.#queue.push(clean);
    if (this.#queue.length >= this.#batchSize) void this.#startDrain(false);
    else this.#timer ??= setTimeout(() => void this.#startDrain(), this.#intervalMs).unref();
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

  #journal(record: UsageRecord): void {
    if (this.#fd === undefined) return;
    const line = `${this.#journalTorn ? "\n" : ""}${JSON.stringify(record)}\n`;
    try {
      writeAll(this.#fd, line);
      if (this.#sync) fdatasyncSync(this.#fd);
      this.#journalTorn = false;
      this.#journalBytes += Buffer.byteLength(line);
    } catch (error) {
      this.#journalTorn = true;
      this.#logger.error(
        { requestId: record.requestId, err: String(error) },
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
    const records: UsageRecord[] = [];
    let skipped = 0;
    for (const line of bytes.subarray(0, read).toString("utf8").split("\n")) {
      if (line.trim() === "") continue;
      const record = parseLine(line);
      if (record) records.push(record);
      else skipped++;
    }
    if (skipped > 0)
      this.#logger.warn({ skipped }, "ledger journal: skipped unreadable lines (a write torn by a crash)");
    let replayed = 0;
    for (let i = 0; i < records.length; i += this.#batchSize) {
      replayed += (await this.#write(records.slice(i, i + this.#batchSize))).inserted;
    }
    this.#unrecovered = 0;
    return replayed;
  }

  /** Truncates the journal when everything in it is confirmed written: nothing queued, in flight or unreplayed. */
  #compactIfIdle(): void {
    if (this.#fd === undefined || this.#journalBytes === 0) return;
    if (this.#queue.length > 0 || this.#unrecovered > 0) return;
    try {
      ftruncateSync(this.#fd, 0);
      this.#journalBytes = 0;
      this.#journalTorn = false;
    } catch (error) {
      this.#logger.warn({ err: String(error) }, "ledger journal truncation failed; it will be retried");
    }
  }
}
