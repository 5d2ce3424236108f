// /v1/models lists only what can be served: a model whose every backend is disabled (its API key
// variable unset, say) would answer 503, and the OpenAI SDK retries a 503, so it is not listed.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

let gw: TestGateway;
let client: OpenAI;

before(async () => {
  gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n" +
        '  off: { type: openai, baseUrl: "http://127.0.0.1:9/v1", apiKey: "${NOT_SET}", optional: true }\n',
      "  chat:\n    targets:\n      - { backend: off, model: gpt-4o-mini }\n      - { backend: echo, model: echo-1 }\n" +
        "  dark:\n    targets:\n      - { backend: off, model: gpt-dark, alias: dark-alias }\n" +
        "  first:\n    targets:\n      - { backend: off, model: shared-model }\n" +
        "  second:\n    targets:\n      - { backend: echo, model: shared-model }\n",
    ),
  );
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "any", maxRetries: 0 });
});
after(() => gw.stop());

test("models.list() leaves out every name no enabled backend serves, workloads included", async () => {
  const ids: string[] = [];
  for await (const model of client.models.list()) ids.push(model.id);
  assert.deepEqual(ids, ["switchyard/chat", "echo-1", "switchyard/second", "shared-model"]);
});

test("models.retrieve() finds only servable names", async () => {
  for (const id of [
    "gpt-4o-mini",
    "gpt-dark",
    "dark-alias",
    "switchyard/dark",
    "switchyard/chat/gpt-4o-mini",
  ]) {
    await assert.rejects(client.models.retrieve(id), OpenAI.NotFoundError, id);
  }
  assert.equal((await client.models.retrieve("switchyard/chat/echo-1")).id, "switchyard/chat/echo-1");
  assert.equal((await client.models.retrieve("shared-model")).id, "shared-model");
});

test("a listed model id goes to a route with an enabled backend for it, not an earlier disabled one", async () => {
  const { data, response } = await client.chat.completions
    .create({ model: "shared-model", messages: [{ role: "user", content: "hello there" }] })
    .withResponse();
  assert.equal(data.choices[0]?.message.content, "hello there");
  assert.equal(response.headers.get("x-switchyard-route"), "second");
});
