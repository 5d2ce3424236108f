// A caller that stops reading a server stream must not outlive its deadline (issue #14, finding 5):
// when the deadline passes while the gateway waits for the caller to take more bytes (HTTP/2 flow
// control: the caller's window is full), the call ends anyway — the stream is closed or reset, the
// upstream attempt is aborted, and the request is settled (one ledger row, status deadline_exceeded).
// Raw node:http2 clients that never read, so nothing but the deadline can end the call; both the fast
// path (gRPC, Connect streaming over HTTP/2) and connect-node (gRPC-Web over HTTP/2).
import assert from "node:assert/strict";
import http2 from "node:http2";
import { performance } from "node:perf_hooks";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { GenerateRequestSchema } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { eventually, within } from "../helpers/wait.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

const STREAM = "/switchyard.v1.InferenceService/GenerateStream";
const DEADLINE_MS = 400;
/** How soon after the deadline the call must be over: generous, the bug kept it open indefinitely. */
const AFTER_DEADLINE_MS = 3000;
/** 600 deltas of 4 KiB, 5 ms apart: ~2.4 MiB over ~3 s, far more than an HTTP/2 window (64 KiB). */
const FIREHOSE = { chunks: Array.from({ length: 600 }, (_, i) => `${i % 10}`.repeat(4096)), chunkDelayMs: 5 };

let up: OpenAIFake;
let gw: TestGateway;
before(async () => {
  up = await startOpenAIFake();
  gw = await startTestGateway(
    configYaml(
      `  oa:\n    type: openai\n    baseUrl: ${up.url}/v1\n`,
      "  firehose:\n    retry: { maxAttempts: 1 }\n    targets:\n      - { backend: oa, model: gpt-4o-mini }\n",
    ),
  );
});
after(async () => {
  await gw.stop();
  await up.close();
});

function envelope(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

const request = envelope(
  toBinary(
    GenerateRequestSchema,
    create(GenerateRequestSchema, {
      workload: "firehose",
      messages: [{ role: Role.USER, content: [{ part: { case: "text", value: "q" } }] }],
    }),
  ),
);

type Ended = { requestId: string; closedAfterMs: number };

/**
 * Opens the stream, reads the response headers and then nothing more (the stream stays paused, so its
 * flow-control window fills up); resolves once the server ended the stream, with how long after the
 * deadline started that was.
 */
async function callWithoutReading(
  headers: Record<string, string>,
  path = STREAM,
  body: Uint8Array = request,
): Promise<Ended> {
  const session = http2.connect(gw.url);
  session.on("error", () => {});
  try {
    const started = performance.now();
    const stream = session.request({ ":method": "POST", ":path": path, te: "trailers", ...headers });
    stream.on("error", () => {}); // a reset is one of the accepted endings
    stream.pause(); // never read: no 'data' listener, no resume
    const closed = new Promise<void>((resolve) => stream.once("close", () => resolve()));
    const response = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve));
    stream.end(body);
    const head = await within(response, "the response headers");
    await within(closed, "the server to end the stalled stream", 1000 + AFTER_DEADLINE_MS + 2000);
    return { requestId: String(head["x-request-id"] ?? ""), closedAfterMs: performance.now() - started };
  } finally {
    session.destroy();
  }
}

/**
 * Ended, aborted upstream, settled, and logged. connect-node returns (not throws into) the handler of
 * a call it gave up on: the request lifecycle's `finally` still writes its one log line.
 */
async function assertEndedBySettledDeadline(
  ended: Ended,
  upstreamIndex: number,
  deadlineMs = DEADLINE_MS,
): Promise<void> {
  assert.ok(
    ended.closedAfterMs < deadlineMs + AFTER_DEADLINE_MS,
    `the stream ended ${Math.round(ended.closedAfterMs)} ms after it began (deadline ${deadlineMs} ms)`,
  );
  await within(up.waitForAbort(upstreamIndex), "the upstream request to be aborted");
  assert.equal(up.requests[upstreamIndex]?.completed, false, "the upstream did not finish its stream");
  assert.ok(ended.requestId, "x-request-id in the response headers");
  await within(
    (async () => {
      for (;;) {
        await gw.gateway.ledger.flush();
        if (await gw.gateway.store.ledger.get(ended.requestId)) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })(),
    "the request's ledger row",
  );
  const record = await gw.gateway.store.ledger.get(ended.requestId);
  assert.equal(record?.status, "deadline_exceeded");
  assert.ok((record?.outputTokens ?? 0) > 0, "the partial output is metered");
  const line = () => gw.logs.find((l) => l.msg === "request" && l.requestId === ended.requestId);
  assert.ok(await eventually(() => line() !== undefined), "the request's log line");
  assert.equal(line()?.status, "deadline_exceeded");
}

describe("a stalled reader ends at its deadline", { timeout: 40_000 }, () => {
  for (const [name, headers] of [
    ["gRPC (fast path)", { "content-type": "application/grpc+proto", "grpc-timeout": `${DEADLINE_MS}m` }],
    [
      "Connect streaming over HTTP/2 (fast path)",
      { "content-type": "application/connect+proto", "connect-timeout-ms": String(DEADLINE_MS) },
    ],
    [
      "gRPC-Web over HTTP/2 (connect-node)",
      { "content-type": "application/grpc-web+proto", "grpc-timeout": `${DEADLINE_MS}m` },
    ],
  ] as const) {
    test(`${name}: the stream is ended, the upstream aborted, the request settled`, async () => {
      up.enqueue(FIREHOSE);
      const index = up.requests.length;
      const ended = await callWithoutReading(headers);
      await assertEndedBySettledDeadline(ended, index);
    });
  }

  test("OpenAI facade, SSE over HTTP/2 (x-stainless-timeout: 1): the stream is ended, the upstream aborted, the request settled", async () => {
    up.enqueue(FIREHOSE);
    const index = up.requests.length;
    const body = JSON.stringify({
      model: "switchyard/firehose",
      stream: true,
      messages: [{ role: "user", content: "q" }],
    });
    const ended = await callWithoutReading(
      { "content-type": "application/json", "x-stainless-timeout": "1" },
      "/v1/chat/completions",
      Buffer.from(body),
    );
    await assertEndedBySettledDeadline(ended, index, 1000);
  });
});
