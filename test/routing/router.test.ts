import assert from "node:assert/strict";
import { test } from "node:test";
import { newDecision } from "../../src/api/request-context.ts";
import { compileConfig } from "../../src/config/compile.ts";
import { parseConfig } from "../../src/config/load.ts";
import { GatewayError } from "../../src/errors/gateway-error.ts";
import { fullJitterMs } from "../../src/routing/backoff.ts";
import { RetryBudget } from "../../src/routing/retry-budget.ts";
import { planRoute, type RequestFacts } from "../../src/routing/router.ts";
import { createLogger } from "../../src/telemetry/logger.ts";

const yaml = `
backends:
  small: { type: echo }
  big: { type: echo }
  plain: { type: echo, capabilities: { tools: false, streaming: false } }
  vec: { type: echo }
routes:
  chat:
    targets:
      - { backend: small, model: small-8k, alias: fast, contextWindow: 8000 }
      - { backend: plain, model: plain-1 }
    variants:
      - name: long-context
        when: { minInputTokens: 2000 }
        targets: [{ backend: big, model: big-128k, contextWindow: 128000 }]
      - name: eu
        when: { metadata: { region: eu } }
        strategy: least-cost
        targets: [{ backend: small, model: eu-model }, { backend: big, model: eu-big }]
      - name: pinned-model
        when: { model: big-128k }
        targets: [{ backend: big, model: big-128k }]
  vectors:
    operations: [embed]
    targets: [{ backend: vec, model: v1 }]
prices:
  eu-model: { input: 5, output: 5 }
  eu-big: { input: 1, output: 1 }
`;
const { compiled } = compileConfig(parseConfig(yaml, "t", {}), {}, createLogger("silent"));

const facts = (over: Partial<RequestFacts> = {}): RequestFacts => ({
  workload: "chat",
  requestedModel: "",
  metadata: {},
  team: undefined,
  keyId: undefined,
  needs: { operation: "generate", streaming: false, tools: false, jsonSchema: false, contextTokens: 100 },
  estimate: { inputTokens: 100, outputTokens: 100 },
  allowedModels: ["*"],
  ...over,
});
const plan = (over: Partial<RequestFacts> = {}) => {
  const decision = newDecision();
  const p = planRoute(compiled, facts(over), decision);
  return { ...p, decision, names: p.ordered.map((t) => `${t.backend.name}/${t.model}`) };
};
const rejects = (over: Partial<RequestFacts>, reason: string, message: RegExp) =>
  assert.throws(
    () => planRoute(compiled, facts(over), newDecision()),
    (e: GatewayError) => e instanceof GatewayError && e.reason === reason && message.test(e.message),
  );

test("without a matching variant the route's own targets serve, in priority order", () => {
  const p = plan();
  assert.equal(p.variant, undefined);
  assert.deepEqual(p.names, ["small/small-8k", "plain/plain-1"]);
  assert.equal(p.decision.strategy, "priority");
});

test("long prompts go to the long-context variant", () => {
  const p = plan({ estimate: { inputTokens: 5000, outputTokens: 100 } });
  assert.equal(p.variant, "long-context");
  assert.deepEqual(p.names, ["big/big-128k"]);
});

test("metadata picks a variant, with its own strategy (least-cost leads with the cheaper model)", () => {
  const p = plan({ metadata: { region: "eu", other: "x" } });
  assert.equal(p.variant, "eu");
  assert.equal(p.decision.strategy, "least-cost");
  assert.deepEqual(p.names, ["big/eu-big", "small/eu-model"]);
});

test("a requested model or alias narrows the targets; unknown models are a clear NOT_FOUND", () => {
  assert.deepEqual(plan({ requestedModel: "fast" }).names, ["small/small-8k"]);
  assert.deepEqual(plan({ requestedModel: "plain-1" }).names, ["plain/plain-1"]);
  assert.deepEqual(plan({ requestedModel: "big-128k" }).names, ["big/big-128k"]);
  rejects(
    { requestedModel: "gpt-9" },
    "model_not_found",
    /"gpt-9" is not served by workload "chat" \(available: fast, plain-1/,
  );
});

test("targets lacking a needed capability are skipped with the reason", () => {
  const p = plan({
    needs: { operation: "generate", streaming: true, tools: false, jsonSchema: false, contextTokens: 10 },
  });
  assert.deepEqual(p.names, ["small/small-8k"]);
  assert.deepEqual(p.decision.skipped, [{ backend: "plain", model: "plain-1", reason: "cannot stream" }]);
});

test("a request that no target can take is FAILED_PRECONDITION listing each reason", () => {
  rejects(
    {
      requestedModel: "",
      needs: { operation: "generate", streaming: false, tools: true, jsonSchema: false, contextTokens: 9000 },
    },
    "no_capable_target",
    /small\/small-8k \(context window 8000 < 9000 tokens needed\); plain\/plain-1 \(no tool calling\)/,
  );
});

test("operation and workload errors", () => {
  rejects({ workload: "nope" }, "unknown_workload", /configured: chat, vectors/);
  rejects({ workload: "vectors" }, "operation_not_served", /does not serve generation/);
});

test("an unhealthy backend is skipped until it recovers", () => {
  const small = compiled.backends.get("small")!;
  small.state.healthy = false;
  small.state.unhealthyReason = "failed its active health check";
  try {
    const p = plan();
    assert.deepEqual(p.names, ["plain/plain-1"]);
    assert.match(p.decision.skipped[0]!.reason, /^unhealthy/);
  } finally {
    small.state.healthy = true;
  }
});

test("retry budget: retries ≤ max(min, percent of active attempts); first attempts always pass", () => {
  const budget = new RetryBudget(20, 3);
  const releases = Array.from({ length: 20 }, () => budget.begin(false)!);
  assert.equal(budget.active, 20);
  const retries = [];
  for (let i = 0; i < 10; i++) {
    const r = budget.begin(true);
    if (r) retries.push(r);
  }
  // Retries are active attempts too: 0<4, 1<4.2, 2<4.4, 3<4.6, 4<4.8, then 5 ≥ 5.0 stops.
  assert.equal(retries.length, 5);
  for (const r of retries) r();
  const small = new RetryBudget(20, 3);
  const only = small.begin(false)!;
  assert.ok(small.begin(true) && small.begin(true) && small.begin(true), "the floor allows 3");
  assert.equal(small.begin(true), undefined);
  only();
  for (const r of releases) r();
  assert.equal(budget.active, 0);
});

test("full-jitter backoff stays within [0, min(max, base·2^n))", () => {
  for (let n = 0; n < 8; n++) {
    const cap = Math.min(2000, 100 * 2 ** n);
    assert.equal(
      fullJitterMs(n, 100, 2000, () => 0),
      0,
    );
    assert.ok(fullJitterMs(n, 100, 2000, () => 0.999999) < cap);
    assert.ok(fullJitterMs(n, 100, 2000, () => 0.999999) > cap * 0.99);
  }
});
