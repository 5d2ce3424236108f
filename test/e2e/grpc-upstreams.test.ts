import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, type ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type KServeFake, startKServeFake } from "../upstreams/kserve-fake.ts";
import { startTeiFake, type TeiFake } from "../upstreams/tei-fake.ts";

// KServe v2 / Triton and TEI behind the gateway's public API: self-hosted model servers over gRPC.
const M = InferenceService.method;
const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
const TOKEN = "triton-token-CANARY-9";

let triton: KServeFake;
let tei: TeiFake;
let gw: TestGateway;
before(async () => {
  triton = await startKServeFake({
    requireApiKey: TOKEN,
    models: {
      llama: { profile: "vllm" },
      ensemble: { profile: "tensorrt-llm" },
      // Served by a TensorRT-LLM ensemble whose max_tokens is INT64: not what the profile expects.
      "wrong-types": { profile: "tensorrt-llm", datatypes: { max_tokens: "INT64" } },
    },
  });
  tei = await startTeiFake({ modelId: "BAAI/bge-small-en-v1.5", maxClientBatchSize: 2 });
  gw = await startTestGateway(
    configYaml(
      `  triton:\n    type: kserve\n    address: ${triton.address}\n    profile: vllm\n    apiKey: \${TRITON_TOKEN}\n` +
        `  trt:\n    type: kserve\n    address: ${triton.address}\n    profile: tensorrt-llm\n    apiKey: \${TRITON_TOKEN}\n` +
        `  broken:\n    type: kserve\n    address: ${triton.address}\n    profile: tensorrt-llm\n    apiKey: \${TRITON_TOKEN}\n` +
        `  tei:\n    type: tei\n    address: ${tei.address}\n` +
        "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: triton, model: llama }\n" +
        "  trt:\n    targets:\n      - { backend: trt, model: ensemble }\n" +
        "  guarded:\n    targets:\n      - { backend: broken, model: wrong-types }\n      - { backend: echo, model: e }\n" +
        "  vectors:\n    operations: [embed]\n    targets:\n      - { backend: tei, model: bge }\n" +
        "  strict:\n    retry: { maxAttempts: 1 }\n    targets:\n      - { backend: triton, model: llama }\n",
    ),
    { TRITON_TOKEN: TOKEN },
  );
});
after(async () => {
  await gw.stop();
  await triton.close();
  await tei.close();
});

for (const index of [0, 1, 2, 3]) {
  describe(`over client #${index}`, () => {
    test("vLLM profile: unary and streaming through ModelStreamInfer", async () => {
      const c = allClients(gw.url)[index]!;
      triton.enqueue({ chunks: ["Hello", " from", " Triton"] });
      const unary = await c.unary(M.generate, { workload: "chat", messages: [user("hi")] });
      assert.equal(unary.message.text, "Hello from Triton");
      assert.equal(unary.message.routing?.backend, "triton");

      triton.enqueue({ chunks: ["str", "eamed"] });
      const { messages } = await c.serverStream(M.generateStream, {
        workload: "chat",
        messages: [user("hi")],
      });
      assert.deepEqual(
        messages.flatMap((m) => (m.event.case === "textDelta" ? [m.event.value.text] : [])),
        ["str", "eamed"],
      );
      assert.equal(messages.at(-1)?.event.case, "final");
      c.close();
    });

    test("TEI: a batch larger than max_client_batch_size is split and comes back in order", async () => {
      const c = allClients(gw.url)[index]!;
      const inputs = ["one", "two", "three", "four", "five"];
      const { message } = await c.unary(M.embed, { workload: "vectors", inputs });
      assert.equal(message.embeddings.length, 5);
      inputs.forEach((text, i) => {
        const expected = tei.vectorOf(text);
        const got = message.embeddings[i]!.values;
        assert.ok(
          got.every((v, j) => Math.abs(v - expected[j]!) < 1e-6),
          `input ${i} in order`,
        );
      });
      assert.ok((message.usage?.inputTokens ?? 0) > 0, "usage from compute_tokens");
      c.close();
    });
  });
}

test("TensorRT-LLM profile: unary ModelInfer with INT32 max_tokens", async () => {
  const c = allClients(gw.url)[1]!;
  triton.enqueue({ text: "ensemble says hi" });
  const { message } = await c.unary(M.generate, {
    workload: "trt",
    messages: [user("hi")],
    sampling: { maxOutputTokens: 32 },
  });
  assert.equal(message.text, "ensemble says hi");
  c.close();
});

test("a model whose metadata does not match its profile is skipped, with the reason", async () => {
  const line = gw.logs.find((l) => l.backend === "broken" && l.level === 50);
  assert.match(String(line?.msg), /misconfigured.*"wrong-types".*max_tokens.*INT64.*INT32/);
  const c = allClients(gw.url)[0]!;
  const { message } = await c.unary(M.generate, { workload: "guarded", messages: [user("hi")] });
  assert.equal(message.routing?.backend, "echo");
  assert.match(message.routing?.reason ?? "", /skipped broken \(misconfigured: /);
  c.close();
});

test("gRPC statuses from the model server map to the documented codes; the deadline goes upstream", async () => {
  const c = allClients(gw.url)[2]!;
  triton.enqueue({ kind: "status", code: grpc.status.INVALID_ARGUMENT, details: "bad prompt" });
  await assert.rejects(
    c.unary(M.generate, { workload: "strict", messages: [user("x")] }),
    (e: ConnectError) => e.code === Code.InvalidArgument,
  );
  triton.enqueue({ kind: "status", code: grpc.status.UNAVAILABLE, details: "loading" });
  await assert.rejects(
    c.unary(M.generate, { workload: "strict", messages: [user("x")] }, { timeoutMs: 2000 }),
    (e: ConnectError) => e.code === Code.Unavailable,
  );
  const last = triton.calls.at(-1)!;
  assert.ok(
    last.timeoutMs !== undefined && last.timeoutMs <= 2000,
    `grpc-timeout forwarded: ${last.timeoutMs}`,
  );
  assert.equal(last.metadata.authorization, `Bearer ${TOKEN}`);
  assert.ok(!gw.logText().includes(TOKEN));
  c.close();
});

test("a client cancel aborts the upstream ModelStreamInfer call", async () => {
  triton.enqueue({ chunks: ["a", "b", "c", "d"], chunkDelayMs: 300 });
  const c = allClients(gw.url)[1]!;
  const abort = new AbortController();
  const before = triton.calls.length;
  await assert.rejects(
    c.serverStream(
      M.generateStream,
      { workload: "chat", messages: [user("slow")] },
      { signal: abort.signal, onMessage: (m) => m.event.case === "textDelta" && abort.abort() },
    ),
  );
  const index = triton.calls.findIndex((call, i) => i >= before && call.method === "ModelStreamInfer");
  await triton.waitForCancel(index);
  c.close();
});
