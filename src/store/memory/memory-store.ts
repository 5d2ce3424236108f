import type { Store } from "../store.ts";
import { MemoryAuditStore } from "./audit-store.ts";
import { MemoryKeyStore } from "./key-store.ts";
import { MemoryLedgerStore } from "./ledger-store.ts";

/** For unit tests and throwaway runs: nothing survives the process. */
export function openMemoryStore(): Store {
  return {
    kind: "memory",
    keys: new MemoryKeyStore(),
    audit: new MemoryAuditStore(),
    ledger: new MemoryLedgerStore(),
    close: async () => {},
  };
}
