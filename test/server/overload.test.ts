import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, type ConnectError } from "@connectrpc/connect";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { OverloadGuard } from "../../src/server/overload-guard.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

const M = InferenceService.method;
const request = {
  workload: "chat",
  messages: [{ role: Role.USER, content: [{ part: { case: "text" as const, value: "hi" } }] }],
};

test("the guard sheds above maxInFlightRequests, and never with 0 (no cap)", () => {
  let inFlight = 3;
  let limits = { maxInFlightRequests: 2, maxEventLoopLagMs: 0 };
  const guard = new OverloadGuard(
    () => limits,
    () => inFlight,
  );
  try {
    assert.throws(
      () => guard.check(),
      (e: { reason?: string; retryAfterMs?: number; message: string }) =>
        e.reason === "overloaded" && e.retryAfterMs === 1000 && /maxInFlightRequests/.test(e.message),
    );
    inFlight = 2;
    guard.check();
    inFlight = 1_000_000;
    limits = { maxInFlightRequests: 0, maxEventLoopLagMs: 0 };
    guard.check();
    assert.equal(guard.shed, 1);
  } finally {
    guard.stop();
  }
});

test("the guard sheds while the event loop stays saturated, not for one long pause, and recovers", () => {
  const guard = new OverloadGuard(
    () => ({ maxInFlightRequests: 0, maxEventLoopLagMs: 50 }),
    () => 0,
    { auto: false },
  );
  // The sampler's own clock, driven by hand: each tick is due 20 ms after the previous one ran.
  let now = performance.now();
  const tick = (lateMs: number) => {
    now += 20 + lateMs;
    guard.sample(now);
  };
  for (let i = 0; i < 5; i++) tick(0);
  guard.check(); // an idle loop: no lag
  tick(400); // one long pause (a GC, a config reload), then on-time ticks again
  tick(0);
  guard.check();
  for (let i = 0; i < 8; i++) tick(100); // a saturated loop: every tick late
  assert.equal(guard.lagMs, 100);
  assert.throws(() => guard.check(), /sustained event-loop lag/);
  tick(0); // one on-time tick: the loop is keeping up again
  assert.equal(guard.lagMs, 0);
  guard.check();
});

describe("a gateway at maxInFlightRequests sheds new calls on every protocol", () => {
  let upstream: OpenAIFake;
  let gw: TestGateway;
  before(async () => {
    upstream = await startOpenAIFake();
    gw = await startTestGateway(
      configYaml(
        `  fake:\n    type: openai\n    baseUrl: ${upstream.url}/v1\n`,
        "  chat:\n    targets:\n      - { backend: fake, model: m }\n",
        "  limits: { maxInFlightRequests: 1 }\n",
      ),
    );
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  test("RESOURCE_EXHAUSTED / 429 with reason overloaded and a retry delay; serves again once below", async () => {
    upstream.enqueue({ kind: "hang" });
    const holder = new AbortController();
    const clients = allClients(gw.url);
    const held = clients[0]!.unary(M.generate, request, { signal: holder.signal }).catch(() => undefined);
    await upstream.waitForRequests(1);
    for (const client of clients) {
      await assert.rejects(client.unary(M.generate, request), (e: ConnectError) => {
        assert.equal(e.code, Code.ResourceExhausted, `${client.name}: ${e.message}`);
        assert.match(e.message, /maxInFlightRequests/);
        assert.equal(e.metadata.get("x-switchyard-reason"), "overloaded");
        assert.equal(e.metadata.get("retry-after-ms"), "1000");
        return true;
      });
    }
    const facade = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "switchyard/chat", messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(facade.status, 429);
    assert.equal(((await facade.json()) as { error: { code: string } }).error.code, "overloaded");
    assert.equal(upstream.requests.length, 1, "shed calls never reach the upstream");
    holder.abort();
    await held;
    await upstream.waitForAbort(0);
    const { message } = await clients[1]!.unary(M.generate, request);
    assert.ok(message.text.length > 0);
  });
});
