// A faithful, scriptable fake of text-embeddings-inference's gRPC API (`tei.v1`: Info, Embed, EmbedStream)
// on a loopback port, plus the generic gRPC fake plumbing (GrpcFakeBase) that kserve-fake.ts shares.
// Built on @grpc/grpc-js — independent of our connect client — with protobuf-es schemas as serializers.
// Vectors are deterministic per text; compute_tokens counts whitespace-separated words.
import { createHash } from "node:crypto";
import { constants as h2, type ServerHttp2Stream } from "node:http2";
import { setTimeout as delay } from "node:timers/promises";
import { create, type DescService, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  Embed,
  type EmbedRequest,
  type EmbedResponse,
  EmbedResponseSchema,
  Info,
} from "../../gen/tei/v1/tei_pb.ts";

/** End the RPC with this gRPC status (trailers-only if nothing was sent yet). */
export type StatusScript = {
  kind: "status";
  code: grpc.status;
  details?: string;
  /** Sent as trailers, e.g. { "grpc-retry-pushback-ms": "250" }. */
  trailers?: Record<string, string>;
  delayMs?: number;
};
/** reset: RST the HTTP/2 stream before any response; hang: never answer (until the client gives up). */
export type FaultScript = { kind: "reset" } | { kind: "hang" };

export type RecordedCall = {
  /** Method name, e.g. "ModelStreamInfer". */
  method: string;
  metadata: Record<string, string>;
  /** The client's grpc-timeout, in ms, as grpc-js parsed it (undefined when none was sent). */
  timeoutMs: number | undefined;
  requests: unknown[];
  responses: number;
  /** The client cancelled (RST_STREAM) before the fake had finished. */
  cancelled: boolean;
  /** The fake sent a status. */
  finished: boolean;
  /** The fake cut the stream itself. */
  cut: boolean;
};
export type WireRecord = { method: string; direction: "in" | "out"; bytes: Uint8Array };
export type Served = {
  calls: number;
  responses: number;
  inputTokens: number;
  outputTokens: number;
  cancelled: number;
};

export interface GrpcFake<S> {
  /** `http://127.0.0.1:<port>`, for a connect gRPC transport. */
  address: string;
  port: number;
  calls: RecordedCall[];
  served: Served;
  /** Every serialized message received and sent, in order. */
  wire: WireRecord[];
  enqueue(...scripts: S[]): void;
  setDefault(script: S | ((call: RecordedCall) => S)): void;
  waitForCalls(n: number): Promise<void>;
  waitForCancel(index: number): Promise<void>;
  close(): Promise<void>;
}

/** Streaming side of a scripted call, handed to the fake's per-request logic. */
export type Outbound<M> = {
  /** Resolves false when the client has gone. */
  send(message: M): Promise<boolean>;
  pause(ms: number): Promise<boolean>;
  /** Aborts when the client cancels or the call ends. */
  signal: AbortSignal;
  cut(): void;
  hang(): Promise<void>;
};

type Call = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;
type Status = Partial<grpc.StatusObject>;
type Exchange = {
  call: Call;
  rec: RecordedCall;
  /** Aborts when the client cancels or the call ends. */
  gone: AbortSignal;
  stopped: boolean;
  fail(status: Status): void;
};

/** RST_STREAM(INTERNAL_ERROR) on the call's HTTP/2 stream: a cut, as a crashing server or proxy does. */
export function cutCall(call: Call): void {
  // grpc-js keeps the http2 stream on its internal call object; there is no public way to reset it.
  const stream = (call as unknown as { call?: { stream?: ServerHttp2Stream } }).call?.stream;
  if (!stream) throw new Error("grpc-js internals changed: cannot reach the HTTP/2 stream to cut it");
  stream.close(h2.NGHTTP2_INTERNAL_ERROR);
}

export function grpcStatus(
  code: grpc.status,
  details: string,
  trailers: Record<string, string> = {},
): Status {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(trailers)) metadata.set(k, v);
  return { code, details, metadata };
}

/**
 * Scriptable grpc-js server plumbing: records every call (metadata, grpc-timeout, requests, cancel),
 * plays status / reset / hang scripts, and hands the rest to the fake's own logic.
 */
