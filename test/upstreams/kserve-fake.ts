// A faithful, scriptable fake of a Triton / KServe v2 gRPC server (package `inference`) on a loopback port,
// built on @grpc/grpc-js (an implementation independent of our connect client) with the protobuf-es schemas
// as serializers. Models are configured with a tensor profile (vllm or tensorrt-llm); requests are validated
// the way Triton does (unknown input, datatype, shape, missing input) and answered with raw BYTES tensors.
// The generic gRPC fake plumbing (GrpcFakeBase: recording, scripts, cut, hang) lives in tei-fake.ts.
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  GRPCInferenceService,
  type InferParameter,
  type ModelInferRequest,
  type ModelInferResponse,
  ModelInferResponseSchema,
  type ModelStreamInferResponse,
  ModelStreamInferResponseSchema,
} from "../../gen/inference/grpc_service_pb.ts";
import { type EngineScript, enginePlan } from "./kserve-engine.ts";
import {
  type FaultScript,
  type GrpcFake,
  GrpcFakeBase,
  grpcStatus,
  type Outbound,
  type StatusScript,
} from "./tei-fake.ts";

export type ModelProfile = "vllm" | "tensorrt-llm";
export type FakeModel = {
  profile: ModelProfile;
  /** Default: true for vllm (the backend requires it), false for tensorrt-llm. */
  decoupled?: boolean;
  /** Inputs left out of the metadata (an older backend, or the wrong profile). */
  omitInputs?: string[];
  /** Datatype overrides in the metadata, e.g. { max_tokens: "INT64" }. */
  datatypes?: Record<string, string>;
  /** More inputs declared in the metadata (names and datatypes are the server's own strings). */
  extraInputs?: { name: string; datatype: string }[];
  ready?: boolean;
};
/** A generation. Responses carry the chunks (default: `text` split into words keeping spaces). */
export type TextScript = {
  kind?: "text";
  text?: string;
  chunks?: string[];
  /** Reported in `finish_reason` when asked (default "stop", or "length" when max_tokens cut it). */
  finishReason?: string;
  delayMs?: number;
  chunkDelayMs?: number;
  /** ModelStreamInfer: after N responses, RST the HTTP/2 stream (no final response, no status). */
  cutAfterResponses?: number;
  /** ModelStreamInfer: after N responses, send nothing more and keep the stream open. */
  hangAfterResponses?: number;
  /** ModelStreamInfer: after N responses, end the RPC with OK but without the final response. */
  endAfterResponses?: number;
  /** ModelStreamInfer: after N responses (default 0), send a response with this error_message. */
  errorMessage?: string;
  errorAfterResponses?: number;
  /** Final flag on an extra empty response (default: tensorrt-llm yes, vllm no: its last text is final). */
  emptyFinal?: boolean;
  /** Send outputs as typed `contents.bytes_contents` instead of raw_output_contents. */
  typedContents?: boolean;
};
export type Script = TextScript | EngineScript | StatusScript | FaultScript;

type Spec = { name: string; datatype: string; shape: number[] };
const VLLM_INPUTS: Spec[] = [
  { name: "text_input", datatype: "BYTES", shape: [1] },
  { name: "stream", datatype: "BOOL", shape: [1] },
  { name: "sampling_parameters", datatype: "BYTES", shape: [1] },
  { name: "exclude_input_in_output", datatype: "BOOL", shape: [1] },
  { name: "return_finish_reason", datatype: "BOOL", shape: [1] },
  { name: "return_num_input_tokens", datatype: "BOOL", shape: [1] },
  { name: "return_num_output_tokens", datatype: "BOOL", shape: [1] },
];
const VLLM_OUTPUTS: Spec[] = [
  { name: "text_output", datatype: "BYTES", shape: [-1] },
  { name: "finish_reason", datatype: "BYTES", shape: [-1] },
  { name: "num_input_tokens", datatype: "UINT32", shape: [1] },
  { name: "num_output_tokens", datatype: "UINT32", shape: [-1] },
];
const TRT_INPUTS: Spec[] = [
  { name: "text_input", datatype: "BYTES", shape: [-1, 1] },
  { name: "max_tokens", datatype: "INT32", shape: [-1, 1] },
  { name: "stream", datatype: "BOOL", shape: [-1, 1] },
  { name: "temperature", datatype: "FP32", shape: [-1, 1] },
  { name: "top_p", datatype: "FP32", shape: [-1, 1] },
];
const TRT_OUTPUTS: Spec[] = [{ name: "text_output", datatype: "BYTES", shape: [-1, -1] }];
const REQUIRED: Record<ModelProfile, string[]> = {
  vllm: ["text_input"],
  "tensorrt-llm": ["text_input", "max_tokens", "stream"],
};
const SIZES: Record<string, number> = { BOOL: 1, INT32: 4, UINT32: 4, FP32: 4, UINT64: 8, INT64: 8 };

