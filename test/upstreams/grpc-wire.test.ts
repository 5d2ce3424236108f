// Wire fidelity of our KServe v2 / Triton and TEI protos: the field numbers of the generated schemas match
// the published definitions (kserve/open-inference-protocol open_inference_grpc.proto, triton-inference-server
// /common grpc_service.proto, huggingface/text-embeddings-inference proto/tei.proto), and the bytes the fakes
// actually received and sent, walked with a tiny independent protobuf reader, carry those numbers.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create, type DescMessage, toBinary } from "@bufbuild/protobuf";
import {
  GRPCInferenceService,
  InferParameterSchema,
  InferTensorContentsSchema,
  ModelInferRequest_InferInputTensorSchema,
  ModelInferRequest_InferRequestedOutputTensorSchema,
  ModelInferRequestSchema,
  ModelInferResponse_InferOutputTensorSchema,
  ModelInferResponseSchema,
  ModelMetadataRequestSchema,
  ModelMetadataResponse_TensorMetadataSchema,
  ModelMetadataResponseSchema,
  ModelReadyRequestSchema,
  ModelStreamInferResponseSchema,
} from "../../gen/inference/grpc_service_pb.ts";
import {
  Embed,
  EmbedRequestSchema,
  EmbedResponseSchema,
  Info,
  InfoResponseSchema,
  MetadataSchema,
} from "../../gen/tei/v1/tei_pb.ts";
import { KServeAdapter } from "../../src/adapters/kserve/index.ts";
import { TeiAdapter } from "../../src/adapters/tei/index.ts";
import { type KServeFake, startKServeFake } from "./kserve-fake.ts";
import { startTeiFake, type TeiFake } from "./tei-fake.ts";

/** Published field numbers, message by message (proto field name → number). */
const PUBLISHED: [DescMessage, Record<string, number>][] = [
  [
    ModelInferRequestSchema,
    { model_name: 1, model_version: 2, id: 3, parameters: 4, inputs: 5, outputs: 6, raw_input_contents: 7 },
  ],
  [ModelInferRequest_InferInputTensorSchema, { name: 1, datatype: 2, shape: 3, parameters: 4, contents: 5 }],
  [ModelInferRequest_InferRequestedOutputTensorSchema, { name: 1, parameters: 2 }],
  [
    ModelInferResponseSchema,
    { model_name: 1, model_version: 2, id: 3, parameters: 4, outputs: 5, raw_output_contents: 6 },
  ],
  [
    ModelInferResponse_InferOutputTensorSchema,
    { name: 1, datatype: 2, shape: 3, parameters: 4, contents: 5 },
  ],
  [ModelStreamInferResponseSchema, { error_message: 1, infer_response: 2 }],
  [
    InferParameterSchema,
    { bool_param: 1, int64_param: 2, string_param: 3, double_param: 4, uint64_param: 5 },
  ],
  [
    InferTensorContentsSchema,
    {
      bool_contents: 1,
      int_contents: 2,
      int64_contents: 3,
      uint_contents: 4,
      uint64_contents: 5,
      fp32_contents: 6,
      fp64_contents: 7,
      bytes_contents: 8,
    },
  ],
  [ModelMetadataRequestSchema, { name: 1, version: 2 }],
  [ModelMetadataResponseSchema, { name: 1, versions: 2, platform: 3, inputs: 4, outputs: 5 }],
  [ModelMetadataResponse_TensorMetadataSchema, { name: 1, datatype: 2, shape: 3 }],
  [ModelReadyRequestSchema, { name: 1, version: 2 }],
  [
    EmbedRequestSchema,
    { inputs: 1, truncate: 2, normalize: 3, truncation_direction: 4, prompt_name: 5, dimensions: 6 },
  ],
  [EmbedResponseSchema, { embeddings: 1, metadata: 2 }],
  [
    MetadataSchema,
    {
      compute_chars: 1,
      compute_tokens: 2,
      total_time_ns: 3,
      tokenization_time_ns: 4,
      queue_time_ns: 5,
      inference_time_ns: 6,
    },
  ],
  [
    InfoResponseSchema,
    {
      version: 1,
      sha: 2,
      docker_label: 3,
      model_id: 4,
      model_sha: 5,
      model_dtype: 6,
      model_type: 7,
      max_concurrent_requests: 8,
      max_input_length: 9,
      max_batch_tokens: 10,
      max_batch_requests: 11,
      max_client_batch_size: 12,
      tokenization_workers: 13,
    },
  ],
];

// ---- a tiny protobuf wire reader, independent of protobuf-es ----

type Field = { number: number; wireType: number; varint?: bigint; bytes?: Uint8Array };

function readVarint(bytes: Uint8Array, at: number): [bigint, number] {
  let value = 0n;
  for (let shift = 0n; ; shift += 7n) {
    const byte = bytes[at++];
    if (byte === undefined) throw new Error("truncated varint");
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [value, at];
  }
}