export class GrpcFakeBase<S extends { kind?: string }> {
  readonly calls: RecordedCall[] = [];
  readonly served: Served = { calls: 0, responses: 0, inputTokens: 0, outputTokens: 0, cancelled: 0 };
  readonly wire: WireRecord[] = [];
  readonly #queue: S[] = [];
  readonly #requireApiKey: string | undefined;
  readonly #waiters = new Set<{ ready: () => boolean; resolve: () => void }>();
  #fallback: S | ((call: RecordedCall) => S) | undefined;

  constructor(requireApiKey: string | undefined) {
    this.#requireApiKey = requireApiKey;
  }

  /** An unscripted unary method (health, metadata, info); throw a grpcStatus() to fail. */
  unary(handler: (req: never) => unknown): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      const ex = this.#begin(call, call.request, (status) => callback(status));
      if (!ex) return;
      try {
        const response = handler(call.request as never);
        this.#answered(ex);
        callback(null, response);
      } catch (error) {
        ex.fail(error as Status);
      }
    };
  }

  /** A unary method answered by the next script. */
  scriptedUnary<T>(
    handler: (req: never, script: T) => Promise<unknown>,
  ): grpc.handleUnaryCall<unknown, unknown> {
    return async (call, callback) => {
      const ex = this.#begin(call, call.request, (status) => callback(status));
      if (!ex) return;
      const script = this.#next(ex.rec);
      if (!(await this.#fault(ex, script))) return;
      try {
        const response = await handler(call.request as never, script as unknown as T);
        if (ex.gone.aborted) return;
        this.#answered(ex);
        callback(null, response);
      } catch (error) {
        ex.fail(error as Status);
      }
    };
  }

  /**
   * A bidi method. With `per: "request"` each request takes the next script (Triton's ModelStreamInfer);
   * with `per: "call"` the first request takes one for the whole stream (TEI's EmbedStream). The RPC
   * ends OK once the client half-closed and every request was answered.
   */
  scriptedBidi<T, M>(
    per: "request" | "call",
    handler: (req: never, script: T, out: Outbound<M>, index: number) => Promise<void>,
  ): grpc.handleBidiStreamingCall<unknown, unknown> {
    return (call) => {
      const ex = this.#begin(call, undefined, (status) => call.emit("error", status));
      if (!ex) return;
      let chain = Promise.resolve();
      let script: S | undefined;
      let index = 0;
      call.on("data", (req: unknown) => {
        ex.rec.requests.push(req);
        this.#notify();
        chain = chain.then(async () => {
          if (ex.stopped || ex.gone.aborted) return;
          if (per === "request" || script === undefined) {
            script = this.#next(ex.rec);
            if (!(await this.#fault(ex, script))) return;
          }
          await handler(req as never, script as unknown as T, this.#outbound<M>(ex), index++);
        });
      });
      call.on("end", () => {
        void chain.then(() => {
          if (ex.stopped || ex.gone.aborted) return;
          ex.rec.finished = true;
          call.end();
          this.#notify();
        });
      });
    };
  }

  enqueue(...scripts: S[]): void {
    this.#queue.push(...scripts);
  }

  setDefault(script: S | ((call: RecordedCall) => S)): void {
    this.#fallback = script;
  }

  waitFor(ready: () => boolean): Promise<void> {
    return ready() ? Promise.resolve() : new Promise((resolve) => this.#waiters.add({ ready, resolve }));
  }

  /** Starts one grpc-js server for `services` on 127.0.0.1:0. */
  async start(services: [DescService, grpc.UntypedServiceImplementation][]): Promise<GrpcFake<S>> {
    const server = new grpc.Server({ "grpc.max_receive_message_length": 16 * 1024 * 1024 });
    for (const [service, handlers] of services) server.addService(this.#definition(service), handlers);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    return {
      address: `http://127.0.0.1:${port}`,
      port,
      calls: this.calls,
      served: this.served,
      wire: this.wire,
      enqueue: (...s) => this.enqueue(...s),
      setDefault: (s) => this.setDefault(s),
      waitForCalls: (n) => this.waitFor(() => this.calls.length >= n),
      waitForCancel: (i) => this.waitFor(() => this.calls[i]?.cancelled === true),
      close: () => shutdown(server),
    };
  }

  #definition(service: DescService): grpc.ServiceDefinition {
    const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    for (const method of service.methods) {
      const record = (direction: "in" | "out", bytes: Uint8Array): void => {
        this.wire.push({ method: method.name, direction, bytes: new Uint8Array(bytes) });
      };
      definition[method.name] = {
        path: `/${service.typeName}/${method.name}`,
        requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
        responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
        requestSerialize: (m) => Buffer.from(toBinary(method.input, create(method.input, m as never))),
        requestDeserialize: (bytes: Buffer) => {
          record("in", bytes);
          return fromBinary(method.input, bytes);
        },
        responseSerialize: (m) => {
          const bytes = toBinary(method.output, create(method.output, m as never));
          record("out", bytes);
          return Buffer.from(bytes);
        },
        responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
      };
    }
    return definition;
  }

  /** Records the call and checks auth. Undefined when it already failed (UNAUTHENTICATED). */
  #begin(call: Call, request: unknown, fail: (status: Status) => void): Exchange | undefined {
    const deadline = call.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() : deadline;
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(call.metadata.getMap())) metadata[k] = String(v);
    const rec: RecordedCall = {
      method: call.getPath().split("/").pop() ?? "",
      metadata,
      timeoutMs: Number.isFinite(ms) ? ms - Date.now() : undefined,
      requests: request === undefined ? [] : [request],
      responses: 0,
      cancelled: false,
      finished: false,
      cut: false,
    };
    this.calls.push(rec);
    this.served.calls += 1;
    const gone = new AbortController();
    // grpc-js also emits "cancelled" after a normal end: only an unfinished, uncut call was cancelled.
    call.on("cancelled", () => {
      if (!rec.finished && !rec.cut && !rec.cancelled) {
        rec.cancelled = true;
        this.served.cancelled += 1;
      }
      gone.abort();
      this.#notify();
    });
    const ex: Exchange = {
      call,
      rec,
      gone: gone.signal,
      stopped: false,
      fail: (status) => {
        rec.finished = true;
        ex.stopped = true;
        fail(status);
        this.#notify();
      },
    };
    this.#notify();
    if (this.#requireApiKey !== undefined && metadata.authorization !== `Bearer ${this.#requireApiKey}`) {
      // Real servers quote part of the key they got: the adapter must not pass that on.
      const got = metadata.authorization?.slice(7, 14) ?? "";
      ex.fail(grpcStatus(grpc.status.UNAUTHENTICATED, `invalid api key ${got}***`));
      return undefined;
    }
    return ex;
  }

  #answered(ex: Exchange): void {
    ex.rec.finished = true;
    ex.rec.responses += 1;
    this.served.responses += 1;
    this.#notify();
  }

  #next(rec: RecordedCall): S {
    const queued = this.#queue.shift();
    if (queued !== undefined) return queued;
    const fallback = typeof this.#fallback === "function" ? this.#fallback(rec) : this.#fallback;
    return fallback ?? ({} as S);
  }

  /** Plays reset / hang / delay / status scripts. True when the fake's own logic should answer. */
  async #fault(ex: Exchange, script: S): Promise<boolean> {
    const s = script as Omit<Partial<StatusScript>, "kind"> & { kind?: string };
    if (s.kind === "reset") {
      ex.rec.cut = true;
      ex.stopped = true;
      cutCall(ex.call);
      return false;
    }
    if (s.kind === "hang") {
      ex.stopped = true;
      return false;
    }
    if (!(await pause(s.delayMs ?? 0, ex.gone))) return false;
    if (s.kind === "status") {
      ex.fail(grpcStatus(s.code ?? grpc.status.UNKNOWN, s.details ?? "", s.trailers));
      return false;
    }
    return true;
  }

  #outbound<M>(ex: Exchange): Outbound<M> {
    const call = ex.call as grpc.ServerDuplexStream<unknown, M>;
    return {
      send: (message) =>
        new Promise<boolean>((resolve) => {
          if (ex.gone.aborted) return resolve(false);
          ex.gone.addEventListener("abort", () => resolve(false), { once: true });
          call.write(message, (err: Error | null | undefined) => {
            if (!err) {
              ex.rec.responses += 1;
              this.served.responses += 1;
            }
            resolve(!err);
          });
        }),
      pause: (ms) => pause(ms, ex.gone),
      signal: ex.gone,
      cut: () => {
        ex.rec.cut = true;
        ex.stopped = true;
        // Let the written DATA frames leave before the RST, so "N responses then cut" delivers N.
        setImmediate(() => cutCall(call as Call));
      },
      hang: async () => {
        ex.stopped = true;
      },
    };
  }

  #notify(): void {
    for (const waiter of this.#waiters) {
      if (waiter.ready()) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }
}

