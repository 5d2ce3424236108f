import assert from "node:assert/strict";
import { request } from "node:http";
import http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type RawConnection, rawConnect, tlsConnect } from "../helpers/raw-socket.ts";
import { makeTestCertificate } from "../helpers/tls-cert.ts";
import { within } from "../helpers/wait.ts";

// An answer given before the request body has all arrived (too large, overloaded) must reach a client that
// writes its whole body before it reads anything, instead of a reset (EPIPE / ECONNRESET) while it writes.
const BODY = Buffer.alloc(10 * 1024 * 1024, "a");
const LIMIT = 1024 * 1024;
const backends = "  echo: { type: echo }\n";
const routes = "  chat:\n    targets:\n      - { backend: echo, model: e }\n";
const FACADE = { path: "/v1/chat/completions", type: "application/json" };
const CONNECT = { path: "/switchyard.v1.InferenceService/Generate", type: "application/json" };
const CONNECT_NODE = { path: "/switchyard.v1.AdminService/ListKeys", type: "application/json" };
type Route = typeof FACADE;

/**
 * Raw HTTP/1.1: the head and the whole body are written with reading paused, and only once the
 * last byte is handed over does the client read. The status line, or how the connection failed.
 */
async function writeAllThenRead(
  port: number | (() => Promise<RawConnection>),
  route: Route,
  connection: "close" | "keep-alive",
  framing: "length" | "chunked" = "length",
) {
  const conn = await (typeof port === "number" ? rawConnect(port) : port());
  conn.socket.pause();
  const head =
    `POST ${route.path} HTTP/1.1\r\nhost: gw\r\ncontent-type: ${route.type}\r\n` +
    (framing === "length" ? `content-length: ${BODY.length}` : "transfer-encoding: chunked") +
    `\r\nconnection: ${connection}\r\n\r\n`;
  conn.socket.write(head);
  if (framing === "chunked") conn.socket.write(`${BODY.length.toString(16)}\r\n`);
  conn.socket.write(BODY);
  const written = await new Promise<string | undefined>((resolve) =>
    conn.socket.write(framing === "chunked" ? "\r\n0\r\n\r\n" : "", (error) =>
      resolve((error as NodeJS.ErrnoException | undefined)?.code),
    ),
  );
  if (written !== undefined) return `write failed: ${written}`;
  conn.socket.resume();
  await within(
    new Promise<void>((resolve) => {
      const check = () => (/\r\n\r\n\{.*\}/s.test(conn.received()) ? resolve() : undefined);
      conn.socket.on("data", check);
      conn.socket.once("close", () => resolve());
      check();
    }),
    "the answer",
  );
  conn.socket.destroy();
  return conn.received();
}

/** Node's http.request, body written in full (end(body)) before the response is looked at. */
function nodeRequest(port: number, route: Route): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: route.path,
        agent: false, // connection: close, as a one-shot client sends it
        headers: { "content-type": route.type, "content-length": String(BODY.length) },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on("end", () => resolve(`${res.statusCode} ${text}`));
        res.on("error", (error: NodeJS.ErrnoException) => resolve(`response failed: ${error.code}`));
      },
    );
    req.on("error", (error: NodeJS.ErrnoException) => resolve(`request failed: ${error.code}`));
    req.end(BODY);
  });
}

