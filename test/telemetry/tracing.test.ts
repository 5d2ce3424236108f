import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { propagation, SpanKind, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

// This file owns the process-wide tracer provider (node --test runs each file in its own process).
const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
);
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const traceparent = `00-${CALLER_TRACE}-00f067aa0ba902b7-01`;

let flaky: OpenAIFake;
let trusted: OpenAIFake;
let gw: TestGateway;
before(async () => {
  flaky = await startOpenAIFake();
  trusted = await startOpenAIFake();
  gw = await startTestGateway(
    configYaml(
      `  flaky:\n    type: openai\n    baseUrl: ${flaky.url}/v1\n` +
        `  inhouse:\n    type: openai\n    baseUrl: ${trusted.url}/v1\n    trusted: true\n`,
      "  chat:\n    targets:\n      - { backend: flaky, model: gpt-4o-mini }\n      - { backend: inhouse, model: llama-3 }\n",
    ),
  );
});
after(async () => {
  await gw.stop();
  await flaky.close();
  await trusted.close();
});

test("one server span and one client span per attempt, parented correctly across a fallback", async () => {
  exporter.reset();
  flaky.enqueue({ kind: "error", status: 503 });
  trusted.enqueue({ text: "hello there", usage: { prompt_tokens: 5, completion_tokens: 2 } });
  const c = allClients(gw.url)[1]!;
  await c.unary(
    InferenceService.method.generate,
    { workload: "chat", messages: [user("hi")] },
    { headers: { traceparent } },
  );
  c.close();

  const spans = exporter.getFinishedSpans();
  const servers = spans.filter((s) => s.kind === SpanKind.SERVER);
  const clients = spans.filter((s) => s.kind === SpanKind.CLIENT);
  assert.equal(servers.length, 1);
  assert.equal(clients.length, 2);
  const server = servers[0]!;
  assert.equal(server.name, "switchyard.v1.InferenceService/Generate");
  assert.equal(server.spanContext().traceId, CALLER_TRACE, "the caller's trace is continued");
  for (const client of clients) {
    assert.equal(client.parentSpanContext?.spanId, server.spanContext().spanId);
    assert.equal(client.spanContext().traceId, CALLER_TRACE);
  }
  const attrs = (s: ReadableSpan) => s.attributes;
  const [first, second] = clients.sort(
    (a, b) => Number(attrs(a)["switchyard.attempt"]) - Number(attrs(b)["switchyard.attempt"]),
  );
  assert.equal(first!.name, "chat gpt-4o-mini");
  assert.deepEqual(
    [
      attrs(first!)["switchyard.backend"],
      attrs(first!)["switchyard.error_kind"],
      attrs(first!)["switchyard.breaker_state"],
    ],
    ["flaky", "overloaded", "closed"],
  );
  assert.equal(attrs(first!)["gen_ai.provider.name"], "openai");
  assert.equal(first!.status.code, 2, "a failed attempt is an error span");
  assert.equal(attrs(second!)["switchyard.attempt"], 2);
  assert.equal(attrs(second!)["switchyard.backend"], "inhouse");

  const s = attrs(server);
  assert.equal(s["gen_ai.operation.name"], "chat");
  assert.equal(s["gen_ai.response.model"], "llama-3");
  assert.equal(s["gen_ai.usage.input_tokens"], 5);
  assert.equal(s["gen_ai.usage.output_tokens"], 2);
  assert.deepEqual(s["gen_ai.response.finish_reasons"], ["stop"]);
  assert.equal(s["switchyard.workload"], "chat");
  assert.equal(s["switchyard.route"], "chat");
  assert.equal(s["switchyard.strategy"], "priority");
  assert.equal(s["switchyard.attempts"], 2);
  assert.equal(s["switchyard.status"], "ok");
});

test("traceparent goes only to backends marked trusted", async () => {
  exporter.reset();
  flaky.enqueue({ kind: "error", status: 500 });
  trusted.enqueue({ text: "ok" });
  const c = allClients(gw.url)[0]!;
  await c.unary(
    InferenceService.method.generate,
    { workload: "chat", messages: [user("hi")] },
    { headers: { traceparent } },
  );
  c.close();
  assert.equal(
    flaky.requests.at(-1)!.headers.traceparent,
    undefined,
    "untrusted provider sees no trace context",
  );
  const forwarded = String(trusted.requests.at(-1)!.headers.traceparent);
  assert.match(forwarded, new RegExp(`^00-${CALLER_TRACE}-[0-9a-f]{16}-01$`));
  const attempt = exporter
    .getFinishedSpans()
    .find((s) => s.attributes["switchyard.backend"] === "inhouse" && s.kind === SpanKind.CLIENT);
  assert.equal(
    forwarded.split("-")[2],
    attempt!.spanContext().spanId,
    "the upstream's parent is our attempt span",
  );
});

test("a failed request ends its server span with an error status and the reason", async () => {
  exporter.reset();
  const c = allClients(gw.url)[2]!;
  await assert.rejects(
    c.unary(InferenceService.method.generate, { workload: "nope", messages: [user("hi")] }),
  );
  c.close();
  const server = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER)!;
  assert.equal(server.status.code, 2);
  assert.equal(server.attributes["switchyard.status"], "unknown_workload");
});
