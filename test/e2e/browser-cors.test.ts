import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { launchChromium } from "../helpers/browser.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// A page on another origin calls Generate and GenerateStream in a real browser (headless Chromium)
// over Connect and gRPC-Web, and reads the routing trailers; a gateway that does not list the page's
// origin in server.cors is refused by the browser itself.

/** The page: plain fetch() calls, as a Connect-Web or gRPC-Web client makes them. Runs in the browser. */
const PAGE_SCRIPT = `
const REQ = { workload: "chat", messages: [{ role: "ROLE_USER", content: [{ text: "hello from a page" }] }] };
const utf8 = new TextEncoder();
const envelope = (flags, bytes) => {
  const out = new Uint8Array(5 + bytes.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, bytes.length);
  out.set(bytes, 5);
  return out;
};
const frames = (buf) => {
  const out = [];
  for (let at = 0; at + 5 <= buf.length; ) {
    const len = new DataView(buf.buffer, buf.byteOffset + at + 1, 4).getUint32(0);
    out.push({ flags: buf[at], data: new TextDecoder().decode(buf.subarray(at + 5, at + 5 + len)) });
    at += 5 + len;
  }
  return out;
};
window.calls = {
  async connectUnary(base) {
    const res = await fetch(base + "/switchyard.v1.InferenceService/Generate", {
      method: "POST",
      headers: { "content-type": "application/json", "connect-protocol-version": "1", "connect-timeout-ms": "5000" },
      body: JSON.stringify(REQ),
    });
    const body = await res.json();
    return { status: res.status, text: body.text, requestId: res.headers.get("x-request-id"),
      route: res.headers.get("trailer-x-switchyard-route"), timing: res.headers.get("server-timing") };
  },
  async connectStream(base) {
    const res = await fetch(base + "/switchyard.v1.InferenceService/GenerateStream", {
      method: "POST",
      headers: { "content-type": "application/connect+json", "connect-protocol-version": "1" },
      body: envelope(0, utf8.encode(JSON.stringify(REQ))),
    });
    const all = frames(new Uint8Array(await res.arrayBuffer()));
    const text = all.filter((f) => f.flags === 0).map((f) => JSON.parse(f.data).textDelta?.text ?? "").join("");
    const end = JSON.parse(all.find((f) => f.flags === 2).data);
    return { status: res.status, text, route: end.metadata?.["x-switchyard-route"]?.[0], error: end.error ?? null };
  },
  async grpcWebStream(base) {
    const res = await fetch(base + "/switchyard.v1.InferenceService/GenerateStream", {
      method: "POST",
      headers: { "content-type": "application/grpc-web+json", "x-grpc-web": "1", "x-user-agent": "page" },
      body: envelope(0, utf8.encode(JSON.stringify(REQ))),
    });
    const all = frames(new Uint8Array(await res.arrayBuffer()));
    const text = all.filter((f) => f.flags === 0).map((f) => JSON.parse(f.data).textDelta?.text ?? "").join("");
    const trailer = Object.fromEntries(
      all.find((f) => f.flags === 0x80).data.trim().split("\\r\\n").map((l) => l.split(": ").map((s) => s.trim())),
    );
    return { status: res.status, text, grpcStatus: trailer["grpc-status"], route: trailer["x-switchyard-route"] };
  },
  async grpcWebUnaryError(base) {
    const res = await fetch(base + "/switchyard.v1.InferenceService/Generate", {
      method: "POST",
      headers: { "content-type": "application/grpc-web+json", "x-grpc-web": "1" },
      body: envelope(0, utf8.encode(JSON.stringify({ workload: "nope", messages: REQ.messages }))),
    });
    // The status comes as headers (trailers-only) or in the trailer frame, whichever the server sends.
    const trailerFrame = frames(new Uint8Array(await res.arrayBuffer())).find((f) => f.flags === 0x80);
    const trailer = trailerFrame
      ? Object.fromEntries(trailerFrame.data.trim().split("\\r\\n").map((l) => l.split(": ").map((s) => s.trim())))
      : {};
    return {
      grpcStatus: res.headers.get("grpc-status") ?? trailer["grpc-status"],
      grpcMessage: res.headers.get("grpc-message") ?? trailer["grpc-message"],
    };
  },
  async refused(base) {
    try {
      await fetch(base + "/switchyard.v1.InferenceService/Generate", {
        method: "POST",
        headers: { "content-type": "application/json", "connect-protocol-version": "1" },
        body: JSON.stringify(REQ),
      });
      return "answered";
    } catch (e) {
      return String(e);
    }
  },
};
`;

let page: http.Server;
let pageOrigin: string;
let allowed: TestGateway;
let closed: TestGateway;

const backends = "  echo: { type: echo }\n";
const routes = "  chat:\n    targets:\n      - { backend: echo, model: echo-1 }\n";

before(async () => {
  // The page's own origin: another port is another origin.
  page = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><title>cors</title><script>${PAGE_SCRIPT}</script>`);
  });
  await new Promise<void>((resolve) => page.listen(0, "127.0.0.1", resolve));
  pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
  allowed = await startTestGateway(
    configYaml(backends, routes, `  cors: { allowedOrigins: ["${pageOrigin}"] }\n`),
  );
  closed = await startTestGateway(configYaml(backends, routes));
});
after(async () => {
  await allowed.stop();
  await closed.stop();
  await new Promise((resolve) => page.close(resolve));
});

test("a page on another origin calls Generate and GenerateStream over Connect and gRPC-Web and reads the trailers", async (t) => {
  const browser: Browser | undefined = await launchChromium(t);
  if (!browser) return;
  try {
    const tab = await browser.newPage();
    await tab.goto(pageOrigin);
    const call = (name: string, base: string) =>
      tab.evaluate(
        ([n, b]) =>
          (globalThis as unknown as { calls: Record<string, (b: string) => Promise<unknown>> }).calls[n!]!(
            b!,
          ),
        [name, base],
      ) as Promise<Record<string, unknown>>;

    const unary = await call("connectUnary", allowed.url);
    assert.equal(unary.status, 200);
    assert.equal(unary.text, "hello from a page");
    assert.match(String(unary.requestId), /^[0-9a-f-]{36}$/, "x-request-id is readable");
    assert.equal(unary.route, "chat", "a Connect unary trailer (trailer-x-switchyard-route) is readable");
    assert.match(String(unary.timing), /gateway;dur=/);

    const stream = await call("connectStream", allowed.url);
    assert.deepEqual(
      { status: stream.status, text: stream.text, route: stream.route, error: stream.error },
      { status: 200, text: "hello from a page", route: "chat", error: null },
    );

    const grpcWeb = await call("grpcWebStream", allowed.url);
    assert.deepEqual(grpcWeb, { status: 200, text: "hello from a page", grpcStatus: "0", route: "chat" });

    const error = await call("grpcWebUnaryError", allowed.url);
    assert.equal(error.grpcStatus, "5", "an error's grpc-status is readable (NOT_FOUND)");
    assert.match(String(error.grpcMessage), /workload/);

    // The same call to a gateway that does not list the page's origin: the browser refuses it.
    assert.match(String(await call("refused", closed.url)), /TypeError: Failed to fetch/);
  } finally {
    await browser.close();
  }
});
