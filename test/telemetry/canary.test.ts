import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { metrics, propagation, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import OpenAI from "openai";
import type { ModelInferRequest } from "../../gen/inference/grpc_service_pb.ts";
import { AdminService } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { mintKey } from "../../src/policy/api-key.ts";
import { allClients, type TestClient } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import {
  type AnthropicFake,
  type Script as AnthropicScript,
  startAnthropicFake,
} from "../upstreams/anthropic-fake.ts";
import { type GeminiFake, type Script as GeminiScript, startGeminiFake } from "../upstreams/gemini-fake.ts";
import {
  anthropicHostileError,
  geminiHostileStatus,
  htmlPage,
  openAIHostileError,
  squeeze,
} from "../upstreams/hostile-errors.ts";
import type { RecordedRequest } from "../upstreams/http-fake-core.ts";
import { type KServeFake, startKServeFake } from "../upstreams/kserve-fake.ts";
import { type OpenAIFake, type Script as OpenAIScript, startOpenAIFake } from "../upstreams/openai-fake.ts";
import { startTeiFake, type TeiFake } from "../upstreams/tei-fake.ts";

// This file owns the process-wide tracer and meter providers (each test file runs in its own process).
const spans = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const prometheus = new PrometheusExporter({ preventServerStart: true });
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [prometheus] }));

const PROVIDER_KEY = "sk-proj-CANARYPROVIDER0001";
const ANTHROPIC_KEY = "sk-ant-api03-CANARYANTHROPIC0002";
const GEMINI_KEY = "AIzaSyCANARYGEMINI0003";
const TRITON_TOKEN = "CANARYTRITONTOKEN0004";
const TEI_TOKEN = "CANARYTEITOKEN0005";
const CLIENT_KEY = mintKey().secret;
const PROMPT = "CANARY-PROMPT-the-secret-recipe";
const ANSWER = "CANARY-ANSWER-forty-two";

let up: OpenAIFake;
let claude: AnthropicFake;
let gemini: GeminiFake;
let triton: KServeFake;
let tei: TeiFake;
let gw: TestGateway;
const errorBodies: string[] = [];
/** The gateway's reason for each call to a hostile upstream (each must have failed). */
const hostileReasons: string[] = [];

/** A route of one attempt to one backend (so each hostile reply is the caller's answer). */
const solo = (name: string, backend: string, model: string, embed = false) =>
  `  ${name}:\n${embed ? "    operations: [embed]\n" : ""}    retry: { maxAttempts: 1 }\n` +
  `    targets:\n      - { backend: ${backend}, model: ${model} }\n`;
/** Breakers that never open, so every hostile reply really reaches the gateway. */
const BREAKER = "    breaker: { volumeThreshold: 100000 }\n";