async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** tryShutdown can wait forever on a hung call: force after a short grace. */
async function shutdown(server: grpc.Server): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 500);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

// ---- TEI ----------------------------------------------------------------------------------------------

export type EmbedScript = {
  kind?: "embed";
  /** Vector size (default 8); a request's `dimensions` truncates it. */
  dims?: number;
  delayMs?: number;
  /** EmbedStream: RST the stream after N responses. */
  cutAfterResponses?: number;
  /** EmbedStream: stop answering after N responses, keeping the stream open. */
  hangAfterResponses?: number;
  /** Leave `metadata` out of the responses. */
  noMetadata?: boolean;
};
export type TeiScript = EmbedScript | StatusScript | FaultScript;
export type TeiFake = GrpcFake<TeiScript> & {
  vectorOf(text: string, dims?: number, normalize?: boolean): number[];
};

/** Deterministic vector of `text`: SHA-256 bytes scaled to [-1, 1], unit length when normalized. */
export function teiVector(text: string, dims = 8, normalize = true): number[] {
  const digest = createHash("sha256").update(text).digest();
  const raw = Array.from({ length: dims }, (_, i) => ((digest[i % digest.length] ?? 0) - 127.5) / 127.5);
  const norm = Math.hypot(...raw) || 1;
  return Array.from(new Float32Array(normalize ? raw.map((v) => v / norm) : raw));
}

