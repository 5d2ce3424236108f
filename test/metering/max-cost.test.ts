import assert from "node:assert/strict";
import { test } from "node:test";
import type { Price } from "../../src/config/schema.ts";
import { maxCostMicroUsd } from "../../src/metering/max-cost.ts";
import { PriceTable } from "../../src/metering/price-table.ts";

const table = new PriceTable({});
const estimate = { inputTokens: 1000, outputTokens: 500 };

test("max cost: plain input and output when no class or tier costs more", () => {
  const plain: Price = { input: 2, cacheRead: 0.5, output: 8, perRequest: 0 };
  assert.equal(maxCostMicroUsd(table, [plain], estimate), 1000 * 2 + 500 * 8);
  assert.equal(maxCostMicroUsd(table, [undefined], estimate), 0, "an unpriced target adds nothing");
  assert.equal(maxCostMicroUsd(table, [], estimate), 0);
});

test("max cost: input as one-hour cache writes and output as reasoning when those cost more", () => {
  const claude: Price = {
    input: 3,
    cacheRead: 0.3,
    cacheWrite: 3.75,
    cacheWrite1h: 6,
    output: 15,
    perRequest: 0,
  };
  assert.equal(maxCostMicroUsd(table, [claude], estimate), 1000 * 6 + 500 * 15);
  const thinker: Price = { input: 1, output: 4, reasoning: 10, perRequest: 0 };
  assert.equal(maxCostMicroUsd(table, [thinker], estimate), 1000 + 500 * 10);
});

test("max cost: the dearest tier and the dearest target", () => {
  const tiered: Price = {
    input: 1,
    output: 4,
    perRequest: 0,
    serviceTiers: { flex: { multiplier: 0.5 }, priority: { multiplier: 1.8 } },
  };
  assert.equal(
    maxCostMicroUsd(table, [tiered], estimate),
    (1000 + 2000) * 1.8,
    "priority may serve an auto request",
  );
  const cheap: Price = { input: 0.1, output: 0.1, perRequest: 0 };
  assert.equal(maxCostMicroUsd(table, [cheap, tiered, undefined], estimate), 5400);
});
