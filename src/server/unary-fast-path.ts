import type { OutgoingHttpHeaders } from "node:http";
import { create, type DescMessage, type DescMethodUnary, isMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type HandlerContext } from "@connectrpc/connect";
import { createMethodSerializationLookup } from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  errorToJsonBytes,
  parseContentType as parseConnectContentType,
  parseTimeout as parseConnectTimeout,
  trailerMux,
} from "@connectrpc/connect/protocol-connect";
import {
  parseContentType as parseGrpcContentType,
  parseTimeout as parseGrpcTimeout,
  setTrailerStatus,
} from "@connectrpc/connect/protocol-grpc";
import { BodyTooLargeError, type HttpRequest, readBodyCapped } from "./http/read-body.ts";
import { requestHeaders } from "./http/request-headers.ts";

type UnaryMethod = DescMethodUnary<DescMessage, DescMessage>;
type UnaryImpl = (request: never, context: HandlerContext) => Promise<unknown>;
/** What this path uses of a response; http.ServerResponse and http2.Http2ServerResponse both have it. */
interface Response {
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  readonly writableFinished: boolean;
  writeHead(status: number, headers: OutgoingHttpHeaders): unknown;
  write(chunk: Uint8Array): boolean;
  addTrailers(headers: Record<string, string>): void;
  end(): unknown;
  end(chunk: Uint8Array): unknown;
  once(event: "close", listener: () => void): unknown;
  off(event: "close", listener: () => void): unknown;
}

export type FastPathOptions = {
  /** The unary methods to serve here, each with the implementation registered with connect-node. */
  methods: { method: UnaryMethod; impl: UnaryImpl }[];
  readMaxBytes: number;
  writeMaxBytes: number;
  maxTimeoutMs: number;
  shutdownSignal: AbortSignal;
};

/** Why a handler's signal aborts once the call is over: premade, so no AbortError is built per call. */
const CALL_FINISHED = new ConnectError("call finished", Code.Canceled);
const CALLER_GONE = new ConnectError("the caller went away", Code.Canceled);

/**
 * Connect (POST, JSON or proto) and gRPC (HTTP/2, proto) unary calls to the
 * hot inference methods, answered on Node's request and response directly.
 * connect-node's universal handler costs about 0.5 ms of CPU per call here
 * (WHATWG Headers conversions both ways, async-iterable body plumbing, an
 * AbortError DOMException per call); this path uses connect's own
 * serialization, error JSON, status mapping and trailer encoding, so the wire
 * is the same. Anything else — other methods, compression, gRPC-Web, GET,
 * gRPC+JSON, a malformed timeout — returns false and connect-node serves it.
 */
