// The unary fast path (src/server/fast-path.ts, first unary-fast-path.ts) over the gateway's public
// port: Connect POST (JSON and proto) and gRPC (HTTP/2, proto) calls to Generate and Embed are answered
// on Node's request and response; everything else (compression, gRPC-Web, GET, gRPC+JSON, a malformed
// timeout) must still reach connect-node and get its answer. Raw HTTP/1.1 (fetch) and raw HTTP/2
// (node:http2) requests pin the wire: status, headers, trailers and the status in trailers, not only what
// a client library makes of it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import http from "node:http";
import http2 from "node:http2";
import { performance } from "node:perf_hooks";
import { after, before, describe, test } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { create, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import {
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import {
  EmbedRequestSchema,
  type EmbedResponse,
  EmbedResponseSchema,
  GenerateRequestSchema,
  type GenerateResponse,
  GenerateResponseSchema,
  InferenceService,
} from "../../gen/switchyard/v1/inference_service_pb.ts";
import { connectClient, grpcJsClient, type TestClient } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { eventually, within } from "../helpers/wait.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

const M = InferenceService.method;
const GENERATE = "/switchyard.v1.InferenceService/Generate";
const EMBED = "/switchyard.v1.InferenceService/Embed";
const MAX_REQUEST_BYTES = 4096;
/** "Promptly": generous, the point is "not after the upstream's own timeout", never a latency budget. */
const PROMPT_MS = 1000;
/** A broken fast path must fail a test, never hang the file (a hanging upstream would wait forever). */
const TEST_TIMEOUT_MS = 15_000;

const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
const generateJson = (workload: string, text: string) =>
  JSON.stringify({ workload, messages: [{ role: "ROLE_USER", content: [{ text }] }] });
const generateProto = (workload: string, text: string) =>
  toBinary(GenerateRequestSchema, create(GenerateRequestSchema, { workload, messages: [user(text)] }));

let up: OpenAIFake;
let gw: TestGateway;
before(async () => {
  up = await startOpenAIFake();
  gw = await startTestGateway(
    configYaml(
      `  echo:\n    type: echo\n    dimensions: 12\n  oa:\n    type: openai\n    baseUrl: ${up.url}/v1\n`,
      "  chat:\n    targets:\n      - { backend: echo, model: echo-1 }\n" +
        "  vectors:\n    operations: [embed]\n    targets:\n      - { backend: echo, model: echo-embed }\n" +
        "  slow:\n    retry: { maxAttempts: 1 }\n    targets:\n      - { backend: oa, model: gpt-4o-mini }\n",
      `  limits: { maxRequestBytes: ${MAX_REQUEST_BYTES} }\n`,
    ),
  );
});
after(async () => {
  await gw.stop();
  await up.close();
});

// ---------------------------------------------------------------------------------------------------
// helpers

const connectJson = () =>
  connectClient(
    "connect-json-http1",
    createConnectTransport({ baseUrl: gw.url, httpVersion: "1.1", useBinaryFormat: false }),
  );
const connectProto = (httpVersion: "1.1" | "2") =>
  connectClient(
    `connect-proto-http${httpVersion}`,
    createConnectTransport({ baseUrl: gw.url, httpVersion, useBinaryFormat: true }),
    httpVersion === "2",
  );

/** What must not depend on the wire format (ids and timings do). */
function generateEssentials(m: GenerateResponse) {
  return {
    text: m.text,
    finishReason: m.finishReason,
    usage: [m.usage?.inputTokens, m.usage?.outputTokens, m.usage?.accuracy],
    routing: [m.routing?.route, m.routing?.backend, m.routing?.model, m.routing?.attempts, m.routing?.reason],
    outcomes: m.routing?.attemptDetails.map((a) => [a.backend, a.model, a.outcome]),
  };
}
function embedEssentials(m: EmbedResponse) {
  return {
    vectors: m.embeddings.map((e) => [...e.values]),
    usage: [m.usage?.inputTokens, m.usage?.outputTokens, m.usage?.accuracy],
    routing: [m.routing?.backend, m.routing?.model, m.routing?.attempts],
  };
}

/** A raw Connect POST over HTTP/1.1 (undici fetch). */
function post(path: string, headers: Record<string, string>, body: string | Uint8Array): Promise<Response> {
  return fetch(`${gw.url}${path}`, { method: "POST", headers, body });
}

/** One gRPC message envelope; `declared` lies about the length when given. */
function envelope(message: Uint8Array, flags = 0, declared = message.length): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = flags;
  out.writeUInt32BE(declared, 1);
  out.set(message, 5);
  return out;
}

type H2Answer = {
  status: number | undefined;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
  /** The RST_STREAM code the stream closed with (0 = closed normally, NO_ERROR). */
  rstCode: number | undefined;
};

/** A hand-built HTTP/2 request on its own session; `onStream` sees the stream (to cancel it). */
async function h2Post(
  path: string,
  headers: Record<string, string>,
  body: Uint8Array,
  onStream?: (stream: http2.ClientHttp2Stream) => void,
): Promise<H2Answer> {
  const session = http2.connect(gw.url);
  session.on("error", () => {}); // a reset session shows up as the stream's close below
  try {
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc+proto",
      te: "trailers",
      ...headers,
    });
    const answer: H2Answer = {
      status: undefined,
      headers: {},
      trailers: {},
      body: Buffer.alloc(0),
      rstCode: 0,
    };
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      answer.headers = h;
      answer.status = Number(h[":status"]);
    });
    stream.on("trailers", (t) => {
      answer.trailers = t;
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", () => {}); // recorded as rstCode
    const closed = new Promise<void>((resolve) => stream.once("close", () => resolve()));
    onStream?.(stream);
    stream.end(body);
    await closed;
    answer.body = Buffer.concat(chunks);
    answer.rstCode = stream.rstCode;
    return answer;
  } finally {
    session.close();
  }
}

