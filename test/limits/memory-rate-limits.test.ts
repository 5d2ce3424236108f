import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MemoryRateLimits } from "../../src/limits/memory-rate-limits.ts";
import { rateLimitContract } from "./rate-limit-contract.ts";

/** A manual clock in milliseconds. */
function clock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
    set(ms: number) {
      now = ms;
    },
  };
}

rateLimitContract("memory", async (t) => {
  const store = new MemoryRateLimits({ now: clock().now });
  t.after(() => store.close());
  return store;
});

const per = (key: string, amount: number, limitPerMinute = 60) => ({ key, limitPerMinute, amount });

test("memory: buckets refill continuously at limit/60 s, capped at the capacity", async () => {
  const c = clock();
  const store = new MemoryRateLimits({ now: c.now });
  assert.deepEqual(await store.take([per("a", 60)]), { ok: true, remaining: { a: 0 }, resetMs: 60_000 });
  c.advance(500);
  assert.deepEqual(await store.take([per("a", 1)]), {
    ok: false,
    retryAfterMs: 500,
    exhausted: "a",
    remaining: { a: 0 },
    resetMs: 59_500,
  });
  c.advance(500);
  assert.deepEqual(await store.take([per("a", 1)]), { ok: true, remaining: { a: 0 }, resetMs: 60_000 });
  c.advance(30_000);
  assert.deepEqual(await store.take([per("a", 0)]), { ok: true, remaining: { a: 30 }, resetMs: 30_000 });
  c.advance(10 * 60_000);
  assert.deepEqual(await store.take([per("a", 0)]), { ok: true, remaining: { a: 60 }, resetMs: 0 });
});

test("memory: a clock stepping backwards neither drains nor fills a bucket", async () => {
  const c = clock();
  const store = new MemoryRateLimits({ now: c.now });
  await store.take([per("a", 30)]);
  c.advance(-20_000);
  assert.equal((await store.take([per("a", 0)])).remaining.a, 30);
  c.advance(1_000);
  assert.equal((await store.take([per("a", 0)])).remaining.a, 31, "refill resumes from the last update");
});

test("memory: debt is repaid by refill at the bucket's rate", async () => {
  const c = clock();
  const store = new MemoryRateLimits({ now: c.now });
  await store.take([per("a", 60)]);
  await store.adjust("a", 60, 30);
  const r = await store.take([per("a", 1)]);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.retryAfterMs, 31_000);
  c.advance(30_999);
  assert.equal((await store.take([per("a", 1)])).ok, false);
  c.advance(1);
  assert.equal((await store.take([per("a", 1)])).ok, true);
});

test("memory: a limit changed by a config reload applies at once, capping held tokens", async () => {
  const c = clock();
  const store = new MemoryRateLimits({ now: c.now });
  await store.take([per("a", 10, 100)]);
  assert.deepEqual(await store.take([per("a", 0, 50)]), { ok: true, remaining: { a: 50 }, resetMs: 0 });
});

test("memory: full idle buckets are swept", async () => {
  const c = clock();
  const store = new MemoryRateLimits({ now: c.now });
  for (let i = 0; i < 10; i++) await store.take([per(`idle-${i}`, 1)]);
  c.advance(61_000);
  for (let i = 0; i < 1024; i++) await store.take([per("hot", 0)]);
  await store.take([per("hot", 5)]);
  assert.equal(store.size, 1, "only the drained bucket is kept");
});

test("memory (property): what is granted never exceeds capacity plus refill, and retryAfterMs is exact", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 600 }),
      fc.array(
        fc.record({ dt: fc.integer({ min: 0, max: 20_000 }), amount: fc.integer({ min: 0, max: 700 }) }),
        {
          maxLength: 60,
        },
      ),
      async (limit, ops) => {
        const c = clock(0);
        const store = new MemoryRateLimits({ now: c.now });
        let granted = 0;
        for (const { dt, amount } of ops) {
          c.advance(dt);
          const r = await store.take([per("k", amount, limit)]);
          if (r.ok) granted += amount;
          assert.ok(granted <= limit + (limit * c.now()) / 60_000 + 1e-6, "over the rate");
          if (r.ok) continue;
          if (amount > limit) {
            assert.equal(r.tooLarge, true);
            continue;
          }
          // Waiting exactly retryAfterMs admits the same take; a millisecond less does not.
          assert.ok(r.retryAfterMs > 0);
          const at = c.now();
          c.advance(r.retryAfterMs - 1);
          assert.equal((await store.take([per("k", amount, limit)])).ok, false, "a millisecond early");
          c.set(at + r.retryAfterMs);
          assert.equal((await store.take([per("k", amount, limit)])).ok, true, "after retryAfterMs");
          granted += amount;
        }
      },
    ),
  );
});
