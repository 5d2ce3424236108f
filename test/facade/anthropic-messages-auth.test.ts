import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { AdminService } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { mintKey } from "../../src/policy/api-key.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// The Messages front door with authentication on: x-api-key (the Anthropic SDK's and Claude Code's
// header) and Authorization: Bearer both carry a Switchyard key, checked before anything else.
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

const hello = { max_tokens: 20, messages: [{ role: "user" as const, content: "hi there" }] };

test("x-api-key carries the Switchyard key (what the SDK sends for apiKey)", async () => {
  const sdk = new Anthropic({ baseURL: gw.url, apiKey: ADMIN, maxRetries: 0 });
  const data = await sdk.messages.create({ model: "switchyard/chat", ...hello });
  assert.deepEqual(data.content, [{ type: "text", text: "hi there" }]);
  const line = gw.logs.findLast((l) => l.msg === "request")!;
  assert.equal(line.protocol, "anthropic");
  assert.equal(line.status, "ok");
  assert.ok(line.keyId, "the call is attributed to the key");
});

test("Authorization: Bearer works too (the SDK's authToken)", async () => {
  const sdk = new Anthropic({ baseURL: gw.url, apiKey: null, authToken: devKey, maxRetries: 0 });
  const data = await sdk.messages.create({ model: "switchyard/chat", ...hello });
  assert.equal(data.stop_reason, "end_turn");
});

test("no or a wrong key: 401 authentication_error first, whatever else is wrong", async () => {
  for (const sdk of [
    new Anthropic({ baseURL: gw.url, apiKey: mintKey().secret, maxRetries: 0 }),
    new Anthropic({ baseURL: gw.url, apiKey: null, authToken: `${ADMIN}x`, maxRetries: 0 }),
  ]) {
    const error = await sdk.messages
      .create({
        model: "no-such-model",
        messages: [],
      } as unknown as Anthropic.MessageCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    assert.ok(error instanceof Anthropic.AuthenticationError, String(error));
    assert.equal(error.status, 401);
    assert.equal((error.error as { error: { type: string } }).error.type, "authentication_error");
    assert.equal(error.headers.get("x-switchyard-reason"), "unauthenticated");
  }
  const none = await fetch(`${gw.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "switchyard/chat", ...hello }),
  });
  assert.equal(none.status, 401);
  assert.deepEqual(((await none.json()) as { error: { type: string } }).error.type, "authentication_error");
  const counted = await new Anthropic({ baseURL: gw.url, apiKey: mintKey().secret, maxRetries: 0 }).messages
    .countTokens({ model: "switchyard/chat", messages: hello.messages })
    .catch((e: unknown) => e);
  assert.ok(counted instanceof Anthropic.AuthenticationError);
});

test("a key scoped to one workload: 403 permission_error elsewhere, also for count_tokens", async () => {
  const sdk = new Anthropic({ baseURL: gw.url, apiKey: devKey, maxRetries: 0 });
  const denied = await sdk.messages
    .create({ model: "switchyard/secret-project", ...hello })
    .catch((e: unknown) => e);
  assert.ok(denied instanceof Anthropic.PermissionDeniedError, String(denied));
  assert.equal((denied.error as { error: { type: string } }).error.type, "permission_error");
  const count = await sdk.messages
    .countTokens({ model: "switchyard/secret-project", messages: hello.messages })
    .catch((e: unknown) => e);
  assert.ok(count instanceof Anthropic.PermissionDeniedError, String(count));
  const allowed = await sdk.messages.countTokens({ model: "switchyard/chat", messages: hello.messages });
  assert.ok(allowed.input_tokens > 0);
});

test("the key never reaches the logs", () => {
  assert.ok(!gw.logText().includes(ADMIN));
  assert.ok(!gw.logText().includes(devKey));
});

test("GET /v1/models asked by the Anthropic SDK: Anthropic's shape, only what the key may use, paged", async () => {
  const ids = async (sdk: Anthropic, limit?: number) => {
    const out: string[] = [];
    for await (const m of sdk.models.list(limit === undefined ? {} : { limit })) {
      assert.equal(m.type, "model");
      assert.equal(m.display_name, m.id);
      assert.ok(!Number.isNaN(Date.parse(m.created_at)));
      out.push(m.id);
    }
    return out;
  };
  const admin = new Anthropic({ baseURL: gw.url, apiKey: ADMIN, maxRetries: 0 });
  const all = ["switchyard/chat", "small", "switchyard/secret-project", "hidden"];
  assert.deepEqual(await ids(admin), all);
  assert.deepEqual(await ids(admin, 1), all, "pages of one follow after_id to the end");
  const dev = new Anthropic({ baseURL: gw.url, apiKey: devKey, maxRetries: 0 });
  assert.deepEqual(await ids(dev), ["switchyard/chat", "small"]);
  assert.equal((await dev.models.retrieve("small")).id, "small");
  await assert.rejects(dev.models.retrieve("hidden"), Anthropic.NotFoundError);
  // Without anthropic-version the path stays the OpenAI facade's.
  const openaiShape = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.equal(((await openaiShape.json()) as { object: string }).object, "list");
});
