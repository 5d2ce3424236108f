import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ConnectError } from "@connectrpc/connect";
import { metrics, propagation, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import OpenAI from "openai";
import { AdminService } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { mintKey } from "../../src/policy/api-key.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

// This file owns the process-wide tracer and meter providers (each test file runs in its own process).
const spans = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const prometheus = new PrometheusExporter({ preventServerStart: true });
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [prometheus] }));

const PROVIDER_KEY = "sk-proj-CANARYPROVIDER0001";
const CLIENT_KEY = mintKey().secret;
const PROMPT = "CANARY-PROMPT-the-secret-recipe";
const ANSWER = "CANARY-ANSWER-forty-two";

let up: OpenAIFake;
let gw: TestGateway;
const errorBodies: string[] = [];

before(async () => {
  up = await startOpenAIFake({ requireApiKey: PROVIDER_KEY });
  gw = await startTestGateway(
    configYaml(
      `  oa:\n    type: openai\n    baseUrl: ${up.url}/v1\n    apiKey: \${OA_KEY}\n  echo: { type: echo }\n`,
      "  chat:\n    targets:\n      - { backend: oa, model: gpt-4o-mini }\n  solo:\n    retry: { maxAttempts: 1 }\n" +
        "    targets:\n      - { backend: oa, model: gpt-4o-mini }\n",
      "",
      "auth: { enabled: true }\n",
    ),
    { OA_KEY: PROVIDER_KEY, SWITCHYARD_BOOTSTRAP_KEY: CLIENT_KEY },
    { prometheus },
  );
  const auth = { headers: { authorization: `Bearer ${CLIENT_KEY}` } };
  const ask = {
    workload: "chat",
    messages: [{ role: Role.USER, content: [{ part: { case: "text" as const, value: PROMPT } }] }],
  };
  const c = allClients(gw.url)[1]!;
  const fail = (e: unknown) =>
    errorBodies.push(
      `${(e as ConnectError).message} ${JSON.stringify([...((e as ConnectError).metadata ?? [])])}`,
    );

  up.enqueue({ text: ANSWER });
  await c.unary(InferenceService.method.generate, ask, auth);
  up.enqueue({ chunks: [ANSWER, " again"] });
  await c.serverStream(InferenceService.method.generateStream, ask, auth);
  up.enqueue({ chunks: [ANSWER, " cut"], cutAfterEvents: 2 });
  await c.serverStream(InferenceService.method.generateStream, ask, auth).catch(fail);
  // The provider rejects the gateway's key and quotes part of it; a bad request echoes the prompt.
  up.enqueue({ kind: "error", status: 401, fixture: "invalid_api_key" });
  await c.unary(InferenceService.method.generate, { ...ask, workload: "solo" }, auth).catch(fail);
  up.enqueue({
    kind: "error",
    status: 400,
    body: { error: { message: `bad input: ${PROMPT}`, type: "invalid_request_error" } },
  });
  await c.unary(InferenceService.method.generate, { ...ask, workload: "solo" }, auth).catch(fail);
  // Bad client keys and a validation error.
  await c
    .unary(InferenceService.method.generate, ask, { headers: { authorization: `Bearer ${CLIENT_KEY}x` } })
    .catch(fail);
  await c.unary(InferenceService.method.generate, { ...ask, sampling: { temperature: 9 } }, auth).catch(fail);
  await c.unary(AdminService.method.getConfig, {}, auth);
  c.close();
  // The same through the OpenAI facade.
  const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
  up.enqueue({ text: ANSWER });
  await sdk.chat.completions.create({
    model: "switchyard/chat",
    messages: [{ role: "user", content: PROMPT }],
  });
  up.enqueue({
    kind: "error",
    status: 400,
    body: { error: { message: `bad input: ${PROMPT}`, type: "invalid_request_error" } },
  });
  await sdk.chat.completions
    .create({ model: "switchyard/solo", messages: [{ role: "user", content: PROMPT }] })
    .catch((e: unknown) => errorBodies.push(JSON.stringify((e as { error?: unknown }).error ?? String(e))));
});
after(async () => {
  await gw.stop();
  await up.close();
});

const everywhere = async () => {
  const metricsText = await (await fetch(`${gw.url}/metrics`)).text();
  const spanText = JSON.stringify(
    spans
      .getFinishedSpans()
      .map((s) => ({ name: s.name, attributes: s.attributes, status: s.status, events: s.events })),
  );
  const audit = (await gw.gateway.store.audit.list({ limit: 1000 })).map((e) => JSON.stringify(e)).join("\n");
  return { logs: gw.logText(), spans: spanText, metrics: metricsText, errors: errorBodies.join("\n"), audit };
};

test("the traffic really happened (so the canary checks below are meaningful)", async () => {
  const seen = await everywhere();
  assert.ok(up.requests.length >= 6);
  assert.ok(seen.spans.includes("switchyard.v1.InferenceService/Generate"));
  assert.ok(seen.metrics.includes("switchyard_requests_total"));
  assert.ok(errorBodies.length >= 6);
  assert.ok(seen.audit.includes("inference.generate.denied"));
});

for (const [name, secret] of [
  ["the provider key", PROVIDER_KEY],
  ["the tail of the provider key the provider quoted", PROVIDER_KEY.slice(-8)],
  ["the client key", CLIENT_KEY],
  ["the client key's secret part", CLIENT_KEY.slice(20)],
  ["the prompt", PROMPT],
  ["the answer", ANSWER],
] as const) {
  test(`${name} never appears in logs, spans, metrics, error bodies or the audit log`, async () => {
    for (const [where, text] of Object.entries(await everywhere())) {
      assert.ok(!text.includes(secret), `${name} found in ${where}`);
    }
  });
}
