import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MemoryBudgets } from "../../src/limits/memory-budgets.ts";
import { budgetContract } from "./budget-contract.ts";

budgetContract("memory", async (t) => {
  const store = new MemoryBudgets();
  t.after(() => store.close());
  return store;
});

const T0 = Date.parse("2026-11-24T12:00:00Z");

test("memory: usage expires at expiresAt by the injected clock, and expired budgets are swept", async () => {
  let now = T0;
  const store = new MemoryBudgets({ now: () => now });
  const expiresAt = new Date(T0 + 60_000);
  await store.reserve([{ key: "b", limitMicroUsd: 100, amountMicroUsd: 100, expiresAt }]);
  now = T0 + 59_999;
  assert.deepEqual(await store.usage("b"), { spentMicroUsd: 0, reservedMicroUsd: 100 });
  now = T0 + 60_000;
  assert.deepEqual(await store.usage("b"), { spentMicroUsd: 0, reservedMicroUsd: 0 });
  const far = new Date(T0 + 3_600_000);
  assert.deepEqual(
    await store.reserve([{ key: "b", limitMicroUsd: 100, amountMicroUsd: 100, expiresAt: far }]),
    {
      ok: true,
    },
  );
  assert.deepEqual(await store.usage("b"), { spentMicroUsd: 0, reservedMicroUsd: 100 }, "a fresh window");
  now = T0 + 3_600_000;
  const later = new Date(T0 + 7_200_000);
  for (let i = 0; i < 1024; i++) {
    await store.reserve([
      { key: `other-${i % 2}`, limitMicroUsd: 10_000, amountMicroUsd: 0, expiresAt: later },
    ]);
  }
  assert.equal(store.size, 2, "the expired budget was swept");
});

const amounts = fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 50 });

test("memory (property): concurrent reservations never overshoot, and none is refused needlessly", async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 50_000 }), amounts, async (limit, list) => {
      const store = new MemoryBudgets({ now: () => T0 });
      const expiresAt = new Date(T0 + 86_400_000);
      const results = await Promise.all(
        list.map((amountMicroUsd) =>
          store.reserve([{ key: "b", limitMicroUsd: limit, amountMicroUsd, expiresAt }]),
        ),
      );
      const granted = list.filter((_, i) => results[i]!.ok).reduce((a, b) => a + b, 0);
      assert.ok(granted <= limit);
      assert.deepEqual(await store.usage("b"), { spentMicroUsd: 0, reservedMicroUsd: granted });
      // Reservations only grew, so a refusal means the amount did not fit even in what is left now.
      list.forEach((amount, i) => {
        if (!results[i]!.ok) assert.ok(amount > limit - granted);
      });
    }),
  );
});

test("memory (property): with settlements at or below the reservation, spent + reserved ≤ limit always", async () => {
  const op = fc.oneof(
    fc.record({
      kind: fc.constant("reserve" as const),
      budget: fc.constantFrom("team", "key"),
      amount: fc.nat(3_000),
    }),
    fc.record({
      kind: fc.constant("settle" as const),
      pick: fc.nat(),
      share: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 10_000 }),
      fc.array(op, { maxLength: 80 }),
      async (limit, ops) => {
        const store = new MemoryBudgets({ now: () => T0 });
        const expiresAt = new Date(T0 + 86_400_000);
        const open: { keys: string[]; amount: number }[] = [];
        let spent = 0;
        for (const o of ops) {
          if (o.kind === "reserve") {
            // Every request charges the shared team budget and its own key's budget (half the limit).
            const specs = [
              { key: "team", limitMicroUsd: limit, amountMicroUsd: o.amount, expiresAt },
              { key: o.budget, limitMicroUsd: Math.floor(limit / 2), amountMicroUsd: o.amount, expiresAt },
            ].filter((s, i) => i === 0 || s.key !== "team");
            if ((await store.reserve(specs)).ok)
              open.push({ keys: specs.map((s) => s.key), amount: o.amount });
          } else if (open.length > 0) {
            const [done] = open.splice(o.pick % open.length, 1);
            const actual = Math.floor(done!.amount * o.share);
            spent += actual;
            await store.settle(
              done!.keys.map((key) => ({
                key,
                reservedMicroUsd: done!.amount,
                actualMicroUsd: actual,
                expiresAt,
              })),
            );
          }
          const team = await store.usage("team");
          assert.ok(team.spentMicroUsd + team.reservedMicroUsd <= limit);
          const key = await store.usage("key");
          assert.ok(key.spentMicroUsd + key.reservedMicroUsd <= Math.floor(limit / 2));
        }
        const team = await store.usage("team");
        assert.equal(team.spentMicroUsd, spent);
        assert.equal(
          team.reservedMicroUsd,
          open.reduce((a, r) => a + r.amount, 0),
        );
      },
    ),
  );
});
