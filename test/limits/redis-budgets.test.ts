import assert from "node:assert/strict";
import { test } from "node:test";
import { budgetRedisKey, RedisBudgets } from "../../src/limits/redis-budgets.ts";
import { budgetContract } from "./budget-contract.ts";
import { connected, redisNamespace } from "./redis-namespace.ts";

budgetContract("redis", async (t) => {
  const ns = await redisNamespace(t);
  if (!ns) return undefined;
  return new RedisBudgets({ redis: await connected(ns.client()), keyPrefix: ns.prefix });
});

/** Deterministic amounts (mulberry32) so a failure reproduces. */
function amounts(seed: number, n: number, max: number): number[] {
  let a = seed;
  return Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 4294967296) * max) + 1;
  });
}

test("redis: 50 concurrent reservations from two replicas never overshoot (across two budgets)", async (t) => {
  const ns = await redisNamespace(t);
  if (!ns) return;
  const clients = await Promise.all([ns.client(), ns.client()].map(connected));
  const replicas = clients.map((redis) => new RedisBudgets({ redis, keyPrefix: ns.prefix }));
  const expiresAt = new Date(Date.now() + 3_600_000);
  for (const [round, share] of [0.2, 0.5, 0.9].entries()) {
    const team = `team:ml:month:round${round}`;
    const key = `key:k1:day:round${round}`;
    const list = amounts(round + 1, 50, 2_000);
    // A limit below the total asked, so the replicas really contend for it.
    const limit = Math.floor(list.reduce((a, b) => a + b, 0) * share);
    const results = await Promise.all(
      list.map((amountMicroUsd, i) =>
        replicas[i % 2]!.reserve([
          { key: team, limitMicroUsd: limit, amountMicroUsd, expiresAt },
          { key, limitMicroUsd: limit * 2, amountMicroUsd, expiresAt },
        ]),
      ),
    );
    const granted = list.filter((_, i) => results[i]!.ok).reduce((a, b) => a + b, 0);
    assert.ok(granted <= limit, `round ${round}: ${granted} > ${limit}`);
    assert.ok(
      results.some((r) => !r.ok),
      "the limit was actually contended",
    );
    assert.deepEqual(await replicas[0]!.usage(team), { spentMicroUsd: 0, reservedMicroUsd: granted });
    assert.deepEqual(await replicas[1]!.usage(key), { spentMicroUsd: 0, reservedMicroUsd: granted });
    list.forEach((amount, i) => {
      const r = results[i]!;
      if (!r.ok) {
        assert.equal(r.exhausted, team);
        assert.ok(amount > limit - granted, "refused only when it really did not fit");
      }
    });
  }
});

test("redis: settling from one replica frees headroom for the other", async (t) => {
  const ns = await redisNamespace(t);
  if (!ns) return;
  const [a, b] = (await Promise.all([ns.client(), ns.client()].map(connected))).map(
    (redis) => new RedisBudgets({ redis, keyPrefix: ns.prefix }),
  );
  const expiresAt = new Date(Date.now() + 3_600_000);
  const spec = (amountMicroUsd: number) => [{ key: "b", limitMicroUsd: 1_000, amountMicroUsd, expiresAt }];
  assert.deepEqual(await a!.reserve(spec(1_000)), { ok: true });
  assert.equal((await b!.reserve(spec(1))).ok, false);
  await a!.settle([{ key: "b", reservedMicroUsd: 1_000, actualMicroUsd: 250, expiresAt }]);
  assert.deepEqual(await b!.reserve(spec(750)), { ok: true });
});

/** PTTL (not PEXPIRETIME, which needs Redis 7) read right after the write: within a few seconds. */
function assertExpiresAt(pttl: number, expiresAt: Date): void {
  const expected = expiresAt.getTime() - Date.now();
  assert.ok(pttl <= expected + 1_000 && pttl > expected - 5_000, `${pttl} vs ${expected}`);
}

test("redis: a budget hash expires at expiresAt (window end + a day)", async (t) => {
  const ns = await redisNamespace(t);
  if (!ns) return;
  const redis = await connected(ns.client());
  const store = new RedisBudgets({ redis, keyPrefix: ns.prefix });
  const expiresAt = new Date(Date.now() + 86_400_000);
  await store.reserve([{ key: "b", limitMicroUsd: 10, amountMicroUsd: 5, expiresAt }]);
  const key = budgetRedisKey(ns.prefix, "b");
  assertExpiresAt(await redis.pttl(key), expiresAt);
  assert.deepEqual(await redis.hgetall(key), { reserved: "5" });
  const later = new Date(expiresAt.getTime() + 1_000);
  await store.settle([{ key: "b", reservedMicroUsd: 5, actualMicroUsd: 4, expiresAt: later }]);
  assertExpiresAt(await redis.pttl(key), later);
  assert.deepEqual(await redis.hgetall(key), { reserved: "0", spent: "4" });
});
