import type { Config } from "../config/schema.ts";
import { createLimitsRedisClient } from "../limits/redis-client.ts";
import type { CacheStore } from "./cache-store.ts";
import { MemoryCacheStore } from "./memory-cache-store.ts";
import { RedisCacheStore } from "./redis-cache-store.ts";

/**
 * The response cache's store from `policies.cacheStore`, made once at start-up (like the limit
 * store, a reload does not move it). Redis gets its own fail-fast client: a cache that is down is a
 * miss, never a wait.
 */
export function createCacheStore(config: Config["policies"]["cacheStore"]): {
  store: CacheStore;
  maxEntryBytes: number;
  close(): Promise<void>;
} {
  if (config.type === "memory")
    return {
      store: new MemoryCacheStore({ maxBytes: config.maxBytes, maxEntryBytes: config.maxEntryBytes }),
      maxEntryBytes: config.maxEntryBytes,
      close: async () => {},
    };
  const redis = createLimitsRedisClient(config.url);
  return {
    store: new RedisCacheStore({ redis, keyPrefix: config.keyPrefix, maxEntryBytes: config.maxEntryBytes }),
    maxEntryBytes: config.maxEntryBytes,
    close: async () => {
      redis.disconnect();
    },
  };
}