function inputsOf(model: FakeModel): Spec[] {
  const all = model.profile === "vllm" ? VLLM_INPUTS : TRT_INPUTS;
  return all
    .filter((s) => !model.omitInputs?.includes(s.name))
    .map((s) => ({ ...s, datatype: model.datatypes?.[s.name] ?? s.datatype }))
    .concat((model.extraInputs ?? []).map((s) => ({ ...s, shape: [1] })));
}

/** What the fake decoded from one valid inference request. */
export type Decoded = { prompt: string; stream: boolean; maxTokens: number; flags: Set<string> };

/** Validates like Triton; returns the decoded request or Triton's error text. */
function decode(req: ModelInferRequest, models: Record<string, FakeModel>): Decoded | string {
  const model = models[req.modelName];
  if (!model) return `Request for unknown model: '${req.modelName}' is not found`;
  const declared = new Map(inputsOf(model).map((s) => [s.name, s]));
  const raw = req.rawInputContents;
  if (raw.length > 0 && raw.length !== req.inputs.length)
    return `expected ${req.inputs.length} raw_input_contents but got ${raw.length}`;
  const values = new Map<string, Uint8Array[] | Uint8Array>();
  for (const [i, input] of req.inputs.entries()) {
    const spec = declared.get(input.name);
    const where = `for model '${req.modelName}'`;
    if (!spec) return `unexpected inference input '${input.name}' ${where}`;
    if (spec.datatype !== input.datatype)
      return `inference input '${input.name}' data-type is '${input.datatype}', but model '${req.modelName}' expects '${spec.datatype}'`;
    const shape = input.shape.map(Number);
    const fits = shape.length === spec.shape.length && spec.shape.every((d, k) => d === -1 || d === shape[k]);
    if (!fits)
      return `unexpected shape for input '${input.name}' ${where}. Expected [${spec.shape}], got [${shape}]`;
    const count = shape.reduce((a, b) => a * b, 1);
    const bytes = raw[i] ?? new Uint8Array();
    if (input.datatype === "BYTES") {
      let elements: Uint8Array[];
      try {
        elements = unpackBytes(bytes);
      } catch {
        return `malformed BYTES tensor for input '${input.name}'`;
      }
      if (elements.length !== count)
        return `input '${input.name}' has ${elements.length} elements, shape says ${count}`;
      values.set(input.name, elements);
    } else {
      if (bytes.length !== count * (SIZES[input.datatype] ?? 0))
        return `input byte size mismatch for input '${input.name}' ${where}. Expected ${count * (SIZES[input.datatype] ?? 0)}, got ${bytes.length}`;
      values.set(input.name, bytes);
    }
  }
  for (const name of REQUIRED[model.profile])
    if (!values.has(name)) return `expected input '${name}' for model '${req.modelName}'`;
  const text = (name: string): string => {
    const v = values.get(name);
    return Array.isArray(v) && v[0] ? new TextDecoder().decode(v[0]) : "";
  };
  const bool = (name: string): boolean => {
    const v = values.get(name);
    return v instanceof Uint8Array && v[0] === 1;
  };
  const flags = new Set([...values.keys()].filter((n) => VLLM_INPUTS.some((s) => s.name === n) && bool(n)));
  let maxTokens = 16; // vLLM's default
  if (model.profile === "vllm") {
    const params = text("sampling_parameters");
    if (params) {
      const parsed = JSON.parse(params) as { max_tokens?: number };
      if (parsed.max_tokens !== undefined) maxTokens = Number(parsed.max_tokens);
    }
  } else {
    const v = values.get("max_tokens") as Uint8Array;
    maxTokens = new DataView(v.buffer, v.byteOffset, v.byteLength).getInt32(0, true);
  }
  return { prompt: text("text_input"), stream: bool("stream"), maxTokens, flags };
}

// Triton's BYTES serialization, kept independent of src/: each element is a 4-byte LE length, then the bytes.
function packBytes(elements: Uint8Array[]): Uint8Array {
  return Buffer.concat(
    elements.flatMap((e) => {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(e.length);
      return [length, e];
    }),
  );
}

