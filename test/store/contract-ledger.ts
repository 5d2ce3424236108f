import assert from "node:assert/strict";
import { test } from "node:test";
import { INTERRUPTED_STATUS } from "../../src/metering/journal-lines.ts";
import type { SpendQuery, SpendRow, Store, UsageRecord } from "../../src/store/store.ts";
import type { WithStore } from "./contract.ts";
import { makeUsage } from "./fixtures.ts";

const SINCE = new Date("2025-01-01T00:00:00.000Z");
const UNTIL = new Date("2025-02-01T00:00:00.000Z");

/**
 * Six records over two UTC days. r5 is 01:30 on Jan 11 in UTC+02:00 but
 * 23:30 on Jan 10 in UTC: day grouping must use the UTC date. r6 is unpriced.
 */
function dataset(): UsageRecord[] {
  return [
    makeUsage({ requestId: "r1", time: new Date("2025-01-10T08:00:00Z"), keyId: "key_a", team: "search" }),
    makeUsage({
      requestId: "r2",
      time: new Date("2025-01-10T09:00:00Z"),
      keyId: "key_a",
      team: "search",
      workload: "embed",
      backend: "tei",
      model: "bge",
      inputTokens: 5,
      outputTokens: 0,
      costMicroUsd: 7,
    }),
    makeUsage({
      requestId: "r3",
      time: new Date("2025-01-11T00:00:00Z"),
      keyId: "key_b",
      team: "ads",
      backend: "anthropic",
      model: "claude",
      inputTokens: 100,
      outputTokens: 200,
      costMicroUsd: 3000,
    }),
    makeUsage({
      requestId: "r4",
      time: new Date("2025-01-11T23:59:59.999Z"),
      keyId: "key_b",
      team: "ads",
      inputTokens: 1,
      outputTokens: 2,
      costMicroUsd: 3,
    }),
    makeUsage({
      requestId: "r5",
      time: new Date("2025-01-11T01:30:00+02:00"),
      keyId: null,
      team: null,
      backend: null,
      model: null,
      status: "no_backend",
      inputTokens: 0,
      outputTokens: 0,
      costMicroUsd: 0,
    }),
    makeUsage({
      requestId: "r6",
      time: new Date("2025-01-11T12:00:00Z"),
      keyId: "key_a",
      costMicroUsd: null,
    }),
  ];
}

/** A spend row; the token classes are 0 unless given. */
const row = (
  group: SpendRow["group"],
  requests: number,
  input: number,
  output: number,
  cost: number,
  classes: Partial<SpendRow> = {},
): SpendRow => ({
  group,
  requests,
  cachedRequests: 0,
  inputTokens: input,
  outputTokens: output,
  costMicroUsd: cost,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  reasoningTokens: 0,
  audioInputTokens: 0,
  imageInputTokens: 0,
  ...classes,
});

async function spend(store: Store, query: Partial<SpendQuery>): Promise<SpendRow[]> {
  return store.ledger.spend({ groupBy: [], since: SINCE, until: UNTIL, ...query });
}

