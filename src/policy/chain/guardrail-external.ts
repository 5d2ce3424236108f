import type { ChatMessage } from "../../adapters/adapter.ts";
import { maskText } from "../../guardrails/detectors.ts";
import type { ExternalGuard, GuardSpan, GuardVerdict } from "../../guardrails/external-guard.ts";
import type { EmbeddingRequest, GenerationRequest } from "../../pipeline/pipeline.ts";
import { withParts } from "./guardrail-input.ts";
import type { Exchange } from "./policy.ts";

export type { ExternalGuard };

/** The external service's verdict, with what a mask does to the request (or text) it checked. */
export type ExternalResult =
  | { kind: "allow" }
  | { kind: "deny"; reason: string }
  | {
      kind: "mask";
      reason: string;
      apply: (r: Exchange["request"]) => Exchange["request"];
      applyText: (t: string) => string;
    }
  | { kind: "error"; error: "timeout" | "unavailable" | "bad_response" };

/** One segment per text a model reads (message text or text part; embedding input), in order. */
type Segment = { role: string; text: string; at: { message: number; part: number | undefined } };

function segmentsOf(x: Exchange): Segment[] {
  if (x.kind === "embed")
    return (x.request as EmbeddingRequest).inputs.map((text, i) => ({
      role: "input",
      text,
      at: { message: i, part: undefined },
    }));
  const out: Segment[] = [];
  (x.request as GenerationRequest).messages.forEach((m, i) => {
    if (!m.parts) {
      if (m.content !== "") out.push({ role: m.role, text: m.content, at: { message: i, part: undefined } });
      return;
    }
    m.parts.forEach((p, j) => {
      if (p.type === "text") out.push({ role: m.role, text: p.text, at: { message: i, part: j } });
    });
  });
  return out;
}

const who = (x: Exchange) => ({
  requestId: x.ctx.id,
  team: x.ctx.principal?.team ?? "",
  workload: x.ctx.workload,
  model: x.ctx.requestedModel,
});

/** Asks the service about the request's text, bounded by its deadline and the caller's signal. */
export async function externalInput(guard: ExternalGuard, x: Exchange): Promise<ExternalResult> {
  const segments = segmentsOf(x);
  const verdict = await guard.check(
    { ...who(x), stage: "input", segments: segments.map((s) => ({ role: s.role, text: s.text })) },
    x.ctx.signal,
  );
  return resultOf(verdict, (spans) => (request) => maskSegments(request, segments, spans));
}

/** Asks the service about an answer's text (segment 0 at `offset` in the output). */
export async function externalOutput(
  guard: ExternalGuard,
  x: Exchange,
  text: string,
  offset: number,
): Promise<ExternalResult> {
  const verdict = await guard.check(
    { ...who(x), stage: "output", chunk: { text, offset, final: true } },
    x.ctx.signal,
  );
  return resultOf(verdict, () => (request) => request);
}

function resultOf(
  verdict: GuardVerdict,
  masker: (spans: GuardSpan[]) => (r: Exchange["request"]) => Exchange["request"],
): ExternalResult {
  switch (verdict.verdict) {
    case "allow":
      return { kind: "allow" };
    case "deny":
      return { kind: "deny", reason: verdict.reason };
    case "error":
      return { kind: "error", error: verdict.error };
    case "mask":
      return {
        kind: "mask",
        reason: verdict.reason,
        apply: masker(verdict.spans),
        applyText: (t) =>
          maskSpans(
            t,
            verdict.spans.filter((s) => s.segment === 0),
            verdict.reason,
          ),
      };
  }
}

/** Each span (UTF-16 offsets, checked, sorted and merged by the client) as `[REDACTED:<reason>]`. */
function maskSpans(text: string, spans: readonly GuardSpan[], reason: string): string {
  return maskText(
    text,
    spans.map((s) => ({ rule: reason, start: s.start, end: s.end })),
  );
}

function maskSegments(
  request: Exchange["request"],
  segments: Segment[],
  spans: GuardSpan[],
): Exchange["request"] {
  const bySegment = new Map<number, GuardSpan[]>();
  for (const s of spans) bySegment.set(s.segment, [...(bySegment.get(s.segment) ?? []), s]);
  if ("inputs" in request) {
    const inputs = [...request.inputs];
    for (const [i, list] of bySegment) {
      const seg = segments[i];
      if (seg) inputs[seg.at.message] = maskSpans(seg.text, list, "external");
    }
    return { ...request, inputs };
  }
  const messages: ChatMessage[] = [...request.messages];
  for (const [i, list] of bySegment) {
    const seg = segments[i];
    if (!seg) continue;
    const m = messages[seg.at.message]!;
    const masked = maskSpans(seg.text, list, "external");
    if (seg.at.part === undefined) messages[seg.at.message] = { ...m, content: masked };
    else {
      const parts = [...(m.parts ?? [])];
      const part = parts[seg.at.part];
      if (part?.type === "text") parts[seg.at.part] = { ...part, text: masked };
      messages[seg.at.message] = withParts(m, parts);
    }
  }
  return { ...request, messages } as GenerationRequest;
}
