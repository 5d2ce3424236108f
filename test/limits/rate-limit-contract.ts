import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { LimitSpecError } from "../../src/limits/limit-spec-error.ts";
import type { RateLimitStore } from "../../src/limits/rate-limit-store.ts";

/**
 * Behaviour every RateLimitStore must have, without advancing time: limits are
 * small (10/min refills one token per 6 s), so the few milliseconds a test
 * takes never refill a whole token.
 */
export function rateLimitContract(
  name: string,
  open: (t: TestContext) => Promise<RateLimitStore | undefined>,
): void {
  const spec = (key: string, amount: number, limitPerMinute = 10) => ({ key, limitPerMinute, amount });
  const remaining = async (store: RateLimitStore, key: string, limitPerMinute = 10) => {
    const r = await store.take([spec(key, 0, limitPerMinute)]);
    return r.remaining[key];
  };

  test(`${name}: a fresh bucket is full; a take charges it and reports the time to refill`, async (t) => {
    const store = await open(t);
    if (!store) return;
    assert.deepEqual(await store.take([spec("a", 3)]), { ok: true, remaining: { a: 7 }, resetMs: 18_000 });
    assert.equal(await remaining(store, "a"), 7);
  });

  test(`${name}: an exhausted bucket rejects with the wait for the missing tokens`, async (t) => {
    const store = await open(t);
    if (!store) return;
    assert.equal((await store.take([spec("a", 10)])).ok, true);
    const r = await store.take([spec("a", 2)]);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.exhausted, "a");
    assert.equal(r.tooLarge, undefined);
    assert.ok(
      r.retryAfterMs > 6_000 && r.retryAfterMs <= 12_000,
      `two tokens at 6 s each: ${r.retryAfterMs}`,
    );
    assert.equal(r.remaining.a, 0);
    assert.ok(r.resetMs > 54_000 && r.resetMs <= 60_000, `${r.resetMs}`);
  });

  test(`${name}: all-or-nothing — one short bucket means nothing is taken from the others`, async (t) => {
    const store = await open(t);
    if (!store) return;
    assert.equal((await store.take([spec("small", 4, 5)])).ok, true);
    const r = await store.take([spec("big", 3), spec("small", 3, 5)]);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.exhausted, "small");
    assert.deepEqual(r.remaining, { big: 10, small: 1 });
    assert.deepEqual(await store.take([spec("big", 10)]), {
      ok: true,
      remaining: { big: 0 },
      resetMs: 60_000,
    });
  });

  test(`${name}: the blocking bucket is the one with the longest wait`, async (t) => {
    const store = await open(t);
    if (!store) return;
    await store.take([spec("fast", 60, 60), spec("slow", 6, 6)]);
    const r = await store.take([spec("fast", 1, 60), spec("slow", 1, 6)]);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.exhausted, "slow");
    assert.ok(r.retryAfterMs > 9_000 && r.retryAfterMs <= 10_000, `one token at 6/min: ${r.retryAfterMs}`);
  });

  test(`${name}: an amount above the capacity is tooLarge, takes nothing, and wins over a short bucket`, async (t) => {
    const store = await open(t);
    if (!store) return;
    await store.take([spec("drained", 10)]);
    const r = await store.take([spec("fine", 5), spec("drained", 1), spec("huge", 11)]);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.tooLarge, true);
    assert.equal(r.exhausted, "huge");
    assert.equal(await remaining(store, "fine"), 10, "nothing was taken");
    assert.equal(await remaining(store, "huge"), 10);
    assert.equal((await store.take([spec("exact", 10)])).ok, true, "exactly the capacity is allowed");
  });

  test(`${name}: adjust refunds, but never above the capacity`, async (t) => {
    const store = await open(t);
    if (!store) return;
    await store.take([spec("a", 8)]);
    await store.adjust("a", 10, -5);
    assert.equal(await remaining(store, "a"), 7);
    await store.adjust("a", 10, -100);
    assert.equal(await remaining(store, "a"), 10);
    assert.equal((await store.take([spec("a", 11)])).ok, false, "a refund does not raise the capacity");
  });

  test(`${name}: adjust charges extra into debt, which delays later takes until repaid`, async (t) => {
    const store = await open(t);
    if (!store) return;
    await store.take([spec("a", 10)]);
    await store.adjust("a", 10, 5);
    const r = await store.take([spec("a", 1)]);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.remaining.a, 0, "debt shows as zero remaining");
    assert.ok(
      r.retryAfterMs > 30_000 && r.retryAfterMs <= 36_000,
      `5 owed + 1 wanted at 6 s: ${r.retryAfterMs}`,
    );
    assert.ok(r.resetMs > 84_000 && r.resetMs <= 90_000, `15 tokens to full: ${r.resetMs}`);
    await store.adjust("a", 10, -5);
    const after = await store.take([spec("a", 1)]);
    assert.equal(after.ok, false);
    if (after.ok) return;
    assert.ok(after.retryAfterMs > 0 && after.retryAfterMs <= 6_000, `debt repaid: ${after.retryAfterMs}`);
  });

  test(`${name}: adjust on a bucket never taken from starts from full`, async (t) => {
    const store = await open(t);
    if (!store) return;
    await store.adjust("new", 10, 3);
    assert.equal(await remaining(store, "new"), 7);
  });

  test(`${name}: impossible specs are rejected as LimitSpecError`, async (t) => {
    const store = await open(t);
    if (!store) return;
    await assert.rejects(async () => store.take([spec("a", -1)]), LimitSpecError);
    await assert.rejects(async () => store.take([spec("a", 1, 0)]), LimitSpecError);
    await assert.rejects(async () => store.take([spec("a", 1), spec("a", 1)]), LimitSpecError);
    await assert.rejects(async () => store.adjust("a", 10, Number.NaN), LimitSpecError);
    assert.equal(await remaining(store, "a"), 10, "a rejected spec charges nothing");
    assert.deepEqual(await store.take([]), { ok: true, remaining: {}, resetMs: 0 });
  });
}
