import type { ApiKeyRecord, KeyListFilter, KeyStore } from "../store.ts";
import { StoreConflictError } from "../store.ts";
import { checkDate, checkKey } from "../validate.ts";
import { cloneKey } from "./clone.ts";

export class MemoryKeyStore implements KeyStore {
  readonly #byId = new Map<string, ApiKeyRecord>();
  readonly #idByDigest = new Map<string, string>();

  async create(key: ApiKeyRecord): Promise<void> {
    checkKey(key);
    if (this.#byId.has(key.id)) throw new StoreConflictError("api key", "id");
    if (this.#idByDigest.has(key.digest)) throw new StoreConflictError("api key", "digest");
    this.#byId.set(key.id, cloneKey(key));
    this.#idByDigest.set(key.digest, key.id);
  }

  async findByDigest(digest: string): Promise<ApiKeyRecord | undefined> {
    const id = this.#idByDigest.get(digest);
    return id === undefined ? undefined : this.get(id);
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const key = this.#byId.get(id);
    return key && cloneKey(key);
  }

  async list(filter: KeyListFilter): Promise<ApiKeyRecord[]> {
    return [...this.#byId.values()]
      .filter(
        (k) =>
          (filter.team === undefined || k.team === filter.team) && (filter.includeRevoked || !k.revokedAt),
      )
      .sort(
        (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
      )
      .map(cloneKey);
  }

  async revoke(id: string, at: Date): Promise<boolean> {
    checkDate(at, "revokedAt");
    const key = this.#byId.get(id);
    if (!key || key.revokedAt) return false;
    key.revokedAt = new Date(at.getTime());
    return true;
  }

  async count(): Promise<number> {
    return this.#byId.size;
  }
}