describe("a body over maxRequestBytes", () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway(
      configYaml(backends, routes, `  limits: { maxRequestBytes: ${LIMIT}, maxEventLoopLagMs: 0 }\n`),
    );
  });
  after(() => gw.stop());

  const cases: [string, Route, RegExp][] = [
    ["the OpenAI facade", FACADE, /^HTTP\/1\.1 413 [\s\S]*"code":"message_too_large"/],
    ["the Connect fast path", CONNECT, /^HTTP\/1\.1 429 [\s\S]*"code":"resource_exhausted"/],
    ["connect-node", CONNECT_NODE, /^HTTP\/1\.1 429 [\s\S]*"code":"resource_exhausted"/],
  ];
  for (const [name, route, answer] of cases) {
    test(`${name}: a client that writes all 10 MB before reading gets the answer`, async () => {
      for (const framing of ["length", "chunked"] as const) {
        for (const connection of ["close", "keep-alive"] as const) {
          for (let i = 0; i < 3; i++) {
            const got = await writeAllThenRead(gw.gateway.port, route, connection, framing);
            assert.match(got, answer, `${framing}, ${connection}`);
          }
        }
      }
    });
  }

  test("Node's http.request, 20 times: always the 413 and its body, never EPIPE or ECONNRESET", async () => {
    for (let i = 0; i < 20; i++) {
      const answer = await nodeRequest(gw.gateway.port, FACADE);
      assert.match(answer, /^413 \{"error":\{.*"code":"message_too_large"/, `try ${i}`);
    }
  });

  test("HTTP/2: the 413 arrives before the stream is reset", async () => {
    const session = http2.connect(gw.url);
    session.on("error", () => {});
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": FACADE.path,
        "content-type": FACADE.type,
      });
      stream.on("error", () => {}); // the reset after the answer
      const status = new Promise<number>((resolve) =>
        stream.once("response", (headers) => resolve(Number(headers[":status"]))),
      );
      stream.end(BODY);
      assert.equal(await within(status, "the answer over HTTP/2"), 413);
    } finally {
      session.destroy();
    }
  });
});

describe("a call shed at the front door (overloaded, 429) before its body is read", () => {
  let gw: TestGateway;
  let hold: ReturnType<typeof request>;
  before(async () => {
    gw = await startTestGateway(
      configYaml(backends, routes, "  limits: { maxInFlightRequests: 1, maxEventLoopLagMs: 0 }\n"),
    );
    // One request kept in flight (its body never ends), so the next inference call is over the cap.
    hold = request({
      host: "127.0.0.1",
      port: gw.gateway.port,
      method: "POST",
      path: FACADE.path,
      headers: { "content-type": "application/json" },
    });
    hold.on("error", () => {});
    hold.write("{");
    // In flight once the gateway has its head: from then on a small call is shed.
    const shed = async () => {
      for (;;) {
        const res = await fetch(`${gw.url}${CONNECT.path}`, {
          method: "POST",
          headers: { "content-type": CONNECT.type },
          body: JSON.stringify({ workload: "chat" }),
        });
        await res.arrayBuffer();
        if (res.status === 429) return;
      }
    };
    await within(shed(), "the held request to count as in flight");
  });
  after(async () => {
    hold.destroy();
    await gw.stop();
  });

  test("the client that writes all 10 MB before reading gets the 429", async () => {
    for (const connection of ["close", "keep-alive"] as const) {
      for (let i = 0; i < 3; i++) {
        const answer = await writeAllThenRead(gw.gateway.port, CONNECT, connection);
        assert.match(answer, /^HTTP\/1\.1 429 [\s\S]*"code":"resource_exhausted"/, connection);
      }
    }
  });

  test("Node's http.request, 20 times: always the 429 and its body", async () => {
    for (let i = 0; i < 20; i++) {
      const answer = await nodeRequest(gw.gateway.port, CONNECT);
      assert.match(answer, /^429 \{"code":"resource_exhausted"/, `try ${i}`);
    }
  });
});

test("TLS (HTTP/1.1 after ALPN): a client that writes all 10 MB before reading gets the 413", async () => {
  const cert = makeTestCertificate();
  const gw = await startTestGateway(
    configYaml(
      backends,
      routes,
      `  tls: { certFile: ${cert.certFile}, keyFile: ${cert.keyFile} }\n  limits: { maxRequestBytes: ${LIMIT}, maxEventLoopLagMs: 0 }\n`,
    ),
  );
  try {
    const connect = () => tlsConnect(gw.gateway.port, cert.ca, ["http/1.1"]);
    for (const connection of ["close", "keep-alive"] as const) {
      for (let i = 0; i < 3; i++) {
        const answer = await writeAllThenRead(connect, FACADE, connection);
        assert.match(answer, /^HTTP\/1\.1 413 [\s\S]*"code":"message_too_large"/, connection);
      }
    }
  } finally {
    await gw.stop();
    cert.remove();
  }
});
