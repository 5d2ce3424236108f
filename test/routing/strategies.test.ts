import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { newDecision } from "../../src/api/request-context.ts";
import { type CompiledTarget, compileConfig } from "../../src/config/compile.ts";
import { parseConfig } from "../../src/config/load.ts";
import { planRoute, type RequestFacts } from "../../src/routing/router.ts";
import { leastCost } from "../../src/routing/strategies/least-cost.ts";
import { leastLatency } from "../../src/routing/strategies/least-latency.ts";
import { weighted } from "../../src/routing/strategies/weighted.ts";
import { type StrategyInput, strategies } from "../../src/routing/strategy.ts";
import { createLogger } from "../../src/telemetry/logger.ts";

/** A small seeded PRNG (mulberry32) so each property run is reproducible from fast-check's seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const target = (name: string, extra: Partial<CompiledTarget> = {}) =>
  ({
    backend: { name },
    model: `${name}-m`,
    alias: undefined,
    weight: 1,
    contextWindow: undefined,
    ...extra,
  }) as CompiledTarget;

const input = (targets: CompiledTarget[], over: Partial<StrategyInput> = {}): StrategyInput => ({
  targets,
  estimate: { inputTokens: 100, outputTokens: 100 },
  random: Math.random,
  latencyOf: () => undefined,
  costOf: () => undefined,
  ...over,
});

test("weighted: first picks converge to the weights", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 2, maxLength: 5 }),
      fc.integer(),
      (weights, seed) => {
        const targets = weights.map((w, i) => target(`t${i}`, { weight: w }));
        const random = prng(seed);
        const picks = new Map<string, number>();
        const rounds = 6000;
        for (let i = 0; i < rounds; i++) {
          const first = weighted(input(targets, { random }))[0]!.backend.name;
          picks.set(first, (picks.get(first) ?? 0) + 1);
        }
        const total = weights.reduce((a, b) => a + b, 0);
        weights.forEach((w, i) => {
          const share = (picks.get(`t${i}`) ?? 0) / rounds;
          assert.ok(Math.abs(share - w / total) < 0.04, `t${i}: share ${share} vs weight ${w / total}`);
        });
      },
    ),
    { numRuns: 25 },
  );
});

test("weighted: every target appears exactly once; zero weights go last", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 6 }),
      fc.integer(),
      (weights, seed) => {
        const targets = weights.map((w, i) => target(`t${i}`, { weight: w }));
        const order = weighted(input(targets, { random: prng(seed) }));
        assert.deepEqual(new Set(order), new Set(targets));
        assert.equal(order.length, targets.length);
        const firstZero = order.findIndex((t) => t.weight === 0);
        if (firstZero !== -1) assert.ok(order.slice(firstZero).every((t) => t.weight === 0));
      },
    ),
  );
});

test("least-cost: always leads with the cheapest priced target; unpriced ones go last", () => {
  fc.assert(
    fc.property(
      fc.array(fc.option(fc.integer({ min: 0, max: 1_000_000 }), { nil: undefined }), {
        minLength: 1,
        maxLength: 6,
      }),
      (costs) => {
        const targets = costs.map((_, i) => target(`t${i}`));
        const costOf = (t: CompiledTarget) => costs[Number(t.backend.name.slice(1))];
        const order = leastCost(input(targets, { costOf }));
        const priced = costs.filter((c): c is number => c !== undefined);
        if (priced.length > 0) assert.equal(costOf(order[0]!), Math.min(...priced));
        const seenUnpriced = order.findIndex((t) => costOf(t) === undefined);
        if (seenUnpriced !== -1) assert.ok(order.slice(seenUnpriced).every((t) => costOf(t) === undefined));
      },
    ),
  );
});

test("least-latency: leads with the faster of its two random choices, never the slowest of three or more", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 3, maxLength: 6 }),
      fc.integer(),
      (ms, seed) => {
        const distinct = [...new Set(ms)];
        fc.pre(distinct.length === ms.length);
        const targets = ms.map((_, i) => target(`t${i}`));
        const latencyOf = (t: CompiledTarget) => ms[Number(t.backend.name.slice(1))];
        const order = leastLatency(input(targets, { latencyOf, random: prng(seed) }));
        assert.notEqual(latencyOf(order[0]!), Math.max(...ms));
        const rest = order.slice(1).map(latencyOf) as number[];
        assert.deepEqual(
          rest,
          [...rest].sort((a, b) => a - b),
        );
      },
    ),
  );
});

test("least-latency: a target with no samples yet is explored first", () => {
  const targets = [target("slow"), target("new")];
  const latencyOf = (t: CompiledTarget) => (t.backend.name === "slow" ? 500 : undefined);
  for (let i = 0; i < 20; i++)
    assert.equal(leastLatency(input(targets, { latencyOf }))[0]!.backend.name, "new");
});

// --- eligibility through the real planner, on real compiled configs ---

const logger = createLogger("silent");
const CAPS = ["streaming", "tools", "jsonSchema"] as const;

test("no strategy ever orders an ineligible target", () => {
  const backendArb = fc.record({
    disabled: fc.boolean(),
    caps: fc.record({ streaming: fc.boolean(), tools: fc.boolean(), jsonSchema: fc.boolean() }),
    contextWindow: fc.option(fc.integer({ min: 10, max: 400 }), { nil: undefined }),
    weight: fc.integer({ min: 0, max: 3 }),
  });
  const needsArb = fc.record({ streaming: fc.boolean(), tools: fc.boolean(), jsonSchema: fc.boolean() });
  fc.assert(
    fc.property(
      fc.array(backendArb, { minLength: 1, maxLength: 5 }),
      needsArb,
      fc.integer({ min: 0, max: 300 }),
      fc.constantFrom(...(Object.keys(strategies) as (keyof typeof strategies)[])),
      fc.integer(),
      (backends, needs, contextTokens, strategy, seed) => {
        const yaml = [
          "backends:",
          ...backends.map(
            (b, i) =>
              `  b${i}: { ${b.disabled ? 'type: openai, baseUrl: "http://127.0.0.1:9/v1", apiKey: "${UNSET}", optional: true' : "type: echo"}, ` +
              `capabilities: { streaming: ${b.caps.streaming}, tools: ${b.caps.tools}, jsonSchema: ${b.caps.jsonSchema} } }`,
          ),
          "routes:",
          "  r:",
          `    strategy: ${strategy}`,
          "    targets:",
          ...backends.map(
            (b, i) =>
              `      - { backend: b${i}, model: m${i}, weight: ${b.weight}` +
              `${b.contextWindow ? `, contextWindow: ${b.contextWindow}` : ""} }`,
          ),
          "prices:",
          ...backends.map((_, i) => `  m${i}: { input: ${i + 1}, output: ${10 - i} }`),
        ].join("\n");
        // An unset ${VAR} in an optional backend's apiKey disables that backend.
        const loaded = parseConfig(yaml, "prop", {});
        const { compiled } = compileConfig(loaded, {}, logger);
        const facts: RequestFacts = {
          workload: "r",
          requestedModel: "",
          metadata: {},
          team: undefined,
          keyId: undefined,
          needs: { operation: "generate", ...needs, contextTokens },
          estimate: { inputTokens: contextTokens, outputTokens: 0 },
          allowedModels: ["*"],
        };
        const decision = newDecision();
        let ordered: CompiledTarget[] = [];
        try {
          ordered = planRoute(compiled, facts, decision, prng(seed)).ordered;
        } catch (error) {
          assert.match(String(error), /no (enabled backend|target)/);
        }
        for (const t of ordered) {
          const b = backends[Number(t.backend.name.slice(1))]!;
          assert.equal(b.disabled, false, "disabled target ordered");
          for (const cap of CAPS) if (needs[cap]) assert.ok(b.caps[cap], `target lacking ${cap} ordered`);
          if (b.contextWindow !== undefined)
            assert.ok(contextTokens <= b.contextWindow, "context window too small");
        }
        // Everything eligible is ordered; everything else is explained in the decision.
        assert.equal(ordered.length + decision.skipped.length, backends.length);
        for (const b of compiled.backends.values()) b.state.close();
      },
    ),
    { numRuns: 150 },
  );
});
