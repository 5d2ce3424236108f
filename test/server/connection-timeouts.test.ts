import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { metrics } from "@opentelemetry/api";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { connectClient } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { parsePrometheus, total } from "../helpers/prometheus.ts";
import { h2Connect, h2Get, rawConnect, responseOn } from "../helpers/raw-socket.ts";
import { within } from "../helpers/wait.ts";

// This file owns the process-wide meter provider (each test file runs in its own process).
const prometheus = new PrometheusExporter({ preventServerStart: true });
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [prometheus] }));

// Small configured values, so "closed by the server" is seen in well under a second; every wait is bounded.
const HEADERS_MS = 300;
const IDLE_MS = 400;
const REQUEST_MS = 800;
/** Well past each timeout, far below the 120 s that Node alone would wait. */
const BOUND_MS = 5000;
const GET_MODELS = "GET /v1/models HTTP/1.1\r\nhost: gw\r\n\r\n";
const H2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
/** Eight words from a backend that waits 250 ms before each: 2 s, five idle timeouts. */
const SLOW_TEXT = "one two three four five six seven eight";

const backends = "  echo: { type: echo }\n  slow: { type: echo, chunkDelayMs: 250 }\n";
const routes =
  "  chat:\n    targets:\n      - { backend: echo, model: e }\n" +
  "  slow:\n    targets:\n      - { backend: slow, model: s }\n";

let gw: TestGateway;
let port: number;
before(async () => {
  gw = await startTestGateway(
    configYaml(
      backends,
      routes,
      `  limits: { headersTimeoutMs: ${HEADERS_MS}, idleTimeoutMs: ${IDLE_MS}, requestTimeoutMs: ${REQUEST_MS} }\n`,
    ),
    {},
    { prometheus },
  );
  port = gw.gateway.port;
});
after(() => gw.stop());

/**
 * switchyard_connections_closed_total for one reason, scraped on a connection that closes after its
 * answer (so the scrape adds no idle connection of its own to the count).
 */
async function closedTotal(reason: string): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    http
      .get(`${gw.url}/metrics`, { agent: false, headers: { connection: "close" } }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve(body));
      })
      .on("error", reject);
  });
  return total(parsePrometheus(text), "switchyard_connections_closed_total", { reason });
}

/** Whether the count for `reason` reaches `atLeast` within a few seconds (it is recorded as the socket closes). */
async function reaches(reason: string, atLeast: number): Promise<boolean> {
  for (const end = Date.now() + 3000; Date.now() < end; await new Promise((r) => setTimeout(r, 20)))
    if ((await closedTotal(reason)) >= atLeast) return true;
  return false;
}

/** Runs `close` (a connection the server closes for `reason`) and sees the counter for that reason rise. */
async function counted(reason: string, close: () => Promise<unknown>): Promise<void> {
  const before = await closedTotal(reason);
  await close();
  assert.ok(
    await reaches(reason, before + 1),
    `switchyard_connections_closed_total{reason="${reason}"} counts it`,
  );
}

describe("connections that never send a request are closed after headersTimeoutMs", () => {
  test("a silent socket (counted as header_timeout)", async () => {
    await counted("header_timeout", async () => {
      const conn = await rawConnect(port);
      await within(conn.closed, "the server to close a silent socket", BOUND_MS);
      assert.equal(conn.received(), "");
    });
  });

  test("a partial HTTP/2 preface (still being sniffed)", async () => {
    const conn = await rawConnect(port);
    conn.socket.write(H2_PREFACE.slice(0, 10));
    await within(conn.closed, "the server to close a partial preface", BOUND_MS);
  });

  test("a whole HTTP/2 preface but no SETTINGS", async () => {
    const conn = await rawConnect(port);
    conn.socket.write(H2_PREFACE);
    await within(conn.closed, "the server to close a session without SETTINGS", BOUND_MS);
  });

  test("a partial HTTP/1.1 request line", async () => {
    const conn = await rawConnect(port);
    conn.socket.write("POST /v1/chat/compl");
    await within(conn.closed, "the server to close a partial request line", BOUND_MS);
  });

  test("a request head that never ends", async () => {
    const conn = await rawConnect(port);
    conn.socket.write("GET /v1/models HTTP/1.1\r\nhost: gw\r\nx-slow: ");
    await within(conn.closed, "the server to close a partial request head", BOUND_MS);
  });
});