export function createUnaryFastPath(options: FastPathOptions): (req: HttpRequest, res: Response) => boolean {
  const limits = { readMaxBytes: options.readMaxBytes, writeMaxBytes: options.writeMaxBytes };
  const byPath = new Map(
    options.methods.map(({ method, impl }) => [
      `/${method.parent.typeName}/${method.name}`,
      { method, impl, serialization: createMethodSerializationLookup(method, undefined, undefined, limits) },
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
    void serve(req, res, entry, "grpc", timeout.timeoutMs, decodeEnvelope, (context, body, error) =>
      writeGrpc(res, context, body, error),
    );
    return true;
  };

  const connect = (req: HttpRequest, res: Response, entry: Entry): boolean => {
    const h = req.headers;
    const type = parseConnectContentType(h["content-type"] ?? null);
    if (type === undefined || type.stream) return false;
    const encoding = h["content-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    const version = h["connect-protocol-version"];
    if (version !== undefined && version !== "1") return false;
    const timeout = parseConnectTimeout(headerValue(h["connect-timeout-ms"]), options.maxTimeoutMs);
    if (timeout.error) return false;
    void serve(
      req,
      res,
      entry,
      "connect",
      timeout.timeoutMs,
      (bytes) => bytes,
      (context, body, error) => writeConnect(res, context, body, error, type.binary),
      type.binary,
    );
    return true;
  };

  async function serve(
    req: HttpRequest,
    res: Response,
    entry: Entry,
    protocolName: "grpc" | "connect",
    timeoutMs: number | undefined,
    unwrap: (bytes: Uint8Array) => Uint8Array,
    write: (context: HandlerContext, body: Uint8Array | undefined, error: ConnectError | undefined) => void,
    binary = true,
  ): Promise<void> {
    const controller = new AbortController();
    const onShutdown = () => controller.abort(options.shutdownSignal.reason);
    const onClose = () => {
      // writableEnded, not writableFinished: HTTP/2's compat response reports a reset stream as finished.
      if (!res.writableEnded) controller.abort(CALLER_GONE);
    };
    res.once("close", onClose);
    if (options.shutdownSignal.aborted) onShutdown();
    else options.shutdownSignal.addEventListener("abort", onShutdown, { once: true });
    const deadline =
      timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => controller.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
            timeoutMs,
          );
    const deadlineAt = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const context: HandlerContext = {
      method: entry.method,
      service: entry.method.parent,
      signal: controller.signal,
      timeoutMs: () => (deadlineAt === undefined ? undefined : deadlineAt - Date.now()),
      requestMethod: "POST",
      requestHeader: requestHeaders(req.headers),
      responseHeader: new Headers(),
      responseTrailer: new Headers(),
      protocolName,
      values: createContextValues(),
      url: req.url ?? "",
    };
    let body: Uint8Array | undefined;
    let failure: ConnectError | undefined;
    try {
      const bytes = unwrap(await readBodyCapped(req, options.readMaxBytes));
      const input = entry.serialization.getI(binary).parse(bytes);
      const output = await entry.impl(input as never, context);
      // Implementations return init shapes (as connect allows): make the message, as connect-node does.
      const message = isMessage(output, entry.method.output)
        ? output
        : create(entry.method.output, output as never);
      body = entry.serialization.getO(binary).serialize(message);
    } catch (error) {
      failure = asConnectError(error);
    } finally {
      clearTimeout(deadline);
      options.shutdownSignal.removeEventListener("abort", onShutdown);
      res.off("close", onClose);
      controller.abort(CALL_FINISHED); // as connect-node does: work still tied to the call stops now
    }
    if (res.destroyed || res.writableEnded) return;
    write(context, body, failure);
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

function headerValue(value: string | string[] | undefined): string | null {
  return typeof value === "string" ? value : null;
}

function asConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof BodyTooLargeError)
    return new ConnectError(
      `message size is larger than configured readMaxBytes ${error.maxBytes}`,
      Code.ResourceExhausted,
    );
  // readBodyCapped's "caller went away" and anything unexpected: connect-node maps unknown errors the same way.
  return ConnectError.from(error, Code.Internal);
}

/** One gRPC message: 5-byte prefix (flags, big-endian length) then exactly that many bytes. */
function decodeEnvelope(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 5)
    throw new ConnectError("protocol error: missing message envelope", Code.InvalidArgument);
  if ((bytes[0]! & 0x01) !== 0)
    throw new ConnectError("protocol error: compressed message without grpc-encoding", Code.Internal);
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  if (bytes.length !== 5 + length)
    throw new ConnectError(
      `protocol error: expected one message of ${length} bytes, received ${bytes.length - 5}`,
      Code.InvalidArgument,
    );
  return bytes.subarray(5);
}

function toNodeHeaders(headers: Headers, into: Record<string, string> = {}): Record<string, string> {
  headers.forEach((value, key) => {
    into[key] = value;
  });
  return into;
}

function writeGrpc(
  res: Response,
  context: HandlerContext,
  body: Uint8Array | undefined,
  error: ConnectError | undefined,
): void {
  const head = toNodeHeaders(context.responseHeader, { "content-type": "application/grpc+proto" });
  const trailer = context.responseTrailer;
  if (error !== undefined || body === undefined) {
    // Headers, then the status in trailers (Node's compat API cannot send a trailers-only HEADERS frame).
    setTrailerStatus(trailer, error ?? new ConnectError("no response message", Code.Internal));
    res.writeHead(200, head);
    res.addTrailers(toNodeHeaders(trailer));
    res.end();
    return;
  }
  trailer.set("grpc-status", "0");
  const envelope = Buffer.allocUnsafe(5 + body.length);
  envelope[0] = 0;
  envelope.writeUInt32BE(body.length, 1);
  envelope.set(body, 5);
  res.writeHead(200, head);
  res.write(envelope);
  res.addTrailers(toNodeHeaders(trailer));
  res.end();
}

function writeConnect(
  res: Response,
  context: HandlerContext,
  body: Uint8Array | undefined,
  error: ConnectError | undefined,
  binary: boolean,
): void {
  let status = 200;
  let out: Uint8Array;
  if (error !== undefined || body === undefined) {
    const failure = error ?? new ConnectError("no response message", Code.Internal);
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
  const head = toNodeHeaders(trailerMux(context.responseHeader, context.responseTrailer));
  head["content-length"] = String(out.byteLength);
  res.writeHead(status, head);
  res.end(out);
}
