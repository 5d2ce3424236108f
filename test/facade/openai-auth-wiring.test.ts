import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { AdminService } from "../../gen/switchyard/v1/admin_service_pb.ts";
import { mintKey } from "../../src/policy/api-key.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// The facade's access-control seams as the gateway wires them (pipelineAccess): a key is needed
// before anything is revealed, and /v1/models shows only what the key may use.
const ADMIN = mintKey().secret;
let gw: TestGateway;

before(async () => {
  gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: small, alias: fast }\n      - { backend: echo, model: big }\n" +
        "  secret-project:\n    targets:\n      - { backend: echo, model: hidden }\n",
      "",
      "auth: { enabled: true, cacheTtlMs: 60000 }\n",
    ),
    { SWITCHYARD_BOOTSTRAP_KEY: ADMIN },
  );
});
after(() => gw.stop());

const sdk = (apiKey: string) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0 });
async function ids(client: OpenAI) {
  const out = [];
  for await (const model of client.models.list()) out.push(model.id);
  return out;
}

test("without a valid key: 401 first, whatever else is wrong with the request", async () => {
  const stranger = sdk(mintKey().secret);
  await assert.rejects(stranger.models.list(), OpenAI.AuthenticationError);
  await assert.rejects(
    stranger.chat.completions.create({ model: "no-such-model", messages: [] }),
    OpenAI.AuthenticationError,
  );
});

test("/v1/models lists what the key may use; the admin key sees everything", async () => {
  assert.deepEqual(await ids(sdk(ADMIN)), [
    "switchyard/chat",
    "fast",
    "small",
    "big",
    "switchyard/secret-project",
    "hidden",
  ]);
  const admin = allClients(gw.url)[1]!;
  const { message } = await admin.unary(
    AdminService.method.createKey,
    { name: "dev", roles: ["developer"], workloads: ["chat"], models: ["small"] },
    { headers: { authorization: `Bearer ${ADMIN}` } },
  );
  admin.close();
  const dev = sdk(message.secret);
  assert.deepEqual(await ids(dev), ["switchyard/chat", "small"]);
  await assert.rejects(dev.models.retrieve("hidden"), OpenAI.NotFoundError);
  const done = await dev.chat.completions.create({
    model: "switchyard/chat",
    messages: [{ role: "user", content: "hi" }],
  });
  assert.equal(done.model, "small");
  await assert.rejects(
    dev.chat.completions.create({
      model: "switchyard/secret-project",
      messages: [{ role: "user", content: "hi" }],
    }),
    OpenAI.PermissionDeniedError,
  );
});
