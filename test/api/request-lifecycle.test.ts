import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import { after, before, describe, test } from "node:test";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { metrics, SpanKind, trace } from "@opentelemetry/api";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { GenerateRequestSchema, InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import type { RequestContext } from "../../src/api/request-context.ts";
import { Pipeline } from "../../src/pipeline/pipeline.ts";
import { mintKey } from "../../src/policy/api-key.ts";
import { PolicyChain } from "../../src/policy/chain/chain.ts";
import { allClients, type TestClient } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { parsePrometheus, total } from "../helpers/prometheus.ts";
import { within } from "../helpers/wait.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

// This file owns the process-wide tracer and meter providers (node --test runs each file in its own process).
const spans = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
const prometheus = new PrometheusExporter({ preventServerStart: true });
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [prometheus] }));

const M = InferenceService.method;
const KEY = mintKey().secret;
const AUTH = { authorization: `Bearer ${KEY}` };
const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
const REQ = { workload: "chat", messages: [user("hi")] };
/** Twenty deltas 25 ms apart: a stream still running when the caller leaves after its first delta. */
const DRIP = { chunks: Array.from({ length: 20 }, (_, i) => `w${i} `), chunkDelayMs: 25 };

/**
 * Holds a request at one stage (authentication or admission) until its caller's signal fires (cancel,
 * disconnect or deadline), then lets it go on: the request is abandoned exactly at that stage.
 */
type Stage = "auth" | "admission";
let holdAt: Stage | undefined;
const reached: (() => void)[] = [];
function holdUntilAbandoned(stage: Stage): Promise<void> {
  holdAt = stage;
  return new Promise((resolve) => reached.push(resolve));
}
async function hold(stage: Stage, ctx: RequestContext): Promise<void> {
  if (holdAt !== stage) return;
  holdAt = undefined;
  reached.shift()?.();
  if (!ctx.signal.aborted) await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
}
const authenticate = Pipeline.prototype.authenticate;
Pipeline.prototype.authenticate = async function (ctx, permission) {
  await hold("auth", ctx);
  return authenticate.call(this, ctx, permission);
};
const admit = PolicyChain.prototype.admit;
PolicyChain.prototype.admit = async function (x, logger) {
  await hold("admission", x.ctx);
  return admit.call(this, x, logger);
};

let upstream: OpenAIFake;
let gw: TestGateway;
before(async () => {
  upstream = await startOpenAIFake();
  gw = await startTestGateway(
    configYaml(
      // The breaker never opens and a call has one attempt: the cases count request ends, and the hung
      // upstream's timeouts piling up across them must not turn a deadline into upstream_unavailable.
      `  oa:\n    type: openai\n    baseUrl: ${upstream.url}/v1\n    breaker: { volumeThreshold: 100000 }\n`,
      "  chat:\n    retry: { maxAttempts: 1 }\n    targets:\n      - { backend: oa, model: gpt-4o-mini }\n",
      "",
      "auth: { enabled: true }\n",
    ),
    { SWITCHYARD_BOOTSTRAP_KEY: KEY },
    { prometheus },
  );
});
after(async () => {
  await gw.stop();
  await upstream.close();
});

const requestLines = () =>
  gw.logs.filter((l) => l.msg === "request" || l.msg === "request failed unexpectedly");
const serverSpans = () => spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
async function inFlight(): Promise<number> {
  const res = await fetch(`${gw.url}/metrics`);
  return total(parsePrometheus(await res.text()), "switchyard_in_flight");
}

/**
 * Runs one abandoned request and checks its end: exactly one request log line, exactly one ended
 * server span, and the in-flight gauge back at 0 — with the status the line reports.
 */
async function abandoned(what: string, run: () => Promise<unknown>): Promise<string> {
  spans.reset();
  const lines = requestLines().length;
  await within(
    run().catch(() => undefined),
    `${what}: the client's call to end`,
  );
  // The client is done; the gateway ends the request on its own time (once the upstream is aborted).
  let ended = false;
  const ending = (async () => {
    while (!ended && (requestLines().length === lines || (await inFlight()) !== 0))
      await new Promise((r) => setTimeout(r, 10));
  })();
  await within(ending, `${what}: a request log line and in-flight back to 0`).finally(() => {
    ended = true;
  });
  const added = requestLines().slice(lines);
  assert.equal(added.length, 1, `${what}: exactly one request log line (${JSON.stringify(added)})`);
  assert.equal(serverSpans().length, 1, `${what}: exactly one ended server span`);
  assert.equal(await inFlight(), 0, `${what}: nothing left in flight`);
  lastLine = added[0]!;
  return String(added[0]!.status);
}

