import { type CallOptions, Code, ConnectError, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { AdapterCall } from "../adapters/adapter.ts";
import type { Secret } from "../config/secret.ts";
import { UpstreamError, type UpstreamErrorKind } from "../errors/upstream-error.ts";
import { boundedRetryAfter, parseRetryAfter } from "./classify.ts";
import { grpcCodeName } from "./provider-code.ts";

export type GrpcChannelOptions = {
  /** `http://host:port` (h2c) or `https://host:port` (TLS). */
  address: string;
  /** Largest message read from or written to the backend; default 16 MiB. */
  maxMessageBytes?: number;
  /** HTTP/2 PING interval while calls are open, to find dead connections; default 30 s. */
  pingIntervalMs?: number;
  /** Close the connection after this long without calls; default 5 min. */
  idleConnectionTimeoutMs?: number;
  /** How long close() waits for in-flight calls before cutting them; default 30 s. */
  closeGraceMs?: number;
};

const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * One gRPC connection (HTTP/2, connect-node) per backend: explicit message
 * size limits and keepalive, deadlines forwarded per call as `grpc-timeout`,
 * and close() that waits for in-flight calls before dropping the session.
 */
export class GrpcChannel {
  readonly transport: Transport;
  readonly #session: Http2SessionManager;
  readonly #closeGraceMs: number;
  #inFlight = 0;
  #drained: (() => void) | undefined;

  constructor(options: GrpcChannelOptions) {
    const url = new URL(options.address);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new Error(`gRPC address must be http:// (h2c) or https:// (TLS), got ${url.protocol}`);
    }
    this.#session = new Http2SessionManager(url, {
      pingIntervalMs: options.pingIntervalMs ?? 30_000,
      pingTimeoutMs: 10_000,
      idleConnectionTimeoutMs: options.idleConnectionTimeoutMs ?? 300_000,
    });
    const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.transport = createGrpcTransport({
      baseUrl: url.origin,
      sessionManager: this.#session,
      readMaxBytes: maxBytes,
      writeMaxBytes: maxBytes,
      // Inference payloads are mostly small text or floats; compression costs more than it saves.
      acceptCompression: [],
    });
    this.#closeGraceMs = options.closeGraceMs ?? 30_000;
  }

  /**
   * Per-call options: our abort signal, the attempt's remaining time (sent as
   * `grpc-timeout`, so the backend can give up too), trace-context headers
   * the router chose to forward, and bearer auth metadata.
   */
  callOptions(call: AdapterCall, apiKey: Secret | undefined): CallOptions {
    const headers: Record<string, string> = { ...call.headers };
    if (apiKey) headers.authorization = `Bearer ${apiKey.reveal()}`;
    return { signal: call.signal, timeoutMs: Math.max(1, call.deadline - Date.now()), headers };
  }

  /** Counts a call as in flight until the returned function is called (once). */
  enter(): () => void {
    this.#inFlight += 1;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#inFlight -= 1;
      if (this.#inFlight === 0) this.#drained?.();
    };
  }

  /** Waits for in-flight calls (at most closeGraceMs), then closes the connection. */
  async close(): Promise<void> {
    if (this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#closeGraceMs);
        timer.unref();
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#session.abort();
  }
}

/**
 * Reads a connect streaming call opened with `open(signal)`. connect neither
 * cancels a call whose reader stops early nor clears its deadline timer until
 * a read settles, so when the reader leaves before the end (break, error),
 * this aborts the call and lets one more read fail to release the timer.
 */
export async function* readStream<T>(
  open: (signal: AbortSignal) => AsyncIterable<T>,
  signal: AbortSignal,
): AsyncGenerator<T> {
  const stop = new AbortController();
  const iterator = open(AbortSignal.any([signal, stop.signal]))[Symbol.asyncIterator]();
  let ended = false;
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) {
        ended = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!ended) {
      stop.abort();
      iterator.next().catch(() => undefined);
    }
  }
}

/**
 * The one table from a gRPC status (thrown by connect as a ConnectError) to an
 * UpstreamError kind. An abort by our own signal is a timeout, whatever code
 * connect reported: the router tells a caller cancel apart by its own signal.
 */
export function upstreamErrorOf(backend: string, error: unknown, signal: AbortSignal): UpstreamError {
  if (error instanceof UpstreamError) return error;
  const connectError = ConnectError.from(error);
  const code = connectError.code;
  const status = code as number;
  const codeName = grpcCodeName(code);
  if (signal.aborted) {
    return new UpstreamError("timeout", `${backend} call aborted (deadline or cancel)`, { status });
  }
  const kind = kindForGrpcCode(code, connectError.rawMessage);
  // The server's message and details are not passed on, not even as the cause (a logged error prints its
  // causes): they can quote the prompt or the key it was sent. The code says enough.
  return new UpstreamError(kind, `${backend} answered gRPC ${codeName}`, {
    status,
    retryAfterMs: kind === "overloaded" ? retryAfterOf(connectError.metadata) : undefined,
  });
}

export function kindForGrpcCode(code: Code, rawMessage = ""): UpstreamErrorKind {
  switch (code) {
    case Code.Unavailable:
    case Code.Internal:
    case Code.Unknown:
    case Code.Canceled: // cancelled by the server or a proxy, not by us
      return "unavailable";
    case Code.ResourceExhausted:
      // connect reports our own message size limit with this code too: that is not overload.
      return /readMaxBytes|writeMaxBytes/.test(rawMessage) ? "protocol" : "overloaded";
    case Code.DeadlineExceeded:
      return "timeout";
    case Code.InvalidArgument:
    case Code.OutOfRange:
    case Code.FailedPrecondition:
      return "bad_request";
    case Code.Unauthenticated:
    case Code.PermissionDenied:
    case Code.NotFound: // unknown model: the operator's configuration
      return "auth";
    default:
      return "protocol";
  }
}

/** gRPC's standard pushback trailer first, then an HTTP-style retry-after. */
function retryAfterOf(metadata: Headers): number | undefined {
  const pushback = metadata.get("grpc-retry-pushback-ms");
  if (pushback !== null && /^\d+$/.test(pushback.trim()))
    return boundedRetryAfter(Number.parseInt(pushback, 10));
  const retryAfter = metadata.get("retry-after");
  return retryAfter === null ? undefined : parseRetryAfter({ "retry-after": retryAfter });
}
