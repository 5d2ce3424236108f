import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import type { BudgetStore } from "../../src/limits/budget-store.ts";
import { LimitSpecError } from "../../src/limits/limit-spec-error.ts";

/** Behaviour every BudgetStore must have. Amounts are integer micro-USD. */
export function budgetContract(
  name: string,
  open: (t: TestContext) => Promise<BudgetStore | undefined>,
): void {
  const later = new Date(Date.now() + 3_600_000);
  const spec = (key: string, amountMicroUsd: number, limitMicroUsd = 1_000) => ({
    key,
    limitMicroUsd,
    amountMicroUsd,
    expiresAt: later,
  });
  const settlement = (key: string, reservedMicroUsd: number, actualMicroUsd: number) => ({
    key,
    reservedMicroUsd,
    actualMicroUsd,
    expiresAt: later,
  });

  test(`${name}: reservations count against the limit up to exactly the limit`, async (t) => {
    const store = await open(t);
    if (!store) return;
    assert.deepEqual(await store.usage("b"), { spentMicroUsd: 0, reservedMicroUsd: 0 });
    assert.deepEqual(await store.reserve([spec("b", 600)]), { ok: true });
    assert.deepEqual(await store.reserve([spec("b", 400)]), { ok: true }, "up to the limit itself");
    assert.deepEqual(await store.usage("b"), { spentMicroUsd: 0, reservedMicroUsd: 1_000 });
    assert.deepEqual(await store.reserve([spec("b", 1)]), {
      ok: false,
      exhausted: "b",
      remainingMicroUsd: 0,
    });
  });

  test(`${name}: a rejected reservation reports what is left and changes nothing`, async (t) => {
    const store = await open(t);
    if (!store) return;
    await store.reserve([spec("b", 700)]);
    assert.deepEqual(await store.reserve([spec("b", 301)]), {
      ok: false,
      exhausted: "b",
      remainingMicroUsd: 300,
    });
    assert.deepEqual(await store.usage("b"), { spentMicroUsd: 0, reservedMicroUsd: 700 });
  });

  test(`${name}: atomic across budgets — one exhausted budget means none is charged`, async (t) => {
    const store = await open(t);
    if (!store) return;
    await store.reserve([spec("key", 900)]);
    const r = await store.reserve([spec("team", 200, 10_000), spec("key", 200)]);
    assert.deepEqual(r, { ok: false, exhausted: "key", remainingMicroUsd: 100 });
    assert.deepEqual(await store.usage("team"), { spentMicroUsd: 0, reservedMicroUsd: 0 });
    assert.deepEqual(await store.reserve([spec("team", 50, 10_000), spec("key", 100)]), { ok: true });
    assert.deepEqual(await store.usage("team"), { spentMicroUsd: 0, reservedMicroUsd: 50 });
    assert.deepEqual(await store.usage("key"), { spentMicroUsd: 0, reservedMicroUsd: 1_000 });
  });

  test(`${name}: settle releases the reservation and records the actual cost`, async (t) => {
    const store = await open(t);
    if (!store) return;
    await store.reserve([spec("b", 500), spec("t", 500, 5_000)]);
    await store.reserve([spec("b", 200)]);
    await store.settle([settlement("b", 500, 120), settlement("t", 500, 120)]);
    assert.deepEqual(await store.usage("b"), { spentMicroUsd: 120, reservedMicroUsd: 200 });
    assert.deepEqual(await store.usage("t"), { spentMicroUsd: 120, reservedMicroUsd: 0 });
    assert.deepEqual(await store.reserve([spec("b", 681)]), {
      ok: false,
      exhausted: "b",
      remainingMicroUsd: 680,
    });
    assert.deepEqual(
      await store.reserve([spec("b", 680)]),
      { ok: true },
      "the unused reservation is free again",
    );
  });

  test(`${name}: an actual cost above the reservation is recorded and blocks further reservations`, async (t) => {
    const store = await open(t);
    if (!store) return;
    await store.reserve([spec("b", 900)]);
    await store.settle([settlement("b", 900, 1_250)]);
    assert.deepEqual(await store.usage("b"), { spentMicroUsd: 1_250, reservedMicroUsd: 0 });
    assert.deepEqual(await store.reserve([spec("b", 1)]), {
      ok: false,
      exhausted: "b",
      remainingMicroUsd: 0,
    });
    assert.equal((await store.reserve([spec("b", 0)])).ok, false, "over budget: even a free request waits");
  });

  test(`${name}: reserved never goes below zero (a double settle creates no headroom)`, async (t) => {
    const store = await open(t);
    if (!store) return;
    await store.reserve([spec("b", 300)]);
    await store.settle([settlement("b", 300, 300)]);
    await store.settle([settlement("b", 300, 0)]);
    assert.deepEqual(await store.usage("b"), { spentMicroUsd: 300, reservedMicroUsd: 0 });
    await store.reserve([spec("b", 700)]);
    assert.equal((await store.reserve([spec("b", 1)])).ok, false);
  });

  test(`${name}: a budget past its expiry is forgotten`, async (t) => {
    const store = await open(t);
    if (!store) return;
    const past = new Date(Date.now() - 60_000);
    await store.reserve([spec("b", 400)]);
    await store.settle([{ key: "b", reservedMicroUsd: 400, actualMicroUsd: 400, expiresAt: past }]);
    assert.deepEqual(await store.usage("b"), { spentMicroUsd: 0, reservedMicroUsd: 0 });
  });

  test(`${name}: impossible specs are rejected as LimitSpecError and charge nothing`, async (t) => {
    const store = await open(t);
    if (!store) return;
    await assert.rejects(async () => store.reserve([spec("b", 1.5)]), LimitSpecError);
    await assert.rejects(async () => store.reserve([spec("b", -1)]), LimitSpecError);
    await assert.rejects(async () => store.reserve([spec("b", 1), spec("b", 1)]), LimitSpecError);
    await assert.rejects(async () => store.settle([settlement("b", 1, Number.NaN)]), LimitSpecError);
    assert.deepEqual(await store.usage("b"), { spentMicroUsd: 0, reservedMicroUsd: 0 });
    assert.deepEqual(await store.reserve([]), { ok: true });
  });
}
