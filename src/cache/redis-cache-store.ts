import type { Redis } from "ioredis";
import { type CachedResponse, decodeEntry, encodeEntry } from "./cache-entry.ts";
import type { CacheStore } from "./cache-store.ts";

export type RedisCacheStoreOptions = {
  /** A client from createLimitsRedisClient (no offline queue, short command timeout), owned by the caller. */
  redis: Redis;
  /** An encoded entry larger than this is not stored (default: no limit of ours). */
  maxEntryBytes?: number;
  /** Prepended to every key (default none), so several deployments or tests can share one Redis. */
  keyPrefix?: string;
};

/**
 * Cached answers shared by every replica: `SET key value PX ttl` and `GET`, values encoded with
 * encodeEntry. A cache is an optimisation, so Redis trouble never reaches the request: a failed
 * GET is a miss, a failed SET or DELETE is dropped. Each is counted in `errors` (for a metric),
 * and an unreadable value in `corrupt`.
 */
export class RedisCacheStore implements CacheStore {
  readonly #redis: Redis;
  readonly #maxEntryBytes: number;
  readonly #prefix: string;
  /** Redis commands that failed (connection down, timeout, server error). */
  errors = 0;
  /** Values found that did not decode (another encoding version, a foreign write): served as misses. */
  corrupt = 0;

  constructor(options: RedisCacheStoreOptions) {
    this.#redis = options.redis;
    this.#maxEntryBytes = options.maxEntryBytes ?? Number.POSITIVE_INFINITY;
    this.#prefix = options.keyPrefix ?? "";
  }

  async get(key: string): Promise<CachedResponse | undefined> {
    let value: Buffer | null;
    try {
      value = await this.#redis.getBuffer(this.#prefix + key);
    } catch {
      this.errors++;
      return undefined;
    }
    if (value === null) return undefined;
    const entry = decodeEntry(value);
    if (!entry) this.corrupt++;
    return entry;
  }

  async set(key: string, entry: CachedResponse, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) return;
    const value = encodeEntry(entry);
    if (value.byteLength > this.#maxEntryBytes) return;
    try {
      // PX takes whole milliseconds; rounding up keeps a 0.5 ms TTL from being an error.
      await this.#redis.set(this.#prefix + key, value, "PX", Math.ceil(ttlMs));
    } catch {
      this.errors++;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#redis.del(this.#prefix + key);
    } catch {
      this.errors++;
    }
  }
}
