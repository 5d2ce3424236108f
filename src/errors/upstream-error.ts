/**
 * How an upstream call failed, independent of the provider's wire format.
 * Adapters throw only this; routing decides from `kind` whether another
 * backend may serve, and errors/ decides what the caller sees.
 */
export type UpstreamErrorKind =
  | "rate_limited" // 429-like: the backend asks us to slow down
  | "overloaded" // 503/529-like: temporarily out of capacity
  | "timeout" // no answer within the time the attempt had
  | "unavailable" // connect refused, reset, 5xx
  | "bad_request" // the caller's input was rejected: another backend would reject it too
  | "auth" // the backend rejected the gateway's credentials or model: operator's fault
  | "protocol"; // the backend answered something we could not understand

export class UpstreamError extends Error {
  readonly kind: UpstreamErrorKind;
  /** Upstream HTTP status or gRPC code, when there was one. */
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  /** True when some output had already been produced by this attempt. */
  afterFirstToken: boolean;

  constructor(
    kind: UpstreamErrorKind,
    message: string,
    options?: {
      status?: number;
      retryAfterMs?: number | undefined;
      afterFirstToken?: boolean;
      cause?: unknown;
    },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "UpstreamError";
    this.kind = kind;
    this.status = options?.status;
    this.retryAfterMs = options?.retryAfterMs;
    this.afterFirstToken = options?.afterFirstToken ?? false;
  }

  /** Whether another backend may succeed where this one failed. */
  get failoverAllowed(): boolean {
    return this.kind !== "bad_request";
  }

  /** Whether the same backend may succeed on a later try (transient failures only). */
  get retryable(): boolean {
    return this.kind !== "bad_request" && this.kind !== "auth";
  }
}