/** The request log line of the last `abandoned` call. */
let lastLine: Record<string, unknown> = {};

/** Cancels the call once `when` resolves (or at its first message when `when` is "first-message"). */
function cancelling(client: TestClient, kind: "unary" | "stream", when: Promise<unknown> | "first-message") {
  const abort = new AbortController();
  if (when !== "first-message") void when.then(() => abort.abort());
  const options = {
    signal: abort.signal,
    headers: AUTH,
    onMessage: (m: { event: { case: string | undefined } }) => {
      if (when === "first-message" && m.event.case === "textDelta") abort.abort();
    },
  };
  return kind === "unary"
    ? client.unary(M.generate, REQ, options)
    : client.serverStream(M.generateStream, REQ, options as never);
}

describe("every request ends once: log line, server span, in-flight (gRPC, Connect, gRPC-Web)", () => {
  for (const index of [0, 1, 2, 3]) {
    const name = () => allClients(gw.url)[index]!.name;
    test(`client #${index}: cancelled at each stage`, async () => {
      const c = allClients(gw.url)[index]!;
      try {
        for (const kind of ["unary", "stream"] as const) {
          for (const stage of ["auth", "admission"] as const) {
            const status = await abandoned(`${name()} ${kind} cancelled during ${stage}`, () =>
              cancelling(c, kind, holdUntilAbandoned(stage)),
            );
            assert.equal(status, "cancelled");
            assert.equal(lastLine.attempts, 0, `cancelled during ${stage}: no upstream attempt is made`);
          }
          upstream.setDefault({ kind: "hang" });
          const sent = upstream.requests.length;
          const status = await abandoned(`${name()} ${kind} cancelled before the first token`, () =>
            cancelling(
              c,
              kind,
              upstream.waitUntil(() => upstream.requests.length > sent),
            ),
          );
          assert.equal(status, "cancelled");
        }
        upstream.setDefault(DRIP);
        const status = await abandoned(`${name()} stream cancelled mid-stream`, () =>
          cancelling(c, "stream", "first-message"),
        );
        assert.equal(status, "cancelled");

        // A client resets the call at its own deadline, which can reach us a moment before ours passes
        // (our clock started when the call arrived): then the caller left first, and the line says so.
        const timedOut = (status: string) =>
          assert.match(status, /^(deadline_exceeded|cancelled)$/, JSON.stringify(lastLine));
        upstream.setDefault({ kind: "hang" });
        for (const kind of ["unary", "stream"] as const) {
          const options = { headers: AUTH, timeoutMs: 300 };
          const call = () =>
            kind === "unary"
              ? c.unary(M.generate, REQ, options)
              : c.serverStream(M.generateStream, REQ, options);
          timedOut(await abandoned(`${name()} ${kind}: deadline before the first token`, call));
          void holdUntilAbandoned("admission");
          timedOut(await abandoned(`${name()} ${kind}: deadline during admission`, call));
        }
        upstream.setDefault({ ...DRIP, chunkDelayMs: 100 });
        const options = { headers: AUTH, timeoutMs: 300 };
        timedOut(
          await abandoned(`${name()} deadline mid-stream`, () =>
            c.serverStream(M.generateStream, REQ, options),
          ),
        );
      } finally {
        c.close();
      }
    });
  }

  test("listModels cancelled during authentication", async () => {
    const c = allClients(gw.url)[1]!;
    const abort = new AbortController();
    void holdUntilAbandoned("auth").then(() => abort.abort());
    await abandoned("listModels", () => c.unary(M.listModels, {}, { headers: AUTH, signal: abort.signal }));
    c.close();
  });
});

