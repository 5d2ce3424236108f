import type { Summary } from "./stats.ts";

/** An HTTP/1.1 endpoint the load generator calls (undici Pool, keep-alive). */
export type HttpTarget = {
  kind: "http";
  origin: string;
  path: string;
  headers: Record<string, string>;
  /** Request body; base64 when `binary` (Connect streaming envelopes). */
  body: string;
  binary?: boolean;
  /** Unary: every successful response must contain this text (it proves the answer came from the upstream). */
  expect: string;
  /** How a streamed answer is framed. */
  stream?: "sse" | "connect";
};

/** A gRPC method called with @grpc/grpc-js (HTTP/2, one channel per 100 concurrent calls). */
export type GrpcTarget = {
  kind: "grpc";
  /** host:port */
  address: string;
  path: string;
  metadata: Record<string, string>;
  /** The serialized request message, base64. */
  message: string;
  expect: string;
  /** unary (default); server: Switchyard's GenerateStream; bidi-once: one request then half-close (KServe). */
  shape?: "unary" | "server" | "bidi-once";
};

export type Target = HttpTarget | GrpcTarget;

/** Closed loop: `concurrency` callers, each sending its next request when the last one ended. */
export type ClosedJob = {
  type: "closed";
  target: Target;
  concurrency: number;
  durationMs: number;
  maxRequests: number;
  timeoutMs: number;
};

/** Open loop: requests at a fixed rate whatever the answers do; latency counted from the scheduled time. */
export type OpenJob = {
  type: "open";
  target: Target;
  rate: number;
  durationMs: number;
  /** Connections (HTTP) or channels×100 (gRPC) to spread the load over. */
  connections: number;
  /** Past this many unanswered requests, new ones are counted as errors ("overflow"), not sent. */
  maxInFlight: number;
  timeoutMs: number;
};

/** `concurrency` streams open at once, each replaced by a new one when it ends. */
export type StreamJob = {
  type: "streams";
  target: Target;
  concurrency: number;
  durationMs: number;
  /** Stop after this many streams even before `durationMs`. */
  maxStreams: number;
  /** The first streams start spread over this long, not all in the same millisecond. */
  staggerMs: number;
  /** The concatenated content every stream must deliver, in order. */
  expectText: string;
  timeoutMs: number;
};

export type Job = ClosedJob | OpenJob | StreamJob;

export type LoadResult = {
  ok: number;
  errors: number;
  /** Error counts by kind: http_503, timeout, content, overflow, grpc_14, ECONNRESET, … */
  errorKinds: Record<string, number>;
  /** One message per error kind, for the report. */
  errorSamples: Record<string, string>;
  elapsedMs: number;
  latency: Summary;
  errorLatency: Summary;
  /** Open loop: how late requests left compared with their schedule (the generator's own lag). */
  sendLag?: Summary;
  /** Open loop: latency of the calls refused up front (429, RESOURCE_EXHAUSTED), from their scheduled send time. */
  refusedLatency?: Summary;
};

export type StreamResult = LoadResult & {
  ttft: Summary;
  gap: Summary;
  /** Streams whose chunks all arrived complete and in order, ending properly. */
  intact: number;
  broken: number;
  /** Refused before the first chunk (429, RESOURCE_EXHAUSTED): load shedding, not a lost stream. */
  refused: number;
};

export type Request = { id: number; job: Job };
export type Reply = { id: number; result?: LoadResult | StreamResult; error?: string };

/** Error kinds of a call the gateway refused up front (load shedding, limits): answered, not lost. */
export const REFUSED = new Set(["http_429", "grpc_8", "resource_exhausted"]);
