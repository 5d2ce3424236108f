import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import net from "node:net";
import { type TestContext, test } from "node:test";
import { Redis } from "ioredis";
import type { CachedResponse } from "../../src/cache/cache-entry.ts";
import { cacheKeyOf } from "../../src/cache/cache-key.ts";
import { RedisCacheStore } from "../../src/cache/redis-cache-store.ts";
import { closeRedis, createLimitsRedisClient, whenReady } from "../../src/limits/redis-client.ts";
import type { GenerationRequest } from "../../src/pipeline/pipeline.ts";
import { REDIS_URL, requireRedis } from "../helpers/services.ts";

const entry = (text: string): CachedResponse => ({
  events: [
    { type: "text", text },
    { type: "usage", usage: { inputTokens: 3, outputTokens: 1, cachedInputTokens: 0 } },
    { type: "finish", reason: "stop", model: "m" },
  ],
  storedAt: 1_700_000_000_000,
});

/** A store under a prefix no other test run uses; every key under it is deleted afterwards. */
async function storeFor(
  t: TestContext,
  options: { maxEntryBytes?: number } = {},
): Promise<{ store: RedisCacheStore; admin: Redis; prefix: string } | undefined> {
  if (!(await requireRedis(t))) return undefined;
  const prefix = `test:cache:${randomUUID()}:`;
  const redis = createLimitsRedisClient(REDIS_URL, 2000);
  const admin = new Redis(REDIS_URL);
  t.after(async () => {
    let cursor = "0";
    do {
      const [next, keys] = await admin.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      if (keys.length > 0) await admin.del(...keys);
      cursor = next;
    } while (cursor !== "0");
    await admin.quit();
    await closeRedis(redis);
  });
  assert.ok(await whenReady(redis, 5_000), "the test client connects");
  return { store: new RedisCacheStore({ redis, keyPrefix: prefix, ...options }), admin, prefix };
}

/** Polls until `check` holds (bounded), instead of sleeping a guessed time. */
async function eventually(check: () => Promise<boolean>, limitMs = 5_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > until) assert.fail("condition not reached");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("redis store: hit, miss, delete, and the value is encoded under the prefixed key with PX", async (t) => {
  const s = await storeFor(t);
  if (!s) return;
  await s.store.set("k1", entry("hello"), 60_000);
  assert.deepEqual(await s.store.get("k1"), entry("hello"));
  assert.equal(await s.store.get("k2"), undefined);
  const pttl = await s.admin.pttl(`${s.prefix}k1`);
  assert.ok(pttl > 0 && pttl <= 60_000, `PTTL ${pttl}`);
  assert.equal(await s.admin.exists("k1"), 0, "nothing outside the prefix");
  await s.store.delete("k1");
  assert.equal(await s.store.get("k1"), undefined);
  assert.equal(s.store.errors, 0);
});

test("redis store: an entry expires after its TTL", async (t) => {
  const s = await storeFor(t);
  if (!s) return;
  await s.store.set("short", entry("x"), 50);
  const pttl = await s.admin.pttl(`${s.prefix}short`);
  assert.ok(pttl <= 50, `PTTL ${pttl}`);
  await eventually(async () => (await s.store.get("short")) === undefined);
  assert.equal(await s.admin.exists(`${s.prefix}short`), 0);
  // A fractional TTL is rounded up, not rejected by Redis.
  await s.store.set("frac", entry("x"), 60_000.4);
  assert.ok(await s.store.get("frac"));
  // Non-positive TTLs store nothing.
  await s.store.set("zero", entry("x"), 0);
  assert.equal(await s.admin.exists(`${s.prefix}zero`), 0);
  assert.equal(s.store.errors, 0);
});

test("redis store: two teams asking the same thing never share an entry", async (t) => {
  const s = await storeFor(t);
  if (!s) return;
  const request: GenerationRequest = {
    requestedModel: "m",
    messages: [{ role: "user", content: "same question" }],
    tools: [],
    sampling: {},
    metadata: {},
  };
  const a = cacheKeyOf({ team: "a", by: "team" }, "chat", request);
  const b = cacheKeyOf({ team: "b", by: "team" }, "chat", request);
  await s.store.set(a, entry("team a's answer"), 60_000);
  assert.deepEqual(await s.store.get(a), entry("team a's answer"));
  assert.equal(await s.store.get(b), undefined);
});

test("redis store: an entry over maxEntryBytes is not stored", async (t) => {
  const s = await storeFor(t, { maxEntryBytes: 300 });
  if (!s) return;
  await s.store.set("big", entry("x".repeat(400)), 60_000);
  assert.equal(await s.admin.exists(`${s.prefix}big`), 0);
  await s.store.set("small", entry("x"), 60_000);
  assert.ok(await s.store.get("small"));
});

test("redis store: an unreadable value is a miss, counted as corrupt", async (t) => {
  const s = await storeFor(t);
  if (!s) return;
  await s.admin.set(`${s.prefix}junk`, "not an entry", "PX", 60_000);
  await s.admin.set(`${s.prefix}other`, '{"v":99,"storedAt":0,"events":[]}', "PX", 60_000);
  assert.equal(await s.store.get("junk"), undefined);
  assert.equal(await s.store.get("other"), undefined);
  assert.equal(s.store.corrupt, 2);
  assert.equal(s.store.errors, 0);
});

test("redis store: a closed client gives misses and swallows writes, counting errors", async (t) => {
  if (!(await requireRedis(t))) return;
  const redis = createLimitsRedisClient(REDIS_URL, 500);
  assert.ok(await whenReady(redis, 5_000));
  await closeRedis(redis);
  const store = new RedisCacheStore({ redis });
  assert.equal(await store.get("k"), undefined);
  await store.set("k", entry("x"), 60_000);
  await store.delete("k");
  assert.equal(store.errors, 3);
});

test("redis store: an unreachable Redis gives misses and swallows writes, counting errors", async () => {
  // Port 1 on loopback: nothing listens, so the connection is refused (no Redis needed).
  const redis = createLimitsRedisClient("redis://127.0.0.1:1", 200);
  try {
    const store = new RedisCacheStore({ redis });
    assert.equal(await store.get("k"), undefined);
    await store.set("k", entry("x"), 60_000);
    assert.equal(store.errors, 2);
  } finally {
    await closeRedis(redis);
  }
});

test("redis store: a Redis that stops answering times out into a miss and a dropped write", async (t) => {
  if (!(await requireRedis(t))) return;
  // A proxy to the real Redis that, once the client is ready, swallows everything it is sent.
  const { hostname, port: redisPort } = new URL(REDIS_URL);
  let frozen = false;
  const sockets: net.Socket[] = [];
  const proxy = net.createServer((client) => {
    const upstream = net.connect({ host: hostname, port: Number(redisPort) });
    sockets.push(client, upstream);
    client.on("data", (d) => {
      if (!frozen) upstream.write(d);
    });
    upstream.on("data", (d) => client.write(d));
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const redis = createLimitsRedisClient(
    `redis://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`,
    100,
  );
  t.after(() => {
    redis.disconnect();
    for (const s of sockets) s.destroy();
    proxy.close();
  });
  assert.ok(await whenReady(redis, 5_000), "connected through the proxy");
  const store = new RedisCacheStore({ redis });
  // A unique key that expires on its own: this store has no prefix to clean up under.
  await store.set(`test:cache:${randomUUID()}:probe`, entry("x"), 1_000);
  assert.equal(store.errors, 0, "the proxy forwards while not frozen");
  frozen = true;
  assert.equal(await store.get("k"), undefined);
  await store.set("k", entry("x"), 60_000);
  assert.equal(store.errors, 2);
});
