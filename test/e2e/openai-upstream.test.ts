import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { Code, type ConnectError } from "@connectrpc/connect";
import { FinishReason, Role, ToolChoiceMode } from "../../gen/switchyard/v1/generation_pb.ts";
import { InferenceService } from "../../gen/switchyard/v1/inference_service_pb.ts";
import { UsageAccuracy } from "../../gen/switchyard/v1/usage_pb.ts";
import { allClients } from "../helpers/clients.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";
import { type OpenAIFake, startOpenAIFake } from "../upstreams/openai-fake.ts";
import { embeddingVector } from "../upstreams/openai-wire.ts";

const M = InferenceService.method;
const user = (text: string) => ({
  role: Role.USER,
  content: [{ part: { case: "text" as const, value: text } }],
});
const KEY = "sk-test-CANARY-4f9a0b";

let primary: OpenAIFake;
let secondary: OpenAIFake;
let gw: TestGateway;

before(async () => {
  primary = await startOpenAIFake({ requireApiKey: KEY });
  secondary = await startOpenAIFake();
  gw = await startTestGateway(
    configYaml(
      `  primary:\n    type: openai\n    baseUrl: ${primary.url}/v1\n    apiKey: \${PRIMARY_KEY}\n` +
        `  secondary:\n    type: openai\n    baseUrl: ${secondary.url}/v1\n` +
        // Same upstream, own backend state: its Retry-After cool-down must not affect other tests.
        `  limited:\n    type: openai\n    baseUrl: ${primary.url}/v1\n    apiKey: \${PRIMARY_KEY}\n`,
      `  chat:\n    targets:\n      - { backend: primary, model: gpt-4o-mini }\n      - { backend: secondary, model: backup-model }\n` +
        `  solo:\n    targets:\n      - { backend: primary, model: gpt-4o-mini }\n` +
        `  limited:\n    targets:\n      - { backend: limited, model: gpt-4o-mini }\n` +
        `  vectors:\n    operations: [embed]\n    targets:\n      - { backend: primary, model: text-embedding-3-small }\n`,
    ),
    { PRIMARY_KEY: KEY },
  );
});
after(async () => {
  await gw.stop();
  await primary.close();
  await secondary.close();
});
beforeEach(() => {
  primary.requests.length = 0;
  secondary.requests.length = 0;
});

for (const index of [0, 1, 2, 3]) {
  describe(`over client #${index}`, () => {
    const client = () => allClients(gw.url)[index]!;

    test("unary text and usage match the upstream exactly", async () => {
      primary.enqueue({
        text: "Paris is the capital.",
        usage: { prompt_tokens: 11, completion_tokens: 5, cached_tokens: 3 },
      });
      const c = client();
      const { message } = await c.unary(M.generate, {
        workload: "chat",
        messages: [user("Capital of France?")],
        sampling: { maxOutputTokens: 50, temperature: 0.5 },
      });
      assert.equal(message.text, "Paris is the capital.");
      assert.deepEqual(
        [
          message.usage?.inputTokens,
          message.usage?.outputTokens,
          message.usage?.cachedInputTokens,
          message.usage?.accuracy,
        ],
        [11, 5, 3, UsageAccuracy.EXACT],
      );
      const sent = primary.requests[0]!;
      assert.equal(sent.headers.authorization, `Bearer ${KEY}`);
      assert.deepEqual(sent.body, {
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "Capital of France?" }],
        max_tokens: 50,
        temperature: 0.5,
      });
      c.close();
    });

    test("streamed text equals the upstream's deltas, usage from the include_usage chunk", async () => {
      primary.enqueue({
        chunks: ["Hel", "lo", ", ", "world"],
        usage: { prompt_tokens: 7, completion_tokens: 4 },
      });
      const c = client();
      const { messages } = await c.serverStream(M.generateStream, {
        workload: "chat",
        messages: [user("hi")],
      });
      const deltas = messages.flatMap((m) => (m.event.case === "textDelta" ? [m.event.value.text] : []));
      assert.deepEqual(deltas, ["Hel", "lo", ", ", "world"]);
      const final = messages.at(-1)!.event;
      assert.equal(final.case, "final");
      if (final.case === "final") {
        assert.equal(final.value.usage?.inputTokens, 7);
        assert.equal(final.value.usage?.outputTokens, 4);
        assert.equal(final.value.usage?.accuracy, UsageAccuracy.EXACT);
        assert.equal(final.value.finishReason, FinishReason.STOP);
      }
      assert.deepEqual((primary.requests[0]!.body as { stream_options: unknown }).stream_options, {
        include_usage: true,
      });
      c.close();
    });

    test("client cancel mid-stream aborts the upstream request", async () => {
      primary.enqueue({ chunks: ["a", "b", "c", "d", "e", "f"], chunkDelayMs: 200 });
      const c = client();
      const abort = new AbortController();
      let seen = 0;
      const done = c.serverStream(
        M.generateStream,
        { workload: "chat", messages: [user("slow please")] },
        {
          signal: abort.signal,
          onMessage: (m) => {
            if (m.event.case === "textDelta" && ++seen === 1) abort.abort();
          },
        },
      );
      await assert.rejects(done);
      await primary.waitForAbort(0);
      assert.equal(primary.requests[0]!.aborted, true);
      c.close();
    });

    test("embeddings come back in input order with upstream usage", async () => {
      primary.enqueue({ kind: "embedding", dims: 6, usage: { prompt_tokens: 9 } });
      const c = client();
      const { message } = await c.unary(M.embed, {
        workload: "vectors",
        inputs: ["x", "y", "z"],
        dimensions: 6,
      });
      assert.equal(message.embeddings.length, 3);
      for (const [i, text] of ["x", "y", "z"].entries()) {
        const expected = embeddingVector(text, 6);
        for (const [j, v] of message.embeddings[i]!.values.entries())
          assert.ok(Math.abs(v - expected[j]!) < 1e-6);
      }
      assert.equal(message.usage?.inputTokens, 9);
      assert.equal((primary.requests[0]!.body as { dimensions: number }).dimensions, 6);
      c.close();
    });
  });
}

