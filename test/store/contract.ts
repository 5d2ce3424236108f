import { describe, type TestContext } from "node:test";
import type { Store } from "../../src/store/store.ts";
import { auditContract } from "./contract-audit.ts";
import { keyContract } from "./contract-keys.ts";
import { ledgerContract } from "./contract-ledger.ts";

export type StoreFactory = () => Promise<Store>;

/** Runs before each contract test; returns false when the test was skipped (e.g. no PostgreSQL here). */
export type StoreGuard = (t: TestContext) => Promise<boolean>;

/** Opens a fresh, empty store for one test and always closes it. */
export type WithStore = (t: TestContext, body: (store: Store) => Promise<void>) => Promise<void>;

/**
 * The behaviour every Store backend must share. Each backend's test file
 * calls this with a factory that opens a fresh, empty store per call.
 */
export function storeContract(name: string, open: StoreFactory, guard?: StoreGuard): void {
  const withStore: WithStore = async (t, body) => {
    if (guard && !(await guard(t))) return;
    const store = await open();
    try {
      await body(store);
    } finally {
      await store.close();
    }
  };
  describe(`${name} store contract`, () => {
    keyContract(withStore);
    auditContract(withStore);
    ledgerContract(withStore);
  });
}
