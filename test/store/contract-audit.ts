import assert from "node:assert/strict";
import { test } from "node:test";
import type { AuditEvent, AuditListFilter, Store } from "../../src/store/store.ts";
import { StoreConflictError } from "../../src/store/store.ts";
import type { WithStore } from "./contract.ts";
import { makeAudit } from "./fixtures.ts";

const at = (minute: number) => new Date(Date.UTC(2025, 0, 10, 12, minute));

/** Seven events over six minutes: two share a time (their order is the append order). */
async function seed(store: Store): Promise<AuditEvent[]> {
  const events = [
    makeAudit({ id: "a1", time: at(0), actorKeyId: "key_x", action: "keys.create", outcome: "allowed" }),
    makeAudit({ id: "a2", time: at(1), actorKeyId: "key_y", action: "keys.revoke", outcome: "allowed" }),
    makeAudit({ id: "a3", time: at(2), actorKeyId: null, action: "config.reload", outcome: "error" }),
    makeAudit({ id: "a4", time: at(3), actorKeyId: "key_x", action: "inference.denied", outcome: "denied" }),
    makeAudit({ id: "a5", time: at(3), actorKeyId: "key_x", action: "keys.create", outcome: "denied" }),
    makeAudit({ id: "a6", time: at(5), actorKeyId: "key_y", action: "keys.create", outcome: "allowed" }),
    // appended last but older: "newest first" means by time, not by arrival
    makeAudit({ id: "a7", time: at(4), actorKeyId: "key_x", action: "keys.create", outcome: "allowed" }),
  ];
  for (const e of events) await store.audit.append(e);
  return events;
}

const ids = async (store: Store, filter: AuditListFilter) =>
  (await store.audit.list(filter)).map((e) => e.id);

export function auditContract(withStore: WithStore): void {
  test("audit: append then list returns every field, details typed as given", (t) =>
    withStore(t, async (store) => {
      const event = makeAudit({
        time: new Date("2025-03-04T05:06:07.891Z"),
        details: { reason: "scope exceeds creator", models: 3, bootstrap: true, ratio: 0.25 },
      });
      await store.audit.append(event);
      assert.deepEqual(await store.audit.list({ limit: 10 }), [event]);
    }));

  test("audit: a duplicate id is a StoreConflictError and is not appended twice", (t) =>
    withStore(t, async (store) => {
      const event = makeAudit();
      await store.audit.append(event);
      await assert.rejects(store.audit.append({ ...event, action: "other" }), StoreConflictError);
      assert.deepEqual(await store.audit.list({ limit: 10 }), [event]);
    }));

  test("audit: newest first by time, then by append order", (t) =>
    withStore(t, async (store) => {
      await seed(store);
      assert.deepEqual(await ids(store, { limit: 100 }), ["a6", "a7", "a5", "a4", "a3", "a2", "a1"]);
    }));

  test("audit: filters by actor, action, outcome and [since, until), alone and combined", (t) =>
    withStore(t, async (store) => {
      await seed(store);
      assert.deepEqual(await ids(store, { limit: 100, actorKeyId: "key_y" }), ["a6", "a2"]);
      assert.deepEqual(await ids(store, { limit: 100, action: "keys.create" }), ["a6", "a7", "a5", "a1"]);
      assert.deepEqual(await ids(store, { limit: 100, outcome: "denied" }), ["a5", "a4"]);
      assert.deepEqual(await ids(store, { limit: 100, since: at(3) }), ["a6", "a7", "a5", "a4"]);
      assert.deepEqual(await ids(store, { limit: 100, until: at(3) }), ["a3", "a2", "a1"]);
      assert.deepEqual(await ids(store, { limit: 100, since: at(1), until: at(4) }), [
        "a5",
        "a4",
        "a3",
        "a2",
      ]);
      assert.deepEqual(
        await ids(store, { limit: 100, actorKeyId: "key_x", action: "keys.create", outcome: "allowed" }),
        ["a7", "a1"],
      );
      assert.deepEqual(await ids(store, { limit: 100, actorKeyId: "key_nobody" }), []);
    }));

  test("audit: cursor paging with beforeId walks every event exactly once, also under a filter", (t) =>
    withStore(t, async (store) => {
      await seed(store);
      const walk = async (filter: Omit<AuditListFilter, "limit" | "beforeId">, limit: number) => {
        const pages: string[][] = [];
        let beforeId: string | undefined;
        for (;;) {
          const page = await ids(store, {
            ...filter,
            limit,
            ...(beforeId === undefined ? {} : { beforeId }),
          });
          if (page.length === 0) return pages;
          pages.push(page);
          beforeId = page.at(-1);
        }
      };
      assert.deepEqual(await walk({}, 3), [["a6", "a7", "a5"], ["a4", "a3", "a2"], ["a1"]]);
      assert.deepEqual(await walk({ actorKeyId: "key_x" }, 2), [
        ["a7", "a5"],
        ["a4", "a1"],
      ]);
      // the cursor sits between the two events sharing a time
      assert.deepEqual(await ids(store, { limit: 10, beforeId: "a5" }), ["a4", "a3", "a2", "a1"]);
      assert.deepEqual(await ids(store, { limit: 10, beforeId: "unknown" }), []);
    }));

  test("audit: limit caps the page; zero gives nothing; a negative limit is refused", (t) =>
    withStore(t, async (store) => {
      await seed(store);
      assert.deepEqual(await ids(store, { limit: 2 }), ["a6", "a7"]);
      assert.deepEqual(await ids(store, { limit: 0 }), []);
      await assert.rejects(store.audit.list({ limit: -1 }), RangeError);
    }));

  test("audit: append-only — the API has no way to change or remove an event", (t) =>
    withStore(t, async (store) => {
      const methods = new Set<string>();
      for (let o: object | null = store.audit; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
        for (const name of Object.getOwnPropertyNames(o)) {
          if (
            name !== "constructor" &&
            typeof (store.audit as unknown as Record<string, unknown>)[name] === "function"
          )
            methods.add(name);
        }
      }
      assert.deepEqual([...methods].sort(), ["append", "list"]);
      const event = makeAudit({ details: { n: 1 } });
      await store.audit.append(event);
      const [listed] = await store.audit.list({ limit: 1 });
      assert.ok(listed);
      listed.details.n = 2;
      listed.time.setTime(0);
      event.details.n = 3;
      assert.deepEqual(await store.audit.list({ limit: 1 }), [{ ...event, details: { n: 1 } }]);
    }));

  test("audit: an event with a non-primitive detail value is refused", (t) =>
    withStore(t, async (store) => {
      const bad = makeAudit({ details: { nested: { a: 1 } as unknown as string } });
      await assert.rejects(store.audit.append(bad), RangeError);
      assert.deepEqual(await store.audit.list({ limit: 10 }), []);
    }));
}
