import type { OutgoingHttpHeaders } from "node:http";
import { create, type DescMessage, type DescMethod, isMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type HandlerContext } from "@connectrpc/connect";
import { createMethodSerializationLookup, type Serialization } from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  createEndStreamSerialization,
  endStreamFlag,
  errorToJsonBytes,
  parseContentType as parseConnectContentType,
  parseTimeout as parseConnectTimeout,
} from "@connectrpc/connect/protocol-connect";
import {
  parseContentType as parseGrpcContentType,
  parseTimeout as parseGrpcTimeout,
  setTrailerStatus,
} from "@connectrpc/connect/protocol-grpc";
import { ADMITTED, type RequestContext } from "../api/request-context.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { toConnectError } from "../errors/to-connect-error.ts";
import { callerGone } from "./http/caller-gone.ts";
import { PlainHeaders } from "./http/plain-headers.ts";
import { BodyTooLargeError, type HttpRequest, readBodyCapped } from "./http/read-body.ts";
import { requestHeaders } from "./http/request-headers.ts";

/** What this path uses of a response; http.ServerResponse and http2.Http2ServerResponse both have it. */
interface Response {
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  destroy(): unknown;
  writeHead(status: number, headers: OutgoingHttpHeaders): unknown;
  write(chunk: Uint8Array): boolean;
  addTrailers(headers: Record<string, string>): void;
  end(): unknown;
  end(chunk: Uint8Array): unknown;
  once(event: "close" | "drain", listener: () => void): unknown;
  off(event: "close" | "drain", listener: () => void): unknown;
}

type UnaryImpl = (request: never, context: HandlerContext) => Promise<unknown>;
type StreamImpl = (request: never, context: HandlerContext) => AsyncIterable<unknown>;

/** `operation`: the request's operation (generate, generate_stream, embed), for a refusal's metrics. */
type Operation = RequestContext["operation"];
export type FastPathMethod =
  | { method: DescMethod & { methodKind: "unary" }; impl: UnaryImpl; operation: Operation }
  | { method: DescMethod & { methodKind: "server_streaming" }; impl: StreamImpl; operation: Operation };

export type FastPathOptions = {
  /** The methods to serve here, each with the implementation registered with connect-node. */
  methods: FastPathMethod[];
  readMaxBytes: number;
  writeMaxBytes: number;
  maxTimeoutMs: number;
  shutdownSignal: AbortSignal;
  /** Load shedding: throws (a GatewayError) when the gateway refuses new calls; checked before the body is read. */
  admit?: (operation: Operation) => void;
};

/** Why a handler's signal aborts once the call is over: premade, so no AbortError is built per call. */
const CALL_FINISHED = new ConnectError("call finished", Code.Canceled);
const CALLER_GONE = new ConnectError("the caller went away", Code.Canceled);
const END_STREAM = createEndStreamSerialization(undefined);

