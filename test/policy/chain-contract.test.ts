// The policy chain's contract (issue #17): on every outcome — success, upstream error, client cancel
// before admission ends and mid-stream, deadline, guardrail block, cache hit — every admitted policy
// settles exactly once, in reverse order, and the ledger row, the log line and the span agree on the
// status. A recording policy is put first and last in each route's real chain.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { SpanKind, trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import type { Outcome } from "../../src/pipeline/outcome.ts";
import { PolicyChain } from "../../src/policy/chain/chain.ts";
import { PolicyChains } from "../../src/policy/chain/chains.ts";
import type { Policy } from "../../src/policy/chain/policy.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

const spans = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));

const M = InferenceService.method;
/** Per request id: the settle calls in the order they ran. */
const settled = new Map<string, { name: string; status: string }[]>();
const recorder = (name: string): Policy => ({
  name,
  admit(x) {
    return {
      settle(outcome: Outcome) {
        const list = settled.get(x.ctx.id) ?? [];
        list.push({ name, status: outcome.status });
        settled.set(x.ctx.id, list);
      },
    };
  },
});
const chainFor = PolicyChains.prototype.for;
PolicyChains.prototype.for = function (config, workload) {
  const real = chainFor.call(this, config, workload);
  return new PolicyChain([recorder("first"), ...real.policies, recorder("last")]);
};

let upstream: OpenAIFake;
let gw: TestGateway;
before(async () => {
  upstream = await startOpenAIFake();
  gw = await startTestGateway(
    configYaml(
      `  oa:\n    type: openai\n    baseUrl: ${upstream.url}/v1\n    breaker: { volumeThreshold: 100000 }\n`,
      "  chat:\n    retry: { maxAttempts: 1 }\n    cache: { ttlSeconds: 60 }\n    targets:\n      - { backend: oa, model: gpt-4o-mini }\n" +
        // The gateway's own deadline (the route's total), so the deadline is ours, not the caller's cancel.
        "  slow:\n    retry: { maxAttempts: 1 }\n    timeouts: { totalMs: 150 }\n    targets:\n      - { backend: oa, model: gpt-4o-mini }\n",
      "",
      "auth: { enabled: false }\n" +
        "policies:\n  guardrails:\n    - { name: cards, detect: [payment_card], stages: [input] }\n",
    ),
  );
});
after(async () => {
  await gw.stop();
  await upstream.close();
});

const ask = (text: string) => ({
  workload: "chat",
  messages: [{ role: Role.USER, content: [{ part: { case: "text" as const, value: text } }] }],
});

/** Runs `call`, then checks the request it made: settles once per policy, in reverse, and all agree. */
async function check(what: string, expected: string, call: () => Promise<unknown>): Promise<void> {
  const known = new Set(settled.keys());
  const linesBefore = gw.logs.length;
  await call().catch(() => undefined);
  let id: string | undefined;
  for (let i = 0; i < 200 && id === undefined; i++) {
    id = [...settled.keys()].find((k) => !known.has(k));
    if (id === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(id, `${what}: the request was settled`);
  const line = await (async () => {
    for (let i = 0; i < 200; i++) {
      const found = gw.logs.slice(linesBefore).find((l) => l.msg === "request" && l.requestId === id);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return undefined;
  })();
  const calls = settled.get(id)!;
  // "last" is admitted last, so it settles first; "first" settles last — each exactly once.
  assert.deepEqual(
    calls.map((c) => c.name),
    calls.length === 1 ? ["first"] : ["last", "first"],
    `${what}: order`,
  );
  assert.ok(
    calls.every((c) => c.status === expected),
    `${what}: ${JSON.stringify(calls)}`,
  );
  assert.equal(line?.status, expected, `${what}: the log line`);
  const span = spans
    .getFinishedSpans()
    .find((s) => s.kind === SpanKind.SERVER && s.attributes["switchyard.request_id"] === id);
  assert.ok(span, `${what}: a server span`);
  assert.equal(span.attributes["switchyard.status"], expected, `${what}: the span`);
  await gw.gateway.ledger.flush();
  const row = await gw.gateway.store.ledger.get(id);
  // A request refused before any upstream (or the cache) leaves no row; every other one has its row.
  if (expected === "guardrail_blocked") assert.equal(row, undefined, `${what}: no ledger row`);
  else assert.equal(row?.status === "cached" ? "ok" : row?.status, expected, `${what}: the ledger`);
}

test("every outcome settles each policy once, in reverse, and ledger, log line and span agree", async () => {
  const c = allClients(gw.url)[1]!;
  try {
    upstream.enqueue({ text: "hello" });
    await check("success", "ok", () => c.unary(M.generate, ask("cacheable one")));
    upstream.enqueue({ kind: "error", status: 400 });
    await check("upstream error", "upstream_rejected_request", () => c.unary(M.generate, ask("two")));
    upstream.enqueue({ kind: "hang" });
    await check("deadline", "deadline_exceeded", () =>
      c.unary(M.generate, { ...ask("three"), workload: "slow" }),
    );
    await check("guardrail block", "guardrail_blocked", () =>
      c.unary(M.generate, ask("card 4111 1111 1111 1111")),
    );
    // The success above was stored; the same request now is a hit (stored once its request settled).
    await new Promise((resolve) => setTimeout(resolve, 50));
    await check("cache hit", "ok", () => c.unary(M.generate, ask("cacheable one")));
    upstream.enqueue({ chunks: Array.from({ length: 50 }, (_, i) => `w${i} `), chunkDelayMs: 20 });
    await check("client cancel mid-stream", "cancelled", async () => {
      const abort = new AbortController();
      await c.serverStream(M.generateStream, ask("stream four"), {
        signal: abort.signal,
        onMessage: (m) => {
          if (m.event.case === "textDelta") abort.abort();
        },
      });
    });
  } finally {
    c.close();
  }
});

test("a policy that refuses settles only the policies admitted before it, in reverse", async () => {
  const order: string[] = [];
  const p = (name: string, refuse = false): Policy => ({
    name,
    admit() {
      if (refuse) throw new Error(`${name} refuses`);
      return { settle: () => void order.push(name) };
    },
  });
  const chain = new PolicyChain([p("a"), p("b"), p("c", true), p("d")]);
  const x = {
    ctx: { id: "r", signal: new AbortController().signal, usage: undefined, decision: { cached: false } },
  } as never;
  await assert.rejects(chain.admit(x, { error() {} } as never), /c refuses/);
  assert.deepEqual(order, ["b", "a"]);
  const ok = await new PolicyChain([p("a"), p("b")]).admit(x, { error() {} } as never);
  await ok.settle({ status: "ok", failure: undefined, usage: undefined, cached: false });
  await ok.settle({ status: "ok", failure: undefined, usage: undefined, cached: false });
  assert.deepEqual(order, ["b", "a", "b", "a"], "settle runs once however often it is called");
});

test("a settle that throws is logged and the others still settle", async () => {
  const order: string[] = [];
  const errors: unknown[] = [];
  const chain = new PolicyChain([
    { name: "a", admit: () => ({ settle: () => void order.push("a") }) },
    {
      name: "b",
      admit: () => ({
        settle: () => {
          throw new Error("store down");
        },
      }),
    },
    { name: "c", admit: () => ({ settle: () => void order.push("c") }) },
  ]);
  const x = { ctx: { id: "r" } } as never;
  const admitted = await chain.admit(x, { error: (o: unknown) => errors.push(o) } as never);
  await admitted.settle({ status: "ok", failure: undefined, usage: undefined, cached: false });
  assert.deepEqual(order, ["c", "a"]);
  assert.equal(errors.length, 1);
});
