// Helpers for driving the Anthropic adapter against the Anthropic fake in tests: adapters, inputs, calls,
// stream collection, reasoning reassembly and the refusal a request Anthropic cannot carry fails with.
import assert from "node:assert/strict";
import type { AdapterCall, AdapterEvent, GenerateInput, ReasoningBlock } from "../../src/adapters/adapter.ts";
import { AnthropicAdapter, type AnthropicAdapterOptions } from "../../src/adapters/anthropic/index.ts";
import { Secret } from "../../src/config/secret.ts";
import { UpstreamError } from "../../src/errors/upstream-error.ts";
import type { AnthropicFake } from "./anthropic-fake.ts";

export const KEY = "sk-ant-api03-test-key";
export const MODEL = "claude-sonnet-5-5";

export function anthropicAdapter(
  fake: AnthropicFake,
  options: Partial<AnthropicAdapterOptions> = {},
): AnthropicAdapter {
  return new AnthropicAdapter({
    name: "claude",
    baseUrl: fake.url,
    apiKey: new Secret(KEY, "ANTHROPIC_API_KEY"),
    apiVersion: "2023-06-01",
    defaultMaxTokens: 4096,
    connections: 4,
    connectTimeoutMs: 2000,
    ...options,
  });
}

export function input(overrides: Partial<GenerateInput> = {}): GenerateInput {
  return {
    model: MODEL,
    messages: [{ role: "user", content: "Hello there" }],
    tools: [],
    sampling: {},
    ...overrides,
  };
}

export function call(signal: AbortSignal = new AbortController().signal): AdapterCall {
  return { signal, deadline: Date.now() + 60_000 };
}

export async function collect(events: AsyncIterable<AdapterEvent>): Promise<AdapterEvent[]> {
  const out: AdapterEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

/** The adapter's own refusal a call rejects with: a bad_request UpstreamError (fails the test otherwise). */
export async function refusal(pending: Promise<unknown>): Promise<UpstreamError> {
  const error = await pending.then(
    () => assert.fail("expected an error"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof UpstreamError, `an UpstreamError, got ${String(error)}`);
  return error;
}

export function bodyOf(fake: AnthropicFake, index = 0): Record<string, unknown> {
  return fake.requests[index]?.body as Record<string, unknown>;
}

/** Reasoning deltas folded into blocks the way a client does: text appends, other fields complete. */
export function reasoningOf(events: AdapterEvent[]): ReasoningBlock[] {
  const blocks: ReasoningBlock[] = [];
  for (const event of events) {
    if (event.type !== "reasoning") continue;
    const block = blocks[event.index] ?? { provider: event.provider, text: "" };
    blocks[event.index] = block;
    if (event.text !== undefined) block.text += event.text;
    if (event.signature !== undefined) block.signature = event.signature;
    if (event.encryptedContent !== undefined) block.encryptedContent = event.encryptedContent;
    if (event.redacted !== undefined) block.redacted = event.redacted;
  }
  return blocks;
}