function fields(bytes: Uint8Array): Field[] {
  const out: Field[] = [];
  let at = 0;
  while (at < bytes.length) {
    const [tag, next] = readVarint(bytes, at);
    at = next;
    const number = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    if (wireType === 0) {
      const [varint, after] = readVarint(bytes, at);
      out.push({ number, wireType, varint });
      at = after;
    } else if (wireType === 2) {
      const [length, after] = readVarint(bytes, at);
      out.push({ number, wireType, bytes: bytes.subarray(after, after + Number(length)) });
      at = after + Number(length);
    } else if (wireType === 1 || wireType === 5) {
      const size = wireType === 1 ? 8 : 4;
      out.push({ number, wireType, bytes: bytes.subarray(at, at + size) });
      at += size;
    } else throw new Error(`unexpected wire type ${wireType}`);
  }
  return out;
}

const field = (fs: Field[], n: number): Field[] => fs.filter((f) => f.number === n);
const str = (f: Field | undefined): string => new TextDecoder().decode(f?.bytes);
/** Map entries of field `n`: key (field 1, string) → value message fields (field 2). */
function mapOf(fs: Field[], n: number): Map<string, Field[]> {
  return new Map(
    field(fs, n).map((entry) => {
      const kv = fields(entry.bytes ?? new Uint8Array());
      return [str(field(kv, 1)[0]), fields(field(kv, 2)[0]?.bytes ?? new Uint8Array())];
    }),
  );
}

