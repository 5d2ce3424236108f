import assert from "node:assert/strict";
import { test } from "node:test";
import { estimatePromptTokens, Meter } from "../../src/metering/meter.ts";

test("without reported usage, the estimate counts streamed reasoning as output, and TTFT starts at it", () => {
  const meter = new Meter(10);
  meter.observe({ type: "reasoning", index: 0, provider: "anthropic", text: "a".repeat(40) }, 1000);
  meter.observe({ type: "reasoning", index: 0, provider: "anthropic", signature: "sig" }, 1001);
  meter.observe({ type: "text", text: "b".repeat(8) }, 1002);
  const usage = meter.usage();
  assert.equal(usage.accuracy, "estimated");
  assert.equal(usage.inputTokens, 10);
  assert.equal(usage.outputTokens, 12); // 48 characters at ~4 per token
  assert.equal(meter.firstTokenAt, 1000);
});

test("reported usage wins over the estimate", () => {
  const meter = new Meter(10);
  meter.observe({ type: "reasoning", index: 0, provider: "openai", text: "thinking" });
  meter.observe({
    type: "usage",
    usage: { inputTokens: 3, outputTokens: 9, cachedInputTokens: 0, reasoningTokens: 7 },
  });
  assert.deepEqual(
    [meter.usage().accuracy, meter.usage().outputTokens, meter.usage().reasoningTokens],
    ["exact", 9, 7],
  );
});

test("admission's input estimate counts media parts, erring high", () => {
  const text = { role: "user" as const, content: "look" };
  const base = estimatePromptTokens([text]);
  const withMedia = estimatePromptTokens([
    {
      ...text,
      parts: [
        { type: "text", text: "look" },
        { type: "image", source: { url: "https://example.com/a.png" } },
        { type: "audio", data: new Uint8Array(160_000), format: "mp3" }, // ~10 s
        { type: "document", source: { data: new Uint8Array(120_000), mediaType: "application/pdf" } },
        { type: "document", source: { text: "x".repeat(400) } },
      ],
    },
  ]);
  assert.equal(withMedia - base, 1_600 + 320 + 3 * 3_000 + 100);
});
