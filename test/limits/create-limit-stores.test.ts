import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";
import { createLimitStores } from "../../src/limits/create-limit-stores.ts";
import { budgetRedisKey } from "../../src/limits/redis-budgets.ts";
import { rateLimitRedisKey } from "../../src/limits/redis-rate-limits.ts";
import { REDIS_URL } from "../helpers/services.ts";
import { connected, redisNamespace } from "./redis-namespace.ts";

const expiresAt = new Date(Date.now() + 3_600_000);
const NO_HANG = { timeout: 20_000 };

test("memory: working stores that share nothing with another set", async () => {
  const a = createLimitStores({ type: "memory" });
  const b = createLimitStores({ type: "memory" });
  assert.equal(await a.ready(), true);
  assert.equal((await a.rateLimits.take([{ key: "k", limitPerMinute: 1, amount: 1 }])).ok, true);
  assert.equal((await a.rateLimits.take([{ key: "k", limitPerMinute: 1, amount: 1 }])).ok, false);
  assert.equal((await b.rateLimits.take([{ key: "k", limitPerMinute: 1, amount: 1 }])).ok, true);
  assert.deepEqual(await a.budgets.reserve([{ key: "b", limitMicroUsd: 5, amountMicroUsd: 5, expiresAt }]), {
    ok: true,
  });
  assert.deepEqual(await a.budgets.usage("b"), { spentMicroUsd: 0, reservedMicroUsd: 5 });
  await a.close();
  await b.close();
});

test("redis: both stores use the key prefix, and two sets on one prefix share limits", NO_HANG, async (t) => {
  const ns = await redisNamespace(t);
  if (!ns) return;
  const config = {
    type: "redis" as const,
    url: REDIS_URL,
    keyPrefix: ns.prefix,
    failureMode: "closed" as const,
  };
  const errors: unknown[] = [];
  const one = createLimitStores(config, { onError: (e) => errors.push(e) });
  const two = createLimitStores(config, { onError: (e) => errors.push(e) });
  t.after(() => Promise.all([one.close(), two.close()]));
  assert.equal(await one.ready(), true);
  assert.equal(await two.ready(), true);
  const spec = { key: "k", limitPerMinute: 2, amount: 1 };
  assert.equal((await one.rateLimits.take([spec])).ok, true);
  assert.equal((await two.rateLimits.take([spec])).ok, true);
  const third = await one.rateLimits.take([spec]);
  assert.equal(third.ok, false);
  assert.equal(!third.ok && third.unavailable, undefined, "a real rejection, not an outage");
  await two.budgets.reserve([{ key: "b", limitMicroUsd: 10, amountMicroUsd: 4, expiresAt }]);
  assert.deepEqual(await one.budgets.usage("b"), { spentMicroUsd: 0, reservedMicroUsd: 4 });

  const redis = await connected(ns.client());
  assert.equal(await redis.exists(rateLimitRedisKey(ns.prefix, "k"), budgetRedisKey(ns.prefix, "b")), 2);
  assert.deepEqual(errors, []);
});

test("redis unreachable: ready() answers false, failureMode applies, onError hears it", NO_HANG, async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));

  const errors: unknown[] = [];
  const stores = createLimitStores(
    { type: "redis", url: `redis://127.0.0.1:${port}`, failureMode: "closed", commandTimeoutMs: 100 },
    { onError: (e) => errors.push(e) },
  );
  assert.equal(await stores.ready(300), false);
  const r = await stores.rateLimits.take([{ key: "k", limitPerMinute: 10, amount: 1 }]);
  assert.equal(!r.ok && r.unavailable, true);
  const b = await stores.budgets.reserve([{ key: "b", limitMicroUsd: 10, amountMicroUsd: 1, expiresAt }]);
  assert.equal(!b.ok && b.unavailable, true);
  assert.equal(errors.length, 2);
  await stores.close();
});