before(async () => {
  up = await startOpenAIFake({ requireApiKey: PROVIDER_KEY });
  claude = await startAnthropicFake({ requireApiKey: ANTHROPIC_KEY });
  gemini = await startGeminiFake({ requireApiKey: GEMINI_KEY });
  triton = await startKServeFake({
    requireApiKey: TRITON_TOKEN,
    models: {
      llama: { profile: "vllm" },
      // Metadata is the server's own text too: a tensor named after the token it got, a datatype likewise.
      meta: {
        profile: "tensorrt-llm",
        datatypes: { max_tokens: squeeze(`Bearer ${TRITON_TOKEN}`) },
        extraInputs: [{ name: `Bearer ${TRITON_TOKEN}`, datatype: `Bearer ${TRITON_TOKEN}` }],
      },
    },
  });
  tei = await startTeiFake({ requireApiKey: TEI_TOKEN });
  up.setDefault((req) => openAIReply(req) as OpenAIScript);
  claude.setDefault((req) => anthropicReply(req) as AnthropicScript);
  gemini.setDefault((req) => geminiReply(req) as GeminiScript);
  // The gRPC servers echo the token they were sent and the input, in a status message and trailer...
  tei.setDefault((call) => {
    const echoed = `${call.metadata.authorization} ${(call.requests[0] as { inputs?: string }).inputs}`;
    return {
      kind: "status",
      code: grpc.status.INVALID_ARGUMENT,
      details: echoed,
      trailers: { echo: echoed },
    };
  });
  // ...and in an inference response's error_message (the prompt is the first raw input, length-prefixed).
  triton.setDefault((call) => {
    const raw = (call.requests.at(-1) as ModelInferRequest).rawInputContents[0] ?? new Uint8Array(4);
    const prompt = Buffer.from(raw).subarray(4).toString();
    return { errorMessage: `invalid input: ${prompt} (${call.metadata.authorization})` };
  });
  gw = await startTestGateway(
    configYaml(
      `  oa:\n    type: openai\n    baseUrl: ${up.url}/v1\n    apiKey: \${OA_KEY}\n${BREAKER}  echo: { type: echo }\n` +
        `  claude:\n    type: anthropic\n    baseUrl: ${claude.url}\n    apiKey: \${ANTHROPIC_KEY}\n${BREAKER}` +
        `  gem:\n    type: gemini\n    baseUrl: ${gemini.baseUrl}\n    apiKey: \${GEMINI_KEY}\n${BREAKER}` +
        `  triton:\n    type: kserve\n    address: ${triton.address}\n    profile: vllm\n    apiKey: \${TRITON_TOKEN}\n${BREAKER}` +
        `  trt:\n    type: kserve\n    address: ${triton.address}\n    profile: tensorrt-llm\n    apiKey: \${TRITON_TOKEN}\n${BREAKER}` +
        `  tei:\n    type: tei\n    address: ${tei.address}\n    apiKey: \${TEI_TOKEN}\n${BREAKER}`,
      "  chat:\n    targets:\n      - { backend: oa, model: gpt-4o-mini }\n" +
        solo("solo", "oa", "gpt-4o-mini") +
        solo("claude", "claude", "claude-sonnet-4-5") +
        solo("gem", "gem", "gemini-2.5-flash") +
        solo("triton", "triton", "llama") +
        solo("meta", "trt", "meta") +
        solo("vectors", "tei", "bge", true),
      "",
      "auth: { enabled: true }\n",
    ),
    {
      OA_KEY: PROVIDER_KEY,
      ANTHROPIC_KEY,
      GEMINI_KEY,
      TRITON_TOKEN,
      TEI_TOKEN,
      SWITCHYARD_BOOTSTRAP_KEY: CLIENT_KEY,
    },
    { prometheus },
  );
  const auth = { headers: { authorization: `Bearer ${CLIENT_KEY}` } };
  const ask = {
    workload: "chat",
    messages: [{ role: Role.USER, content: [{ part: { case: "text" as const, value: PROMPT } }] }],
  };
  const c = allClients(gw.url)[1]!;
  const fail = (e: unknown) =>
    errorBodies.push(
      `${(e as ConnectError).message} ${JSON.stringify([...((e as ConnectError).metadata ?? [])])}`,
    );

  up.enqueue({ text: ANSWER });
  await c.unary(InferenceService.method.generate, ask, auth);
  up.enqueue({ chunks: [ANSWER, " again"] });
  await c.serverStream(InferenceService.method.generateStream, ask, auth);
  up.enqueue({ chunks: [ANSWER, " cut"], cutAfterEvents: 2 });
  await c.serverStream(InferenceService.method.generateStream, ask, auth).catch(fail);
  // The provider rejects the gateway's key and quotes part of it; a bad request echoes the prompt.
  up.enqueue({ kind: "error", status: 401, fixture: "invalid_api_key" });
  await c.unary(InferenceService.method.generate, { ...ask, workload: "solo" }, auth).catch(fail);
  up.enqueue({
    kind: "error",
    status: 400,
    body: { error: { message: `bad input: ${PROMPT}`, type: "invalid_request_error" } },
  });
  await c.unary(InferenceService.method.generate, { ...ask, workload: "solo" }, auth).catch(fail);
  // Bad client keys and a validation error.
  await c
    .unary(InferenceService.method.generate, ask, { headers: { authorization: `Bearer ${CLIENT_KEY}x` } })
    .catch(fail);
  await c.unary(InferenceService.method.generate, { ...ask, sampling: { temperature: 9 } }, auth).catch(fail);
  await c.unary(AdminService.method.getConfig, {}, auth);
  c.close();
  for (const client of allClients(gw.url)) await hostileTraffic(client, auth);
  // The same through the OpenAI facade.
  const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
  up.enqueue({ text: ANSWER });
  await sdk.chat.completions.create({
    model: "switchyard/chat",
    messages: [{ role: "user", content: PROMPT }],
  });
  up.enqueue({
    kind: "error",
    status: 400,
    body: { error: { message: `bad input: ${PROMPT}`, type: "invalid_request_error" } },
  });
  await sdk.chat.completions
    .create({ model: "switchyard/solo", messages: [{ role: "user", content: PROMPT }] })
    .catch((e: unknown) => errorBodies.push(JSON.stringify((e as { error?: unknown }).error ?? String(e))));
  await hostileFacadeTraffic();
});
after(async () => {
  await gw.stop();
  await Promise.all([up.close(), claude.close(), gemini.close(), triton.close(), tei.close()]);
});

