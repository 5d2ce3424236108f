// KServeAdapter against the grpc-js Triton fake: both tensor profiles, unary and streamed, metadata checks,
// health, error mapping, cut/ended streams, deadline forwarding and cancellation.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import type { ModelInferRequest } from "../../gen/inference/grpc_service_pb.ts";
import type { AdapterEvent, GenerateInput } from "../../src/adapters/adapter.ts";
import { KServeAdapter, type KServeAdapterOptions } from "../../src/adapters/kserve/index.ts";
import { decodeBytesElements, encodeBytesElements } from "../../src/adapters/kserve/tensors.ts";
import { Secret } from "../../src/config/secret.ts";
import { UpstreamError } from "../../src/errors/upstream-error.ts";
import { kindForGrpcCode } from "../../src/upstream/grpc-channel.ts";
import { type KServeFake, startKServeFake } from "../upstreams/kserve-fake.ts";

const call = (ms = 5000, signal = new AbortController().signal) => ({ signal, deadline: Date.now() + ms });

function input(model: string, overrides: Partial<GenerateInput> = {}): GenerateInput {
  return {
    model,
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Say hi" },
    ],
    tools: [],
    sampling: {},
    ...overrides,
  };
}
const PROMPT = "system: Be brief.\nuser: Say hi\nassistant:";

