import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { GenerateRequestSchema } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { type GatewayProcess, spawnGateway } from "../helpers/gateway-process.ts";
import { connectInspector } from "../helpers/inspector.ts";

const GENERATE = "/switchyard.v1.InferenceService/Generate";
const MB = 1024 * 1024;
/** Near server.limits.maxRequestBytes (4 MiB by default), as the probe sent them. */
const LARGE = "x".repeat(3_800_000);

/** One HTTP/2 call; resolves with the status, or the reset's code when the stream is reset. */
function call(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body: Uint8Array) {
  return new Promise<string>((resolve) => {
    const stream = session.request({ ":method": "POST", te: "trailers", ...headers });
    let status = "no response";
    stream.on("response", (h) => {
      status = String(h[":status"]);
    });
    stream.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
    stream.on("close", () => resolve(status));
    stream.resume();
    stream.end(body);
  });
}

const grpcFrame = (parts: number, text: string) => {
  const message = toBinary(
    GenerateRequestSchema,
    create(GenerateRequestSchema, {
      workload: "chat",
      messages: [
        {
          role: Role.USER,
          content: Array.from({ length: parts }, () => ({ part: { case: "text" as const, value: text } })),
        },
      ],
    }),
  );
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
};
const facade = (body: unknown) => Buffer.from(JSON.stringify(body));

/** The probe's burst, once: large bodies (some over the limit), many-part requests, rapid resets. */
async function burst(url: string): Promise<Map<string, number>> {
  const outcomes = new Map<string, number>();
  const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
  const sessions: http2.ClientHttp2Session[] = [];
  const open = () => {
    const session = http2.connect(url);
    session.on("error", () => {});
    sessions.push(session);
    return session;
  };
  const grpc = { ":path": GENERATE, "content-type": "application/grpc" };
  const chat = { ":path": "/v1/chat/completions", "content-type": "application/json" };
  const crowded = open();
  const large = open();
  const parts = open();
  const calls = [
    // Eight large streamed answers on one session: past its memory, nghttp2 resets some streams itself.
    ...Array.from({ length: 8 }, () =>
      call(
        crowded,
        chat,
        facade({ model: "switchyard/chat", stream: true, messages: [{ role: "user", content: LARGE }] }),
      ),
    ),
    ...Array.from({ length: 2 }, () => call(large, grpc, grpcFrame(1, LARGE))),
    call(large, grpc, grpcFrame(1, `${LARGE}${LARGE}`)), // over the limit
    ...Array.from({ length: 2 }, () => call(parts, grpc, grpcFrame(100_000, "p "))),
    ...Array.from({ length: 2 }, () =>
      call(
        parts,
        chat,
        facade({
          model: "switchyard/chat",
          messages: Array.from({ length: 20 }, () => ({
            role: "user",
            content: Array.from({ length: 5000 }, () => ({ type: "text", text: "p " })),
          })),
        }),
      ),
    ),
  ];
  for (const outcome of await Promise.all(calls)) count(outcome);
  // Rapid reset: streams opened and cancelled at once, some with half a large body sent.
  const session = open();
  for (let i = 0; i < 500; i++) {
    const stream = session.request({ ":method": "POST", ...grpc });
    stream.on("error", () => {});
    if (i % 10 === 0) stream.write(grpcFrame(1, LARGE).subarray(0, 1_000_000));
    stream.close(http2.constants.NGHTTP2_CANCEL);
  }
  await Promise.all(sessions.map((s) => new Promise<void>((resolve) => s.close(resolve))));
  return outcomes;
}

test("after a burst of large bodies, many-part requests and rapid resets, the heap returns to its baseline", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-memory-"));
  const configFile = join(dir, "switchyard.yaml");
  writeFileSync(
    configFile,
    [
      // No load shedding: every request of the burst is served (or refused for its size).
      "server: { host: 127.0.0.1, port: 0, limits: { maxEventLoopLagMs: 0 } }",
      `store: { type: sqlite, path: ${JSON.stringify(join(dir, "switchyard.db"))} }`,
      `metering: { journalPath: ${JSON.stringify(join(dir, "ledger.journal"))} }`,
      "auth: { enabled: false }",
      "log: { level: info }", // the port is logged at info
      "backends:",
      "  echo: { type: echo }",
      "routes:",
      "  chat:",
      "    targets:",
      "      - { backend: echo, model: echo-1 }",
      "",
    ].join("\n"),
  );
  let gateway: GatewayProcess | undefined;
  try {
    gateway = await spawnGateway(configFile, { inspect: true });
    const inspector = await connectInspector(gateway.inspectorUrl!);
    await burst(gateway.url); // warm-up: modules, tokenizer tables, pools, JIT
    const baseline = await inspector.memoryAfterGc();
    const seen = new Map<string, number>();
    for (let round = 0; round < 4; round++)
      for (const [what, n] of await burst(gateway.url)) seen.set(what, (seen.get(what) ?? 0) + n);
    const after = await inspector.memoryAfterGc();
    inspector.close();
    const figure = (m: NodeJS.MemoryUsage) =>
      `heapUsed ${(m.heapUsed / MB).toFixed(1)} MiB (heapTotal ${(m.heapTotal / MB).toFixed(1)}), rss ${(m.rss / MB).toFixed(1)} MiB`;
    t.diagnostic(`baseline: ${figure(baseline)}; after 4 bursts: ${figure(after)}`);
    t.diagnostic(`outcomes: ${JSON.stringify(Object.fromEntries(seen))}`);
    assert.ok((seen.get("200") ?? 0) > 0, "the burst was served");
    // Each burst carries ~80 MB of request bodies: anything a request keeps shows at once.
    assert.ok(
      after.heapUsed - baseline.heapUsed < 16 * MB,
      `heap grew by ${((after.heapUsed - baseline.heapUsed) / MB).toFixed(1)} MiB over the bursts`,
    );
  } finally {
    gateway?.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
