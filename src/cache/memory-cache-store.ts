import { type CachedResponse, entryBytes } from "./cache-entry.ts";
import type { CacheStore } from "./cache-store.ts";

export type MemoryCacheStoreOptions = {
  /** Total bytes held (encoded entry sizes plus keys); least recently used entries go first. */
  maxBytes: number;
  /** An entry larger than this is not stored (default: maxBytes). */
  maxEntryBytes?: number;
  /** Injected clock, epoch ms (default Date.now). */
  now?: () => number;
};

type Slot = { entry: CachedResponse; expiresAt: number; bytes: number };

/**
 * An in-process LRU cache bounded by bytes. The Map's insertion order is the recency order (a hit
 * re-inserts), so get, set and each eviction are O(1). Expired entries are never returned; they
 * are dropped when looked up or when they reach the old end. Entries are shared, not copied: a
 * caller must not mutate what it stored or got.
 */
export class MemoryCacheStore implements CacheStore {
  readonly #slots = new Map<string, Slot>();
  readonly #maxBytes: number;
  readonly #maxEntryBytes: number;
  readonly #now: () => number;
  #bytes = 0;

  constructor(options: MemoryCacheStoreOptions) {
    this.#maxBytes = options.maxBytes;
    this.#maxEntryBytes = Math.min(options.maxEntryBytes ?? options.maxBytes, options.maxBytes);
    this.#now = options.now ?? Date.now;
  }

  /** Entries held, expired ones not yet dropped included. */
  get size(): number {
    return this.#slots.size;
  }

  /** Bytes held by the entries counted in `size`. */
  get bytes(): number {
    return this.#bytes;
  }

  get(key: string): Promise<CachedResponse | undefined> {
    const slot = this.#slots.get(key);
    if (!slot) return Promise.resolve(undefined);
    this.#drop(key, slot);
    if (this.#now() >= slot.expiresAt) return Promise.resolve(undefined);
    this.#insert(key, slot);
    return Promise.resolve(slot.entry);
  }

  set(key: string, entry: CachedResponse, ttlMs: number): Promise<void> {
    const old = this.#slots.get(key);
    // Whatever happens below, the old answer is replaced: a set that cannot store must not leave it.
    if (old) this.#drop(key, old);
    if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) return Promise.resolve();
    // Keys count as UTF-16 (2 bytes a unit): an upper bound, no encoding pass needed.
    const bytes = entryBytes(entry) + key.length * 2;
    if (bytes > this.#maxEntryBytes) return Promise.resolve();
    this.#insert(key, { entry, expiresAt: this.#now() + ttlMs, bytes });
    for (const [oldest, slot] of this.#slots) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#drop(oldest, slot);
    }
    return Promise.resolve();
  }

  delete(key: string): Promise<void> {
    const slot = this.#slots.get(key);
    if (slot) this.#drop(key, slot);
    return Promise.resolve();
  }

  #insert(key: string, slot: Slot): void {
    this.#slots.set(key, slot);
    this.#bytes += slot.bytes;
  }

  #drop(key: string, slot: Slot): void {
    this.#slots.delete(key);
    this.#bytes -= slot.bytes;
  }
}
