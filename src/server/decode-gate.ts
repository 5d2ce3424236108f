import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  type Compression,
  compressedFlag,
  createMethodSerializationLookup,
  type UniversalHandler,
  type UniversalServerRequest,
} from "@connectrpc/connect/protocol";
import { parseContentType as parseConnectType } from "@connectrpc/connect/protocol-connect";
import { parseContentType as parseGrpcType } from "@connectrpc/connect/protocol-grpc";
import { parseContentType as parseGrpcWebType } from "@connectrpc/connect/protocol-grpc-web";

/**
 * JSON bodies are decoded strictly: invalid UTF-8 is refused (as the binary decoder and the REST
 * facade refuse it) instead of being read as U+FFFD. Used by connect-node and the fast path alike.
 */
export const JSON_OPTIONS = {
  ignoreUnknownFields: true, // connect-es's default, kept
  textDecoder: new TextDecoder("utf-8", { fatal: true }),
};

/** Told of every refused body: the RPC's path and a fixed reason (never body content). */
export type OnDecodeRefused = (path: string, reason: string) => void;

export type DecodeGateOptions = {
  readMaxBytes: number;
  writeMaxBytes: number;
  /** The compressions connect-node accepts (the same list must be given to it). */
  acceptCompression: Compression[];
  onRefused: OnDecodeRefused;
};

/** A fixed, content-free phrase for why a message did not decode (for the log line). */
export function decodeFailureReason(error: unknown, binary: boolean): string {
  const text = error instanceof Error ? error.message : "";
  if (/compressed message without an encoding/.test(text)) return "compressed without encoding";
  if (/protocol error/.test(text)) return "bad envelope";
  if (/utf-?8/i.test(text)) return "invalid UTF-8";
  if (/recursion/i.test(text)) return "nesting too deep";
  return binary ? "malformed protobuf" : "malformed JSON";
}

/**
 * connect-es reports a request body that does not decode as INTERNAL ("parse binary: …", a
 * compressed envelope without an encoding, a broken gzip stream), though it is the caller's bad
 * input. Connect interceptors run after the unary request is parsed, so they cannot see it; instead
 * each of the router's handlers gets its request body checked on the way in — envelope flags,
 * decompression and the message itself, with connect's own serialization — and a body that fails is
 * answered INVALID_ARGUMENT in the caller's protocol (the error is raised from the body, where
 * connect serializes it like any other) and logged. A good body passes on unchanged (an enveloped
 * one already decompressed), so connect decodes it once more: only the non-hot routes pay that.
 * Call with the router after every service is registered.
 */
export function guardDecoding(router: ConnectRouter, options: DecodeGateOptions): void {
  const handlers = router.handlers;
  handlers.splice(0, handlers.length, ...handlers.map((h) => gated(h, options)));
}

type Wire = { enveloped: boolean; binary: boolean; compression: Compression | null };

function gated(handler: UniversalHandler, options: DecodeGateOptions): UniversalHandler {
  const serialization = createMethodSerializationLookup(handler.method, undefined, JSON_OPTIONS, options);
  const path = handler.requestPath;
  const refuse = (message: string, reason: string): ConnectError => {
    options.onRefused(path, reason);
    return new ConnectError(message, Code.InvalidArgument);
  };
  const check = (wire: Wire, data: Uint8Array): void => {
    try {
      serialization.getI(wire.binary).parse(data);
    } catch (error) {
      if (error instanceof ConnectError && error.code === Code.ResourceExhausted) throw error; // the size limit
      const raw = error instanceof ConnectError ? error.rawMessage : String(error);
      throw refuse(`cannot decode the request message: ${raw}`, decodeFailureReason(error, wire.binary));
    }
  };
  const decompress = async (compression: Compression, data: Uint8Array): Promise<Uint8Array> => {
    try {
      return await compression.decompress(data, options.readMaxBytes);
    } catch (error) {
      if (error instanceof ConnectError && error.code === Code.ResourceExhausted) throw error;
      throw refuse(`cannot decompress the request message (${compression.name})`, "bad compression");
    }
  };
  const gate = (request: UniversalServerRequest) => {
    const wire = wireOf(request, options.acceptCompression);
    const body = request.body;
    if (wire === undefined || !isByteStream(body)) return handler(request);
    const reader = new ChunkReader(body);
    const checked = wire.enveloped
      ? envelopes(reader, wire, options.readMaxBytes, { check, decompress, refuse })
      : whole(reader, wire, options.readMaxBytes, { check, decompress });
    return handler({ ...request, body: checked });
  };
  return Object.assign(gate, {
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    supportedContentType: handler.supportedContentType,
    protocolNames: handler.protocolNames,
    allowedMethods: handler.allowedMethods,
  });
}

