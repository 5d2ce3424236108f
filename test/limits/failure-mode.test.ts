import assert from "node:assert/strict";
import net from "node:net";
import { type TestContext, test } from "node:test";
import type { BudgetStore } from "../../src/limits/budget-store.ts";
import { type FailureMode, withFailureMode } from "../../src/limits/failure-mode.ts";
import { LimitSpecError } from "../../src/limits/limit-spec-error.ts";
import type { RateLimitStore } from "../../src/limits/rate-limit-store.ts";
import { RedisBudgets } from "../../src/limits/redis-budgets.ts";
import { closeRedis, createLimitsRedisClient } from "../../src/limits/redis-client.ts";
import { RedisRateLimits } from "../../src/limits/redis-rate-limits.ts";
import { REDIS_URL } from "../helpers/services.ts";
import { connected, redisNamespace } from "./redis-namespace.ts";

const bucket = { key: "team:ml:rpm", limitPerMinute: 10, amount: 1 };
const budget = { key: "team:ml:month:2026-11", limitMicroUsd: 100, amountMicroUsd: 1, expiresAt: new Date() };
const settlement = { key: budget.key, reservedMicroUsd: 1, actualMicroUsd: 1, expiresAt: new Date() };
// A hang would otherwise stall the run: fail the test instead (this bounds no assertion).
const NO_HANG = { timeout: 20_000 };

const outage = new Error("connection refused");
const brokenRates: RateLimitStore = {
  take: () => Promise.reject(outage),
  adjust: () => Promise.reject(outage),
  close: () => Promise.resolve(),
};
const brokenBudgets: BudgetStore = {
  reserve: () => Promise.reject(outage),
  settle: () => Promise.reject(outage),
  usage: () => Promise.reject(outage),
  close: () => Promise.resolve(),
};

test("open: a failing store lets admission through and reports each failure once", async () => {
  const errors: unknown[] = [];
  const rates = withFailureMode(brokenRates, "open", (e) => errors.push(e));
  const budgets = withFailureMode(brokenBudgets, "open", (e) => errors.push(e));
  assert.deepEqual(await rates.take([bucket]), { ok: true, remaining: {}, resetMs: 0 });
  assert.deepEqual(await budgets.reserve([budget]), { ok: true });
  await rates.adjust(bucket.key, 10, 3);
  await budgets.settle([settlement]);
  assert.deepEqual(errors, [outage, outage, outage, outage]);
});

test("closed: a failing store rejects admission as unavailable; settlement still never rejects", async () => {
  const errors: unknown[] = [];
  const rates = withFailureMode(brokenRates, "closed", (e) => errors.push(e));
  const budgets = withFailureMode(brokenBudgets, "closed", (e) => errors.push(e));
  assert.deepEqual(await rates.take([bucket]), {
    ok: false,
    unavailable: true,
    retryAfterMs: 0,
    exhausted: bucket.key,
    remaining: {},
    resetMs: 0,
  });
  assert.deepEqual(await budgets.reserve([budget]), {
    ok: false,
    unavailable: true,
    exhausted: budget.key,
    remainingMicroUsd: 0,
  });
  await rates.adjust(bucket.key, 10, -1);
  await budgets.settle([settlement]);
  assert.equal(errors.length, 4);
});

test("a healthy store's answers pass through unchanged, rejections included, without onError", async () => {
  const errors: unknown[] = [];
  const rejection = { ok: false as const, retryAfterMs: 5, exhausted: "a", remaining: { a: 0 }, resetMs: 9 };
  const healthy: RateLimitStore = {
    ...brokenRates,
    take: () => Promise.resolve(rejection),
    adjust: () => Promise.resolve(),
  };
  const rates = withFailureMode(healthy, "open", (e) => errors.push(e));
  assert.deepEqual(await rates.take([bucket]), rejection);
  await rates.adjust("a", 10, 1);
  assert.deepEqual(errors, []);
});

