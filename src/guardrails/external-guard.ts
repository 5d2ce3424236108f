import { create } from "@bufbuild/protobuf";
import { ConnectError, createClient } from "@connectrpc/connect";
import {
  type CheckRequest,
  CheckRequestSchema,
  type CheckResponse,
  GuardService,
  Stage,
  Verdict,
} from "../../gen/switchyard/guard/v1/guard_service_pb.ts";
import { GrpcChannel, kindForGrpcCode } from "../upstream/grpc-channel.ts";

/**
 * A client for an external guardrail (switchyard.guard.v1.GuardService) over gRPC. What the service
 * answers is untrusted: every way it can fail or misbehave becomes `{verdict: "error"}`, which the
 * caller maps to fail-open or fail-closed. check() never throws and never returns the service's own
 * words except a reason that passed the rule-id check.
 */

export type GuardSpan = { segment: number; start: number; end: number };

export type GuardVerdict =
  | { verdict: "allow" }
  | { verdict: "deny"; reason: string }
  | { verdict: "mask"; reason: string; spans: GuardSpan[] }
  | { verdict: "error"; error: "timeout" | "unavailable" | "bad_response" };

export type GuardSegment = { role: string; text: string };

type GuardWho = { requestId: string; team: string; workload: string; model: string };

/**
 * Input: the conversation's text parts, one segment each (spans refer to their index). Output: one
 * chunk (segment 0 of the request) with its offset in the output so far, in UTF-16 code units.
 */
export type GuardCheckInput = GuardWho &
  (
    | { stage: "input"; segments: GuardSegment[] }
    | { stage: "output"; chunk: { text: string; offset: number; final: boolean } }
  );

export type ExternalGuardOptions = {
  /** `http://host:port` (h2c) or `https://host:port` (TLS); a config value, never a client's. */
  url: string;
  /** Deadline of each Check call, sent as grpc-timeout. */
  timeoutMs: number;
  /** Sent with every call, e.g. { authorization: "Bearer …" }. */
  headers?: Record<string, string>;
  /**
   * The rule ids this service may report. The charset check alone lets through anything shaped like
   * one, including a lowercase secret of up to 64 characters; with a list, any other reason becomes
   * "external" (and reasons are then safe as metric labels: they are config values).
   */
  reasons?: readonly string[];
};

export type ExternalGuard = {
  check(input: GuardCheckInput, signal?: AbortSignal): Promise<GuardVerdict>;
  /** Closes the connection once in-flight checks end (at most timeoutMs); later checks are "unavailable". */
  close(): void;
};

/** A rule id, e.g. "pii.email": the only shape of the service's reason that reaches logs and audit. */
const REASON = /^[a-z0-9_.:-]{1,64}$/;
/** What an unusable reason becomes. */
export const FALLBACK_REASON = "external";
/**
 * A guard answer is a few spans; 4096 is far above any real mask list (a 100 KB prompt full of e-mail
 * addresses has ~4000) and bounds the work of checking and merging a hostile list.
 */
const MAX_SPANS = 4096;

/** Throws only for a malformed url (a configuration error); check() never throws. */
export function createExternalGuard(options: ExternalGuardOptions): ExternalGuard {
  const channel = new GrpcChannel({
    // Messages up to GrpcChannel's 16 MiB each way: the request carries whole prompts.
    address: options.url,
    // In-flight checks end by their own deadline; waiting longer on close would only hold the socket.
    closeGraceMs: options.timeoutMs,
  });
  const client = createClient(GuardService, channel.transport);
  const headers = { ...options.headers };
  const reasons = options.reasons === undefined ? undefined : new Set(options.reasons);
  let closed = false;

  async function check(input: GuardCheckInput, signal?: AbortSignal): Promise<GuardVerdict> {
    if (closed) return { verdict: "error", error: "unavailable" };
    const request = checkRequestOf(input);
    const leave = channel.enter();
    try {
      const response = await client.check(request, {
        timeoutMs: options.timeoutMs,
        headers,
        ...(signal === undefined ? {} : { signal }),
      });
      return verdictOf(response, request.segments, reasons);
    } catch (error) {
      return { verdict: "error", error: failureOf(error, signal) };
    } finally {
      leave();
    }
  }

  return {
    check,
    close() {
      if (closed) return;
      closed = true;
      channel.close().catch(() => undefined);
    },
  };
}

