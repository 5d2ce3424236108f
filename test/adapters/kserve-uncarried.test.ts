// KServe refuses, before any upstream call, what a raw-text tensor profile cannot carry (media parts,
// reasoning options, logprobs), naming the field; what it may ignore (cache breakpoints, another
// provider's reasoning, tier, cache key) still generates, with the same prompt as plain text.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { ModelInferRequest } from "../../gen/inference/grpc_service_pb.ts";
import type { AdapterEvent, ChatMessage, GenerateInput } from "../../src/adapters/adapter.ts";
import { KServeAdapter } from "../../src/adapters/kserve/index.ts";
import { decodeBytesElements } from "../../src/adapters/kserve/tensors.ts";
import { UpstreamError } from "../../src/errors/upstream-error.ts";
import { type KServeFake, startKServeFake } from "../upstreams/kserve-fake.ts";

const call = () => ({ signal: new AbortController().signal, deadline: Date.now() + 5000 });
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);

function input(overrides: Partial<GenerateInput> = {}): GenerateInput {
  return {
    model: "llama",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Say hi" },
    ],
    tools: [],
    sampling: {},
    ...overrides,
  };
}

async function refusal(pending: Promise<unknown>): Promise<UpstreamError> {
  const error = await pending.then(
    () => assert.fail("expected a refusal"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof UpstreamError, `an UpstreamError, got ${String(error)}`);
  return error;
}

async function drain(events: AsyncIterable<AdapterEvent>): Promise<void> {
  for await (const _ of events) {
    // consumed
  }
}

describe("KServeAdapter: fields a raw-text profile cannot carry", () => {
  let fake: KServeFake;
  let adapter: KServeAdapter;
  beforeEach(async () => {
    fake = await startKServeFake({
      models: { llama: { profile: "vllm" }, ensemble: { profile: "tensorrt-llm" } },
    });
    adapter = new KServeAdapter({
      name: "triton-a",
      address: fake.address,
      apiKey: undefined,
      profile: "vllm",
      decoupled: true,
      defaultMaxTokens: 64,
      maxMessageBytes: 4 * 1024 * 1024,
    });
  });
  afterEach(async () => {
    await adapter.close();
    await fake.close();
  });

  const withPart = (part: NonNullable<ChatMessage["parts"]>[number]): Partial<GenerateInput> => ({
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Look", parts: [{ type: "text", text: "Look" }, part] },
    ],
  });
  const cases: [string, Partial<GenerateInput>, string][] = [
    [
      "an image",
      withPart({ type: "image", source: { url: "https://example.com/a.png" } }),
      "messages[1].parts[1]: image parts are not supported by kserve backend triton-a",
    ],
    [
      "audio",
      withPart({ type: "audio", data: PNG, format: "wav" }),
      "messages[1].parts[1]: audio parts are not supported by kserve backend triton-a",
    ],
    [
      "a document",
      withPart({ type: "document", source: { data: PNG, mediaType: "application/pdf" } }),
      "messages[1].parts[1]: document parts are not supported by kserve backend triton-a",
    ],
    [
      "reasoning options",
      { reasoning: { effort: "high", includeText: false } },
      "reasoning: reasoning options are not supported by kserve backend triton-a",
    ],
    [
      "a reasoning budget",
      { reasoning: { budgetTokens: 1024, includeText: false } },
      "reasoning: reasoning options are not supported by kserve backend triton-a",
    ],
    [
      "logprobs",
      { logprobs: { top: 2 } },
      "logprobs: log probabilities are not supported by kserve backend triton-a",
    ],
  ];
  for (const [what, overrides, message] of cases) {
    it(`refuses ${what} before calling the backend, unary and streamed`, async () => {
      const unary = await refusal(adapter.generate(input(overrides), call()));
      assert.equal(unary.kind, "bad_request", "INVALID_ARGUMENT for the caller, no failover");
      assert.equal(unary.message, message);
      const streamed = await refusal(drain(adapter.stream(input(overrides), call())));
      assert.equal(streamed.message, message);
      assert.equal(fake.calls.length, 0, "not even ModelMetadata");
    });
  }

  it("ignores what it may: cache breakpoints, another provider's reasoning, tier, cache key, metadata", async () => {
    await adapter.generate(input(), call());
    await adapter.generate(
      input({
        messages: [
          { role: "system", content: "Be brief.", cache: { ttl: "1h" } },
          {
            role: "user",
            content: "Say hi",
            parts: [
              { type: "reasoning", provider: "anthropic", text: "earlier thinking", signature: "EqQB" },
              { type: "text", text: "Say hi", cache: { ttl: "5m" } },
            ],
          },
        ],
        promptCacheKey: "k",
        serviceTier: "flex",
        endUserId: "u",
        providerMetadata: { a: "b" },
        parallelToolCalls: false,
        reasoning: { includeText: false },
      }),
      call(),
    );
    const prompts = fake.calls
      .filter((c) => c.method === "ModelStreamInfer")
      .map((c) => {
        const request = c.requests[0] as ModelInferRequest;
        const index = request.inputs.findIndex((t) => t.name === "text_input");
        return new TextDecoder().decode(
          decodeBytesElements(request.rawInputContents[index] ?? new Uint8Array())[0],
        );
      });
    assert.equal(prompts.length, 2);
    assert.equal(prompts[1], prompts[0], "the same prompt as without the ignored fields");
    assert.doesNotMatch(prompts[1] ?? "", /earlier thinking/);
  });
});
