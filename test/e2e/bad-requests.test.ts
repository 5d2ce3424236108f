import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, type ConnectError } from "@connectrpc/connect";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

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
