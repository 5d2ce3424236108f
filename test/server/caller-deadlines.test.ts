// The caller's deadline at every front door (issue #14, findings 8 and 9):
// - a timeout above server.limits.maxTimeoutMs is served with the cap (docs/config.md), never refused:
//   on the fast path (gRPC, Connect), through connect-node (gRPC-Web, compressed Connect) and on the
//   OpenAI facade (x-stainless-timeout); with a hanging upstream the call then ends at the cap;
// - a deadline that has passed on arrival (grpc-timeout: 1n, connect-timeout-ms: 0, a 1 ms one whose body
//   arrives later) is DEADLINE_EXCEEDED before any upstream work: no upstream request, no ledger row
//   (nothing reached an upstream, so nothing is billed), and no negative timer anywhere.
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { GenerateRequestSchema } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { within } from "../helpers/wait.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

const GENERATE = "/switchyard.v1.InferenceService/Generate";
/** server.limits.maxTimeoutMs here: short, so a capped call against a hanging upstream ends soon. */
const CAP_MS = 300;
/** Far above the cap, far below the route's totalMs (120 s): only the cap can end such a call soon. */
const LONG = { grpc: "20M", connectMs: String(20 * 60_000), stainlessS: "1200" };

let up: OpenAIFake;
let gw: TestGateway;
const warnings: string[] = [];
const onWarning = (w: Error) => warnings.push(w.name);
before(async () => {
  process.on("warning", onWarning);
  up = await startOpenAIFake();
  gw = await startTestGateway(
    configYaml(
      `  echo:\n    type: echo\n  oa:\n    type: openai\n    baseUrl: ${up.url}/v1\n`,
      "  chat:\n    targets:\n      - { backend: echo, model: echo-1 }\n" +
        "  remote:\n    retry: { maxAttempts: 1 }\n    targets:\n      - { backend: oa, model: gpt-4o-mini }\n",
      `  limits: { maxTimeoutMs: ${CAP_MS} }\n`,
    ),
  );
});
after(async () => {
  process.off("warning", onWarning);
  await gw.stop();
  await up.close();
});

const proto = (workload: string) =>
  toBinary(
    GenerateRequestSchema,
    create(GenerateRequestSchema, {
      workload,
      messages: [{ role: Role.USER, content: [{ part: { case: "text", value: "hello there" } }] }],
    }),
  );
const json = (workload: string) =>
  JSON.stringify({ workload, messages: [{ role: "ROLE_USER", content: [{ text: "hello there" }] }] });

function envelope(message: Uint8Array, flags = 0): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = flags;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

type Answer = {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  grpcStatus: number | undefined;
};

/** One request over HTTP/2 (prior knowledge); `bodyAfterMs` holds the body back that long. */
async function h2(headers: Record<string, string>, body: Uint8Array, bodyAfterMs = 0): Promise<Answer> {
  const session = http2.connect(gw.url);
  session.on("error", () => {});
  try {
    const stream = session.request({ ":method": "POST", ":path": GENERATE, te: "trailers", ...headers });
    stream.on("error", () => {});
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => (head = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (c: Buffer) => chunks.push(c));
    const closed = new Promise<void>((resolve) => stream.once("close", () => resolve()));
    if (bodyAfterMs > 0) await sleep(bodyAfterMs); // the deadline passes while the body is on its way
    if (!stream.destroyed) stream.end(body);
    await within(closed, "the answer");
    const status = trailers["grpc-status"] ?? head["grpc-status"];
    return {
      status: Number(head[":status"]),
      headers: { ...head, ...trailers } as Record<string, string>, // trailers: gRPC's status metadata
      body: Buffer.concat(chunks),
      grpcStatus: status === undefined ? undefined : Number(status),
    };
  } finally {
    session.close();
  }
}

/** One request over HTTP/1.1; a gRPC-Web answer's status is read from its trailer frame. */
async function h1(
  headers: Record<string, string>,
  body: string | Uint8Array,
  path = GENERATE,
): Promise<Answer> {
  const res = await within(fetch(`${gw.url}${path}`, { method: "POST", headers, body }), "the answer");
  const bytes = Buffer.from(await res.arrayBuffer());
  const trailer = /grpc-status:\s*(\d+)/.exec(bytes.toString("latin1"))?.[1];
  return {
    status: res.status,
    headers: Object.fromEntries(res.headers),
    body: bytes,
    grpcStatus: trailer === undefined ? undefined : Number(trailer),
  };
}

const grpc = (timeout: string) => ({ "content-type": "application/grpc+proto", "grpc-timeout": timeout });
const grpcWeb = (timeout: string) => ({
  "content-type": "application/grpc-web+proto",
  "grpc-timeout": timeout,
});
const connectJson = (ms: string) => ({ "content-type": "application/json", "connect-timeout-ms": ms });
/** Compressed, so connect-node serves it (the fast path does not decompress). */
const connectGzip = (ms: string) => ({ ...connectJson(ms), "content-encoding": "gzip" });

async function ledgerRow(requestId: string) {
  await gw.gateway.ledger.flush();
  return gw.gateway.store.ledger.get(requestId);
}

