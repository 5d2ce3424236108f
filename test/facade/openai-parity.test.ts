import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { mintKey } from "../../src/policy/api-key.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

const ADMIN = mintKey().secret;
let gw: TestGateway;
before(async () => {
  gw = await startTestGateway(
    `${configYaml("  echo: { type: echo }\n", "  chat:\n    targets:\n      - { backend: echo, model: echo-1 }\n", "", "auth: { enabled: true }\n")}prices:\n  echo-1: { input: 1, output: 3 }\n`,
    { SWITCHYARD_BOOTSTRAP_KEY: ADMIN },
  );
});
after(() => gw.stop());

test("a bad key raises the SDK's AuthenticationError; no key material is echoed", async () => {
  const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "sk-not-a-switchyard-key", maxRetries: 0 });
  await assert.rejects(
    sdk.chat.completions.create({ model: "switchyard/chat", messages: [{ role: "user", content: "hi" }] }),
    (e: unknown) =>
      e instanceof OpenAI.AuthenticationError && e.status === 401 && !String(e.message).includes("sk-not"),
  );
  const revoked = mintKey().secret; // well-formed but unknown
  const other = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: revoked, maxRetries: 0 });
  await assert.rejects(other.models.list(), OpenAI.AuthenticationError);
});

test("the same request via the facade and via gRPC gives identical ledger and log records but for the protocol", async () => {
  const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: ADMIN, maxRetries: 0 });
  const viaFacade = await sdk.chat.completions
    .create({
      model: "switchyard/chat",
      messages: [{ role: "user", content: "same words here" }],
      max_tokens: 50,
    })
    .withResponse();
  const facadeId = viaFacade.response.headers.get("x-request-id")!;
  const c = allClients(gw.url)[1]!;
  const viaGrpc = await c.unary(
    InferenceService.method.generate,
    {
      workload: "chat",
      messages: [{ role: Role.USER, content: [{ part: { case: "text", value: "same words here" } }] }],
      sampling: { maxOutputTokens: 50 },
    },
    { headers: { authorization: `Bearer ${ADMIN}` } },
  );
  c.close();
  assert.equal(viaFacade.data.choices[0]?.message.content, viaGrpc.message.text);

  await gw.gateway.ledger.flush();
  const a = await gw.gateway.store.ledger.get(facadeId);
  const b = await gw.gateway.store.ledger.get(viaGrpc.message.requestId);
  assert.ok(a && b);
  const comparable = (r: Record<string, unknown>) => {
    const { requestId, time, latencyMs, ttftMs, protocol, ...rest } = r;
    return rest;
  };
  assert.equal(a.protocol, "openai");
  assert.equal(b.protocol, "grpc");
  assert.deepEqual(comparable(a), comparable(b));

  const line = (id: string) => gw.logs.find((l) => l.msg === "request" && l.requestId === id)!;
  const comparableLine = (l: Record<string, unknown>) => {
    const { requestId, time, protocol, latencyMs, upstreamMs, overheadMs, ttftMs, attemptDetails, ...rest } =
      l;
    return {
      ...rest,
      attemptDetails: (attemptDetails as { durationMs: number }[]).map(({ durationMs, ...x }) => x),
    };
  };
  assert.deepEqual(comparableLine(line(facadeId)), comparableLine(line(viaGrpc.message.requestId)));
});