test("a LimitSpecError is the caller's bug: it propagates in both modes and is not counted as an outage", async () => {
  for (const mode of ["open", "closed"] as const) {
    const errors: unknown[] = [];
    const bug = new LimitSpecError("amount of a must be a number ≥ 0");
    const buggy: RateLimitStore = { ...brokenRates, take: () => Promise.reject(bug) };
    const rates = withFailureMode(buggy, mode, (e) => errors.push(e));
    await assert.rejects(rates.take([bucket]), bug);
    assert.deepEqual(errors, []);
  }
});

test("usage errors propagate (a report has no sensible default)", async () => {
  const errors: unknown[] = [];
  const budgets = withFailureMode(brokenBudgets, "open", (e) => errors.push(e));
  await assert.rejects(budgets.usage("b"), outage);
});

/** A loopback port with nothing listening. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function storesOn(
  t: TestContext,
  url: string,
  mode: FailureMode,
  onError: (e: unknown) => void,
  keyPrefix = "unused:",
) {
  const redis = createLimitsRedisClient(url, 200);
  t.after(() => closeRedis(redis));
  return {
    redis,
    rates: withFailureMode(new RedisRateLimits({ redis, keyPrefix }), mode, onError),
    budgets: withFailureMode(new RedisBudgets({ redis, keyPrefix }), mode, onError),
  };
}

for (const mode of ["open", "closed"] as const) {
  test(
    `Redis unreachable (closed port), ${mode}: every call settles, admission follows the mode`,
    NO_HANG,
    async (t) => {
      const errors: unknown[] = [];
      const { rates, budgets } = await storesOn(t, `redis://127.0.0.1:${await closedPort()}`, mode, (e) =>
        errors.push(e),
      );
      const take = await rates.take([bucket]);
      const reserve = await budgets.reserve([budget]);
      await rates.adjust(bucket.key, 10, 1);
      await budgets.settle([settlement]);
      if (mode === "open") {
        assert.equal(take.ok, true);
        assert.equal(reserve.ok, true);
      } else {
        assert.equal(!take.ok && take.unavailable, true);
        assert.equal(!reserve.ok && reserve.unavailable, true);
      }
      assert.equal(errors.length, 4, "onError once per failed call");
      for (const e of errors) assert.ok(e instanceof Error);
    },
  );
}

/**
 * A TCP proxy to the real Redis that can be frozen: connections stay open but
 * nothing more is forwarded, like a server that stops answering.
 */
async function freezableProxy(t: TestContext, target: string) {
  const { hostname, port } = new URL(target);
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    client.on("data", (chunk) => frozen || upstream.write(chunk));
    upstream.on("data", (chunk) => frozen || client.write(chunk));
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    url: `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    freeze: () => (frozen = true),
  };
}

for (const mode of ["open", "closed"] as const) {
  test(
    `Redis stops answering mid-connection, ${mode}: the command timeout answers instead of a hang`,
    NO_HANG,
    async (t) => {
      const ns = await redisNamespace(t);
      if (!ns) return;
      const proxy = await freezableProxy(t, REDIS_URL);
      const errors: unknown[] = [];
      const { redis, rates, budgets } = await storesOn(t, proxy.url, mode, (e) => errors.push(e), ns.prefix);
      await connected(redis);
      const healthy = await rates.take([bucket]);
      assert.equal(healthy.ok && healthy.remaining[bucket.key], 9, "through the proxy while it forwards");
      proxy.freeze();
      const take = await rates.take([bucket]);
      const reserve = await budgets.reserve([budget]);
      assert.equal(take.ok, mode === "open");
      assert.equal(reserve.ok, mode === "open");
      if (mode === "closed") assert.equal(!take.ok && take.unavailable, true);
      assert.equal(errors.length, 2);
      assert.match(String((errors[0] as Error).message), /timed out/i);
    },
  );
}
