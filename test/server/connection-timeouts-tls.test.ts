import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { connectClient } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { h2Connect, h2Get, rawConnect, responseOn, tlsConnect } from "../helpers/raw-socket.ts";
import { makeTestCertificate } from "../helpers/tls-cert.ts";
import { within } from "../helpers/wait.ts";

// The same timeouts as connection-timeouts.test.ts, on the TLS port (ALPN h2 or http/1.1 after the handshake).
const BOUND_MS = 5000;
const GET_MODELS = "GET /v1/models HTTP/1.1\r\nhost: gw\r\n\r\n";
const SLOW_TEXT = "one two three four five six seven eight";
const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
const backends = "  echo: { type: echo }\n  slow: { type: echo, chunkDelayMs: 250 }\n";
const routes =
  "  chat:\n    targets:\n      - { backend: echo, model: e }\n" +
  "  slow:\n    targets:\n      - { backend: slow, model: s }\n";

let cert: ReturnType<typeof makeTestCertificate>;
let gw: TestGateway;
let port: number;
let baseUrl: string;
const tlsServer = (limits: string) =>
  `  tls: { certFile: ${cert.certFile}, keyFile: ${cert.keyFile} }\n  limits: { ${limits} }\n`;

before(async () => {
  cert = makeTestCertificate();
  gw = await startTestGateway(
    configYaml(
      backends,
      routes,
      tlsServer("headersTimeoutMs: 300, idleTimeoutMs: 400, requestTimeoutMs: 800, maxEventLoopLagMs: 0"),
    ),
  );
  port = gw.gateway.port;
  baseUrl = `https://127.0.0.1:${port}`;
});
after(async () => {
  await gw.stop();
  cert.remove();
});

describe("TLS: connections that never send a request are closed after headersTimeoutMs", () => {
  test("a TCP connection that never starts the handshake", async () => {
    const conn = await rawConnect(port);
    await within(conn.closed, "the server to close a connection without a handshake", BOUND_MS);
  });

  test("a partial HTTP/1.1 request line", async () => {
    const conn = await tlsConnect(port, cert.ca, ["http/1.1"]);
    conn.socket.write("POST /v1/chat/compl");
    await within(conn.closed, "the server to close a partial request line", BOUND_MS);
  });

  test("a partial HTTP/2 preface", async () => {
    const conn = await tlsConnect(port, cert.ca, ["h2"]);
    conn.socket.write("PRI * HTTP/2.0\r\n");
    await within(conn.closed, "the server to close a partial preface", BOUND_MS);
  });
});

describe("TLS: connections with nothing open are closed after idleTimeoutMs", () => {
  test("a keep-alive HTTP/1.1 connection whose request is done", async () => {
    const conn = await tlsConnect(port, cert.ca, ["http/1.1"]);
    conn.socket.write(GET_MODELS);
    assert.match(await within(responseOn(conn), "the response"), /^HTTP\/1\.1 200 /);
    await within(conn.closed, "the server to close an idle keep-alive connection", BOUND_MS);
  });

  test("an HTTP/2 session whose stream is done, with a GOAWAY", async () => {
    const { session, closed } = await h2Connect(baseUrl, { ca: cert.ca });
    assert.equal(await h2Get(session, "/v1/models"), 200);
    const { goaway } = await within(closed, "the server to close an idle HTTP/2 session", BOUND_MS);
    assert.ok(goaway);
  });
});

test("TLS: a stream that keeps sending for five idle timeouts gets every message", async () => {
  const clients = [
    connectClient(
      "connect-http1-tls",
      createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { ca: cert.ca } }),
    ),
    connectClient("grpc-h2-tls", createGrpcTransport({ baseUrl, nodeOptions: { ca: cert.ca } }), true),
  ];
  for (const c of clients) {
    const { messages } = await c.serverStream(InferenceService.method.generateStream, {
      workload: "slow",
      messages: [user(SLOW_TEXT)],
    });
    const text = messages.map((m) => (m.event.case === "textDelta" ? m.event.value.text : "")).join("");
    assert.equal(text, SLOW_TEXT, c.name);
    c.close();
  }
});

describe("TLS: server.limits.maxConnections", () => {
  let capped: TestGateway;
  before(async () => {
    capped = await startTestGateway(
      configYaml(backends, routes, tlsServer("maxConnections: 2, headersTimeoutMs: 60000")),
    );
  });
  after(() => capped.stop());

  test("the connection over the cap is closed at once, before its handshake", async () => {
    const open = [];
    for (let i = 0; i < 2; i++) {
      const conn = await tlsConnect(capped.gateway.port, cert.ca, ["http/1.1"]);
      conn.socket.write(GET_MODELS);
      await within(responseOn(conn), "a response under the cap");
      open.push(conn);
    }
    const over = await rawConnect(capped.gateway.port);
    await within(over.closed, "the server to close the connection over the cap", BOUND_MS);
    for (const conn of open) conn.socket.destroy();
  });
});
