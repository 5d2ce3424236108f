import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { AdminService } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { mintKey } from "../../src/policy/api-key.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// The Responses front door with authentication on: OPENAI_API_KEY carries a Switchyard key, checked
// before anything else; a key's workload scope holds here as at every other front door.
const ADMIN = mintKey().secret;
let gw: TestGateway;
let devKey: string;

before(async () => {
  gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: small }\n" +
        "  secret-project:\n    targets:\n      - { backend: echo, model: hidden }\n",
      "",
      "auth: { enabled: true, cacheTtlMs: 60000 }\n",
    ),
    { SWITCHYARD_BOOTSTRAP_KEY: ADMIN },
  );
  const admin = allClients(gw.url)[1]!;
  const { message } = await admin.unary(
    AdminService.method.createKey,
    { name: "dev", roles: ["developer"], workloads: ["chat"], models: ["*"] },
    { headers: { authorization: `Bearer ${ADMIN}` } },
  );
  admin.close();
  devKey = message.secret;
});
after(() => gw.stop());

const sdk = (apiKey: string) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0 });

test("a Switchyard key as the API key: the call is served and attributed to the key", async () => {
  const data = await sdk(devKey).responses.create({ model: "switchyard/chat", input: "hi there" });
  assert.equal(data.output_text, "hi there");
  const line = gw.logs.findLast((l) => l.msg === "request")!;
  assert.equal(line.protocol, "openai_responses");
  assert.equal(line.status, "ok");
  assert.ok(line.keyId, "the call is attributed to the key");
});

test("no or a wrong key: 401 AuthenticationError first, whatever else is wrong", async () => {
  const wrong = await sdk(mintKey().secret)
    .responses.create({ model: "no-such-model", input: [], frobnicate: 1 } as never)
    .catch((e: unknown) => e);
  assert.ok(wrong instanceof OpenAI.AuthenticationError, String(wrong));
  assert.equal(wrong.headers.get("x-switchyard-reason"), "unauthenticated");
  const none = await fetch(`${gw.url}/v1/responses`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "switchyard/chat", input: "hi" }),
  });
  assert.equal(none.status, 401);
  assert.equal(((await none.json()) as { error: { type: string } }).error.type, "authentication_error");
  const counted = await sdk(mintKey().secret)
    .responses.inputTokens.count({ model: "switchyard/chat", input: "hi" })
    .catch((e: unknown) => e);
  assert.ok(counted instanceof OpenAI.AuthenticationError, String(counted));
});

test("a key scoped to one workload: 403 PermissionDeniedError elsewhere, streamed and counted too", async () => {
  const dev = sdk(devKey);
  const denied = await dev.responses
    .create({ model: "switchyard/secret-project", input: "hi" })
    .catch((e: unknown) => e);
  assert.ok(denied instanceof OpenAI.PermissionDeniedError, String(denied));
  const streamed = await dev.responses
    .stream({ model: "switchyard/secret-project", input: "hi" })
    .finalResponse()
    .catch((e: unknown) => e);
  assert.ok(streamed instanceof OpenAI.PermissionDeniedError, String(streamed));
  const count = await dev.responses.inputTokens
    .count({ model: "switchyard/secret-project", input: "hi" })
    .catch((e: unknown) => e);
  assert.ok(count instanceof OpenAI.PermissionDeniedError, String(count));
  assert.ok(
    (await dev.responses.inputTokens.count({ model: "switchyard/chat", input: "hi" })).input_tokens > 0,
  );
});

test("the key never reaches the logs", () => {
  assert.ok(!gw.logText().includes(ADMIN));
  assert.ok(!gw.logText().includes(devKey));
});
