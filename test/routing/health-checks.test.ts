import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";

const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
let vllm: OpenAIFake;
let gw: TestGateway;

before(async () => {
  vllm = await startOpenAIFake();
  vllm.setHealth(503);
  gw = await startTestGateway(
    configYaml(
      `  vllm:\n    type: openai\n    baseUrl: ${vllm.url}/v1\n    healthCheck: { path: /health, intervalMs: 100, timeoutMs: 500 }\n` +
        "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: vllm, model: llama }\n      - { backend: echo, model: e }\n",
    ),
  );
});
after(async () => {
  await gw.stop();
  await vllm.close();
});

/** Resolves when the log has a line matching `predicate` (the checker logs every transition). */
const logged = (predicate: (l: Record<string, unknown>) => boolean) =>
  new Promise<void>((resolve) => {
    const poll = () => (gw.logs.some(predicate) ? resolve() : setImmediate(poll));
    poll();
  });

test("an unhealthy self-hosted backend is skipped with the reason, and used again once healthy", async () => {
  await logged((l) => l.backend === "vllm" && l.healthy === false);
  const c = allClients(gw.url)[1]!;
  const before = await c.unary(InferenceService.method.generate, {
    workload: "chat",
    messages: [user("hi")],
  });
  assert.equal(before.message.routing?.backend, "echo");
  assert.match(
    before.message.routing?.reason ?? "",
    /skipped vllm \(unhealthy: failed its active health check\)/,
  );
  const inference = () => vllm.requests.filter((r) => r.path !== "/health");
  assert.equal(inference().length, 0, "no request went to the unhealthy backend");

  vllm.setHealth(200);
  await logged((l) => l.backend === "vllm" && l.healthy === true);
  vllm.enqueue({ text: "from vllm" });
  const after = await c.unary(InferenceService.method.generate, { workload: "chat", messages: [user("hi")] });
  assert.equal(after.message.routing?.backend, "vllm");
  assert.equal(after.message.text, "from vllm");
  c.close();
});

test("the request log line carries the routing decision", () => {
  const line = gw.logs.findLast((l) => l.msg === "request" && l.backend === "echo");
  assert.ok(line);
  assert.equal(line.route, "chat");
  assert.equal(line.strategy, "priority");
  assert.deepEqual(line.skipped, [
    { backend: "vllm", model: "llama", reason: "unhealthy: failed its active health check" },
  ]);
});
