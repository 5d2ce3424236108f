import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { ConfigError } from "../../src/config/config-error.ts";
import { parseConfig } from "../../src/config/load.ts";
import { EXPOSED_HEADERS } from "../../src/server/http/cors.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// CORS as a browser exercises it, checked on the wire: the preflight (OPTIONS with
// Access-Control-Request-Method) and the headers of the real answer, for Connect, gRPC-Web and the
// OpenAI facade. test/e2e/browser-cors.test.ts makes the same calls from a page in headless Chromium.

const APP = "https://app.example.com";
const GENERATE = "/switchyard.v1.InferenceService/Generate";
const backends = "  echo: { type: echo }\n";
const routes = "  chat:\n    targets:\n      - { backend: echo, model: e }\n";
const corsServer = (extra = "") =>
  `  cors: { allowedOrigins: ["${APP}", "https://*.example.org"]${extra} }\n`;

type Answer = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };

function call(base: string, method: string, path: string, headers: Record<string, string>, body?: Buffer) {
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

const preflight = (base: string, path: string, origin: string, requestHeaders: string) =>
  call(base, "OPTIONS", path, {
    origin,
    "access-control-request-method": "POST",
    "access-control-request-headers": requestHeaders,
  });

const connectGenerate = (base: string, origin: string) =>
  call(
    base,
    "POST",
    GENERATE,
    { origin, "content-type": "application/json", "connect-protocol-version": "1" },
    Buffer.from(
      JSON.stringify({ workload: "chat", messages: [{ role: "ROLE_USER", content: [{ text: "hi" }] }] }),
    ),
  );

const list = (value: string | string[] | undefined) =>
  String(value ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

describe("server.cors", () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway(configYaml(backends, routes, corsServer()));
  });
  after(() => gw.stop());

  test("a preflight from an allowed origin is answered 204 with what Connect and gRPC-Web send", async () => {
    const asked = "content-type, connect-protocol-version, connect-timeout-ms, authorization";
    for (const path of [GENERATE, "/switchyard.v1.AdminService/ListKeys", "/v1/chat/completions"]) {
      const res = await preflight(gw.url, path, APP, asked);
      assert.equal(res.status, 204, path);
      assert.equal(res.headers["access-control-allow-origin"], APP, path);
      assert.ok(list(res.headers["access-control-allow-methods"]).includes("post"));
      const allowed = list(res.headers["access-control-allow-headers"]);
      for (const h of [...list(asked), "grpc-timeout", "x-grpc-web", "x-user-agent"])
        assert.ok(allowed.includes(h), `${path}: allows ${h}`);
      assert.equal(res.headers["access-control-max-age"], "600");
      assert.equal(
        res.headers["access-control-allow-credentials"],
        undefined,
        "no credentials unless configured",
      );
      assert.match(String(res.headers.vary), /Origin/);
    }
  });

  test("origin patterns match one label only; other origins get 403 and no CORS headers", async () => {
    assert.equal((await preflight(gw.url, GENERATE, "https://eu.example.org", "content-type")).status, 204);
    for (const origin of [
      "https://example.org",
      "https://a.b.example.org",
      "https://app.example.com.evil.net",
      "http://app.example.com",
      "https://evil.net",
      "null",
    ]) {
      const res = await preflight(gw.url, GENERATE, origin, "content-type");
      assert.equal(res.status, 403, origin);
      assert.equal(res.headers["access-control-allow-origin"], undefined, origin);
    }
  });

  test("a Connect answer to an allowed origin names it and exposes every routing header it carries", async () => {
    const res = await connectGenerate(gw.url, APP);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers["access-control-allow-origin"], APP);
    const exposed = list(res.headers["access-control-expose-headers"]);
    assert.deepEqual(exposed, EXPOSED_HEADERS);
    // Every gateway header on a real answer is readable by the page (the list cannot drift from the code).
    const ours = Object.keys(res.headers).filter((h) =>
      /^(trailer-)?(x-switchyard-|x-request-id|x-ratelimit-|server-timing|retry-after)/.test(h),
    );
    assert.ok(
      ours.includes("x-request-id") && ours.some((h) => h.startsWith("trailer-x-switchyard-")),
      ours.join(),
    );
    for (const h of ours) assert.ok(exposed.includes(h), `exposes ${h}`);
  });

  test("a gRPC-Web answer exposes grpc-status and grpc-message (a trailers-only error carries them as headers)", async () => {
    const res = await call(
      gw.url,
      "POST",
      GENERATE,
      { origin: APP, "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      Buffer.from([0, 0, 0, 0, 0]), // an empty request: no workload
    );
    assert.equal(res.headers["access-control-allow-origin"], APP);
    const exposed = list(res.headers["access-control-expose-headers"]);
    for (const h of ["grpc-status", "grpc-message", "grpc-status-details-bin"])
      assert.ok(exposed.includes(h), h);
  });

  test("an answer to another origin carries no CORS headers (the browser keeps it from the page)", async () => {
    const res = await connectGenerate(gw.url, "https://evil.net");
    assert.equal(res.status, 200, "served as without CORS: the browser, not the gateway, refuses it");
    assert.equal(res.headers["access-control-allow-origin"], undefined);
    assert.equal(res.headers["access-control-expose-headers"], undefined);
  });
});

test("with credentials the exact origin is echoed with allow-credentials, never *", async () => {
  const gw = await startTestGateway(configYaml(backends, routes, corsServer(", allowCredentials: true")));
  try {
    const res = await preflight(gw.url, GENERATE, APP, "content-type");
    assert.equal(res.headers["access-control-allow-origin"], APP);
    assert.equal(res.headers["access-control-allow-credentials"], "true");
    const answer = await connectGenerate(gw.url, APP);
    assert.equal(answer.headers["access-control-allow-credentials"], "true");
  } finally {
    await gw.stop();
  }
});

test("origin * without credentials answers *", async () => {
  const gw = await startTestGateway(configYaml(backends, routes, '  cors: { allowedOrigins: ["*"] }\n'));
  try {
    const res = await preflight(gw.url, GENERATE, "https://anyone.test", "content-type");
    assert.equal(res.status, 204);
    assert.equal(res.headers["access-control-allow-origin"], "*");
  } finally {
    await gw.stop();
  }
});

test("without server.cors a preflight gets no CORS answer (off by default)", async () => {
  const gw = await startTestGateway(configYaml(backends, routes));
  try {
    const res = await preflight(gw.url, GENERATE, APP, "content-type");
    assert.notEqual(res.status, 204);
    assert.equal(res.headers["access-control-allow-origin"], undefined);
  } finally {
    await gw.stop();
  }
});

test("config: * with credentials, or something that is not an origin, is refused at load", () => {
  for (const cors of [
    '{ allowedOrigins: ["*"], allowCredentials: true }',
    '{ allowedOrigins: ["app.example.com"] }',
    '{ allowedOrigins: ["https://app.example.com/"] }',
    '{ allowedOrigins: ["https://*.*.example.com"] }',
  ]) {
    assert.throws(
      () => parseConfig(configYaml(backends, routes, `  cors: ${cors}\n`), "t", {}),
      (e: unknown) => e instanceof ConfigError,
      cors,
    );
  }
});
