import { create, toBinary } from "@bufbuild/protobuf";
import { ModelInferRequestSchema } from "../../gen/inference/grpc_service_pb.ts";
import { Role } from "../../gen/switchyard/v1/generation_pb.ts";
import {
  GenerateRequestSchema,
  GenerateStreamRequestSchema,
} from "../../gen/switchyard/v1/inference_service_pb.ts";
import type { GrpcTarget, HttpTarget, Target } from "./jobs.ts";
import { KSERVE_TEXT, MODELS, PROMPT, UNARY_TEXT } from "./wire.ts";

export type Delay = "fast" | "slow";

/**
 * One way of reaching the fake upstream. `pid` is the gateway process whose CPU and memory count
 * (none for the direct arms); `baseline` is the arm its added latency is measured against.
 */
export type Arm = {
  id: string;
  label: string;
  pid: number | undefined;
  baseline: string | undefined;
  unary: ((delay: Delay) => Target) | undefined;
  stream: (() => Target) | undefined;
  /** Why the arm cannot run here (then it is reported as n/a). */
  unavailable?: string;
  /** Why its streaming cannot run here, when unary works. */
  streamUnavailable?: string;
};

const WORKLOAD: Record<Delay, string> = { fast: "chat", slow: "slow" };
const MODEL: Record<Delay, string> = { fast: MODELS.fast, slow: MODELS.slow };
const json = { "content-type": "application/json" };
const bearer = (key: string | undefined): Record<string, string> =>
  key ? { authorization: `Bearer ${key}` } : {};

function openaiBody(model: string, stream: boolean): string {
  return JSON.stringify({
    model,
    messages: [{ role: "user", content: PROMPT }],
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}

/** Any OpenAI-compatible HTTP endpoint: the fake itself, the bare proxy, Portkey, Switchyard's facade. */
export function openaiTarget(
  origin: string,
  path: string,
  headers: Record<string, string>,
  model: string,
  stream: boolean,
): HttpTarget {
  return {
    kind: "http",
    origin,
    path,
    headers: { ...json, ...headers },
    body: openaiBody(model, stream),
    expect: UNARY_TEXT,
    ...(stream ? { stream: "sse" as const } : {}),
  };
}

const messages = [{ role: Role.USER, content: [{ part: { case: "text" as const, value: PROMPT } }] }];

export function connectUnary(
  origin: string,
  key: string | undefined,
  workload: string,
  expect = UNARY_TEXT,
): HttpTarget {
  return {
    kind: "http",
    origin,
    path: "/switchyard.v1.InferenceService/Generate",
    headers: { ...json, "connect-protocol-version": "1", ...bearer(key) },
    body: JSON.stringify({ workload, messages: [{ role: "ROLE_USER", content: [{ text: PROMPT }] }] }),
    expect,
  };
}

export function connectStream(origin: string, key: string | undefined): HttpTarget {
  const payload = Buffer.from(
    JSON.stringify({ workload: "stream", messages: [{ role: "ROLE_USER", content: [{ text: PROMPT }] }] }),
  );
  const envelope = Buffer.alloc(5 + payload.length);
  envelope.writeUInt32BE(payload.length, 1);
  payload.copy(envelope, 5);
  return {
    kind: "http",
    origin,
    path: "/switchyard.v1.InferenceService/GenerateStream",
    headers: { "content-type": "application/connect+json", "connect-protocol-version": "1", ...bearer(key) },
    body: envelope.toString("base64"),
    binary: true,
    expect: "",
    stream: "connect",
  };
}

export function grpcUnary(port: number, key: string | undefined, workload: string): GrpcTarget {
  const message = toBinary(GenerateRequestSchema, create(GenerateRequestSchema, { workload, messages }));
  return {
    kind: "grpc",
    address: `127.0.0.1:${port}`,
    path: "/switchyard.v1.InferenceService/Generate",
    metadata: bearer(key),
    message: Buffer.from(message).toString("base64"),
    expect: UNARY_TEXT,
  };
}

export function grpcStream(port: number, key: string | undefined): GrpcTarget {
  const message = toBinary(
    GenerateStreamRequestSchema,
    create(GenerateStreamRequestSchema, { workload: "stream", messages }),
  );
  return {
    kind: "grpc",
    address: `127.0.0.1:${port}`,
    path: "/switchyard.v1.InferenceService/GenerateStream",
    metadata: bearer(key),
    message: Buffer.from(message).toString("base64"),
    expect: "",
    shape: "server",
  };
}

/** Triton BYTES: each element a 4-byte little-endian length, then its bytes. */
function bytesTensor(text: string): Uint8Array {
  const body = Buffer.from(text, "utf8");
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32LE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** What Switchyard's KServe adapter sends for a unary generation (vLLM profile), sent straight to the fake. */
export function kserveDirect(port: number): GrpcTarget {
  const bool = (name: string, value: boolean) => ({
    spec: { name, datatype: "BOOL", shape: [1n] },
    raw: Uint8Array.of(value ? 1 : 0),
  });
  const tensors = [
    {
      spec: { name: "text_input", datatype: "BYTES", shape: [1n] },
      raw: bytesTensor(`user: ${PROMPT}\nassistant:`),
    },
    bool("stream", false),
    {
      spec: { name: "sampling_parameters", datatype: "BYTES", shape: [1n] },
      raw: bytesTensor('{"max_tokens":1024}'),
    },
    bool("exclude_input_in_output", true),
    bool("return_finish_reason", true),
    bool("return_num_input_tokens", true),
    bool("return_num_output_tokens", true),
  ];
  const request = create(ModelInferRequestSchema, {
    modelName: "llama",
    id: "bench",
    inputs: tensors.map((t) => t.spec),
    rawInputContents: tensors.map((t) => t.raw),
    parameters: {
      triton_enable_empty_final_response: { parameterChoice: { case: "boolParam", value: true } },
    },
  });
  return {
    kind: "grpc",
    address: `127.0.0.1:${port}`,
    path: "/inference.GRPCInferenceService/ModelStreamInfer",
    metadata: {},
    message: Buffer.from(toBinary(ModelInferRequestSchema, request)).toString("base64"),
    expect: KSERVE_TEXT,
    shape: "bidi-once",
  };
}

export const workloadOf = (delay: Delay) => WORKLOAD[delay];
export const modelOf = (delay: Delay) => MODEL[delay];
