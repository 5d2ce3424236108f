import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { INTERRUPTED_STATUS } from "../../src/metering/journal-lines.ts";
import { LedgerWriter } from "../../src/metering/ledger-writer.ts";
import { MemoryLedgerStore } from "../../src/store/memory/ledger-store.ts";
import type { LedgerStore, UsageRecord } from "../../src/store/store.ts";
import { makeUsage } from "../store/fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "sy-dispatch-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let journals = 0;
const freshJournal = () => join(dir, `journal-${++journals}`, "ledger.jsonl");
const HOUR = 3_600_000;

/** A store whose writes never land: the process dies before the database sees them. */
const deadStore = (): LedgerStore => ({
  record: () => new Promise(() => {}),
  spend: async () => [],
  get: async () => undefined,
});

const lines = (path: string) =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l !== "");

/** What a request in flight would journal: status interrupted, estimated usage. */
const dispatchOf = (requestId: string): UsageRecord =>
  makeUsage({
    requestId,
    status: INTERRUPTED_STATUS,
    accuracy: "estimated",
    inputTokens: 7,
    outputTokens: 512,
    costMicroUsd: 1031,
    latencyMs: 0,
    ttftMs: null,
    attempts: 1,
  });

async function rows(store: LedgerStore): Promise<number> {
  const [total] = await store.spend({ groupBy: [], since: new Date(0), until: new Date("2100-01-01Z") });
  return total?.requests ?? 0;
}

test("crash: a dispatch with no final record becomes one interrupted row; finals and releases supersede it", async () => {
  const journalPath = freshJournal();
  const crashed = new LedgerWriter({ store: deadStore(), journalPath, flushIntervalMs: HOUR });
  const finished = makeUsage({ requestId: "finished", status: "ok", accuracy: "exact" });
  for (const id of ["finished", "in-flight", "never-reached"]) crashed.dispatch(dispatchOf(id));
  crashed.append(finished);
  crashed.release("never-reached");
  // no flush, no close: the process is killed here

  const store = new MemoryLedgerStore();
  const restarted = new LedgerWriter({ store, journalPath, flushIntervalMs: HOUR });
  assert.equal(await restarted.recover(), 2);
  assert.deepEqual(await store.get("finished"), finished, "the final record wins over its dispatch");
  assert.deepEqual(await store.get("in-flight"), dispatchOf("in-flight"));
  assert.equal(await store.get("never-reached"), undefined, "a released dispatch leaves no row");
  assert.equal(await rows(store), 2);
  assert.equal(readFileSync(journalPath, "utf8"), "", "journal compacted after the replay");
  await restarted.close();
});

test("crash: replaying the same journal twice, or after the final reached the store, adds no row", async () => {
  const journalPath = freshJournal();
  const crashed = new LedgerWriter({ store: deadStore(), journalPath, flushIntervalMs: HOUR });
  crashed.dispatch(dispatchOf("twice"));
  crashed.dispatch(dispatchOf("stored"));
  const saved = readFileSync(journalPath, "utf8");

  const store = new MemoryLedgerStore();
  const final = makeUsage({ requestId: "stored", status: "ok" });
  await store.record([final]); // its final line was torn by the crash, but the store already had it
  const first = new LedgerWriter({ store, journalPath, flushIntervalMs: HOUR });
  assert.equal(await first.recover(), 1, "only the request the store did not know is new");
  await first.close();
  appendFileSync(journalPath, saved); // a crash after the replay's write, before the journal shrank
  const second = new LedgerWriter({ store, journalPath, flushIntervalMs: HOUR });
  assert.equal(await second.recover(), 0);
  await second.close();
  assert.deepEqual(await store.get("stored"), final, "never overwritten by an interrupted row");
  assert.equal((await store.get("twice"))?.status, INTERRUPTED_STATUS);
  assert.equal(await rows(store), 2);
});

test("compaction keeps the dispatch lines of requests still in flight, and only those", async () => {
  const journalPath = freshJournal();
  const store = new MemoryLedgerStore();
  const writer = new LedgerWriter({ store, journalPath, batchSize: 100, flushIntervalMs: HOUR });
  writer.dispatch(dispatchOf("long-stream"));
  for (let i = 0; i < 20; i++) {
    writer.dispatch(dispatchOf(`short-${i}`));
    writer.append(makeUsage({ requestId: `short-${i}` }));
  }
  await writer.flush();
  assert.deepEqual(
    lines(journalPath),
    [JSON.stringify({ dispatched: dispatchOf("long-stream") })],
    "the settled requests are gone from the journal; the one in flight is kept",
  );
  // The process dies now: the long stream still gets its row.
  const restarted = new LedgerWriter({ store, journalPath, flushIntervalMs: HOUR });
  assert.equal(await restarted.recover(), 1);
  assert.equal((await store.get("long-stream"))?.status, INTERRUPTED_STATUS);
  assert.equal(await rows(store), 21);
  await restarted.close();
});

test("a request that settles after a compaction leaves the journal empty once written", async () => {
  const journalPath = freshJournal();
  const store = new MemoryLedgerStore();
  const writer = new LedgerWriter({ store, journalPath, batchSize: 100, flushIntervalMs: HOUR });
  writer.dispatch(dispatchOf("slow"));
  for (let i = 0; i < 5; i++) writer.append(makeUsage({ requestId: `fast-${i}` }));
  await writer.flush();
  assert.equal(lines(journalPath).length, 1);
  const final = makeUsage({ requestId: "slow", status: "ok" });
  writer.append(final);
  await writer.flush();
  assert.equal(readFileSync(journalPath, "utf8"), "");
  assert.deepEqual(await store.get("slow"), final);
  await writer.close();
});

test("without a journal, dispatch and release are no-ops", async () => {
  const store = new MemoryLedgerStore();
  const writer = new LedgerWriter({ store, journalPath: undefined, flushIntervalMs: HOUR });
  writer.dispatch(dispatchOf("memory-only"));
  writer.release("memory-only");
  await writer.close();
  assert.equal(await rows(store), 0);
});
