import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import {
  create,
  type DescMessage,
  type DescMethod,
  type MessageInitShape,
  toBinary,
  toJsonString,
} from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import fc from "fast-check";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.ts";
import { AdminService, SpendDimension } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { ResponseFormatType, Role, ToolChoiceMode } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { mintKey } from "../../src/policy/api-key.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { randomMessage } from "../helpers/random-message.ts";
import { envelope, type Protocol, RawRpc } from "../helpers/raw-rpc.ts";

/**
 * Every RPC of both services gets ≥ 10,000 generated bodies — random bytes, mutated valid
 * messages (binary and JSON), random JSON, wrong envelopes, flags, lengths and encodings — over
 * Connect, gRPC and gRPC-Web, HTTP/1.1 and HTTP/2, half with a valid admin key so the handlers run
 * past authentication. Whatever arrives: never INTERNAL, always an answer, health stays SERVING.
 * Seeded (FUZZ_SEED to replay a failure), each target bounded in time (a hang fails it).
 */
const SEED = Number(process.env.FUZZ_SEED ?? 0x14f022);
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
// A safety net only (each call also has a 10 s timeout): ~3 min on 2 busy cores, so a slow CI still passes.
const TIME_LIMIT_MS = Number(process.env.FUZZ_TIME_LIMIT_MS ?? 420_000);

const ADMIN = mintKey().secret;
const FAST_BROTLI = { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } }; // the default, quality 11, is its slowest setting
const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
const generation = [
  { workload: "chat", messages: [user("hi")] },
  {
    workload: "chat",
    model: "echo-1",
    messages: [
      { role: Role.SYSTEM, content: [{ part: { case: "text" as const, value: "be brief" } }] },
      user("x"),
    ],
    tools: [{ name: "lookup", description: "d", parameters: { type: "object" }, strict: true }],
    toolChoice: { choice: { case: "mode" as const, value: ToolChoiceMode.AUTO } },
    sampling: { maxOutputTokens: 8, temperature: 0.5, topP: 0.9, stop: ["\n"], seed: 7n },
    responseFormat: { type: ResponseFormatType.JSON_OBJECT },
    metadata: { a: "b" },
    endUserId: "u1",
  },
];
const timestamp = { seconds: 1_700_000_000n, nanos: 5 };
/** Valid requests per RPC, the material mutations start from. */
const SEEDS: Record<string, MessageInitShape<DescMessage>[]> = {
  Generate: generation,
  GenerateStream: generation,
  Embed: [{ workload: "vectors", inputs: ["a", "b"], dimensions: 4 }],
  ListModels: [{}, { workload: "chat" } as never],
  CreateKey: [{ name: "fuzz", team: "t", roles: ["viewer"], workloads: ["chat"], expireTime: timestamp }],
  ListKeys: [{ team: "t", includeRevoked: true }],
  GetKey: [{ id: "key_1" }],
  RevokeKey: [{ id: "key_1" }],
  ListRoutes: [{}],
  GetConfig: [{}],
  ReloadConfig: [{}],
  ListAuditEvents: [{ pageSize: 5, outcome: "allowed", startTime: timestamp, endTime: timestamp }],
  GetSpend: [{ groupBy: [SpendDimension.TEAM, SpendDimension.DAY], startTime: timestamp, team: "t" }],
};

const STRINGS = [
  "chat",
  "vectors",
  "echo-1",
  "echo-embed",
  "viewer",
  "admin",
  "team-admin",
  "billing",
  "t",
  "allowed",
];

type Mutation = { op: "flip" | "insert" | "delete" | "set"; at: number; byte: number };
const mutationArb = fc.record({
  op: fc.constantFrom("flip", "insert", "delete", "set"),
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
}) as fc.Arbitrary<Mutation>;

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  const out = [...bytes];
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % (out.length + (m.op === "insert" ? 1 : 0));
    if (m.op === "insert") out.splice(at, 0, m.byte);
    else if (out.length === 0) continue;
    else if (m.op === "delete") out.splice(at, 1);
    else if (m.op === "flip") out[at] = out[at]! ^ (1 << (m.byte % 8));
    else out[at] = m.byte;
  }
  return new Uint8Array(out);
}