describe("published field numbers", () => {
  it("every message we use has the published numbers", () => {
    for (const [schema, expected] of PUBLISHED) {
      const actual = Object.fromEntries(schema.fields.map((f) => [f.name, f.number]));
      assert.deepEqual(actual, expected, schema.typeName);
    }
  });

  it("services and methods have the published names and streaming kinds", () => {
    assert.equal(GRPCInferenceService.typeName, "inference.GRPCInferenceService");
    assert.equal(GRPCInferenceService.method.modelStreamInfer.name, "ModelStreamInfer");
    assert.equal(GRPCInferenceService.method.modelStreamInfer.methodKind, "bidi_streaming");
    assert.equal(GRPCInferenceService.method.modelInfer.methodKind, "unary");
    assert.equal(Embed.typeName, "tei.v1.Embed");
    assert.equal(Embed.method.embedStream.methodKind, "bidi_streaming");
    assert.equal(Info.typeName, "tei.v1.Info");
  });

  it("InferParameter's oneof cases encode with their own tags", () => {
    const bytesOf = (choice: object) => [
      ...toBinary(InferParameterSchema, create(InferParameterSchema, { parameterChoice: choice as never })),
    ];
    assert.deepEqual(bytesOf({ case: "boolParam", value: true }), [0x08, 0x01]);
    assert.deepEqual(bytesOf({ case: "int64Param", value: 5n }), [0x10, 0x05]);
    assert.deepEqual(bytesOf({ case: "stringParam", value: "x" }), [0x1a, 0x01, 0x78]);
    assert.deepEqual(bytesOf({ case: "doubleParam", value: 1 }), [0x21, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
    assert.deepEqual(bytesOf({ case: "uint64Param", value: 7n }), [0x28, 0x07]);
  });
});

describe("bytes on the wire", () => {
  let kserve: KServeFake;
  let tei: TeiFake;
  const call = () => ({ signal: new AbortController().signal, deadline: Date.now() + 5000 });

  before(async () => {
    kserve = await startKServeFake();
    tei = await startTeiFake();
    const adapter = new KServeAdapter({
      name: "triton",
      address: kserve.address,
      apiKey: undefined,
      profile: "vllm",
      decoupled: true,
      defaultMaxTokens: 64,
      maxMessageBytes: 1 << 22,
    });
    kserve.enqueue({ chunks: ["Hi", " there"] });
    for await (const _ of adapter.stream(
      { model: "llama", messages: [{ role: "user", content: "yo" }], tools: [], sampling: {} },
      call(),
    )) {
      // drain
    }
    await adapter.close();
    const embedder = new TeiAdapter({
      name: "tei",
      address: tei.address,
      apiKey: undefined,
      normalize: true,
      truncate: true,
      truncationDirection: "left",
      promptName: "query",
      maxMessageBytes: 1 << 22,
    });
    await embedder.verify(call());
    await embedder.embed({ model: "bge", inputs: ["one two", "three"], dimensions: 4 }, call());
    await embedder.close();
  });
  after(async () => {
    await kserve.close();
    await tei.close();
  });
  const wire = (fake: KServeFake | TeiFake, method: string, direction: "in" | "out") =>
    fake.wire.filter((w) => w.method === method && w.direction === direction).map((w) => fields(w.bytes));

  it("ModelMetadataResponse: name 1, inputs 4 and outputs 5 as TensorMetadata {name 1, datatype 2, shape 3}", () => {
    const [response] = wire(kserve, "ModelMetadata", "out");
    assert.ok(response);
    assert.equal(str(field(response, 1)[0]), "llama");
    const firstInput = fields(field(response, 4)[0]?.bytes ?? new Uint8Array());
    assert.equal(str(field(firstInput, 1)[0]), "text_input");
    assert.equal(str(field(firstInput, 2)[0]), "BYTES");
    assert.equal(field(firstInput, 3)[0]?.wireType, 2); // packed int64
    assert.equal(str(field(fields(field(response, 5)[0]?.bytes ?? new Uint8Array()), 1)[0]), "text_output");
  });

  it("ModelInferRequest: model 1, parameters 4 (map of InferParameter), inputs 5, raw_input_contents 7", () => {
    const [request] = wire(kserve, "ModelStreamInfer", "in");
    assert.ok(request);
    assert.equal(str(field(request, 1)[0]), "llama");
    const parameter = mapOf(request, 4).get("triton_enable_empty_final_response");
    assert.deepEqual(parameter, [{ number: 1, wireType: 0, varint: 1n }]); // bool_param = true
    const inputs = field(request, 5).map((f) => fields(f.bytes ?? new Uint8Array()));
    assert.deepEqual(
      inputs.map((t) => [str(field(t, 1)[0]), str(field(t, 2)[0])]),
      [
        ["text_input", "BYTES"],
        ["stream", "BOOL"],
        ["sampling_parameters", "BYTES"],
        ["exclude_input_in_output", "BOOL"],
        ["return_finish_reason", "BOOL"],
        ["return_num_input_tokens", "BOOL"],
        ["return_num_output_tokens", "BOOL"],
      ],
    );
    assert.deepEqual([...(field(inputs[0] ?? [], 3)[0]?.bytes ?? [])], [1]); // shape [1], packed
    const raw = field(request, 7);
    assert.equal(raw.length, inputs.length);
    assert.deepEqual([...(raw[0]?.bytes?.subarray(0, 4) ?? [])], [19, 0, 0, 0]); // LE length prefix of the 19-byte prompt
    assert.equal(new TextDecoder().decode(raw[0]?.bytes?.subarray(4)), "user: yo\nassistant:");
    assert.deepEqual([...(raw[1]?.bytes ?? [])], [1]); // stream = true
  });

  it("ModelStreamInferResponse: infer_response 2 with outputs 5, raw_output_contents 6, triton_final_response", () => {
    const responses = wire(kserve, "ModelStreamInfer", "out");
    assert.equal(responses.length, 2);
    const finals = responses.map((r) => {
      assert.deepEqual(field(r, 1), []); // no error_message
      const inner = fields(field(r, 2)[0]?.bytes ?? new Uint8Array());
      const output = fields(field(inner, 5)[0]?.bytes ?? new Uint8Array());
      assert.equal(str(field(output, 1)[0]), "text_output");
      assert.equal(str(field(output, 2)[0]), "BYTES");
      assert.ok(field(inner, 6).length >= 1);
      return mapOf(inner, 4).get("triton_final_response")?.[0]?.varint ?? 0n;
    });
    assert.deepEqual(finals, [0n, 1n]);
  });

  it("tei EmbedRequest: inputs 1, truncate 2, normalize 3, truncation_direction 4, prompt_name 5, dimensions 6", () => {
    const requests = wire(tei, "EmbedStream", "in");
    assert.equal(requests.length, 2);
    assert.deepEqual(
      requests[0]?.map((f) => [f.number, f.wireType]),
      [
        [1, 2],
        [2, 0],
        [3, 0],
        [4, 0],
        [5, 2],
        [6, 0],
      ],
    );
    assert.equal(str(field(requests[0] ?? [], 1)[0]), "one two");
    assert.equal(field(requests[0] ?? [], 4)[0]?.varint, 1n); // TRUNCATION_DIRECTION_LEFT
    assert.equal(str(field(requests[0] ?? [], 5)[0]), "query");
    assert.equal(field(requests[0] ?? [], 6)[0]?.varint, 4n);
  });

  it("tei EmbedResponse: packed floats 1, metadata 2 with compute_tokens 2; Info: model_id 4, batch size 12", () => {
    const [first] = wire(tei, "EmbedStream", "out");
    assert.ok(first);
    assert.equal(field(first, 1)[0]?.bytes?.length, 4 * 4); // 4 dimensions, packed fixed32
    const metadata = fields(field(first, 2)[0]?.bytes ?? new Uint8Array());
    assert.equal(field(metadata, 2)[0]?.varint, 2n);
    const [info] = wire(tei, "Info", "out");
    assert.ok(info);
    assert.equal(str(field(info, 4)[0]), "BAAI/bge-small-en-v1.5");
    assert.equal(field(info, 12)[0]?.varint, 32n);
    assert.equal(field(info, 9)[0]?.varint, 512n);
  });
});
