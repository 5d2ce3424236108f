import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
let dir: string;
let gw: TestGateway;
let ca: Buffer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "switchyard-tls-"));
  // A throwaway self-signed certificate for 127.0.0.1, made fresh for this run.
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  ca = readFileSync(join(dir, "cert.pem"));
  gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: e }\n",
      `  tls: { certFile: ${join(dir, "cert.pem")}, keyFile: ${join(dir, "key.pem")} }\n`,
    ),
  );
});
after(async () => {
  await gw.stop();
  rmSync(dir, { recursive: true, force: true });
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
