import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import type { Reason } from "../../src/errors/catalog.ts";
import { GatewayError } from "../../src/errors/gateway-error.ts";
import { renderAnthropicError } from "../../src/facade/anthropic/errors.ts";
import { configYaml, startTestGateway, type TestGateway } from "../helpers/gateway.ts";

test("catalog reasons map to Anthropic's statuses and error types", () => {
  const cases: [Reason, number, string][] = [
    ["invalid_argument", 400, "invalid_request_error"],
    ["unauthenticated", 401, "authentication_error"],
    ["permission_denied", 403, "permission_error"],
    ["model_not_found", 404, "not_found_error"],
    ["message_too_large", 413, "request_too_large"],
    ["rate_limited", 429, "rate_limit_error"],
    ["budget_exhausted", 429, "rate_limit_error"],
    ["overloaded", 529, "overloaded_error"],
    ["upstream_unavailable", 503, "api_error"],
    ["stream_interrupted", 502, "api_error"],
    ["deadline_exceeded", 504, "timeout_error"],
  ];
  for (const [reason, status, type] of cases) {
    const r = renderAnthropicError(new GatewayError(reason, "why"), "req-1");
    assert.equal(r.status, status, reason);
    assert.deepEqual(r.body, { type: "error", error: { type, message: "why" } }, reason);
    assert.equal(r.headers["x-switchyard-reason"], reason);
    assert.equal(r.headers["x-request-id"], "req-1");
  }
  const overloaded = renderAnthropicError(
    new GatewayError("overloaded", "busy", { retryAfterMs: 2500 }),
    "r",
  );
  assert.equal(overloaded.headers["retry-after-ms"], "2500");
  assert.equal(overloaded.headers["retry-after"], "3");
  assert.equal(
    renderAnthropicError(new GatewayError("upstream_misconfigured", "x"), "r").headers["x-should-retry"],
    "false",
  );
});

test("an unknown failure is a 500 api_error that shows only the request id", () => {
  const r = renderAnthropicError(new Error("secret detail sk-123"), "req-9");
  assert.equal(r.status, 500);
  assert.equal(r.body.error.type, "api_error");
  assert.ok(!JSON.stringify(r.body).includes("secret"));
  assert.match(r.body.error.message, /req-9/);
  assert.equal(r.headers["x-switchyard-reason"], "internal");
});

// A stream that fails after its first event: the route's total deadline passes while the slow
// echo backend is still answering, so the stream ends with Anthropic's `error` event.
let gw: TestGateway;
before(async () => {
  gw = await startTestGateway(
    configYaml(
      "  slow:\n    type: echo\n    chunkDelayMs: 150\n  local: { type: echo }\n",
      "  chat:\n    timeouts: { totalMs: 600 }\n    targets:\n      - { backend: slow, model: echo-1 }\n" +
        "  metered:\n    targets:\n      - { backend: local, model: echo-2 }\n",
      "  limits: { maxRequestBytes: 4096 }\n",
      "auth: { enabled: false }\nlimits:\n  rules:\n    - { scope: workload, match: metered, requestsPerMinute: 1 }\n",
    ),
  );
});
after(() => gw.stop());

test("a failure after output began ends the stream with an error event; the SDK throws it", async () => {
  const sdk = new Anthropic({ baseURL: gw.url, apiKey: "any", maxRetries: 0 });
  const stream = sdk.messages.stream({
    model: "switchyard/chat",
    max_tokens: 100,
    messages: [{ role: "user", content: "one two three four five six seven eight nine ten" }],
  });
  const texts: string[] = [];
  stream.on("text", (t) => texts.push(t));
  const error = await stream.finalMessage().catch((e: unknown) => e);
  assert.ok(error instanceof Anthropic.APIError, String(error));
  assert.deepEqual((error.error as { error: { type: string } }).error.type, "timeout_error");
  assert.ok(texts.length > 0 && texts.length < 10, `some text came first (${texts.length} pieces)`);
  const line = gw.logs.findLast((l) => l.msg === "request")!;
  assert.equal(line.protocol, "anthropic");
  assert.equal(line.operation, "generate_stream");
  assert.equal(line.status, "deadline_exceeded");
});

test("an oversized body is a 413 request_too_large; a rate limit a 429 the SDK raises as RateLimitError", async () => {
  const sdk = new Anthropic({ baseURL: gw.url, apiKey: "any", maxRetries: 0 });
  const big = await sdk.messages
    .create({
      model: "switchyard/metered",
      max_tokens: 5,
      messages: [{ role: "user", content: "x".repeat(8000) }],
    })
    .catch((e: unknown) => e);
  assert.ok(big instanceof Anthropic.APIError, String(big));
  assert.equal(big.status, 413);
  assert.equal((big.error as { error: { type: string } }).error.type, "request_too_large");

  const ask = () =>
    sdk.messages.create({
      model: "switchyard/metered",
      max_tokens: 5,
      messages: [{ role: "user", content: "hi" }],
    });
  await ask();
  const limited = await ask().catch((e: unknown) => e);
  assert.ok(limited instanceof Anthropic.RateLimitError, String(limited));
  assert.equal((limited.error as { error: { type: string } }).error.type, "rate_limit_error");
  assert.equal(limited.headers.get("x-switchyard-reason"), "rate_limited");
  assert.ok(Number(limited.headers.get("retry-after")) >= 1);
});
