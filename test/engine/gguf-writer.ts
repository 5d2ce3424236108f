// A GGUF v3 encoder (the single-file model format llama.cpp loads), written from the public format description:
// little-endian throughout; header = magic "GGUF", uint32 version, uint64 tensor count, uint64 key/value count;
// then the key/value pairs (uint64-length strings, a uint32 value type, the value; arrays carry their element
// type and a uint64 count); then one info per tensor (name, uint32 dimension count, uint64 dimensions with the
// fastest-varying first, uint32 ggml type, uint64 offset into the data section); then zero padding up to
// `general.alignment` (32 by default) and the tensor data, each tensor starting at an aligned offset.
// Only what a tiny test model needs: scalar and array values, F32 tensors.

const MAGIC = "GGUF";
const VERSION = 3;
export const DEFAULT_ALIGNMENT = 32;

/** GGUF metadata value types (the uint32 written before each value). */
const T = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9 } as const;
/** ggml tensor type of 32-bit floats. */
const GGML_F32 = 0;

export type MetaValue =
  | { type: "string"; value: string }
  | { type: "u32"; value: number }
  | { type: "i32"; value: number }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string[]"; value: readonly string[] }
  | { type: "f32[]"; value: readonly number[] }
  | { type: "i32[]"; value: readonly number[] };

/** `dims` fastest-varying first, as GGUF stores them (a row-major [rows][cols] matrix is [cols, rows]). */
export type F32Tensor = { name: string; dims: readonly number[]; data: Float32Array };

/** Appends little-endian values to a growing list of chunks. */
class ByteSink {
  readonly #chunks: Uint8Array[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  bytes(bytes: Uint8Array): void {
    this.#chunks.push(bytes);
    this.#length += bytes.length;
  }

  #fixed(size: number, write: (view: DataView) => void): void {
    const bytes = new Uint8Array(size);
    write(new DataView(bytes.buffer));
    this.bytes(bytes);
  }

  u32(n: number): void {
    this.#fixed(4, (v) => v.setUint32(0, n, true));
  }
  i32(n: number): void {
    this.#fixed(4, (v) => v.setInt32(0, n, true));
  }
  u64(n: number): void {
    this.#fixed(8, (v) => v.setBigUint64(0, BigInt(n), true));
  }
  f32(n: number): void {
    this.#fixed(4, (v) => v.setFloat32(0, n, true));
  }
  bool(b: boolean): void {
    this.bytes(Uint8Array.of(b ? 1 : 0));
  }
  string(s: string): void {
    const utf8 = new TextEncoder().encode(s);
    this.u64(utf8.length);
    this.bytes(utf8);
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.#length % alignment)) % alignment;
    if (pad > 0) this.bytes(new Uint8Array(pad));
  }

  concat(): Uint8Array {
    return Buffer.concat(this.#chunks);
  }
}

function writeArray<V>(
  out: ByteSink,
  elementType: number,
  values: readonly V[],
  write: (v: V) => void,
): void {
  out.u32(T.array);
  out.u32(elementType);
  out.u64(values.length);
  for (const v of values) write(v);
}

function writeValue(out: ByteSink, meta: MetaValue): void {
  switch (meta.type) {
    case "string":
      out.u32(T.string);
      out.string(meta.value);
      break;
    case "u32":
      out.u32(T.u32);
      out.u32(meta.value);
      break;
    case "i32":
      out.u32(T.i32);
      out.i32(meta.value);
      break;
    case "f32":
      out.u32(T.f32);
      out.f32(meta.value);
      break;
    case "bool":
      out.u32(T.bool);
      out.bool(meta.value);
      break;
    case "string[]":
      writeArray(out, T.string, meta.value, (v) => out.string(v));
      break;
    case "f32[]":
      writeArray(out, T.f32, meta.value, (v) => out.f32(v));
      break;
    case "i32[]":
      writeArray(out, T.i32, meta.value, (v) => out.i32(v));
      break;
  }
}

/** Encodes a whole GGUF v3 file. Metadata is written in the given order; `general.alignment` is honoured. */
export function encodeGguf(
  metadata: ReadonlyArray<[string, MetaValue]>,
  tensors: readonly F32Tensor[],
): Uint8Array {
  const alignmentEntry = metadata.find(([key]) => key === "general.alignment")?.[1];
  const alignment = alignmentEntry?.type === "u32" ? alignmentEntry.value : DEFAULT_ALIGNMENT;
  const out = new ByteSink();
  out.bytes(new TextEncoder().encode(MAGIC));
  out.u32(VERSION);
  out.u64(tensors.length);
  out.u64(metadata.length);
  for (const [key, value] of metadata) {
    out.string(key);
    writeValue(out, value);
  }
  let offset = 0;
  for (const tensor of tensors) {
    const elements = tensor.dims.reduce((a, b) => a * b, 1);
    if (elements !== tensor.data.length)
      throw new Error(
        `tensor ${tensor.name}: dims [${tensor.dims}] hold ${elements}, data has ${tensor.data.length}`,
      );
    out.string(tensor.name);
    out.u32(tensor.dims.length);
    for (const d of tensor.dims) out.u64(d);
    out.u32(GGML_F32);
    out.u64(offset);
    offset += Math.ceil(tensor.data.byteLength / alignment) * alignment;
  }
  out.padTo(alignment);
  for (const tensor of tensors) {
    const le = new Uint8Array(tensor.data.byteLength);
    const view = new DataView(le.buffer);
    tensor.data.forEach((v, i) => {
      view.setFloat32(i * 4, v, true);
    });
    out.bytes(le);
    out.padTo(alignment);
  }
  return out.concat();
}