/** What each HTTP fake answers next, made from the request it got (so it can echo prompt and key). */
let openAIReply: (req: RecordedRequest) => unknown = () => ({});
let anthropicReply: (req: RecordedRequest) => unknown = () => ({});
let geminiReply: (req: RecordedRequest) => unknown = () => ({});
const HTML = { "content-type": "text/html; charset=utf-8" };

/** Every way a hostile upstream can fail, asked through one client stack. */
async function hostileTraffic(c: TestClient, auth: { headers: Record<string, string> }): Promise<void> {
  const ask = (workload: string) => ({
    workload,
    messages: [{ role: Role.USER, content: [{ part: { case: "text" as const, value: PROMPT } }] }],
  });
  const failed = (e: unknown) => {
    const error = e as ConnectError;
    hostileReasons.push(error.metadata?.get("x-switchyard-reason") ?? `no reason: ${String(e)}`);
    errorBodies.push(
      `${c.name}: ${decodeURIComponent(error.message)} ${JSON.stringify([...error.metadata])}`,
    );
  };
  const unary = (workload: string) =>
    c
      .unary(InferenceService.method.generate, ask(workload), auth)
      .then(() => hostileReasons.push(`served: ${workload}`), failed);
  const stream = (workload: string) =>
    c
      .serverStream(InferenceService.method.generateStream, ask(workload), auth)
      .then(() => hostileReasons.push(`served: ${workload}`), failed);
  type Reply = (req: RecordedRequest) => unknown;
  const openAI = async (reply: Reply, call: () => Promise<unknown>) => {
    openAIReply = reply;
    await call();
  };
  const anthropic = async (reply: Reply, call: () => Promise<unknown>) => {
    anthropicReply = reply;
    await call();
  };
  const google = async (reply: Reply, call: () => Promise<unknown>) => {
    geminiReply = reply;
    await call();
  };
  // OpenAI-compatible: hostile code/type/param unary (400 and 401), an HTML page, mid-stream before and after output.
  for (const [status, variant] of [
    [400, 0],
    [401, 1],
  ] as const)
    await openAI(
      (req) => ({ kind: "error", status, body: { error: openAIHostileError(req, variant) } }),
      () => unary("solo"),
    );
  await openAI(
    (req) => ({ kind: "error", status: 400, body: htmlPage(req), headers: HTML }),
    () => unary("solo"),
  );
  for (const afterEvents of [1, 2])
    await openAI(
      (req) => ({ text: "a b c", streamError: { afterEvents, error: openAIHostileError(req) } }),
      () => stream("solo"),
    );
  // Anthropic: a hostile error.type unary, a plain-text page, and an `event: error` mid-stream.
  await anthropic(
    (req) => ({ kind: "error", status: 400, body: anthropicHostileError(req) }),
    () => unary("claude"),
  );
  await anthropic(
    (req) => ({ kind: "error", status: 403, body: htmlPage(req), headers: HTML }),
    () => unary("claude"),
  );
  await anthropic(
    (req) => {
      const { error } = anthropicHostileError(req) as { error: { type: string; message: string } };
      return { text: "a b c", streamError: { afterEvents: 4, ...error } };
    },
    () => stream("claude"),
  );
  // Gemini: a hostile google.rpc.Status (status, ErrorInfo reason/domain/metadata), an HTML page, mid-stream.
  await google(
    (req) => ({ kind: "error", status: 400, body: { error: geminiHostileStatus(req) } }),
    () => unary("gem"),
  );
  await google(
    (req) => ({ kind: "error", status: 400, body: htmlPage(req), headers: HTML }),
    () => unary("gem"),
  );
  await google(
    (req) => ({ text: "a b c", errorAfterEvents: 1, streamErrorStatus: geminiHostileStatus(req, 500) }),
    () => stream("gem"),
  );
  // gRPC upstreams: a status whose message quotes the token and input, an in-stream error_message likewise,
  // and model metadata whose names and datatypes are the token.
  await c
    .unary(InferenceService.method.embed, { workload: "vectors", inputs: [PROMPT] }, auth)
    .then(() => hostileReasons.push("served: vectors"), failed);
  await unary("triton");
  await unary("meta");
}

