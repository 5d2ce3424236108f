import type { CachedResponse } from "./cache-entry.ts";

/**
 * Where cached answers live. A store never throws to the request: an unreachable or failing
 * backend answers `get` with a miss and drops a `set`.
 */
export interface CacheStore {
  /** The entry, or undefined on a miss, an expired entry, or a store failure. */
  get(key: string): Promise<CachedResponse | undefined>;
  /** Stores for `ttlMs` (a non-positive or non-finite TTL stores nothing), replacing any entry. */
  set(key: string, entry: CachedResponse, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
}