const payloadArb = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("valid" as const), seed: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant("mutated" as const),
      seed: fc.nat(),
      mutations: fc.array(mutationArb, { minLength: 1, maxLength: 6 }),
    }),
    weight: 5,
  },
  // Well-formed messages with random values (the config's names among them): these reach the handlers.
  { arbitrary: fc.record({ kind: fc.constant("random" as const), seed: fc.integer() }), weight: 4 },
  {
    arbitrary: fc.record({ kind: fc.constant("bytes" as const), bytes: fc.uint8Array({ maxLength: 300 }) }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("json" as const), value: fc.jsonValue({ maxDepth: 4 }) }),
    weight: 2,
  },
);
const framingArb = fc.oneof(
  { arbitrary: fc.constant({ kind: "proper" as const }), weight: 6 },
  {
    arbitrary: fc.record({ kind: fc.constant("flags" as const), flags: fc.integer({ min: 0, max: 255 }) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("length" as const), delta: fc.integer({ min: -8, max: 8 }) }),
    weight: 1,
  },
  { arbitrary: fc.constant({ kind: "twice" as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: "swapped" as const }), weight: 1 }, // framed for Connect unary, bare otherwise
);
const caseArb = fc.record({
  protocol: fc.constantFrom<"connect" | "grpc" | "grpc-web">("connect", "grpc", "grpc-web"),
  http2: fc.boolean(),
  json: fc.boolean(),
  auth: fc.boolean(),
  encoding: fc.constantFrom(undefined, undefined, undefined, "identity", "gzip", "br", "snappy"),
  compress: fc.boolean(),
  payload: payloadArb,
  framing: framingArb,
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function requestOf(method: DescMethod, c: Case) {
  const seeds = SEEDS[method.name]!;
  const message = () => create(method.input, seeds[(c.payload as { seed: number }).seed % seeds.length]!);
  const encode = () =>
    c.json
      ? new TextEncoder().encode(toJsonString(method.input, message()))
      : toBinary(method.input, message());
  let data: Uint8Array;
  switch (c.payload.kind) {
    case "valid":
      data = encode();
      break;
    case "mutated":
      data = mutate(encode(), c.payload.mutations);
      break;
    case "random": {
      const m = randomMessage(method.input, c.payload.seed, STRINGS);
      try {
        data = c.json ? new TextEncoder().encode(toJsonString(method.input, m)) : toBinary(method.input, m);
      } catch {
        data = toBinary(method.input, m); // JSON cannot carry every value (a Timestamp past year 9999)
      }
      break;
    }
    case "bytes":
      data = c.payload.bytes;
      break;
    case "json":
      data = new TextEncoder().encode(JSON.stringify(c.payload.value));
      break;
  }
  const protocol: Protocol =
    c.protocol === "connect"
      ? method.methodKind === "server_streaming"
        ? "connect-stream"
        : "connect"
      : c.protocol;
  const compressed = c.compress && (c.encoding === "gzip" || c.encoding === "br");
  if (compressed) data = c.encoding === "gzip" ? gzipSync(data) : brotliCompressSync(data, FAST_BROTLI);
  const enveloped = protocol !== "connect";
  const flags = compressed && enveloped ? 1 : 0;
  let body: Uint8Array;
  switch (c.framing.kind) {
    case "proper":
      body = enveloped ? envelope(data, flags) : data;
      break;
    case "flags":
      body = envelope(data, c.framing.flags);
      break;
    case "length":
      body = envelope(data, flags, Math.max(0, data.length + c.framing.delta));
      break;
    case "twice":
      body = enveloped
        ? new Uint8Array([...envelope(data, flags), ...envelope(data, flags)])
        : envelope(data);
      break;
    case "swapped":
      body = enveloped ? data : envelope(data);
      break;
  }
  const header =
    protocol === "connect"
      ? "content-encoding"
      : protocol === "connect-stream"
        ? "connect-content-encoding"
        : "grpc-encoding";
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    protocol,
    json: c.json,
    body,
    http2: c.http2 || protocol === "grpc",
    headers: {
      ...(c.auth ? { authorization: `Bearer ${ADMIN}` } : {}),
      ...(c.encoding ? { [header]: c.encoding } : {}),
    },
  };
}

let gw: TestGateway;
let raw: RawRpc;
before(async () => {
  gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: echo-1 }\n" +
        "  vectors:\n    operations: [embed]\n    targets:\n      - { backend: echo, model: echo-embed }\n",
      "  limits: { maxRequestBytes: 65536 }\n",
      "auth: { enabled: true, cacheTtlMs: 60000 }\n",
    ),
    { SWITCHYARD_BOOTSTRAP_KEY: ADMIN },
  );
  raw = new RawRpc(gw.url, 10_000);
});
after(async () => {
  await raw.close();
  await gw.stop();
});

async function assertServing(): Promise<void> {
  const transport = createGrpcTransport({ baseUrl: gw.url });
  const health = createClient(Health, transport);
  for (const service of ["", InferenceService.typeName, AdminService.typeName]) {
    const { status } = await health.check({ service });
    assert.equal(status, HealthCheckResponse_ServingStatus.SERVING, `health of "${service}"`);
  }
}

test(`fuzz: ${RUNS} bodies per RPC of both services over Connect, gRPC and gRPC-Web: no INTERNAL, always an answer, health SERVING`, {
  timeout: TIME_LIMIT_MS + 60_000,
}, async () => {
  const started = performance.now();
  const methods = [...InferenceService.methods, ...AdminService.methods];
  const seen = new Map<Code | 0, number>();
  let cases = 0;
  // One property per RPC, all at once: each runs its cases in order, the RPCs share the connections.
  await Promise.all(
    methods.map((method, i) =>
      fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const call = requestOf(method, c);
          const got = await raw.call(call);
          seen.set(got.code, (seen.get(got.code) ?? 0) + 1);
          assert.notEqual(got.code, Code.Internal, `${call.path} over ${call.protocol}: ${got.message}`);
          if (++cases % 10_000 === 0) await assertServing();
        }),
        {
          seed: SEED + i,
          numRuns: RUNS,
          interruptAfterTimeLimit: TIME_LIMIT_MS,
          markInterruptAsFailure: true,
          endOnFailure: true,
        },
      ),
    ),
  );
  await assertServing();
  const internal = gw.logs.filter((l) => l.msg === "request" && l.status === "internal");
  assert.deepEqual(internal, [], "no request ended INTERNAL");
  const errors = gw.logs.filter((l) => (l.level ?? 0) >= 50);
  assert.deepEqual(errors.slice(0, 3), [], "no error-level log line");
  const codes = Object.fromEntries([...seen].map(([k, v]) => [k === 0 ? "OK" : Code[k], v]));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `fuzz: ${cases} cases over ${methods.length} RPCs in ${seconds} s; answers: ${JSON.stringify(codes)}`,
  );
  assert.ok(
    (seen.get(0) ?? 0) > 0 && (seen.get(Code.InvalidArgument) ?? 0) > 0,
    "both good and bad bodies ran",
  );
});