/** The same failures through the OpenAI facade: error bodies, and the error event of a stream. */
async function hostileFacadeTraffic(): Promise<void> {
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${gw.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    const reason = response.headers.get("x-switchyard-reason");
    const streamed = response.status === 200 && text.includes("error");
    hostileReasons.push(reason ?? (streamed ? "HTTP 200 (a stream: the error is its last event)" : text));
    errorBodies.push(`facade ${path}: ${text}`);
  };
  const chat = (model: string, stream: boolean) =>
    post("/v1/chat/completions", { model, stream, messages: [{ role: "user", content: PROMPT }] });
  openAIReply = (req) => ({ kind: "error", status: 400, body: { error: openAIHostileError(req) } });
  await chat("switchyard/solo", false);
  openAIReply = (req) => ({
    text: "a b c",
    streamError: { afterEvents: 2, error: openAIHostileError(req, 1) },
  });
  await chat("switchyard/solo", true);
  anthropicReply = (req) => ({ kind: "error", status: 400, body: anthropicHostileError(req) });
  await chat("switchyard/claude", false);
  geminiReply = (req) => ({ kind: "error", status: 400, body: { error: geminiHostileStatus(req) } });
  await chat("switchyard/gem", true);
  await post("/v1/embeddings", { model: "switchyard/vectors", input: PROMPT });
}

const everywhere = async () => {
  const metricsText = await (await fetch(`${gw.url}/metrics`)).text();
  const spanText = JSON.stringify(
    spans
      .getFinishedSpans()
      .map((s) => ({ name: s.name, attributes: s.attributes, status: s.status, events: s.events })),
  );
  const audit = (await gw.gateway.store.audit.list({ limit: 1000 })).map((e) => JSON.stringify(e)).join("\n");
  return { logs: gw.logText(), spans: spanText, metrics: metricsText, errors: errorBodies.join("\n"), audit };
};

test("the traffic really happened (so the canary checks below are meaningful)", async () => {
  const seen = await everywhere();
  assert.ok(up.requests.length >= 6);
  // Every call to a hostile upstream failed, with the reason its status calls for.
  const perClient = [
    ...["upstream_rejected_request", "upstream_misconfigured", "upstream_rejected_request"],
    ...["upstream_unavailable", "stream_interrupted"],
    ...["upstream_rejected_request", "upstream_misconfigured", "stream_interrupted"],
    ...["upstream_rejected_request", "upstream_rejected_request", "stream_interrupted"],
    // TEI's INVALID_ARGUMENT; Triton's error_message says "invalid"; the metadata check at start-up
    // already took the mismatched backend out of service.
    ...["upstream_rejected_request", "upstream_rejected_request", "no_backend_enabled"],
  ];
  const facade = [
    ...["upstream_rejected_request", "HTTP 200 (a stream: the error is its last event)"],
    "upstream_rejected_request",
    ...["upstream_rejected_request", "upstream_rejected_request"],
  ];
  assert.deepEqual(hostileReasons, [...perClient, ...perClient, ...perClient, ...perClient, ...facade]);
  // They really were sent the prompt and the credentials they echo.
  for (const fake of [claude, gemini]) assert.ok(JSON.stringify(fake.requests).includes(PROMPT));
  assert.ok(triton.calls.some((call) => call.metadata.authorization === `Bearer ${TRITON_TOKEN}`));
  assert.ok(tei.calls.some((call) => call.metadata.authorization === `Bearer ${TEI_TOKEN}`));
  assert.ok(seen.spans.includes("switchyard.v1.InferenceService/Generate"));
  assert.ok(seen.metrics.includes("switchyard_requests_total"));
  assert.ok(errorBodies.length >= 6);
  assert.ok(seen.audit.includes("inference.generate.denied"));
});

for (const [name, secret] of [
  ["the provider key", PROVIDER_KEY],
  ["the tail of the provider key the provider quoted", PROVIDER_KEY.slice(-8)],
  ["the Anthropic key", ANTHROPIC_KEY.slice(-12)],
  ["the Gemini key", GEMINI_KEY.slice(-12)],
  ["the Triton token", TRITON_TOKEN.slice(-12)],
  ["the TEI token", TEI_TOKEN.slice(-12)],
  ["the prompt squeezed into a code's shape", squeeze(PROMPT)],
  ["the client key", CLIENT_KEY],
  ["the client key's secret part", CLIENT_KEY.slice(20)],
  ["the prompt", PROMPT],
  ["the answer", ANSWER],
] as const) {
  test(`${name} never appears in logs, spans, metrics, error bodies or the audit log`, async () => {
    const found = Object.entries(await everywhere()).filter(([, text]) => text.includes(secret));
    assert.deepEqual(
      found.map(([where]) => where),
      [],
      `${name} found in ${found.map(([where]) => where).join(", ")}`,
    );
  });
}
