// Helpers for driving an adapter against the Gemini fake in tests: inputs, calls, stream collection and
// the UpstreamError a call fails with.
import assert from "node:assert/strict";
import type { AdapterCall, AdapterEvent, GenerateInput } from "../../src/adapters/adapter.ts";
import { GeminiAdapter } from "../../src/adapters/gemini/index.ts";
import { Secret } from "../../src/config/secret.ts";
import { UpstreamError } from "../../src/errors/upstream-error.ts";
import type { GeminiFake } from "./gemini-fake.ts";

export const MODEL = "gemini-2.5-flash";

export function geminiAdapter(fake: GeminiFake, key: string, name = "gemini-test"): GeminiAdapter {
  return new GeminiAdapter({
    name,
    baseUrl: fake.baseUrl,
    apiKey: new Secret(key, "GEMINI_API_KEY"),
    connections: 4,
    connectTimeoutMs: 2_000,
  });
}

export function input(overrides: Partial<GenerateInput> = {}): GenerateInput {
  return {
    model: MODEL,
    messages: [{ role: "user", content: "Say hello" }],
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

/** Runs a stream to its end; returns the events seen before the error and the error. */
export async function failingStream(events: AsyncIterable<AdapterEvent>) {
  const seen: AdapterEvent[] = [];
  try {
    for await (const event of events) seen.push(event);
  } catch (error) {
    assert.ok(error instanceof UpstreamError, `an UpstreamError, got ${String(error)}`);
    return { seen, error };
  }
  return assert.fail("expected the stream to fail");
}

/** The UpstreamError a call rejects with (fails the test when it resolves). */
export async function upstreamError(pending: Promise<unknown>): Promise<UpstreamError> {
  const error = await pending.then(
    () => assert.fail("expected an error"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof UpstreamError, `an UpstreamError, got ${String(error)}`);
  return error;
}

export function bodyOf(fake: GeminiFake, index = 0): Record<string, unknown> {
  return fake.requests[index]?.body as Record<string, unknown>;
}
