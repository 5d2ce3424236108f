/**
 * KServe v2 raw tensor encoding. Raw contents are the flattened, row-major
 * elements with no padding, little-endian; a BYTES element is its 4-byte
 * little-endian length followed by the bytes (Triton's serialization).
 */
import type { ModelInferResponse } from "../../../gen/inference/grpc_service_pb.ts";

/** One input tensor, ready for `inputs[]` + `raw_input_contents[]`. */
export type RawTensor = { name: string; datatype: string; shape: number[]; raw: Uint8Array };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/** Length-prefixes each element (4-byte LE length, then the bytes) and concatenates them. */
export function encodeBytesElements(elements: readonly (string | Uint8Array)[]): Uint8Array {
  const parts = elements.map((e) => (typeof e === "string" ? encoder.encode(e) : e));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const part of parts) {
    view.setUint32(at, part.length, true);
    out.set(part, at + 4);
    at += 4 + part.length;
  }
  return out;
}

/** Splits raw BYTES contents back into elements; throws on a truncated length or element. */
export function decodeBytesElements(raw: Uint8Array): Uint8Array[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const elements: Uint8Array[] = [];
  let at = 0;
  while (at < raw.length) {
    if (at + 4 > raw.length) throw new Error(`truncated BYTES length prefix at offset ${at}`);
    const length = view.getUint32(at, true);
    if (at + 4 + length > raw.length) throw new Error(`BYTES element at offset ${at} overruns the tensor`);
    elements.push(raw.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return elements;
}

export function bytesTensor(name: string, shape: number[], elements: readonly string[]): RawTensor {
  return { name, datatype: "BYTES", shape, raw: encodeBytesElements(elements) };
}

export function boolTensor(name: string, shape: number[], value: boolean): RawTensor {
  return { name, datatype: "BOOL", shape, raw: Uint8Array.of(value ? 1 : 0) };
}

export function int32Tensor(name: string, shape: number[], value: number): RawTensor {
  const raw = new Uint8Array(4);
  new DataView(raw.buffer).setInt32(0, value, true);
  return { name, datatype: "INT32", shape, raw };
}

export function fp32Tensor(name: string, shape: number[], value: number): RawTensor {
  const raw = new Uint8Array(4);
  new DataView(raw.buffer).setFloat32(0, value, true);
  return { name, datatype: "FP32", shape, raw };
}

export function uint64Tensor(name: string, shape: number[], value: bigint): RawTensor {
  const raw = new Uint8Array(8);
  new DataView(raw.buffer).setBigUint64(0, value, true);
  return { name, datatype: "UINT64", shape, raw };
}

/** The outputs of one response, by name, read from raw contents or from typed `contents`. */
export class OutputTensors {
  readonly #byName = new Map<string, { datatype: string; raw: Uint8Array | undefined; index: number }>();
  readonly #response: ModelInferResponse;

  constructor(response: ModelInferResponse) {
    this.#response = response;
    const raw = response.rawOutputContents;
    response.outputs.forEach((output, index) => {
      this.#byName.set(output.name, { datatype: output.datatype, raw: raw[index], index });
    });
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** BYTES elements decoded as UTF-8 (empty when the output is absent). */
  strings(name: string): string[] {
    const entry = this.#byName.get(name);
    if (!entry) return [];
    const elements = entry.raw
      ? decodeBytesElements(entry.raw)
      : (this.#response.outputs[entry.index]?.contents?.bytesContents ?? []);
    return elements.map((e) => decoder.decode(e));
  }

  /** Unsigned/signed integer elements (UINT32/INT32/UINT64/INT64), as numbers. */
  integers(name: string): number[] {
    const entry = this.#byName.get(name);
    if (!entry) return [];
    if (entry.raw) return readIntegers(entry.datatype, entry.raw);
    const contents = this.#response.outputs[entry.index]?.contents;
    if (!contents) return [];
    return [
      ...contents.uintContents,
      ...contents.intContents,
      ...contents.uint64Contents.map(Number),
      ...contents.int64Contents.map(Number),
    ];
  }
}

function readIntegers(datatype: string, raw: Uint8Array): number[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: number[] = [];
  const size = datatype === "UINT64" || datatype === "INT64" ? 8 : 4;
  for (let at = 0; at + size <= raw.length; at += size) {
    if (datatype === "UINT32") out.push(view.getUint32(at, true));
    else if (datatype === "INT32") out.push(view.getInt32(at, true));
    else if (datatype === "UINT64") out.push(Number(view.getBigUint64(at, true)));
    else if (datatype === "INT64") out.push(Number(view.getBigInt64(at, true)));
  }
  return out;
}