/** gRPC and Connect streaming: headers, enveloped messages, then a status end (trailers or end-stream message). */
interface FramedWire {
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
interface ConnectUnaryWire {
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

type Wire = FramedWire | ConnectUnaryWire;

/**
 * Connect (POST, JSON or proto) and gRPC (HTTP/2, proto) calls to the hot
 * inference methods — unary and server-streaming — answered on Node's
 * request and response directly. connect-node's universal handler costs
 * about 0.5 ms of CPU per call here (WHATWG Headers conversions both ways,
 * async-iterable body plumbing, an AbortError DOMException per call) and
 * ~50 KiB per open stream; this path uses connect's own serialization,
 * error JSON, end-stream message, status mapping and trailer encoding, so
 * the wire is the same. Anything else — other methods, compression,
 * gRPC-Web, GET, gRPC+JSON, a malformed timeout — returns false and
 * connect-node serves it.
 */
export function createFastPath(options: FastPathOptions): (req: HttpRequest, res: Response) => boolean {
  const limits = { readMaxBytes: options.readMaxBytes, writeMaxBytes: options.writeMaxBytes };
  const byPath = new Map(
    options.methods.map((m) => [
      `/${m.method.parent.typeName}/${m.method.name}`,
      {
        ...m,
        serialization: createMethodSerializationLookup(
          m.method as DescMethod & { methodKind: "unary" },
          undefined,
          undefined,
          limits,
        ),
      },
    ]),
  );
  type Entry = NonNullable<ReturnType<typeof byPath.get>>;

  const grpc = (req: HttpRequest, res: Response, entry: Entry): boolean => {
    const h = req.headers;
    if (req.httpVersionMajor !== 2 || parseGrpcContentType(h["content-type"] ?? null)?.binary !== true)
      return false;
    const encoding = h["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    const timeout = parseGrpcTimeout(headerValue(h["grpc-timeout"]), options.maxTimeoutMs);
    if (timeout.error) return false;
    void serve(req, res, entry, GRPC_WIRE, true, timeout.timeoutMs);
    return true;
  };

  const connect = (req: HttpRequest, res: Response, entry: Entry): boolean => {
    const h = req.headers;
    const type = parseConnectContentType(h["content-type"] ?? null);
    if (type === undefined || type.stream !== (entry.method.methodKind === "server_streaming")) return false;
    const encoding = type.stream ? h["connect-content-encoding"] : h["content-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    const version = h["connect-protocol-version"];
    if (version !== undefined && version !== "1") return false;
    const timeout = parseConnectTimeout(headerValue(h["connect-timeout-ms"]), options.maxTimeoutMs);
    if (timeout.error) return false;
    const wire = type.stream
      ? type.binary
        ? CONNECT_STREAM_PROTO
        : CONNECT_STREAM_JSON
      : type.binary
        ? CONNECT_UNARY_PROTO
        : CONNECT_UNARY_JSON;
    void serve(req, res, entry, wire, type.binary, timeout.timeoutMs);
    return true;
  };

  async function serve(
    req: HttpRequest,
    res: Response,
    entry: Entry,
    wire: Wire,
    binary: boolean,
    timeoutMs: number | undefined,
  ): Promise<void> {
    const controller = callerGone(res, CALLER_GONE);
    const onShutdown = () => controller.abort(options.shutdownSignal.reason);
    if (options.shutdownSignal.aborted) onShutdown();
    else options.shutdownSignal.addEventListener("abort", onShutdown, { once: true });
    const deadline =
      timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(deadlineExceeded()), timeoutMs);
    const deadlineAt = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const context: HandlerContext = {
      method: entry.method,
      service: entry.method.parent,
      signal: controller.signal,
      timeoutMs: () => (deadlineAt === undefined ? undefined : deadlineAt - Date.now()),
      requestMethod: "POST",
      requestHeader: requestHeaders(req.headers),
      responseHeader: new PlainHeaders(),
      responseTrailer: new PlainHeaders(),
      protocolName: wire.protocolName,
      values: createContextValues(),
      url: req.url ?? "",
    };
    const output = entry.serialization.getO(binary) as Serialization<unknown>;
    const toBytes = (value: unknown): Uint8Array =>
      // Implementations return init shapes (as connect allows): make the message, as connect-node does.
      output.serialize(
        isMessage(value, entry.method.output)
          ? value
          : create(entry.method.output as DescMessage, value as never),
      );
    let body: Uint8Array | undefined;
    let failure: ConnectError | undefined;
    let streaming = false;
    try {
      if (options.admit) {
        options.admit(entry.operation); // first, so a refused call costs no body read, decode or authentication
        context.values.set(ADMITTED, true);
      }
      const bytes = wire.unwrap(await readBodyCapped(req, options.readMaxBytes, controller.signal));
      const input = parseRequest(entry.serialization.getI(binary), bytes);
      if (entry.method.methodKind === "unary") {
        body = toBytes(await (entry.impl as UnaryImpl)(input as never, context));
      } else {
        const framed = wire as FramedWire; // connect() pairs streaming methods with streaming content types only
        for await (const message of (entry.impl as StreamImpl)(input as never, context)) {
          const frame = framed.message(toBytes(message));
          if (res.destroyed || res.writableEnded) break; // the caller left: the loop's return() ends the impl
          if (!streaming) {
            framed.head(res, context);
            streaming = true;
          }
          if (!res.write(frame)) await drained(res);
        }
      }
    } catch (error) {
      failure = asConnectError(error);
    } finally {
      clearTimeout(deadline);
      options.shutdownSignal.removeEventListener("abort", onShutdown);
      controller.abort(CALL_FINISHED); // as connect-node does: work still tied to the call stops now
    }
    if (res.destroyed || res.writableEnded) return;
    try {
      if (wire.kind === "connect-unary") {
        wire.answer(res, context, body, failure);
        return;
      }
      if (entry.method.methodKind === "unary" && body === undefined) failure ??= noResponse();
      if (!streaming) wire.head(res, context);
      if (body !== undefined && failure === undefined) res.write(wire.message(body));
      wire.end(res, context, failure);
    } catch {
      // Node refused what we wrote (e.g. a header value it will not send): end the call, never the process.
      res.destroy();
    }
  }

  return (req, res) => {
    if (req.method !== "POST") return false;
    const entry = byPath.get(req.url ?? "");
    if (entry === undefined) return false;
    const type = req.headers["content-type"];
    if (type === undefined) return false;
    return type.startsWith("application/grpc-web")
      ? false
      : type.startsWith("application/grpc")
        ? grpc(req, res, entry)
        : connect(req, res, entry);
  };
}

/**
 * The request message. connect's binary parser reports a body that does not decode as INTERNAL;
 * it is the caller's bad input, so it is INVALID_ARGUMENT here (JSON already is).
 */
function parseRequest(serialization: { parse(bytes: Uint8Array): unknown }, bytes: Uint8Array): unknown {
  try {
    return serialization.parse(bytes);
  } catch (error) {
    if (error instanceof ConnectError && error.code === Code.Internal)
      throw new ConnectError(`cannot decode the request message: ${error.rawMessage}`, Code.InvalidArgument);
    throw error;
  }
}

/** Resolves when the response can take more (or the caller is gone). */
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

function headerValue(value: string | string[] | undefined): string | null {
  return typeof value === "string" ? value : null;
}

function asConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  // The guard's refusal, readBodyCapped's "caller went away": the gateway's own reasons and status codes.
  if (error instanceof GatewayError) return toConnectError(error, "");
  if (error instanceof BodyTooLargeError)
    return new ConnectError(
      `message size is larger than configured readMaxBytes ${error.maxBytes}`,
      Code.ResourceExhausted,
    );
  // Anything unexpected: connect-node maps unknown errors the same way.
  return ConnectError.from(error, Code.Internal);
}

/**
 * The one enveloped message: 5-byte prefix (flags, big-endian length) then exactly that many bytes.
 * Errors as connect-node reports them: no message or a second whole one is a cardinality error
 * (UNIMPLEMENTED, as gRPC's status code table defines it); a cut or broken envelope is INVALID_ARGUMENT.
 */
function decodeEnvelope(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0) throw new ConnectError("protocol error: missing input message", Code.Unimplemented);
  if (bytes.length < 5) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  if ((bytes[0]! & 0x01) !== 0)
    throw new ConnectError("protocol error: compressed message without an encoding header", Code.Internal);
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

const GRPC_WIRE: FramedWire = {
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

const CONNECT_UNARY_JSON = connectUnary(false);
const CONNECT_UNARY_PROTO = connectUnary(true);
const CONNECT_STREAM_JSON = connectStream(false);
const CONNECT_STREAM_PROTO = connectStream(true);

/** As connect-node words it, with the reason header the gateway's own deadline errors carry. */
function deadlineExceeded(): ConnectError {
  return new ConnectError("the operation timed out", Code.DeadlineExceeded, {
    "x-switchyard-reason": "deadline_exceeded",
  });
}

function noResponse(): ConnectError {
  return new ConnectError("no response message", Code.Internal);
}
