import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { LedgerWriter, type LedgerWriterLogger } from "../../src/metering/ledger-writer.ts";
import { MemoryLedgerStore } from "../../src/store/memory/ledger-store.ts";
import type { LedgerStore, UsageRecord } from "../../src/store/store.ts";
import { makeUsage } from "../store/fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "sy-ledger-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let journals = 0;
const freshJournal = () => join(dir, `journal-${++journals}`, "ledger.jsonl");

const HOUR = 3_600_000;

/** Wraps a store to count and inspect calls, optionally failing the first N of them. */
class SpyStore implements LedgerStore {
  readonly inner = new MemoryLedgerStore();
  readonly batches: string[][] = [];
  failuresLeft: number;
  /** When true, a failing call still commits first (a reply lost after the write). */
  failAfterCommit: boolean;

  constructor(failures = 0, failAfterCommit = false) {
    this.failuresLeft = failures;
    this.failAfterCommit = failAfterCommit;
  }

  async record(records: UsageRecord[]) {
    this.batches.push(records.map((r) => r.requestId));
    if (this.failuresLeft > 0) {
      this.failuresLeft--;
      if (this.failAfterCommit) await this.inner.record(records);
      throw new Error("connection reset");
    }
    return this.inner.record(records);
  }

  spend = (...args: Parameters<LedgerStore["spend"]>) => this.inner.spend(...args);
  get = (id: string) => this.inner.get(id);
}

/** A store whose writes never finish: the database hangs. `release` lets them through to `inner`. */
class HangingStore implements LedgerStore {
  readonly inner = new MemoryLedgerStore();
  calls = 0;
  #gate = Promise.withResolvers<void>();
  release = () => this.#gate.resolve();
  async record(records: UsageRecord[]) {
    this.calls++;
    await this.#gate.promise;
    return this.inner.record(records);
  }
  spend = (...args: Parameters<LedgerStore["spend"]>) => this.inner.spend(...args);
  get = (id: string) => this.inner.get(id);
}

const collectingLogger = () => {
  const lines: { level: string; obj: object; msg: string }[] = [];
  const logger: LedgerWriterLogger = {
    warn: (obj, msg) => lines.push({ level: "warn", obj, msg }),
    error: (obj, msg) => lines.push({ level: "error", obj, msg }),
  };
  return { lines, logger };
};

/** The whole ledger's totals (the per-class sums are the store contract's business). */
const total = async (store: LedgerStore) =>
  (await store.spend({ groupBy: [], since: new Date(0), until: new Date("2100-01-01T00:00:00Z") })).map(
    ({ group, requests, inputTokens, outputTokens, costMicroUsd }) => ({
      group,
      requests,
      inputTokens,
      outputTokens,
      costMicroUsd,
    }),
  );

const journalLines = (path: string) =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l !== "");

const records = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => makeUsage({ requestId: `${prefix}-${i}`, costMicroUsd: 10 }));

test("batches: full batches are written as they fill, the rest on flush; journal compacted after", async () => {
  const store = new SpyStore();
  const journalPath = freshJournal();
  const writer = new LedgerWriter({ store, journalPath, batchSize: 3, flushIntervalMs: HOUR });
  for (const r of records(7, "b")) writer.append(r);
  assert.equal(journalLines(journalPath).length, 7, "every append is journaled before any write completes");
  await writer.flush();
  assert.deepEqual(store.batches, [["b-0", "b-1", "b-2"], ["b-3", "b-4", "b-5"], ["b-6"]]);
  assert.equal(writer.pending, 0);
  assert.deepEqual(await total(store), [
    { group: {}, requests: 7, inputTokens: 70, outputTokens: 140, costMicroUsd: 70 },
  ]);
  assert.equal(readFileSync(journalPath, "utf8"), "", "journal truncated once everything is confirmed");
  await writer.close();
});

test("batches: a partial batch is written when the flush interval elapses (mock clock)", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const store = new SpyStore();
  const writer = new LedgerWriter({ store, journalPath: undefined, batchSize: 100, flushIntervalMs: 5000 });
  writer.append(makeUsage({ requestId: "late-1" }));
  writer.append(makeUsage({ requestId: "late-2" }));
  t.mock.timers.tick(4999);
  await Promise.resolve();
  assert.deepEqual(store.batches, [], "nothing written before the interval");
  t.mock.timers.tick(1);
  await writer.flush();
  assert.deepEqual(store.batches, [["late-1", "late-2"]]);
  await writer.close();
});

