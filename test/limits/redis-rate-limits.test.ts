import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { RedisRateLimits, rateLimitRedisKey } from "../../src/limits/redis-rate-limits.ts";
import { RedisScript } from "../../src/limits/redis-script.ts";
import { rateLimitContract } from "./rate-limit-contract.ts";
import { connected, redisNamespace } from "./redis-namespace.ts";

rateLimitContract("redis", async (t) => {
  const ns = await redisNamespace(t);
  if (!ns) return undefined;
  return new RedisRateLimits({ redis: await connected(ns.client()), keyPrefix: ns.prefix });
});

const per = (key: string, amount: number, limitPerMinute = 10) => ({ key, limitPerMinute, amount });

test("redis: two replicas on one prefix share a limit — 10 rpm, 6 concurrent takes each, exactly 10 pass", async (t) => {
  const ns = await redisNamespace(t);
  if (!ns) return;
  const clients = await Promise.all([ns.client(), ns.client()].map(connected));
  const replicas = clients.map((redis) => new RedisRateLimits({ redis, keyPrefix: ns.prefix }));
  const results = await Promise.all(
    replicas.flatMap((store) => Array.from({ length: 6 }, () => store.take([per("team:ml:rpm", 1)]))),
  );
  assert.equal(results.filter((r) => r.ok).length, 10);
  const rejected = results.filter((r) => !r.ok);
  assert.equal(rejected.length, 2);
  for (const r of rejected) assert.equal(!r.ok && r.exhausted, "team:ml:rpm");
});

test("redis: a different prefix is a different limit", async (t) => {
  const ns = await redisNamespace(t);
  if (!ns) return;
  const redis = await connected(ns.client());
  const a = new RedisRateLimits({ redis, keyPrefix: `${ns.prefix}a:` });
  const b = new RedisRateLimits({ redis, keyPrefix: `${ns.prefix}b:` });
  assert.equal((await a.take([per("k", 10)])).ok, true);
  assert.equal((await b.take([per("k", 10)])).ok, true);
  assert.equal((await a.take([per("k", 1)])).ok, false);
});

test("redis: refill uses the server's clock (a bucket last drained 30 s ago holds 30 of 60)", async (t) => {
  const ns = await redisNamespace(t);
  if (!ns) return;
  const redis = await connected(ns.client());
  const store = new RedisRateLimits({ redis, keyPrefix: ns.prefix });
  const [seconds, micros] = await redis.time();
  const serverNow = Number(seconds) * 1000 + Number(micros) / 1000;
  // Backdate the bucket instead of waiting: empty, last updated 30 s ago by the server's clock.
  const key = rateLimitRedisKey(ns.prefix, "a");
  await redis.hset(key, "t", "0", "ts", String(serverNow - 30_000));
  const ok = await store.take([per("a", 30, 60)]);
  assert.equal(ok.ok, true);
  assert.equal(ok.remaining.a, 0);
  const r = await store.take([per("a", 1, 60)]);
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.retryAfterMs > 0 && r.retryAfterMs <= 1_000, "one token at 1/s");
});

test("redis: buckets expire once they would be full again; debt keeps them alive", async (t) => {
  const ns = await redisNamespace(t);
  if (!ns) return;
  const redis = await connected(ns.client());
  const store = new RedisRateLimits({ redis, keyPrefix: ns.prefix });
  await store.take([per("a", 3)]);
  const ttl = await redis.pttl(rateLimitRedisKey(ns.prefix, "a"));
  assert.ok(ttl > 17_000 && ttl <= 19_000, `3 tokens at 6 s each, plus a second: ${ttl}`);
  await store.take([per("b", 10)]);
  await store.adjust("b", 10, 5);
  const debtTtl = await redis.pttl(rateLimitRedisKey(ns.prefix, "b"));
  assert.ok(debtTtl > 90_000 && debtTtl <= 91_000, `15 tokens to full: ${debtTtl}`);
});

test("redis: a script the server has not cached yet runs through the EVAL fallback, then by SHA", async (t) => {
  const ns = await redisNamespace(t);
  if (!ns) return;
  const redis = await connected(ns.client());
  // A never-seen script text (no global SCRIPT FLUSH: other test files share this Redis).
  const script = new RedisScript(`-- ${randomUUID()}\nreturn redis.call("INCR", KEYS[1])`);
  const key = `${ns.prefix}counter`;
  assert.equal(await script.run(redis, [key], []), 1);
  assert.equal(await script.run(redis, [key], []), 2);
});
