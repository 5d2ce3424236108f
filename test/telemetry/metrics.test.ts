import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { metrics } from "@opentelemetry/api";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { parsePrometheus, type Sample, total } from "../helpers/prometheus.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

// This file owns the process-wide MeterProvider (node --test runs each file in its own process).
const prometheus = new PrometheusExporter({ preventServerStart: true });
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [prometheus] }));

const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
let upstream: OpenAIFake;
let gw: TestGateway;
before(async () => {
  upstream = await startOpenAIFake();
  gw = await startTestGateway(
    `${configYaml(
      `  oa:\n    type: openai\n    baseUrl: ${upstream.url}/v1\n  echo: { type: echo }\n`,
      "  chat:\n    targets:\n      - { backend: oa, model: gpt-4o-mini }\n      - { backend: echo, model: e }\n",
    )}prices:\n  gpt-4o-mini: { input: 0.15, output: 0.6 }\n`,
    {},
    { prometheus },
  );
});
after(async () => {
  await gw.stop();
  await upstream.close();
});

async function scrape(): Promise<Sample[]> {
  const res = await fetch(`${gw.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
  return parsePrometheus(await res.text());
}

test("counters and histograms move with traffic; labels stay bounded", async () => {
  const before = await scrape();
  const c = allClients(gw.url)[1]!;
  upstream.enqueue({ text: "one two", usage: { prompt_tokens: 1000, completion_tokens: 100 } });
  await c.unary(InferenceService.method.generate, { workload: "chat", messages: [user("hi")] });
  upstream.enqueue({ chunks: ["a", "b", "c"], usage: { prompt_tokens: 10, completion_tokens: 3 } });
  await c.serverStream(InferenceService.method.generateStream, { workload: "chat", messages: [user("hi")] });
  upstream.enqueue({ kind: "error", status: 503 });
  await c.unary(InferenceService.method.generate, { workload: "chat", messages: [user("hi")] }); // falls to echo
  await assert.rejects(
    c.unary(InferenceService.method.generate, { workload: "missing", messages: [user("x")] }),
  );
  c.close();

  const after = await scrape();
  const delta = (name: string, where: Record<string, string> = {}) =>
    total(after, name, where) - total(before, name, where);

  assert.equal(delta("switchyard_requests_total", { workload: "chat", backend: "oa", status: "ok" }), 2);
  assert.equal(delta("switchyard_requests_total", { workload: "chat", backend: "echo", status: "ok" }), 1);
  assert.equal(delta("switchyard_requests_total", { status: "unknown_workload" }), 1);
  assert.equal(delta("switchyard_request_duration_count", { workload: "chat" }), 3);
  assert.equal(delta("switchyard_time_to_first_token_count"), 3);
  assert.equal(delta("switchyard_inter_token_gap_count"), 2, "three deltas of one stream make two gaps");
  assert.ok(delta("switchyard_gateway_overhead_count") >= 4);
  assert.equal(delta("switchyard_tokens_total", { backend: "oa", direction: "input" }), 1010);
  assert.equal(delta("switchyard_tokens_total", { backend: "oa", direction: "output" }), 103);
  // 1000 × $0.15/M + 100 × $0.60/M = 150 + 60 µUSD; then 10 × 0.15 + 3 × 0.6 = 3.3 → 3 µUSD.
  assert.equal(delta("switchyard_cost_total", { backend: "oa" }), 213);
  assert.equal(delta("switchyard_upstream_attempts_total", { backend: "oa", outcome: "failed" }), 1);
  assert.equal(delta("switchyard_fallbacks_total", { backend: "echo" }), 1);
  assert.equal(total(after, "switchyard_in_flight"), 0, "nothing left in flight");
  assert.equal(total(after, "switchyard_breaker_state", { backend: "oa" }), 0, "closed");

  for (const s of after.filter((x) => x.name.startsWith("switchyard_"))) {
    for (const key of Object.keys(s.labels)) {
      assert.ok(
        !["key_id", "keyId", "user", "end_user_id", "request_id"].includes(key),
        `unbounded label ${key}`,
      );
    }
  }
});

test("overhead is reported to the caller as server-timing", async () => {
  upstream.enqueue({ text: "timed" });
  const c = allClients(gw.url)[0]!;
  const { headers, trailers } = await c.unary(InferenceService.method.generate, {
    workload: "chat",
    messages: [user("hi")],
  });
  c.close();
  for (const value of [headers.get("server-timing"), trailers.get("server-timing")]) {
    const m = /^gateway;dur=(\d+\.\d+), upstream;dur=(\d+\.\d+)$/.exec(value ?? "");
    assert.ok(m, `server-timing: ${value}`);
    assert.ok(Number(m[2]) > 0, "some time was spent upstream");
  }
});
