import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import {
  AdminService,
  ListKeysRequestSchema,
  SpendDimension,
} from "../../gen/switchyard/v1/admin_service_pb.ts";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { GenerateRequestSchema, InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { envelope, type RawCall, RawRpc } from "../helpers/raw-rpc.ts";

const M = InferenceService.method;
const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway(
    configYaml(
      `  echo: { type: echo }\n  off: { type: openai, baseUrl: "http://127.0.0.1:9/v1", apiKey: "\${NOPE}", optional: true }\n`,
      `  chat:\n    targets:\n      - { backend: echo, model: echo-1, alias: small }\n` +
        `  dark:\n    targets:\n      - { backend: off, model: m }\n`,
      "  limits: { maxRequestBytes: 2048 }\n",
    ),
  );
});
after(() => gw.stop());

type Case = {
  name: string;
  call: (c: ReturnType<typeof allClients>[number]) => Promise<unknown>;
  code: Code;
  says: RegExp;
};

const cases: Case[] = [
  {
    name: "missing workload",
    call: (c) => c.unary(M.generate, { messages: [user("hi")] }),
    code: Code.InvalidArgument,
    says: /workload is required/,
  },
  {
    name: "unknown workload",
    call: (c) => c.unary(M.generate, { workload: "poetry", messages: [user("hi")] }),
    code: Code.NotFound,
    says: /unknown workload "poetry" \(configured: chat, dark\)/,
  },
  {
    name: "empty messages",
    call: (c) => c.unary(M.generate, { workload: "chat" }),
    code: Code.InvalidArgument,
    says: /messages is empty/,
  },
  {
    name: "oversize message",
    call: (c) => c.unary(M.generate, { workload: "chat", messages: [user("x".repeat(4096))] }),
    code: Code.ResourceExhausted,
    says: /larger than|exceeds|too large|max/i,
  },
  {
    name: "message without a role",
    call: (c) =>
      c.unary(M.generate, {
        workload: "chat",
        messages: [{ content: [{ part: { case: "text", value: "x" } }] }],
      }),
    code: Code.InvalidArgument,
    says: /messages\[0\]\.role/,
  },
  {
    name: "unknown model",
    call: (c) => c.unary(M.generate, { workload: "chat", model: "gpt-9", messages: [user("hi")] }),
    code: Code.NotFound,
    says: /model "gpt-9" is not served by workload "chat" \(available: small/,
  },
  {
    name: "temperature out of range",
    call: (c) =>
      c.unary(M.generate, { workload: "chat", messages: [user("hi")], sampling: { temperature: 3 } }),
    code: Code.InvalidArgument,
    says: /sampling\.temperature/,
  },
  {
    name: "embed on a generation workload",
    call: (c) => c.unary(M.embed, { workload: "chat", inputs: ["a"] }),
    code: Code.InvalidArgument,
    says: /does not serve embeddings/,
  },
  {
    name: "empty embed inputs",
    call: (c) => c.unary(M.embed, { workload: "chat", inputs: [] }),
    code: Code.InvalidArgument,
    says: /inputs is empty/,
  },
  {
    name: "embed dimensions beyond any model's (2^32-1)",
    call: (c) => c.unary(M.embed, { workload: "chat", inputs: ["a"], dimensions: 2 ** 32 - 1 }),
    code: Code.InvalidArgument,
    says: /dimensions must be between 1 and 8192/,
  },
  {
    name: "a route whose only backend is disabled",
    call: (c) => c.unary(M.generate, { workload: "dark", messages: [user("hi")] }),
    code: Code.Unavailable,
    says: /no enabled backend for workload "dark": off\/m \(disabled: environment variable NOPE is not set\)/,
  },
  {
    name: "bad stream request fails before any event",
    call: (c) => c.serverStream(M.generateStream, { workload: "", messages: [user("hi")] }),
    code: Code.InvalidArgument,
    says: /workload is required/,
  },
];

for (const index of [0, 1, 2, 3]) {
  describe(`client #${index}`, () => {
    for (const k of cases) {
      test(`${k.name} → ${Code[k.code]}`, async () => {
        const c = allClients(gw.url)[index]!;
        await assert.rejects(k.call(c), (e: ConnectError) => {
          assert.equal(e.code, k.code, `${Code[e.code]}: ${e.message}`);
          assert.match(e.message, k.says);
          return true;
        });
        c.close();
      });
    }
  });
}

test("a non-protobuf body over Connect gets a clear 4xx, never INTERNAL", async () => {
  const res = await fetch(`${gw.url}/switchyard.v1.InferenceService/Generate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{not json",
  });
  assert.equal(res.status, 400);
  const body = (await res.json()) as { code: string };
  assert.equal(body.code, "invalid_argument");
});

test("every rejected request still gets exactly one log line with its reason", () => {
  const reasons = gw.logs.filter((l) => l.msg === "request").map((l) => l.status);
  assert.ok(reasons.includes("unknown_workload"));
  assert.ok(reasons.includes("missing_workload"));
  assert.ok(!reasons.includes("internal"));
});

// --- Bodies that do not decode, on every front door: INVALID_ARGUMENT (never INTERNAL), logged. ---

const A = AdminService.method;
const path = (m: { parent: { typeName: string }; name: string }) => `/${m.parent.typeName}/${m.name}`;
const generateBytes = toBinary(
  GenerateRequestSchema,
  create(GenerateRequestSchema, { workload: "chat", messages: [user("hi")] }),
);
const TRUNCATED = generateBytes.subarray(0, generateBytes.length - 1); // "premature EOF"
/** CreateKeyRequest.name (field 1) whose bytes are not UTF-8. */
const BAD_UTF8_NAME = new Uint8Array([0x0a, 0x02, 0xff, 0xfe]);

/** GenerateRequest whose tools[0].parameters nests Value → ListValue `depth` times, written in one pass. */
function deeplyNested(depth: number): Uint8Array {
  const varint = (n: number) => {
    const out: number[] = [];
    for (; n >= 0x80; n >>>= 7) out.push((n & 0x7f) | 0x80);
    out.push(n);
    return out;
  };
  // value[i]: a Value nesting i levels; list[i]: the ListValue { values: [value[i]] } inside value[i + 1].
  const value = [0];
  const list: number[] = [];
  for (let i = 0; i < depth; i++) {
    list.push(1 + varint(value[i]!).length + value[i]!);
    value.push(1 + varint(list[i]!).length + list[i]!);
  }
  const nested = new Uint8Array(value[depth]!);
  let at = 0;
  for (let i = depth - 1; i >= 0; i--) {
    for (const b of [0x32, ...varint(list[i]!), 0x0a, ...varint(value[i]!)]) nested[at++] = b; // field 6, then field 1
  }
  const field = (no: number, data: Uint8Array | number[]) => [(no << 3) | 2, ...varint(data.length), ...data];
  const text = (t: string) => [...new TextEncoder().encode(t)];
  const entry = [...field(1, text("k")), 0x12, ...varint(nested.length)]; // Struct.fields["k"] = nested
  const struct = [0x0a, ...varint(entry.length + nested.length), ...entry]; // Struct field 1
  const tool = [...field(1, text("t")), 0x1a, ...varint(struct.length + nested.length), ...struct]; // Tool.parameters
  const head = [...field(1, text("chat")), 0x22, ...varint(tool.length + nested.length), ...tool]; // tools[0]
  return new Uint8Array([...head, ...nested]);
}

describe("bodies that do not decode are INVALID_ARGUMENT on every path, with a log line", () => {
  let big: TestGateway; // default size limits, for the 100k-deep body
  let raw: RawRpc;
  before(async () => {
    big = await startTestGateway(
      configYaml(
        "  echo: { type: echo }\n",
        "  chat:\n    targets:\n      - { backend: echo, model: echo-1 }\n",
      ),
    );
    raw = new RawRpc(big.url);
  });
  after(async () => {
    await raw.close();
    await big.stop();
  });

  const decodeCases: { name: string; call: RawCall; says: RegExp; reason: string }[] = [];
  for (const protocol of ["connect", "grpc", "grpc-web"] as const) {
    const framed = (b: Uint8Array) => (protocol === "connect" ? b : envelope(b));
    decodeCases.push(
      {
        name: `malformed protobuf on AdminService over ${protocol}`,
        call: { path: path(A.createKey), protocol, body: framed(TRUNCATED) },
        says: /cannot decode the request message/,
        reason: "malformed protobuf",
      },
      {
        name: `invalid UTF-8 in an Admin request over ${protocol}`,
        call: { path: path(A.createKey), protocol, body: framed(BAD_UTF8_NAME) },
        says: /UTF-8/i,
        reason: "invalid UTF-8",
      },
    );
  }
  decodeCases.push(
    {
      name: "malformed protobuf over gRPC-Web (InferenceService)",
      call: { path: path(M.generate), protocol: "grpc-web", body: envelope(TRUNCATED) },
      says: /cannot decode the request message/,
      reason: "malformed protobuf",
    },
    {
      name: "100k-deep nesting over gRPC-Web",
      call: { path: path(M.generate), protocol: "grpc-web", body: envelope(deeplyNested(100_000)) },
      says: /recursion depth/,
      reason: "nesting too deep",
    },
  );
  for (const [protocol, m] of [
    ["grpc", M.generate],
    ["grpc", A.listKeys],
    ["grpc-web", M.generate],
    ["grpc-web", A.listKeys],
  ] as const) {
    decodeCases.push(
      {
        name: `a compressed-flag envelope without grpc-encoding over ${protocol} (${m.name})`,
        call: { path: path(m), protocol, body: envelope(new Uint8Array([0x1f, 0x8b]), 1) },
        says: /compressed message without an encoding header/,
        reason: "compressed without encoding",
      },
      {
        name: `JSON sent as application/${protocol} (${m.name})`,
        call: { path: path(m), protocol, body: new TextEncoder().encode('{"workload":"chat"}') },
        says: /invalid envelope flags 0x7b/,
        reason: "bad envelope",
      },
    );
  }
  const badUtf8Json = (prefix: string, suffix: string) =>
    new Uint8Array([...Buffer.from(prefix), 0xff, 0xfe, ...Buffer.from(suffix)]);
  const generateJson = badUtf8Json(
    '{"workload":"chat","messages":[{"role":"ROLE_USER","content":[{"text":"',
    '"}]}]}',
  );
  decodeCases.push(
    {
      name: "invalid UTF-8 in Connect JSON (fast path, unary)",
      call: { path: path(M.generate), protocol: "connect", json: true, body: generateJson },
      says: /utf-8/i,
      reason: "invalid UTF-8",
    },
    {
      name: "invalid UTF-8 in Connect JSON (fast path, streaming)",
      call: {
        path: path(M.generateStream),
        protocol: "connect-stream",
        json: true,
        body: envelope(generateJson),
      },
      says: /utf-8/i,
      reason: "invalid UTF-8",
    },
    {
      name: "invalid UTF-8 in Connect JSON (AdminService)",
      call: {
        path: path(A.createKey),
        protocol: "connect",
        json: true,
        body: badUtf8Json('{"name":"', '"}'),
      },
      says: /utf-8/i,
      reason: "invalid UTF-8",
    },
    {
      name: "invalid UTF-8 in gRPC-Web JSON",
      call: { path: path(M.generate), protocol: "grpc-web", json: true, body: envelope(generateJson) },
      says: /utf-8/i,
      reason: "invalid UTF-8",
    },
  );

  for (const k of decodeCases) {
    test(`${k.name} → INVALID_ARGUMENT, logged`, async () => {
      const before = big.logs.length;
      const got = await raw.call(k.call);
      assert.equal(got.code, Code.InvalidArgument, `${got.code}: ${got.message}`);
      assert.match(got.message, k.says);
      const line = big.logs.slice(before).find((l) => l.msg === "request refused: bad input");
      assert.ok(line, "a log line for the refusal");
      assert.equal(line.path, k.call.path);
      assert.equal(line.reason, k.reason);
    });
  }

  test("a compression the gateway does not speak is UNIMPLEMENTED", async () => {
    const got = await raw.call({
      path: path(A.listKeys),
      protocol: "grpc",
      body: envelope(new Uint8Array([1, 2, 3]), 1),
      headers: { "grpc-encoding": "snappy" },
    });
    assert.equal(got.code, Code.Unimplemented, got.message);
  });

  test("a broken gzip body is INVALID_ARGUMENT", async () => {
    for (const protocol of ["grpc", "grpc-web"] as const) {
      const got = await raw.call({
        path: path(A.listKeys),
        protocol,
        body: envelope(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0]), 1),
        headers: { "grpc-encoding": "gzip" },
      });
      assert.equal(got.code, Code.InvalidArgument, `${protocol}: ${got.message}`);
    }
  });

  test("a well-formed gzip body still decodes (the gate passes it on)", async () => {
    const body = gzipSync(toBinary(ListKeysRequestSchema, create(ListKeysRequestSchema, {})));
    for (const protocol of ["grpc", "grpc-web"] as const) {
      const got = await raw.call({
        path: path(A.listKeys),
        protocol,
        body: envelope(body, 1),
        headers: { "grpc-encoding": "gzip" },
      });
      assert.equal(got.code, 0, `${protocol}: ${got.message}`);
    }
  });

  test("the log line carries no body content", () => {
    const refusals = big.logs.filter((l) => l.msg === "request refused: bad input");
    assert.ok(refusals.length > 0);
    for (const l of refusals)
      assert.deepEqual(
        Object.keys(l).filter((k) => !STANDARD_FIELDS.has(k)),
        ["path", "reason"],
      );
  });
});

const STANDARD_FIELDS = new Set(["level", "time", "pid", "hostname", "msg", "service"]);

// --- Out-of-range Timestamps and unknown enum values: INVALID_ARGUMENT, consistently. ---

const FAR = 100_000_000_000_000n; // ±1e14 s: beyond year 9999, and beyond what Date can hold
const timestampCases: Case[] = [];
for (const seconds of [FAR, -FAR]) {
  const ts = { seconds };
  timestampCases.push(
    {
      name: `ListAuditEvents start_time ${seconds} s`,
      call: (c) => c.unary(A.listAuditEvents, { startTime: ts }),
      code: Code.InvalidArgument,
      says: /start_time: seconds .* is outside years 0001-9999/,
    },
    {
      name: `ListAuditEvents end_time ${seconds} s`,
      call: (c) => c.unary(A.listAuditEvents, { endTime: ts }),
      code: Code.InvalidArgument,
      says: /end_time: seconds/,
    },
    {
      name: `GetSpend start_time ${seconds} s`,
      call: (c) => c.unary(A.getSpend, { startTime: ts }),
      code: Code.InvalidArgument,
      says: /start_time: seconds/,
    },
    {
      name: `GetSpend end_time ${seconds} s`,
      call: (c) => c.unary(A.getSpend, { endTime: ts }),
      code: Code.InvalidArgument,
      says: /end_time: seconds/,
    },
    {
      name: `CreateKey expire_time ${seconds} s`,
      call: (c) => c.unary(A.createKey, { name: "far", roles: ["viewer"], expireTime: ts }),
      code: Code.InvalidArgument,
      says: /expire_time: seconds/,
    },
  );
}
timestampCases.push({
  name: "GetSpend start_time with negative nanos",
  call: (c) => c.unary(A.getSpend, { startTime: { seconds: 0n, nanos: -1 } }),
  code: Code.InvalidArgument,
  says: /start_time: nanos -1/,
});

const enumCases: Case[] = [
  {
    name: "responseFormat.type 77",
    call: (c) =>
      c.unary(M.generate, {
        workload: "chat",
        messages: [user("hi")],
        responseFormat: { type: 77 as never },
      }),
    code: Code.InvalidArgument,
    says: /response_format\.type: 77 is not a/,
  },
  {
    name: "toolChoice.mode 42",
    call: (c) =>
      c.unary(M.generate, {
        workload: "chat",
        messages: [user("hi")],
        toolChoice: { choice: { case: "mode", value: 42 as never } },
      }),
    code: Code.InvalidArgument,
    says: /tool_choice\.mode: 42 is not a/,
  },
  {
    name: "toolChoice.mode 42 on a stream",
    call: (c) =>
      c.serverStream(M.generateStream, {
        workload: "chat",
        messages: [user("hi")],
        toolChoice: { choice: { case: "mode", value: 42 as never } },
      }),
    code: Code.InvalidArgument,
    says: /tool_choice\.mode: 42 is not a/,
  },
  {
    name: "GetSpend group_by 99",
    call: (c) => c.unary(A.getSpend, { groupBy: [SpendDimension.TEAM, 99 as never] }),
    code: Code.InvalidArgument,
    says: /group_by\[1\]: 99 is not a/,
  },
];

// Client #0 speaks JSON, which cannot carry a Timestamp beyond year 9999: the binary stacks only.
for (const [index, list] of [
  [0, enumCases],
  [1, [...timestampCases, ...enumCases]],
  [2, [...timestampCases, ...enumCases]],
  [3, [...timestampCases, ...enumCases]],
] as const) {
  describe(`client #${index}: timestamps and enums`, () => {
    for (const k of list) {
      test(`${k.name} → ${Code[k.code]}`, async () => {
        const c = allClients(gw.url)[index]!;
        const before = gw.logs.length;
        await assert.rejects(k.call(c), (e: ConnectError) => {
          assert.equal(e.code, k.code, `${Code[e.code]}: ${e.message}`);
          assert.match(e.message, k.says);
          return true;
        });
        c.close();
        const logged = gw.logs
          .slice(before)
          .some(
            (l) =>
              l.msg === "request refused: bad input" ||
              (l.msg === "request" && l.status === "invalid_argument"),
          );
        assert.ok(logged, "the refusal has a log line");
      });
    }
  });
}
