import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { connectClient } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { makeTestCertificate } from "../helpers/tls-cert.ts";

const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
let cert: ReturnType<typeof makeTestCertificate>;
let gw: TestGateway;
let ca: Buffer;

before(async () => {
  cert = makeTestCertificate();
  ca = cert.ca;
  gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: e }\n",
      `  tls: { certFile: ${cert.certFile}, keyFile: ${cert.keyFile} }\n`,
    ),
  );
});
after(async () => {
  await gw.stop();
  cert.remove();
});

test("one TLS port serves gRPC over h2 (ALPN) and Connect / gRPC-Web over HTTP/1.1", async () => {
  const baseUrl = `https://127.0.0.1:${gw.gateway.port}`;
  const clients = [
    connectClient("grpc-h2-tls", createGrpcTransport({ baseUrl, nodeOptions: { ca } }), true),
    connectClient(
      "connect-h1-tls",
      createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { ca } }),
    ),
    connectClient(
      "grpcweb-h1-tls",
      createGrpcWebTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { ca } }),
    ),
  ];
  for (const c of clients) {
    const { message } = await c.unary(InferenceService.method.generate, {
      workload: "chat",
      messages: [user(`over ${c.name}`)],
    });
    assert.equal(message.text, `over ${c.name}`);
  }
});

test("plaintext requests to the TLS port fail instead of being served in clear", async () => {
  const c = connectClient(
    "plain",
    createConnectTransport({ baseUrl: `http://127.0.0.1:${gw.gateway.port}`, httpVersion: "1.1" }),
  );
  await assert.rejects(
    c.unary(InferenceService.method.generate, { workload: "chat", messages: [user("x")] }),
  );
});
