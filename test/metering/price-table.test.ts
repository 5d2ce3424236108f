import assert from "node:assert/strict";
import { test } from "node:test";
import { configSchema, type Price } from "../../src/config/schema.ts";
import { DEFAULT_PRICES } from "../../src/metering/default-prices.ts";
import { billedTokens, PriceTable } from "../../src/metering/price-table.ts";

const table = new PriceTable({});

/** Every class with its own rate, so a token priced in the wrong class changes the total. */
const FULL: Price = {
  input: 3,
  output: 15,
  cacheRead: 0.3,
  cacheWrite: 3.75,
  cacheWrite1h: 6,
  reasoning: 20,
  audioInput: 10,
  imageInput: 5,
  perRequest: 0.001,
};

const USAGE = {
  inputTokens: 1000,
  cachedInputTokens: 200,
  cacheWriteTokens: 300,
  cacheWrite1hTokens: 100,
  audioInputTokens: 50,
  imageInputTokens: 60,
  outputTokens: 500,
  reasoningTokens: 120,
};

test("price table: each token class is priced once, at its own rate", () => {
  assert.deepEqual(billedTokens(USAGE), {
    input: 390, // 1000 − 200 read − 300 written − 50 audio − 60 image
    cacheRead: 200,
    cacheWrite: 200, // the 5-minute writes: 300 − 100 one-hour
    cacheWrite1h: 100,
    audioInput: 50,
    imageInput: 60,
    output: 380, // 500 − 120 reasoning
    reasoning: 120,
  });
  const expected = 390 * 3 + 200 * 0.3 + 200 * 3.75 + 100 * 6 + 50 * 10 + 60 * 5 + 380 * 15 + 120 * 20 + 1000; // + $0.001
  assert.equal(expected, 12480);
  assert.equal(table.costMicroUsd(FULL, USAGE), 12480);
});

test("price table: unset classes fall back — reads and writes and media to input, reasoning to output, 1h writes to 5m", () => {
  const plain: Price = { input: 2, output: 8, perRequest: 0 };
  assert.equal(table.costMicroUsd(plain, USAGE), 1000 * 2 + 500 * 8, "as if there were no classes");
  const writesOnly: Price = { input: 2, output: 8, cacheWrite: 2.5, perRequest: 0 };
  assert.equal(
    table.costMicroUsd(writesOnly, USAGE),
    700 * 2 + 300 * 2.5 + 500 * 8,
    "one-hour writes at the cacheWrite rate when they have none",
  );
  const legacy: Price = { input: 2, cachedInput: 0.5, output: 8, perRequest: 0 };
  assert.equal(table.costMicroUsd(legacy, USAGE), 800 * 2 + 200 * 0.5 + 500 * 8, "cachedInput = cacheRead");
});

test("price table: a class larger than what is left of its total is capped, so no token is billed twice", () => {
  const quirky = {
    inputTokens: 100,
    cachedInputTokens: 80,
    cacheWriteTokens: 50, // only 20 left after the reads
    cacheWrite1hTokens: 70, // more than the writes
    outputTokens: 10,
    reasoningTokens: 40,
  };
  assert.deepEqual(billedTokens(quirky), {
    input: 0,
    cacheRead: 80,
    cacheWrite: 0,
    cacheWrite1h: 20,
    audioInput: 0,
    imageInput: 0,
    output: 0,
    reasoning: 10,
  });
  const billed = Object.values(billedTokens(quirky)).reduce((a, b) => a + b, 0);
  assert.equal(billed, quirky.inputTokens + quirky.outputTokens);
  assert.deepEqual(billedTokens({ inputTokens: -5, outputTokens: Number.NaN, cachedInputTokens: 2.7 }), {
    input: 0,
    cacheRead: 0,
    cacheWrite: 0,
    cacheWrite1h: 0,
    audioInput: 0,
    imageInput: 0,
    output: 0,
    reasoning: 0,
  });
});

test("price table: integer arithmetic, one half-up rounding per request (no float drift)", () => {
  const p = (input: number): Price => ({ input, output: 0, perRequest: 0 });
  // In floating point 0.145 × 100 is 14.4999…, which Math.round takes down to 14; the exact cost is 14.5.
  assert.equal(0.145 * 100 < 14.5, true);
  assert.equal(table.costMicroUsd(p(0.145), { inputTokens: 100, outputTokens: 0, cachedInputTokens: 0 }), 15);
  const mini = DEFAULT_PRICES["gpt-4o-mini"]!;
  const one = (input: number, cached: number, output: number) =>
    table.costMicroUsd(mini, { inputTokens: input, cachedInputTokens: cached, outputTokens: output });
  assert.equal(one(3, 0, 0), 0, "0.45 µUSD rounds down");
  assert.equal(one(4, 0, 0), 1, "0.6 µUSD rounds up");
  assert.equal(one(0, 0, 0), 0);
  // 1234 uncached × 0.15 + 1000 cached × 0.075 + 777 × 0.6 = 185.1 + 75 + 466.2 = 726.3
  assert.equal(one(2234, 1000, 777), 726);
  // Large counts stay exact: 2^40 output tokens at $75/M.
  const opus = DEFAULT_PRICES["claude-opus-4-1"]!;
  assert.equal(
    table.costMicroUsd(opus, { inputTokens: 0, cachedInputTokens: 0, outputTokens: 2 ** 40 }),
    75 * 2 ** 40,
  );
});

