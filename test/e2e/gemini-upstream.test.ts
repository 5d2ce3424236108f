import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { Code, type ConnectError } from "@connectrpc/connect";
import { FinishReason, Role } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { GEMINI_ERROR_FIXTURES } from "../upstreams/gemini-errors.ts";
import { type GeminiFake, geminiError, startGeminiFake } from "../upstreams/gemini-fake.ts";

const M = InferenceService.method;
const text = (role: Role, value: string) => ({ role, content: [{ part: { case: "text" as const, value } }] });
const KEY = "AIza-test-CANARY-0042";

let fake: GeminiFake;
let gw: TestGateway;
before(async () => {
  fake = await startGeminiFake({ requireApiKey: KEY });
  const backend = (name: string) =>
    `  ${name}:\n    type: gemini\n    baseUrl: ${fake.baseUrl}\n    apiKey: \${GEMINI_KEY}\n`;
  gw = await startTestGateway(
    configYaml(
      backend("gemini") + GEMINI_ERROR_FIXTURES.map((f) => backend(`gemini-${f}`)).join(""),
      "  chat:\n    targets:\n      - { backend: gemini, model: gemini-2.5-flash }\n" +
        "  vectors:\n    operations: [embed]\n    targets:\n      - { backend: gemini, model: gemini-embedding-001 }\n" +
        GEMINI_ERROR_FIXTURES.map(
          (f) =>
            `  strict-${f}:\n    retry: { maxAttempts: 1 }\n    targets:\n      - { backend: gemini-${f}, model: gemini-2.5-flash }\n`,
        ).join(""),
    ),
    { GEMINI_KEY: KEY },
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
    test("unary and streaming (CRLF SSE) text with exact usage", async () => {
      const c = allClients(gw.url)[index]!;
      fake.enqueue({ text: "Hallo Welt", usage: { promptTokenCount: 4, candidatesTokenCount: 2 } });
      const unary = await c.unary(M.generate, { workload: "chat", messages: [text(Role.USER, "Hi")] });
      assert.equal(unary.message.text, "Hallo Welt");
      assert.deepEqual([unary.message.usage?.inputTokens, unary.message.usage?.outputTokens], [4, 2]);

      fake.enqueue({ chunks: ["Hal", "lo"], usage: { promptTokenCount: 4, candidatesTokenCount: 2 } });
      const { messages } = await c.serverStream(M.generateStream, {
        workload: "chat",
        messages: [text(Role.USER, "Hi")],
      });
      assert.deepEqual(
        messages.flatMap((m) => (m.event.case === "textDelta" ? [m.event.value.text] : [])),
        ["Hal", "lo"],
      );
      c.close();
    });

    test("embeddings for many inputs come back in order", async () => {
      const c = allClients(gw.url)[index]!;
      fake.enqueue({ kind: "embedding", dims: 4 });
      const { message } = await c.unary(M.embed, {
        workload: "vectors",
        inputs: ["a", "b", "c"],
        dimensions: 4,
      });
      assert.equal(message.embeddings.length, 3);
      assert.ok(message.embeddings.every((e) => e.values.length === 4));
      assert.notDeepEqual(message.embeddings[0]!.values, message.embeddings[1]!.values);
      c.close();
    });
  });
}

test("function calls stream as tool-call deltas; tool results go back as functionResponse", async () => {
  const c = allClients(gw.url)[1]!;
  fake.enqueue({ functionCalls: [{ name: "weather", args: { city: "Oslo" } }] });
  const { messages } = await c.serverStream(M.generateStream, {
    workload: "chat",
    messages: [text(Role.USER, "weather in Oslo?")],
    tools: [{ name: "weather", parameters: { type: "object" } }],
  });
  const calls = messages.flatMap((m) => (m.event.case === "toolCallDelta" ? [m.event.value] : []));
  assert.equal(calls[0]?.name, "weather");
  assert.deepEqual(JSON.parse(calls.map((d) => d.argumentsDelta).join("")), { city: "Oslo" });
  const final = messages.at(-1)!.event;
  assert.equal(final.case === "final" && final.value.finishReason, FinishReason.TOOL_CALLS);

  fake.enqueue({ text: "It is sunny." });
  const id = calls[0]!.id;
  await c.unary(M.generate, {
    workload: "chat",
    messages: [
      text(Role.USER, "weather in Oslo?"),
      { role: Role.ASSISTANT, toolCalls: [{ id, name: "weather", arguments: '{"city":"Oslo"}' }] },
      { role: Role.TOOL, toolCallId: id, content: [{ part: { case: "text", value: '{"sky":"sunny"}' } }] },
    ],
    tools: [{ name: "weather", parameters: { type: "object" } }],
  });
  const sent = JSON.stringify((fake.requests.at(-1)!.body as { contents: unknown }).contents);
  assert.match(sent, /"functionCall":\{"name":"weather","args":\{"city":"Oslo"\}/);
  assert.match(sent, /"functionResponse":\{"name":"weather"/);
  c.close();
});

const EXPECTED: Record<(typeof GEMINI_ERROR_FIXTURES)[number], [Code, string]> = {
  invalid_argument: [Code.InvalidArgument, "upstream_rejected_request"],
  api_key_invalid: [Code.Unavailable, "upstream_misconfigured"],
  permission_denied: [Code.Unavailable, "upstream_misconfigured"],
  not_found: [Code.Unavailable, "upstream_misconfigured"],
  resource_exhausted: [Code.ResourceExhausted, "upstream_rate_limited"],
  internal: [Code.Unavailable, "upstream_unavailable"],
  unavailable: [Code.Unavailable, "upstream_unavailable"],
  deadline_exceeded: [Code.Unavailable, "upstream_unavailable"],
};

for (const fixture of GEMINI_ERROR_FIXTURES) {
  test(`error fixture ${fixture} → ${Code[EXPECTED[fixture][0]]} (${EXPECTED[fixture][1]})`, async () => {
    fake.enqueue(geminiError(fixture));
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
        if (fixture === "resource_exhausted") assert.equal(e.metadata.get("retry-after-ms"), "13000");
        assert.ok(!e.message.includes("AIza"), "no key material in errors");
        return true;
      },
    );
    c.close();
  });
}

test("a client cancel aborts the Gemini stream upstream", async () => {
  fake.enqueue({ chunks: ["a", "b", "c"], chunkDelayMs: 300 });
  const c = allClients(gw.url)[0]!;
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