function tokens(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

export async function startTeiFake(
  opts: { modelId?: string; maxClientBatchSize?: number; requireApiKey?: string } = {},
): Promise<TeiFake> {
  const base = new GrpcFakeBase<TeiScript>(opts.requireApiKey);
  const embedOne = (req: EmbedRequest, script: EmbedScript): EmbedResponse => {
    const dims = script.dims ?? 8;
    const computeTokens = tokens(req.inputs);
    base.served.inputTokens += computeTokens;
    const metadata = {
      computeChars: req.inputs.length,
      computeTokens,
      totalTimeNs: 1000n,
      inferenceTimeNs: 500n,
    };
    return create(EmbedResponseSchema, {
      embeddings: teiVector(req.inputs, dims, req.normalize).slice(0, req.dimensions ?? dims),
      ...(script.noMetadata ? {} : { metadata }),
    });
  };
  const info = {
    version: "1.8.0",
    modelId: opts.modelId ?? "BAAI/bge-small-en-v1.5",
    modelDtype: "float32",
    maxConcurrentRequests: 512,
    maxInputLength: 512,
    maxBatchTokens: 16384,
    maxClientBatchSize: opts.maxClientBatchSize ?? 32,
    tokenizationWorkers: 4,
  };
  const fake = await base.start([
    [Info, { Info: base.unary(() => info) }],
    [
      Embed,
      {
        Embed: base.scriptedUnary(async (req: EmbedRequest, script: EmbedScript) => embedOne(req, script)),
        // TEI answers a stream's requests in order; one script drives the whole stream.
        EmbedStream: base.scriptedBidi(
          "call",
          async (req: EmbedRequest, script: EmbedScript, out: Outbound<EmbedResponse>, i: number) => {
            if (i === script.cutAfterResponses) return out.cut();
            if (i === script.hangAfterResponses) return out.hang();
            await out.send(embedOne(req, script));
          },
        ),
      },
    ],
  ]);
  return Object.assign(fake, { vectorOf: teiVector });
}