describe("connections with nothing open are closed after idleTimeoutMs", () => {
  test("a keep-alive HTTP/1.1 connection whose request is done (counted as idle_timeout)", async () => {
    await counted("idle_timeout", async () => {
      const conn = await rawConnect(port);
      conn.socket.write(GET_MODELS);
      assert.match(await within(responseOn(conn), "the response"), /^HTTP\/1\.1 200 /);
      assert.doesNotMatch(conn.received(), /\r\nconnection: close/i);
      await within(conn.closed, "the server to close an idle keep-alive connection", BOUND_MS);
    });
  });

  test("an HTTP/2 session whose stream is done, with a GOAWAY", async () => {
    const { session, closed } = await h2Connect(`http://127.0.0.1:${port}`);
    assert.equal(await h2Get(session, "/v1/models"), 200);
    const { goaway } = await within(closed, "the server to close an idle HTTP/2 session", BOUND_MS);
    assert.ok(goaway, "closed gracefully (GOAWAY)");
  });

  test("an HTTP/2 session that never opened a stream", async () => {
    const { closed } = await h2Connect(`http://127.0.0.1:${port}`);
    const { goaway } = await within(closed, "the server to close an idle HTTP/2 session", BOUND_MS);
    assert.ok(goaway);
  });
});

test("a request body that stops arriving is cut after requestTimeoutMs (counted as request_timeout)", async () => {
  await counted("request_timeout", async () => {
    const conn = await rawConnect(port);
    conn.socket.write(
      "POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{",
    );
    await within(conn.closed, "the server to cut a stalled upload", BOUND_MS);
  });
});

describe("open calls are never cut by the idle or header timeouts", () => {
  const clients = () => [
    connectClient("connect-http1", createConnectTransport({ baseUrl: gw.url, httpVersion: "1.1" })),
    connectClient("grpc-h2c", createGrpcTransport({ baseUrl: gw.url }), true),
  ];

  test("a stream that keeps sending for five idle timeouts gets every message", async () => {
    for (const c of clients()) {
      const { messages } = await c.serverStream(InferenceService.method.generateStream, {
        workload: "slow",
        messages: [user(SLOW_TEXT)],
      });
      const text = messages.map((m) => (m.event.case === "textDelta" ? m.event.value.text : "")).join("");
      assert.equal(text, SLOW_TEXT, c.name);
      c.close();
    }
  });

  test("a unary call that is silent for five idle timeouts gets its answer", async () => {
    for (const c of clients()) {
      const { message } = await c.unary(InferenceService.method.generate, {
        workload: "slow",
        messages: [user(SLOW_TEXT)],
      });
      assert.equal(message.text, SLOW_TEXT, c.name);
      c.close();
    }
  });
});

describe("server.limits.maxConnections", () => {
  let capped: TestGateway;
  before(async () => {
    capped = await startTestGateway(
      configYaml(backends, routes, "  limits: { maxConnections: 3, headersTimeoutMs: 60000 }\n"),
    );
  });
  after(() => capped.stop());

  test("the connection over the cap is closed at once; those under it keep working", async () => {
    const open = [];
    for (let i = 0; i < 3; i++) {
      const conn = await rawConnect(capped.gateway.port);
      conn.socket.write(GET_MODELS);
      await within(responseOn(conn), "a response under the cap"); // accepted and served
      open.push(conn);
    }
    const over = await rawConnect(capped.gateway.port);
    over.socket.write(GET_MODELS);
    // Closed long before the 60 s headers timeout could have done it, unanswered.
    await within(over.closed, "the server to close the connection over the cap", BOUND_MS);
    assert.equal(over.received(), "");
    // Both gateways record into this file's one meter provider: the main one's /metrics shows the count.
    assert.ok(
      await reaches("connection_cap", 1),
      'switchyard_connections_closed_total{reason="connection_cap"} counts it',
    );

    const first = open[0]!;
    const before = first.received().length;
    first.socket.write(GET_MODELS);
    await within(
      new Promise<void>((resolve) => {
        const check = () => (first.received().length > before ? resolve() : first.socket.once("data", check));
        check();
      }),
      "an answer on a connection under the cap",
    );
    for (const conn of open) conn.socket.destroy();
  });
});
