import { GatewayError } from "../errors/gateway-error.ts";
import type { ApiKeyRecord, KeyStore } from "../store/store.ts";
import { bearerOf, digestOf, digestsEqual, keyIdOf } from "./api-key.ts";
import type { Principal } from "./principal.ts";

/**
 * Turns `authorization: Bearer <key>` into a Principal. Lookups are cached
 * for `cacheTtlMs` (positive and negative), which is the bound on how long a
 * revocation takes to reach every replica. The key itself is never logged,
 * cached or echoed: the cache is keyed by digest.
 */
export class Authenticator {
  readonly #keys: KeyStore;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { record: ApiKeyRecord | undefined; until: number }>();

  constructor(keys: KeyStore, ttlMs: number, now: () => number = Date.now) {
    this.#keys = keys;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  async authenticate(headers: Headers): Promise<Principal> {
    const secret = bearerOf(headers);
    if (!secret) {
      throw new GatewayError("unauthenticated", "missing API key: send `authorization: Bearer <key>`");
    }
    const id = keyIdOf(secret);
    if (!id) throw new GatewayError("unauthenticated", "invalid API key");
    const digest = digestOf(secret);
    const record = await this.#lookup(id, digest);
    // Constant time on digests; the lookup itself went by id, which is not secret.
    if (!record || !digestsEqual(record.digest, digest))
      throw new GatewayError("unauthenticated", "invalid API key");
    const now = this.#now();
    if (record.revokedAt && record.revokedAt.getTime() <= now) {
      throw new GatewayError("unauthenticated", "API key is revoked");
    }
    if (record.expiresAt && record.expiresAt.getTime() <= now) {
      throw new GatewayError("unauthenticated", "API key has expired");
    }
    return principalOf(record);
  }

  /** Forget cached lookups (after a revocation on this replica, so it applies here at once). */
  invalidate(): void {
    this.#cache.clear();
  }

  async #lookup(id: string, digest: string): Promise<ApiKeyRecord | undefined> {
    const now = this.#now();
    const hit = this.#cache.get(digest);
    if (hit && hit.until > now) return hit.record;
    const record = await this.#keys.get(id);
    if (this.#cache.size > 10_000) this.#cache.clear(); // bounded: a flood of bad keys cannot grow it forever
    this.#cache.set(digest, { record, until: now + this.#ttlMs });
    return record;
  }
}

export function principalOf(record: ApiKeyRecord): Principal {
  return {
    keyId: record.id,
    name: record.name,
    team: record.team ?? undefined,
    roles: record.roles,
    workloads: record.workloads,
    models: record.models,
    expiresAt: record.expiresAt ?? undefined,
  };
}
