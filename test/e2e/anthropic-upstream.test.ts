import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { Code, type ConnectError } from "@connectrpc/connect";
import { FinishReason, Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { UsageAccuracy } from "../../gen/switchyard/v1/usage_pb.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { ANTHROPIC_ERROR_FIXTURES, anthropicError } from "../upstreams/anthropic-errors.ts";
import { type AnthropicFake, startAnthropicFake } from "../upstreams/anthropic-fake.ts";

const M = InferenceService.method;
const text = (role: Role, value: string) => ({ role, content: [{ part: { case: "text" as const, value } }] });
const KEY = "sk-ant-test-CANARY-77";

let fake: AnthropicFake;
let gw: TestGateway;
before(async () => {
  fake = await startAnthropicFake({ requireApiKey: KEY });
  gw = await startTestGateway(
    configYaml(
      `  claude:\n    type: anthropic\n    baseUrl: ${fake.url}\n    apiKey: \${ANTHROPIC_KEY}\n` +
        // One backend per error fixture (same upstream), so one case's cool-down or breaker state
        // cannot leak into the next.
        ANTHROPIC_ERROR_FIXTURES.map(
          (f) =>
            `  claude-${f}:\n    type: anthropic\n    baseUrl: ${fake.url}\n    apiKey: \${ANTHROPIC_KEY}\n`,
        ).join("") +
        "  echo: { type: echo }\n",
      "  chat:\n    targets:\n      - { backend: claude, model: claude-sonnet-4-5 }\n      - { backend: echo, model: e }\n" +
        ANTHROPIC_ERROR_FIXTURES.map(
          (f) =>
            `  strict-${f}:\n    retry: { maxAttempts: 1 }\n    targets:\n      - { backend: claude-${f}, model: claude-sonnet-4-5 }\n`,
        ).join(""),
    ),
    { ANTHROPIC_KEY: KEY },
  );
});
after(async () => {
  await gw.stop();
  await fake.close();
});
beforeEach(() => {
  fake.requests.length = 0;
});

for (const index of [0, 1, 2, 3]) {
  describe(`over client #${index}`, () => {
    test("unary: system prompt split out, text and exact usage including cache tokens", async () => {
      fake.enqueue({
        text: "Bonjour!",
        usage: {
          input_tokens: 20,
          output_tokens: 3,
          cache_read_input_tokens: 8,
          cache_creation_input_tokens: 2,
        },
      });
      const c = allClients(gw.url)[index]!;
      const { message } = await c.unary(M.generate, {
        workload: "chat",
        messages: [text(Role.SYSTEM, "Answer in French."), text(Role.USER, "Hello")],
        sampling: { maxOutputTokens: 64 },
      });
      assert.equal(message.text, "Bonjour!");
      assert.equal(message.routing?.backend, "claude");
      // Anthropic reports cache reads/writes apart from input_tokens; the gateway's input counts all of them.
      assert.deepEqual(
        [message.usage?.inputTokens, message.usage?.cachedInputTokens, message.usage?.outputTokens],
        [30, 8, 3],
      );
      assert.equal(message.usage?.accuracy, UsageAccuracy.EXACT);
      const body = fake.requests[0]!.body as { system: unknown; max_tokens: number; messages: unknown[] };
      assert.equal(body.max_tokens, 64);
      assert.ok(JSON.stringify(body.system).includes("Answer in French."));
      assert.deepEqual(body.messages, [{ role: "user", content: "Hello" }]);
      assert.equal(fake.requests[0]!.headers["x-api-key"], KEY);
      c.close();
    });

    test("streaming: named SSE events become text deltas and a final event with usage", async () => {
      fake.enqueue({ chunks: ["Hi", " there"], usage: { input_tokens: 5, output_tokens: 2 } });
      const c = allClients(gw.url)[index]!;
      const { messages } = await c.serverStream(M.generateStream, {
        workload: "chat",
        messages: [text(Role.USER, "x")],
      });
      const deltas = messages.flatMap((m) => (m.event.case === "textDelta" ? [m.event.value.text] : []));
      assert.deepEqual(deltas, ["Hi", " there"]);
      const final = messages.at(-1)!.event;
      assert.equal(final.case === "final" && final.value.usage?.outputTokens, 2);
      c.close();
    });
  });
}

test("tool round trip: tool_use streams as tool-call deltas; a tool result goes back as tool_result", async () => {
  fake.enqueue({ toolUses: [{ id: "toolu_01", name: "lookup", input: { q: "paris" } }] });
  const c = allClients(gw.url)[1]!;
  const { messages } = await c.serverStream(M.generateStream, {
    workload: "chat",
    messages: [text(Role.USER, "find paris")],
    tools: [{ name: "lookup", parameters: { type: "object" } }],
  });
  const deltas = messages.flatMap((m) => (m.event.case === "toolCallDelta" ? [m.event.value] : []));
  assert.equal(deltas[0]?.id, "toolu_01");
  assert.equal(deltas[0]?.name, "lookup");
  assert.deepEqual(JSON.parse(deltas.map((d) => d.argumentsDelta).join("")), { q: "paris" });
  const final = messages.at(-1)!.event;
  assert.equal(final.case === "final" && final.value.finishReason, FinishReason.TOOL_CALLS);

  fake.enqueue({ text: "Paris is in France." });
  const { message } = await c.unary(M.generate, {
    workload: "chat",
    messages: [
      text(Role.USER, "find paris"),
      { role: Role.ASSISTANT, toolCalls: [{ id: "toolu_01", name: "lookup", arguments: '{"q":"paris"}' }] },
      { role: Role.TOOL, toolCallId: "toolu_01", content: [{ part: { case: "text", value: "France" } }] },
    ],
    tools: [{ name: "lookup", parameters: { type: "object" } }],
  });
  assert.equal(message.text, "Paris is in France.");
  const sent = (fake.requests.at(-1)!.body as { messages: { role: string; content: unknown }[] }).messages;
  assert.equal(sent[1]!.role, "assistant");
  assert.deepEqual(sent[1]!.content, [
    { type: "tool_use", id: "toolu_01", name: "lookup", input: { q: "paris" } },
  ]);
  assert.equal(sent[2]!.role, "user");
  assert.match(JSON.stringify(sent[2]!.content), /"type":"tool_result","tool_use_id":"toolu_01"/);
  c.close();
});

test("a 529 overloaded_error falls over to the next target", async () => {
  fake.enqueue({ kind: "error", status: 529 });
  const c = allClients(gw.url)[0]!;
  const { message } = await c.unary(M.generate, { workload: "chat", messages: [text(Role.USER, "over")] });
  assert.equal(message.routing?.backend, "echo");
  assert.equal(message.routing?.attemptDetails[0]?.errorKind, "overloaded");
  c.close();
});

const EXPECTED: Record<(typeof ANTHROPIC_ERROR_FIXTURES)[number], [Code, string]> = {
  invalid_request_error: [Code.InvalidArgument, "upstream_rejected_request"],
  authentication_error: [Code.Unavailable, "upstream_misconfigured"],
  permission_error: [Code.Unavailable, "upstream_misconfigured"],
  not_found_error: [Code.Unavailable, "upstream_misconfigured"],
  request_too_large: [Code.InvalidArgument, "upstream_rejected_request"],
  rate_limit_error: [Code.ResourceExhausted, "upstream_rate_limited"],
  api_error: [Code.Unavailable, "upstream_unavailable"],
  overloaded_error: [Code.Unavailable, "upstream_unavailable"],
};

for (const fixture of ANTHROPIC_ERROR_FIXTURES) {
  test(`error fixture ${fixture} → ${Code[EXPECTED[fixture][0]]} (${EXPECTED[fixture][1]})`, async () => {
    fake.enqueue(anthropicError(fixture));
    const c = allClients(gw.url)[2]!;
    await assert.rejects(
      c.unary(
        M.generate,
        { workload: `strict-${fixture}`, messages: [text(Role.USER, "x")] },
        { timeoutMs: 3000 },
      ),
      (e: ConnectError) => {
        assert.equal(e.code, EXPECTED[fixture][0], e.message);
        assert.equal(e.metadata.get("x-switchyard-reason"), EXPECTED[fixture][1]);
        assert.ok(!e.message.includes(KEY));
        return true;
      },
    );
    c.close();
  });
}

test("a client cancel aborts the Anthropic stream upstream", async () => {
  fake.enqueue({ chunks: ["a", "b", "c", "d"], chunkDelayMs: 300 });
  const c = allClients(gw.url)[1]!;
  const abort = new AbortController();
  await assert.rejects(
    c.serverStream(
      M.generateStream,
      { workload: "chat", messages: [text(Role.USER, "slow")] },
      { signal: abort.signal, onMessage: (m) => m.event.case === "textDelta" && abort.abort() },
    ),
  );
  await fake.waitForAbort(0);
  assert.ok(!gw.logText().includes(KEY));
  c.close();
});
