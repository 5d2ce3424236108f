import type { IncomingHttpHeaders } from "node:http";
import { parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout } from "@connectrpc/connect/protocol-grpc";

/**
 * The caller's timeout as the gateway applies it: capped at `server.limits.maxTimeoutMs` (a longer
 * one is served with the cap, as docs/config.md says, never refused) and rounded down to whole
 * milliseconds, the resolution of every deadline here — so `grpc-timeout: 1n` is 0 ms, a deadline
 * that has passed on arrival, and is refused before any work instead of outrunning a 1 ms timer.
 */
function capTimeoutMs(timeoutMs: number, maxTimeoutMs: number): number {
  return Math.floor(Math.min(timeoutMs, maxTimeoutMs, MAX_TIMER_MS));
}

/** Node's longest timer (~24.8 days): a longer delay fires after 1 ms instead, with only a warning. */
const MAX_TIMER_MS = 2_147_483_647;

/** Parses never refuse a long timeout (the cap is ours): Number.MAX_VALUE is connect's "no maximum". */
const NO_MAX = Number.MAX_VALUE;

export function parseGrpcTimeoutCapped(value: string | null, maxTimeoutMs: number) {
  return capped(parseGrpcTimeout(value, NO_MAX), maxTimeoutMs);
}

export function parseConnectTimeoutCapped(value: string | null, maxTimeoutMs: number) {
  return capped(parseConnectTimeout(value, NO_MAX), maxTimeoutMs);
}

function capped<T extends { timeoutMs?: number; error?: unknown }>(parsed: T, maxTimeoutMs: number): T {
  if (parsed.error !== undefined || parsed.timeoutMs === undefined) return parsed;
  return { ...parsed, timeoutMs: capTimeoutMs(parsed.timeoutMs, maxTimeoutMs) };
}

/**
 * For calls connect-node serves (it refuses a timeout over its `maxTimeoutMs` and would arm its
 * deadline timer with the raw value): rewrites the caller's timeout header in place to the capped
 * value, and returns it (undefined: no timeout, or a malformed one, which connect-node refuses).
 * gRPC and gRPC-Web carry `grpc-timeout`; Connect carries `connect-timeout-ms`.
 */
export function capTimeoutHeader(headers: IncomingHttpHeaders, maxTimeoutMs: number): number | undefined {
  const grpc = headers["content-type"]?.startsWith("application/grpc") === true;
  const name = grpc ? "grpc-timeout" : "connect-timeout-ms";
  const raw = headers[name];
  if (typeof raw !== "string") return undefined;
  const parsed = grpc
    ? parseGrpcTimeoutCapped(raw, maxTimeoutMs)
    : parseConnectTimeoutCapped(raw, maxTimeoutMs);
  if (parsed.timeoutMs === undefined || parsed.error !== undefined) return undefined;
  const ms = parsed.timeoutMs;
  // grpc-timeout takes at most 8 digits: whole seconds beyond that (~27.7 h), rounded down.
  headers[name] = !grpc ? String(ms) : ms <= 99_999_999 ? `${ms}m` : `${Math.floor(ms / 1000)}S`;
  return ms;
}