test("a store that fails N times then succeeds loses nothing and double-counts nothing", async () => {
  for (const failAfterCommit of [false, true]) {
    const store = new SpyStore(4, failAfterCommit);
    const { lines, logger } = collectingLogger();
    const journalPath = freshJournal();
    const writer = new LedgerWriter({
      store,
      journalPath,
      batchSize: 2,
      flushIntervalMs: HOUR,
      retry: { baseMs: 0, maxMs: 0 },
      logger,
    });
    const appended = records(5, `f${failAfterCommit}`);
    for (const r of appended) writer.append(r);
    await writer.flush();
    assert.equal(store.failuresLeft, 0);
    assert.equal(store.batches.length, 4 + 3, "each failed batch was retried until it went through");
    assert.deepEqual(await total(store), [
      { group: {}, requests: 5, inputTokens: 50, outputTokens: 100, costMicroUsd: 50 },
    ]);
    for (const r of appended) assert.deepEqual(await store.get(r.requestId), r);
    assert.equal(lines.filter((l) => l.msg.includes("retrying")).length, 4);
    assert.equal(readFileSync(journalPath, "utf8"), "");
    await writer.close();
  }
});

test("append returns synchronously and journals while the store hangs; nothing is lost once it recovers", async () => {
  const store = new HangingStore();
  const journalPath = freshJournal();
  const writer = new LedgerWriter({ store, journalPath, batchSize: 2, flushIntervalMs: HOUR });
  for (const r of records(5, "h")) assert.equal(writer.append(r), undefined);
  assert.equal(store.calls, 1, "the first full batch went to the store and is stuck there");
  assert.equal(writer.pending, 5);
  assert.equal(journalLines(journalPath).length, 5);
  store.release();
  await writer.close();
  assert.equal((await total(store))[0]?.requests, 5);
  assert.equal(readFileSync(journalPath, "utf8"), "");
});

test("crash: records appended but never flushed are replayed exactly once by a new writer", async () => {
  const journalPath = freshJournal();
  const store = new SpyStore();
  // First process: some records reach the store, then more are appended and it "crashes" (no flush/close).
  const before = new LedgerWriter({ store, journalPath, batchSize: 100, flushIntervalMs: HOUR });
  for (const r of records(3, "early")) before.append(r);
  await before.flush();
  const dead = new HangingStore(); // its writes never land: the crash happens before the database sees them
  const crashed = new LedgerWriter({ store: dead, journalPath, batchSize: 2, flushIntervalMs: HOUR });
  const lost = records(3, "late");
  for (const r of lost) crashed.append(r);
  assert.equal(dead.calls, 1);

  const restarted = new LedgerWriter({ store, journalPath, batchSize: 2, flushIntervalMs: HOUR });
  assert.equal(await restarted.recover(), 3);
  assert.equal(
    await restarted.recover(),
    3,
    "recover is once per writer; a second call reports the same run",
  );
  for (const r of lost) assert.deepEqual(await store.get(r.requestId), r);
  assert.equal((await total(store))[0]?.requests, 6);
  assert.equal(readFileSync(journalPath, "utf8"), "", "journal compacted after the replay");
  await restarted.close();

  // Replaying a journal whose records already reached the store (crash after commit, before compaction).
  writeFileSync(journalPath, lost.map((r) => `${JSON.stringify(r)}\n`).join(""));
  const again = new LedgerWriter({ store, journalPath, flushIntervalMs: HOUR });
  assert.equal(await again.recover(), 0);
  assert.equal((await total(store))[0]?.requests, 6, "a replay never double-counts");
  await again.close();
});

test("crash: a torn last line is skipped with a warning, and the next line is not glued to it", async () => {
  const journalPath = freshJournal();
  const whole = records(2, "torn");
  const torn = JSON.stringify(makeUsage({ requestId: "torn-partial" })).slice(0, 40);
  const crashed = new LedgerWriter({ store: new HangingStore(), journalPath, flushIntervalMs: HOUR });
  for (const r of whole) crashed.append(r);
  appendFileSync(journalPath, torn); // the crash hit mid-write: no newline

  const store = new SpyStore();
  const { lines, logger } = collectingLogger();
  const writer = new LedgerWriter({ store, journalPath, batchSize: 10, flushIntervalMs: HOUR, logger });
  // appended before recover(): must survive as its own line even though the file ended mid-line
  const fresh = makeUsage({ requestId: "after-restart" });
  writer.append(fresh);
  assert.deepEqual(journalLines(journalPath).slice(-2), [torn, JSON.stringify(fresh)]);
  assert.equal(await writer.recover(), 2);
  assert.deepEqual(
    lines.map((l) => [l.level, l.obj]),
    [["warn", { skipped: 1 }]],
  );
  await writer.flush();
  assert.equal(await store.get("torn-partial"), undefined);
  for (const r of [...whole, fresh]) assert.deepEqual(await store.get(r.requestId), r);
  assert.equal((await total(store))[0]?.requests, 3);
  await writer.close();
});