export function ledgerContract(withStore: WithStore): void {
  test("ledger: spend counts requests answered from the response cache (status cached) apart", (t) =>
    withStore(t, async (store) => {
      await store.ledger.record([
        makeUsage({
          requestId: "c1",
          time: new Date("2025-01-10T12:00:00Z"),
          status: "cached",
          costMicroUsd: 0,
        }),
        makeUsage({ requestId: "c2", time: new Date("2025-01-10T12:00:01Z"), status: "ok", costMicroUsd: 5 }),
      ]);
      const [total] = await spend(store, {});
      assert.equal(total?.requests, 2);
      assert.equal(total?.cachedRequests, 1);
      assert.equal(total?.costMicroUsd, 5);
    }));

  test("ledger: record then get returns every field, nulls included", (t) =>
    withStore(t, async (store) => {
      const full = makeUsage({
        time: new Date("2025-01-10T08:09:10.123Z"),
        inputTokens: 1000,
        outputTokens: 500,
        cachedInputTokens: 400,
        cacheWriteTokens: 300,
        cacheWrite1hTokens: 100,
        reasoningTokens: 200,
        audioInputTokens: 50,
        imageInputTokens: 60,
        attempts: 3,
        endUserId: "user-42 ü",
        serviceTier: "flex",
      });
      const sparse = makeUsage({
        keyId: null,
        team: null,
        backend: null,
        model: null,
        costMicroUsd: null,
        ttftMs: null,
        accuracy: "estimated",
        protocol: "openai",
        operation: "generate_stream",
        status: "deadline_exceeded",
      });
      assert.deepEqual(await store.ledger.record([full, sparse]), { inserted: 2, duplicates: 0 });
      assert.deepEqual(await store.ledger.get(full.requestId), full);
      assert.deepEqual(await store.ledger.get(sparse.requestId), sparse);
      assert.equal(await store.ledger.get("req_unknown"), undefined);
      assert.deepEqual(await store.ledger.record([]), { inserted: 0, duplicates: 0 });
    }));

  test("ledger: idempotent by requestId — a replay never double-counts and never overwrites", (t) =>
    withStore(t, async (store) => {
      const first = makeUsage({ requestId: "dup", costMicroUsd: 100 });
      assert.deepEqual(await store.ledger.record([first]), { inserted: 1, duplicates: 0 });
      const before = await spend(store, {});
      assert.deepEqual(await store.ledger.record([{ ...first, costMicroUsd: 999 }]), {
        inserted: 0,
        duplicates: 1,
      });
      assert.deepEqual(await spend(store, {}), before);
      assert.equal((await store.ledger.get("dup"))?.costMicroUsd, 100);
      // a repeat inside one batch counts once too
      const other = makeUsage({ requestId: "twice" });
      assert.deepEqual(await store.ledger.record([other, first, other]), { inserted: 1, duplicates: 2 });
      assert.deepEqual(await spend(store, {}), [row({}, 2, 20, 40, 200)]);
    }));

  test("ledger: an interrupted row (in flight at a crash) is stored and counted like any other, never twice", (t) =>
    withStore(t, async (store) => {
      const interrupted = makeUsage({
        requestId: "cut",
        status: INTERRUPTED_STATUS,
        accuracy: "estimated",
        inputTokens: 7,
        outputTokens: 512,
        costMicroUsd: 1031,
        latencyMs: 0,
        ttftMs: null,
      });
      assert.deepEqual(await store.ledger.record([interrupted]), { inserted: 1, duplicates: 0 });
      assert.deepEqual(await store.ledger.get("cut"), interrupted);
      assert.deepEqual(await spend(store, { groupBy: ["model"] }), [
        row({ model: "gpt-4o-mini" }, 1, 7, 512, 1031),
      ]);
      // A replay of the same journal offers it again: still one row.
      assert.deepEqual(await store.ledger.record([interrupted]), { inserted: 0, duplicates: 1 });
    }));

  test("ledger: a large batch is written whole, and its replay plus one new record inserts exactly one", (t) =>
    withStore(t, async (store) => {
      const many = Array.from({ length: 1201 }, (_, i) =>
        makeUsage({ requestId: `bulk_${i}`, costMicroUsd: 1 }),
      );
      assert.deepEqual(await store.ledger.record(many), { inserted: 1201, duplicates: 0 });
      const extra = makeUsage({ requestId: "bulk_extra", costMicroUsd: 1 });
      assert.deepEqual(await store.ledger.record([...many, extra]), { inserted: 1, duplicates: 1201 });
      assert.deepEqual(await spend(store, {}), [row({}, 1202, 12020, 24040, 1202)]);
    }));

  test("ledger: a batch with an invalid record is refused whole", (t) =>
    withStore(t, async (store) => {
      const good = makeUsage();
      await assert.rejects(store.ledger.record([good, makeUsage({ inputTokens: 1.5 })]), RangeError);
      await assert.rejects(store.ledger.record([makeUsage({ latencyMs: -1 })]), RangeError);
      await assert.rejects(store.ledger.record([good, makeUsage({ reasoningTokens: -1 })]), RangeError);
      await assert.rejects(store.ledger.record([makeUsage({ audioInputTokens: 0.5 })]), RangeError);
      await assert.rejects(
        store.ledger.record([makeUsage({ cacheWriteTokens: 1, cacheWrite1hTokens: 2 })]),
        /cacheWrite1hTokens/,
        "the one-hour writes are a part of all writes",
      );
      await assert.rejects(store.ledger.record([makeUsage({ endUserId: "u".repeat(129) })]), /endUserId/);
      await assert.rejects(store.ledger.record([makeUsage({ serviceTier: "t".repeat(33) })]), /serviceTier/);
      assert.equal(await store.ledger.get(good.requestId), undefined);
    }));

  test("ledger: spend with no grouping totals the range; an unpriced request adds no cost", (t) =>
    withStore(t, async (store) => {
      assert.deepEqual(await spend(store, {}), [], "no records → no rows");
      await store.ledger.record(dataset());
      assert.deepEqual(await spend(store, {}), [row({}, 6, 126, 242, 3110)]);
    }));

  test("ledger: spend grouped by each single dimension, sorted by value with nulls first", (t) =>
    withStore(t, async (store) => {
      await store.ledger.record(dataset());
      assert.deepEqual(await spend(store, { groupBy: ["key"] }), [
        row({ key: null }, 1, 0, 0, 0),
        row({ key: "key_a" }, 3, 25, 40, 107),
        row({ key: "key_b" }, 2, 101, 202, 3003),
      ]);
      assert.deepEqual(await spend(store, { groupBy: ["team"] }), [
        row({ team: null }, 1, 0, 0, 0),
        row({ team: "ads" }, 2, 101, 202, 3003),
        row({ team: "search" }, 3, 25, 40, 107),
      ]);
      assert.deepEqual(await spend(store, { groupBy: ["workload"] }), [
        row({ workload: "chat" }, 5, 121, 242, 3103),
        row({ workload: "embed" }, 1, 5, 0, 7),
      ]);
      assert.deepEqual(await spend(store, { groupBy: ["backend"] }), [
        row({ backend: null }, 1, 0, 0, 0),
        row({ backend: "anthropic" }, 1, 100, 200, 3000),
        row({ backend: "openai" }, 3, 21, 42, 103),
        row({ backend: "tei" }, 1, 5, 0, 7),
      ]);
      assert.deepEqual(await spend(store, { groupBy: ["model"] }), [
        row({ model: null }, 1, 0, 0, 0),
        row({ model: "bge" }, 1, 5, 0, 7),
        row({ model: "claude" }, 1, 100, 200, 3000),
        row({ model: "gpt-4o-mini" }, 3, 21, 42, 103),
      ]);
      assert.deepEqual(await spend(store, { groupBy: ["day"] }), [
        row({ day: "2025-01-10" }, 3, 15, 20, 107),
        row({ day: "2025-01-11" }, 3, 111, 222, 3003),
      ]);
    }));

  test("ledger: spend grouped by combinations keeps the groupBy order", (t) =>
    withStore(t, async (store) => {
      await store.ledger.record(dataset());
      assert.deepEqual(await spend(store, { groupBy: ["team", "day"] }), [
        row({ team: null, day: "2025-01-10" }, 1, 0, 0, 0),
        row({ team: "ads", day: "2025-01-11" }, 2, 101, 202, 3003),
        row({ team: "search", day: "2025-01-10" }, 2, 15, 20, 107),
        row({ team: "search", day: "2025-01-11" }, 1, 10, 20, 0),
      ]);
      assert.deepEqual(await spend(store, { groupBy: ["day", "key", "day"] }), [
        row({ day: "2025-01-10", key: null }, 1, 0, 0, 0),
        row({ day: "2025-01-10", key: "key_a" }, 2, 15, 20, 107),
        row({ day: "2025-01-11", key: "key_a" }, 1, 10, 20, 0),
        row({ day: "2025-01-11", key: "key_b" }, 2, 101, 202, 3003),
      ]);
      const all = await spend(store, { groupBy: ["key", "team", "workload", "backend", "model", "day"] });
      assert.equal(all.length, 6, "every record differs in at least one dimension");
      assert.deepEqual(all[0]?.group, {
        key: null,
        team: null,
        workload: "chat",
        backend: null,
        model: null,
        day: "2025-01-10",
      });
    }));

  test("ledger: spend filters on key, team, workload, backend and model, alone and combined", (t) =>
    withStore(t, async (store) => {
      await store.ledger.record(dataset());
      assert.deepEqual(await spend(store, { filter: { keyId: "key_a" } }), [row({}, 3, 25, 40, 107)]);
      assert.deepEqual(await spend(store, { filter: { team: "ads" } }), [row({}, 2, 101, 202, 3003)]);
      assert.deepEqual(await spend(store, { filter: { workload: "embed" } }), [row({}, 1, 5, 0, 7)]);
      assert.deepEqual(await spend(store, { filter: { backend: "anthropic" } }), [
        row({}, 1, 100, 200, 3000),
      ]);
      assert.deepEqual(await spend(store, { filter: { model: "gpt-4o-mini" } }), [row({}, 3, 21, 42, 103)]);
      assert.deepEqual(
        await spend(store, { groupBy: ["day"], filter: { keyId: "key_a", workload: "chat" } }),
        [row({ day: "2025-01-10" }, 1, 10, 20, 100), row({ day: "2025-01-11" }, 1, 10, 20, 0)],
      );
      assert.deepEqual(await spend(store, { filter: { team: "ads", model: "bge" } }), []);
    }));

  test("ledger: spend filters on a reach (workloads and models in a list); an empty list matches nothing", (t) =>
    withStore(t, async (store) => {
      await store.ledger.record(dataset());
      assert.deepEqual(await spend(store, { filter: { workloadIn: ["embed", "nope"] } }), [
        row({}, 1, 5, 0, 7),
      ]);
      assert.deepEqual(await spend(store, { filter: { workloadIn: ["chat", "embed"] } }), [
        row({}, 6, 126, 242, 3110),
      ]);
      assert.deepEqual(
        await spend(store, { groupBy: ["model"], filter: { modelIn: ["claude", "bge"] } }),
        [row({ model: "bge" }, 1, 5, 0, 7), row({ model: "claude" }, 1, 100, 200, 3000)],
        "a record without a model is outside every model list",
      );
      assert.deepEqual(await spend(store, { filter: { workloadIn: [] } }), []);
      assert.deepEqual(await spend(store, { filter: { team: "search", modelIn: [] } }), []);
      assert.deepEqual(
        await spend(store, { filter: { team: "search", workloadIn: ["chat"], modelIn: ["gpt-4o-mini"] } }),
        [row({}, 2, 20, 40, 100)],
      );
    }));

  test("ledger: the time range is [since, until) to the millisecond", (t) =>
    withStore(t, async (store) => {
      await store.ledger.record(dataset());
      const r4 = new Date("2025-01-11T23:59:59.999Z");
      const ids = async (since: Date, until: Date) =>
        (await spend(store, { since, until, groupBy: ["key"] })).map((r) => [r.group.key, r.requests]);
      assert.deepEqual(await ids(r4, new Date(r4.getTime() + 1)), [["key_b", 1]], "since is inclusive");
      assert.deepEqual(await ids(new Date(r4.getTime() - 1), r4), [], "until is exclusive");
      assert.deepEqual(await ids(new Date("2025-01-11T00:00:00Z"), new Date("2025-01-12T00:00:00Z")), [
        ["key_a", 1],
        ["key_b", 2],
      ]);
      assert.deepEqual(await ids(UNTIL, new Date("2026-01-01T00:00:00Z")), []);
    }));

  test("ledger: spend sums every token class, grouped by hour, end user and service tier", (t) =>
    withStore(t, async (store) => {
      const classes = (n: number): Partial<UsageRecord> => ({
        inputTokens: 100 * n,
        outputTokens: 50 * n,
        cachedInputTokens: 10 * n,
        cacheWriteTokens: 8 * n,
        cacheWrite1hTokens: 2 * n,
        reasoningTokens: 20 * n,
        audioInputTokens: 3 * n,
        imageInputTokens: 4 * n,
        costMicroUsd: 1000 * n,
      });
      await store.ledger.record([
        makeUsage({
          time: new Date("2025-01-10T08:00:00Z"),
          endUserId: "u1",
          serviceTier: "default",
          ...classes(1),
        }),
        makeUsage({
          time: new Date("2025-01-10T08:59:59.999Z"),
          endUserId: "u2",
          serviceTier: "flex",
          ...classes(2),
        }),
        makeUsage({
          time: new Date("2025-01-10T09:00:00Z"),
          endUserId: "u1",
          serviceTier: "flex",
          ...classes(3),
        }),
        // Written before the classes existed (or from a provider that reports none): counted as 0 of each.
        makeUsage({
          time: new Date("2025-01-11T23:30:00+02:00"),
          inputTokens: 7,
          outputTokens: 1,
          costMicroUsd: 5,
        }),
      ]);
      const sums = (n: number) => ({
        cacheReadTokens: 10 * n,
        cacheWriteTokens: 8 * n,
        cacheWrite1hTokens: 2 * n,
        reasoningTokens: 20 * n,
        audioInputTokens: 3 * n,
        imageInputTokens: 4 * n,
      });
      assert.deepEqual(await spend(store, {}), [row({}, 4, 607, 301, 6005, sums(6))]);
      assert.deepEqual(await spend(store, { groupBy: ["hour"] }), [
        row({ hour: "2025-01-10T08" }, 2, 300, 150, 3000, sums(3)),
        row({ hour: "2025-01-10T09" }, 1, 300, 150, 3000, sums(3)),
        row({ hour: "2025-01-11T21" }, 1, 7, 1, 5),
      ]);
      assert.deepEqual(await spend(store, { groupBy: ["end_user"] }), [
        row({ end_user: null }, 1, 7, 1, 5),
        row({ end_user: "u1" }, 2, 400, 200, 4000, sums(4)),
        row({ end_user: "u2" }, 1, 200, 100, 2000, sums(2)),
      ]);
      assert.deepEqual(await spend(store, { groupBy: ["service_tier", "end_user"] }), [
        row({ service_tier: null, end_user: null }, 1, 7, 1, 5),
        row({ service_tier: "default", end_user: "u1" }, 1, 100, 50, 1000, sums(1)),
        row({ service_tier: "flex", end_user: "u1" }, 1, 300, 150, 3000, sums(3)),
        row({ service_tier: "flex", end_user: "u2" }, 1, 200, 100, 2000, sums(2)),
      ]);
    }));
}