describe("a timeout above server.limits.maxTimeoutMs is capped, not refused", { timeout: 20_000 }, () => {
  const doors: [string, (workload: string) => Promise<Answer>, (a: Answer) => void][] = [
    ["gRPC (fast path)", (w) => h2(grpc(LONG.grpc), envelope(proto(w))), okGrpc],
    ["Connect JSON (fast path)", (w) => h1(connectJson(LONG.connectMs), json(w)), okConnect],
    ["gRPC-Web (connect-node)", (w) => h1(grpcWeb(LONG.grpc), envelope(proto(w))), okGrpc],
    ["Connect gzip (connect-node)", (w) => h1(connectGzip(LONG.connectMs), gzipSync(json(w))), okConnect],
  ];
  for (const [name, call, assertOk] of doors) {
    test(`${name}: served`, async () => {
      assertOk(await call("chat"));
    });
    test(`${name}: against a hanging upstream it ends at the cap, deadline_exceeded`, async () => {
      up.enqueue({ kind: "hang" });
      const index = up.requests.length;
      const a = await within(call("remote"), "the capped deadline to end the call", 5000);
      assert.equal(a.headers["x-switchyard-reason"] ?? reasonInBody(a), "deadline_exceeded");
      await within(up.waitForAbort(index), "the upstream request to be aborted");
    });
  }

  test("OpenAI facade (x-stainless-timeout): served, and against a hanging upstream it ends at the cap", async () => {
    const body = JSON.stringify({ model: "switchyard/chat", messages: [{ role: "user", content: "hi" }] });
    const headers = { "content-type": "application/json", "x-stainless-timeout": LONG.stainlessS };
    const ok = await h1(headers, body, "/v1/chat/completions");
    assert.equal(ok.status, 200, ok.body.toString());
    up.enqueue({ kind: "hang" });
    const index = up.requests.length;
    const remote = JSON.stringify({
      model: "switchyard/remote",
      messages: [{ role: "user", content: "hi" }],
    });
    const late = await within(h1(headers, remote, "/v1/chat/completions"), "the capped deadline", 5000);
    assert.equal(late.status, 504, late.body.toString());
    await within(up.waitForAbort(index), "the upstream request to be aborted");
  });
});

describe("a deadline that passed on arrival is refused before any upstream work", { timeout: 20_000 }, () => {
  const doors: [string, (workload: string) => Promise<Answer>][] = [
    ["gRPC grpc-timeout: 1n (fast path)", (w) => h2(grpc("1n"), envelope(proto(w)))],
    ["gRPC grpc-timeout: 0m (fast path)", (w) => h2(grpc("0m"), envelope(proto(w)))],
    ["Connect connect-timeout-ms: 0 (fast path)", (w) => h1(connectJson("0"), json(w))],
    [
      "Connect connect-timeout-ms: 1, body sent later (fast path, HTTP/2)",
      (w) => h2({ "content-type": "application/proto", "connect-timeout-ms": "1" }, proto(w), 30),
    ],
    ["gRPC-Web grpc-timeout: 1n (connect-node)", (w) => h1(grpcWeb("1n"), envelope(proto(w)))],
    ["Connect gzip connect-timeout-ms: 0 (connect-node)", (w) => h1(connectGzip("0"), gzipSync(json(w)))],
    [
      "Connect gzip connect-timeout-ms: 1, body sent later (connect-node, HTTP/2)",
      (w) => h2(connectGzip("1"), gzipSync(json(w)), 30),
    ],
    [
      "gRPC+JSON grpc-timeout: 1n (connect-node, HTTP/2)",
      (w) =>
        h2({ "content-type": "application/grpc+json", "grpc-timeout": "1n" }, envelope(Buffer.from(json(w)))),
    ],
  ];
  for (const [name, call] of doors) {
    test(`${name}: DEADLINE_EXCEEDED, no upstream request, no ledger row`, async () => {
      up.setDefault({ text: "should never be asked" });
      const before = up.requests.length;
      const warned = warnings.length;
      for (const workload of ["chat", "remote"]) {
        const a = await call(workload);
        assertDeadlineExceeded(a);
        const id = a.headers["x-request-id"];
        if (id !== undefined)
          assert.equal(await ledgerRow(id), undefined, "nothing reached an upstream: no row");
      }
      assert.equal(up.requests.length, before, "the upstream was never asked");
      assert.deepEqual(
        warnings.slice(warned).filter((w) => w === "TimeoutNegativeWarning"),
        [],
        "no timer was armed with a negative delay",
      );
    });
  }
});

function okGrpc(a: Answer): void {
  assert.equal(a.status, 200);
  assert.equal(a.grpcStatus, 0, `grpc-status ${a.grpcStatus}: ${a.body.toString("latin1")}`);
}

function okConnect(a: Answer): void {
  assert.equal(a.status, 200, a.body.toString());
  assert.equal(JSON.parse(a.body.toString()).text, "hello there");
}

function reasonInBody(a: Answer): string | undefined {
  return /x-switchyard-reason:\s*([a-z_]+)/.exec(a.body.toString("latin1"))?.[1];
}

/** DEADLINE_EXCEEDED in whichever way the protocol says it: gRPC status 4, or Connect's HTTP 504. */
function assertDeadlineExceeded(a: Answer): void {
  const body = a.body.toString("latin1");
  if (a.grpcStatus !== undefined) assert.equal(a.grpcStatus, Code.DeadlineExceeded, body);
  else {
    assert.equal(a.status, 504, body);
    assert.equal(JSON.parse(body).code, "deadline_exceeded");
  }
}
