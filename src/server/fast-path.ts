import { create, type DescMessage, type DescMethod, isMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type HandlerContext } from "@connectrpc/connect";
import { createMethodSerializationLookup, type Serialization } from "@connectrpc/connect/protocol";
import { parseContentType as parseConnectContentType } from "@connectrpc/connect/protocol-connect";
import { parseContentType as parseGrpcContentType } from "@connectrpc/connect/protocol-grpc";
import { ADMITTED, type RequestContext } from "../api/request-context.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { toConnectError } from "../errors/to-connect-error.ts";
import { decodeFailureReason, JSON_OPTIONS, type OnDecodeRefused } from "./decode-gate.ts";
import {
  CONNECT_STREAM_JSON,
  CONNECT_STREAM_PROTO,
  CONNECT_UNARY_JSON,
  CONNECT_UNARY_PROTO,
  type FramedWire,
  GRPC_WIRE,
  noResponse,
  type Response,
  type Wire,
} from "./fast-path-wire.ts";
import { callerGone } from "./http/caller-gone.ts";
import { parseConnectTimeoutCapped, parseGrpcTimeoutCapped } from "./http/caller-timeout.ts";
import { PlainHeaders } from "./http/plain-headers.ts";
import { BodyTooLargeError, type HttpRequest, readBodyCapped } from "./http/read-body.ts";
import { requestHeaders } from "./http/request-headers.ts";
import { drained, responseGone } from "./http/response-gone.ts";
import { abandon, resetIfStalled } from "./http/stalled-response.ts";

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
  /** Longer caller timeouts are capped to it (never refused). */
  maxTimeoutMs: number;
  shutdownSignal: AbortSignal;
  /** Load shedding: throws (a GatewayError) when the gateway refuses new calls; checked before the body is read. */
  admit?: (operation: Operation) => void;
  /** Told of each body that does not decode (path and a fixed reason), for the log. */
  onDecodeRefused?: OnDecodeRefused;
  /**
   * Told of each call that ended while its body was still arriving (deadline, cancel, shutdown, too
   * large): the pipeline never saw it, so without this it would have no log line and no metric.
   */
  onEndedUnread?: (operation: Operation, reason: UnreadReason, path: string) => void;
};

/** Why a call ended before its request message was read. */
export type UnreadReason = "deadline_exceeded" | "cancelled" | "message_too_large";

/** Why a handler's signal aborts once the call is over: premade, so no AbortError is built per call. */
const CALL_FINISHED = new ConnectError("call finished", Code.Canceled);
const CALLER_GONE = new ConnectError("the caller went away", Code.Canceled);

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
          JSON_OPTIONS,
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
    const timeout = parseGrpcTimeoutCapped(headerValue(h["grpc-timeout"]), options.maxTimeoutMs);
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
    const timeout = parseConnectTimeoutCapped(headerValue(h["connect-timeout-ms"]), options.maxTimeoutMs);
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
    let expired = false;
    const deadline =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            expired = true;
            controller.abort(deadlineExceeded());
            resetIfStalled(res, 0); // e.g. a large unary answer or a status the caller never takes
          }, timeoutMs);
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
    let reading = false;
    try {
      if (options.admit) {
        options.admit(entry.operation); // first, so a refused call costs no body read, decode or authentication
        context.values.set(ADMITTED, true);
      }
      reading = true;
      const received = await readBodyCapped(req, options.readMaxBytes, controller.signal);
      reading = false;
      const input = decodeRequest(wire, entry.serialization.getI(binary), binary, received, (reason) =>
        options.onDecodeRefused?.(req.url ?? "", reason),
      );
      if (entry.method.methodKind === "unary") {
        body = toBytes(await (entry.impl as UnaryImpl)(input as never, context));
      } else {
        const framed = wire as FramedWire; // connect() pairs streaming methods with streaming content types only
        for await (const message of (entry.impl as StreamImpl)(input as never, context)) {
          // The caller left (a reset stream, or the signal says so): the loop's return() ends the impl.
          if (responseGone(res) || controller.signal.reason === CALLER_GONE) break;
          // The deadline passed (or shutdown forced) while the caller was not reading: it gets nothing
          // more. The implementation, whose signal aborted, ends on its own with its error (logged and
          // settled as such); the stuck response is reset below.
          if (controller.signal.aborted && res.writableNeedDrain) continue;
          const frame = framed.message(toBytes(message));
          if (!streaming) {
            framed.head(res, context);
            streaming = true;
          }
          if (!res.write(frame)) await drained(res, controller.signal);
        }
      }
    } catch (error) {
      failure = asConnectError(error);
      if (reading) {
        // As for a request (outcome.ts): past the caller's deadline it is deadline_exceeded, whatever
        // reached us first (a client often resets the call a moment before our timer fires).
        const late = expired || (deadlineAt !== undefined && Date.now() >= deadlineAt);
        options.onEndedUnread?.(entry.operation, unreadReason(error, late), req.url ?? "");
      }
    } finally {
      clearTimeout(deadline);
      options.shutdownSignal.removeEventListener("abort", onShutdown);
      controller.abort(CALL_FINISHED); // as connect-node does: work still tied to the call stops now
    }
    if (responseGone(res)) return;
    if (expired && res.writableNeedDrain) {
      abandon(res); // the caller is not reading: not even the status could reach it
      return;
    }
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
 * it is the caller's bad input, so it is INVALID_ARGUMENT here (JSON already is), worded as the
 * decode gate in front of connect-node words it. Each refusal is reported (`refused`) with a fixed
 * reason, for the log.
 */
function decodeRequest(
  wire: Wire,
  serialization: { parse(bytes: Uint8Array): unknown },
  binary: boolean,
  body: Uint8Array,
  refused: (reason: string) => void,
): unknown {
  let bytes: Uint8Array;
  try {
    bytes = wire.unwrap(body);
  } catch (error) {
    refused(decodeFailureReason(error, binary));
    throw error;
  }
  try {
    return serialization.parse(bytes);
  } catch (error) {
    if (error instanceof ConnectError && error.code === Code.ResourceExhausted) throw error; // the size limit
    refused(decodeFailureReason(error, binary));
    const raw = error instanceof ConnectError ? error.rawMessage : String(error);
    throw new ConnectError(`cannot decode the request message: ${raw}`, Code.InvalidArgument);
  }
}

function unreadReason(error: unknown, late: boolean): UnreadReason {
  if (late) return "deadline_exceeded";
  if (error instanceof BodyTooLargeError) return "message_too_large";
  return "cancelled"; // the caller went away, or a forced shutdown ended the call
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

/** As connect-node words it, with the reason header the gateway's own deadline errors carry. */
function deadlineExceeded(): ConnectError {
  return new ConnectError("the operation timed out", Code.DeadlineExceeded, {
    "x-switchyard-reason": "deadline_exceeded",
  });
}