async function collect(events: AsyncIterable<AdapterEvent>): Promise<AdapterEvent[]> {
  const out: AdapterEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof UpstreamError, `expected UpstreamError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

/** The raw tensors of a recorded inference request, decoded by name. */
function tensors(
  req: ModelInferRequest,
): Map<string, { datatype: string; shape: number[]; raw: Uint8Array }> {
  return new Map(
    req.inputs.map((t, i) => [
      t.name,
      { datatype: t.datatype, shape: t.shape.map(Number), raw: req.rawInputContents[i] ?? new Uint8Array() },
    ]),
  );
}
const text = (raw: Uint8Array | undefined): string =>
  new TextDecoder().decode(decodeBytesElements(raw ?? new Uint8Array())[0]);
const view = (raw: Uint8Array | undefined) =>
  new DataView((raw ?? new Uint8Array(8)).buffer, raw?.byteOffset);

describe("BYTES tensor encoding", () => {
  it("prefixes each element with its 4-byte little-endian length", () => {
    const raw = encodeBytesElements(["ab", "", new Uint8Array([0, 255])]);
    assert.deepEqual([...raw], [2, 0, 0, 0, 97, 98, 0, 0, 0, 0, 2, 0, 0, 0, 0, 255]);
    assert.deepEqual(
      decodeBytesElements(raw).map((e) => [...e]),
      [[97, 98], [], [0, 255]],
    );
  });

  it("round-trips any list of byte strings", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (elements) => {
        const decoded = decodeBytesElements(encodeBytesElements(elements));
        assert.deepEqual(
          decoded.map((e) => [...e]),
          elements.map((e) => [...e]),
        );
      }),
    );
  });

  it("rejects a truncated prefix or an element that overruns the tensor", () => {
    assert.throws(() => decodeBytesElements(new Uint8Array([5, 0, 0])), /truncated BYTES length/);
    assert.throws(() => decodeBytesElements(new Uint8Array([5, 0, 0, 0, 1, 2])), /overruns/);
  });
});

describe("KServeAdapter", () => {
  let fake: KServeFake;
  let adapters: KServeAdapter[];
  const make = (options: Partial<KServeAdapterOptions> = {}): KServeAdapter => {
    const adapter = new KServeAdapter({
      name: "triton",
      address: fake.address,
      apiKey: undefined,
      profile: "vllm",
      decoupled: true,
      defaultMaxTokens: 64,
      maxMessageBytes: 4 * 1024 * 1024,
      ...options,
    });
    adapters.push(adapter);
    return adapter;
  };
  const trt = (options: Partial<KServeAdapterOptions> = {}) =>
    make({ profile: "tensorrt-llm", decoupled: false, ...options });
  const inference = () =>
    fake.calls.filter((c) => c.method === "ModelInfer" || c.method === "ModelStreamInfer");
  const lastRequest = () => inference().at(-1)?.requests[0] as ModelInferRequest;

  beforeEach(async () => {
    adapters = [];
    fake = await startKServeFake({
      models: {
        llama: { profile: "vllm" },
        "llama-old": {
          profile: "vllm",
          omitInputs: [
            "exclude_input_in_output",
            "return_finish_reason",
            "return_num_input_tokens",
            "return_num_output_tokens",
          ],
        },
        ensemble: { profile: "tensorrt-llm" },
        "ensemble-streaming": { profile: "tensorrt-llm", decoupled: true },
        "no-sampling": { profile: "vllm", omitInputs: ["sampling_parameters"] },
        "wide-tokens": { profile: "tensorrt-llm", datatypes: { max_tokens: "INT64" } },
        // The server's own strings, echoing the token it was sent: never shown.
        hostile: {
          profile: "tensorrt-llm",
          datatypes: { max_tokens: "Bearer_sk_CANARY_0001" },
          extraInputs: [{ name: "Bearer sk-CANARY-0001", datatype: "BYTES" }],
        },
        "hostile-missing": {
          profile: "vllm",
          omitInputs: ["sampling_parameters"],
          extraInputs: [{ name: "Bearer sk-CANARY-0001", datatype: "BYTES" }],
        },
        cold: { profile: "vllm", ready: false },
      },
    });
  });
  afterEach(async () => {
    await Promise.all(adapters.map((a) => a.close()));
    await fake.close();
  });

  describe("vLLM profile (decoupled: ModelStreamInfer)", () => {
    it("generates with the vLLM tensors, the empty-final-response parameter and token counts", async () => {
      fake.enqueue({ text: "Hi there friend" });
      const out = await make().generate(
        input("llama", { sampling: { maxOutputTokens: 20, temperature: 0.5, stop: ["\n"], seed: 7 } }),
        call(),
      );
      assert.equal(out.text, "Hi there friend");
      assert.equal(out.finishReason, "stop");
      assert.equal(out.model, "llama");
      assert.deepEqual(out.usage, { inputTokens: 7, outputTokens: 3, cachedInputTokens: 0 });
      const req = lastRequest();
      assert.equal(inference().at(-1)?.method, "ModelStreamInfer");
      assert.equal(req.parameters.triton_enable_empty_final_response?.parameterChoice.value, true);
      const t = tensors(req);
      assert.deepEqual(t.get("text_input")?.shape, [1]);
      assert.equal(text(t.get("text_input")?.raw), PROMPT);
      assert.deepEqual([...(t.get("stream")?.raw ?? [])], [0]);
      assert.equal(t.get("sampling_parameters")?.datatype, "BYTES");
      assert.deepEqual(JSON.parse(text(t.get("sampling_parameters")?.raw)), {
        max_tokens: 20,
        temperature: 0.5,
        stop: ["\n"],
        seed: 7,
      });
      for (const flag of ["exclude_input_in_output", "return_num_input_tokens", "return_num_output_tokens"])
        assert.deepEqual([...(t.get(flag)?.raw ?? [])], [1], flag);
    });

    it("streams incremental text, then usage that matches what the upstream served, then finish", async () => {
      fake.enqueue({ chunks: ["Hel", "lo", " you"] });
      const events = await collect(make().stream(input("llama"), call()));
      assert.deepEqual(events, [
        { type: "text", text: "Hel" },
        { type: "text", text: "lo" },
        { type: "text", text: " you" },
        { type: "usage", usage: { inputTokens: 7, outputTokens: 3, cachedInputTokens: 0 } },
        { type: "finish", reason: "stop", model: "llama" },
      ]);
      assert.equal(fake.served.outputTokens, 3);
      assert.deepEqual([...(tensors(lastRequest()).get("stream")?.raw ?? [])], [1]);
      assert.equal(inference().at(-1)?.cancelled, false);
    });

    it("reports length when the model stopped at max_tokens", async () => {
      fake.enqueue({ text: "one two three four" });
      const out = await make().generate(input("llama", { sampling: { maxOutputTokens: 2 } }), call());
      assert.equal(out.text, "one two");
      assert.equal(out.finishReason, "length");
    });

    it("works with an older backend: no optional inputs sent, echoed prompt stripped, usage left to the gateway", async () => {
      fake.enqueue({ text: "Hello back" });
      const out = await make().generate(input("llama-old"), call());
      assert.equal(out.text, "Hello back");
      assert.equal(out.usage, undefined);
      assert.deepEqual([...tensors(lastRequest()).keys()], ["text_input", "stream", "sampling_parameters"]);
    });

    it("reads outputs sent as typed bytes_contents when raw contents are absent", async () => {
      fake.enqueue({ text: "typed answer", typedContents: true });
      const events = await collect(make().stream(input("llama"), call()));
      assert.deepEqual(
        events.filter((e) => e.type === "text").map((e) => (e.type === "text" ? e.text : "")),
        ["typed", " answer"],
      );
    });
  });

  describe("TensorRT-LLM profile", () => {
    it("generates through ModelInfer with [1,1] tensors, INT32 max_tokens and FP32 sampling", async () => {
      fake.enqueue({ text: "Fine thanks" });
      const out = await trt().generate(
        input("ensemble", { sampling: { maxOutputTokens: 33, temperature: 0.25, topP: 0.5 } }),
        call(),
      );
      assert.equal(out.text, "Fine thanks"); // the echoed prompt is stripped
      assert.equal(out.usage, undefined);
      assert.equal(inference().at(-1)?.method, "ModelInfer");
      const t = tensors(lastRequest());
      assert.deepEqual([...t.keys()], ["text_input", "max_tokens", "stream", "temperature", "top_p"]);
      for (const tensor of t.values()) assert.deepEqual(tensor.shape, [1, 1]);
      assert.equal(t.get("max_tokens")?.datatype, "INT32");
      assert.equal(view(t.get("max_tokens")?.raw).getInt32(0, true), 33);
      assert.equal(view(t.get("temperature")?.raw).getFloat32(0, true), 0.25);
      assert.equal(view(t.get("top_p")?.raw).getFloat32(0, true), 0.5);
    });

    it("streams a non-decoupled model as one text event", async () => {
      fake.enqueue({ text: "all at once" });
      const events = await collect(trt().stream(input("ensemble"), call()));
      assert.deepEqual(events, [
        { type: "text", text: "all at once" },
        { type: "finish", reason: "stop", model: "ensemble" },
      ]);
    });

    it("streams a decoupled ensemble and ends on the empty final response", async () => {
      fake.enqueue({ chunks: ["a", "b"], emptyFinal: true });
      const events = await collect(trt({ decoupled: true }).stream(input("ensemble-streaming"), call()));
      assert.deepEqual(events, [
        { type: "text", text: "a" },
        { type: "text", text: "b" },
        { type: "finish", reason: "stop", model: "ensemble-streaming" },
      ]);
      const out = fake.wire.filter((w) => w.method === "ModelStreamInfer" && w.direction === "out");
      assert.equal(out.length, 3); // two texts and the empty final one
    });
  });

  describe("model metadata", () => {
    it("verify() names the backend, model and missing input", async () => {
      await assert.rejects(make().verify(call(), ["no-sampling"]), {
        message:
          'backend "triton": model "no-sampling" has no input "sampling_parameters" (profile vllm); ' +
          "inputs are: text_input, stream, exclude_input_in_output, return_finish_reason, " +
          "return_num_input_tokens, return_num_output_tokens",
      });
    });

    it("verify() names a mistyped input and a profile pointed at the wrong model", async () => {
      await assert.rejects(trt().verify(call(), ["wide-tokens"]), {
        message:
          'backend "triton": model "wide-tokens" input "max_tokens" is INT64, but profile tensorrt-llm needs INT32',
      });
      await assert.rejects(
        make().verify(call(), ["ensemble"]),
        /model "ensemble" has no input "sampling_parameters"/,
      );
      await assert.rejects(
        make().verify(call(), ["nope"]),
        /cannot read metadata of model "nope".*NOT_FOUND/,
      );
    });

    it("verify() shows only tensor names and datatypes it knows, never the server's own strings", async () => {
      await assert.rejects(trt().verify(call(), ["hostile"]), {
        message:
          'backend "triton": model "hostile" input "max_tokens" is an unknown datatype, but profile tensorrt-llm needs INT32',
      });
      await assert.rejects(make().verify(call(), ["hostile-missing"]), {
        message:
          'backend "triton": model "hostile-missing" has no input "sampling_parameters" (profile vllm); ' +
          "inputs are: text_input, stream, exclude_input_in_output, return_finish_reason, " +
          "return_num_input_tokens, return_num_output_tokens, 1 other",
      });
    });

    it("verify() passes for matching models and the metadata is read once", async () => {
      const adapter = make();
      await adapter.verify(call(), ["llama"]);
      await adapter.generate(input("llama"), call());
      await adapter.generate(input("llama"), call());
      assert.equal(fake.calls.filter((c) => c.method === "ModelMetadata").length, 1);
    });

    it("a mismatch found at call time is a protocol error and sends no inference", async () => {
      const error = await failure(make().generate(input("no-sampling"), call()));
      assert.equal(error.kind, "protocol");
      assert.match(error.message, /has no input "sampling_parameters"/);
      assert.equal(inference().length, 0);
    });
  });

  describe("health", () => {
    it("is true when the server and the models are ready, false for a cold model or a dead server", async () => {
      const adapter = make();
      assert.equal(await adapter.health(call(), ["llama", "ensemble"]), true);
      assert.equal(await adapter.health(call(), ["llama", "cold"]), false);
      assert.deepEqual(
        fake.calls.map((c) => c.method),
        ["ServerReady", "ModelReady", "ModelReady", "ServerReady", "ModelReady", "ModelReady"],
      );
      await fake.close();
      assert.equal(await adapter.health(call(), ["llama"]), false);
    });
  });

  describe("errors", () => {
    it("maps gRPC codes to kinds", () => {
      const table: [Code, string][] = [
        [Code.Unavailable, "unavailable"],
        [Code.ResourceExhausted, "overloaded"],
        [Code.DeadlineExceeded, "timeout"],
        [Code.InvalidArgument, "bad_request"],
        [Code.OutOfRange, "bad_request"],
        [Code.FailedPrecondition, "bad_request"],
        [Code.Unauthenticated, "auth"],
        [Code.PermissionDenied, "auth"],
        [Code.NotFound, "auth"],
        [Code.Internal, "unavailable"],
        [Code.Unknown, "unavailable"],
        [Code.Unimplemented, "protocol"],
        [Code.DataLoss, "protocol"],
      ];
      for (const [code, kind] of table) assert.equal(kindForGrpcCode(code), kind, Code[code]);
      assert.equal(
        kindForGrpcCode(Code.ResourceExhausted, "message size 9 is larger than configured readMaxBytes 4"),
        "protocol",
      );
    });

    it("turns statuses from the server into UpstreamErrors with the gRPC code", async () => {
      const cases: [grpc.status, string][] = [
        [grpc.status.UNAVAILABLE, "unavailable"],
        [grpc.status.INVALID_ARGUMENT, "bad_request"],
        [grpc.status.INTERNAL, "unavailable"],
        [grpc.status.DEADLINE_EXCEEDED, "timeout"],
      ];
      const adapter = trt();
      for (const [code, kind] of cases) {
        fake.enqueue({ kind: "status", code, details: "engine said no" });
        const error = await failure(adapter.generate(input("ensemble"), call()));
        assert.equal(error.kind, kind);
        assert.equal(error.status, code);
        assert.match(error.message, /^triton answered gRPC [A-Z_]+$/);
      }
    });

    it("RESOURCE_EXHAUSTED is overload, with the pushback trailer as retryAfterMs", async () => {
      fake.enqueue({
        kind: "status",
        code: grpc.status.RESOURCE_EXHAUSTED,
        details: "queue full",
        trailers: { "grpc-retry-pushback-ms": "250" },
      });
      const error = await failure(collect(make().stream(input("llama"), call())));
      assert.equal(error.kind, "overloaded");
      assert.equal(error.retryAfterMs, 250);
      assert.equal(error.failoverAllowed, true);
    });

    it("a decoupled model asked through ModelInfer is a protocol error", async () => {
      const error = await failure(make({ decoupled: false }).generate(input("llama"), call()));
      assert.equal(error.kind, "protocol");
      assert.match(error.message, /UNIMPLEMENTED/);
    });

    it("sends the key as bearer metadata and never repeats it in an auth error", async () => {
      await fake.close();
      fake = await startKServeFake({ requireApiKey: "sk-right-key" });
      const ok = await make({ apiKey: new Secret("sk-right-key", "TRITON_KEY") }).generate(
        input("llama"),
        call(),
      );
      assert.equal(ok.text, "Hello from fake");
      assert.equal(fake.calls.at(-1)?.metadata.authorization, "Bearer sk-right-key");
      const error = await failure(
        make({ apiKey: new Secret("sk-wrong-key", "TRITON_KEY") }).generate(input("llama"), call()),
      );
      assert.equal(error.kind, "auth");
      assert.equal(error.message, "triton answered gRPC UNAUTHENTICATED");
    });

    it("forwards the trace-context headers the router passes", async () => {
      const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
      await make().generate(input("llama"), { ...call(), headers: { traceparent } });
      assert.equal(inference().at(-1)?.metadata.traceparent, traceparent);
    });

    it("an error_message in the stream fails the call: invalid input is bad_request, others unavailable", async () => {
      fake.enqueue({ errorMessage: "Error generating stream: engine crashed" });
      const crashed = await failure(collect(make().stream(input("llama"), call())));
      assert.equal(crashed.kind, "unavailable");
      assert.match(crashed.message, /reported an inference error/);
      assert.doesNotMatch(crashed.message, /engine crashed/, "the server's text is not passed on");
      fake.enqueue({ errorMessage: "invalid sampling parameter top_p=7", errorAfterResponses: 1 });
      const events: AdapterEvent[] = [];
      const invalid = await failure(
        (async () => {
          for await (const event of make().stream(input("llama"), call())) events.push(event);
        })(),
      );
      assert.equal(invalid.kind, "bad_request");
      assert.equal(invalid.afterFirstToken, true);
      assert.deepEqual(events, [{ type: "text", text: "Hello" }]);
    });

    it("refuses tools and JSON response formats without calling the backend", async () => {
      const tools = await failure(make().generate(input("llama", { tools: [{ name: "f" }] }), call()));
      assert.equal(tools.kind, "bad_request");
      const json = await failure(
        make().generate(input("llama", { responseFormat: { type: "json_object" } }), call()),
      );
      assert.equal(json.kind, "bad_request");
      assert.equal(fake.calls.length, 0);
    });
  });

  describe("broken streams, deadlines and cancellation", () => {
    it("a stream cut after two responses fails as unavailable after the first token", async () => {
      fake.enqueue({ chunks: ["a", "b", "c", "d"], cutAfterResponses: 2 });
      const events: AdapterEvent[] = [];
      const error = await failure(
        (async () => {
          for await (const event of make().stream(input("llama"), call())) events.push(event);
        })(),
      );
      assert.equal(error.kind, "unavailable");
      assert.equal(error.afterFirstToken, true);
      assert.deepEqual(events, [
        { type: "text", text: "a" },
        { type: "text", text: "b" },
      ]);
      assert.equal(inference().at(-1)?.cut, true);
    });

    it("a stream that ends without the final response fails as unavailable (ended early)", async () => {
      fake.enqueue({ chunks: ["a", "b", "c"], endAfterResponses: 1 });
      const error = await failure(collect(make().stream(input("llama"), call())));
      assert.equal(error.kind, "unavailable");
      assert.equal(error.afterFirstToken, true);
      assert.match(error.message, /ended early/);
    });

    it("a reset before any response is unavailable, before the first token", async () => {
      fake.enqueue({ kind: "reset" });
      const error = await failure(collect(make().stream(input("llama"), call())));
      assert.equal(error.kind, "unavailable");
      assert.equal(error.afterFirstToken, false);
    });

    it("forwards the remaining time as grpc-timeout, and times out a hung backend", async () => {
      const adapter = make();
      await adapter.verify(call(), ["llama"]);
      fake.enqueue({ kind: "hang" });
      const error = await failure(adapter.generate(input("llama"), call(300)));
      assert.equal(error.kind, "timeout");
      const seen = inference().at(-1)?.timeoutMs;
      assert.ok(seen !== undefined && seen > 0 && seen <= 300, `grpc-timeout seen: ${seen}`);
    });

    it("aborting the call cancels the upstream stream", async () => {
      fake.enqueue({ chunks: ["a", "b", "c"], hangAfterResponses: 1 });
      const controller = new AbortController();
      const events: AdapterEvent[] = [];
      const error = await failure(
        (async () => {
          for await (const event of make().stream(input("llama"), call(5000, controller.signal))) {
            events.push(event);
            controller.abort();
          }
        })(),
      );
      assert.equal(error.kind, "timeout");
      assert.deepEqual(events, [{ type: "text", text: "a" }]);
      const index = fake.calls.findIndex((c) => c.method === "ModelStreamInfer");
      await fake.waitForCancel(index);
      assert.equal(fake.served.cancelled, 1);
    });

    it("a consumer that stops reading cancels the upstream stream", async () => {
      fake.enqueue({ chunks: ["a", "b", "c"], hangAfterResponses: 2 });
      for await (const event of make().stream(input("llama"), call())) {
        assert.deepEqual(event, { type: "text", text: "a" });
        break;
      }
      await fake.waitForCancel(fake.calls.findIndex((c) => c.method === "ModelStreamInfer"));
    });
  });
});
