import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { compileConfig } from "../../src/config/compile.ts";
import { parseConfig } from "../../src/config/load.ts";
import { GatewayError } from "../../src/errors/gateway-error.ts";
import { openAIFacade } from "../../src/facade/openai/facade.ts";
import type { Pipeline } from "../../src/pipeline/pipeline.ts";
import { createLogger } from "../../src/telemetry/logger.ts";
import { RequestTelemetry } from "../../src/telemetry/request-telemetry.ts";

// The two seams access control fills: `authenticate` runs before anything else is revealed, and
// `filter` decides what /v1/models shows. Here they are stubs; the pipeline is never reached.
const yaml = `
store: { type: memory }
auth: { enabled: false }
backends:
  a: { type: echo }
routes:
  chat:
    targets: [{ backend: a, model: m-chat, alias: fast }]
  secret:
    targets: [{ backend: a, model: m-secret }]
`;
const { compiled } = compileConfig(parseConfig(yaml, "t", {}), {}, createLogger("silent"));
const logger = createLogger("silent");
const seen: { authorization: string | null; operation: string }[] = [];
const facade = openAIFacade({
  pipeline: {} as Pipeline,
  config: () => compiled,
  logger,
  telemetry: new RequestTelemetry(undefined, logger),
  maxRequestBytes: 4096,
  authenticate: async (ctx) => {
    seen.push({ authorization: ctx.headers.get("authorization"), operation: ctx.operation });
    if (ctx.headers.get("authorization") !== "Bearer good") {
      throw new GatewayError("unauthenticated", "No valid API key: send authorization: Bearer <key>");
    }
  },
  filter: () => ({ workload: (w) => w === "chat", model: (m) => m !== "m-secret" }),
});
const server = createServer((req, res) => facade(req, res));
let url = "";

before(async () => {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
after(() => {
  server.close();
});

test("a rejected key is an AuthenticationError before validation or model errors", async () => {
  const client = new OpenAI({ baseURL: url, apiKey: "bad", maxRetries: 0 });
  await assert.rejects(
    client.chat.completions.create({ model: "no-such-model", messages: [] }),
    (error: unknown) => {
      assert.ok(error instanceof OpenAI.AuthenticationError);
      assert.equal(error.code, "unauthenticated");
      assert.equal(error.type, "authentication_error");
      return true;
    },
  );
  await assert.rejects(client.embeddings.create({ model: "x", input: "y" }), OpenAI.AuthenticationError);
  await assert.rejects(client.models.list(), OpenAI.AuthenticationError);
  assert.deepEqual(
    seen.splice(0).map((s) => [s.authorization, s.operation]),
    [
      ["Bearer bad", "generate"],
      ["Bearer bad", "embed"],
      ["Bearer bad", "list_models"],
    ],
  );
});

test("the filter decides what /v1/models shows", async () => {
  const client = new OpenAI({ baseURL: url, apiKey: "good", maxRetries: 0 });
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  assert.deepEqual(ids, ["switchyard/chat", "fast", "m-chat"]);
  assert.equal((await client.models.retrieve("fast")).id, "fast");
  await assert.rejects(client.models.retrieve("switchyard/secret"), OpenAI.NotFoundError);
  await assert.rejects(client.models.retrieve("m-secret"), OpenAI.NotFoundError);
});
