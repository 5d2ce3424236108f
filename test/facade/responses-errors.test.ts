import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

// Bad input at the Responses front door: OpenAI's error object with the right status, the request
// id and the gateway's reason in headers, and the SDK's typed exception — never a 500.
let gw: TestGateway;
let client: OpenAI;

before(async () => {
  gw = await startTestGateway(
    configYaml(
      "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: echo, model: gpt-echo }\n",
      "  limits: { maxRequestBytes: 65536 }\n",
    ),
  );
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "any", maxRetries: 0 });
});
after(() => gw.stop());

type Body = OpenAI.Responses.ResponseCreateParamsNonStreaming;

async function refused(body: Record<string, unknown>): Promise<InstanceType<typeof OpenAI.BadRequestError>> {
  const error = await client.responses.create(body as unknown as Body).catch((e: unknown) => e);
  assert.ok(error instanceof OpenAI.BadRequestError, String(error));
  assert.equal(error.status, 400);
  assert.ok(error.headers.get("x-request-id"));
  assert.equal(error.headers.get("x-switchyard-reason"), "invalid_argument");
  assert.equal(error.type, "invalid_request_error");
  return error;
}

const ok = { model: "switchyard/chat", input: "hi" };

test("an unknown field: OpenAI's wording, with the field as param", async () => {
  const error = await refused({ ...ok, frobnicate: true });
  assert.equal(error.message, "400 Unknown parameter: 'frobnicate'.");
  assert.equal(error.param, "frobnicate");
});

test("inherited property names are unknown parameters too", async () => {
  for (const key of ["constructor", "toString", "hasOwnProperty"]) {
    const error = await refused({ ...ok, [key]: 1 });
    assert.equal(error.message, `400 Unknown parameter: '${key}'.`);
  }
});

test("a reasoning item whose gateway wrapping was altered is refused, naming encrypted_content", async () => {
  const error = await refused({
    ...ok,
    input: [
      { role: "user", content: "x" },
      { type: "reasoning", id: "rs_1", summary: [], encrypted_content: "sy1.bm90IGpzb24" },
      { role: "user", content: "y" },
    ],
  });
  assert.equal(error.param, "input[1].encrypted_content");
  assert.match(error.message, /was not issued by the gateway/);
});

test("a built-in tool is refused, naming tools[i].type", async () => {
  for (const type of ["web_search", "file_search", "code_interpreter", "mcp", "image_generation"]) {
    const error = await refused({
      ...ok,
      tools: [{ type: "function", name: "f", parameters: { type: "object" } }, { type }],
    });
    assert.equal(error.param, "tools[1].type");
    assert.match(error.message, new RegExp(`"${type}" tools are not supported by this gateway`));
  }
});

test("previous_response_id, unknown item types and fields inside items name their path", async () => {
  const prev = await refused({ ...ok, previous_response_id: "resp_123" });
  assert.equal(prev.param, "previous_response_id");
  assert.match(prev.message, /previous_response_id is not supported yet: send the conversation in input/);

  const item = await refused({
    ...ok,
    input: [
      { role: "user", content: "x" },
      { type: "item_reference", id: "x" },
    ],
  });
  assert.equal(item.param, "input[1].type");

  const inner = await refused({
    ...ok,
    input: [{ role: "user", content: [{ type: "input_text", text: "x", colour: "red" }] }],
  });
  assert.equal(inner.param, "input[0].content[0].colour");

  const badImage = await refused({
    ...ok,
    input: [
      {
        role: "user",
        content: [{ type: "input_image", image_url: "data:image/png;base64,@@@", detail: "auto" }],
      },
    ],
  });
  assert.equal(badImage.param, "input[0].content[0].image_url");

  const choice = await refused({ ...ok, tool_choice: { type: "function", name: "nope" } });
  assert.equal(choice.param, "tool_choice.name");

  const empty = await refused({ ...ok, input: [] });
  assert.equal(empty.param, "input");
});

test("invalid JSON and a wrong content type", async () => {
  for (const body of ["{not json", "[1, 2]", ""]) {
    const res = await fetch(`${gw.url}/v1/responses`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    assert.equal(res.status, 400, body);
    assert.ok(res.headers.get("x-request-id"));
    const { error } = (await res.json()) as { error: { type: string; message: string } };
    assert.equal(error.type, "invalid_request_error");
  }
  const res = await fetch(`${gw.url}/v1/responses`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "{}",
  });
  assert.equal(res.status, 415);
});

test("stored responses are not built yet: GET/DELETE /v1/responses/{id} is a 404; GET /v1/responses a 405", async () => {
  const missing = await client.responses.retrieve("resp_abc").catch((e: unknown) => e);
  assert.ok(missing instanceof OpenAI.NotFoundError, String(missing));
  assert.match(missing.message, /stored responses are not supported yet/);
  const deleted = await client.responses.delete("resp_abc").catch((e: unknown) => e);
  assert.ok(deleted instanceof OpenAI.NotFoundError, String(deleted));
  const get = await fetch(`${gw.url}/v1/responses`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
});

test("an unknown model is a 404 NotFoundError in OpenAI's shape; a streamed failure before output too", async () => {
  const error = await client.responses.create({ model: "nope", input: "x" }).catch((e: unknown) => e);
  assert.ok(error instanceof OpenAI.NotFoundError, String(error));
  assert.equal(error.headers.get("x-switchyard-reason"), "model_not_found");
  const streamed = await (async () => {
    for await (const _ of client.responses.stream({ model: "nope", input: "x" })) {
      // nothing arrives
    }
  })().catch((e: unknown) => e);
  assert.ok(streamed instanceof OpenAI.NotFoundError, String(streamed));
});

test("a body over server.limits.maxRequestBytes is a 413 in OpenAI's shape", async () => {
  const error = await client.responses
    .create({ model: "switchyard/chat", input: "x".repeat(70_000) })
    .catch((e: unknown) => e);
  assert.ok(error instanceof OpenAI.APIError, String(error));
  assert.equal(error.status, 413);
  assert.equal(error.headers.get("x-switchyard-reason"), "message_too_large");
});