test("the journal is not compacted before recover() has replayed what an earlier process left", async () => {
  const journalPath = freshJournal();
  const leftover = makeUsage({ requestId: "leftover" });
  const crashed = new LedgerWriter({ store: new HangingStore(), journalPath, flushIntervalMs: HOUR });
  crashed.append(leftover);

  const store = new SpyStore();
  const writer = new LedgerWriter({ store, journalPath, batchSize: 1, flushIntervalMs: HOUR });
  writer.append(makeUsage({ requestId: "new" }));
  await writer.flush();
  assert.ok(journalLines(journalPath).includes(JSON.stringify(leftover)), "unreplayed line kept");
  assert.equal(await writer.recover(), 1);
  assert.equal(readFileSync(journalPath, "utf8"), "");
  await writer.close();
});

test("without a journal, append still queues and flush writes; recover finds nothing", async () => {
  const store = new SpyStore();
  const writer = new LedgerWriter({ store, journalPath: undefined, flushIntervalMs: HOUR });
  writer.append(makeUsage({ requestId: "memory-only" }));
  assert.equal(await writer.recover(), 0);
  await writer.close();
  assert.equal((await store.get("memory-only"))?.requestId, "memory-only");
  assert.throws(() => writer.append(makeUsage()), /closed/);
});

test("a record with fractional or invalid counters is coerced, so it cannot block the queue", async () => {
  const store = new SpyStore();
  const { lines, logger } = collectingLogger();
  const writer = new LedgerWriter({ store, journalPath: freshJournal(), flushIntervalMs: HOUR, logger });
  writer.append(makeUsage({ requestId: "odd", latencyMs: 12.6, inputTokens: Number.NaN, ttftMs: -3 }));
  writer.append(makeUsage({ requestId: "" }));
  await writer.close();
  const odd = await store.get("odd");
  assert.deepEqual([odd?.latencyMs, odd?.inputTokens, odd?.ttftMs], [13, 0, 0]);
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg]),
    [
      ["warn", "usage record fields coerced"],
      ["error", "usage record dropped: invalid"],
    ],
  );
});

test("crash: every token class, the end user and the tier survive a journal replay", async () => {
  const journalPath = freshJournal();
  const record = makeUsage({
    requestId: "classes",
    inputTokens: 900,
    cachedInputTokens: 300,
    cacheWriteTokens: 200,
    cacheWrite1hTokens: 50,
    reasoningTokens: 70,
    audioInputTokens: 11,
    imageInputTokens: 12,
    endUserId: "user-7",
    serviceTier: "flex",
  });
  new LedgerWriter({ store: new HangingStore(), journalPath, flushIntervalMs: HOUR }).append(record);
  const store = new SpyStore();
  const restarted = new LedgerWriter({ store, journalPath, flushIntervalMs: HOUR });
  assert.equal(await restarted.recover(), 1);
  assert.deepEqual(await store.get("classes"), record);
  await restarted.close();
});

test("crash: a journal line written before the token classes existed replays as no class reported", async () => {
  const journalPath = freshJournal();
  const {
    cacheWriteTokens: _w,
    cacheWrite1hTokens: _h,
    reasoningTokens: _r,
    audioInputTokens: _a,
    imageInputTokens: _i,
    endUserId: _u,
    serviceTier: _t,
    ...old
  } = makeUsage({ requestId: "old-format", cachedInputTokens: 4 });
  mkdirSync(dirname(journalPath), { recursive: true });
  writeFileSync(journalPath, `${JSON.stringify(old)}\n`);
  const store = new SpyStore();
  const { lines, logger } = collectingLogger();
  const writer = new LedgerWriter({ store, journalPath, flushIntervalMs: HOUR, logger });
  assert.equal(await writer.recover(), 1);
  assert.deepEqual(
    await store.get("old-format"),
    makeUsage({ requestId: "old-format", cachedInputTokens: 4 }),
  );
  assert.deepEqual(lines, [], "an old line is not a coerced one");
  await writer.close();
});

test("a provider's one-hour cache writes above all writes are capped; an over-long end user id is bounded", async () => {
  const store = new SpyStore();
  const { lines, logger } = collectingLogger();
  const writer = new LedgerWriter({ store, journalPath: freshJournal(), flushIntervalMs: HOUR, logger });
  writer.append(
    makeUsage({ requestId: "quirk", cacheWriteTokens: 5, cacheWrite1hTokens: 9, endUserId: "u".repeat(500) }),
  );
  await writer.close();
  const row = await store.get("quirk");
  assert.deepEqual([row?.cacheWriteTokens, row?.cacheWrite1hTokens], [5, 5]);
  assert.equal(row?.endUserId?.length, 128);
  assert.ok(row?.endUserId?.endsWith("…"), "a cut id says it was cut");
  assert.deepEqual(
    lines.map((l) => [l.msg, (l.obj as { fields?: string[] }).fields]),
    [["usage record fields coerced", ["cacheWrite1hTokens", "endUserId"]]],
  );
});
