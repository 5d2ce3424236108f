// TeiAdapter against the grpc-js TEI fake: single and batch embeddings (order kept), batch splitting after
// Info, request knobs, usage, errors, auth, cut streams, deadline forwarding and cancellation.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { type EmbedRequest, TruncationDirection } from "../../gen/tei/v1/tei_pb.ts";
import { TeiAdapter, type TeiAdapterOptions } from "../../src/adapters/tei/index.ts";
import { Secret } from "../../src/config/secret.ts";
import { UpstreamError } from "../../src/errors/upstream-error.ts";
import { startTeiFake, type TeiFake, teiVector } from "../upstreams/tei-fake.ts";

const call = (ms = 5000, signal = new AbortController().signal) => ({ signal, deadline: Date.now() + ms });
const generateInput = {
  model: "m",
  messages: [{ role: "user" as const, content: "hi" }],
  tools: [],
  sampling: {},
};

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof UpstreamError, `expected UpstreamError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

describe("TeiAdapter", () => {
  let fake: TeiFake;
  let adapters: TeiAdapter[];
  const make = (options: Partial<TeiAdapterOptions> = {}): TeiAdapter => {
    const adapter = new TeiAdapter({
      name: "tei",
      address: fake.address,
      apiKey: undefined,
      normalize: true,
      truncate: false,
      truncationDirection: "right",
      promptName: undefined,
      maxMessageBytes: 4 * 1024 * 1024,
      ...options,
    });
    adapters.push(adapter);
    return adapter;
  };
  const streams = () => fake.calls.filter((c) => c.method === "EmbedStream");

  beforeEach(async () => {
    adapters = [];
    fake = await startTeiFake({ maxClientBatchSize: 2 });
  });
  afterEach(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await fake.close();
  });

  it("embeds one text through unary Embed, with TEI's token count as usage", async () => {
    const out = await make().embed({ model: "bge", inputs: ["the quick fox"] }, call());
    assert.deepEqual(
      out.vectors.map((v) => [...v]),
      [teiVector("the quick fox")],
    );
    assert.deepEqual(out.usage, { inputTokens: 3, outputTokens: 0, cachedInputTokens: 0 });
    assert.equal(out.model, "bge");
    assert.deepEqual(
      fake.calls.map((c) => c.method),
      ["Embed"],
    );
  });

  it("sends the configured knobs and the caller's dimensions", async () => {
    const adapter = make({
      normalize: false,
      truncate: true,
      truncationDirection: "left",
      promptName: "query",
    });
    const out = await adapter.embed({ model: "bge", inputs: ["a"], dimensions: 4 }, call());
    assert.equal(out.vectors[0]?.length, 4);
    assert.deepEqual([...(out.vectors[0] ?? [])], teiVector("a", 8, false).slice(0, 4));
    const req = fake.calls[0]?.requests[0] as EmbedRequest;
    assert.equal(req.inputs, "a");
    assert.equal(req.normalize, false);
    assert.equal(req.truncate, true);
    assert.equal(req.truncationDirection, TruncationDirection.LEFT);
    assert.equal(req.promptName, "query");
    assert.equal(req.dimensions, 4);
  });

  it("embeds a batch through one EmbedStream and keeps the order", async () => {
    const inputs = ["alpha", "beta gamma", "delta", "epsilon zeta eta"];
    const out = await make().embed({ model: "bge", inputs }, call());
    assert.deepEqual(
      out.vectors.map((v) => [...v]),
      inputs.map((t) => teiVector(t)),
    );
    assert.equal(streams().length, 1);
    assert.deepEqual(
      streams()[0]?.requests.map((r) => (r as EmbedRequest).inputs),
      inputs,
    );
    // Metering reconciles with what the upstream counted.
    assert.equal(out.usage?.inputTokens, 7);
    assert.equal(fake.served.inputTokens, 7);
  });

  it("after verify(), splits batches to max_client_batch_size and reports TEI's model id", async () => {
    const adapter = make();
    assert.deepEqual(await adapter.verify(call()), {
      modelId: "BAAI/bge-small-en-v1.5",
      maxClientBatchSize: 2,
      maxInputLength: 512,
    });
    const inputs = ["a", "b", "c", "d", "e"];
    const out = await adapter.embed({ model: "bge", inputs }, call());
    assert.deepEqual(
      streams().map((c) => c.requests.length),
      [2, 2, 1],
    );
    assert.deepEqual(
      out.vectors.map((v) => [...v]),
      inputs.map((t) => teiVector(t)),
    );
    assert.equal(out.model, "BAAI/bge-small-en-v1.5");
  });

  it("leaves usage undefined when TEI sends no metadata", async () => {
    fake.enqueue({ noMetadata: true });
    const out = await make().embed({ model: "bge", inputs: ["x", "y"] }, call());
    assert.equal(out.usage, undefined);
    assert.equal(out.vectors.length, 2);
  });

  it("refuses generation: embeddings only", async () => {
    const adapter = make();
    const unary = await failure(adapter.generate(generateInput, call()));
    assert.equal(unary.kind, "bad_request");
    assert.equal(unary.message, "backend tei (tei) serves embeddings only");
    const streamed = await failure(
      (async () => {
        for await (const _ of adapter.stream(generateInput, call())) assert.fail("no events");
      })(),
    );
    assert.equal(streamed.kind, "bad_request");
    assert.equal(fake.calls.length, 0);
  });

  it("names the first field it could not carry even as text when refusing generation", async () => {
    const adapter = make();
    const image = {
      ...generateInput,
      messages: [
        {
          role: "user" as const,
          content: "hi",
          parts: [
            { type: "text" as const, text: "hi" },
            { type: "image" as const, source: { url: "https://example.com/a.png" } },
          ],
        },
      ],
    };
    const unary = await failure(adapter.generate(image, call()));
    assert.equal(unary.kind, "bad_request");
    assert.equal(unary.message, "messages[0].parts[1]: image parts are not supported by tei backend tei");
    const logprobs = await failure(
      (async () => {
        for await (const _ of adapter.stream({ ...generateInput, logprobs: { top: 1 } }, call()))
          assert.fail("no events");
      })(),
    );
    assert.equal(logprobs.message, "logprobs: log probabilities are not supported by tei backend tei");
    const cached = { ...generateInput, messages: [{ role: "user" as const, content: "hi", cache: {} }] };
    assert.equal(
      (await failure(adapter.generate(cached, call()))).message,
      "backend tei (tei) serves embeddings only",
    );
    assert.equal(fake.calls.length, 0);
  });

  it("RESOURCE_EXHAUSTED (TEI's overload) is overloaded and retryable", async () => {
    fake.enqueue({
      kind: "status",
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: "Model is overloaded",
      trailers: { "retry-after": "2" },
    });
    const error = await failure(make().embed({ model: "bge", inputs: ["a"] }, call()));
    assert.equal(error.kind, "overloaded");
    assert.equal(error.retryAfterMs, 2000);
    assert.equal(error.failoverAllowed, true);
    assert.match(error.message, /RESOURCE_EXHAUSTED$/);
  });

  it("validation errors are bad_request and stream errors carry their status", async () => {
    fake.enqueue({ kind: "status", code: grpc.status.INVALID_ARGUMENT, details: "Input validation error" });
    assert.equal(
      (await failure(make().embed({ model: "bge", inputs: ["a", "b"] }, call()))).kind,
      "bad_request",
    );
    fake.enqueue({ kind: "status", code: grpc.status.UNAVAILABLE, details: "unhealthy" });
    assert.equal((await failure(make().embed({ model: "bge", inputs: ["a"] }, call()))).kind, "unavailable");
  });

  it("sends the key as bearer metadata and never repeats it in an auth error", async () => {
    await fake.close();
    fake = await startTeiFake({ requireApiKey: "tei-secret-1" });
    await make({ apiKey: new Secret("tei-secret-1", "TEI_KEY") }).embed(
      { model: "bge", inputs: ["a"] },
      call(),
    );
    assert.equal(fake.calls[0]?.metadata.authorization, "Bearer tei-secret-1");
    const error = await failure(
      make({ apiKey: new Secret("tei-wrong-2", "TEI_KEY") }).embed({ model: "bge", inputs: ["a"] }, call()),
    );
    assert.equal(error.kind, "auth");
    assert.equal(error.message, "tei answered gRPC UNAUTHENTICATED");
  });

  it("a batch stream cut midway fails as unavailable", async () => {
    fake.enqueue({ cutAfterResponses: 1 });
    const error = await failure(make().embed({ model: "bge", inputs: ["a", "b", "c"] }, call()));
    assert.equal(error.kind, "unavailable");
    assert.equal(streams()[0]?.cut, true);
  });

  it("forwards the remaining time as grpc-timeout and times out a hung stream", async () => {
    fake.enqueue({ hangAfterResponses: 1 });
    const error = await failure(make().embed({ model: "bge", inputs: ["a", "b"] }, call(300)));
    assert.equal(error.kind, "timeout");
    const seen = streams()[0]?.timeoutMs;
    assert.ok(seen !== undefined && seen > 0 && seen <= 300, `grpc-timeout seen: ${seen}`);
  });

  it("aborting the call cancels the upstream call", async () => {
    fake.enqueue({ kind: "hang" });
    const controller = new AbortController();
    const pending = failure(make().embed({ model: "bge", inputs: ["a"] }, call(5000, controller.signal)));
    await fake.waitForCalls(1);
    controller.abort();
    assert.equal((await pending).kind, "timeout");
    await fake.waitForCancel(0);
    assert.equal(fake.served.cancelled, 1);
  });

  it("health is true while Info answers, false once the server is gone", async () => {
    const adapter = make();
    assert.equal(await adapter.health(call()), true);
    await fake.close();
    assert.equal(await adapter.health(call()), false);
  });
});