/** The body's framing as connect will read it; undefined when connect refuses it anyway (or GET). */
function wireOf(request: UniversalServerRequest, accepted: Compression[]): Wire | undefined {
  if (request.method !== "POST") return undefined;
  const header = request.header;
  const type = header.get("content-type");
  const web = parseGrpcWebType(type);
  const grpc = web ?? parseGrpcType(type);
  const connect = grpc ? undefined : parseConnectType(type);
  if (web?.text) return undefined; // grpc-web-text: connect-es answers 415
  if (grpc === undefined && connect === undefined) return undefined;
  const enveloped = grpc !== undefined || connect?.stream === true;
  const name = header.get(
    grpc ? "grpc-encoding" : connect?.stream ? "connect-content-encoding" : "content-encoding",
  );
  let compression: Compression | null = null;
  if (name !== null && name !== "identity") {
    const found = accepted.find((c) => c.name === name);
    if (found === undefined) return undefined; // connect answers UNIMPLEMENTED, naming what it speaks
    compression = found;
  }
  return { enveloped, binary: (grpc ?? connect)?.binary === true, compression };
}

function isByteStream(body: unknown): body is AsyncIterable<Uint8Array> {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body;
}

/** What reading a body needs from the gate: check a whole message, decompress one, refuse with a reason. */
type DecodeSteps = {
  check: (wire: Wire, data: Uint8Array) => void;
  decompress: (c: Compression, data: Uint8Array) => Promise<Uint8Array>;
  refuse: (message: string, reason: string) => ConnectError;
};

/** Enveloped messages (gRPC, gRPC-Web, Connect streaming): each checked as soon as it is whole. */
async function* envelopes(
  reader: ChunkReader,
  wire: Wire,
  readMaxBytes: number,
  steps: DecodeSteps,
): AsyncGenerator<Uint8Array> {
  try {
    for (;;) {
      const head = await reader.read(5);
      if (head.length < 5) {
        if (head.length > 0) yield head; // a cut prefix: connect reports the incomplete envelope
        return;
      }
      const flags = head[0]!;
      if ((flags & ~compressedFlag) !== 0)
        throw steps.refuse(
          `protocol error: invalid envelope flags 0x${flags.toString(16)} (is the body enveloped protobuf?)`,
          "bad envelope",
        );
      const compressed = (flags & compressedFlag) !== 0;
      if (compressed && wire.compression === null)
        throw steps.refuse(
          "protocol error: compressed message without an encoding header (set grpc-encoding)",
          "compressed without encoding",
        );
      const length = new DataView(head.buffer, head.byteOffset, 5).getUint32(1);
      if (length > readMaxBytes) {
        yield head; // connect reports the size (RESOURCE_EXHAUSTED) without reading it
        yield* reader.rest();
        return;
      }
      const data = await reader.read(length);
      if (data.length < length) {
        yield head;
        yield data; // cut: connect reports it
        return;
      }
      const plain = compressed && wire.compression ? await steps.decompress(wire.compression, data) : data;
      steps.check(wire, plain);
      yield envelope(plain);
    }
  } finally {
    await reader.close();
  }
}

/** A Connect unary body: read whole (as connect does), checked, then passed on as it came. */
async function* whole(
  reader: ChunkReader,
  wire: Wire,
  readMaxBytes: number,
  steps: Omit<DecodeSteps, "refuse">,
): AsyncGenerator<Uint8Array> {
  try {
    const bytes = await reader.read(readMaxBytes + 1);
    if (bytes.length > readMaxBytes) {
      yield bytes; // over the limit: connect refuses it with its own message
      yield* reader.rest();
      return;
    }
    // connect decompresses the body itself, so only a copy is decompressed here.
    steps.check(wire, wire.compression ? await steps.decompress(wire.compression, bytes) : bytes);
    yield bytes;
  } finally {
    await reader.close();
  }
}

function envelope(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

/** Reads exact byte counts from a chunked body. */
class ChunkReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private chunks: Uint8Array[] = [];
  private size = 0;
  private ended = false;

  constructor(body: AsyncIterable<Uint8Array>) {
    this.it = body[Symbol.asyncIterator]();
  }

  /** Exactly n bytes, or fewer when the body ends first. */
  async read(n: number): Promise<Uint8Array> {
    while (this.size < n && !this.ended) {
      const next = await this.it.next();
      if (next.done) this.ended = true;
      else if (next.value.length > 0) {
        this.chunks.push(next.value);
        this.size += next.value.length;
      }
    }
    return this.take(Math.min(n, this.size));
  }

  /** Whatever is buffered, then the rest of the body unchanged. */
  async *rest(): AsyncGenerator<Uint8Array> {
    if (this.size > 0) yield this.take(this.size);
    while (!this.ended) {
      const next = await this.it.next();
      if (next.done) this.ended = true;
      else yield next.value;
    }
  }

  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      await this.it.return?.();
    }
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      this.size -= n;
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let offset = 0;
    while (offset < n) {
      const chunk = this.chunks[0]!;
      const part = Math.min(chunk.length, n - offset);
      out.set(chunk.subarray(0, part), offset);
      offset += part;
      if (part === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(part);
    }
    this.size -= n;
    return out;
  }
}