test("price table: the served service tier is priced at its own rates, else base × its multiplier", () => {
  const tiered: Price = {
    ...FULL,
    perRequest: 0,
    serviceTiers: { flex: { multiplier: 0.5 }, priority: { multiplier: 2, output: 40 } },
  };
  const usage = { inputTokens: 1000, cachedInputTokens: 200, outputTokens: 500, reasoningTokens: 100 };
  const base = 800 * 3 + 200 * 0.3 + 400 * 15 + 100 * 20; // 10460
  assert.equal(table.costMicroUsd(tiered, usage), base);
  assert.equal(table.costMicroUsd(tiered, usage, "default"), base);
  assert.equal(table.costMicroUsd(tiered, usage, "auto"), base);
  assert.equal(table.costMicroUsd(tiered, usage, "flex"), base / 2);
  assert.equal(
    table.costMicroUsd(tiered, usage, "priority"),
    800 * 6 + 200 * 0.6 + 400 * 40 + 100 * 40,
    "the tier's own output rate, every other class doubled",
  );
  const noTiers: Price = { ...FULL, perRequest: 0 };
  assert.equal(table.costMicroUsd(noTiers, usage, "flex"), base, "a tier without a price pays the base");
  assert.equal(
    table.costMicroUsd(
      DEFAULT_PRICES["gpt-5"]!,
      { inputTokens: 10_000, cachedInputTokens: 0, outputTokens: 0 },
      "flex",
    ),
    6250,
    "gpt-5 flex: half of $1.25/M",
  );
});

test("price table: looked up by backend/model first, then by model", () => {
  const prices = new PriceTable({
    m: { input: 1, output: 1, perRequest: 0 },
    "b/m": { input: 2, output: 2, perRequest: 0 },
  });
  assert.equal(prices.priceOf("b", "m")?.input, 2);
  assert.equal(prices.priceOf("other", "m")?.input, 1);
  assert.equal(prices.priceOf("b", "x"), undefined);
});

test("config: prices take every class and flex/priority tiers; typos and a doubled cache-read name are refused", () => {
  const base = { backends: {}, routes: {} };
  const parsed = configSchema.parse({
    ...base,
    prices: {
      "gpt-5": { input: 1.25, cacheRead: 0.125, output: 10, serviceTiers: { flex: { multiplier: 0.5 } } },
      claude: {
        input: 3,
        output: 15,
        cacheWrite: 3.75,
        cacheWrite1h: 6,
        reasoning: 15,
        audioInput: 3,
        imageInput: 3,
      },
    },
  });
  assert.deepEqual(parsed.prices["gpt-5"], {
    input: 1.25,
    cacheRead: 0.125,
    output: 10,
    perRequest: 0,
    serviceTiers: { flex: { multiplier: 0.5 } },
  });
  const refused = (price: unknown) => !configSchema.safeParse({ ...base, prices: { m: price } }).success;
  assert.ok(refused({ input: 1, cacheRead: 0.1, cachedInput: 0.1 }));
  assert.ok(refused({ input: 1, cacheReads: 0.1 }));
  assert.ok(refused({ input: 1, serviceTiers: { batch: { multiplier: 0.5 } } }));
  assert.ok(refused({ input: 1, serviceTiers: { flex: { multiplier: -1 } } }));
  assert.ok(refused({ input: -1 }));
  assert.ok(!refused({ input: 1, cachedInput: 0.1 }), "the former name alone still loads");
});

test("bundled prices: the example config's models are priced, Anthropic with its cache-write tiers", () => {
  for (const model of ["gpt-4o-mini", "claude-haiku-4-5", "mistral-small-latest", "text-embedding-3-small"])
    assert.ok(DEFAULT_PRICES[model], `${model} has a bundled price`);
  const haiku = DEFAULT_PRICES["claude-haiku-4-5"]!;
  assert.deepEqual(
    [haiku.input, haiku.cacheRead, haiku.cacheWrite, haiku.cacheWrite1h, haiku.output],
    [1, 0.1, 1.25, 2, 5],
  );
  for (const [model, price] of Object.entries(DEFAULT_PRICES))
    assert.ok(
      configSchema.safeParse({ backends: {}, routes: {}, prices: { [model]: price } }).success,
      model,
    );
});