/** The gRPC status of a raw answer: in the trailers, or in the headers of a trailers-only response. */
function grpcStatus(a: H2Answer): { code: number; message: string } {
  const source = a.trailers["grpc-status"] !== undefined ? a.trailers : a.headers;
  assert.notEqual(
    source["grpc-status"],
    undefined,
    `no grpc-status (HTTP ${a.status}, rst ${a.rstCode}): a call must end with a status`,
  );
  return {
    code: Number(source["grpc-status"]),
    message: decodeURIComponent(String(source["grpc-message"] ?? "")),
  };
}

/** Asserts a raw gRPC answer is a clean failure: HTTP 200, no stream reset, the status in trailers. */
function assertGrpcFailure(a: H2Answer, code: Code, says: RegExp): void {
  assert.equal(a.status, 200);
  assert.equal(a.rstCode, http2.constants.NGHTTP2_NO_ERROR, "closed normally, not reset");
  const status = grpcStatus(a);
  assert.equal(status.code, code, `${Code[status.code]}: ${status.message}`);
  assert.match(status.message, says);
}

function decodeGrpcGenerate(body: Buffer): GenerateResponse {
  assert.ok(body.length >= 5, "one message envelope");
  assert.equal(body[0], 0, "not compressed");
  const length = body.readUInt32BE(1);
  assert.equal(body.length, 5 + length, "exactly one message");
  return fromBinary(GenerateResponseSchema, body.subarray(5));
}

/** The request log line for a request id, once written (settlement may follow the answer by a tick). */
async function logLine(find: (l: TestGateway["logs"][number]) => boolean) {
  const line = () => gw.logs.find((l) => l.msg === "request" && find(l));
  await eventually(() => line() !== undefined, 1000);
  return line();
}

// ---------------------------------------------------------------------------------------------------