/** A gRPC stream (HTTP/2) whose client tears the whole connection down at its first message. */
function grpcDisconnect(): Promise<void> {
  return new Promise((resolve) => {
    const session = http2.connect(gw.url);
    const message = toBinary(GenerateRequestSchema, create(GenerateRequestSchema, REQ));
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    const req = session.request({
      ":method": "POST",
      ":path": "/switchyard.v1.InferenceService/GenerateStream",
      "content-type": "application/grpc",
      te: "trailers",
      ...AUTH,
    });
    req.on("error", () => undefined);
    req.once("data", () => {
      session.destroy();
      resolve();
    });
    req.end(frame);
  });
}

/** An HTTP/1.1 request whose client destroys its socket at the first bytes of the body. */
function http1Disconnect(path: string, headers: Record<string, string>, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${gw.url}${path}`,
      { method: "POST", headers: { ...headers, ...AUTH } },
      (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      },
    );
    req.on("error", () => undefined);
    req.on("close", () => resolve());
    req.once("timeout", () => reject(new Error("timeout")));
    req.end(body);
  });
}

function connectEnvelope(json: string): Buffer {
  const data = Buffer.from(json);
  const out = Buffer.alloc(5 + data.length);
  out.writeUInt32BE(data.length, 1);
  out.set(data, 5);
  return out;
}

const chatBody = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: "switchyard/chat", messages: [{ role: "user", content: "hi" }], ...extra });

describe("client disconnects (the connection goes, mid-stream)", () => {
  test("gRPC over HTTP/2", async () => {
    upstream.setDefault(DRIP);
    assert.equal(await abandoned("gRPC disconnect", grpcDisconnect), "cancelled");
  });
  test("Connect streaming over HTTP/1.1", async () => {
    upstream.setDefault(DRIP);
    const body = connectEnvelope(toJsonString(GenerateRequestSchema, create(GenerateRequestSchema, REQ)));
    const status = await abandoned("Connect disconnect", () =>
      http1Disconnect(
        "/switchyard.v1.InferenceService/GenerateStream",
        { "content-type": "application/connect+json" },
        body,
      ),
    );
    assert.equal(status, "cancelled");
  });
  test("OpenAI facade SSE", async () => {
    upstream.setDefault(DRIP);
    const status = await abandoned("facade disconnect", () =>
      http1Disconnect(
        "/v1/chat/completions",
        { "content-type": "application/json" },
        Buffer.from(chatBody({ stream: true })),
      ),
    );
    assert.equal(status, "cancelled");
  });
});

describe("the OpenAI facade: every request ends once", () => {
  const post = (
    signal: AbortSignal,
    extra: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...AUTH, ...headers },
      body: chatBody(extra),
      signal,
    }).then((res) => res.text());

  for (const stream of [false, true]) {
    test(`${stream ? "streaming" : "unary"}: cancelled during authentication, admission, before the first token`, async () => {
      for (const stage of ["auth", "admission"] as const) {
        const abort = new AbortController();
        void holdUntilAbandoned(stage).then(() => abort.abort());
        assert.equal(await abandoned(`facade ${stage}`, () => post(abort.signal, { stream })), "cancelled");
      }
      upstream.setDefault({ kind: "hang" });
      const sent = upstream.requests.length;
      const abort = new AbortController();
      void upstream.waitUntil(() => upstream.requests.length > sent).then(() => abort.abort());
      assert.equal(
        await abandoned("facade before first token", () => post(abort.signal, { stream })),
        "cancelled",
      );
    });
    test(`${stream ? "streaming" : "unary"}: deadline (x-stainless-timeout) before the first token`, async () => {
      upstream.setDefault({ kind: "hang" });
      const status = await abandoned("facade deadline", () =>
        post(new AbortController().signal, { stream }, { "x-stainless-timeout": "1" }),
      );
      assert.equal(status, "deadline_exceeded");
    });
  }

  test("streaming: cancelled mid-stream", async () => {
    upstream.setDefault(DRIP);
    const abort = new AbortController();
    const status = await abandoned("facade mid-stream", async () => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", ...AUTH },
        body: chatBody({ stream: true }),
        signal: abort.signal,
      });
      const reader = res.body!.getReader();
      await reader.read();
      abort.abort();
    });
    assert.equal(status, "cancelled");
  });
});