function unpackBytes(raw: Uint8Array): Uint8Array[] {
  const buffer = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: Uint8Array[] = [];
  for (let at = 0; at < buffer.length; ) {
    const length = buffer.readUInt32LE(at); // throws RangeError past the end
    if (at + 4 + length > buffer.length) throw new RangeError("element overruns the tensor");
    out.push(buffer.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return out;
}

function words(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

function param(value: boolean): InferParameter {
  return { parameterChoice: { case: "boolParam", value } } as InferParameter;
}

function uint32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, true);
  return out;
}

export type Piece = { text: string; tokens: number; finish: string | undefined; final: boolean };

/** Builds one response: text_output, plus the vLLM extras the request asked for. */
function responseOf(
  req: ModelInferRequest,
  d: Decoded,
  model: FakeModel,
  piece: Piece,
  opts: { typed: boolean; stream: boolean; inputTokens: number },
): ModelInferResponse {
  const outputs: { name: string; datatype: string; shape: bigint[]; raw: Uint8Array; bytes?: Uint8Array }[] =
    [];
  const shape = model.profile === "vllm" ? [1n] : [1n, 1n];
  const text = new TextEncoder().encode(piece.text);
  outputs.push({
    name: "text_output",
    datatype: "BYTES",
    shape,
    raw: packBytes([text]),
    bytes: text,
  });
  if (d.flags.has("return_finish_reason")) {
    const reason = new TextEncoder().encode(piece.finish ?? "None");
    outputs.push({
      name: "finish_reason",
      datatype: "BYTES",
      shape: [1n],
      raw: packBytes([reason]),
    });
  }
  if (d.flags.has("return_num_input_tokens"))
    outputs.push({
      name: "num_input_tokens",
      datatype: "UINT32",
      shape: [1n],
      raw: uint32(opts.inputTokens),
    });
  if (d.flags.has("return_num_output_tokens"))
    outputs.push({ name: "num_output_tokens", datatype: "UINT32", shape: [1n], raw: uint32(piece.tokens) });
  return create(ModelInferResponseSchema, {
    modelName: req.modelName,
    modelVersion: "1",
    id: req.id,
    parameters: opts.stream ? { triton_final_response: param(piece.final) } : {},
    outputs: outputs.map((o) => ({
      name: o.name,
      datatype: o.datatype,
      shape: o.shape,
      ...(opts.typed && o.datatype === "BYTES" ? { contents: { bytesContents: [o.bytes ?? o.raw] } } : {}),
    })),
    rawOutputContents: opts.typed ? [] : outputs.map((o) => o.raw),
  });
}

/** The pieces a generation is streamed as (or the single piece of a non-streamed one). */
function plan(script: TextScript, d: Decoded, model: FakeModel): Piece[] {
  const all = script.chunks ?? words(script.text ?? "Hello from fake");
  const capped = all.slice(0, d.maxTokens);
  const finish = script.finishReason ?? (capped.length < all.length ? "length" : "stop");
  if (!d.stream || !(model.decoupled ?? model.profile === "vllm")) {
    // vLLM and TensorRT-LLM start a non-streamed answer with the prompt unless exclude_input_in_output is set.
    const prefix = d.flags.has("exclude_input_in_output") ? "" : d.prompt;
    return [{ text: prefix + capped.join(""), tokens: capped.length, finish, final: true }];
  }
  const emptyFinal = script.emptyFinal ?? model.profile === "tensorrt-llm";
  const pieces = capped.map((text, i) => ({
    text,
    tokens: 1,
    finish: i === capped.length - 1 && !emptyFinal ? finish : undefined,
    final: i === capped.length - 1 && !emptyFinal,
  }));
  if (emptyFinal || pieces.length === 0) pieces.push({ text: "", tokens: 0, finish, final: true });
  return pieces;
}

export type KServeFake = GrpcFake<Script> & { models: Record<string, FakeModel> };

export async function startKServeFake(
  opts: { models?: Record<string, FakeModel>; requireApiKey?: string } = {},
): Promise<KServeFake> {
  const models = opts.models ?? { llama: { profile: "vllm" }, ensemble: { profile: "tensorrt-llm" } };
  const base = new GrpcFakeBase<Script>(opts.requireApiKey);
  const isDecoupled = (m: FakeModel): boolean => m.decoupled ?? m.profile === "vllm";

  const handlers: grpc.UntypedServiceImplementation = {
    ServerLive: base.unary(() => ({ live: true })),
    ServerReady: base.unary(() => ({ ready: true })),
    ModelReady: base.unary((req: { name: string }) => ({
      ready: models[req.name]?.ready ?? !!models[req.name],
    })),
    ServerMetadata: base.unary(() => ({ name: "triton", version: "2.59.0", extensions: ["generate"] })),
    ModelMetadata: base.unary((req: { name: string }) => {
      const model = models[req.name];
      if (!model)
        throw grpcStatus(grpc.status.NOT_FOUND, `Request for unknown model: '${req.name}' is not found`);
      const tensor = (s: Spec) => ({ name: s.name, datatype: s.datatype, shape: s.shape.map(BigInt) });
      return {
        name: req.name,
        versions: ["1"],
        platform: model.profile === "vllm" ? "vllm" : "ensemble",
        inputs: inputsOf(model).map(tensor),
        outputs: (model.profile === "vllm" ? VLLM_OUTPUTS : TRT_OUTPUTS).map(tensor),
      };
    }),
    ModelInfer: base.scriptedUnary(async (req: ModelInferRequest, script: TextScript | EngineScript) => {
      if (script.kind === "engine")
        throw grpcStatus(grpc.status.UNIMPLEMENTED, "fake: engine scripts serve ModelStreamInfer only");
      const d = decode(req, models);
      if (typeof d === "string")
        throw grpcStatus(
          d.startsWith("Request for unknown") ? grpc.status.NOT_FOUND : grpc.status.INVALID_ARGUMENT,
          d,
        );
      const model = models[req.modelName] as FakeModel;
      if (isDecoupled(model))
        throw grpcStatus(
          grpc.status.UNIMPLEMENTED,
          "ModelInfer RPC doesn't support models with decoupled transaction policy",
        );
      const [piece] = plan(script, { ...d, stream: false }, model);
      base.served.inputTokens += words(d.prompt).length;
      base.served.outputTokens += piece?.tokens ?? 0;
      return responseOf(req, d, model, piece as Piece, {
        typed: script.typedContents === true,
        stream: false,
        inputTokens: words(d.prompt).length,
      });
    }),
    ModelStreamInfer: base.scriptedBidi(
      "request",
      async (
        req: ModelInferRequest,
        scripted: TextScript | EngineScript,
        out: Outbound<ModelStreamInferResponse>,
      ) => {
        const send = (message: Partial<ModelStreamInferResponse>) =>
          out.send(create(ModelStreamInferResponseSchema, message as never));
        const d = decode(req, models);
        if (typeof d === "string") return void (await send({ errorMessage: d }));
        const model = models[req.modelName] as FakeModel;
        if (d.stream && !isDecoupled(model))
          return void (await send({
            errorMessage: "Streaming is only supported if model is deployed using decoupled mode.",
          }));
        const enableEmpty = req.parameters.triton_enable_empty_final_response?.parameterChoice.value === true;
        let pieces: Iterable<Piece> | AsyncIterable<Piece>;
        let inputTokens: number;
        let script: TextScript;
        if (scripted.kind === "engine") {
          const run = scripted.engine({ prompt: d.prompt, maxTokens: d.maxTokens, signal: out.signal });
          pieces = enginePlan(run, scripted, d, model);
          inputTokens = run.promptTokens;
          script = scripted.chunkDelayMs === undefined ? {} : { chunkDelayMs: scripted.chunkDelayMs };
        } else {
          script = scripted;
          pieces = plan(script, d, model);
          inputTokens = words(d.prompt).length;
        }
        base.served.inputTokens += inputTokens;
        let i = -1;
        for await (const piece of pieces) {
          i += 1;
          if (script.errorMessage !== undefined && i === (script.errorAfterResponses ?? 0))
            return void (await send({ errorMessage: script.errorMessage }));
          if (i === script.cutAfterResponses) return out.cut();
          if (i === script.hangAfterResponses) return out.hang();
          if (i === script.endAfterResponses) return;
          // Triton drops an empty final response unless the client asked for it.
          if (piece.text === "" && piece.final && !enableEmpty) continue;
          if (i > 0 && !(await out.pause(script.chunkDelayMs ?? 0))) return;
          const response = responseOf(req, d, model, piece, {
            typed: script.typedContents === true,
            stream: true,
            inputTokens,
          });
          if (!(await send({ inferResponse: response }))) return;
          base.served.outputTokens += piece.tokens;
        }
      },
    ),
  };
  const fake = await base.start([[GRPCInferenceService, handlers]]);
  return Object.assign(fake, { models });
}
