import { openMemoryStore } from "./memory/memory-store.ts";
import { openPostgresStore } from "./postgres/postgres-store.ts";
import { openSqliteStore } from "./sqlite/sqlite-store.ts";
import type { Store, StoreConfig } from "./store.ts";

/** Opens the configured backend, applying pending migrations before it is returned. */
export async function openStore(config: StoreConfig): Promise<Store> {
  switch (config.type) {
    case "memory":
      return openMemoryStore();
    case "sqlite":
      return openSqliteStore(config.path);
    case "postgres": {
      const { url, schema, poolSize } = config;
      return openPostgresStore({
        url,
        ...(schema === undefined ? {} : { schema }),
        ...(poolSize === undefined ? {} : { poolSize }),
      });
    }
  }
}