describe("Connect binary (application/proto) on the fast path", { timeout: TEST_TIMEOUT_MS }, () => {
  for (const httpVersion of ["1.1", "2"] as const) {
    test(`Generate over HTTP/${httpVersion}: same result as the JSON path, proto content-type, headers and trailers`, async () => {
      const reference = await connectJson().unary(M.generate, {
        workload: "chat",
        messages: [user("the quick brown fox")],
      });
      const { message, headers, trailers } = await connectProto(httpVersion).unary(M.generate, {
        workload: "chat",
        messages: [user("the quick brown fox")],
      });
      assert.equal(message.text, "the quick brown fox");
      assert.deepEqual(generateEssentials(message), generateEssentials(reference.message));
      assert.equal(headers.get("content-type"), "application/proto");
      assert.match(message.requestId, /^[0-9a-f-]{36}$/);
      assert.notEqual(message.requestId, reference.message.requestId);
      assert.equal(headers.get("x-request-id"), message.requestId);
      assert.match(headers.get("server-timing") ?? "", /^gateway;dur=[\d.]+, upstream;dur=[\d.]+$/);
      assert.equal(trailers.get("x-switchyard-backend"), "echo");
      assert.equal(trailers.get("x-switchyard-model"), "echo-1");
      assert.equal(trailers.get("x-switchyard-attempts"), "1");
      assert.equal(trailers.get("x-switchyard-output-tokens"), "4");
      assert.match(trailers.get("server-timing") ?? "", /^gateway;dur=/);
    });

    test(`Embed over HTTP/${httpVersion}: same vectors and usage as the JSON path`, async () => {
      const input = { workload: "vectors", inputs: ["alpha", "beta", "alpha"] };
      const reference = await connectJson().unary(M.embed, input);
      const { message, headers, trailers } = await connectProto(httpVersion).unary(M.embed, input);
      assert.equal(message.embeddings.length, 3);
      assert.equal(message.embeddings[0]!.values.length, 12);
      assert.deepEqual(message.embeddings[0]!.values, message.embeddings[2]!.values);
      assert.deepEqual(embedEssentials(message), embedEssentials(reference.message));
      assert.equal(headers.get("content-type"), "application/proto");
      assert.equal(headers.get("x-request-id"), message.requestId);
      assert.ok(headers.get("server-timing"));
      assert.equal(trailers.get("x-switchyard-backend"), "echo");
    });
  }

  test("raw proto POST: trailers travel as headers named exactly trailer-<name>", async () => {
    const res = await post(
      GENERATE,
      { "content-type": "application/proto" },
      generateProto("chat", "one two"),
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/proto");
    const message = fromBinary(GenerateResponseSchema, new Uint8Array(await res.arrayBuffer()));
    assert.equal(message.text, "one two");
    assert.equal(res.headers.get("content-length"), String(toBinary(GenerateResponseSchema, message).length));
    assert.equal(res.headers.get("x-request-id"), message.requestId);
    assert.ok(res.headers.get("server-timing"));
    const names = [...res.headers.keys()];
    assert.equal(res.headers.get("trailer-x-switchyard-backend"), "echo");
    assert.equal(res.headers.get("trailer-x-switchyard-model"), "echo-1");
    assert.equal(res.headers.get("trailer-x-switchyard-attempts"), "1");
    assert.equal(res.headers.get("trailer-x-switchyard-output-tokens"), "2");
    assert.ok(names.includes("trailer-server-timing"), names.join(", "));
    // Routing metadata is trailer-only: never a plain header, never another prefix.
    assert.deepEqual(
      names.filter((n) => n.includes("x-switchyard-")).sort(),
      names.filter((n) => n.startsWith("trailer-x-switchyard-")).sort(),
    );
  });

  test("raw JSON POST: application/json answer with the same header layout", async () => {
    const res = await post(GENERATE, { "content-type": "application/json" }, generateJson("chat", "a b c"));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    const body = (await res.json()) as { text: string; requestId: string; routing: { backend: string } };
    assert.equal(body.text, "a b c");
    assert.equal(body.routing.backend, "echo");
    assert.equal(res.headers.get("x-request-id"), body.requestId);
    assert.equal(res.headers.get("trailer-x-switchyard-backend"), "echo");
    assert.equal(res.headers.get("x-switchyard-backend"), null);
  });
});

describe("Connect errors on the fast path (raw HTTP/1.1)", { timeout: TEST_TIMEOUT_MS }, () => {
  type ErrorBody = { code: string; message: string };

  test("an empty request ({}) is 400 invalid_argument with a JSON error body and a reason header", async () => {
    const res = await post(GENERATE, { "content-type": "application/json" }, "{}");
    assert.equal(res.status, 400);
    assert.equal(res.headers.get("content-type"), "application/json");
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.code, "invalid_argument");
    assert.match(body.message, /workload is required/);
    assert.ok(res.headers.get("x-switchyard-reason"), "x-switchyard-reason present");
    assert.ok(res.headers.get("x-request-id"));
  });

  test("an unknown workload is 404 not_found", async () => {
    const res = await post(GENERATE, { "content-type": "application/json" }, generateJson("poetry", "hi"));
    assert.equal(res.status, 404);
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.code, "not_found");
    assert.match(body.message, /unknown workload "poetry"/);
    assert.equal(res.headers.get("x-switchyard-reason"), "unknown_workload");
  });

  test("a body that is not JSON is 400 invalid_argument, not 500", async () => {
    const res = await post(GENERATE, { "content-type": "application/json" }, "{not json");
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as ErrorBody).code, "invalid_argument");
  });

  // connect's binary serialization reports a parse failure as INTERNAL ("parse binary: ..."), and
  // connect-node answers 500 for it; bad input is the caller's, so the fast path says invalid_argument.
  test("a proto body that does not decode is 400 invalid_argument, not 500", async () => {
    const garbage = new Uint8Array([0xff, 0xff, 0xff]);
    const res = await post(EMBED, { "content-type": "application/proto" }, garbage);
    assert.equal(res.status, 400);
    assert.equal(res.headers.get("content-type"), "application/json");
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.code, "invalid_argument");
    assert.match(body.message, /cannot decode the request message/);
  });

  test("a body over maxRequestBytes with a content-length is resource_exhausted (HTTP 429)", async () => {
    const big = generateJson("chat", "x".repeat(2 * MAX_REQUEST_BYTES));
    const res = await post(GENERATE, { "content-type": "application/json" }, big);
    assert.equal(res.status, 429);
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.code, "resource_exhausted");
    assert.match(body.message, new RegExp(`${MAX_REQUEST_BYTES}`));
  });

  test("a chunked body (no content-length) over maxRequestBytes is resource_exhausted (HTTP 429)", async () => {
    const chunk = new TextEncoder().encode("x".repeat(3000));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 3) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${gw.url}${GENERATE}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    });
    assert.equal(res.status, 429);
    assert.equal(((await res.json()) as ErrorBody).code, "resource_exhausted");
    const unread = gw.logs.filter((l) => l.msg === "request ended before it was read").at(-1);
    assert.equal(unread?.reason, "message_too_large", "the refused upload is logged");
    // The connection and the gateway are fine afterwards.
    const next = await post(GENERATE, { "content-type": "application/json" }, generateJson("chat", "ok"));
    assert.equal(next.status, 200);
    await next.body?.cancel();
  });

  test("a caller deadline that expires while the upstream hangs is 504 deadline_exceeded", async () => {
    up.enqueue({ kind: "hang" });
    const index = up.requests.length;
    const res = await within(
      post(
        GENERATE,
        { "content-type": "application/json", "connect-timeout-ms": "100" },
        generateJson("slow", "q"),
      ),
      "the gateway to answer once the 100 ms deadline passed",
    );
    assert.equal(res.status, 504);
    assert.equal(((await res.json()) as ErrorBody).code, "deadline_exceeded");
    assert.equal(res.headers.get("x-switchyard-reason"), "deadline_exceeded");
    await within(up.waitForAbort(index), "the upstream request to be aborted");
  });

  test("a caller deadline that expires while the caller is still sending the body is 504 deadline_exceeded", async () => {
    const body = generateJson("chat", "q");
    const logsBefore = gw.logs.length;
    const answer = new Promise<{ status: number; body: string; reason: unknown }>((resolve, reject) => {
      const req = http.request(`${gw.url}${GENERATE}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "connect-timeout-ms": "100",
          "content-length": String(Buffer.byteLength(body)),
        },
      });
      req.on("response", (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => {
          text += chunk.toString("utf8");
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: text, reason: res.headers["x-switchyard-reason"] }),
        );
      });
      req.on("error", reject);
      req.write(body.slice(0, 10)); // and never the rest: the upload stalls
      setTimeout(() => req.destroy(), 4000).unref();
    });
    const res = await within(answer, "the gateway to answer once the 100 ms deadline passed mid-upload");
    assert.equal(res.status, 504);
    assert.equal((JSON.parse(res.body) as ErrorBody).code, "deadline_exceeded");
    assert.equal(res.reason, "deadline_exceeded");
    // Never a request context, but not lost: one bounded line says what ended it.
    const unread = gw.logs.slice(logsBefore).filter((l) => l.msg === "request ended before it was read");
    assert.deepEqual(
      unread.map((l) => [l.path, l.operation, l.reason]),
      [[GENERATE, "generate", "deadline_exceeded"]],
    );
  });
});

describe("a response Node refuses to write", { timeout: TEST_TIMEOUT_MS }, () => {
  // The served model's name comes from the upstream's answer and becomes the x-switchyard-model trailer.
  // WHATWG Headers accept a control character such as U+0001 that Node's HTTP/1.1 writer refuses
  // (ERR_INVALID_CHAR). connect-node catches that (it logs "handler for rpc Generate failed"); HTTP/2
  // drops the invalid trailer. The call runs in a child process: if the gateway process dies, only the
  // child does, and the exit code says so.
  test("an upstream model name with a control character (HTTP/1.1 Connect): the gateway process survives and answers", async () => {
    const script = `
        import { configYaml, startTestGateway } from ${JSON.stringify(new URL("../helpers/gateway.ts", import.meta.url).href)};
        import { startOpenAIFake } from ${JSON.stringify(new URL("../upstreams/openai-fake.ts", import.meta.url).href)};
        const up = await startOpenAIFake();
        const gw = await startTestGateway(configYaml(
          "  oa:\\n    type: openai\\n    baseUrl: " + up.url + "/v1\\n",
          "  chat:\\n    retry: { maxAttempts: 1 }\\n    targets:\\n      - { backend: oa, model: gpt-4o-mini }\\n",
        ));
        up.enqueue({ text: "hello", model: "gpt\\u0001mini" });
        let outcome;
        try {
          const res = await fetch(gw.url + ${JSON.stringify(GENERATE)}, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: ${JSON.stringify(generateJson("chat", "q"))},
            signal: AbortSignal.timeout(3000),
          });
          await res.arrayBuffer();
          outcome = "HTTP " + res.status;
        } catch (e) {
          outcome = e?.name === "TimeoutError" ? "no answer in 3 s" : "connection closed";
        }
        console.log(JSON.stringify({ outcome }));
        await gw.stop();
        await up.close();
        process.exit(0);
      `;
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ["--input-type=module", "-e", script],
        { timeout: 10_000 },
        (error, stdout, stderr) =>
          resolve({ code: error ? (error.code as number | null) : 0, stdout, stderr }),
      );
    });
    const crash = /Error[^\n]*/.exec(run.stderr)?.[0] ?? "";
    assert.equal(run.code, 0, `the gateway process exited ${run.code}: ${crash}`);
    const { outcome } = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as { outcome?: string };
    assert.equal(outcome, "HTTP 200", "the model name is made header-safe, so the answer goes out");
  });
});

describe("what the fast path leaves to connect-node", { timeout: TEST_TIMEOUT_MS }, () => {
  test("a gzip-compressed Connect request (content-encoding: gzip) is decompressed and served", async () => {
    const res = await post(
      GENERATE,
      { "content-type": "application/json", "content-encoding": "gzip" },
      gzipSync(generateJson("chat", "squeezed words")),
    );
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(((await res.json()) as { text: string }).text, "squeezed words");
  });

  test("a compressing connect-node client (Connect and gRPC, gzip) gets a correct result", async () => {
    const text = "word ".repeat(300).trim(); // past connect's 1 KiB compressMinBytes, so really compressed
    for (const transport of [
      createConnectTransport({ baseUrl: gw.url, httpVersion: "1.1", sendCompression: compressionGzip }),
      createGrpcTransport({ baseUrl: gw.url, sendCompression: compressionGzip }),
    ]) {
      const { message } = await connectClient("gzip", transport).unary(M.generate, {
        workload: "chat",
        messages: [user(text)],
      });
      assert.equal(message.text, text);
    }
  });

  test("connect-protocol-version: 2 gets connect-node's answer (it does not require the header): 200", async () => {
    const res = await post(
      GENERATE,
      { "content-type": "application/json", "connect-protocol-version": "2" },
      generateJson("chat", "version two"),
    );
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(((await res.json()) as { text: string }).text, "version two");
  });

  test("a malformed connect-timeout-ms gets connect-node's 400 invalid_argument", async () => {
    const res = await post(
      GENERATE,
      { "content-type": "application/json", "connect-timeout-ms": "soon" },
      generateJson("chat", "x"),
    );
    assert.equal(res.status, 400);
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(body.code, "invalid_argument");
    assert.match(body.message, /invalid connect timeout value: soon/);
  });

  test("a Connect GET is not taken by the fast path (connect-node: Generate is POST only, 405)", async () => {
    const query = new URLSearchParams({
      connect: "v1",
      encoding: "json",
      message: generateJson("chat", "g"),
    });
    const res = await fetch(`${gw.url}${GENERATE}?${query}`);
    await res.body?.cancel();
    assert.equal(res.status, 405);
  });

  test("gRPC+JSON (application/grpc+json) over HTTP/2 returns a correct result", async () => {
    const c = connectClient(
      "grpc-json",
      createGrpcTransport({ baseUrl: gw.url, useBinaryFormat: false }),
      true,
    );
    const { message, trailers } = await c.unary(M.generate, {
      workload: "chat",
      messages: [user("json over h2")],
    });
    assert.equal(message.text, "json over h2");
    assert.equal(trailers.get("x-switchyard-backend"), "echo");
    const embed = await c.unary(M.embed, { workload: "vectors", inputs: ["a", "b"] });
    assert.equal(embed.message.embeddings.length, 2);
  });

  test("gRPC-Web (HTTP/1.1) returns a correct result", async () => {
    const c = connectClient("grpc-web", createGrpcWebTransport({ baseUrl: gw.url, httpVersion: "1.1" }));
    const { message } = await c.unary(M.generate, { workload: "chat", messages: [user("web call")] });
    assert.equal(message.text, "web call");
  });
});

describe("the fast path's wire is connect-node's wire", { timeout: TEST_TIMEOUT_MS }, () => {
  // The same request twice: once as the fast path takes it, once compressed, which the fast path never
  // takes, so connect-node answers (Connect: a gzipped body with content-encoding: gzip; gRPC: a
  // grpc-encoding header with an uncompressed envelope). Ids, timings and transport headers aside, the
  // two answers must be identical, successes and errors alike.
  const VOLATILE = new Set([
    "date",
    "connection",
    "keep-alive",
    "content-length",
    "content-encoding",
    "vary",
    "grpc-encoding",
  ]);
  const TIMED = new Set(["x-request-id", "server-timing", "trailer-server-timing"]);
  const normalizeHeaders = (h: Iterable<[string, string | string[] | number | undefined]>) =>
    Object.fromEntries(
      [...h]
        .filter(([k]) => !VOLATILE.has(k) && !k.startsWith(":"))
        .map(([k, v]) => [k, TIMED.has(k) ? "<varies>" : String(v)])
        .sort(([a], [b]) => (a! < b! ? -1 : 1)),
    );
  /** Drops what differs per call: the request id and attempt durations. */
  const normalizeBody = (value: unknown): unknown =>
    JSON.parse(JSON.stringify(value, (k, v) => (k === "requestId" || k === "durationMs" ? undefined : v)));

  const connectCases = [
    ["Generate ok", GENERATE, generateJson("chat", "same wire")],
    ["Generate missing workload", GENERATE, "{}"],
    ["Generate unknown workload", GENERATE, generateJson("poetry", "x")],
    ["Embed ok", EMBED, JSON.stringify({ workload: "vectors", inputs: ["a", "b"] })],
    ["Embed on a generation workload", EMBED, JSON.stringify({ workload: "chat", inputs: ["a"] })],
  ] as const;
  for (const [name, path, body] of connectCases) {
    test(`Connect JSON, ${name}: same status, headers and body as connect-node`, async () => {
      const answer = async (gzip: boolean) => {
        const res = await post(
          path,
          { "content-type": "application/json", ...(gzip ? { "content-encoding": "gzip" } : {}) },
          gzip ? gzipSync(body) : body,
        );
        return {
          status: res.status,
          headers: normalizeHeaders(res.headers),
          body: normalizeBody(await res.json()),
        };
      };
      const fast = await answer(false);
      const reference = await answer(true);
      assert.deepEqual(fast, reference);
      assert.ok(fast.headers["x-request-id"], "x-request-id sent");
    });
  }

  const grpcCases = [
    ["Generate ok", GENERATE, generateProto("chat", "same wire")],
    ["Generate missing workload", GENERATE, generateProto("", "x")],
    ["Generate unknown workload", GENERATE, generateProto("poetry", "x")],
    [
      "Embed ok",
      EMBED,
      toBinary(EmbedRequestSchema, create(EmbedRequestSchema, { workload: "vectors", inputs: ["a"] })),
    ],
  ] as const;
  for (const [name, path, message] of grpcCases) {
    test(`gRPC, ${name}: same headers, message and trailers as connect-node`, async () => {
      const output = path === GENERATE ? GenerateResponseSchema : EmbedResponseSchema;
      const answer = async (headers: Record<string, string>) => {
        const a = await h2Post(path, headers, envelope(message));
        const messages = [];
        for (let at = 0; at < a.body.length; ) {
          const length = a.body.readUInt32BE(at + 1);
          let bytes: Uint8Array = a.body.subarray(at + 5, at + 5 + length);
          if (a.body[at] === 1) bytes = gunzipSync(bytes);
          messages.push(normalizeBody(toJson(output, fromBinary(output, bytes))));
          at += 5 + length;
        }
        return {
          status: a.status,
          rstCode: a.rstCode,
          headers: normalizeHeaders(Object.entries(a.headers)),
          messages,
          trailers: normalizeHeaders(Object.entries(a.trailers)),
        };
      };
      const fast = await answer({});
      const reference = await answer({ "grpc-encoding": "gzip" });
      assert.deepEqual(fast, reference);
      assert.ok(fast.trailers["grpc-status"] !== undefined, "status in trailers");
    });
  }
});

describe("gRPC over HTTP/2 on the fast path", { timeout: TEST_TIMEOUT_MS }, () => {
  test("a hand-built call: one message, grpc-status 0 in trailers, x-request-id in headers", async () => {
    const a = await h2Post(GENERATE, {}, envelope(generateProto("chat", "raw h2 call")));
    assert.equal(a.status, 200);
    assert.equal(a.headers["content-type"], "application/grpc+proto");
    assert.equal(grpcStatus(a).code, 0);
    const message = decodeGrpcGenerate(a.body);
    assert.equal(message.text, "raw h2 call");
    assert.equal(a.headers["x-request-id"], message.requestId);
    assert.equal(a.trailers["x-switchyard-backend"], "echo");
  });

  test("grpc-js (an independent implementation) gets the result, headers and trailers", async () => {
    const c: TestClient = grpcJsClient(gw.url);
    try {
      const { message, headers, trailers } = await c.unary(M.generate, {
        workload: "chat",
        messages: [user("from grpc js")],
      });
      assert.equal(message.text, "from grpc js");
      assert.equal(headers.get("x-request-id"), message.requestId);
      assert.equal(trailers.get("x-switchyard-attempts"), "1");
      const embed = await c.unary(M.embed, { workload: "vectors", inputs: ["alpha"] });
      assert.equal(embed.message.embeddings[0]?.values.length, 12);
    } finally {
      c.close();
    }
  });

  test("an envelope declaring more bytes than sent → INVALID_ARGUMENT in trailers, HTTP 200, no reset", async () => {
    const message = generateProto("chat", "short");
    const a = await h2Post(GENERATE, {}, envelope(message, 0, message.length + 10));
    assertGrpcFailure(a, Code.InvalidArgument, /promised \d+ bytes, received \d+/);
  });

  test("an envelope declaring fewer bytes than sent → INVALID_ARGUMENT", async () => {
    const message = generateProto("chat", "long");
    const a = await h2Post(GENERATE, {}, envelope(message, 0, message.length - 3));
    assertGrpcFailure(a, Code.InvalidArgument, /incomplete envelope/);
  });

  // As connect-node and gRPC's status code table have it: the wrong number of request messages is UNIMPLEMENTED.
  test("an empty body (no request message) → UNIMPLEMENTED", async () => {
    const a = await h2Post(GENERATE, {}, new Uint8Array(0));
    assertGrpcFailure(a, Code.Unimplemented, /missing input message/);
  });

  test("two request messages for a unary method → UNIMPLEMENTED", async () => {
    const message = generateProto("chat", "twice");
    const a = await h2Post(GENERATE, {}, Buffer.concat([envelope(message), envelope(message)]));
    assertGrpcFailure(a, Code.Unimplemented, /extra input message/);
  });

  test("a compressed-flag envelope without grpc-encoding → a clear non-OK status", async () => {
    const a = await h2Post(EMBED, {}, envelope(toBinary(EmbedRequestSchema, create(EmbedRequestSchema)), 1));
    assert.equal(a.status, 200);
    assert.equal(a.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    const status = grpcStatus(a);
    assert.notEqual(status.code, 0);
    assert.match(status.message, /compress/i);
  });

  test("a body over maxRequestBytes → RESOURCE_EXHAUSTED", async () => {
    const a = await h2Post(GENERATE, {}, envelope(generateProto("chat", "x".repeat(2 * MAX_REQUEST_BYTES))));
    assertGrpcFailure(a, Code.ResourceExhausted, new RegExp(`${MAX_REQUEST_BYTES}`));
  });

  test("a grpc-timeout that expires while the upstream hangs → DEADLINE_EXCEEDED, upstream aborted", async () => {
    up.enqueue({ kind: "hang" });
    const index = up.requests.length;
    const a = await within(
      h2Post(GENERATE, { "grpc-timeout": "100m" }, envelope(generateProto("slow", "q"))),
      "the gateway to answer once the 100 ms deadline passed",
    );
    assertGrpcFailure(a, Code.DeadlineExceeded, /./);
    await within(up.waitForAbort(index), "the upstream request to be aborted");
    const id = a.headers["x-request-id"];
    assert.ok(id);
    const line = await logLine((l) => l.requestId === id);
    assert.equal(line?.status, "deadline_exceeded");
  });

  test("an invalid grpc-timeout falls through: connect-node's INVALID_ARGUMENT", async () => {
    const a = await h2Post(GENERATE, { "grpc-timeout": "soon" }, envelope(generateProto("chat", "x")));
    assertGrpcFailure(a, Code.InvalidArgument, /invalid grpc timeout value: soon/);
  });

  test("a grpc-timeout above server.limits.maxTimeoutMs is capped and served, not refused", async () => {
    const a = await h2Post(GENERATE, { "grpc-timeout": "20M" }, envelope(generateProto("chat", "x")));
    assert.equal(grpcStatus(a).code, 0, "OK");
    assert.equal(decodeGrpcGenerate(a.body).text, "x");
  });
});

describe("a caller that goes away aborts the upstream promptly", { timeout: TEST_TIMEOUT_MS }, () => {
  for (const httpVersion of ["1.1", "2"] as const) {
    test(`HTTP/${httpVersion} Connect Generate: the client aborts while the upstream hangs`, async () => {
      up.enqueue({ kind: "hang" });
      const index = up.requests.length;
      const abort = new AbortController();
      const done = connectProto(httpVersion).unary(
        M.generate,
        { workload: "slow", messages: [user("q")] },
        { signal: abort.signal },
      );
      await within(up.waitForRequests(index + 1), "the upstream request");
      const cancelledAt = performance.now();
      abort.abort();
      await assert.rejects(done, (e: ConnectError) => e.code === Code.Canceled);
      await within(up.waitForAbort(index), "the upstream request to be aborted");
      const elapsed = performance.now() - cancelledAt;
      assert.ok(elapsed < PROMPT_MS, `upstream aborted ${Math.round(elapsed)} ms after the cancel`);
      const line = await logLine((l) => l.status === "cancelled" && l.protocol === "connect");
      assert.ok(line, "the cancel is logged as cancelled");
    });
  }

  test("gRPC over HTTP/2: the client resets the stream (RST_STREAM CANCEL) while the upstream hangs", async () => {
    up.enqueue({ kind: "hang" });
    const index = up.requests.length;
    let cancelledAt = 0;
    const a = await h2Post(GENERATE, {}, envelope(generateProto("slow", "q")), (stream) => {
      void up.waitForRequests(index + 1).then(() => {
        cancelledAt = performance.now();
        stream.close(http2.constants.NGHTTP2_CANCEL);
      });
    });
    assert.equal(a.rstCode, http2.constants.NGHTTP2_CANCEL);
    await within(up.waitForAbort(index), "the upstream request to be aborted");
    const elapsed = performance.now() - cancelledAt;
    assert.ok(elapsed < PROMPT_MS, `upstream aborted ${Math.round(elapsed)} ms after the reset`);
    const line = await logLine((l) => l.status === "cancelled" && l.protocol === "grpc");
    assert.ok(line, "the cancel is logged as cancelled");
  });
});

describe("metering sees the client protocol", { timeout: TEST_TIMEOUT_MS }, () => {
  const ledgerRecord = async (requestId: string) => {
    await gw.gateway.ledger.flush();
    return gw.gateway.store.ledger.get(requestId);
  };

  test("a Connect fast-path call is recorded and logged as protocol connect", async () => {
    const { message } = await connectProto("1.1").unary(M.generate, {
      workload: "chat",
      messages: [user("m")],
    });
    const record = await ledgerRecord(message.requestId);
    assert.deepEqual([record?.protocol, record?.status, record?.backend], ["connect", "ok", "echo"]);
    const line = await logLine((l) => l.requestId === message.requestId);
    assert.equal(line?.protocol, "connect");
  });

  test("a gRPC fast-path call is recorded and logged as protocol grpc", async () => {
    const a = await h2Post(GENERATE, {}, envelope(generateProto("chat", "m")));
    const message = decodeGrpcGenerate(a.body);
    const record = await ledgerRecord(message.requestId);
    assert.deepEqual([record?.protocol, record?.status, record?.backend], ["grpc", "ok", "echo"]);
    const line = await logLine((l) => l.requestId === message.requestId);
    assert.equal(line?.protocol, "grpc");
  });
});
