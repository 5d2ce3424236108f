import type { OutgoingHttpHeaders } from "node:http";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  codeToHttpStatus,
  createEndStreamSerialization,
  endStreamFlag,
  errorToJsonBytes,
} from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type { WritableResponse } from "./http/response-gone.ts";

// The fast path's wire formats: how gRPC and Connect (unary and streaming) frame a request and an
// answer on Node's response, with connect's own serialization, error JSON and trailer encoding.

/** What this path uses of a response; http.ServerResponse and http2.Http2ServerResponse both have it. */
export interface Response extends WritableResponse {
  /** True while written bytes wait for the caller to take them (its window or socket buffer is full). */
  readonly writableNeedDrain: boolean;
  destroy(): unknown;
  writeHead(status: number, headers: OutgoingHttpHeaders): unknown;
  write(chunk: Uint8Array): boolean;
  addTrailers(headers: Record<string, string>): void;
  end(): unknown;
  end(chunk: Uint8Array): unknown;
}

const END_STREAM = createEndStreamSerialization(undefined);

/** gRPC and Connect streaming: headers, enveloped messages, then a status end (trailers or end-stream message). */
export interface FramedWire {
  readonly kind: "framed";
  readonly protocolName: "connect" | "grpc";
  /** Request body → the one request message's bytes. */
  unwrap(body: Uint8Array): Uint8Array;
  /** The response headers, sent with the first message (or the end). */
  head(res: Response, context: HandlerContext): void;
  message(bytes: Uint8Array): Uint8Array;
  /** Status and trailers, after the headers. */
  end(res: Response, context: HandlerContext, error: ConnectError | undefined): void;
}

/** Connect unary: one plain body, the error as JSON with an HTTP status, trailers as `trailer-` headers. */
export interface ConnectUnaryWire {
  readonly kind: "connect-unary";
  readonly protocolName: "connect";
  unwrap(body: Uint8Array): Uint8Array;
  answer(
    res: Response,
    context: HandlerContext,
    body: Uint8Array | undefined,
    error: ConnectError | undefined,
  ): void;
}

export type Wire = FramedWire | ConnectUnaryWire;

/**
 * The one enveloped message: 5-byte prefix (flags, big-endian length) then exactly that many bytes.
 * Errors as connect-node reports them: no message or a second whole one is a cardinality error
 * (UNIMPLEMENTED, as gRPC's status code table defines it); a cut or broken envelope is INVALID_ARGUMENT,
 * and so is a compressed flag (this path serves identity only) or any other flag bit (as the decode
 * gate in front of connect-node answers).
 */
function decodeEnvelope(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0) throw new ConnectError("protocol error: missing input message", Code.Unimplemented);
  if (bytes.length < 5) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  const flags = bytes[0]!;
  if ((flags & ~0x01) !== 0)
    throw new ConnectError(
      `protocol error: invalid envelope flags 0x${flags.toString(16)} (is the body enveloped protobuf?)`,
      Code.InvalidArgument,
    );
  if (flags !== 0)
    throw new ConnectError(
      "protocol error: compressed message without an encoding header (set grpc-encoding)",
      Code.InvalidArgument,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(1);
  const rest = bytes.length - 5 - length;
  if (rest < 0)
    throw new ConnectError(
      `protocol error: promised ${length} bytes, received ${bytes.length - 5}`,
      Code.InvalidArgument,
    );
  if (rest > 0) {
    const next = 5 + length;
    if (rest >= 5 && rest >= 5 + view.getUint32(next + 1))
      throw new ConnectError("protocol error: received extra input message", Code.Unimplemented);
    throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  }
  return bytes.subarray(5);
}

function envelope(flags: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + data.length);
  out[0] = flags;
  out.writeUInt32BE(data.length, 1);
  out.set(data, 5);
  return out;
}

function toNodeHeaders(headers: Headers, into: Record<string, string> = {}): Record<string, string> {
  headers.forEach((value, key) => {
    into[key] = value;
  });
  return into;
}

export const GRPC_WIRE: FramedWire = {
  kind: "framed",
  protocolName: "grpc",
  unwrap: decodeEnvelope,
  head(res, context) {
    res.writeHead(200, toNodeHeaders(context.responseHeader, { "content-type": "application/grpc+proto" }));
  },
  message: (bytes) => envelope(0, bytes),
  end(res, context, error) {
    // Status in trailers after the headers (Node's compat API cannot send a trailers-only HEADERS frame).
    const trailer = context.responseTrailer;
    if (error) setTrailerStatus(trailer, error);
    else trailer.set("grpc-status", "0");
    res.addTrailers(toNodeHeaders(trailer));
    res.end();
  },
};

function connectUnary(binary: boolean): ConnectUnaryWire {
  return {
    kind: "connect-unary",
    protocolName: "connect",
    unwrap: (bytes) => bytes,
    answer(res, context, body, error) {
      let status = 200;
      let out: Uint8Array;
      if (error !== undefined || body === undefined) {
        const failure = error ?? noResponse();
        status = codeToHttpStatus(failure.code);
        failure.metadata.forEach((value, key) => {
          context.responseHeader.set(key, value);
        });
        context.responseHeader.set("content-type", "application/json");
        out = errorToJsonBytes(failure, {});
      } else {
        context.responseHeader.set("content-type", binary ? "application/proto" : "application/json");
        out = body;
      }
      // Trailers go as `trailer-` headers (connect's trailerMux, without building another Headers).
      const head = toNodeHeaders(context.responseHeader);
      context.responseTrailer.forEach((value, key) => {
        head[`trailer-${key}`] = value;
      });
      head["content-length"] = String(out.byteLength);
      res.writeHead(status, head);
      res.end(out);
    },
  };
}

function connectStream(binary: boolean): FramedWire {
  const type = binary ? "application/connect+proto" : "application/connect+json";
  return {
    kind: "framed",
    protocolName: "connect",
    unwrap: decodeEnvelope,
    head(res, context) {
      res.writeHead(200, toNodeHeaders(context.responseHeader, { "content-type": type }));
    },
    message: (bytes) => envelope(0, bytes),
    end(res, context, error) {
      // Errors and trailers travel in the end-stream message; the HTTP status stays 200.
      const data = END_STREAM.serialize({ metadata: context.responseTrailer, ...(error ? { error } : {}) });
      res.end(envelope(endStreamFlag, data));
    },
  };
}

export const CONNECT_UNARY_JSON = connectUnary(false);
export const CONNECT_UNARY_PROTO = connectUnary(true);
export const CONNECT_STREAM_JSON = connectStream(false);
export const CONNECT_STREAM_PROTO = connectStream(true);

export function noResponse(): ConnectError {
  return new ConnectError("no response message", Code.Internal);
}
