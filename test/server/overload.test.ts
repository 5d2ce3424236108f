import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, type ConnectError } from "@connectrpc/connect";
import { metrics } from "@opentelemetry/api";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { OverloadGuard } from "../../src/server/overload-guard.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { parsePrometheus, total } from "../helpers/prometheus.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

// This file owns the process-wide MeterProvider (node --test runs each file in its own process).
const prometheus = new PrometheusExporter({ preventServerStart: true });
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [prometheus] }));

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

/** A guard sampled by hand (the test drives its clock), with no in-flight cap. */
function manualGuard(
  maxEventLoopLagMs: number,
  random: () => number,
  onChange?: (shedding: boolean) => void,
) {
  return new OverloadGuard(
    () => ({ maxInFlightRequests: 0, maxEventLoopLagMs }),
    () => 0,
    { auto: false, random, ...(onChange ? { onChange } : {}) },
  );
}

test("the guard refuses a growing share while the lag stays above the limit, shrinks it below, and never refuses all", () => {
  let draw = 0.5;
  const changes: boolean[] = [];
  const guard = manualGuard(
    20,
    () => draw,
    (shedding) => changes.push(shedding),
  );
  // The sampler's own clock, driven by hand: each tick is due 20 ms after the previous one ran.
  let now = performance.now();
  const tick = (lateMs: number) => {
    now += 20 + lateMs;
    guard.sample(now);
  };
  for (let i = 0; i < 25; i++) tick(0);
  assert.equal(guard.shedShare, 0);
  guard.check(); // an idle loop refuses nothing

  tick(2000); // one long stall (start-up, a major GC): one event, not a trend
  for (let i = 0; i < 24; i++) tick(0);
  assert.equal(guard.shedShare, 0, "one stall sheds nothing");

  for (let i = 0; i < 10; i++) tick(40); // a saturated loop: every tick 40 ms late (twice the limit)
  assert.ok(guard.lagMs > 30 && guard.lagMs <= 40, `lag ${guard.lagMs}`);
  const rising = guard.shedShare;
  assert.ok(rising > 0 && rising < 0.5, `share ${rising}`);
  tick(40);
  assert.ok(guard.shedShare > rising, "the share keeps growing while the lag stays high");
  draw = guard.shedShare - 0.01; // a draw under the share is refused, one over it admitted
  assert.throws(
    () => guard.check(),
    /event-loop lag \d+ ms .*maxEventLoopLagMs 20; refusing \d+ % of new calls/,
  );
  draw = guard.shedShare + 0.01;
  guard.check();

  for (let i = 0; i < 200; i++) tick(100);
  assert.equal(guard.shedShare, 0.8, "capped: some calls always get through");
  draw = 0.85;
  guard.check();

  for (let i = 0; i < 50; i++) tick(0); // the loop keeps up again: refusals stop within a second
  assert.equal(guard.shedShare, 0);
  draw = 0;
  guard.check();
  assert.equal(guard.shed, 1);
  assert.deepEqual(changes, [true, false], "one start and one stop, for the log");
});

test("a loop whose every iteration is long (one sample per iteration) reaches the cap within a few iterations", () => {
  const guard = manualGuard(20, () => 0.5);
  let now = performance.now();
  let iterations = 0;
  while (guard.shedShare < 0.8 && iterations < 50) {
    now += 220; // each tick 200 ms late: counted by time, not by the (few) samples
    guard.sample(now);
    iterations++;
  }
  assert.ok(iterations <= 8, `${iterations} iterations of 220 ms to reach the cap`);
});

test("maxEventLoopLagMs 0 never sheds for lag", () => {
  const guard = manualGuard(0, () => 0);
  let now = performance.now();
  for (let i = 0; i < 50; i++) {
    now += 500; // every tick half a second late
    guard.sample(now);
  }
  assert.equal(guard.shedShare, 0);
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
      {},
      { prometheus },
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
    // Every refusal is counted, whether the front door refused it before reading the body (the fast path:
    // no workload known yet) or the pipeline did (gRPC-Web through connect-node, the facade).
    const samples = parsePrometheus(await (await fetch(`${gw.url}/metrics`)).text());
    assert.equal(total(samples, "switchyard_rejections_total", { reason: "overloaded" }), clients.length + 1);
    assert.equal(total(samples, "switchyard_requests_total", { status: "overloaded" }), clients.length + 1);
    // The guard's view of the loop is exported too (idle here: no lag, nothing refused for lag).
    assert.equal(total(samples, "switchyard_overload_shed_share"), 0);
    assert.ok(samples.some((s) => s.name === "switchyard_event_loop_lag"));
    assert.ok(total(samples, "switchyard_rejections_total", { reason: "overloaded", workload: "" }) >= 1);
    assert.ok(total(samples, "switchyard_rejections_total", { reason: "overloaded", workload: "chat" }) >= 1);
    holder.abort();
    await held;
    await upstream.waitForAbort(0);
    const { message } = await clients[1]!.unary(M.generate, request);
    assert.ok(message.text.length > 0);
  });
});

describe("a gateway whose event loop stays saturated", { timeout: 60_000 }, () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway(
      configYaml(
        "  echo: { type: echo }\n",
        "  chat:\n    targets:\n      - { backend: echo, model: e }\n",
        "  limits: { maxEventLoopLagMs: 10 }\n",
      ),
    );
  });
  after(async () => {
    await gw?.stop();
  });

  test("refuses a share of new calls as overloaded on the hot path, and serves them all again once the loop keeps up", async () => {
    const [connect] = allClients(gw.url);
    // Busy work in the gateway's process: every event-loop iteration now takes 40 ms, four times the limit.
    const spin = setInterval(() => {
      const end = performance.now() + 40;
      while (performance.now() < end);
    }, 1);
    let refused: ConnectError | undefined;
    try {
      for (let i = 0; i < 200 && refused === undefined; i++) {
        await connect!.unary(M.generate, request).catch((e: ConnectError) => {
          refused = e;
        });
      }
    } finally {
      clearInterval(spin);
    }
    assert.ok(refused, "no call was refused while the loop was saturated");
    assert.equal(refused.code, Code.ResourceExhausted);
    assert.equal(refused.metadata.get("x-switchyard-reason"), "overloaded");
    assert.match(refused.message, /event-loop lag \d+ ms against server\.limits\.maxEventLoopLagMs 10/);
    assert.ok(
      gw.logs.some((l) => l.level === 40 && /overloaded: refusing a share/.test(String(l.msg))),
      "the start of shedding is logged",
    );
    // The share decays once the lag is below the limit: within a few seconds every call is served.
    let streak = 0;
    for (let i = 0; i < 400 && streak < 20; i++) {
      const ok = await connect!.unary(M.generate, request).then(
        () => true,
        () => false,
      );
      streak = ok ? streak + 1 : 0;
      if (!ok) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(streak, 20, "calls were still refused after the loop recovered");
  });
});
