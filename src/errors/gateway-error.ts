import type { Reason } from "./catalog.ts";

/**
 * A failure the gateway answers the caller with. The message is written for
 * the caller (what to fix) and must never contain a secret or a prompt.
 */
export class GatewayError extends Error {
  readonly reason: Reason;
  /** Suggested wait before retrying, sent as retry metadata. */
  readonly retryAfterMs: number | undefined;

  constructor(reason: Reason, message: string, options?: { retryAfterMs?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "GatewayError";
    this.reason = reason;
    this.retryAfterMs = options?.retryAfterMs;
  }
}