function checkRequestOf(input: GuardCheckInput): CheckRequest {
  const who = {
    requestId: input.requestId,
    team: input.team,
    workload: input.workload,
    model: input.model,
  };
  if (input.stage === "input") {
    return create(CheckRequestSchema, { ...who, stage: Stage.INPUT, segments: input.segments });
  }
  return create(CheckRequestSchema, {
    ...who,
    stage: Stage.OUTPUT,
    segments: [{ role: "output", text: input.chunk.text }],
    outputOffset: input.chunk.offset,
    outputFinal: input.chunk.final,
  });
}

/**
 * Why a call failed, from its gRPC status only (the service's message is never read: it can quote the
 * prompt). Our deadline and the caller's abort are timeouts; a message we could not decode, or one over
 * our size limit, is a bad response; every other status (refused connection, reset, crash, auth) means
 * the service could not serve us.
 */
function failureOf(
  error: unknown,
  signal: AbortSignal | undefined,
): "timeout" | "unavailable" | "bad_response" {
  if (signal?.aborted) return "timeout";
  const connectError = ConnectError.from(error);
  switch (kindForGrpcCode(connectError.code, connectError.rawMessage)) {
    case "timeout":
      return "timeout";
    case "protocol":
      return "bad_response";
    default:
      return "unavailable";
  }
}

/**
 * The service's answer as a verdict we can act on, or bad_response. `segments` are the ones sent: a
 * span must lie inside one of them, not split a surrogate pair, and a mask needs at least one span.
 * Spans come back sorted by (segment, start), overlapping or touching ones merged.
 */
export function verdictOf(
  response: CheckResponse,
  segments: readonly { text: string }[],
  reasons?: ReadonlySet<string>,
): GuardVerdict {
  switch (response.verdict) {
    case Verdict.ALLOW:
      return { verdict: "allow" };
    case Verdict.DENY:
      return { verdict: "deny", reason: guardReason(response.reason, reasons) };
    case Verdict.MASK: {
      const spans = checkedSpans(response.spans, segments);
      if (spans === undefined) return { verdict: "error", error: "bad_response" };
      return { verdict: "mask", reason: guardReason(response.reason, reasons), spans };
    }
    default: // VERDICT_UNSPECIFIED or a value this gateway does not know
      return { verdict: "error", error: "bad_response" };
  }
}

/** The service's reason if it is a rule id (≤ 64 of [a-z0-9_.:-]) and, given a list, on it; else "external". */
export function guardReason(reason: unknown, allowed?: ReadonlySet<string>): string {
  // Length first, so a megabyte of text is never run through the pattern.
  if (typeof reason !== "string" || reason.length > 64 || !REASON.test(reason)) return FALLBACK_REASON;
  return allowed === undefined || allowed.has(reason) ? reason : FALLBACK_REASON;
}

function checkedSpans(
  spans: readonly GuardSpan[],
  segments: readonly { text: string }[],
): GuardSpan[] | undefined {
  if (spans.length === 0 || spans.length > MAX_SPANS) return undefined;
  const out: GuardSpan[] = [];
  for (const { segment, start, end } of spans) {
    const text = segments[segment]?.text;
    if (text === undefined || !(start < end) || end > text.length) return undefined;
    if (splitsPair(text, start) || splitsPair(text, end)) return undefined;
    out.push({ segment, start, end });
  }
  out.sort((a, b) => a.segment - b.segment || a.start - b.start);
  const merged: GuardSpan[] = [];
  for (const span of out) {
    const last = merged.at(-1);
    if (last !== undefined && last.segment === span.segment && span.start <= last.end) {
      last.end = Math.max(last.end, span.end);
    } else {
      merged.push(span);
    }
  }
  return merged;
}

/** True when index `at` falls between a high and a low surrogate (masking there would leave half a pair). */
function splitsPair(text: string, at: number): boolean {
  if (at <= 0 || at >= text.length) return false;
  const before = text.charCodeAt(at - 1);
  const after = text.charCodeAt(at);
  return before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff;
}
