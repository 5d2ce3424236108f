import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { parseConfig } from "../../src/config/load.ts";
import { setupTelemetry } from "../../src/telemetry/otel-sdk.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway } from "../helpers/gateway.ts";

/** A loopback OTLP/HTTP receiver: records every export request. */
async function startReceiver() {
  const received: { path: string; contentType: string; body: Buffer }[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({
      path: req.url ?? "",
      contentType: req.headers["content-type"] ?? "",
      body: Buffer.concat(chunks),
    });
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1/traces`, received, close: () => server.close() };
}

test("the OTLP/HTTP exporter delivers the gateway's spans to a collector", async () => {
  const receiver = await startReceiver();
  const yaml = configYaml(
    "  echo: { type: echo }\n",
    "  chat:\n    targets:\n      - { backend: echo, model: e }\n",
  );
  const telemetry = parseConfig(
    `${yaml}telemetry:\n  tracing: { enabled: true, endpoint: "${receiver.url}" }\n  metrics: { enabled: false }\n`,
    "t",
    {},
  ).config.telemetry;
  const sdk = setupTelemetry(telemetry, { OTEL_SERVICE_NAME: "switchyard-test" });
  const gw = await startTestGateway(yaml);
  try {
    const c = allClients(gw.url)[1]!;
    await c.unary(InferenceService.method.generate, {
      workload: "chat",
      messages: [{ role: Role.USER, content: [{ part: { case: "text", value: "traced" } }] }],
    });
    c.close();
  } finally {
    await gw.stop();
    await sdk.shutdown(); // flushes the batch processor
    receiver.close();
  }
  assert.ok(receiver.received.length >= 1, "the collector received an export");
  const exported = receiver.received.map((r) => r.body.toString("latin1")).join("\n");
  assert.equal(receiver.received[0]!.path, "/v1/traces");
  // Span names, attribute keys and the service name travel as plain UTF-8 in both JSON and protobuf OTLP.
  assert.ok(exported.includes("switchyard.v1.InferenceService/Generate"), "server span exported");
  assert.ok(exported.includes("chat e"), "attempt span exported");
  assert.ok(exported.includes("switchyard.workload"));
  assert.ok(exported.includes("switchyard-test"), "service.name from OTEL_SERVICE_NAME");
});
