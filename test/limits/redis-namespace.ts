import { randomUUID } from "node:crypto";
import type { TestContext } from "node:test";
import { Redis } from "ioredis";
import { createLimitsRedisClient } from "../../src/limits/redis-client.ts";
import { REDIS_URL, requireRedis } from "../helpers/services.ts";

export type RedisNamespace = {
  /** A key prefix no other test (or test file) uses. */
  prefix: string;
  /** A fresh client per call: several clients stand for several gateway replicas. */
  client(): Redis;
};

/**
 * For a test needing Redis: skips (or fails under CI) when it is unreachable,
 * otherwise hands out clients and a random key prefix, and afterwards deletes
 * every key under the prefix and closes the clients.
 */
export async function redisNamespace(t: TestContext): Promise<RedisNamespace | undefined> {
  if (!(await requireRedis(t))) return undefined;
  const prefix = `test:limits:${randomUUID()}:`;
  const clients: Redis[] = [];
  t.after(async () => {
    const admin = new Redis(REDIS_URL);
    let cursor = "0";
    do {
      const [next, keys] = await admin.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      if (keys.length > 0) await admin.del(...keys);
      cursor = next;
    } while (cursor !== "0");
    await admin.quit();
    for (const c of clients) c.disconnect();
  });
  return {
    prefix,
    client() {
      const c = createLimitsRedisClient(REDIS_URL, 2000);
      clients.push(c);
      return c;
    },
  };
}

/** Waits until a client made by `redisNamespace` is connected (it has no offline queue). */
export async function connected(redis: Redis): Promise<Redis> {
  if (redis.status !== "ready") await new Promise((resolve) => redis.once("ready", resolve));
  return redis;
}