describe("fallback and errors", () => {
  test("a 503 from the primary falls over to the secondary before any output", async () => {
    primary.enqueue({ kind: "error", status: 503 });
    secondary.enqueue({ text: "from backup" });
    const c = allClients(gw.url)[1]!;
    const { message, trailers } = await c.unary(M.generate, { workload: "chat", messages: [user("q")] });
    assert.equal(message.text, "from backup");
    assert.equal(message.routing?.backend, "secondary");
    assert.equal(message.routing?.attempts, 2);
    assert.match(message.routing?.reason ?? "", /primary failed \(overloaded\)/);
    assert.equal(trailers.get("x-switchyard-attempts"), "2");
    c.close();
  });

  test("a stream whose primary resets before output falls over, with attempt events", async () => {
    primary.enqueue({ kind: "reset" });
    secondary.enqueue({ text: "backup stream" });
    const c = allClients(gw.url)[2]!;
    const { messages } = await c.serverStream(M.generateStream, { workload: "chat", messages: [user("q")] });
    const attempts = messages.flatMap((m) => (m.event.case === "attempt" ? [m.event.value] : []));
    assert.deepEqual(
      attempts.map((a) => [a.attempt, a.backend]),
      [
        [1, "primary"],
        [2, "secondary"],
      ],
    );
    assert.match(attempts[1]!.previousError, /network error/);
    const commit = messages.find((m) => m.event.case === "commit");
    assert.equal(commit?.event.case === "commit" && commit.event.value.backend, "secondary");
    c.close();
  });

  test("a stream cut after output began ends with UNAVAILABLE, never a silent truncation", async () => {
    primary.enqueue({ chunks: ["one ", "two ", "three"], cutAfterEvents: 2 });
    const c = allClients(gw.url)[0]!;
    const got: string[] = [];
    await assert.rejects(
      c.serverStream(
        M.generateStream,
        { workload: "chat", messages: [user("q")] },
        { onMessage: (m) => m.event.case === "textDelta" && got.push(m.event.value.text) },
      ),
      (e: ConnectError) => e.code === Code.Unavailable && /failed after output began/.test(e.message),
    );
    assert.deepEqual(got, ["one "]);
    assert.equal(secondary.requests.length, 0, "no failover after commit");
    const line = gw.logs.findLast((l) => l.msg === "request" && l.status === "stream_interrupted");
    assert.ok(line, "the request log records the interrupted stream");
    assert.equal(line.usageAccuracy, "estimated");
    c.close();
  });

  test("the caller's bad input (upstream 400) is not retried elsewhere", async () => {
    primary.enqueue({ kind: "error", status: 400 });
    const c = allClients(gw.url)[0]!;
    await assert.rejects(
      c.unary(M.generate, { workload: "chat", messages: [user("q")] }),
      (e: ConnectError) => e.code === Code.InvalidArgument,
    );
    assert.equal(secondary.requests.length, 0);
    c.close();
  });

  test("a Retry-After longer than the deadline fails fast with RESOURCE_EXHAUSTED and the delay", async () => {
    primary.enqueue({
      kind: "error",
      status: 429,
      fixture: "rate_limit_exceeded",
      headers: { "retry-after-ms": "1500" },
    });
    const c = allClients(gw.url)[0]!;
    await assert.rejects(
      c.unary(M.generate, { workload: "limited", messages: [user("q")] }, { timeoutMs: 400 }),
      (e: ConnectError) => e.code === Code.ResourceExhausted && e.metadata.get("retry-after-ms") === "1500",
    );
    c.close();
  });

  test("an upstream 401 is the gateway's misconfiguration, not the caller's auth failure, and leaks no key", async () => {
    primary.enqueue({ kind: "error", status: 401, fixture: "invalid_api_key" });
    const c = allClients(gw.url)[0]!;
    const error = await c.unary(M.generate, { workload: "solo", messages: [user("q")] }).then(
      () => assert.fail("expected an error"),
      (e: ConnectError) => e,
    );
    assert.equal(error.code, Code.Unavailable);
    assert.match(error.message, /operator must fix/);
    assert.ok(!error.message.includes("sk-"), error.message);
    assert.ok(!gw.logText().includes(KEY), "the key never reaches the logs");
    c.close();
  });

  test("tool calls stream through as deltas and reassemble", async () => {
    primary.enqueue({
      toolCalls: [{ id: "call_abc123", name: "get_weather", arguments: '{"city":"Paris"}' }],
    });
    const c = allClients(gw.url)[1]!;
    const { messages } = await c.serverStream(M.generateStream, {
      workload: "chat",
      messages: [user("weather?")],
      tools: [{ name: "get_weather", description: "Weather", parameters: { type: "object" } }],
      toolChoice: { choice: { case: "mode", value: ToolChoiceMode.AUTO } },
    });
    const deltas = messages.flatMap((m) => (m.event.case === "toolCallDelta" ? [m.event.value] : []));
    assert.equal(deltas[0]?.id, "call_abc123");
    assert.equal(deltas[0]?.name, "get_weather");
    assert.equal(deltas.map((d) => d.argumentsDelta).join(""), '{"city":"Paris"}');
    const final = messages.at(-1)!.event;
    assert.equal(final.case === "final" && final.value.finishReason, FinishReason.TOOL_CALLS);
    const body = primary.requests[0]!.body as { tools: unknown[]; tool_choice: unknown };
    assert.deepEqual(body.tools, [
      {
        type: "function",
        function: { name: "get_weather", description: "Weather", parameters: { type: "object" } },
      },
    ]);
    assert.equal(body.tool_choice, "auto");
    c.close();
  });
});

test("a model name the upstream reports is bounded before it reaches the caller, the log line or a span", async () => {
  const huge = `gpt-${"x".repeat(64 * 1024)}`;
  const c = allClients(gw.url)[1]!;
  try {
    primary.enqueue({ text: "a", model: huge });
    const unary = await c.unary(M.generate, { workload: "solo", messages: [user("hi")] });
    assert.equal(unary.message.routing?.model.length, 128);
    assert.ok(
      unary.message.routing?.model.startsWith("gpt-xxx") && unary.message.routing.model.endsWith("…"),
    );
    primary.enqueue({ text: "a b", model: huge });
    const stream = await c.serverStream(M.generateStream, { workload: "solo", messages: [user("hi")] });
    const final = stream.messages.at(-1)?.event;
    assert.equal(final?.case, "final");
    assert.equal(final.case === "final" ? final.value.routing?.model.length : 0, 128);
    assert.ok(!gw.logText().includes("x".repeat(200)), "no log line repeats the upstream's whole name");
  } finally {
    c.close();
  }
});
